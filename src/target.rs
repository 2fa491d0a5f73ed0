//! Targets: what to scan, as typed on the command line or declared in a profile, and how names
//! become addresses (DNS, a curl-style `--resolve` pin, or a profile's pinned address).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::profile::{Endpoint, Profile, Scope, Service};
use crate::starttls::Starttls;

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
    /// The domain an XMPP stream names when it is not the host (`xmpp://HOST/DOMAIN`, or the
    /// profile's `xmpp_domain`).
    pub xmpp_domain: Option<String>,
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
    /// The SNI to send: the XMPP domain when one is declared (RFC 7590 §3.2: a client names
    /// the domain, not the host serving it), else the host name, never an IP literal (RFC 6066).
    pub fn sni(&self) -> Option<String> {
        if let Some(domain) = &self.xmpp_domain {
            Some(domain.clone())
        } else if self.host.parse::<IpAddr>().is_ok() {
            None
        } else {
            Some(self.host.trim_end_matches('.').to_ascii_lowercase())
        }
    }

    /// The name the certificate must match: the XMPP domain when one is declared (RFC 6120
    /// §13.7.2), else the host.
    pub fn certificate_name(&self) -> &str {
        self.xmpp_domain.as_deref().unwrap_or(&self.host)
    }

    pub fn from_endpoint(endpoint: &Endpoint) -> TargetSpec {
        TargetSpec {
            host: endpoint.host.clone(),
            port: endpoint.port,
            service: endpoint.service,
            pinned: endpoint.address.into_iter().collect(),
            sector: Some(endpoint.sector.clone()),
            operator: endpoint.operator.clone(),
            xmpp_domain: endpoint.xmpp_domain.clone(),
        }
    }

    /// The name the STARTTLS dialogue addresses (XMPP's stream `to`): the declared XMPP domain,
    /// else the host as SNI would name it, else (an IP literal) the address itself.
    pub fn starttls_domain(&self) -> String {
        self.sni().unwrap_or_else(|| self.host.clone())
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
            Https | Tls | Smtps | Imaps | Pop3s => specs.push(TargetSpec::from_endpoint(endpoint)),
            starttls if starttls.starttls().is_some() => specs.push(TargetSpec::from_endpoint(endpoint)),
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

/// Schemes accepted on the command line: (scheme, service); the default port is the service's.
pub const SCHEMES: [(&str, Service); 15] = [
    ("https", Service::Https),
    ("tls", Service::Tls),
    ("smtp", Service::SmtpStarttls),
    ("imap", Service::ImapStarttls),
    ("pop3", Service::Pop3Starttls),
    ("ftp", Service::FtpStarttls),
    ("xmpp", Service::XmppStarttls),
    ("xmpp-server", Service::XmppServerStarttls),
    ("ldap", Service::LdapStarttls),
    ("postgres", Service::PostgresStarttls),
    ("postgresql", Service::PostgresStarttls),
    ("mysql", Service::MysqlStarttls),
    ("nntp", Service::NntpStarttls),
    ("sieve", Service::SieveStarttls),
    ("lmtp", Service::LmtpStarttls),
];

/// Parse `host[:port]`, `[v6]:port`, or a bare IPv6 literal, optionally after a scheme of
/// [`SCHEMES`] (`https://`, `tls://`, and one per STARTTLS protocol: `smtp://`, `ftp://`,
/// `xmpp://`, `ldap://`, `postgres://` …); the default port is 443, or the scheme's service's.
/// An XMPP target may name the domain its stream is addressed to after the address:
/// `xmpp://xmpp.example.org/example.org`.
pub fn parse_target(text: &str) -> Result<TargetSpec, String> {
    let text = text.trim();
    let (text, service) = match text.split_once("://") {
        Some((scheme, rest)) => {
            let service = SCHEMES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(scheme))
                .map(|(_, service)| *service)
                .ok_or_else(|| {
                    let known: Vec<&str> = SCHEMES.iter().map(|(name, _)| *name).collect();
                    format!("unknown scheme '{scheme}://' (known: {}, dns, resolver)", known.join(", "))
                })?;
            (rest, Some(service))
        }
        None => (text, None),
    };
    let xmpp = service.and_then(Service::starttls).is_some_and(Starttls::is_xmpp);
    let (text, xmpp_domain) = match text.split_once('/') {
        Some((address, domain)) if xmpp && !domain.trim_end_matches('/').is_empty() => {
            let domain = domain.trim_end_matches('/');
            if domain.parse::<IpAddr>().is_ok() || validate_host(domain).is_err() {
                return Err(format!("'{domain}' is not an XMPP domain (a DNS name)"));
            }
            (address, Some(domain.trim_end_matches('.').to_ascii_lowercase()))
        }
        _ => (text.trim_end_matches('/'), None),
    };
    if text.is_empty() {
        return Err("empty target".into());
    }
    let (host, port) = split_host_port(text)?;
    let port = port.unwrap_or(service.map_or(443, Service::default_port));
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
        xmpp_domain,
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
        assert!(parse_target("gopher://example.org").unwrap_err().contains("unknown scheme"));
    }

    #[test]
    fn every_starttls_scheme_has_its_service_and_port() {
        for (target, service, port) in [
            ("ftp://h.example", Service::FtpStarttls, 21),
            ("xmpp://h.example", Service::XmppStarttls, 5222),
            ("xmpp-server://h.example", Service::XmppServerStarttls, 5269),
            ("ldap://h.example", Service::LdapStarttls, 389),
            ("postgres://h.example", Service::PostgresStarttls, 5432),
            ("postgresql://h.example", Service::PostgresStarttls, 5432),
            ("mysql://h.example", Service::MysqlStarttls, 3306),
            ("nntp://h.example", Service::NntpStarttls, 119),
            ("sieve://h.example", Service::SieveStarttls, 4190),
            ("lmtp://h.example", Service::LmtpStarttls, 24),
            ("LDAP://h.example:1389/", Service::LdapStarttls, 1389),
        ] {
            let t = parse_target(target).unwrap();
            assert_eq!((t.service, t.port), (service, port), "{target}");
            assert!(t.service.starttls().is_some());
            assert_eq!(t.xmpp_domain, None);
        }
    }

    #[test]
    fn an_xmpp_target_may_name_its_domain() {
        let t = parse_target("xmpp://xmpp.example.org:5223/Example.ORG.").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("xmpp.example.org", 5223));
        assert_eq!(t.xmpp_domain.as_deref(), Some("example.org"));
        assert_eq!(t.starttls_domain(), "example.org");
        assert_eq!((t.sni().as_deref(), t.certificate_name()), (Some("example.org"), "example.org"));
        let t = parse_target("xmpp-server://xmpp.example.org").unwrap();
        assert_eq!((t.sni().as_deref(), t.certificate_name()), (Some("xmpp.example.org"), "xmpp.example.org"));
        assert_eq!(t.starttls_domain(), "xmpp.example.org");
        assert_eq!(parse_target("xmpp://127.0.0.1").unwrap().starttls_domain(), "127.0.0.1");
        assert!(parse_target("xmpp://xmpp.example.org/not a domain").is_err());
        assert!(parse_target("xmpp://xmpp.example.org/192.0.2.1").is_err());
        // Only XMPP names a domain.
        assert!(parse_target("ldap://ldap.example.org/dc=example").is_err());
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
