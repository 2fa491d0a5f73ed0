//! Hostile DER in the Certificate message: a scripted TLS 1.2 server (built with postura's own
//! codec, which has round-trip tests of its own) sends random bytes, a truncated certificate, or
//! deeply nested SEQUENCEs where the certificate should be. The scan must not panic; the reason
//! is recorded in the certificate facts. A proptest then feeds mutated and random DER straight
//! to the analysis.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use postura::cert::{analyze, CertInput, CertOptions, TrustStore};
use postura::engine::{run, ScanOptions};
use postura::target::TargetSpec;
use postura::tls::codec::{CertificateMessage, ClientHello, HandshakeMessage, Record, ServerHello};
use proptest::prelude::*;

/// RSA key exchange suites, so that no ServerKeyExchange is expected after the Certificate.
const SUITES: [u16; 3] = [0x009c, 0x002f, 0x0035];

struct ScriptedServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn start(chain: Vec<Vec<u8>>) -> ScriptedServer {
    let listener = TcpListener::bind(alloc_endpoint()).unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopping.load(Ordering::Relaxed) {
                break;
            }
            if let Ok(stream) = stream {
                let chain = chain.clone();
                std::thread::spawn(move || answer(stream, &chain));
            }
        }
    });
    ScriptedServer { addr, stop }
}

fn answer(mut stream: TcpStream, chain: &[Vec<u8>]) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut chunk) else {
            return;
        };
        if n == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer[0] & 0x80 != 0 {
            return; // SSLv2: not spoken here.
        }
        let Ok(Some((record, _))) = Record::decode(&buffer) else {
            continue;
        };
        let Ok(hello) = ClientHello::decode_handshake(&record.fragment) else {
            return;
        };
        let Some(&suite) = SUITES.iter().find(|s| hello.cipher_suites.contains(s)) else {
            let alert = Record { content_type: 21, version: 0x0303, fragment: vec![2, 40] };
            let _ = stream.write_all(&alert.encode());
            return;
        };
        let server_hello = ServerHello {
            legacy_version: 0x0303.min(hello.client_version),
            random: [0x42; 32],
            session_id: vec![1; 32],
            cipher_suite: suite,
            compression_method: 0,
            extensions: Some(Vec::new()),
        };
        let mut flight = HandshakeMessage { handshake_type: 2, body: server_hello.encode() }.encode();
        let certificates = CertificateMessage { certificates: chain.to_vec() };
        flight.extend(HandshakeMessage { handshake_type: 11, body: certificates.encode() }.encode());
        flight.extend(HandshakeMessage { handshake_type: 14, body: Vec::new() }.encode());
        // Records carry at most 2^14 bytes.
        for piece in flight.chunks(16_384) {
            let record = Record { content_type: 22, version: 0x0303, fragment: piece.to_vec() };
            if stream.write_all(&record.encode()).is_err() {
                return;
            }
        }
        let _ = stream.read(&mut chunk);
        return;
    }
}

fn leaf_der() -> Vec<u8> {
    let pem = std::fs::read_to_string(&Pki::shared().rsa.cert).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

/// `depth` SEQUENCEs, each holding the next, with definite long-form lengths.
fn nested(depth: usize) -> Vec<u8> {
    let mut inner: Vec<u8> = vec![0x05, 0x00];
    for _ in 0..depth {
        let length = inner.len();
        let mut outer = vec![0x30, 0x82, (length >> 8) as u8, length as u8];
        outer.extend(inner);
        inner = outer;
    }
    inner
}

fn scan(address: SocketAddr) -> postura::facts::TargetResult {
    let spec = TargetSpec {
        host: TEST_HOST.into(),
        port: address.port(),
        service: postura::profile::Service::Tls,
        pinned: vec![address.ip()],
        sector: None,
        operator: None,
        xmpp_domain: None,
    };
    let options =
        ScanOptions { timeout: Duration::from_secs(5), deadline: Duration::from_secs(60), ..Default::default() };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(vec![spec], &options, None, |_| {})).remove(0)
}

#[test]
fn hostile_der_in_the_certificate_message_is_recorded_not_fatal() {
    let leaf = leaf_der();
    let random: Vec<u8> = (0..700u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("random bytes", random, "leaf certificate unusable: malformed certificate DER"),
        ("truncated", leaf[..leaf.len() / 2].to_vec(), "leaf certificate unusable: malformed certificate DER"),
        ("nested 3000 deep", nested(3000), "leaf certificate unusable: malformed certificate DER"),
        ("empty", Vec::new(), "leaf certificate unusable: not a PEM certificate"),
    ];
    for (name, der, expected) in cases {
        let server = start(vec![der.clone()]);
        let result = scan(server.addr);
        let tls = result.tls.as_ref().expect("tls facts");
        assert_eq!(tls.chain_pem.len(), 1, "{name}: the sweep keeps what was sent");
        let facts = result.certificate.as_ref().unwrap_or_else(|| panic!("{name}: no certificate facts"));
        let error = facts.error.as_deref().unwrap_or_default();
        assert!(error.starts_with(expected), "{name}: {error}");
        assert_eq!(facts.certificates.len(), 1, "{name}");
        assert!(facts.certificates[0].parse_error.is_some(), "{name}");
        assert!(!facts.trusted && facts.trust.is_empty(), "{name}");
    }

    // A good leaf followed by garbage: the leaf is analysed, the garbage is named.
    let server = start(vec![leaf.clone(), vec![0x30, 0x03, 0x02, 0x01]]);
    let result = scan(server.addr);
    let facts = result.certificate.expect("facts");
    assert_eq!(facts.error, None);
    assert_eq!(facts.certificates.len(), 2);
    assert!(facts.certificates[1].parse_error.as_deref().unwrap_or_default().starts_with("malformed certificate DER"));
    assert!(facts.hostname_match);
    assert!(!facts.chain_in_order);
    assert!(!facts.chain_complete);
    assert_eq!(facts.unrelated_certificates, vec![1]);
}

fn pem(der: &[u8]) -> String {
    postura::tls::sweep::pem("CERTIFICATE", der)
}

fn analyse(chain: Vec<Vec<u8>>) -> postura::cert::CertificateFacts {
    let chain_pem: Vec<String> = chain.iter().map(|der| pem(der)).collect();
    let options =
        CertOptions { stores: Arc::new(vec![TrustStore::mozilla()]), online: false, ..CertOptions::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(analyze(
        CertInput {
            chain_pem: &chain_pem,
            ocsp_staple_base64: Some("bm90IG9jc3A="),
            sct_list_base64: Some("AAUAAw=="),
            name: TEST_HOST,
            fetch_from: None,
        },
        &options,
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    /// A real certificate with bytes flipped, cut or spliced never panics the analysis, and a
    /// broken leaf always comes with a reason.
    #[test]
    fn mutated_certificates_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut der = leaf_der();
        for (index, value) in flips {
            let at = index.index(der.len());
            der[at] ^= value;
        }
        if truncate {
            der.truncate(cut.index(der.len()));
        }
        let facts = analyse(vec![der.clone(), der]);
        prop_assert_eq!(facts.certificates.len(), 2);
        if facts.certificates[0].parse_error.is_some() {
            prop_assert!(facts.error.is_some());
        }
    }

    /// Random bytes as a chain.
    #[test]
    fn random_chains_never_panic(chain in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..4)) {
        let facts = analyse(chain);
        prop_assert!(facts.error.is_some() || facts.certificates[0].parse_error.is_none());
    }
}
