//! The one connection path of a scan: polite, bounded, counted connections.
//!
//! Every connection postura opens goes through here: the TLS sweep and STARTTLS (`Connector`),
//! the HTTP probe and the certificate and MTA-STS fetches (`http`, over a `Connector`), and DNS
//! over UDP and TCP (`Network::dns_permit`). A scan has one `Network`: the per-address limit
//! (never more than `--per-host` connections at once to one address, whichever targets, zones
//! or fetches share it) and the scope of discovered destinations live there. A target has one
//! `Connections` tally shared by every connector made for it, so its connection count includes
//! its HTTP probe and certificate fetches. Every step is bounded by the connection timeout and
//! by the target's overall deadline; reads are capped in size by the callers.

pub mod http;

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
    /// The target's connection ceiling (`--max-connections`) is reached: no more connections.
    Ceiling(u32),
    /// The peer answered with bytes that are not the expected protocol.
    Protocol(String),
    /// The server refused the STARTTLS upgrade (SMTP: not in the EHLO reply or a non-220
    /// answer; IMAP: a tagged NO/BAD; POP3: -ERR; each protocol's refusals are listed in
    /// `crate::starttls`). `reply` is the server's answer, printable.
    StarttlsRefused {
        protocol: crate::starttls::Starttls,
        reply: String,
    },
    Unreachable(String),
    Io(String),
    /// The ServerHello chose a suite that was not offered (`tls::hello::classify`).
    SuiteNotOffered(u16),
    /// The peer's answers cannot come from a real server (it accepts whatever it is offered):
    /// probing it further would only cost connections (`tls::plausibility`).
    Implausible(String),
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
                | NetError::Ceiling(_)
                | NetError::StarttlsRefused { .. }
                | NetError::Implausible(_)
        )
    }

    /// The server refused the STARTTLS upgrade: the target's `starttls` fact is `false`.
    pub fn is_starttls_refusal(&self) -> bool {
        matches!(self, NetError::StarttlsRefused { .. })
    }

    /// For a STARTTLS service: `Some(false)` when this error says the upgrade is not offered,
    /// None when it says nothing about it.
    pub fn starttls_offered(&self) -> Option<bool> {
        self.is_starttls_refusal().then_some(false)
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
            NetError::Ceiling(limit) => write!(f, "per-target connection ceiling reached ({limit} connections)"),
            NetError::Protocol(detail) => write!(f, "protocol error: {detail}"),
            NetError::StarttlsRefused { protocol, reply } => write!(f, "STARTTLS not offered ({protocol}: {reply})"),
            NetError::Unreachable(detail) => write!(f, "unreachable: {detail}"),
            NetError::Io(detail) => write!(f, "i/o error: {detail}"),
            NetError::SuiteNotOffered(suite) => write!(
                f,
                "protocol error: server chose suite 0x{suite:04X} ({}), which was not offered",
                crate::tls::registry::registry().name(u32::from(*suite))
            ),
            NetError::Implausible(detail) => write!(f, "implausible TLS server: {detail}"),
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

    async fn acquire(&self, address: IpAddr, until: Instant) -> Result<OwnedSemaphorePermit, NetError> {
        tokio::time::timeout_at(until, self.semaphore(address).acquire_owned())
            .await
            .map_err(|_| NetError::Deadline)?
            .map_err(|_| NetError::Io("limiter closed".into()))
    }
}

/// What a connection was opened for, for the per-target tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The TLS sweep (STARTTLS included) and the rustls handshake.
    Tls,
    /// The HTTP probe of an https endpoint.
    Http,
    /// AIA caIssuers, OCSP and CRL fetches of the certificate analysis.
    CertificateFetch,
    /// The MTA-STS policy fetch of a zone.
    MtaSts,
}

/// Connections opened on behalf of one target (or zone), by purpose. Shared by every
/// connector made for it.
#[derive(Debug, Default)]
pub struct Connections {
    tls: AtomicU32,
    http: AtomicU32,
    certificate: AtomicU32,
    mta_sts: AtomicU32,
    /// Destinations not contacted because they are outside the scope (the first
    /// `MAX_OUT_OF_SCOPE_RECORDS`; `refused_out_of_scope` counts them all).
    refused_out_of_scope: AtomicU32,
    out_of_scope: Mutex<Vec<OutOfScope>>,
    /// Every connection opened, whatever its purpose: what the ceiling is checked against.
    opened: AtomicU32,
}

/// Out-of-scope destinations recorded per target; the count goes on past it.
pub const MAX_OUT_OF_SCOPE_RECORDS: usize = 16;

/// Connections per target unless `--max-connections` says otherwise: above what any real server
/// needs (the legacy lab server with every protocol and suite takes about 130), far below what a
/// server lying about every suite would cost.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 500;

/// A destination found while assessing a target (a certificate's OCSP, CRL or AIA URL, a
/// redirect, the MTA-STS host) that was not contacted because the scope does not include it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct OutOfScope {
    pub name: String,
    pub address: String,
    /// Why it was to be contacted: `certificate` (AIA, OCSP, CRL), `http`, `mta-sts`.
    pub purpose: String,
    /// Which rule refused it.
    pub reason: String,
}

/// Where discovered destinations may go, beyond the declared targets themselves.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryPolicy {
    /// The profile's scope (None: a command-line scan without a profile, which restricts only
    /// what `allow_discovered` says).
    pub scope: Option<Arc<crate::profile::Scope>>,
    /// `--allow-discovered` / profile `scope.allow_discovered`: contact discovered destinations
    /// wherever they are.
    pub allow_discovered: bool,
}

impl DiscoveryPolicy {
    /// Why `name` at `address` may not be contacted, or None when it may. With a profile, a
    /// discovered name must be under the scope's names and its address in the scope's networks;
    /// with no networks declared, special-purpose addresses (private, loopback, link-local,
    /// multicast…, the IANA registries) are refused.
    pub fn refusal(&self, name: &str, address: IpAddr) -> Option<&'static str> {
        let scope = self.scope.as_ref().filter(|_| !self.allow_discovered)?;
        let is_literal = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok();
        if !is_literal && !scope.allows_name(name.trim_end_matches('.')) {
            return Some("name outside the scope's names");
        }
        if !scope.networks.is_empty() {
            return (!scope.allows_address(address)).then_some("address outside the scope's networks");
        }
        match crate::dns::special::special_range(address) {
            Some((_, false)) => Some("special-purpose address"),
            _ => None,
        }
    }
}

/// The JSON form of a target's tally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ConnectionCounts {
    /// Every TCP connection opened for the target.
    pub total: u32,
    /// TLS sweep, STARTTLS and the TLS 1.3 handshake.
    pub tls: u32,
    /// HTTP probe (https answer and the http:// redirect).
    pub http: u32,
    /// AIA, OCSP and CRL fetches.
    pub certificate: u32,
}

impl Purpose {
    pub const fn name(self) -> &'static str {
        match self {
            Purpose::Tls => "tls",
            Purpose::Http => "http",
            Purpose::CertificateFetch => "certificate",
            Purpose::MtaSts => "mta-sts",
        }
    }
}

impl Connections {
    fn counter(&self, purpose: Purpose) -> &AtomicU32 {
        match purpose {
            Purpose::Tls => &self.tls,
            Purpose::Http => &self.http,
            Purpose::CertificateFetch => &self.certificate,
            Purpose::MtaSts => &self.mta_sts,
        }
    }

    pub fn count(&self, purpose: Purpose) -> u32 {
        self.counter(purpose).load(Ordering::Relaxed)
    }

    pub fn counts(&self) -> ConnectionCounts {
        let (tls, http, certificate) =
            (self.count(Purpose::Tls), self.count(Purpose::Http), self.count(Purpose::CertificateFetch));
        ConnectionCounts { total: tls + http + certificate + self.count(Purpose::MtaSts), tls, http, certificate }
    }

    pub fn refused_out_of_scope(&self) -> u32 {
        self.refused_out_of_scope.load(Ordering::Relaxed)
    }

    /// The destinations refused for being out of scope (the first ones).
    pub fn out_of_scope(&self) -> Vec<OutOfScope> {
        match self.out_of_scope.lock() {
            Ok(list) => list.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Count one more connection for `purpose` unless `ceiling` connections were opened
    /// already (atomically, so concurrent probes cannot pass it together).
    fn try_open(&self, purpose: Purpose, ceiling: u32) -> bool {
        let counted = self.opened.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < ceiling).then_some(n + 1));
        if counted.is_ok() {
            self.counter(purpose).fetch_add(1, Ordering::Relaxed);
        }
        counted.is_ok()
    }

    fn refuse(&self, record: OutOfScope) {
        self.refused_out_of_scope.fetch_add(1, Ordering::Relaxed);
        let mut list = match self.out_of_scope.lock() {
            Ok(list) => list,
            Err(poisoned) => poisoned.into_inner(),
        };
        if list.len() < MAX_OUT_OF_SCOPE_RECORDS && !list.contains(&record) {
            list.push(record);
        }
    }
}

/// What every connection of one scan shares: the per-address limit, the connection timeout and
/// the scope that discovered destinations must be in.
#[derive(Debug, Clone)]
pub struct Network {
    limiter: Arc<HostLimiter>,
    pub timeout: Duration,
    discovery: Arc<DiscoveryPolicy>,
    /// Connections allowed per target (its whole tally).
    max_connections: u32,
}

impl Network {
    pub fn new(per_host: usize, timeout: Duration, scope: Option<Arc<crate::profile::Scope>>) -> Network {
        let discovery = DiscoveryPolicy { scope, allow_discovered: false };
        Network {
            limiter: HostLimiter::new(per_host),
            timeout,
            discovery: Arc::new(discovery),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// The same network with this discovery policy and per-target connection ceiling.
    pub fn with_limits(mut self, discovery: DiscoveryPolicy, max_connections: u32) -> Network {
        self.discovery = Arc::new(discovery);
        self.max_connections = max_connections.max(1);
        self
    }

    /// A connector to a declared target at `address`, with its own tally and deadline.
    pub fn connector(&self, address: SocketAddr, deadline: Instant) -> Connector {
        Connector {
            address,
            timeout: self.timeout,
            deadline,
            limiter: self.limiter.clone(),
            tally: Arc::new(Connections::default()),
            purpose: Purpose::Tls,
            starttls: None,
            starttls_domain: None,
            discovery: self.discovery.clone(),
            max_connections: self.max_connections,
        }
    }

    /// Wait (until `until`) for a permit to talk to `address`: DNS queries take one per
    /// exchange, so the per-address limit holds for nameservers as for TLS servers.
    pub async fn dns_permit(&self, address: IpAddr, until: Instant) -> Result<PermitGuard, NetError> {
        let permit = self.limiter.acquire(address, until).await?;
        Ok(PermitGuard { _permit: permit })
    }
}

/// Opens bounded connections to one destination and counts them on its target's tally.
#[derive(Debug, Clone)]
pub struct Connector {
    pub address: SocketAddr,
    pub timeout: Duration,
    pub deadline: Instant,
    limiter: Arc<HostLimiter>,
    tally: Arc<Connections>,
    purpose: Purpose,
    /// A plaintext dialogue to run on every new connection before TLS (SMTP, IMAP, POP3, …).
    starttls: Option<crate::starttls::Starttls>,
    /// The name that dialogue addresses (XMPP's stream `to`).
    starttls_domain: Option<Arc<str>>,
    discovery: Arc<DiscoveryPolicy>,
    max_connections: u32,
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
    /// A connector of its own network (per-address limit `per_host`): for tools and tests that
    /// talk to one server outside a scan.
    pub fn standalone(address: SocketAddr, timeout: Duration, deadline: Instant, per_host: usize) -> Connector {
        Network::new(per_host, timeout, None).connector(address, deadline)
    }

    /// A connector for another purpose on behalf of the same target (same tally, deadline and
    /// limits), e.g. the HTTP probe of a swept endpoint.
    pub fn for_purpose(&self, purpose: Purpose) -> Connector {
        Connector { purpose, starttls: None, ..self.clone() }
    }

    /// A connector to a destination discovered while assessing this target (OCSP responder,
    /// CRL or AIA host, redirect), counted on the same tally, within the same deadline. `None`
    /// when the discovery policy refuses `name` at `address`: such a destination is not
    /// contacted, and is recorded on the tally (`Connections::out_of_scope`).
    pub fn discovered(&self, name: &str, address: SocketAddr, purpose: Purpose) -> Option<Connector> {
        if let Some(reason) = self.discovery.refusal(name, address.ip()) {
            self.tally.refuse(OutOfScope {
                name: name.to_string(),
                address: address.ip().to_string(),
                purpose: purpose.name().into(),
                reason: reason.into(),
            });
            return None;
        }
        Some(Connector { address, purpose, starttls: None, ..self.clone() })
    }

    /// The tally of the target this connector works for.
    pub fn tally(&self) -> &Arc<Connections> {
        &self.tally
    }

    /// Run this STARTTLS dialogue on every connection before handing it to the caller.
    pub fn with_starttls(mut self, starttls: Option<crate::starttls::Starttls>) -> Connector {
        self.starttls = starttls;
        self
    }

    /// The name the STARTTLS dialogue addresses: an XMPP stream's `to` (without one, the
    /// stream names no domain).
    pub fn with_starttls_domain(mut self, domain: Option<&str>) -> Connector {
        self.starttls_domain = domain.map(Arc::from);
        self
    }

    /// Connections opened for this connector's purpose on behalf of its target.
    pub fn connections(&self) -> u32 {
        self.tally.count(self.purpose)
    }

    pub fn deadline_passed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Wait for a permit, then connect within the time left.
    pub async fn connect(&self) -> Result<Connection, NetError> {
        let permit = self.limiter.acquire(self.address.ip(), self.deadline).await?;
        let now = Instant::now();
        if now >= self.deadline {
            return Err(NetError::Deadline);
        }
        let natural = now + self.timeout;
        let (expires, deadline_bound) = if natural > self.deadline { (self.deadline, true) } else { (natural, false) };
        if !self.tally.try_open(self.purpose, self.max_connections) {
            return Err(NetError::Ceiling(self.max_connections));
        }
        let stream = match tokio::time::timeout_at(expires, TcpStream::connect(self.address)).await {
            Err(_) if deadline_bound => return Err(NetError::Deadline),
            Err(_) => return Err(NetError::ConnectTimeout),
            Ok(Err(error)) => return Err(NetError::from_io(error, true)),
            Ok(Ok(stream)) => stream,
        };
        let _ = stream.set_nodelay(true);
        let mut connection = Connection { stream, expires, deadline_bound, _permit: permit };
        if let Some(protocol) = self.starttls {
            crate::starttls::upgrade(&mut connection, protocol, self.starttls_domain.as_deref()).await?;
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
