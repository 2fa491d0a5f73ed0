//! The HTTP probe for `https` endpoints: the Strict-Transport-Security header of the HTTPS
//! answer, and whether plain `http://` on port 80 redirects to `https://`. Two requests, both to
//! the endpoint's scanned address, bounded in time; bodies are not read. The certificate is not
//! judged here (the certificate stage does that), so any chain is accepted.

use std::net::SocketAddr;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

fn client(host: &str, address: SocketAddr, timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .resolve(host, address)
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("postura/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

fn describe(error: &reqwest::Error) -> String {
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

/// Probe an https endpoint at `address` (port included) for `host`.
pub async fn probe(host: &str, address: SocketAddr, timeout: Duration) -> HttpFacts {
    let url_host = host_for_url(host);
    let https_url = if address.port() == 443 {
        format!("https://{url_host}/")
    } else {
        format!("https://{url_host}:{}/", address.port())
    };
    let https = match client(host, address, timeout) {
        Err(error) => HttpsAnswer { url: https_url, status: None, error: Some(error), hsts: None },
        Ok(client) => match client.get(&https_url).send().await {
            Ok(response) => {
                let hsts = response
                    .headers()
                    .get("strict-transport-security")
                    .map(|v| parse_hsts(&String::from_utf8_lossy(v.as_bytes())));
                HttpsAnswer { url: https_url, status: Some(response.status().as_u16()), error: None, hsts }
            }
            Err(error) => HttpsAnswer { url: https_url, status: None, error: Some(describe(&error)), hsts: None },
        },
    };

    let plain = SocketAddr::new(address.ip(), 80);
    let http_url = format!("http://{url_host}/");
    let redirect = match client(host, plain, timeout) {
        Err(error) => RedirectAnswer {
            url: http_url,
            listening: None,
            status: None,
            location: None,
            to_https: false,
            error: Some(error),
        },
        Ok(client) => match client.get(&http_url).send().await {
            Ok(response) => {
                let status = response.status();
                let location = response
                    .headers()
                    .get("location")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let to_https = status.is_redirection()
                    && location.as_deref().is_some_and(|l| l.to_ascii_lowercase().starts_with("https://"));
                RedirectAnswer { url: http_url, listening: Some(true), status: Some(status.as_u16()), location, to_https, error: None }
            }
            Err(error) => {
                let refused = error.is_connect() && describe(&error).to_ascii_lowercase().contains("refused");
                RedirectAnswer {
                    url: http_url,
                    listening: if refused { Some(false) } else { None },
                    status: None,
                    location: None,
                    to_https: false,
                    error: Some(describe(&error)),
                }
            }
        },
    };
    HttpFacts { https: Some(https), redirect: Some(redirect) }
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
}
