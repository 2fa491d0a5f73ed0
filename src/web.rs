//! The HTTP probe for `https` endpoints: the Strict-Transport-Security header of the HTTPS
//! answer, whether that answer is HTTP-compressed when a browser's `Accept-Encoding` is sent
//! (BREACH exposure), and whether plain `http://` on port 80 redirects to `https://`. Two requests, both to
//! the endpoint's scanned address through the scan's connector (counted, per-address limited,
//! bounded in time, never through a proxy); bodies are not read. The certificate is not
//! judged here (the certificate stage does that), so any chain is accepted.

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::net::http::{self, Limits, Method};
use crate::net::{Connector, Purpose};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct HttpFacts {
    pub https: Option<HttpsAnswer>,
    pub redirect: Option<RedirectAnswer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HttpsAnswer {
    /// The URL requested.
    pub url: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// The Strict-Transport-Security header, parsed (null when absent).
    pub hsts: Option<Hsts>,
    /// The Content-Encoding of the answer to a request sent with `Accept-Encoding: gzip,
    /// deflate, br` (null when the answer is not encoded or there was no answer).
    #[serde(default)]
    pub content_encoding: Option<String>,
    /// The answer is HTTP-compressed (gzip, deflate, br, compress, zstd): the page is exposed to
    /// BREACH when it reflects input next to a secret. Null when there was no answer.
    #[serde(default)]
    pub compressed: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Hsts {
    pub raw: String,
    /// max-age in seconds (null when missing or unparsable).
    pub max_age: Option<u64>,
    pub include_subdomains: bool,
    pub preload: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RedirectAnswer {
    pub url: String,
    /// Something answered on port 80 (false: connection refused; null: unknown, e.g. timeout).
    pub listening: Option<bool>,
    pub status: Option<u16>,
    pub location: Option<String>,
    /// The answer is a redirect (301/302/303/307/308) to an https:// URL.
    pub to_https: bool,
    pub error: Option<String>,
}

/// Parse a Strict-Transport-Security value (RFC 6797 §6.1): directives are case-insensitive,
/// max-age may be quoted.
pub fn parse_hsts(raw: &str) -> Hsts {
    let mut max_age = None;
    let mut include_subdomains = false;
    let mut preload = false;
    for directive in raw.split(';') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        match name.to_ascii_lowercase().as_str() {
            "max-age" => max_age = value.and_then(|v| v.parse::<u64>().ok()),
            "includesubdomains" => include_subdomains = true,
            "preload" => preload = true,
            _ => {}
        }
    }
    Hsts { raw: raw.to_string(), max_age, include_subdomains, preload }
}

fn host_for_url(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// What a current browser offers; the answer's Content-Encoding tells whether the page is
/// compressed (BREACH, CVE-2013-3587).
const BROWSER_ENCODINGS: &[(&str, &str)] = &[("accept-encoding", "gzip, deflate, br")];

/// Content codings that compress (RFC 9110 §8.4.1 and the IANA registry); `identity` and
/// unknown codings do not count.
fn is_compressing(coding: &str) -> bool {
    matches!(
        coding.trim().to_ascii_lowercase().as_str(),
        "gzip" | "x-gzip" | "deflate" | "br" | "compress" | "x-compress" | "zstd"
    )
}

/// The head is all the probe reads.
const HEAD_ONLY: Limits = Limits { max_body: 0, max_redirects: 0, read_body: false, request_timeout: None };

/// Probe the https endpoint `host` that `connector` reaches (its address and port), then
/// `http://host/` on port 80 of the same address. Both requests go through the connector, on
/// the target's tally, as `Purpose::Http`.
pub async fn probe(connector: &Connector, host: &str) -> HttpFacts {
    let connector = connector.for_purpose(Purpose::Http);
    let address = connector.address;
    let url_host = host_for_url(host);
    let https_url = if address.port() == 443 {
        format!("https://{url_host}/")
    } else {
        format!("https://{url_host}:{}/", address.port())
    };
    let https = match parse_url(&https_url) {
        Err(error) => HttpsAnswer::failed(https_url, error),
        Ok(url) => match http::request(&connector, &url, &Method::GetWith(BROWSER_ENCODINGS), HEAD_ONLY).await {
            Ok(response) => {
                let hsts = response.header("strict-transport-security").map(parse_hsts);
                let content_encoding = response.header("content-encoding").map(|v| v.trim().to_string());
                let compressed = content_encoding.as_deref().is_some_and(|v| v.split(',').any(is_compressing));
                HttpsAnswer {
                    url: https_url,
                    status: Some(response.status),
                    error: None,
                    hsts,
                    content_encoding,
                    compressed: Some(compressed),
                }
            }
            Err(error) => HttpsAnswer::failed(https_url, error.to_string()),
        },
    };

    let http_url = format!("http://{url_host}/");
    let failed = |error: String, listening: Option<bool>| RedirectAnswer {
        url: http_url.clone(),
        listening,
        status: None,
        location: None,
        to_https: false,
        error: Some(error),
    };
    let plain = connector.discovered(host, SocketAddr::new(address.ip(), 80), Purpose::Http);
    let redirect = match (parse_url(&http_url), plain) {
        (Err(error), _) => failed(error, None),
        (_, None) => failed("port 80 is outside the scope: not contacted".into(), None),
        (Ok(url), Some(plain)) => match http::request(&plain, &url, &Method::Get, HEAD_ONLY).await {
            Ok(response) => {
                let location = response.header("location").map(str::to_string);
                let to_https = (300..400).contains(&response.status)
                    && location.as_deref().is_some_and(|l| l.to_ascii_lowercase().starts_with("https://"));
                RedirectAnswer {
                    url: http_url.clone(),
                    listening: Some(true),
                    status: Some(response.status),
                    location,
                    to_https,
                    error: None,
                }
            }
            Err(error) => failed(error.to_string(), if error.is_refused() { Some(false) } else { None }),
        },
    };
    HttpFacts { https: Some(https), redirect: Some(redirect) }
}

impl HttpsAnswer {
    fn failed(url: String, error: String) -> HttpsAnswer {
        HttpsAnswer { url, status: None, error: Some(error), hsts: None, content_encoding: None, compressed: None }
    }
}

fn parse_url(text: &str) -> Result<url::Url, String> {
    url::Url::parse(text).map_err(|e| format!("bad URL {text}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_values_parse_as_browsers_read_them() {
        let h = parse_hsts("max-age=63072000; includeSubDomains; preload");
        assert_eq!((h.max_age, h.include_subdomains, h.preload), (Some(63072000), true, true));
        let h = parse_hsts("Max-Age=\"300\"");
        assert_eq!(h.max_age, Some(300));
        assert_eq!(parse_hsts("includeSubDomains").max_age, None);
        assert_eq!(parse_hsts("max-age=abc").max_age, None);
    }

    #[test]
    fn compressing_codings_are_told_from_identity() {
        for coding in ["gzip", "GZIP", " br", "deflate", "zstd", "x-gzip"] {
            assert!(is_compressing(coding), "{coding}");
        }
        for coding in ["identity", "", "aes128gcm"] {
            assert!(!is_compressing(coding), "{coding}");
        }
    }
}
