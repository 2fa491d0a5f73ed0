//! Bounded HTTP fetches for AIA caIssuers, OCSP and CRLs: http/https URLs only, a deadline per
//! fetch covering connect, redirects and body, a redirect limit, and a body size cap enforced while
//! streaming (a server announcing or sending more is cut off). Every fetch is counted and
//! recorded with its outcome.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::facts::FetchRecord;

/// Limits of every fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// Whole fetch: connect, request, redirects, body.
    pub timeout: Duration,
    /// Largest body accepted (bytes).
    pub max_bytes: usize,
    pub max_redirects: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        // CRLs of large CAs reach a few MB; OCSP responses and certificates are a few KB.
        FetchLimits {
            timeout: Duration::from_secs(10),
            max_bytes: 10 * 1024 * 1024,
            max_redirects: 3,
        }
    }
}

/// A fetcher shared by one target's analysis.
pub struct Fetcher {
    client: Option<reqwest::Client>,
    client_error: Option<String>,
    limits: FetchLimits,
    count: AtomicU32,
}

impl Fetcher {
    pub fn new(limits: FetchLimits) -> Fetcher {
        let built = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(limits.max_redirects))
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .no_proxy()
            .user_agent(concat!("postura/", env!("CARGO_PKG_VERSION")))
            .build();
        match built {
            Ok(client) => Fetcher {
                client: Some(client),
                client_error: None,
                limits,
                count: AtomicU32::new(0),
            },
            Err(error) => Fetcher {
                client: None,
                client_error: Some(error.to_string()),
                limits,
                count: AtomicU32::new(0),
            },
        }
    }

    /// Fetches made so far.
    pub fn count(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    pub async fn get(&self, url: &str) -> (FetchRecord, Option<Vec<u8>>) {
        self.fetch(url, None).await
    }

    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (FetchRecord, Option<Vec<u8>>) {
        self.fetch(url, Some((content_type, body))).await
    }

    async fn fetch(
        &self,
        url: &str,
        post: Option<(&str, Vec<u8>)>,
    ) -> (FetchRecord, Option<Vec<u8>>) {
        let failed = |error: String| {
            (
                FetchRecord {
                    url: url.to_string(),
                    error: Some(error),
                    bytes: 0,
                },
                None,
            )
        };
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return failed("not an http or https URL: not fetched".into());
        }
        let Some(client) = &self.client else {
            return failed(format!(
                "no HTTP client: {}",
                self.client_error.clone().unwrap_or_default()
            ));
        };
        self.count.fetch_add(1, Ordering::Relaxed);
        let request = match post {
            Some((content_type, body)) => client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
            None => client.get(url),
        };
        let limits = self.limits;
        let work = async {
            let mut response = request.send().await.map_err(|e| describe(&e, limits))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("HTTP status {}", status.as_u16()));
            }
            if response
                .content_length()
                .is_some_and(|length| length > limits.max_bytes as u64)
            {
                return Err(format!(
                    "body too large: {} bytes announced, limit {}",
                    response.content_length().unwrap_or_default(),
                    limits.max_bytes
                ));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e, limits))? {
                if body.len() + chunk.len() > limits.max_bytes {
                    return Err(format!(
                        "body too large: over the {} byte limit",
                        limits.max_bytes
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        match tokio::time::timeout(limits.timeout, work).await {
            Err(_) => failed(format!("timeout after {} ms", limits.timeout.as_millis())),
            Ok(Err(error)) => failed(error),
            Ok(Ok(body)) => (
                FetchRecord {
                    url: url.to_string(),
                    error: None,
                    bytes: body.len(),
                },
                Some(body),
            ),
        }
    }
}

fn describe(error: &reqwest::Error, limits: FetchLimits) -> String {
    if error.is_redirect() {
        format!("too many redirects (limit {})", limits.max_redirects)
    } else if error.is_timeout() {
        format!("timeout after {} ms", limits.timeout.as_millis())
    } else if error.is_connect() {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            text = format!("{text}: {inner}");
            source = inner.source();
        }
        format!("connect failed: {text}")
    } else {
        error.to_string()
    }
}
