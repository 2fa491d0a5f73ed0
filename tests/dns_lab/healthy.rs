//! healthy.test: signed (RSA-2048, NSEC3 without iterations or salt), on BIND and Knot.

use super::*;

#[test]
fn healthy_zone() {
    let healthy = scan_zone("healthy.test");
    assert_eq!(healthy.error, None);
    // Knot discloses its version by default; nothing else is wrong beyond the lab-wide facts.
    assert_eq!(with_status(&healthy, Status::Fail), failing_with(&["dns.version.disclosed"]));
    assert_evidence_evaluates(&healthy);
    let versions = &finding(&healthy, "dns.version.disclosed").detail["versions"];
    assert_eq!(
        versions,
        &serde_json::json!([
            "ns2.healthy.test. 127.0.22.1 version.bind: Knot DNS 3.2.6",
            "ns2.healthy.test. 127.0.22.1 version.server: Knot DNS 3.2.6"
        ])
    );
    let delegation = healthy.delegation.as_ref().unwrap();
    assert_eq!(delegation.parent, "test.");
    assert_eq!(delegation.parent_servers, vec![TLD]);
    assert_eq!(delegation.parent_ns, vec!["ns1.healthy.test.", "ns2.healthy.test."]);
    assert_eq!(delegation.child_ns, delegation.parent_ns);
    assert_eq!(delegation.addresses, vec![BIND_A, KNOT_B]);
    assert!(delegation.shared_addresses.is_empty());
    assert_eq!(delegation.ipv4_prefixes, vec!["127.0.21.0/24", "127.0.22.0/24"]);
    assert!(delegation.ipv6_prefixes.is_empty());
    assert_eq!((delegation.ns_with_ipv4, delegation.ns_with_ipv6), (2, 0));
    assert_eq!(delegation.asns, Some(vec![64501, 64502]));
    assert!(delegation.addresses_without_asn.is_empty());
    let reverse: Vec<(&str, Option<&str>, Vec<String>)> =
        delegation.reverse.iter().map(|r| (r.address.as_str(), r.rcode.as_deref(), r.names.clone())).collect();
    assert_eq!(
        reverse,
        vec![(BIND_A, Some("NOERROR"), vec!["ns1.healthy.test.".to_string()]), (KNOT_B, Some("NXDOMAIN"), vec![])]
    );
    assert_eq!(delegation.special_purpose.len(), 2);
    assert!(delegation.special_purpose.iter().all(|s| s.range == "127.0.0.0/8 (loopback)" && !s.globally_reachable));
    for ns in &delegation.ns_names {
        assert!(ns.in_parent && ns.in_child && ns.cname.is_none() && ns.error.is_none(), "{ns:?}");
        assert_eq!(ns.glue, ns.addresses, "{ns:?}");
    }
    assert_eq!(finding(&healthy, "dns.delegation.glue_mismatch").status, Status::Pass);
    assert_eq!(healthy.nameservers.len(), 2);
    for ns in &healthy.nameservers {
        assert_well_behaved(ns, 2024010101);
        assert_eq!(ns.ns_set, vec!["ns1.healthy.test.", "ns2.healthy.test."]);
        // Two RSA-2048 DNSKEYs and their RRSIGs do not fit 512 bytes: TC, and OPT kept.
        assert_eq!(
            (ns.edns.small_payload_truncated, ns.edns.truncated_keeps_opt),
            (Some(true), Some(true)),
            "{}",
            ns.address
        );
    }
    assert_eq!(server(&healthy, BIND_A).axfr.rcode.as_deref(), Some("REFUSED"));
    assert_eq!(server(&healthy, KNOT_B).version_server.text.as_deref(), Some("Knot DNS 3.2.6"));
    assert_eq!(server(&healthy, KNOT_B).axfr.rcode.as_deref(), Some("NOTAUTH"));
    let soa = healthy.soa.as_ref().unwrap();
    let fields = soa.fields.as_ref().unwrap();
    assert_eq!(
        (fields.mname.as_str(), fields.rname.as_str(), fields.refresh, fields.retry, fields.expire, fields.minimum),
        ("ns1.healthy.test.", "hostmaster.healthy.test.", 14400, 3600, 1209600, 3600)
    );
    assert_eq!((soa.serials.clone(), soa.fields_consistent), (vec![2024010101], Some(true)));
    let dnssec = healthy.dnssec.as_ref().unwrap();
    assert_eq!((dnssec.status.as_str(), dnssec.reason.as_deref()), ("secure", None));
    assert_eq!(dnssec.ds.len(), 1);
    let ds = &dnssec.ds[0];
    assert_eq!(
        (ds.algorithm, ds.digest_type, ds.digest_length, ds.digest_length_valid, ds.matches_dnskey),
        (8, 2, 32, Some(true), true)
    );
    assert_eq!(dnssec.ds_matches_dnskey, Some(true));
    let mut keys: Vec<(u16, u8, bool, Option<u32>)> =
        dnssec.dnskeys.iter().map(|k| (k.flags, k.algorithm, k.sep, k.rsa_bits)).collect();
    keys.sort();
    assert_eq!(keys, vec![(256, 8, false, Some(2048)), (257, 8, true, Some(2048))]);
    let mut covered: Vec<&str> = dnssec.signatures.iter().map(|s| s.covers.as_str()).collect();
    covered.sort();
    assert_eq!(covered, vec!["DNSKEY", "DNSKEY", "NS", "SOA"]);
    for signature in &dnssec.signatures {
        assert!(signature.valid && signature.error.is_none(), "{signature:?}");
        // dnssec-signzone's defaults: inception 1 h ago, expiration 30 days after.
        assert!((29 * 86400..=30 * 86400).contains(&signature.seconds_left), "{signature:?}");
    }
    // NSEC3 parameters from NSEC3PARAM and the denial's NSEC3 records: SHA-1, no opt-out.
    let nsec3 = dnssec.nsec3.as_ref().unwrap();
    assert_eq!((nsec3.hash_algorithm, nsec3.iterations, nsec3.salt.as_str(), nsec3.opt_out), (1, 0, "", Some(false)));
    let denial = dnssec.denial.as_ref().unwrap();
    assert_eq!(
        (denial.rcode.as_deref(), denial.kind.as_deref(), denial.signed),
        (Some("NXDOMAIN"), Some("NSEC3"), true)
    );
    // NXDOMAIN with NSEC3: closest encloser, next closer and wildcard proofs (2 or 3 NSEC3s).
    assert!((2..=3).contains(&denial.signatures.len()), "{denial:?}");
    assert!(denial.signatures.iter().all(|s| s.covers == "NSEC3" && s.valid && s.seconds_left > 0), "{denial:?}");
    assert!(dnssec.errors.is_empty(), "{:?}", dnssec.errors);
    // The chain above: test., delegated from the lab root with a DS.
    assert_eq!(
        dnssec.chain,
        vec![postura::dns::facts::ChainLink { zone: "test.".into(), status: "secure".into(), reason: None }]
    );
    for check in [
        "dns.dnssec.chain_broken",
        "dns.dnssec.bogus",
        "dns.dnssec.unsigned",
        "dns.dnssec.nsec3_parameters",
        "dns.dnssec.ds_mismatch",
        "dns.dnssec.ds_digest_length",
    ] {
        assert_eq!(finding(&healthy, check).status, Status::Pass, "{check}");
    }
    // No MX and no Null MX: a finding (answered: NOERROR, no records).
    let mail = healthy.mail.as_ref().unwrap();
    assert!(mail.mx.is_empty() && mail.spf.is_none() && mail.dmarc.is_none() && mail.errors.is_empty(), "{mail:?}");
    assert_eq!(mail.rcodes.mx.as_deref(), Some("NOERROR"));
    assert_eq!(finding(&healthy, "mail.mx.missing").status, Status::Fail);
    assert!(mail.mta_sts.is_empty() && mail.mta_sts_policy.is_none());
    // CAA: the lookups were answered and found nothing on the way up.
    assert_eq!(healthy.caa.as_ref().unwrap().found_at, None);
}
