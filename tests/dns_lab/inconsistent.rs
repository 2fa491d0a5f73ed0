//! inconsistent.test: serial 1 on BIND, 2 on Knot (with another SOA RNAME); the parent says
//! ns1+ns2, the child ns1+ns3; ns2's glue and its address in the zone differ; two addresses
//! where nothing listens.

use super::*;

#[test]
fn inconsistent_zone() {
    let inconsistent = scan_zone("inconsistent.test");
    assert_eq!(inconsistent.error, None);
    assert_eq!(
        with_status(&inconsistent, Status::Fail),
        failing_with(&[
            "dns.delegation.glue_mismatch",
            "dns.delegation.inconsistent",
            "dns.dnssec.unsigned",
            "dns.ns.unresponsive",
            "dns.soa.fields_mismatch",
            "dns.soa.serial_mismatch",
            "dns.version.disclosed",
        ])
    );
    assert_evidence_evaluates(&inconsistent);
    assert_eq!(
        finding(&inconsistent, "dns.delegation.glue_mismatch").detail["mismatched"],
        serde_json::json!([{"name": "ns2.inconsistent.test.", "glue": [KNOT_B], "zone": [GLUE_ELSEWHERE]}])
    );
    assert_eq!(
        finding(&inconsistent, "dns.ns.unresponsive").detail["silent"],
        serde_json::json!([
            "ns2.inconsistent.test. 127.0.22.2: connection refused",
            "ns3.inconsistent.test. 127.0.24.1: connection refused"
        ])
    );
    let delegation = inconsistent.delegation.as_ref().unwrap();
    assert_eq!(delegation.parent_ns, vec!["ns1.inconsistent.test.", "ns2.inconsistent.test."]);
    assert_eq!(delegation.child_ns, vec!["ns1.inconsistent.test.", "ns3.inconsistent.test."]);
    let flags: Vec<(&str, bool, bool)> =
        delegation.ns_names.iter().map(|n| (n.name.as_str(), n.in_parent, n.in_child)).collect();
    assert_eq!(
        flags,
        vec![
            ("ns1.inconsistent.test.", true, true),
            ("ns2.inconsistent.test.", true, false),
            ("ns3.inconsistent.test.", false, true)
        ]
    );
    // Glue and the child's own A record for ns2 differ: both addresses are probed.
    let ns2 = &delegation.ns_names[1];
    assert_eq!((ns2.glue.clone(), ns2.addresses.clone()), (vec![KNOT_B.to_string()], vec![GLUE_ELSEWHERE.to_string()]));
    assert_eq!(delegation.addresses, vec![BIND_A, KNOT_B, GLUE_ELSEWHERE, NOTHING]);
    assert_eq!(delegation.asns, Some(vec![64501, 64502]));
    assert_eq!(delegation.addresses_without_asn, vec![NOTHING]);
    assert_eq!(inconsistent.nameservers.len(), 4);
    assert_eq!(server(&inconsistent, GLUE_ELSEWHERE).soa_udp, failed("connection refused"));
    let soa = inconsistent.soa.as_ref().unwrap();
    assert_eq!(soa.serials, vec![1, 2]);
    // Knot's copy has another RNAME: the SOA fields differ (Zonemaster CONSISTENCY02).
    assert_eq!(soa.fields_consistent, Some(false));
    assert_well_behaved(server(&inconsistent, BIND_A), 1);
    assert_well_behaved(server(&inconsistent, KNOT_B), 2);
    assert_eq!(server(&inconsistent, KNOT_B).soa.as_ref().unwrap().rname, "dnsadmin.inconsistent.test.");
    let ns3 = server(&inconsistent, NOTHING);
    assert_eq!(
        (ns3.soa_udp.clone(), ns3.soa_tcp.clone()),
        (failed("connection refused"), failed("connection refused"))
    );
    assert_eq!((ns3.answered, ns3.authoritative, ns3.lame), (Some(false), None, None));
    // Nothing listens there: asked twice (SOA over UDP and TCP), then left alone.
    assert_eq!((ns3.queries, ns3.axfr.error.as_deref()), (2, Some("not asked: no answer to SOA over UDP or TCP")));
}
