//! Bounded DNS exchanges with one chosen server, over UDP or TCP.
//!
//! postura speaks to nameservers itself rather than through hickory-net's client: the probes
//! need RD off, CHAOS class, odd EDNS versions and flags, and answers that are kept even when
//! they are errors, and every exchange must end within the query timeout and the zone's
//! deadline with a reason. UDP sockets are connected, so the kernel drops datagrams from any
//! other source; answers with the wrong id are skipped (a few at most) until the time is up.
//! Every exchange first takes a permit for the server's address from the scan's `Network`, so the
//! per-address limit holds for nameservers as for every other connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use crate::dns::wire::{decode_answer, encode_query, rtype, Answer, DecodeFailure, Question, MAX_MESSAGE};

/// How a query ended without a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("deadline exceeded")]
    Deadline,
    #[error("connection refused")]
    Refused,
    #[error("connection closed before a complete answer")]
    Closed,
    #[error("network error: {0}")]
    Io(String),
    #[error("{0}")]
    Decode(DecodeFailure),
    #[error("query not sent: {0}")]
    BadQuery(String),
}

/// Which transport a query goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Sends queries within a per-query timeout and an overall deadline, and counts them.
#[derive(Debug, Clone)]
pub struct DnsClient {
    pub timeout: Duration,
    pub deadline: Instant,
    /// Queries sent by this client and every client scoped from it.
    sent: Arc<AtomicU32>,
    /// Queries sent through this scope only.
    scoped: Arc<AtomicU32>,
    /// The scan's network: per-address permits, and the connector of the MTA-STS fetch.
    network: crate::net::Network,
}

/// Datagrams with a wrong id tolerated per query before giving up on it.
const MAX_STRAY_DATAGRAMS: usize = 8;
/// Messages read from one AXFR stream at most.
const MAX_TRANSFER_MESSAGES: usize = 64;

impl DnsClient {
    /// A client with a network of its own (two exchanges at once per address, no scope).
    pub fn new(timeout: Duration, deadline: Instant) -> DnsClient {
        DnsClient::with_network(timeout, deadline, crate::net::Network::new(2, timeout, None))
    }

    /// A client on the scan's network.
    pub fn with_network(timeout: Duration, deadline: Instant, network: crate::net::Network) -> DnsClient {
        DnsClient { timeout, deadline, sent: Arc::new(AtomicU32::new(0)), scoped: Arc::new(AtomicU32::new(0)), network }
    }

    pub fn network(&self) -> &crate::net::Network {
        &self.network
    }

    /// Wait for the per-address permit of `server`, within the deadline.
    async fn permit(&self, server: SocketAddr) -> Result<crate::net::PermitGuard, QueryError> {
        self.network.dns_permit(server.ip(), self.deadline).await.map_err(|_| QueryError::Deadline)
    }

    /// A client sharing this one's limits and total, with its own count (one server's probes
    /// run beside others on the same zone).
    pub fn scope(&self) -> DnsClient {
        DnsClient { scoped: Arc::new(AtomicU32::new(0)), ..self.clone() }
    }

    /// Queries sent through this scope.
    pub fn scoped_queries(&self) -> u32 {
        self.scoped.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.scoped.fetch_add(1, Ordering::Relaxed);
    }

    /// Queries sent so far (every transport, every server).
    pub fn queries_sent(&self) -> u32 {
        self.sent.load(Ordering::Relaxed)
    }

    fn expiry(&self) -> Result<(Instant, bool), QueryError> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(QueryError::Deadline);
        }
        let natural = now + self.timeout;
        Ok(if natural > self.deadline { (self.deadline, true) } else { (natural, false) })
    }

    fn timed_out(&self, deadline_bound: bool) -> QueryError {
        if deadline_bound {
            QueryError::Deadline
        } else {
            QueryError::Timeout(self.timeout.as_millis() as u64)
        }
    }

    /// Ask `server` one question.
    pub async fn query(
        &self,
        server: SocketAddr,
        question: &Question,
        transport: Transport,
    ) -> Result<Answer, QueryError> {
        let id: u16 = rand::random();
        let bytes = encode_query(id, question).map_err(|e| QueryError::BadQuery(e.to_string()))?;
        let _permit = self.permit(server).await?;
        let (expires, deadline_bound) = self.expiry()?;
        self.count();
        let exchange = async {
            match transport {
                Transport::Udp => udp_exchange(server, &bytes, id, self.timeout / 2).await,
                Transport::Tcp => {
                    let mut stream = TcpStream::connect(server).await.map_err(io_error)?;
                    send_framed(&mut stream, &bytes).await?;
                    let reply = read_framed(&mut stream).await?;
                    decode_answer(&reply, id).map_err(QueryError::Decode)
                }
            }
        };
        match tokio::time::timeout_at(expires, exchange).await {
            Err(_) => Err(self.timed_out(deadline_bound)),
            Ok(result) => result,
        }
    }

    /// Ask for a zone transfer over TCP and read it (at most `MAX_TRANSFER_MESSAGES` messages):
    /// the answers in order, until the closing SOA, an error RCODE, or the end of the stream.
    pub async fn transfer(&self, server: SocketAddr, zone: &str) -> Result<Vec<Answer>, QueryError> {
        let id: u16 = rand::random();
        let question = Question::new(zone, rtype::AXFR).with_edns(None);
        let bytes = encode_query(id, &question).map_err(|e| QueryError::BadQuery(e.to_string()))?;
        let _permit = self.permit(server).await?;
        let (expires, deadline_bound) = self.expiry()?;
        self.count();
        let exchange = async {
            let mut stream = TcpStream::connect(server).await.map_err(io_error)?;
            send_framed(&mut stream, &bytes).await?;
            let mut answers: Vec<Answer> = Vec::new();
            let mut soa_seen = 0usize;
            while answers.len() < MAX_TRANSFER_MESSAGES {
                let reply = match read_framed(&mut stream).await {
                    Err(QueryError::Closed) if !answers.is_empty() => break,
                    other => other?,
                };
                let answer = decode_answer(&reply, id).map_err(QueryError::Decode)?;
                soa_seen += answer.message.answers.iter().filter(|r| u16::from(r.record_type()) == rtype::SOA).count();
                let stop = answer.rcode != 0 || answer.message.answers.is_empty() || soa_seen >= 2;
                answers.push(answer);
                if stop {
                    break;
                }
            }
            Ok(answers)
        };
        match tokio::time::timeout_at(expires, exchange).await {
            Err(_) => Err(self.timed_out(deadline_bound)),
            Ok(result) => result,
        }
    }
}

fn io_error(error: std::io::Error) -> QueryError {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => QueryError::Refused,
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => QueryError::Closed,
        _ => QueryError::Io(error.to_string()),
    }
}

/// One UDP question; sent again once after `retransmit_after` without an answer, as resolvers
/// do, because a datagram can be lost. The caller bounds the whole exchange.
async fn udp_exchange(
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    retransmit_after: Duration,
) -> Result<Answer, QueryError> {
    let local: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(local).await.map_err(io_error)?;
    socket.connect(server).await.map_err(io_error)?;
    socket.send(bytes).await.map_err(io_error)?;
    let mut buffer = vec![0u8; MAX_MESSAGE];
    let mut last_failure = None;
    let mut retransmitted = false;
    for _ in 0..MAX_STRAY_DATAGRAMS {
        let n = match tokio::time::timeout(retransmit_after, socket.recv(&mut buffer)).await {
            Ok(received) => received.map_err(io_error)?,
            Err(_) if !retransmitted => {
                retransmitted = true;
                socket.send(bytes).await.map_err(io_error)?;
                socket.recv(&mut buffer).await.map_err(io_error)?
            }
            Err(_) => socket.recv(&mut buffer).await.map_err(io_error)?,
        };
        match decode_answer(&buffer[..n], id) {
            Ok(answer) => return Ok(answer),
            // A late answer to an earlier query (or spoofing noise): wait for ours.
            Err(DecodeFailure::IdMismatch { .. }) => continue,
            Err(failure) => last_failure = Some(failure),
        }
        break;
    }
    Err(QueryError::Decode(last_failure.unwrap_or(DecodeFailure::Malformed("only answers with other ids".into()))))
}

async fn send_framed(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), QueryError> {
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&(bytes.len().min(MAX_MESSAGE) as u16).to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(io_error)
}

/// One length-prefixed message; the prefix itself caps its size at 65535 bytes.
async fn read_framed(stream: &mut TcpStream) -> Result<Vec<u8>, QueryError> {
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await.map_err(io_error)?;
    let length = u16::from_be_bytes(prefix) as usize;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.map_err(io_error)?;
    Ok(body)
}
