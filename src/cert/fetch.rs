//! Bounded HTTP fetches for AIA caIssuers, OCSP and CRLs, through the target's connector
//! (`crate::net::http::fetch`): http/https URLs only, a time bound per fetch that never
//! outlasts the target's deadline, a redirect limit, a scope check on every hop, and a body size
//! cap enforced while streaming. Every fetch is counted on the target's tally and recorded with
//! its outcome.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::facts::FetchRecord;
use crate::net::http::{self, Limits, Method};
use crate::net::{Connector, NetError, Purpose};

/// Limits of every fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// Whole fetch: connect, request, redirects, body (and never past the target's deadline).
    pub timeout: Duration,
    /// Largest body accepted (bytes).
    pub max_bytes: usize,
    pub max_redirects: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        // CRLs of large CAs reach a few MB; OCSP responses and certificates are a few KB.
        FetchLimits { timeout: Duration::from_secs(10), max_bytes: 10 * 1024 * 1024, max_redirects: 3 }
    }
}

/// A fetcher shared by one target's analysis.
pub struct Fetcher {
    origin: Connector,
    limits: FetchLimits,
    count: AtomicU32,
}

impl Fetcher {
    /// Fetches on behalf of the target `origin` connects to; without one (a chain analysed
    /// outside a scan), a network of its own with no scope.
    pub fn new(limits: FetchLimits, origin: Option<&Connector>) -> Fetcher {
        let origin = match origin {
            Some(origin) => origin.for_purpose(Purpose::CertificateFetch),
            None => Connector::standalone(
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                limits.timeout,
                Instant::now() + limits.timeout * 8,
                2,
            ),
        };
        Fetcher { origin, limits, count: AtomicU32::new(0) }
    }

    /// Fetches made so far.
    pub fn count(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    pub async fn get(&self, url: &str) -> (FetchRecord, Option<Vec<u8>>) {
        self.fetch(url, Method::Get).await
    }

    pub async fn post(&self, url: &str, content_type: &'static str, body: Vec<u8>) -> (FetchRecord, Option<Vec<u8>>) {
        self.fetch(url, Method::Post { content_type, body }).await
    }

    async fn fetch(&self, url: &str, method: Method) -> (FetchRecord, Option<Vec<u8>>) {
        let failed = |error: String| (FetchRecord { url: url.to_string(), error: Some(error), bytes: 0 }, None);
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return failed("not an http or https URL: not fetched".into());
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let limits = Limits {
            max_body: self.limits.max_bytes,
            max_redirects: self.limits.max_redirects,
            read_body: true,
            request_timeout: Some(self.limits.timeout),
        };
        // Each request is bounded once its connection is open (the wait for the address's
        // permit behind other probes of the same server does not count); redirects are capped;
        // the whole never outlasts the target's deadline.
        let work = http::fetch(&self.origin, url, method, Purpose::CertificateFetch, limits);
        let timeout_text = || format!("timeout after {} ms", self.limits.timeout.as_millis());
        match tokio::time::timeout_at(self.origin.deadline, work).await {
            Err(_) | Ok(Err(http::HttpError::Net(NetError::Deadline))) => failed("target deadline exceeded".into()),
            Ok(Err(http::HttpError::Net(NetError::Timeout))) => failed(timeout_text()),
            Ok(Err(error)) => failed(error.to_string()),
            Ok(Ok(response)) if !(200..300).contains(&response.status) => {
                failed(format!("HTTP status {}", response.status))
            }
            Ok(Ok(response)) => {
                let bytes = response.body.len();
                (FetchRecord { url: url.to_string(), error: None, bytes }, Some(response.body))
            }
        }
    }
}
