//! Loopback address/port allocation, listener inspection (`/proc/net/tcp{,6}`) and readiness polling.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Port used by address-specific servers unless a wildcard listener already holds it.
pub const DEFAULT_PORT: u16 = 4433;
/// Ports for servers that bind one address (each server has its own 127.a.b.c).
pub const ADDR_PORTS: std::ops::RangeInclusive<u16> = 4430..=4499;
/// Ports for servers that bind every address (gnutls-serv): disjoint from [`ADDR_PORTS`].
pub const WILDCARD_PORTS: std::ops::RangeInclusive<u16> = 4500..=4999;

/// Second octet range of harness addresses: 127.64.0.0 – 127.191.255.255. Kept away from
/// 127.0.x.y (127.0.0.1, /etc/hosts' 127.0.1.1, and the fixed 127.0.10–21.x addresses of the
/// design notes) so hand-picked addresses in other tests never collide with allocated ones.
const OCTET2_BASE: u32 = 64;
const OCTET2_SPAN: u32 = 128;

fn start_offset() -> u32 {
    // Random start per process so concurrent test processes (other binaries, other engineers'
    // runs on the same machine) rarely pick the same addresses; listeners are checked anyway.
    rand::random::<u32>()
}

static NEXT_ADDR: OnceLock<AtomicU32> = OnceLock::new();
static NEXT_WILDCARD_PORT: OnceLock<AtomicU32> = OnceLock::new();

fn nth_addr(n: u32) -> Option<Ipv4Addr> {
    let space = OCTET2_SPAN * 256 * 256;
    let n = n % space;
    let o2 = OCTET2_BASE + n / 65536;
    let o3 = (n / 256) % 256;
    let o4 = n % 256;
    if o4 == 0 || o4 == 255 {
        return None;
    }
    Some(Ipv4Addr::new(127, o2 as u8, o3 as u8, o4 as u8))
}

/// A fresh 127.a.b.c address that this process never handed out before and on which nothing
/// listens right now (on any port).
pub fn alloc_addr() -> Ipv4Addr {
    let counter = NEXT_ADDR.get_or_init(|| AtomicU32::new(start_offset()));
    for _ in 0..10_000 {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let Some(addr) = nth_addr(n) else { continue };
        let busy = listeners().iter().any(|l| l.ip() == IpAddr::V4(addr));
        if !busy {
            return addr;
        }
    }
    panic!("harness: could not find a free 127/8 address");
}

/// A fresh address plus a port in [`ADDR_PORTS`] (normally [`DEFAULT_PORT`]) that no wildcard
/// listener (0.0.0.0 / ::, e.g. a gnutls-serv) holds.
pub fn alloc_endpoint() -> SocketAddrV4 {
    let addr = alloc_addr();
    let wild = wildcard_ports();
    let port = std::iter::once(DEFAULT_PORT)
        .chain(ADDR_PORTS)
        .find(|p| !wild.contains(p))
        .expect("harness: every port of 4430..=4499 is held by a wildcard listener");
    SocketAddrV4::new(addr, port)
}

/// A port in [`WILDCARD_PORTS`] on which nothing listens on any address, for servers that bind
/// every address (gnutls-serv). Unique within this process.
pub fn alloc_wildcard_port() -> u16 {
    let span = (*WILDCARD_PORTS.end() - *WILDCARD_PORTS.start()) as u32 + 1;
    let counter = NEXT_WILDCARD_PORT.get_or_init(|| AtomicU32::new(start_offset() % span));
    for _ in 0..span {
        let n = counter.fetch_add(1, Ordering::Relaxed) % span;
        let port = *WILDCARD_PORTS.start() + n as u16;
        if !listeners().iter().any(|l| l.port() == port) {
            return port;
        }
    }
    panic!("harness: no free port in {WILDCARD_PORTS:?}");
}

/// An address:port on which nothing listens: connecting gets "connection refused" (RST).
pub fn closed_port() -> SocketAddr {
    let ep = alloc_endpoint();
    assert!(!is_listening(SocketAddr::V4(ep)), "harness: {ep} unexpectedly has a listener");
    SocketAddr::V4(ep)
}

/// All TCP sockets in LISTEN state in this network namespace (IPv4 and IPv6).
pub fn listeners() -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let mut cols = line.split_whitespace();
            let (Some(_sl), Some(local), Some(_rem), Some(state)) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            if state != "0A" {
                continue;
            }
            let Some((ip_hex, port_hex)) = local.split_once(':') else {
                continue;
            };
            let Ok(port) = u16::from_str_radix(port_hex, 16) else {
                continue;
            };
            let ip = if v6 {
                if ip_hex.len() != 32 {
                    continue;
                }
                let mut bytes = [0u8; 16];
                for w in 0..4 {
                    let Ok(word) = u32::from_str_radix(&ip_hex[w * 8..w * 8 + 8], 16) else {
                        continue;
                    };
                    bytes[w * 4..w * 4 + 4].copy_from_slice(&word.to_ne_bytes());
                }
                IpAddr::V6(Ipv6Addr::from(bytes))
            } else {
                let Ok(word) = u32::from_str_radix(ip_hex, 16) else {
                    continue;
                };
                IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes()))
            };
            out.push(SocketAddr::new(ip, port));
        }
    }
    out
}

fn wildcard_ports() -> HashSet<u16> {
    listeners().into_iter().filter(|l| l.ip().is_unspecified()).map(|l| l.port()).collect()
}

/// Whether something listens on `addr` (exactly, or through a wildcard listener on its port).
pub fn is_listening(addr: SocketAddr) -> bool {
    listeners().iter().any(|l| {
        l.port() == addr.port()
            && (l.ip() == addr.ip() || l.ip().is_unspecified() || l.ip() == IpAddr::V6(addr_v4_mapped(addr.ip())))
    })
}

fn addr_v4_mapped(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Whether a TCP connect to `addr` succeeds within `timeout`.
pub fn accepts_tcp(addr: SocketAddr, timeout: Duration) -> bool {
    TcpStream::connect_timeout(&addr, timeout).is_ok()
}

/// Polls `addr` every 50 ms until a TCP connect succeeds or `limit` passes. `alive` is asked
/// between attempts; returning `Err(reason)` stops the wait early (e.g. the server exited).
pub fn wait_for_tcp(
    addr: SocketAddr,
    limit: Duration,
    mut alive: impl FnMut() -> Result<(), String>,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        alive()?;
        if accepts_tcp(addr, Duration::from_millis(200)) {
            // The connect may have raced the server's exit; ask once more.
            alive()?;
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(format!("{addr} did not accept TCP within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
