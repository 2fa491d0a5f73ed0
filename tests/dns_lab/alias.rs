//! alias.test (Knot only): ns2.alias.test is a CNAME to ns1, so two NS names share one
//! address; a Null MX; an SPF record with a syntax error and `?all`.

use super::*;

#[test]
fn alias_zone() {
    let report = scan(&["alias.test"], &[]);
    let alias = zone(&report, "alias.test.");
    assert_eq!(alias.error, None);
    // Two NS names, one server: the NS count counts addresses too (Zonemaster DELEGATION02).
    assert_eq!(
        with_status(alias, Status::Fail),
        ids(&[
            "dns.caa.missing",
            "dns.dnssec.unsigned",
            "dns.ns.cname",
            "dns.ns.count",
            "dns.ns.no_ipv6",
            "dns.ns.prefix_diversity",
            "dns.ns.shared_address",
            "dns.ns.special_purpose",
            "dns.version.disclosed",
            "mail.dmarc.missing",
            "mail.spf.permissive",
            "mail.spf.syntax",
        ])
    );
    assert_evidence_evaluates(alias);
    assert_eq!(finding(alias, "dns.ns.shared_address").detail["shared_addresses"], serde_json::json!([KNOT_B]));
    let delegation = alias.delegation.as_ref().unwrap();
    let names: Vec<(&str, Option<&str>, Vec<String>)> =
        delegation.ns_names.iter().map(|n| (n.name.as_str(), n.cname.as_deref(), n.addresses.clone())).collect();
    assert_eq!(
        names,
        vec![
            ("ns1.alias.test.", None, vec![KNOT_B.to_string()]),
            ("ns2.alias.test.", Some("ns1.alias.test."), vec![KNOT_B.to_string()]),
        ]
    );
    assert_eq!(delegation.shared_addresses, vec![KNOT_B]);
    assert_eq!(delegation.addresses, vec![KNOT_B]);
    // A Null MX (RFC 7505): no SMTP target comes from it, and "no MX" does not fail.
    let mail = alias.mail.as_ref().unwrap();
    assert!(mail.null_mx);
    assert_eq!(
        mail.mx.iter().map(|m| (m.preference, m.exchange.as_str(), m.addresses.len())).collect::<Vec<_>>(),
        vec![(0, ".", 0)]
    );
    assert_eq!(finding(alias, "mail.mx.missing").status, Status::Pass);
    assert!(report.targets.is_empty());
    // SPF: `foo:bar` is no SPF term (RFC 7208 §12): a syntax error, and `?all` is permissive.
    let spf = mail.spf.as_ref().unwrap();
    assert_eq!(spf.syntax_errors, vec!["unknown term 'foo:bar'"]);
    assert_eq!(spf.all.as_deref(), Some("?"));
    assert_eq!(
        finding(alias, "mail.spf.syntax").detail["syntax_errors"],
        serde_json::json!(["unknown term 'foo:bar'"])
    );
    assert_eq!(alias.nameservers.len(), 2);
    for ns in &alias.nameservers {
        assert_well_behaved(ns, 9);
    }
}

/// A DS whose digest length contradicts its type (SHA-256 with 8 bytes), served by Knot at the
/// parent alias.test.
#[test]
fn ds_with_a_digest_of_the_wrong_length() {
    let zone = scan_zone("baddigest.alias.test");
    let dnssec = zone.dnssec.as_ref().unwrap();
    let ds: Vec<(u16, u8, u8, u32, Option<bool>)> = dnssec
        .ds
        .iter()
        .map(|d| (d.key_tag, d.algorithm, d.digest_type, d.digest_length, d.digest_length_valid))
        .collect();
    assert_eq!(ds, vec![(12345, 13, 2, 8, Some(false))]);
    let finding = finding(&zone, "dns.dnssec.ds_digest_length");
    assert_eq!(finding.status, Status::Fail);
    assert_eq!(finding.detail["ds"], serde_json::json!(["key tag 12345, digest type 2, 8 bytes"]));
    // The chain above: test. is signed and delegated from the root with a DS; alias.test is
    // not signed, so a DS below it protects nothing.
    let chain: Vec<(&str, &str)> = dnssec.chain.iter().map(|l| (l.zone.as_str(), l.status.as_str())).collect();
    assert_eq!(chain, vec![("test.", "secure"), ("alias.test.", "insecure")]);
    let broken = super::finding(&zone, "dns.dnssec.chain_broken");
    assert_eq!(broken.status, Status::Fail);
    assert_eq!(
        broken.detail["chain"],
        serde_json::json!(["test.: secure", "alias.test.: insecure (no DS at the parent, no DNSKEY)"])
    );
}
