//! MTA-STS (RFC 8461): once a zone publishes `_mta-sts` TXT, the policy is fetched from
//! `https://mta-sts.<zone>/.well-known/mta-sts.txt` and its fields recorded. The certificate is
//! not judged here (the certificate stage does that); the chain's validity is what makes a
//! policy usable, so the fact says `certificate_verified: false` plainly. The request is
//! HTTP/1.0 (no chunked answers), and the answer is read within the query deadline and a size
//! cap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::dns::facts::MtaStsPolicy;
use crate::dns::iterate::{record_address, Lookups};
use crate::dns::wire::rtype;

/// RFC 8461 §3.2: policies are small; anything larger is not one.
const MAX_POLICY_RESPONSE: usize = 64 * 1024;

/// Fetch and parse the policy of `zone` (postura's form, trailing dot).
pub async fn fetch(lookups: &Lookups, zone: &str, timeout: Duration) -> MtaStsPolicy {
    let host = format!("mta-sts.{}", zone.trim_end_matches('.'));
    let mut policy = MtaStsPolicy {
        url: format!("https://{host}/.well-known/mta-sts.txt"),
        certificate_verified: false,
        ..MtaStsPolicy::default()
    };
    let mut address = None;
    for qtype in [rtype::A, rtype::AAAA] {
        if let Ok(found) = lookups.lookup(&host, qtype).await {
            address = address.or_else(|| found.records.iter().find_map(record_address));
        }
    }
    let Some(address) = address else {
        policy.error = Some(format!("{host} has no address"));
        return policy;
    };
    match tokio::time::timeout(timeout, get(SocketAddr::new(address, 443), &host)).await {
        Err(_) => {
            policy.error = Some(format!(
                "no complete answer within {} ms",
                timeout.as_millis()
            ))
        }
        Ok(Err(error)) => policy.error = Some(error),
        Ok(Ok(response)) => parse_response(&response, &mut policy),
    }
    policy
}

async fn get(address: SocketAddr, host: &str) -> Result<Vec<u8>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Any chain: this probe reads the policy; the certificate is assessed elsewhere.
    let verifier = Arc::new(crate::tls::rustls_probe::RecordingVerifier::new(&provider));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).map_err(|e| format!("bad host name: {e}"))?;
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect {address}: {e}"))?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS with {address}: {e}"))?;
    let request = format!(
        "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: {host}\r\nUser-Agent: postura\r\n\r\n"
    );
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match tls.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&chunk[..n]);
                if response.len() > MAX_POLICY_RESPONSE {
                    return Err(format!("answer larger than {MAX_POLICY_RESPONSE} bytes"));
                }
            }
            // Servers that close without close_notify still sent the whole answer.
            Err(_) if !response.is_empty() => break,
            Err(error) => return Err(error.to_string()),
        }
    }
    Ok(response)
}

/// Status line and `key: value` policy lines (RFC 8461 §3.2).
pub fn parse_response(response: &[u8], policy: &mut MtaStsPolicy) {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .unwrap_or((&text, ""));
    policy.http_status = head
        .lines()
        .next()
        .and_then(|status| status.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok());
    if policy.http_status != Some(200) {
        return;
    }
    for line in body.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = crate::dns::printable(value.trim().as_bytes());
        match key.trim() {
            "version" => policy.version = Some(value),
            "mode" => policy.mode = Some(value),
            "mx" => policy.mx.push(value),
            "max_age" => policy.max_age = value.parse().ok(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse() {
        let mut policy = MtaStsPolicy::default();
        parse_response(
            b"HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\nversion: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.example.net\r\nmax_age: 604800\r\n",
            &mut policy,
        );
        assert_eq!(
            (
                policy.http_status,
                policy.version.as_deref(),
                policy.mode.as_deref()
            ),
            (Some(200), Some("STSv1"), Some("enforce"))
        );
        assert_eq!(policy.mx, vec!["mx1.example.org", "*.example.net"]);
        assert_eq!(policy.max_age, Some(604800));
        let mut missing = MtaStsPolicy::default();
        parse_response(
            b"HTTP/1.1 404 Not Found\r\n\r\nversion: STSv1\n",
            &mut missing,
        );
        assert_eq!((missing.http_status, missing.version), (Some(404), None));
        let mut garbage = MtaStsPolicy::default();
        parse_response(b"\xff\xfe", &mut garbage);
        assert_eq!(garbage.http_status, None);
    }
}
