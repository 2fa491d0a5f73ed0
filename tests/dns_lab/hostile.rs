//! hostile.test: silent, garbage and compression-loop servers beside one good BIND.

use super::*;

#[test]
fn hostile_zone() {
    let hostile = scan_zone("hostile.test");
    assert_eq!(hostile.error, None);
    // One server works: no "no working nameserver", but three silent ones are a finding. BIND
    // "a" answers version.bind with a single space, which discloses nothing.
    assert_eq!(
        with_status(&hostile, Status::Fail),
        failing_with(&["dns.dnssec.unsigned", "dns.ns.prefix_diversity", "dns.ns.unresponsive"])
    );
    assert_eq!(finding(&hostile, "dns.ns.no_working").status, Status::Pass);
    assert_eq!(finding(&hostile, "dns.version.disclosed").status, Status::Pass);
    assert_evidence_evaluates(&hostile);
    let silent_list = finding(&hostile, "dns.ns.unresponsive").detail["silent"].clone();
    assert_eq!(silent_list.as_array().map(Vec::len), Some(3), "{silent_list}");
    assert_eq!(hostile.nameservers.len(), 4);
    assert_well_behaved(server(&hostile, BIND_A), 5);
    let silent = server(&hostile, SILENT);
    assert_eq!(
        (silent.soa_udp.clone(), silent.soa_tcp.clone()),
        (failed("no answer within 3000 ms"), failed("no answer within 3000 ms"))
    );
    assert_eq!(silent.axfr.error.as_deref(), Some("not asked: no answer to SOA over UDP or TCP"));
    assert_eq!((silent.queries, silent.answered), (2, Some(false)));
    let garbage = server(&hostile, GARBAGE);
    assert_eq!(garbage.soa_udp.error.as_deref(), Some("malformed answer: unrecognized label code: 1101100"));
    assert_eq!(garbage.soa_tcp.error, garbage.soa_udp.error);
    assert_eq!((garbage.answered, garbage.authoritative, garbage.lame), (Some(false), None, None));
    let looping = server(&hostile, LOOPING);
    for fact in [&looping.soa_udp, &looping.soa_tcp, &looping.aaaa] {
        assert!(
            fact.error.as_deref().is_some_and(|e| e.starts_with("malformed answer: label points to data not prior to")),
            "{fact:?}"
        );
    }
    assert_eq!(hostile.soa.as_ref().unwrap().serials, vec![5]);
}
