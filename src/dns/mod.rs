//! DNS and mail hygiene probes: zones (delegation, nameservers, SOA, DNSSEC, mail, CAA) and
//! declared resolvers. Queries go straight to chosen servers (`transport`), messages are
//! built here and decoded by hickory-proto (`wire`); probes gather facts (`facts`) and never
//! judge them.

pub mod anchor;
pub mod asn;
pub mod auth;
pub mod caa;
pub mod dane;
pub mod dnssec;
pub mod facts;
pub mod iterate;
pub mod mail;
pub mod mta_sts;
pub mod resolver;
pub mod special;
pub mod transport;
pub mod wire;
pub mod zone;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::dns::facts::{ResolverFacts, ZoneFacts};
use crate::dns::iterate::{Lookups, Roots};
use crate::dns::resolver::ValidationNames;
use crate::dns::transport::DnsClient;

/// How the DNS part of a scan runs.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    pub roots: Roots,
    /// Resolver for ordinary lookups (None: iterate from the roots).
    pub resolver: Option<SocketAddr>,
    /// Per query.
    pub timeout: Duration,
    /// Per zone and per resolver, everything included.
    pub deadline: Duration,
    /// Zones assessed at once.
    pub concurrency: usize,
    pub validation_names: ValidationNames,
    /// IP → ASN table for the nameservers' AS diversity (None: not given).
    pub asn_table: Option<Arc<asn::AsnTable>>,
    /// A profile's scope: nameserver addresses outside its networks are not probed.
    pub scope: Option<Arc<crate::profile::Scope>>,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            roots: Roots::iana(),
            resolver: None,
            timeout: Duration::from_secs(3),
            deadline: Duration::from_secs(300),
            concurrency: 4,
            validation_names: ValidationNames::default(),
            asn_table: None,
            scope: None,
        }
    }
}

/// Text from the network made safe to print and store: control characters and non-UTF-8 bytes
/// become escapes, and it is cut at 255 characters.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.push_str(&format!("\\{:03}", c as u32));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    if out.chars().count() > 255 {
        out = out.chars().take(255).collect();
    }
    out
}

/// Assess one zone within the zone deadline, its queries on the scan's `network`. The scan
/// (`crate::scan`) runs zones side by side and hands each result on as it finishes.
pub async fn assess_zone_item(zone: &str, options: &DnsOptions, network: &crate::net::Network) -> ZoneFacts {
    let deadline = Instant::now() + options.deadline;
    let client = DnsClient::with_network(options.timeout, deadline, network.clone());
    let lookups = Lookups::new(client, options.roots.clone(), options.resolver);
    // The probes bound themselves by the deadline; this guards against one that does not.
    let assessed = zone::assess_zone(&lookups, zone, options.asn_table.as_deref(), options.scope.as_deref());
    match tokio::time::timeout_at(deadline + Duration::from_secs(2), assessed).await {
        Ok(facts) => facts,
        Err(_) => {
            ZoneFacts { name: wire::fqdn(zone), error: Some("zone deadline exceeded".into()), ..ZoneFacts::default() }
        }
    }
}

/// Assess one declared resolver within the deadline, its queries on the scan's `network`.
pub async fn assess_resolver_item(
    address: SocketAddr,
    options: &DnsOptions,
    network: &crate::net::Network,
) -> ResolverFacts {
    let deadline = Instant::now() + options.deadline;
    let client = DnsClient::with_network(options.timeout, deadline, network.clone());
    match tokio::time::timeout_at(
        deadline + Duration::from_secs(2),
        resolver::assess(&client, address, &options.validation_names),
    )
    .await
    {
        Ok(facts) => facts,
        Err(_) => ResolverFacts {
            address: address.to_string(),
            error: Some("resolver deadline exceeded".into()),
            ..ResolverFacts::default()
        },
    }
}

/// Give each target the CAA set of the scanned zone that contains its host (the longest such
/// zone), so that certificate checks can compare the issuer with it. The zone's CAA was found by
/// climbing from the apex; a CAA set below the apex, at the host itself, is not looked up.
pub fn attach_zone_caa(targets: &mut [crate::facts::TargetResult], zones: &[facts::ZoneFacts]) {
    for target in targets {
        let zone = enclosing_zone(&target.host, zones.iter().map(|z| z.name.as_str()));
        target.caa = zone.and_then(|name| zones.iter().find(|z| z.name == name)).and_then(|z| z.caa.clone());
    }
}

/// The longest of `zones` (names with their trailing dot) that contains `host`.
pub fn enclosing_zone<'z>(host: &str, zones: impl IntoIterator<Item = &'z str>) -> Option<&'z str> {
    let host = format!("{}.", host.trim_end_matches('.').to_ascii_lowercase());
    zones.into_iter().filter(|name| host == *name || host.ends_with(&format!(".{name}"))).max_by_key(|name| name.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn printable_escapes_controls_and_bad_bytes() {
        assert_eq!(super::printable(b"BIND 9.18"), "BIND 9.18");
        assert_eq!(super::printable(b"a\x1b[31m\xff"), "a\\027[31m\\255");
        assert_eq!(super::printable(&[b'x'; 400]).len(), 255);
    }
}
