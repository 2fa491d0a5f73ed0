//! v6only.test: three NS names with IPv6 glue only, in special-purpose blocks (2001:db8::/32
//! and 3fff::/20 documentation, 2001:2::/48 benchmarking) that the lab cannot reach.

use super::*;

#[test]
fn ipv6_only_zone() {
    let zone = scan_zone("v6only.test");
    let delegation = zone.delegation.as_ref().unwrap();
    assert_eq!((delegation.ns_with_ipv4, delegation.ns_with_ipv6), (0, 3));
    let special: Vec<(&str, &str, bool)> = delegation
        .special_purpose
        .iter()
        .map(|s| (s.address.as_str(), s.range.as_str(), s.globally_reachable))
        .collect();
    assert_eq!(
        special,
        vec![
            ("2001:2::53", "2001:2::/48 (benchmarking)", false),
            ("2001:db8::53", "2001:db8::/32 (documentation)", false),
            ("3fff::53", "3fff::/20 (documentation)", false),
        ]
    );
    // An IPv6-only nameserver set fails "reachable over IPv4"; nothing answers.
    assert_eq!(
        with_status(&zone, Status::Fail),
        ids(&[
            "dns.dnssec.unsigned",
            "dns.ns.no_ipv4",
            "dns.ns.no_working",
            "dns.ns.prefix_diversity",
            "dns.ns.special_purpose",
            "dns.ns.unresponsive",
        ])
    );
    assert!(zone.findings.iter().all(|f| f.status != Status::Pass), "{:#?}", zone.findings);
    assert_eq!(
        finding(&zone, "dns.ns.special_purpose").detail["special_purpose"],
        serde_json::json!([
            "2001:2::53 in 2001:2::/48 (benchmarking)",
            "2001:db8::53 in 2001:db8::/32 (documentation)",
            "3fff::53 in 3fff::/20 (documentation)"
        ])
    );
    assert_evidence_evaluates(&zone);
    assert!(zone.nameservers.iter().all(|n| n.answered == Some(false)));
}
