//! A scripted mail server for STARTTLS tests: it speaks the plaintext part of SMTP, IMAP or
//! POP3 itself and, after a successful STARTTLS, relays the connection byte for byte to a TLS
//! backend (an `openssl s_server` from [`super::servers`]), so the TLS the client sees is
//! OpenSSL's. With `offer_starttls: false` the SMTP EHLO reply lacks STARTTLS and the command is
//! refused (502), as on a mail host that has no TLS. Threads end when the guard drops.
//!
//! [`Dovecot`] is a real IMAP, POP3, LMTP and ManageSieve server (Debian's `dovecot-imapd`,
//! `dovecot-pop3d`, `dovecot-lmtpd`, `dovecot-managesieved`), run as root from its own temporary
//! configuration on its own 127/8 address (IMAP on 143, POP3 on 110, LMTP on 24, ManageSieve
//! on 4190): with `DovecotTls::Off` (`ssl = no`) it refuses STARTTLS (`P1 BAD TLS support isn't
//! enabled.`) and STLS (`-ERR TLS support isn't enabled.`); with `DovecotTls::Required` it
//! upgrades with the shared test PKI's RSA leaf. Facts seen here (Dovecot 2.3.19.1): starts in
//! ≈0.3 s; its children share its process group, so the guard's group kill stops them all; the
//! unprivileged login processes need to traverse the base directory, so the temp dir is 0755.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::net::{alloc_addr, alloc_endpoint};
use super::pki::Pki;
use super::process::{find_program, ServerProcess};

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
    pub fn start(protocol: MailProtocol, offer_starttls: bool, backend: SocketAddr) -> StarttlsShim {
        Self::start_at(SocketAddr::V4(alloc_endpoint()), protocol, offer_starttls, backend)
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
        listener.set_nonblocking(true).expect("harness: nonblocking");
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
                        std::thread::spawn(move || serve(client, protocol, offer_starttls, backend, open3));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        StarttlsShim { addr, stop, open, acceptor: Some(acceptor) }
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
                let tls = if offer { "250-PIPELINING\r\n250 STARTTLS\r\n" } else { "250 PIPELINING\r\n" };
                (format!("250-mx.postura.test\r\n{tls}"), false)
            }
            MailProtocol::Smtp if command == "STARTTLS" && offer => ("220 2.0.0 Ready to start TLS\r\n".into(), true),
            MailProtocol::Smtp if command == "STARTTLS" => ("502 5.5.1 STARTTLS not supported\r\n".into(), false),
            MailProtocol::Smtp if command == "QUIT" => ("221 bye\r\n".into(), false),
            MailProtocol::Smtp => ("500 unknown\r\n".into(), false),
            MailProtocol::Imap => match command.split_once(' ') {
                Some((tag, "STARTTLS")) => (format!("{tag} OK Begin TLS negotiation now\r\n"), true),
                Some((tag, _)) => (format!("{tag} BAD unknown\r\n"), false),
                None => ("* BAD no tag\r\n".into(), false),
            },
            MailProtocol::Pop3 if command == "STLS" => ("+OK Begin TLS negotiation\r\n".into(), true),
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

/// Whether a [`Dovecot`] offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DovecotTls {
    /// `ssl = no`: STARTTLS and STLS are refused.
    Off,
    /// `ssl = required` with the shared PKI's RSA leaf and chain.
    Required,
}

/// A real Dovecot IMAP + POP3 server. Dropping it kills the server and its children.
pub struct Dovecot {
    /// IMAP (STARTTLS) on port 143.
    pub imap: SocketAddr,
    /// POP3 (STLS) on port 110.
    pub pop3: SocketAddr,
    /// LMTP (LHLO, STARTTLS) on port 24.
    pub lmtp: SocketAddr,
    /// ManageSieve (STARTTLS) on port 4190.
    pub sieve: SocketAddr,
    pub process: ServerProcess,
}

impl Dovecot {
    pub fn start(tls: DovecotTls) -> Dovecot {
        let address = alloc_addr();
        let dir =
            tempfile::Builder::new().prefix("postura-dovecot-").tempdir().expect("harness: create dovecot tempdir");
        let root = dir.path();
        // The login processes run as dovenull and must reach the sockets under base_dir.
        set_mode(root, 0o755);
        let ssl = match tls {
            DovecotTls::Off => "ssl = no\n".to_string(),
            DovecotTls::Required => {
                let rsa = &Pki::shared().rsa;
                format!("ssl = required\nssl_cert = <{}\nssl_key = <{}\n", rsa.chain.display(), rsa.key.display())
            }
        };
        let root_text = root.display();
        let config = format!(
            "protocols = imap pop3 lmtp sieve
listen = {address}
base_dir = {root_text}/run
state_dir = {root_text}/state
log_path = {root_text}/dovecot.log
{ssl}disable_plaintext_auth = no
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = static
  args = password=unused
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root_text}/home
}}
mail_location = maildir:{root_text}/home/Maildir
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 110
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    port = 24
  }}
}}
service managesieve-login {{
  inet_listener sieve {{
    port = 4190
  }}
}}
"
        );
        let config_path = root.join("dovecot.conf");
        std::fs::write(&config_path, config).expect("harness: write dovecot.conf");
        let log = root.join("dovecot.log");
        let mut command = std::process::Command::new(find_program("dovecot"));
        command.arg("-F").arg("-c").arg(&config_path);
        let mut process = ServerProcess::spawn("dovecot", command, dir);
        process.add_log(log);
        let imap = SocketAddr::from((address, 143));
        let pop3 = SocketAddr::from((address, 110));
        let lmtp = SocketAddr::from((address, 24));
        let sieve = SocketAddr::from((address, 4190));
        for addr in [imap, pop3, lmtp, sieve] {
            process.wait_ready(addr);
        }
        Dovecot { imap, pop3, lmtp, sieve, process }
    }

    pub fn address(&self) -> Ipv4Addr {
        match self.imap {
            SocketAddr::V4(v4) => *v4.ip(),
            SocketAddr::V6(_) => unreachable!("harness: Dovecot listens on 127/8"),
        }
    }
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("harness: chmod dovecot dir");
}

/// An IMAP peer that greets, then answers the client's first line with untagged `* OK` lines
/// without end (until the client goes or the guard drops) and never a tagged answer. No real
/// server does this; it stands for a hostile or broken one.
pub struct UntaggedFloodServer {
    pub addr: SocketAddr,
    /// Untagged lines written so far, over all connections.
    pub lines_sent: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl UntaggedFloodServer {
    pub fn start() -> UntaggedFloodServer {
        let addr = SocketAddr::V4(alloc_endpoint());
        let listener = TcpListener::bind(addr).expect("harness: flood bind");
        listener.set_nonblocking(true).expect("harness: nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let lines_sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stop2, sent2) = (stop.clone(), lines_sent.clone());
        let acceptor = std::thread::spawn(move || {
            let mut handlers = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (stop3, sent3) = (stop2.clone(), sent2.clone());
                        handlers.push(std::thread::spawn(move || flood(client, &stop3, &sent3)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            for handler in handlers {
                let _ = handler.join();
            }
        });
        UntaggedFloodServer { addr, lines_sent, stop, acceptor: Some(acceptor) }
    }
}

fn flood(client: TcpStream, stop: &AtomicBool, sent: &std::sync::atomic::AtomicUsize) {
    let _ = client.set_nonblocking(false);
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = client.set_write_timeout(Some(Duration::from_millis(500)));
    let mut writer = match client.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    if writer.write_all(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] flood\r\n").is_err() {
        return;
    }
    let mut line = String::new();
    if BufReader::new(client).read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        if writer.write_all(b"* OK still thinking\r\n").is_err() {
            return;
        }
        sent.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for UntaggedFloodServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.acceptor.take() {
            let _ = thread.join();
        }
    }
}
