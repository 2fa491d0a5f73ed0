//! lame.test: delegated to a Knot server that does not serve the zone (it answers REFUSED).

use super::*;

#[test]
fn lame_zone() {
    let lame = scan_zone("lame.test");
    assert_eq!(lame.error.as_deref(), Some("no nameserver of lame.test. answered authoritatively"));
    // No working nameserver: critical. Facts the child never gave (its NS set, SOA, mail, CAA)
    // make their checks inconclusive, not failing and not passing.
    assert_eq!(
        with_status(&lame, Status::Fail),
        ids(&[
            "dns.delegation.lame",
            "dns.dnssec.unsigned",
            "dns.ns.no_ipv4",
            "dns.ns.no_ipv6",
            "dns.ns.no_working",
            "dns.ns.prefix_diversity",
            "dns.ns.special_purpose",
            "dns.version.disclosed",
        ])
    );
    let no_working = finding(&lame, "dns.ns.no_working");
    assert_eq!(no_working.severity, postura::checks::model::Severity::Critical);
    assert_eq!(
        no_working.detail["asked"],
        serde_json::json!(["ns.lame.test. 127.0.22.1 answered, not authoritatively"])
    );
    for check in [
        "dns.soa.timers",
        "dns.soa.serial_mismatch",
        "dns.soa.fields_mismatch",
        "dns.ns.count",
        "dns.delegation.inconsistent",
        "dns.delegation.glue_mismatch",
        "dns.caa.missing",
        "mail.spf.missing",
        "mail.dmarc.missing",
        "mail.mx.missing",
    ] {
        assert_eq!(finding(&lame, check).status, Status::Inconclusive, "{check}: not a pass, not a fail");
    }
    assert_evidence_evaluates(&lame);
    assert_eq!(lame.nameservers.len(), 1);
    let ns = &lame.nameservers[0];
    assert_eq!((ns.name.as_str(), ns.address.as_str()), ("ns.lame.test.", KNOT_B));
    assert_eq!((ns.answered, ns.authoritative, ns.lame, ns.soa.as_ref()), (Some(true), Some(false), Some(true), None));
    assert_eq!(ns.soa_udp.rcode.as_deref(), Some("REFUSED"));
    assert_eq!(ns.soa_tcp.rcode.as_deref(), Some("REFUSED"));
    assert!(lame.delegation.as_ref().unwrap().child_ns.is_empty());
    // Its in-zone NS name cannot be resolved (the only server refuses): the reason is kept.
    let lame_ns = &lame.delegation.as_ref().unwrap().ns_names[0];
    assert_eq!((lame_ns.glue.clone(), lame_ns.addresses.clone()), (vec![KNOT_B.to_string()], vec![]));
    assert_eq!(
        lame_ns.error.as_deref(),
        Some("no usable answer from the servers of lame.test.: 127.0.22.1:53: REFUSED")
    );
    assert_eq!(lame.soa.as_ref().unwrap().serials, Vec::<u32>::new());
    // The parent answered "no DS"; the zone's DNSKEY set was never observed, and the reason
    // says so rather than "no DNSKEY".
    let dnssec = lame.dnssec.as_ref().unwrap();
    assert_eq!(
        (dnssec.status.as_str(), dnssec.reason.as_deref()),
        ("insecure", Some("no DS at the parent (the zone's DNSKEY set was not observed: no answer)"))
    );
    // CAA and mail lookups got no answer: null CAA, null RCODEs.
    assert!(lame.caa.is_none());
    let mail = lame.mail.as_ref().unwrap();
    assert_eq!(mail.rcodes, Default::default());
}
