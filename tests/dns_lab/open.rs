//! open.test: a single BIND nameserver with open recursion, open AXFR and its version shown.

use super::*;

/// open.test's facts from the first scan of the lab's open BIND. Every test that makes that
/// server recurse (a resolver probe, a later scan's recursion probe) calls this first: once its
/// cache is warm it answers `NS .` from the cache instead of with the upward referral.
pub fn open_zone_facts() -> &'static ZoneFacts {
    static FACTS: std::sync::OnceLock<ZoneFacts> = std::sync::OnceLock::new();
    FACTS.get_or_init(|| scan_zone("open.test"))
}

#[test]
fn open_zone() {
    let open = open_zone_facts();
    assert_eq!(open.error, None);
    assert_eq!(
        with_status(open, Status::Fail),
        failing_with(&[
            "dns.axfr.open",
            "dns.dnssec.unsigned",
            "dns.ns.count",
            "dns.ns.no_ipv4",
            "dns.ns.prefix_diversity",
            "dns.ns.upward_referral",
            "dns.recursion.open",
            "dns.version.disclosed",
        ])
    );
    assert_evidence_evaluates(open);
    assert_eq!(open.delegation.as_ref().unwrap().parent_ns, vec!["ns.open.test."]);
    assert_eq!(open.delegation.as_ref().unwrap().asns, Some(vec![64501]));
    assert_eq!(open.nameservers.len(), 1);
    let ns = &open.nameservers[0];
    assert_eq!((ns.authoritative, ns.lame, ns.soa.as_ref().map(|s| s.serial)), (Some(true), Some(false), Some(3)));
    assert_eq!(ns.recursion_offered, Some(true));
    // A fresh BIND resolver answers `NS .` from its root hints as a referral (Zonemaster's
    // NAMESERVER07 UPWARD_REFERRAL on the same server).
    assert_eq!(ns.upward_referral, Some(true));
    assert_eq!(
        (ns.recursion.rcode.as_deref(), ns.recursion.recursion_available, ns.recursion.answers),
        (Some("NOERROR"), Some(true), Some(1))
    );
    assert_eq!((ns.axfr.open, ns.axfr.rcode.as_deref(), ns.axfr.records), (Some(true), Some("NOERROR"), 5));
    assert_eq!(ns.version_bind.text.as_deref(), Some("9.18.49-1~deb12u3-Debian"));
    assert_eq!(
        finding(open, "dns.version.disclosed").detail["versions"],
        serde_json::json!(["ns.open.test. 127.0.23.1 version.bind: 9.18.49-1~deb12u3-Debian"])
    );
    assert_eq!(ns.version_server.rcode.as_deref(), Some("REFUSED"));
    assert_eq!(open.dnssec.as_ref().unwrap().status, "insecure");
    assert_eq!(open.dnssec.as_ref().unwrap().reason.as_deref(), Some("no DS at the parent, no DNSKEY"));
}

/// The human summary names the same facts.
#[test]
fn open_zone_summary() {
    open_zone_facts();
    let lab = DnsLab::shared();
    let hints = lab.hints.display().to_string();
    let (status, stdout, stderr) =
        lab.postura(&["scan", "--root-hints", &hints, "--dns-timeout", DNS_TIMEOUT, "dns://open.test"]);
    assert!(status.success(), "{stderr}");
    assert!(
        stdout.contains("ns.open.test. 127.0.23.1  serial 3 · recursion yes · AXFR yes · version 9.18.49-1~deb12u3-Debian · EDNS OPT yes"),
        "{stdout}"
    );
    assert!(stdout.contains("DNSSEC        insecure (no DS at the parent, no DNSKEY)"), "{stdout}");
}
