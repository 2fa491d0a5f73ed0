//! A scripted mail server for STARTTLS tests: it speaks the plaintext part of SMTP, IMAP or
//! POP3 itself and, after a successful STARTTLS, relays the connection byte for byte to a TLS
//! backend (an `openssl s_server` from [`super::servers`]), so the TLS the client sees is
//! OpenSSL's. With `offer_starttls: false` the SMTP EHLO reply lacks STARTTLS and the command is
//! refused (502), as on a mail host that has no TLS. Threads end when the guard drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::net::alloc_endpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailProtocol {
    Smtp,
    Imap,
    Pop3,
}

pub struct StarttlsShim {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl StarttlsShim {
    pub fn start(
        protocol: MailProtocol,
        offer_starttls: bool,
        backend: SocketAddr,
    ) -> StarttlsShim {
        Self::start_at(
            SocketAddr::V4(alloc_endpoint()),
            protocol,
            offer_starttls,
            backend,
        )
    }

    /// As [`StarttlsShim::start`] on a chosen address (e.g. port 25 inside a namespace: call it
    /// on a thread that entered the namespace; its threads stay there).
    pub fn start_at(
        addr: SocketAddr,
        protocol: MailProtocol,
        offer_starttls: bool,
        backend: SocketAddr,
    ) -> StarttlsShim {
        let listener = TcpListener::bind(addr).expect("harness: shim bind");
        listener
            .set_nonblocking(true)
            .expect("harness: nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (stop2, open2) = (stop.clone(), open.clone());
        let acceptor = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(copy) = client.try_clone() {
                            open2.lock().unwrap().push(copy);
                        }
                        let open3 = open2.clone();
                        std::thread::spawn(move || {
                            serve(client, protocol, offer_starttls, backend, open3)
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        StarttlsShim {
            addr,
            stop,
            open,
            acceptor: Some(acceptor),
        }
    }
}

impl Drop for StarttlsShim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(thread) = self.acceptor.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    client: TcpStream,
    protocol: MailProtocol,
    offer: bool,
    backend: SocketAddr,
    open: Arc<Mutex<Vec<TcpStream>>>,
) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = match client.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(client);
    let greeting: &[u8] = match protocol {
        MailProtocol::Smtp => b"220 mx.postura.test ESMTP scripted\r\n",
        MailProtocol::Imap => b"* OK [CAPABILITY IMAP4rev1 STARTTLS] scripted\r\n",
        MailProtocol::Pop3 => b"+OK scripted\r\n",
    };
    if writer.write_all(greeting).is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_ascii_uppercase();
        let (reply, upgrade): (String, bool) = match protocol {
            MailProtocol::Smtp if command.starts_with("EHLO") => {
                let tls = if offer {
                    "250-PIPELINING\r\n250 STARTTLS\r\n"
                } else {
                    "250 PIPELINING\r\n"
                };
                (format!("250-mx.postura.test\r\n{tls}"), false)
            }
            MailProtocol::Smtp if command == "STARTTLS" && offer => {
                ("220 2.0.0 Ready to start TLS\r\n".into(), true)
            }
            MailProtocol::Smtp if command == "STARTTLS" => {
                ("502 5.5.1 STARTTLS not supported\r\n".into(), false)
            }
            MailProtocol::Smtp if command == "QUIT" => ("221 bye\r\n".into(), false),
            MailProtocol::Smtp => ("500 unknown\r\n".into(), false),
            MailProtocol::Imap => match command.split_once(' ') {
                Some((tag, "STARTTLS")) => {
                    (format!("{tag} OK Begin TLS negotiation now\r\n"), true)
                }
                Some((tag, _)) => (format!("{tag} BAD unknown\r\n"), false),
                None => ("* BAD no tag\r\n".into(), false),
            },
            MailProtocol::Pop3 if command == "STLS" => {
                ("+OK Begin TLS negotiation\r\n".into(), true)
            }
            MailProtocol::Pop3 => ("-ERR unknown\r\n".into(), false),
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
        if upgrade {
            break;
        }
    }
    // Relay: the client's next bytes are its ClientHello.
    let Ok(server) = TcpStream::connect(backend) else {
        return;
    };
    if let Ok(copy) = server.try_clone() {
        open.lock().unwrap().push(copy);
    }
    let buffered = reader.buffer().to_vec();
    let client = reader.into_inner();
    let (mut client_read, mut server_write) = match (client.try_clone(), server.try_clone()) {
        (Ok(c), Ok(s)) => (c, s),
        _ => return,
    };
    let _ = client_read.set_read_timeout(None);
    if !buffered.is_empty() && server_write.write_all(&buffered).is_err() {
        return;
    }
    let upstream = std::thread::spawn(move || {
        let mut chunk = [0u8; 16384];
        while let Ok(n) = client_read.read(&mut chunk) {
            if n == 0 || server_write.write_all(&chunk[..n]).is_err() {
                break;
            }
        }
        let _ = server_write.shutdown(Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    let mut chunk = [0u8; 16384];
    while let Ok(n) = server_read.read(&mut chunk) {
        if n == 0 || client_write.write_all(&chunk[..n]).is_err() {
            break;
        }
    }
    let _ = client_write.shutdown(Shutdown::Both);
    let _ = upstream.join();
}
