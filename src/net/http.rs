//! HTTP/1.1 over the scan's connector: the HTTP probe of https endpoints, the certificate
//! fetches (AIA caIssuers, OCSP, CRL) and the MTA-STS policy all send their requests here, so
//! each is counted on its target's tally, holds a per-address permit, is bounded by the
//! connection timeout and the target's deadline, and never goes through a proxy (proxy
//! variables are not read at all). hyper speaks the protocol; postura owns the sockets.
//!
//! Caps on what a peer controls: the response head (`MAX_HEAD_BYTES`, hyper's buffer limit,
//! and hyper's 100 header fields), the body (`Limits::max_body`, enforced while streaming), and
//! redirects (`Limits::max_redirects`, each hop re-checked against the scope).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::time::Instant;

use super::{Connector, NetError, Purpose};

/// hyper's read buffer: the status line and headers must fit in it.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Bounds of one request (and its redirects).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body read (bytes); a server sending more is cut off with `TooLarge`.
    pub max_body: usize,
    /// Redirects followed by `fetch` (0: none).
    pub max_redirects: usize,
    /// Read the body at all (the HTTP probe only needs the head).
    pub read_body: bool,
    /// Time for one request once its connection is open (None: the connection timeout). The
    /// wait for the address's permit is not counted: politeness is not the server's slowness.
    pub request_timeout: Option<std::time::Duration>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header fields, names lower case, values lossily decoded.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The URL that answered (after redirects).
    pub url: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why a request failed, recorded as data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("not an http or https URL: {0}")]
    BadUrl(String),
    #[error("{0}")]
    Net(NetError),
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("{host} ({address}) is outside the scope: not contacted")]
    OutOfScope { host: String, address: IpAddr },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP: {0}")]
    Protocol(String),
    #[error("body too large: over the {0} byte limit")]
    TooLarge(usize),
    #[error("too many redirects (limit {0})")]
    TooManyRedirects(usize),
    #[error("redirect without a usable Location")]
    BadRedirect,
}

impl HttpError {
    /// The connection itself was refused (nothing listens).
    pub fn is_refused(&self) -> bool {
        matches!(self, HttpError::Net(NetError::Refused))
    }
}

/// A method and an optional body with its content type.
#[derive(Debug, Clone)]
pub enum Method {
    Get,
    /// A GET with extra request header fields (the HTTP probe's Accept-Encoding).
    GetWith(&'static [(&'static str, &'static str)]),
    Post {
        content_type: &'static str,
        body: Vec<u8>,
    },
}

/// One request to `url` at the address of `connector` (no resolution, no redirects): the HTTP
/// probe of a scanned endpoint, the MTA-STS policy at the address DNS gave.
pub async fn request(
    connector: &Connector,
    url: &url::Url,
    method: &Method,
    limits: Limits,
) -> Result<Response, HttpError> {
    let host = url.host_str().ok_or_else(|| HttpError::BadUrl(url.to_string()))?.to_string();
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(HttpError::BadUrl(url.to_string())),
    };
    let connection = connector.connect().await.map_err(HttpError::Net)?;
    let (stream, expires, deadline_bound, permit) = connection.into_parts();
    let (expires, deadline_bound) = match limits.request_timeout.map(|t| Instant::now() + t) {
        Some(own) if own < expires => (own, false),
        _ => (expires, deadline_bound),
    };
    let timed_out = || HttpError::Net(if deadline_bound { NetError::Deadline } else { NetError::Timeout });
    let exchange = async {
        if https {
            let name = tls_name(&host)?;
            let stream = tokio_rustls::TlsConnector::from(accept_any_config())
                .connect(name, stream)
                .await
                .map_err(|e| HttpError::Tls(e.to_string()))?;
            exchange(stream, url, &host, method, limits, permit).await
        } else {
            exchange(stream, url, &host, method, limits, permit).await
        }
    };
    match tokio::time::timeout_at(expires, exchange).await {
        Err(_) => Err(timed_out()),
        Ok(result) => result.map(|mut response| {
            response.url = url.to_string();
            response
        }),
    }
}

/// Fetch a URL found in what a target sent (a certificate's AIA, OCSP or CRL URL): resolve its
/// host (bounded by the target's deadline), contact it only inside the scope, follow redirects
/// up to the limit, each hop checked again. Counted on `origin`'s tally under `purpose`.
pub async fn fetch(
    origin: &Connector,
    url: &str,
    method: Method,
    purpose: Purpose,
    limits: Limits,
) -> Result<Response, HttpError> {
    let mut url = url::Url::parse(url).map_err(|_| HttpError::BadUrl(url.to_string()))?;
    let mut method = method;
    for _ in 0..=limits.max_redirects {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::BadUrl(url.to_string()));
        }
        let host = url.host_str().ok_or_else(|| HttpError::BadUrl(url.to_string()))?.to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let address = resolve(&host, port, origin.deadline).await?;
        let connector = origin
            .discovered(&host, address, purpose)
            .ok_or(HttpError::OutOfScope { host: host.clone(), address: address.ip() })?;
        let response = request(&connector, &url, &method, limits).await?;
        if !(300..400).contains(&response.status) || response.status == 304 {
            return Ok(response);
        }
        let location = response.header("location").ok_or(HttpError::BadRedirect)?;
        url = url.join(location).map_err(|_| HttpError::BadRedirect)?;
        // 303 turns a POST into a GET; 307/308 keep it; 301/302 do in practice too for OCSP.
        if response.status == 303 {
            method = Method::Get;
        }
    }
    Err(HttpError::TooManyRedirects(limits.max_redirects))
}

/// The address of a URL's host: an IP literal as is, a name through the system resolver,
/// bounded by `until`.
async fn resolve(host: &str, port: u16, until: Instant) -> Result<SocketAddr, HttpError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let failed = |reason: String| HttpError::Resolve { host: host.to_string(), reason };
    match tokio::time::timeout_at(until, tokio::net::lookup_host((bare, port))).await {
        Err(_) => Err(HttpError::Net(NetError::Deadline)),
        Ok(Err(error)) => Err(failed(error.to_string())),
        Ok(Ok(mut found)) => found.next().ok_or_else(|| failed("no address".into())),
    }
}

fn tls_name(host: &str) -> Result<ServerName<'static>, HttpError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(bare.to_string()).map_err(|e| HttpError::Tls(format!("bad host name: {e}")))
}

/// Any chain is accepted: these requests read facts (headers, a policy, a signed OCSP answer or
/// CRL whose signatures are checked separately); the certificate stage judges chains.
fn accept_any_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(crate::tls::rustls_probe::RecordingVerifier::new(&provider));
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| rustls::ClientConfig::builder_with_protocol_versions(rustls::DEFAULT_VERSIONS));
    let mut config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

async fn exchange<S>(
    stream: S,
    url: &url::Url,
    host: &str,
    method: &Method,
    limits: Limits,
    permit: super::PermitGuard,
) -> Result<Response, HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES)
        .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Protocol(e.to_string()))?;
    // The connection task owns the socket and its permit; it ends when this exchange ends.
    let driver = tokio::spawn(async move {
        let _permit = permit;
        let _ = connection.await;
    });
    let _abort = AbortOnDrop(driver);

    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let builder = hyper::Request::builder()
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, concat!("postura/", env!("CARGO_PKG_VERSION")))
        .header(hyper::header::CONNECTION, "close");
    let request = match method {
        Method::Get => builder.method(hyper::Method::GET).body(Full::new(Bytes::new())),
        Method::GetWith(fields) => fields
            .iter()
            .fold(builder, |builder, (name, value)| builder.header(*name, *value))
            .method(hyper::Method::GET)
            .body(Full::new(Bytes::new())),
        Method::Post { content_type, body } => builder
            .method(hyper::Method::POST)
            .header(hyper::header::CONTENT_TYPE, *content_type)
            .body(Full::new(Bytes::from(body.clone()))),
    }
    .map_err(|e| HttpError::Protocol(e.to_string()))?;
    let response = sender.send_request(request).await.map_err(|e| HttpError::Protocol(describe(&e)))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let mut body = Vec::new();
    if limits.read_body {
        if response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|length| length > limits.max_body as u64)
        {
            return Err(HttpError::TooLarge(limits.max_body));
        }
        let mut incoming = response.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| HttpError::Protocol(describe(&e)))?;
            if let Some(chunk) = frame.data_ref() {
                if body.len() + chunk.len() > limits.max_body {
                    return Err(HttpError::TooLarge(limits.max_body));
                }
                body.extend_from_slice(chunk);
            }
        }
    }
    Ok(Response { status, headers, body, url: String::new() })
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn describe(error: &hyper::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
