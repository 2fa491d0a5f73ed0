//! Polite, bounded connections to one target address.
//!
//! Every connection a probe opens goes through `Connector`: it waits for a per-address permit
//! (so postura never holds more than `--per-host` connections to one server, whichever targets
//! share that address), counts the connection, and bounds every step by the connection timeout
//! and by the target's overall deadline. Reads are capped in size by the callers.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Why a network step failed, recorded as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    Refused,
    ConnectTimeout,
    /// No (complete) answer within the connection timeout.
    Timeout,
    /// The target's overall deadline passed.
    Deadline,
    Reset,
    /// The peer closed the connection before answering.
    Closed,
    /// The answer exceeded the size cap.
    TooLarge,
    /// The peer answered with bytes that are not the expected protocol.
    Protocol(String),
    /// A mail server refused the STARTTLS upgrade (SMTP: not in the EHLO reply or a non-220
    /// answer; IMAP: a tagged NO/BAD; POP3: -ERR). `reply` is the server's answer, printable.
    StarttlsRefused { protocol: crate::starttls::Starttls, reply: String },
    Unreachable(String),
    Io(String),
}

impl NetError {
    /// Errors that mean the target itself is unusable (as opposed to one probe being refused).
    pub fn is_fatal_for_target(&self) -> bool {
        matches!(
            self,
            NetError::Refused
                | NetError::ConnectTimeout
                | NetError::Unreachable(_)
                | NetError::Deadline
                | NetError::StarttlsRefused { .. }
        )
    }

    /// The server refused the STARTTLS upgrade: the target's `starttls` fact is `false`.
    pub fn is_starttls_refusal(&self) -> bool {
        matches!(self, NetError::StarttlsRefused { .. })
    }

    fn from_io(error: std::io::Error, connecting: bool) -> NetError {
        use std::io::ErrorKind;
        match error.kind() {
            ErrorKind::ConnectionRefused => NetError::Refused,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => NetError::Reset,
            ErrorKind::UnexpectedEof => NetError::Closed,
            ErrorKind::TimedOut if connecting => NetError::ConnectTimeout,
            ErrorKind::TimedOut => NetError::Timeout,
            _ if connecting => NetError::Unreachable(error.to_string()),
            _ => NetError::Io(error.to_string()),
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Refused => f.write_str("connection refused"),
            NetError::ConnectTimeout => f.write_str("connect timeout"),
            NetError::Timeout => f.write_str("timeout waiting for the server"),
            NetError::Deadline => f.write_str("target deadline exceeded"),
            NetError::Reset => f.write_str("connection reset"),
            NetError::Closed => f.write_str("connection closed by the server"),
            NetError::TooLarge => f.write_str("answer too large"),
            NetError::Protocol(detail) => write!(f, "protocol error: {detail}"),
            NetError::StarttlsRefused { protocol, reply } => write!(f, "STARTTLS not offered ({protocol}: {reply})"),
            NetError::Unreachable(detail) => write!(f, "unreachable: {detail}"),
            NetError::Io(detail) => write!(f, "i/o error: {detail}"),
        }
    }
}

/// Per-address connection limits shared by every target of a scan.
#[derive(Debug)]
pub struct HostLimiter {
    per_host: usize,
    semaphores: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

impl HostLimiter {
    pub fn new(per_host: usize) -> Arc<HostLimiter> {
        Arc::new(HostLimiter { per_host: per_host.max(1), semaphores: Mutex::new(HashMap::new()) })
    }

    fn semaphore(&self, address: IpAddr) -> Arc<Semaphore> {
        let mut map = match self.semaphores.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(address).or_insert_with(|| Arc::new(Semaphore::new(self.per_host))).clone()
    }
}

/// Opens bounded connections to one target and counts them.
#[derive(Debug, Clone)]
pub struct Connector {
    pub address: SocketAddr,
    pub timeout: Duration,
    pub deadline: Instant,
    limiter: Arc<HostLimiter>,
    connections: Arc<AtomicU32>,
    /// A plaintext dialogue to run on every new connection before TLS (SMTP, IMAP, POP3).
    starttls: Option<crate::starttls::Starttls>,
}

/// An open connection holding its per-address permit until dropped.
pub struct Connection {
    pub stream: TcpStream,
    /// When this connection's time is up (connection timeout, clipped to the target deadline).
    pub expires: Instant,
    deadline_bound: bool,
    _permit: OwnedSemaphorePermit,
}

impl Connector {
    pub fn new(address: SocketAddr, timeout: Duration, deadline: Instant, limiter: Arc<HostLimiter>) -> Connector {
        Connector { address, timeout, deadline, limiter, connections: Arc::new(AtomicU32::new(0)), starttls: None }
    }

    /// Run this STARTTLS dialogue on every connection before handing it to the caller.
    pub fn with_starttls(mut self, starttls: Option<crate::starttls::Starttls>) -> Connector {
        self.starttls = starttls;
        self
    }

    pub fn connections(&self) -> u32 {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn deadline_passed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Wait for a permit, then connect within the time left.
    pub async fn connect(&self) -> Result<Connection, NetError> {
        let semaphore = self.limiter.semaphore(self.address.ip());
        let permit = tokio::time::timeout_at(self.deadline, semaphore.acquire_owned())
            .await
            .map_err(|_| NetError::Deadline)?
            .map_err(|_| NetError::Io("limiter closed".into()))?;
        let now = Instant::now();
        if now >= self.deadline {
            return Err(NetError::Deadline);
        }
        let natural = now + self.timeout;
        let (expires, deadline_bound) =
            if natural > self.deadline { (self.deadline, true) } else { (natural, false) };
        self.connections.fetch_add(1, Ordering::Relaxed);
        let stream = match tokio::time::timeout_at(expires, TcpStream::connect(self.address)).await {
            Err(_) if deadline_bound => return Err(NetError::Deadline),
            Err(_) => return Err(NetError::ConnectTimeout),
            Ok(Err(error)) => return Err(NetError::from_io(error, true)),
            Ok(Ok(stream)) => stream,
        };
        let _ = stream.set_nodelay(true);
        let mut connection = Connection { stream, expires, deadline_bound, _permit: permit };
        if let Some(protocol) = self.starttls {
            crate::starttls::upgrade(&mut connection, protocol).await?;
        }
        Ok(connection)
    }
}

/// Keeps a connection's per-address permit while a stream taken out of it is in use.
pub struct PermitGuard {
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Hand the stream to another protocol implementation (rustls), keeping the permit.
    pub fn into_parts(self) -> (TcpStream, Instant, bool, PermitGuard) {
        (self.stream, self.expires, self.deadline_bound, PermitGuard { _permit: self._permit })
    }

    fn timed_out(&self) -> NetError {
        if self.deadline_bound {
            NetError::Deadline
        } else {
            NetError::Timeout
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), NetError> {
        match tokio::time::timeout_at(self.expires, self.stream.write_all(bytes)).await {
            Err(_) => Err(self.timed_out()),
            Ok(Err(error)) => Err(NetError::from_io(error, false)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Append what arrives to `buffer`, never letting it grow past `cap`. `Ok(0)` is end of
    /// stream.
    pub async fn receive(&mut self, buffer: &mut Vec<u8>, cap: usize) -> Result<usize, NetError> {
        if buffer.len() >= cap {
            return Err(NetError::TooLarge);
        }
        let mut chunk = vec![0u8; (cap - buffer.len()).min(16 * 1024)];
        match tokio::time::timeout_at(self.expires, self.stream.read(&mut chunk)).await {
            Err(_) => Err(self.timed_out()),
            Ok(Err(error)) => Err(NetError::from_io(error, false)),
            Ok(Ok(n)) => {
                buffer.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
        }
    }
}
