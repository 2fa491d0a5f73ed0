//! Hostile TLS and mail peers, scripted on postura's codec (on [`HostilePeer`]'s threads, each on
//! its own 127/8 address, counting connections at the server). No real server misbehaves like
//! these (accepting every suite, answering with a suite not offered, retrying hellos forever,
//! streaming handshake messages without end, sending thousands of certificates, a mail dialogue
//! that never ends): they stand for tarpits, honeypots and broken middleboxes a national scan
//! meets, and for postura's caps on what a peer controls (`docs/limits.md`).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use postura::tls::codec::{
    CertificateMessage, ClientExtension, ClientHello, HandshakeMessage, RawExtension, Record, ServerHello,
    HELLO_RETRY_REQUEST_RANDOM,
};

use super::hostile::{HostilePeer, Shared};
use super::pki::Pki;

/// What a scripted TLS peer does with each ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsHostility {
    /// ServerHello for the first suite offered, whatever it is and at whatever version, a
    /// certificate of 600 random bytes (the same on every connection), ServerHelloDone: it
    /// "accepts" every suite of the registry.
    AcceptEverything,
    /// As `AcceptEverything`, with the shared PKI's real RSA leaf as its certificate.
    AcceptEverythingWithRealCertificate,
    /// ServerHello for a suite that was not offered (TLS_NULL_WITH_NULL_NULL, 0x0000).
    SuiteNotOffered,
    /// A HelloRetryRequest (TLS_AES_128_GCM_SHA256 if offered, x25519) to every ClientHello
    /// of the connection, forever, whatever the version.
    HelloRetryLoop,
    /// ServerHello for the first suite offered, then handshake messages of an unknown type
    /// without end (never ServerHelloDone).
    EndlessHandshake,
    /// A plausible RSA server (TLS 1.2, RSA key-transport suites) whose Certificate message
    /// carries the shared PKI's leaf followed by this many 32-byte junk entries.
    HugeChain(usize),
    /// A plausible server that accepts every suite authenticated by its RSA certificate (the
    /// shared PKI's leaf), at every version up to TLS 1.2: over a hundred connections to
    /// enumerate, for the per-target ceiling.
    EveryRsaSuite,
    /// A `handshake_failure` alert to every hello, after 300 ms: plausible, and costs a
    /// connection per hello.
    RefuseAll,
    /// TLS 1.3 only: a well-formed ServerHello (TLS_AES_128_GCM_SHA256 when offered, x25519 with
    /// a random share), the middlebox ChangeCipherSpec, then an application-data record of 100
    /// random bytes where the encrypted flight should be. Every other hello: protocol_version.
    Tls13BadRecord,
}

/// TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA.
const RSA_SUITES: [u16; 3] = [0x009C, 0x002F, 0x0035];
const SIGNALLING_SUITES: [u16; 2] = [0x00FF, 0x5600];

/// A scripted TLS peer: see [`TlsHostility`].
pub struct HostileTlsServer(pub HostilePeer);

impl HostileTlsServer {
    pub fn start(kind: TlsHostility) -> HostileTlsServer {
        let leaf = leaf_der();
        let garbage: Vec<u8> = (0..600).map(|_| rand::random::<u8>()).collect();
        HostileTlsServer(HostilePeer::start("hostile-tls", move |stream, shared| {
            serve(stream, shared, kind, &leaf, &garbage)
        }))
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// Connections accepted so far (counted at the server).
    pub fn accepted(&self) -> usize {
        self.0.accepted()
    }
}

fn leaf_der() -> Vec<u8> {
    let pem = std::fs::read_to_string(&Pki::shared().rsa.cert).expect("harness: leaf certificate");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).expect("harness: certificate base64")
}

/// Reads whole TLS records from a client; None at end of stream, error, SSLv2 framing or stop.
fn next_record(stream: &mut TcpStream, buffer: &mut Vec<u8>, shared: &Shared) -> Option<Record> {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    loop {
        if let Ok(Some((record, used))) = Record::decode(buffer) {
            buffer.drain(..used);
            return Some(record);
        }
        if buffer.first().is_some_and(|b| b & 0x80 != 0) || shared.stopping() {
            return None;
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => {
                shared.received(n);
                buffer.extend_from_slice(&chunk[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
}

fn record(content_type: u8, fragment: Vec<u8>) -> Vec<u8> {
    Record { content_type, version: 0x0303, fragment }.encode()
}

fn handshake(kind: u8, body: Vec<u8>) -> Vec<u8> {
    HandshakeMessage { handshake_type: kind, body }.encode()
}

fn server_hello(version: u16, suite: u16, random: [u8; 32], extensions: Vec<RawExtension>) -> Vec<u8> {
    let hello = ServerHello {
        legacy_version: version,
        random,
        session_id: vec![7; 32],
        cipher_suite: suite,
        compression_method: 0,
        extensions: Some(extensions),
    };
    handshake(2, hello.encode())
}

fn offers_tls13(hello: &ClientHello) -> bool {
    let extensions = hello.extensions.as_deref().unwrap_or_default();
    extensions.iter().any(|e| matches!(e, ClientExtension::SupportedVersions(v) if v.contains(&0x0304)))
}

fn serve(mut stream: TcpStream, shared: &Shared, kind: TlsHostility, leaf: &[u8], garbage: &[u8]) {
    let mut buffer = Vec::new();
    while let Some(incoming) = next_record(&mut stream, &mut buffer, shared) {
        let Ok(hello) = ClientHello::decode_handshake(&incoming.fragment) else { break };
        let first_offered =
            hello.cipher_suites.iter().copied().find(|s| !SIGNALLING_SUITES.contains(s)).unwrap_or(0x002F);
        let version = hello.client_version.min(0x0303);
        let answer = match kind {
            TlsHostility::AcceptEverything | TlsHostility::AcceptEverythingWithRealCertificate => {
                let mut flight = server_hello(version, first_offered, rand::random(), Vec::new());
                let real = kind == TlsHostility::AcceptEverythingWithRealCertificate;
                let certificates = vec![if real { leaf.to_vec() } else { garbage.to_vec() }];
                flight.extend(handshake(11, CertificateMessage { certificates }.encode()));
                flight.extend(handshake(14, Vec::new()));
                record(22, flight)
            }
            TlsHostility::SuiteNotOffered => {
                let mut flight = server_hello(version, 0x0000, rand::random(), Vec::new());
                flight.extend(handshake(14, Vec::new()));
                record(22, flight)
            }
            TlsHostility::HelloRetryLoop => {
                let suite = if hello.cipher_suites.contains(&0x1301) { 0x1301 } else { first_offered };
                let extensions = vec![
                    RawExtension { extension_type: 43, data: vec![0x03, 0x04] },
                    RawExtension { extension_type: 51, data: vec![0x00, 0x1d] },
                ];
                record(22, server_hello(0x0303, suite, HELLO_RETRY_REQUEST_RANDOM, extensions))
            }
            TlsHostility::EndlessHandshake => {
                let _ = stream.write_all(&record(22, server_hello(version, first_offered, rand::random(), Vec::new())));
                let message = record(22, handshake(99, vec![0x5a; 4000]));
                while !shared.stopping() && stream.write_all(&message).is_ok() {}
                break;
            }
            TlsHostility::HugeChain(junk_entries) => {
                let Some(&suite) = RSA_SUITES.iter().find(|s| hello.cipher_suites.contains(s)) else {
                    let _ = stream.write_all(&record(21, vec![2, 40]));
                    break;
                };
                if hello.client_version != 0x0303 || offers_tls13(&hello) {
                    let _ = stream.write_all(&record(21, vec![2, 70]));
                    break;
                }
                let mut certificates = vec![leaf.to_vec()];
                certificates.extend((0..junk_entries).map(|i| {
                    let mut entry = vec![0x30, 30];
                    entry.extend((i as u32).to_be_bytes());
                    entry.resize(32, 0x41);
                    entry
                }));
                let mut flight = server_hello(0x0303, suite, rand::random(), Vec::new());
                flight.extend(handshake(11, CertificateMessage { certificates }.encode()));
                flight.extend(handshake(14, Vec::new()));
                // A handshake message longer than a record: split into 16 KB records.
                flight.chunks(16 * 1024).flat_map(|chunk| record(22, chunk.to_vec())).collect()
            }
            TlsHostility::EveryRsaSuite => {
                let rsa = |code: &u16| {
                    postura::tls::registry::registry()
                        .get(u32::from(*code))
                        .is_some_and(|s| s.auth_label == "RSA" && !s.kx_label.contains('/'))
                };
                let Some(&suite) = hello.cipher_suites.iter().find(|c| rsa(c)) else {
                    let _ = stream.write_all(&record(21, vec![2, 40]));
                    break;
                };
                if offers_tls13(&hello) {
                    let _ = stream.write_all(&record(21, vec![2, 70]));
                    break;
                }
                let mut flight = server_hello(version, suite, rand::random(), Vec::new());
                flight.extend(handshake(11, CertificateMessage { certificates: vec![leaf.to_vec()] }.encode()));
                flight.extend(handshake(14, Vec::new()));
                record(22, flight)
            }
            TlsHostility::Tls13BadRecord => {
                let suite = [0x1301, 0x1302, 0x1303].into_iter().find(|s| hello.cipher_suites.contains(s));
                let (true, Some(suite)) = (offers_tls13(&hello), suite) else {
                    let _ = stream.write_all(&record(21, vec![2, 70]));
                    break;
                };
                let mut share = vec![0x00, 0x1d, 0x00, 0x20];
                share.extend(rand::random::<[u8; 32]>());
                let extensions = vec![
                    RawExtension { extension_type: 43, data: vec![0x03, 0x04] },
                    RawExtension { extension_type: 51, data: share },
                ];
                let mut hello_record = record(22, server_hello(0x0303, suite, rand::random(), extensions));
                hello_record.extend(record(20, vec![1]));
                hello_record.extend(record(23, (0..100).map(|_| rand::random::<u8>()).collect()));
                hello_record
            }
            TlsHostility::RefuseAll => {
                // Slowly, so that connections overlap when a client opens several at once.
                std::thread::sleep(Duration::from_millis(300));
                let _ = stream.write_all(&record(21, vec![2, 40]));
                break;
            }
        };
        if stream.write_all(&answer).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// A mail server whose dialogue never ends: the greeting (or, for `NeverGreets`, nothing), then
/// lines that continue forever at full speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailHostility {
    /// Accepts and says nothing (the client must speak first, and never will be answered).
    NeverGreets,
    /// SMTP: a multi-line 220 greeting (`220-…`) that never reaches its last line.
    SmtpEndlessGreeting,
    /// IMAP: `* OK` greeting, then untagged `* …` lines forever after STARTTLS.
    ImapEndlessUntagged,
    /// POP3: a greeting line that never ends (no CRLF, ever).
    Pop3EndlessLine,
}

pub struct HostileMailServer(pub HostilePeer);

impl HostileMailServer {
    pub fn start(kind: MailHostility) -> HostileMailServer {
        HostileMailServer(HostilePeer::start("hostile-mail", move |stream, shared| mail(stream, shared, kind)))
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    pub fn accepted(&self) -> usize {
        self.0.accepted()
    }
}

fn mail(mut stream: TcpStream, shared: &Shared, kind: MailHostility) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut chunk = [0u8; 4096];
    let (greeting, line): (&[u8], &[u8]) = match kind {
        MailHostility::NeverGreets => {
            // Read (and count) whatever comes until the client leaves.
            while !shared.stopping() {
                match stream.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => shared.received(n),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => return,
                }
            }
            return;
        }
        MailHostility::SmtpEndlessGreeting => (b"", b"220-mail.test ESMTP and then some more\r\n"),
        MailHostility::ImapEndlessUntagged => (b"* OK IMAP4rev1 ready\r\n", b"* OK still thinking about it\r\n"),
        MailHostility::Pop3EndlessLine => (b"+OK ", b"POP3 ready and still going "),
    };
    if stream.write_all(greeting).is_err() {
        return;
    }
    if kind == MailHostility::ImapEndlessUntagged {
        // Wait for the client's STARTTLS command before the endless untagged lines.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        match stream.read(&mut chunk) {
            Ok(n) if n > 0 => shared.received(n),
            _ => return,
        }
    }
    let _ = stream.set_nonblocking(true);
    while !shared.stopping() {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => shared.received(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
        match stream.write(line) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return,
        }
    }
}

/// An HTTPS server (rustls, the shared PKI's leaf) on `address` that answers every request with
/// `200` and a body that never ends: an MTA-STS policy host gone wrong.
pub struct EndlessHttpsServer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acceptor: Option<std::thread::JoinHandle<()>>,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl EndlessHttpsServer {
    pub fn start(address: SocketAddr) -> EndlessHttpsServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;

        let pki = Pki::shared();
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.rsa.chain)
            .expect("harness: chain")
            .collect::<Result<_, _>>()
            .expect("harness: chain PEM");
        let key = PrivateKeyDer::from_pem_file(&pki.rsa.key).expect("harness: key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("harness: versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("harness: server config");
        let config = Arc::new(config);
        let listener = std::net::TcpListener::bind(address).expect("harness: bind HTTPS (port 443 needs root)");
        listener.set_nonblocking(true).expect("harness: nonblocking");
        let (stop, requests) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (s, r) = (stop.clone(), requests.clone());
        let acceptor = std::thread::spawn(move || {
            let mut handlers = Vec::new();
            while !s.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                r.fetch_add(1, Ordering::SeqCst);
                let (config, stop) = (config.clone(), s.clone());
                handlers.push(std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let Ok(connection) = rustls::ServerConnection::new(config) else { return };
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    let mut request = [0u8; 4096];
                    if tls.read(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nversion: STSv1\r\n");
                    let line = b"mx: mx.endless.test\r\n".repeat(100);
                    while !stop.load(Ordering::SeqCst) && tls.write_all(&line).is_ok() {}
                }));
            }
            for handler in handlers {
                let _ = handler.join();
            }
        });
        EndlessHttpsServer { stop, acceptor: Some(acceptor), requests }
    }
}

impl Drop for EndlessHttpsServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}
