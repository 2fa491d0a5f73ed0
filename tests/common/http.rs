//! A small HTTP/1.1 server on std threads for AIA caIssuers, CRL and hostile-fetch tests. Routes
//! are set per path and can change while it runs; every connection is answered once and closed.
//! Hostile routes: `Hang` (accepts, reads, never answers), `RedirectLoop` (302 to itself), and
//! `Huge` (a body of N bytes streamed without Content-Length).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::net::alloc_endpoint;

/// What a path answers.
#[derive(Clone, Debug)]
pub enum Route {
    /// 200 with this body and its Content-Length.
    Body(Vec<u8>),
    /// Reads the request, then sends nothing until the client leaves (or the server stops).
    Hang,
    /// 302 to the same path, forever.
    RedirectLoop,
    /// 200 with this many zero bytes, no Content-Length (ends by closing).
    Huge(usize),
}

#[derive(Default)]
struct State {
    routes: Mutex<HashMap<String, Route>>,
    stop: AtomicBool,
    requests: AtomicUsize,
    conns: Mutex<Vec<TcpStream>>,
}

/// The server guard: Drop stops it and joins its threads.
pub struct HttpServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Starts on a fresh 127/8 address.
    pub fn start() -> HttpServer {
        let endpoint = alloc_endpoint();
        let listener = TcpListener::bind(endpoint).expect("harness: bind HTTP server");
        listener.set_nonblocking(true).expect("harness: nonblocking");
        let addr = listener.local_addr().expect("harness: local addr");
        let state = Arc::new(State::default());
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (shared, handles) = (state.clone(), threads.clone());
        let acceptor = std::thread::Builder::new()
            .name("http-accept".into())
            .spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            if let Ok(clone) = stream.try_clone() {
                                shared.conns.lock().unwrap().push(clone);
                            }
                            let state = shared.clone();
                            let handle = std::thread::spawn(move || serve(stream, &state, addr));
                            handles.lock().unwrap().push(handle);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
            .expect("harness: spawn HTTP acceptor");
        HttpServer { addr, state, threads, acceptor: Some(acceptor) }
    }

    /// Sets what `path` (starting with `/`) answers.
    pub fn route(&self, path: &str, route: Route) {
        self.state.routes.lock().unwrap().insert(path.to_string(), route);
    }

    /// `http://ADDR:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, state: &State, addr: SocketAddr) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    // Headers, then a Content-Length body if any (OCSP POSTs).
    let header_end = loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if request.len() > 65_536 {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..header_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while request.len() < header_end + length.min(1 << 20) {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    state.requests.fetch_add(1, Ordering::SeqCst);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let route = state.routes.lock().unwrap().get(&path).cloned();
    match route {
        None => {
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        Some(Route::Body(body)) => {
            let _ = stream.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes(),
            );
            let _ = stream.write_all(&body);
        }
        Some(Route::RedirectLoop) => {
            let _ = stream.write_all(
                format!("HTTP/1.1 302 Found\r\nLocation: http://{addr}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
        Some(Route::Hang) => {
            while !state.stop.load(Ordering::SeqCst) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
                match stream.read(&mut chunk) {
                    Ok(0) => return,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => return,
                    Ok(_) => {}
                }
            }
        }
        Some(Route::Huge(size)) => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let block = vec![0u8; 65_536];
            let mut sent = 0;
            while sent < size && !state.stop.load(Ordering::SeqCst) {
                let n = block.len().min(size - sent);
                if stream.write_all(&block[..n]).is_err() {
                    return;
                }
                sent += n;
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        for conn in self.state.conns.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let handles: Vec<_> = self.threads.lock().unwrap().drain(..).collect();
        for handle in handles {
            let _ = handle.join();
        }
    }
}
