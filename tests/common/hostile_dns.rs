//! A scripted DNS server that lists too much: for `ZONE` it refers every query to `ns_count`
//! nameservers (`ns0.ZONE.` … with glue pointing at itself) and answers MX queries for the zone
//! with `mx_count` exchanges (`mx0.ZONE.` …). Over UDP a large answer is only a truncated
//! header (TC), so the client asks again over TCP. No real server delegates to hundreds of
//! nameservers or lists hundreds of MX: it stands for a hostile zone testing postura's caps
//! (`docs/limits.md`). It listens on port 53 of its own 127/8 address (root: bind anywhere),
//! so that a root-hints file can name it as the root; it counts the queries it receives.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::net::alloc_addr;

pub struct ListingZoneServer {
    pub address: Ipv4Addr,
    pub queries: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn record(out: &mut Vec<u8>, owner: &str, rtype: u16, rdata: &[u8]) {
    encode_name(owner, out);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// A record answered authoritatively when asked for exactly: name, type, RDATA.
pub type Extra = (String, u16, Vec<u8>);

fn encoded(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_name(name, &mut out);
    out
}

/// A TXT RDATA of one string.
pub fn txt(text: &str) -> Vec<u8> {
    let mut out = vec![text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

/// The answer to `query` (None when it is not a query with one question).
fn answer(
    query: &[u8],
    zone: &str,
    (ns_count, mx_count): (usize, usize),
    extra: &[Extra],
    me: Ipv4Addr,
) -> Option<Vec<u8>> {
    if query.len() < 12 || query[4..6] != [0, 1] {
        return None;
    }
    let name_end = 12 + query[12..].iter().position(|b| *b == 0)? + 1;
    let question = query.get(12..name_end + 4)?;
    let qtype = u16::from_be_bytes([query[name_end], query[name_end + 1]]);
    let asks_zone = question[..name_end - 12].eq_ignore_ascii_case(&encoded(zone));
    let mut out = vec![query[0], query[1], 0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    out.extend_from_slice(question);
    let asked = &question[..name_end - 12];
    if let Some((name, rtype, rdata)) =
        extra.iter().find(|(name, rtype, _)| *rtype == qtype && encoded(name).eq_ignore_ascii_case(asked))
    {
        out[2] |= 0x04;
        out[7] = 1;
        record(&mut out, name, *rtype, rdata);
    } else if asks_zone && qtype == 15 {
        out[2] |= 0x04; // AA
        out[6..8].copy_from_slice(&(mx_count as u16).to_be_bytes());
        for i in 0..mx_count {
            let mut rdata = vec![0, (i % 200) as u8];
            encode_name(&format!("mx{i}.{zone}"), &mut rdata);
            record(&mut out, zone, 15, &rdata);
        }
    } else {
        out[8..10].copy_from_slice(&(ns_count as u16).to_be_bytes());
        out[10..12].copy_from_slice(&(ns_count as u16).to_be_bytes());
        for i in 0..ns_count {
            let mut rdata = Vec::new();
            encode_name(&format!("ns{i}.{zone}"), &mut rdata);
            record(&mut out, zone, 2, &rdata);
        }
        for i in 0..ns_count {
            record(&mut out, &format!("ns{i}.{zone}"), 1, &me.octets());
        }
    }
    Some(out)
}

impl ListingZoneServer {
    pub fn start(zone: &str, ns_count: usize, mx_count: usize) -> ListingZoneServer {
        Self::start_with(alloc_addr(), zone, ns_count, mx_count, Vec::new())
    }

    /// As `start` on `address`, also answering the `extra` records.
    pub fn start_with(
        address: Ipv4Addr,
        zone: &str,
        ns_count: usize,
        mx_count: usize,
        extra: Vec<Extra>,
    ) -> ListingZoneServer {
        let endpoint = SocketAddr::from((address, 53));
        let udp = UdpSocket::bind(endpoint).expect("harness: UDP port 53 (needs root)");
        udp.set_read_timeout(Some(Duration::from_millis(20))).expect("harness: timeout");
        let tcp = TcpListener::bind(endpoint).expect("harness: TCP port 53 (needs root)");
        tcp.set_nonblocking(true).expect("harness: nonblocking");
        let (stop, queries) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU32::new(0)));
        let zone = zone.to_string();
        let extra = Arc::new(extra);
        let (s1, q1, z1, e1) = (stop.clone(), queries.clone(), zone.clone(), extra.clone());
        let udp_thread = std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while !s1.load(Ordering::SeqCst) {
                if let Ok((n, peer)) = udp.recv_from(&mut buffer) {
                    q1.fetch_add(1, Ordering::SeqCst);
                    if let Some(mut reply) = answer(&buffer[..n], &z1, (ns_count, mx_count), &e1, address) {
                        if reply.len() > 512 {
                            // Header and question only, TC set, no records.
                            let question_end = 12 + buffer[12..n].iter().position(|b| *b == 0).unwrap_or(0) + 1 + 4;
                            reply.truncate(question_end);
                            reply[2] |= 0x02;
                            reply[6..12].fill(0);
                        }
                        let _ = udp.send_to(&reply, peer);
                    }
                }
            }
        });
        let (s2, q2) = (stop.clone(), queries.clone());
        let tcp_thread = std::thread::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = tcp.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut prefix = [0u8; 2];
                while stream.read_exact(&mut prefix).is_ok() {
                    let mut query = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
                    if stream.read_exact(&mut query).is_err() {
                        break;
                    }
                    q2.fetch_add(1, Ordering::SeqCst);
                    let Some(reply) = answer(&query, &zone, (ns_count, mx_count), &extra, address) else { break };
                    let _ = stream.write_all(&(reply.len() as u16).to_be_bytes());
                    let _ = stream.write_all(&reply);
                }
            }
        });
        ListingZoneServer { address, queries, stop, threads: vec![udp_thread, tcp_thread] }
    }

    /// A named.root-style hints file naming this server as the only root.
    pub fn hints(&self) -> String {
        format!(".  3600000 NS a.root-servers.lab.\na.root-servers.lab. 3600000 A {}\n", self.address)
    }
}

impl Drop for ListingZoneServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
