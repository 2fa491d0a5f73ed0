//! A scripted TLS server built on postura's own codec, for behaviours no buildable server has
//! any more: Heartbleed's over-read (OpenSSL 1.1.1 has no heartbeat at all), the CCS injection
//! bug (fixed in OpenSSL 0.9.8za/1.0.0m/1.0.1h, none of which builds with today's toolchain
//! here), a pre-RFC 5746 / pre-RFC 7507 stack (every maintained library has both), and a
//! Bleichenbacher padding oracle (ROBOT; the affected products are closed appliances). It
//! answers a ClientHello offering one of its RSA key-transport suites with ServerHello
//! (renegotiation_info, and heartbeat when asked and offered), the shared PKI's leaf and
//! intermediate, ServerHelloDone; a version it does not serve gets a `protocol_version` alert.
//! After the flight it plays the chosen behaviour. Threads end when the guard drops.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use postura::tls::codec::{
    CertificateMessage, ClientExtension, ClientHello, HandshakeMessage, RawExtension, Record, ServerHello,
};

use super::net::alloc_endpoint;
use super::pki::Pki;

/// TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA.
pub const SUITES: [u16; 3] = [0x009C, 0x002F, 0x0035];

/// What the server does after its hello flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Negotiates heartbeat and answers a heartbeat request with as many bytes as it *claims*
    /// (a fixed pattern standing for server memory): OpenSSL 1.0.1–1.0.1f.
    HeartbleedVulnerable,
    /// Negotiates heartbeat and silently drops a request whose claimed length exceeds the record
    /// (RFC 6520 §4): OpenSSL 1.0.1g and later.
    HeartbeatPatched,
    /// Accepts a ChangeCipherSpec before any key exchange and then fails to decrypt the next
    /// record (`bad_record_mac`): OpenSSL before 1.0.1h.
    CcsInjectable,
    /// A pre-2010 stack: TLS 1.0 to 1.2, no renegotiation_info (RFC 5746) and no
    /// TLS_FALLBACK_SCSV check (RFC 7507); refuses the early CCS like a patched one.
    NoRenegotiationInfoNoFallbackScsv,
    /// A Bleichenbacher oracle (ROBOT): decrypts the ClientKeyExchange with the leaf's private
    /// key and answers `bad_record_mac` when the plaintext starts with 00 02, `handshake_failure`
    /// otherwise (the classic "first two bytes" oracle).
    RobotOracle,
}

pub struct ScriptedTlsServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl ScriptedTlsServer {
    pub fn start(behaviour: Behaviour) -> ScriptedTlsServer {
        let addr = SocketAddr::V4(alloc_endpoint());
        let listener = TcpListener::bind(addr).expect("harness: scripted TLS bind");
        listener.set_nonblocking(true).expect("harness: nonblocking");
        let (accepted, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let chain = chain_der();
        let (accepted2, stop2, open2) = (accepted.clone(), stop.clone(), open.clone());
        let acceptor = std::thread::spawn(move || {
            let mut handlers = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted2.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.set_nonblocking(false);
                        if let Ok(copy) = stream.try_clone() {
                            open2.lock().unwrap().push(copy);
                        }
                        let chain = chain.clone();
                        handlers.push(std::thread::spawn(move || serve(stream, chain, behaviour)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            for handler in handlers {
                let _ = handler.join();
            }
        });
        ScriptedTlsServer { addr, accepted, stop, open, acceptor: Some(acceptor) }
    }

    /// Connections accepted so far (counted at the server).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptedTlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// The shared PKI's RSA leaf and intermediate, DER.
fn chain_der() -> Vec<Vec<u8>> {
    [&Pki::shared().rsa.cert, &Pki::shared().intermediate_cert]
        .iter()
        .map(|path| {
            let pem = std::fs::read_to_string(path).expect("harness: certificate");
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::engine::general_purpose::STANDARD.decode(body).expect("harness: certificate base64")
        })
        .collect()
}

/// Reads whole records; None at end of stream, error or timeout.
struct Records {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Records {
    fn next(&mut self) -> Option<Record> {
        loop {
            if let Ok(Some((record, used))) = Record::decode(&self.buffer) {
                self.buffer.drain(..used);
                return Some(record);
            }
            if self.buffer.first().is_some_and(|b| b & 0x80 != 0) {
                return None; // SSLv2 framing: not served.
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn send(&mut self, content_type: u8, fragment: Vec<u8>) {
        let _ = self.stream.write_all(&Record { content_type, version: 0x0303, fragment }.encode());
    }
}

fn serve(stream: TcpStream, chain: Vec<Vec<u8>>, behaviour: Behaviour) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut records = Records { stream, buffer: Vec::new() };
    play(&mut records, chain, behaviour);
    // The acceptor keeps a copy of the socket (for Drop): close it explicitly.
    let _ = records.stream.shutdown(Shutdown::Both);
}

fn play(records: &mut Records, chain: Vec<Vec<u8>>, behaviour: Behaviour) {
    let Some(record) = records.next() else { return };
    let Ok(hello) = ClientHello::decode_handshake(&record.fragment) else { return };
    let extensions = hello.extensions.clone().unwrap_or_default();
    let tls13 = extensions.iter().any(|e| matches!(e, ClientExtension::SupportedVersions(v) if v.contains(&0x0304)));
    let old_versions =
        behaviour == Behaviour::NoRenegotiationInfoNoFallbackScsv && (0x0301..=0x0302).contains(&hello.client_version);
    if (hello.client_version != 0x0303 && !old_versions) || tls13 {
        records.send(21, vec![2, 70]); // protocol_version
        return;
    }
    let Some(&suite) = SUITES.iter().find(|s| hello.cipher_suites.contains(s)) else {
        records.send(21, vec![2, 40]); // handshake_failure
        return;
    };
    let heartbeat_offered = extensions.iter().any(|e| matches!(e, ClientExtension::Heartbeat(_)));
    let mut server_extensions = Vec::new();
    if behaviour != Behaviour::NoRenegotiationInfoNoFallbackScsv {
        server_extensions.push(RawExtension { extension_type: 0xff01, data: vec![0] });
    }
    if heartbeat_offered && matches!(behaviour, Behaviour::HeartbleedVulnerable | Behaviour::HeartbeatPatched) {
        server_extensions.push(RawExtension { extension_type: 15, data: vec![1] });
    }
    let server_hello = ServerHello {
        legacy_version: hello.client_version,
        random: rand::random(),
        session_id: vec![7; 32],
        cipher_suite: suite,
        compression_method: 0,
        extensions: Some(server_extensions),
    };
    let mut flight = HandshakeMessage { handshake_type: 2, body: server_hello.encode() }.encode();
    let chain = CertificateMessage { certificates: chain };
    flight.extend(HandshakeMessage { handshake_type: 11, body: chain.encode() }.encode());
    flight.extend(HandshakeMessage { handshake_type: 14, body: Vec::new() }.encode());
    records.send(22, flight);

    let mut ccs_accepted = false;
    while let Some(record) = records.next() {
        match (behaviour, record.content_type) {
            (Behaviour::HeartbleedVulnerable, 24) if record.fragment.len() >= 3 && record.fragment[0] == 1 => {
                // Echo the *claimed* length: the over-read.
                let claimed = usize::from(u16::from_be_bytes([record.fragment[1], record.fragment[2]]));
                let mut response = vec![2, record.fragment[1], record.fragment[2]];
                response.extend(b"SERVER-MEMORY-".iter().cycle().take(claimed));
                response.extend([0u8; 16]);
                records.send(24, response);
            }
            (Behaviour::HeartbeatPatched, 24) => {} // dropped silently
            (Behaviour::RobotOracle, 22) if record.fragment.first() == Some(&16) => {
                let padded_ok =
                    record.fragment.get(6..).is_some_and(|ciphertext| rsa_decrypt(ciphertext).starts_with(&[0, 2]));
                records.send(21, vec![2, if padded_ok { 20 } else { 40 }]);
                return;
            }
            (Behaviour::CcsInjectable, 20) if !ccs_accepted => ccs_accepted = true,
            (Behaviour::CcsInjectable, _) if ccs_accepted => {
                records.send(21, vec![2, 20]); // bad_record_mac
                return;
            }
            _ => {
                records.send(21, vec![2, 10]); // unexpected_message
                return;
            }
        }
    }
}

/// Raw RSA decryption with the shared leaf's private key (from `openssl rsa -text`), left-padded
/// to the modulus length.
fn rsa_decrypt(ciphertext: &[u8]) -> Vec<u8> {
    use num_bigint::BigUint;
    use std::sync::OnceLock;
    static KEY: OnceLock<(BigUint, BigUint)> = OnceLock::new();
    let (modulus, private) = KEY.get_or_init(|| {
        let key = Pki::shared().rsa.key.to_str().expect("harness: key path").to_string();
        let output = std::process::Command::new("openssl")
            .args(["rsa", "-in", &key, "-noout", "-text"])
            .output()
            .expect("harness: openssl rsa");
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let field = |name: &str| {
            let start = text.find(&format!("{name}:")).expect("harness: rsa field") + name.len() + 1;
            let hex: String = text[start..]
                .lines()
                .skip(1)
                .take_while(|l| l.starts_with(' '))
                .flat_map(|l| l.trim().split(':').map(str::to_string).collect::<Vec<_>>())
                .collect();
            BigUint::parse_bytes(hex.as_bytes(), 16).expect("harness: rsa hex")
        };
        (field("modulus"), field("privateExponent"))
    });
    let k = usize::try_from(modulus.bits().div_ceil(8)).unwrap_or(0);
    let plain = BigUint::from_bytes_be(ciphertext).modpow(private, modulus).to_bytes_be();
    let mut out = vec![0u8; k.saturating_sub(plain.len())];
    out.extend(plain);
    out
}
