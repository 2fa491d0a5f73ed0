//! A TCP relay that can be cut and healed, to put a network partition between one client (a
//! worker) and a server (PostgreSQL) while the others reach it directly. Cut, it passes no byte
//! either way and completes no new connection to the server; the connections stay open on both
//! sides, as across a partition that drops packets silently. Healed, the held bytes flow again.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Partition {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

impl Partition {
    /// A relay on `listen` (a 127.x address and port) to `backend`.
    pub fn start(listen: SocketAddr, backend: SocketAddr) -> Partition {
        let listener = TcpListener::bind(listen).expect("harness: bind the partition relay");
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let flag = flag.clone();
                std::thread::spawn(move || relay(client, backend, flag));
            }
        });
        Partition { addr, cut }
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

fn wait_while_cut(cut: &AtomicBool) {
    while cut.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn relay(client: TcpStream, backend: SocketAddr, cut: Arc<AtomicBool>) {
    wait_while_cut(&cut);
    let Ok(server) = TcpStream::connect(backend) else { return };
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else { return };
    let upstream = {
        let cut = cut.clone();
        std::thread::spawn(move || pump(client_reader, server, &cut))
    };
    pump(server_reader, client, &cut);
    let _ = upstream.join();
}

/// Copy `from` → `to`, holding everything while the relay is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buffer = [0u8; 16384];
    loop {
        wait_while_cut(cut);
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                // Bytes read just as the cut began are held until it heals.
                wait_while_cut(cut);
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
