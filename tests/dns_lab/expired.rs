//! expired.test: signed with RRSIGs that expired (2020-01-01 to 2020-02-01), on BIND and Knot.

use super::*;

#[test]
fn expired_zone() {
    let expired = scan_zone("expired.test");
    assert_eq!(expired.error, None);
    assert_eq!(
        with_status(&expired, Status::Fail),
        failing_with(&[
            "dns.dnssec.bogus",
            "dns.dnssec.denial_invalid",
            "dns.dnssec.rrsig_expired",
            "dns.version.disclosed"
        ])
    );
    assert_evidence_evaluates(&expired);
    assert_eq!(finding(&expired, "dns.dnssec.rrsig_expired").detail["expired"].as_array().map(Vec::len), Some(4));
    for ns in &expired.nameservers {
        assert_well_behaved(ns, 1);
    }
    let dnssec = expired.dnssec.as_ref().unwrap();
    assert_eq!(
        (dnssec.status.as_str(), dnssec.reason.as_deref()),
        ("bogus", Some("every RRSIG over DNSKEY has expired"))
    );
    assert_eq!(dnssec.ds_matches_dnskey, Some(true));
    assert_eq!(dnssec.signatures.len(), 4);
    for signature in &dnssec.signatures {
        assert_eq!(
            (signature.inception, signature.expiration, signature.valid),
            (1577836800, 1580515200, true),
            "{signature:?}"
        );
        assert!(signature.seconds_left < 0);
    }
    assert_eq!(dnssec.denial.as_ref().map(|d| (d.kind.as_deref(), d.signed)), Some((Some("NSEC"), true)));
    // An NSEC zone: no NSEC3 parameters, and the NSEC3 check passes on that observation.
    assert_eq!(dnssec.nsec3, None);
    assert_eq!(finding(&expired, "dns.dnssec.nsec3_parameters").status, Status::Pass);
    // The NSEC proofs verify but expired with the rest (Zonemaster: DS10_NSEC_RRSIG_VERIFY_ERROR).
    let proofs = &dnssec.denial.as_ref().unwrap().signatures;
    assert!(
        !proofs.is_empty() && proofs.iter().all(|s| s.covers == "NSEC" && s.valid && s.expiration == 1580515200),
        "{proofs:?}"
    );
}
