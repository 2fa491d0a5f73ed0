//! Targets: what to scan, as typed on the command line or declared in a profile, and how names
//! become addresses (DNS, a curl-style `--resolve` pin, or a profile's pinned address).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::profile::{Endpoint, Profile, Scope, Service};

/// One declared endpoint before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub host: String,
    pub port: u16,
    pub service: Service,
    /// Addresses to use instead of DNS (profile pin or `--resolve`).
    pub pinned: Vec<IpAddr>,
    pub sector: Option<String>,
    pub operator: Option<String>,
}

/// One endpoint at one address, ready to scan (or why it is not).
#[derive(Debug, Clone)]
pub struct ResolvedTarget {
    pub spec: TargetSpec,
    pub address: Option<SocketAddr>,
    /// Why there is no address, or why it may not be scanned.
    pub error: Option<String>,
}

impl TargetSpec {
    /// The SNI to send: the host name, never an IP literal (RFC 6066).
    pub fn sni(&self) -> Option<String> {
        if self.host.parse::<IpAddr>().is_ok() {
            None
        } else {
            Some(self.host.trim_end_matches('.').to_ascii_lowercase())
        }
    }

    pub fn from_endpoint(endpoint: &Endpoint) -> TargetSpec {
        TargetSpec {
            host: endpoint.host.clone(),
            port: endpoint.port,
            service: endpoint.service,
            pinned: endpoint.address.into_iter().collect(),
            sector: Some(endpoint.sector.clone()),
            operator: endpoint.operator.clone(),
        }
    }
}

/// Targets a profile declares for the TLS sweep (services that speak TLS from the first byte,
/// and STARTTLS services, which the connector upgrades first). Authoritative DNS endpoints are
/// skipped here: their zones are assessed through the profile's `domains`.
pub fn specs_from_profile(profile: &Profile) -> (Vec<TargetSpec>, Vec<String>) {
    use crate::profile::Service::*;
    let mut specs = Vec::new();
    let mut skipped = Vec::new();
    for endpoint in &profile.endpoints {
        match endpoint.service {
            Https | Tls | Smtps | Imaps | Pop3s | SmtpStarttls | ImapStarttls | Pop3Starttls => {
                specs.push(TargetSpec::from_endpoint(endpoint))
            }
            // Resolvers are assessed by the DNS probes (`crate::dns::resolver`), not swept.
            DnsResolver => {}
            other => skipped.push(format!(
                "{}:{} ({}): not scanned yet by this version",
                endpoint.host,
                endpoint.port,
                other.name()
            )),
        }
    }
    (specs, skipped)
}

/// Schemes accepted on the command line: (prefix, service, default port).
const SCHEMES: [(&str, Service, u16); 5] = [
    ("https://", Service::Https, 443),
    ("tls://", Service::Tls, 443),
    ("smtp://", Service::SmtpStarttls, 25),
    ("imap://", Service::ImapStarttls, 143),
    ("pop3://", Service::Pop3Starttls, 110),
];

/// Parse `host[:port]`, `[v6]:port`, or a bare IPv6 literal, optionally after a scheme
/// (`https://`, `tls://`, and `smtp://`, `imap://`, `pop3://` for STARTTLS); the default port is
/// 443, or the scheme's.
pub fn parse_target(text: &str) -> Result<TargetSpec, String> {
    let text = text.trim();
    let (text, service, default_port) = SCHEMES
        .iter()
        .find_map(|(prefix, service, port)| text.strip_prefix(prefix).map(|rest| (rest, Some(*service), *port)))
        .unwrap_or((text, None, 443));
    let text = text.trim_end_matches('/');
    if text.is_empty() {
        return Err("empty target".into());
    }
    let (host, port) = split_host_port(text)?;
    let port = port.unwrap_or(default_port);
    validate_host(&host)?;
    Ok(TargetSpec {
        host,
        port,
        // Without a scheme, port 443 is the web: its HTTP hygiene (HSTS, redirect) is assessed too.
        service: match service {
            None if port == 443 => Service::Https,
            None => Service::Tls,
            Some(scheme) => scheme,
        },
        pinned: Vec::new(),
        sector: None,
        operator: None,
    })
}

fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| format!("{text}: missing ']' after IPv6 address"))?;
        host.parse::<std::net::Ipv6Addr>().map_err(|_| format!("{text}: '{host}' is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => {
                Some(parse_port(after.strip_prefix(':').ok_or_else(|| format!("{text}: expected ':PORT' after ']'"))?)?)
            }
        };
        return Ok((host.to_string(), port));
    }
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((text.to_string(), None));
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_string(), Some(parse_port(port)?))),
        None => Ok((text.to_string(), None)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("'{text}' is not a port (1-65535)")),
        Ok(port) => Ok(port),
    }
}

fn validate_host(host: &str) -> Result<(), String> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let name = host.trim_end_matches('.');
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(())
    } else {
        Err(format!("'{host}' is not a valid host name or IP address"))
    }
}

/// A curl-style pin: `host:port:address[,address…]`; IPv6 addresses may be bracketed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvePin {
    pub host: String,
    pub port: u16,
    pub addresses: Vec<IpAddr>,
}

pub fn parse_resolve(text: &str) -> Result<ResolvePin, String> {
    let usage = || format!("--resolve '{text}': expected HOST:PORT:ADDRESS[,ADDRESS...]");
    let (host, rest) = text.split_once(':').ok_or_else(usage)?;
    let (port, addresses) = rest.split_once(':').ok_or_else(usage)?;
    let port = parse_port(port).map_err(|e| format!("--resolve '{text}': {e}"))?;
    let addresses = addresses
        .split(',')
        .map(|a| {
            let a = a.trim().trim_start_matches('[').trim_end_matches(']');
            a.parse::<IpAddr>().map_err(|_| format!("--resolve '{text}': '{a}' is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if host.is_empty() || addresses.is_empty() {
        return Err(usage());
    }
    Ok(ResolvePin { host: host.to_ascii_lowercase(), port, addresses })
}

/// Apply `--resolve` pins to specs (exact host and port match, case-insensitive).
pub fn apply_pins(specs: &mut [TargetSpec], pins: &[ResolvePin]) {
    let map: HashMap<(String, u16), &Vec<IpAddr>> =
        pins.iter().map(|p| ((p.host.clone(), p.port), &p.addresses)).collect();
    for spec in specs {
        if let Some(addresses) = map.get(&(spec.host.to_ascii_lowercase(), spec.port)) {
            spec.pinned = (*addresses).clone();
        }
    }
}

/// Turn a spec into one target per address (all of them with `all_addresses`, else the first),
/// refusing addresses outside a profile's scope.
pub async fn resolve(
    spec: &TargetSpec,
    all_addresses: bool,
    timeout: Duration,
    scope: Option<&Scope>,
) -> Vec<ResolvedTarget> {
    // Declared endpoints were checked against the names when the plan was built; this stops
    // discovered ones (MX hosts) whose name the profile does not declare.
    if scope.is_some_and(|scope| !scope.allows_host(spec.host.trim_end_matches('.'))) {
        return vec![unresolved(
            spec,
            format!("out of scope: {} is not in the profile's declared names; not scanned", spec.host),
        )];
    }
    let addresses: Vec<IpAddr> = if !spec.pinned.is_empty() {
        spec.pinned.clone()
    } else if let Ok(ip) = spec.host.parse::<IpAddr>() {
        vec![ip]
    } else {
        match tokio::time::timeout(timeout, tokio::net::lookup_host((spec.host.as_str(), spec.port))).await {
            Err(_) => return vec![unresolved(spec, "name resolution timed out".into())],
            Ok(Err(error)) => return vec![unresolved(spec, format!("name resolution failed: {error}"))],
            Ok(Ok(found)) => {
                let mut unique = Vec::new();
                for address in found.map(|a| a.ip()) {
                    if !unique.contains(&address) {
                        unique.push(address);
                    }
                }
                unique
            }
        }
    };
    if addresses.is_empty() {
        return vec![unresolved(spec, "name has no address".into())];
    }
    let chosen: Vec<IpAddr> = if all_addresses { addresses } else { addresses.into_iter().take(1).collect() };
    chosen
        .into_iter()
        .map(|ip| {
            let error = match scope {
                Some(scope) if !scope.allows_address(ip) => {
                    Some(format!("out of scope: {ip} is not in the profile's declared networks; not scanned"))
                }
                _ => None,
            };
            ResolvedTarget { spec: spec.clone(), address: Some(SocketAddr::new(ip, spec.port)), error }
        })
        .collect()
}

fn unresolved(spec: &TargetSpec, error: String) -> ResolvedTarget {
    ResolvedTarget { spec: spec.clone(), address: None, error: Some(error) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_like_people_type_them() {
        let t = parse_target("example.org").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("example.org", 443));
        let t = parse_target("example.org:8443").unwrap();
        assert_eq!(t.port, 8443);
        let t = parse_target("[::1]:4433").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 4433));
        let t = parse_target("::1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        let t = parse_target("127.0.0.1:4433").unwrap();
        assert_eq!(t.sni(), None);
        assert_eq!(parse_target("Example.ORG.").unwrap().sni().as_deref(), Some("example.org"));
        assert!(parse_target("example.org:0").is_err());
        assert!(parse_target("example.org:99999").is_err());
        assert!(parse_target("exa mple.org").is_err());
        assert!(parse_target("[::1:443").is_err());
        let t = parse_target("smtp://mx.example.org").unwrap();
        assert_eq!((t.port, t.service), (25, Service::SmtpStarttls));
        let t = parse_target("imap://mail.example.org:1143").unwrap();
        assert_eq!((t.port, t.service), (1143, Service::ImapStarttls));
        assert_eq!(parse_target("pop3://mail.example.org").unwrap().port, 110);
        assert_eq!(parse_target("tls://example.org").unwrap().service, Service::Tls);
    }

    #[test]
    fn resolve_pins_parse_like_curl() {
        let pin = parse_resolve("example.org:443:127.0.0.1").unwrap();
        assert_eq!(pin.addresses, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        let pin = parse_resolve("example.org:443:[::1],127.0.0.2").unwrap();
        assert_eq!(pin.addresses.len(), 2);
        assert!(parse_resolve("example.org:443").is_err());
        assert!(parse_resolve("example.org:x:127.0.0.1").is_err());
        assert!(parse_resolve("example.org:443:nope").is_err());
        let mut specs = vec![parse_target("EXAMPLE.org").unwrap(), parse_target("example.org:8443").unwrap()];
        apply_pins(&mut specs, &[pin]);
        assert_eq!(specs[0].pinned.len(), 2);
        assert!(specs[1].pinned.is_empty());
    }
}
