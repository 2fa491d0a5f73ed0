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
    assert_eq!(
        finding(alias, "dns.ns.shared_address").detail["shared_addresses"],
        serde_json::json!([KNOT_B])
    );
    let delegation = alias.delegation.as_ref().unwrap();
    let names: Vec<(&str, Option<&str>, Vec<String>)> = delegation
        .ns_names
        .iter()
        .map(|n| (n.name.as_str(), n.cname.as_deref(), n.addresses.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("ns1.alias.test.", None, vec![KNOT_B.to_string()]),
            (
                "ns2.alias.test.",
                Some("ns1.alias.test."),
                vec![KNOT_B.to_string()]
            ),
        ]
    );
    assert_eq!(delegation.shared_addresses, vec![KNOT_B]);
    assert_eq!(delegation.addresses, vec![KNOT_B]);
    // A Null MX (RFC 7505): no SMTP target comes from it, and "no MX" does not fail.
    let mail = alias.mail.as_ref().unwrap();
    assert!(mail.null_mx);
    assert_eq!(
        mail.mx
            .iter()
            .map(|m| (m.preference, m.exchange.as_str(), m.addresses.len()))
            .collect::<Vec<_>>(),
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
