//! Declared resolvers: Unbound (validating, with the lab root's DS as trust anchor) and the
//! open BIND (recursion for anyone, no validation).

use super::*;
use postura::dns::facts::ResolverFacts;

/// (check, status) of every finding, sorted by check.
fn verdicts(resolver: &ResolverFacts) -> Vec<(String, Status)> {
    let mut verdicts: Vec<(String, Status)> = resolver.findings.iter().map(|f| (f.check.clone(), f.status)).collect();
    verdicts.sort_by(|a, b| a.0.cmp(&b.0));
    verdicts
}

#[test]
fn resolvers_with_lab_names() {
    // The resolver probes fill BIND's cache: open.test's own probes go first.
    open::open_zone_facts();
    let report = scan(
        &["resolver://127.0.30.1", "resolver://127.0.23.1"],
        &["--dns-signed-name", "www.healthy.test", "--dns-bogus-name", "www.expired.test"],
    );
    assert!(report.zones.is_empty() && report.targets.is_empty());
    // Unbound validates; BIND with recursion for anyone and no validation does not.
    assert_eq!(report.resolvers.len(), 2);
    let unbound = &report.resolvers[0];
    assert_eq!((unbound.address.as_str(), unbound.open, unbound.validates), ("127.0.30.1:53", Some(true), Some(true)));
    assert_eq!(unbound.authentic_data, Some(true));
    assert_eq!(unbound.bogus_query.rcode.as_deref(), Some("SERVFAIL"));
    let bind = &report.resolvers[1];
    assert_eq!((bind.address.as_str(), bind.open, bind.validates), ("127.0.23.1:53", Some(true), Some(false)));
    assert_eq!((bind.authentic_data, bind.bogus_query.rcode.as_deref()), (Some(false), Some("NOERROR")));
    // Both answer anyone (the lab's clients are everyone on loopback); only BIND fails to validate.
    assert_eq!(
        verdicts(unbound),
        vec![("resolver.not_validating".into(), Status::Pass), ("resolver.open".into(), Status::Fail)]
    );
    assert_eq!(
        verdicts(bind),
        vec![("resolver.not_validating".into(), Status::Fail), ("resolver.open".into(), Status::Fail)]
    );
    for resolver in &report.resolvers {
        for finding in &resolver.findings {
            assert!(
                finding.detail.values().all(|v| !v.as_str().is_some_and(|s| s.starts_with("unavailable:"))),
                "{finding:?}"
            );
        }
    }
}

/// Without names on the command line or in a profile, the public-Internet defaults are asked.
/// The lab has no `org.` under its private root, so both answers are NXDOMAIN: that tells
/// nothing, and the verdict stays open instead of being guessed.
#[test]
fn resolvers_use_the_default_names() {
    let report = scan(&["resolver://127.0.30.1"], &[]);
    let unbound = &report.resolvers[0];
    assert_eq!(
        (unbound.signed_name.as_deref(), unbound.bogus_name.as_deref()),
        (Some("ietf.org"), Some("www.dnssec-failed.org"))
    );
    assert_eq!(
        (unbound.signed_query.rcode.as_deref(), unbound.bogus_query.rcode.as_deref()),
        (Some("NXDOMAIN"), Some("NXDOMAIN"))
    );
    assert_eq!((unbound.authentic_data, unbound.validates), (None, None));
    assert_eq!(
        verdicts(unbound),
        vec![("resolver.not_validating".into(), Status::Inconclusive), ("resolver.open".into(), Status::Fail)]
    );
}
