//! MTA-STS (RFC 8461): once a zone publishes `_mta-sts` TXT, the policy is fetched from
//! `https://mta-sts.<zone>/.well-known/mta-sts.txt` and its fields recorded. The certificate is
//! not judged here (the certificate stage does that); the chain's validity is what makes a
//! policy usable, so the fact says `certificate_verified: false` plainly. The request goes through
//! the scan's connector (scope, per-address limit), within the query deadline and a size cap.

use std::net::SocketAddr;
use std::time::Duration;

use crate::net::http::{self, Limits, Method};
use crate::net::Purpose;

use crate::dns::facts::MtaStsPolicy;
use crate::dns::iterate::{record_address, Lookups};
use crate::dns::wire::rtype;

/// RFC 8461 §3.2: policies are small; anything larger is not one.
const MAX_POLICY_RESPONSE: usize = 64 * 1024;
/// `mx` patterns kept from one policy (real policies list a handful).
pub const MAX_POLICY_MX: usize = 64;

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
    // The policy host is discovered (named by DNS), so the scope decides whether it is asked.
    let deadline = (tokio::time::Instant::now() + timeout).min(lookups.client.deadline);
    let origin = lookups.client.network().connector(SocketAddr::new(address, 443), deadline);
    let Some(connector) = origin.discovered(&host, SocketAddr::new(address, 443), Purpose::MtaSts) else {
        policy.error = Some(format!("{host} ({address}) is outside the scope: not contacted"));
        return policy;
    };
    let url = match url::Url::parse(&policy.url) {
        Ok(url) => url,
        Err(error) => {
            policy.error = Some(format!("bad URL {}: {error}", policy.url));
            return policy;
        }
    };
    let limits =
        Limits { max_body: MAX_POLICY_RESPONSE, max_redirects: 0, read_body: true, request_timeout: Some(timeout) };
    match http::request(&connector, &url, &Method::Get, limits).await {
        Err(error) => policy.error = Some(error.to_string()),
        Ok(response) => apply_response(response.status, &response.body, &mut policy),
    }
    policy
}

/// The status and the `key: value` policy lines (RFC 8461 §3.2).
pub fn apply_response(status: u16, body: &[u8], policy: &mut MtaStsPolicy) {
    policy.http_status = Some(status);
    if status != 200 {
        return;
    }
    for line in String::from_utf8_lossy(body).lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = crate::dns::printable(value.trim().as_bytes());
        match key.trim() {
            "version" => policy.version = Some(value),
            "mode" => policy.mode = Some(value),
            "mx" => {
                policy.mx_lines += 1;
                if policy.mx.len() < MAX_POLICY_MX {
                    policy.mx.push(value);
                }
            }
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
        apply_response(
            200,
            b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.example.net\r\nmax_age: 604800\r\n",
            &mut policy,
        );
        assert_eq!(
            (policy.http_status, policy.version.as_deref(), policy.mode.as_deref()),
            (Some(200), Some("STSv1"), Some("enforce"))
        );
        assert_eq!(policy.mx, vec!["mx1.example.org", "*.example.net"]);
        assert_eq!(policy.max_age, Some(604800));
        assert_eq!(policy.mx_lines, 2);
        let mut long = MtaStsPolicy::default();
        let body: String = (0..100).map(|i| format!("mx: mx{i}.example.org\r\n")).collect();
        apply_response(200, body.as_bytes(), &mut long);
        assert_eq!((long.mx.len(), long.mx_lines), (MAX_POLICY_MX, 100));
        let mut missing = MtaStsPolicy::default();
        apply_response(404, b"version: STSv1\n", &mut missing);
        assert_eq!((missing.http_status, missing.version), (Some(404), None));
        let mut garbage = MtaStsPolicy::default();
        apply_response(200, b"\xff\xfe", &mut garbage);
        assert_eq!((garbage.version, garbage.mode), (None, None));
    }
}
