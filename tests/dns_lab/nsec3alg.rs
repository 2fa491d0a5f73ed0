//! nsec3alg.test: signed with NSEC3, then its hash algorithm rewritten to 2 (unassigned), served
//! by Unbound's auth-zone (BIND and Knot refuse to load it). hickory-proto cannot decode such a
//! record; postura reads the algorithm raw and fails the zone on it.

use super::*;

#[test]
fn nsec3_with_an_unassigned_hash_algorithm_fails() {
    let zone = scan_zone("nsec3alg.test");
    assert_eq!(zone.error, None);
    assert_evidence_evaluates(&zone);
    let dnssec = zone.dnssec.as_ref().unwrap();
    let nsec3 = dnssec.nsec3.as_ref().expect("NSEC3PARAM read despite the unassigned algorithm");
    assert_eq!((nsec3.hash_algorithm, nsec3.iterations, nsec3.salt.as_str()), (2, 0, ""));
    let check = finding(&zone, "dns.dnssec.nsec3_hash_algorithm");
    assert_eq!(check.status, Status::Fail);
    assert_eq!(check.detail["hash_algorithm"], serde_json::json!(2));
    // The same check passes on a zone with SHA-1 NSEC3 (healthy) and on one with NSEC (expired).
    for other in ["healthy.test", "expired.test"] {
        assert_eq!(finding(&scan_zone(other), "dns.dnssec.nsec3_hash_algorithm").status, Status::Pass, "{other}");
    }
}
