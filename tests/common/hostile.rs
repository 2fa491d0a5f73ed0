//! Hostile peers, in-process on std threads, each on its own 127/8 address.
//!
//! Every peer polls a non-blocking listener every 10 ms and checks a stop flag; Drop sets the
//! flag, shuts every open connection down and joins the threads, so nothing outlives the guard.
//! (The resetting peer keeps no copy of its connections: a copy would keep the socket open and
//! its close would then send no RST.)

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::net::alloc_endpoint;

extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const std::ffi::c_void, len: u32) -> i32;
    fn recv(fd: i32, buf: *mut std::ffi::c_void, len: usize, flags: i32) -> isize;
}

/// The client has closed `stream` (or it was shut down here): a peek without waiting finds the
/// end of the stream (or an error), not data and not "nothing yet".
fn ended(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    const MSG_PEEK: i32 = 0x2;
    const MSG_DONTWAIT: i32 = 0x40;
    let mut byte = 0u8;
    // SAFETY: a valid open socket and a one-byte buffer that outlives the call; MSG_DONTWAIT
    // leaves the descriptor's own blocking mode (shared with the handler's copy) alone.
    let n = unsafe { recv(stream.as_raw_fd(), (&mut byte as *mut u8).cast(), 1, MSG_PEEK | MSG_DONTWAIT) };
    n == 0 || (n < 0 && std::io::Error::last_os_error().kind() != ErrorKind::WouldBlock)
}

/// What a peer's connection handlers share: the stop flag and the counts made at the server.
#[derive(Default)]
pub struct Shared {
    stop: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
    accepted: AtomicUsize,
    received: AtomicUsize,
    /// The most connections ever open at once, as the server sees them: counted at each accept
    /// over the tracked connections that the client has not closed yet.
    most_open: AtomicUsize,
}

impl Shared {
    /// The guard was dropped: handlers should return.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Count bytes received from a client.
    pub fn received(&self, bytes: usize) {
        self.received.fetch_add(bytes, Ordering::SeqCst);
    }
}

/// Common guard of the hostile peers.
pub struct HostilePeer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl HostilePeer {
    pub fn start<F>(name: &str, handler: F) -> HostilePeer
    where
        F: Fn(TcpStream, &Shared) + Send + Sync + 'static,
    {
        Self::start_tracking(name, true, handler)
    }

    /// As `start`; `track` keeps a copy of each connection so Drop can shut it down.
    fn start_tracking<F>(name: &str, track: bool, handler: F) -> HostilePeer
    where
        F: Fn(TcpStream, &Shared) + Send + Sync + 'static,
    {
        let (listener, addr) = bind_fresh();
        listener.set_nonblocking(true).expect("harness: nonblocking");
        let shared = Arc::new(Shared::default());
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let handler = Arc::new(handler);
        let (sh, th) = (shared.clone(), threads.clone());
        let name = name.to_string();
        let acceptor = std::thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || {
                while !sh.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            sh.accepted.fetch_add(1, Ordering::SeqCst);
                            let _ = stream.set_nonblocking(false);
                            if track {
                                let mut conns = sh.conns.lock().unwrap();
                                if let Ok(c) = stream.try_clone() {
                                    conns.push(c);
                                }
                                let open = conns.iter().filter(|c| !ended(c)).count();
                                sh.most_open.fetch_max(open, Ordering::SeqCst);
                            }
                            let (sh2, h2) = (sh.clone(), handler.clone());
                            let t = std::thread::Builder::new()
                                .name(format!("{name}-conn"))
                                .spawn(move || h2(stream, &sh2))
                                .expect("harness: spawn connection thread");
                            th.lock().unwrap().push(t);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
            .expect("harness: spawn acceptor");
        HostilePeer { addr, shared, threads, acceptor: Some(acceptor) }
    }

    /// Where the peer listens (its own 127.a.b.c).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// The most connections ever open at once (not yet closed by the client), seen at each
    /// accept.
    pub fn most_at_once(&self) -> usize {
        self.shared.most_open.load(Ordering::SeqCst)
    }

    /// Bytes received from clients so far.
    pub fn bytes_received(&self) -> usize {
        self.shared.received.load(Ordering::SeqCst)
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        for c in self.shared.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        let threads: Vec<_> = self.threads.lock().unwrap().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

fn bind_fresh() -> (TcpListener, SocketAddr) {
    for _ in 0..20 {
        let ep = SocketAddr::V4(alloc_endpoint());
        match TcpListener::bind(ep) {
            Ok(l) => return (l, ep),
            Err(e) if e.kind() == ErrorKind::AddrInUse => continue,
            Err(e) => panic!("harness: bind {ep}: {e}"),
        }
    }
    panic!("harness: no free loopback endpoint for a hostile peer");
}

/// Reads (and counts) until EOF, error or stop; `on_data` runs after each read.
fn drain(stream: &mut TcpStream, shared: &Shared, mut on_data: impl FnMut(&mut TcpStream) -> bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 4096];
    while !shared.stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                shared.received.fetch_add(n, Ordering::SeqCst);
                if !on_data(stream) {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// Accepts, reads everything, never writes, never closes (until dropped).
pub struct SilentServer(pub HostilePeer);

impl SilentServer {
    pub fn start() -> SilentServer {
        SilentServer(HostilePeer::start("silent", |mut s, sh| drain(&mut s, sh, |_| true)))
    }
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }
}

/// Answers the first bytes a client sends with a fixed non-TLS reply, then closes.
pub struct GarbageServer(pub HostilePeer);

/// What [`GarbageServer::http_400`] sends.
pub const HTTP_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: postura-test\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n";

impl GarbageServer {
    /// Replies with [`HTTP_400`] (a plain-HTTP server on a TLS port).
    pub fn http_400() -> GarbageServer {
        Self::with_reply(HTTP_400.to_vec())
    }

    /// Replies with `len` random bytes, the first never 0x14..=0x18 (not a TLS content type),
    /// so the reply cannot be mistaken for a TLS record.
    pub fn random_bytes(len: usize) -> GarbageServer {
        let mut bytes: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
        if let Some(b) = bytes.first_mut() {
            if (0x14..=0x18).contains(b) {
                *b = 0x42;
            }
        }
        Self::with_reply(bytes)
    }

    /// Replies with `reply` after the client's first bytes, then closes.
    pub fn with_reply(reply: Vec<u8>) -> GarbageServer {
        GarbageServer(HostilePeer::start("garbage", move |mut s, sh| {
            drain(&mut s, sh, |s| {
                let _ = s.write_all(&reply);
                let _ = s.flush();
                let _ = s.shutdown(Shutdown::Write);
                false
            });
            // Let the client read the reply before the socket is dropped (avoids an RST).
            std::thread::sleep(Duration::from_millis(200));
        }))
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }
}

/// The record [`TrickleServer`] trickles: a TLS 1.2 handshake record header announcing 16 384
/// bytes, then a ServerHello header and zeros — a client that waits for the whole record waits
/// ≈4.5 hours at one byte per second.
pub fn trickle_record() -> Vec<u8> {
    let mut r = vec![0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x3f, 0xfc, 0x03, 0x03];
    r.resize(5 + 0x4000, 0);
    r
}

/// After the client's first bytes (or 200 ms of silence), sends one byte of a TLS record per
/// `interval` (default 1 s) and keeps the connection open.
pub struct TrickleServer(pub HostilePeer);

impl TrickleServer {
    pub fn start() -> TrickleServer {
        Self::start_with(Duration::from_secs(1), trickle_record())
    }

    pub fn start_with(interval: Duration, payload: Vec<u8>) -> TrickleServer {
        TrickleServer(HostilePeer::start("trickle", move |mut s, sh| {
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 4096];
            if let Ok(n) = s.read(&mut buf) {
                sh.received.fetch_add(n, Ordering::SeqCst);
            }
            let _ = s.set_nonblocking(true);
            let _ = s.set_nodelay(true);
            for &b in &payload {
                if sh.stop.load(Ordering::SeqCst) {
                    return;
                }
                // Drain whatever the client sends meanwhile.
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            sh.received.fetch_add(n, Ordering::SeqCst);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => return,
                    }
                }
                match s.write(&[b]) {
                    Ok(1) => {}
                    Ok(_) | Err(_) => return,
                }
                // Sleep in small steps so Drop is prompt.
                let mut left = interval;
                while !left.is_zero() && !sh.stop.load(Ordering::SeqCst) {
                    let step = left.min(Duration::from_millis(50));
                    std::thread::sleep(step);
                    left -= step;
                }
            }
        }))
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }
}

/// Resets every connection right after accepting it (SO_LINGER with a zero timeout, then
/// close: the kernel sends a TCP RST instead of a FIN), before reading anything.
pub struct ResettingServer(pub HostilePeer);

impl ResettingServer {
    pub fn start() -> ResettingServer {
        ResettingServer(HostilePeer::start_tracking("reset", false, |stream, _| reset(stream)))
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }
}

/// Close `stream` with an RST.
fn reset(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    // struct linger { int l_onoff; int l_linger; }: on, zero seconds.
    let linger: [i32; 2] = [1, 0];
    // SAFETY: a valid open socket and a pointer to an 8-byte struct linger that outlives the call.
    let status = unsafe {
        setsockopt(
            stream.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            linger.as_ptr().cast(),
            std::mem::size_of_val(&linger) as u32,
        )
    };
    assert_eq!(status, 0, "harness: SO_LINGER: {}", std::io::Error::last_os_error());
    drop(stream);
}
