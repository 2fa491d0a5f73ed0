//! A scripted Ticketbleed server (CVE-2016-9244): no buildable server has the bug (it was in F5
//! BIG-IP's closed TLS stack). Every hello without a ticket is served by a real rustls TLS 1.2
//! server with session tickets on (so the sweep sees real answers and postura's TLS 1.2 client
//! gets a real ticket); a hello offering a non-empty ticket is answered as the affected stack
//! did: a resuming ServerHello whose session ID is the client's, padded to 32 bytes with a
//! fixed pattern standing for memory, then ChangeCipherSpec, then the connection is closed.
//! The script takes any ticket as valid. Threads end when the guard drops.

use std::io::{Cursor, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use postura::tls::codec::{ClientExtension, ClientHello, HandshakeMessage, RawExtension, Record, ServerHello};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::net::alloc_endpoint;
use super::pki::Pki;

pub struct TicketbleedServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// Hellos that offered a ticket (answered by the script).
    resumptions: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl TicketbleedServer {
    pub fn start() -> TicketbleedServer {
        let addr = SocketAddr::V4(alloc_endpoint());
        let listener = TcpListener::bind(addr).expect("harness: ticketbleed bind");
        listener.set_nonblocking(true).expect("harness: nonblocking");
        let config = Arc::new(rustls_config());
        let (accepted, resumptions, stop) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (accepted2, resumptions2, stop2, open2) =
            (accepted.clone(), resumptions.clone(), stop.clone(), open.clone());
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
                        let (config, resumptions) = (config.clone(), resumptions2.clone());
                        handlers.push(std::thread::spawn(move || serve(stream, config, &resumptions)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            for handler in handlers {
                let _ = handler.join();
            }
        });
        TicketbleedServer { addr, accepted, resumptions, stop, open, acceptor: Some(acceptor) }
    }

    /// Connections accepted so far (counted at the server).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Hellos that offered a ticket.
    pub fn resumptions(&self) -> usize {
        self.resumptions.load(Ordering::SeqCst)
    }
}

impl Drop for TicketbleedServer {
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

/// TLS 1.2 only, tickets on, the shared PKI's RSA leaf and intermediate.
fn rustls_config() -> rustls::ServerConfig {
    let pki = Pki::shared();
    let chain: Vec<CertificateDer<'static>> = [&pki.rsa.cert, &pki.intermediate_cert]
        .iter()
        .map(|path| CertificateDer::from_pem_file(path).expect("harness: certificate PEM"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(&pki.rsa.key).expect("harness: key PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("harness: TLS 1.2")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("harness: server certificate");
    config.ticketer = rustls::crypto::ring::Ticketer::new().expect("harness: ticketer");
    config
}

fn serve(mut stream: TcpStream, config: Arc<rustls::ServerConfig>, resumptions: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buffer = Vec::new();
    let hello = loop {
        match Record::decode(&buffer) {
            Ok(Some((record, _))) => break ClientHello::decode_handshake(&record.fragment).ok(),
            Ok(None) => {}
            Err(_) => break None,
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let ticket_offered = hello.as_ref().is_some_and(|h| {
        h.extensions.iter().flatten().any(|e| matches!(e, ClientExtension::SessionTicket(t) if !t.is_empty()))
    });
    match hello {
        Some(hello) if ticket_offered => {
            resumptions.fetch_add(1, Ordering::SeqCst);
            leak(&mut stream, &hello);
        }
        _ => {
            let Ok(mut connection) = rustls::ServerConnection::new(config) else { return };
            let _ = connection.read_tls(&mut Cursor::new(buffer));
            if connection.process_new_packets().is_ok() {
                while connection.is_handshaking() {
                    if connection.complete_io(&mut stream).is_err() {
                        break;
                    }
                }
                // The probes close after the handshake; wait for that.
                let _ = connection.complete_io(&mut stream);
            } else {
                let _ = connection.write_tls(&mut stream);
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// The affected stack's answer: the session ID echoed as 32 bytes.
fn leak(stream: &mut TcpStream, hello: &ClientHello) {
    let mut session_id = hello.session_id.clone();
    session_id.extend(b"MEMORY-OF-THE-F5".iter().cycle().take(32usize.saturating_sub(session_id.len())));
    let suite = hello.cipher_suites.first().copied().unwrap_or(0xC02F);
    let server_hello = ServerHello {
        legacy_version: 0x0303,
        random: rand::random(),
        session_id,
        cipher_suite: suite,
        compression_method: 0,
        extensions: Some(vec![
            RawExtension { extension_type: 0xff01, data: vec![0] },
            RawExtension { extension_type: 35, data: Vec::new() },
        ]),
    };
    let handshake = HandshakeMessage { handshake_type: 2, body: server_hello.encode() }.encode();
    let mut out = Record { content_type: 22, version: 0x0303, fragment: handshake }.encode();
    out.extend(Record { content_type: 20, version: 0x0303, fragment: vec![1] }.encode());
    let _ = stream.write_all(&out);
}
