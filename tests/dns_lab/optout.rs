//! optout.test: signed with NSEC3 opt-out, 5 extra iterations and a salt (BIND and Knot).

use super::*;

#[test]
fn optout_zone() {
    let optout = scan_zone("optout.test");
    assert_eq!(optout.error, None);
    assert_eq!(
        with_status(&optout, Status::Fail),
        failing_with(&["dns.dnssec.nsec3_parameters", "dns.version.disclosed"])
    );
    assert_evidence_evaluates(&optout);
    let dnssec = optout.dnssec.as_ref().unwrap();
    assert_eq!(dnssec.status, "secure");
    // Opt-out is read from the NSEC3 records of the denial (the NSEC3PARAM flags are 0).
    let nsec3 = dnssec.nsec3.as_ref().unwrap();
    assert_eq!(
        (nsec3.hash_algorithm, nsec3.iterations, nsec3.salt.as_str(), nsec3.opt_out),
        (1, 5, "abcdef", Some(true))
    );
    assert_eq!(dnssec.denial.as_ref().unwrap().kind.as_deref(), Some("NSEC3"));
    let parameters = finding(&optout, "dns.dnssec.nsec3_parameters");
    assert_eq!(
        (&parameters.detail["iterations"], &parameters.detail["salt"], &parameters.detail["opt_out"]),
        (&serde_json::json!(5), &serde_json::json!("abcdef"), &serde_json::json!(true))
    );
    for ns in &optout.nameservers {
        assert_well_behaved(ns, 11);
    }
}
