//! SSLv2 and SSLv3 servers with RC4, 3DES and EXPORT suites, which Debian's OpenSSL can no longer
//! run, played by a small scripted responder. It answers the sweep's own ClientHellos the way an
//! old SSLv2/SSLv3-only server (OpenSSL 0.9.8 era) did: SSLv2 SERVER-HELLO with the common specs;
//! SSLv3 ServerHello for SSLv3 and for any newer version asked (it negotiates down); a
//! handshake_failure alert when no offered suite is supported. The responder's bytes are built
//! with postura's codec, which has its own round-trip tests against hand-written captures.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use postura::engine::{run, ScanOptions};
use postura::target::TargetSpec;
use postura::tls::codec::{
    decode_sslv2_client_hello, CertificateMessage, ClientHello, HandshakeMessage, RawExtension, Record, ServerHello,
    Sslv2ServerHello,
};
use postura::tls::registry::Protocol;

/// SSLv3 suites the old server has, in its preference order.
const SSLV3_SUITES: [u16; 3] =
    [0x0004 /* RC4-MD5 */, 0x000A /* DES-CBC3-SHA */, 0x0003 /* EXP-RC4-MD5 */];
/// SSLv2 specs it has.
const SSLV2_SPECS: [u32; 3] =
    [0x010080 /* RC4-MD5 */, 0x0700C0 /* DES-CBC3-MD5 */, 0x020080 /* EXP-RC4-MD5 */];

struct LegacyServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for LegacyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn leaf_der() -> Vec<u8> {
    let pem = std::fs::read_to_string(&Pki::shared().rsa.cert).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

fn start_legacy_server() -> LegacyServer {
    let endpoint = alloc_endpoint();
    let listener = TcpListener::bind(endpoint).unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let certificate = leaf_der();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopping.load(Ordering::Relaxed) {
                break;
            }
            if let Ok(stream) = stream {
                let certificate = certificate.clone();
                std::thread::spawn(move || answer(stream, &certificate));
            }
        }
    });
    LegacyServer { addr, stop }
}

fn answer(mut stream: TcpStream, certificate: &[u8]) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer[0] & 0x80 != 0 {
            // SSLv2 framing.
            let length = (usize::from(buffer[0] & 0x7f) << 8) | usize::from(*buffer.get(1).unwrap_or(&0));
            if buffer.len() < length + 2 {
                continue;
            }
            let (_, specs, _) = decode_sslv2_client_hello(&buffer[..length + 2]).unwrap();
            let common: Vec<u32> = specs.into_iter().filter(|s| SSLV2_SPECS.contains(s)).collect();
            let hello = Sslv2ServerHello {
                session_id_hit: 0,
                certificate_type: 1,
                version: 0x0002,
                certificate: certificate.to_vec(),
                cipher_specs: common,
                connection_id: vec![7; 16],
            };
            let _ = stream.write_all(&hello.encode_record());
            return;
        }
        let Ok(Some((record, _))) = Record::decode(&buffer) else { continue };
        let Ok(hello) = ClientHello::decode_handshake(&record.fragment) else { return };
        let Some(&suite) = SSLV3_SUITES.iter().find(|s| hello.cipher_suites.contains(s)) else {
            let alert = Record { content_type: 21, version: 0x0300, fragment: vec![2, 40] };
            let _ = stream.write_all(&alert.encode());
            return;
        };
        let secure_renegotiation = hello.cipher_suites.contains(&0x00FF)
            || hello.extensions.iter().flatten().any(|e| e.extension_type() == 0xff01);
        let server_hello = ServerHello {
            legacy_version: 0x0300,
            random: [0x42; 32],
            session_id: vec![1; 32],
            cipher_suite: suite,
            compression_method: 0,
            extensions: secure_renegotiation.then(|| vec![RawExtension { extension_type: 0xff01, data: vec![0] }]),
        };
        let mut flight = HandshakeMessage { handshake_type: 2, body: server_hello.encode() }.encode();
        let chain = CertificateMessage { certificates: vec![certificate.to_vec()] };
        flight.extend(HandshakeMessage { handshake_type: 11, body: chain.encode() }.encode());
        flight.extend(HandshakeMessage { handshake_type: 14, body: Vec::new() }.encode());
        let _ = stream.write_all(&Record { content_type: 22, version: 0x0300, fragment: flight }.encode());
        // Wait for the client to hang up, as a server waiting for ClientKeyExchange would.
        let _ = stream.read(&mut chunk);
        return;
    }
}

#[test]
fn sslv2_and_sslv3_with_rc4_3des_and_export_suites_are_seen() {
    let server = start_legacy_server();
    let spec = TargetSpec {
        host: TEST_HOST.into(),
        port: server.addr.port(),
        service: postura::profile::Service::Tls,
        pinned: vec![server.addr.ip()],
        sector: None,
        operator: None,
        xmpp_domain: None,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = ScanOptions { timeout: Duration::from_secs(5), ..Default::default() };
    let results = runtime.block_on(run(vec![spec], &options, None, |_| {}));
    let result = &results[0];
    assert_eq!(result.error, None, "{result:#?}");
    let tls = result.tls.as_ref().unwrap();

    assert_eq!(tls.protocols, vec![Protocol::Sslv2, Protocol::Sslv3]);
    let mut sslv2 = tls.cipher_suites[&Protocol::Sslv2].clone();
    sslv2.sort();
    assert_eq!(
        sslv2,
        vec!["SSL_CK_DES_192_EDE3_CBC_WITH_MD5", "SSL_CK_RC4_128_EXPORT40_WITH_MD5", "SSL_CK_RC4_128_WITH_MD5"]
    );
    // The server picks by its own order: RC4 first, whatever the client prefers.
    assert_eq!(
        tls.cipher_suites[&Protocol::Sslv3],
        vec!["TLS_RSA_WITH_RC4_128_MD5", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_EXPORT_WITH_RC4_40_MD5"]
    );
    assert_eq!(tls.server_preference[&Protocol::Sslv3], Some(true));
    for protocol in [Protocol::Tls10, Protocol::Tls11, Protocol::Tls12] {
        let detail = &tls.protocol_details[&protocol];
        assert!(!detail.accepted);
        assert_eq!(detail.refusal.as_ref().map(ToString::to_string).as_deref(), Some("negotiated:SSLv3"), "{protocol}");
    }
    // A TLS 1.3 hello offers only TLS 1.3 suites, none of which the old server knows.
    assert_eq!(
        tls.protocol_details[&Protocol::Tls13].refusal,
        Some(postura::facts::Refusal::Alert { code: 40, name: "handshake_failure".into() })
    );
    assert_eq!(tls.extensions.secure_renegotiation, Some(true), "answered the SCSV");
    assert_eq!(tls.chain_protocol, Some(Protocol::Sslv3));
    assert_eq!(tls.chain_pem.len(), 1);
    // SSLv2 has no fallback signalling; SSLv3 alone leaves nothing to fall back to.
    assert_eq!(tls.fallback_scsv, None);
}

#[test]
fn drown_through_a_shared_key_and_the_old_servers_vulnerabilities() {
    use postura::checks::grade::CapReason;
    use postura::checks::model::Status;
    use postura::scan::{NoSink, ScanPlan};

    // The scripted SSLv2 server and a current OpenSSL 3 share the PKI's RSA key; a second
    // OpenSSL 3 serves the ECDSA leaf (another key).
    let legacy = start_legacy_server();
    let shared = OpenSslServer::start_auto(&[]);
    let ep = alloc_endpoint();
    let other = OpenSslServer::start_with(*ep.ip(), ep.port(), &Pki::shared().ecdsa, &[]);
    let spec = |address: SocketAddr| TargetSpec {
        host: TEST_HOST.into(),
        port: address.port(),
        service: postura::profile::Service::Tls,
        pinned: vec![address.ip()],
        sector: Some("operator".into()),
        operator: None,
        xmpp_domain: None,
    };
    let plan = ScanPlan {
        targets: vec![spec(legacy.addr), spec(shared.socket_addr()), spec(other.socket_addr())],
        options: ScanOptions {
            timeout: Duration::from_secs(5),
            cert: common::assess::lab_trust(),
            ..Default::default()
        },
        ..ScanPlan::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(postura::scan::run_to_report(&plan, &mut NoSink)).expect("scan");
    let report = common::assess::assess(&report, "mozilla-intermediate", vec![], "2026-01-01");
    let at = |address: SocketAddr| {
        let ip = address.ip().to_string();
        report.targets.iter().find(|t| t.address.as_deref() == Some(ip.as_str())).unwrap()
    };
    let (legacy_result, shared_result, other_result) =
        (at(legacy.addr), at(shared.socket_addr()), at(other.socket_addr()));

    let v = &legacy_result.tls.as_ref().unwrap().vulnerabilities;
    assert_eq!(v.drown.vulnerable, Some(true));
    assert_eq!(v.drown.evidence[0], "SSLv2 accepted on this endpoint");
    assert_eq!(v.freak.vulnerable, Some(true));
    assert_eq!(v.freak.evidence, ["SSLv3 TLS_RSA_EXPORT_WITH_RC4_40_MD5"]);
    assert_eq!(v.poodle.evidence, ["SSLv3 TLS_RSA_WITH_3DES_EDE_CBC_SHA"]);
    assert_eq!(v.sweet32.vulnerable, Some(true));
    assert!(v.sweet32.evidence.contains(&"SSLv2 SSL_CK_DES_192_EDE3_CBC_WITH_MD5".to_string()), "{:?}", v.sweet32);
    assert_eq!(v.rc4.vulnerable, Some(true));
    for fact in [&v.drown, &v.freak, &v.poodle, &v.sweet32, &v.rc4] {
        assert_eq!(fact.connections, 0, "read from the sweep's facts");
    }

    let drown = &shared_result.tls.as_ref().unwrap().vulnerabilities.drown;
    assert_eq!(drown.vulnerable, Some(true), "{drown:?}");
    assert_eq!(
        drown.evidence,
        [format!(
            "the certificate's key is also served with SSLv2 by {TEST_HOST}:{} ({})",
            legacy.addr.port(),
            legacy.addr.ip()
        )]
    );
    let status = |target: &postura::facts::TargetResult, check: &str| {
        target.findings.iter().find(|f| f.check == check).unwrap().status
    };
    assert_eq!(status(shared_result, "tls.vuln.drown"), Status::Fail);
    let grade = shared_result.grade.as_ref().unwrap();
    assert_eq!(grade.grade, "F");
    assert!(grade.caps.iter().any(|c| c.reason == CapReason::DrownSharedKey), "{:?}", grade.caps);

    let other_drown = &other_result.tls.as_ref().unwrap().vulnerabilities.drown;
    assert_eq!(other_drown.vulnerable, Some(false));
    assert_eq!(status(other_result, "tls.vuln.drown"), Status::Pass);
    assert!(!other_result.grade.as_ref().unwrap().caps.iter().any(|c| c.reason == CapReason::DrownSharedKey));
}
