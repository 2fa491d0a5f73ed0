//! A counting TCP gate in front of real servers (one address, several ports): the server-side
//! count of connections and of how many were open at once, for the per-address limit tests
//! (tests/scan_connector.rs in one process, tests/distributed.rs across workers).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A TCP gate in front of several servers, all reached at one address: it counts every
/// connection per port and records whether a connection was ever accepted while another was
/// still open. A connection counts as open from its accept until the server's first answer
/// reaches the client, and its request is held for `hold` first, so that a client breaking the
/// per-address limit is caught (a correct client only opens its next connection after reading
/// an answer and closing).
pub struct Gate {
    accepted: Vec<Arc<AtomicUsize>>,
    pub open: Arc<AtomicUsize>,
    pub overlaps: Arc<AtomicUsize>,
    /// The most connections ever open at once.
    pub most_open: Arc<AtomicUsize>,
}

impl Gate {
    pub fn start(address: Ipv4Addr, routes: &[(u16, SocketAddr)], hold: Duration) -> Gate {
        let open = Arc::new(AtomicUsize::new(0));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let most_open = Arc::new(AtomicUsize::new(0));
        let mut accepted = Vec::new();
        for &(port, backend) in routes {
            let listener = TcpListener::bind((address, port)).expect("bind gate");
            let count = Arc::new(AtomicUsize::new(0));
            accepted.push(count.clone());
            let (open, overlaps, most_open) = (open.clone(), overlaps.clone(), most_open.clone());
            std::thread::spawn(move || {
                for client in listener.incoming().flatten() {
                    count.fetch_add(1, Ordering::SeqCst);
                    let before = open.fetch_add(1, Ordering::SeqCst);
                    most_open.fetch_max(before + 1, Ordering::SeqCst);
                    if before > 0 {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    let open = open.clone();
                    std::thread::spawn(move || relay(client, backend, hold, &open));
                }
            });
        }
        Gate { accepted, open, overlaps, most_open }
    }

    pub fn count(&self, route: usize) -> usize {
        self.accepted[route].load(Ordering::SeqCst)
    }
}

fn relay(mut client: TcpStream, backend: SocketAddr, hold: Duration, open: &AtomicUsize) {
    let mut counted = true;
    let release = |counted: &mut bool| {
        if std::mem::take(counted) {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    };
    let Ok(mut server) = TcpStream::connect(backend) else {
        release(&mut counted);
        return;
    };
    let (Ok(mut client_reader), Ok(mut server_writer)) = (client.try_clone(), server.try_clone()) else {
        release(&mut counted);
        return;
    };
    let upstream = std::thread::spawn(move || {
        let mut buffer = [0u8; 16384];
        let mut first = true;
        while let Ok(n) = client_reader.read(&mut buffer) {
            if n == 0 {
                break;
            }
            if std::mem::take(&mut first) {
                std::thread::sleep(hold);
            }
            if server_writer.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = server_writer.shutdown(Shutdown::Write);
    });
    let mut buffer = [0u8; 16384];
    loop {
        match server.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // Released before the client can see the answer: its next connection comes after.
                release(&mut counted);
                if client.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    release(&mut counted);
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.join();
}
