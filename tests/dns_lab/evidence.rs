//! Every built-in zone and resolver check, on a failing case: its evidence expressions evaluate
//! (issue 16: `string(bool)`/`string(null)` made some print "unavailable: …" in every report).
//! Failing cases come from the lab's zones as scanned; the few faults no lab server shows (a
//! nameserver without TCP, an EDNS violation, bad SOA timers, expiring signatures, deprecated
//! algorithms, a DS that matches nothing, a small RSA key, a dropped AAAA
//! query, an upward referral once the open server's cache is warm, a CHAOS answer in class IN, an MX that is an alias, no
//! MTA-STS or TLS-RPT) are the
//! same real facts with that one value changed.

use std::collections::BTreeMap;

use postura::checks::catalog::{AppliesTo, Catalog};
use postura::checks::evaluate::{plain_document, Judge};
use postura::checks::policy::Policy;
use serde_json::{json, Value};

use super::*;

/// A zone's document with `path` (JSON pointer) set to `value`.
fn mutated(zone: &ZoneFacts, pointer: &str, value: Value) -> Value {
    let mut document = plain_document(zone);
    *document.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} not in {}", zone.name)) = value;
    document
}

#[test]
fn every_zone_and_resolver_check_fails_somewhere_with_evidence() {
    open::open_zone_facts();
    let zones = [
        "healthy.test",
        "open.test",
        "lame.test",
        "expired.test",
        "inconsistent.test",
        "mail.test",
        "hostile.test",
        "alias.test",
        "optout.test",
        "dead.test",
        "v6only.test",
        "baddigest.alias.test",
    ];
    let mut targets: Vec<&str> = zones.to_vec();
    targets.extend(["resolver://127.0.30.1", "resolver://127.0.23.1"]);
    let report = scan(&targets, &["--dns-signed-name", "www.healthy.test", "--dns-bogus-name", "www.expired.test"]);
    let catalog = Catalog::builtin().unwrap();
    let policy = Policy::load("mozilla-intermediate", &catalog).unwrap();
    let judge = Judge { checks: &catalog.checks, policy: &policy, lang: "en", exceptions: &[], today: "2026-01-01" };
    // Check id → the evidence of one failing finding.
    let mut failing: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut record = |findings: &[Finding]| {
        for finding in findings.iter().filter(|f| f.status == Status::Fail) {
            failing.entry(finding.check.clone()).or_insert_with(|| finding.detail.clone());
        }
    };
    for zone in &report.zones {
        record(&zone.findings);
    }
    for resolver in &report.resolvers {
        record(&resolver.findings);
    }
    let healthy = zone(&report, "healthy.test.");
    let mail = zone(&report, "mail.test.");
    let cases = [
        (healthy, "/nameservers/0/soa_tcp/rcode", Value::Null),
        (healthy, "/nameservers/0/edns/opt_returned", json!(false)),
        (healthy, "/soa/fields/refresh", json!(60)),
        (healthy, "/dnssec/signatures/0/seconds_left", json!(3600)),
        (healthy, "/dnssec/dnskeys/0/algorithm", json!(5)),
        (healthy, "/dnssec/ds_matches_dnskey", json!(false)),
        (healthy, "/dnssec/dnskeys/0/rsa_bits", json!(1024)),
        (healthy, "/dnssec/nsec3/hash_algorithm", json!(2)),
        (healthy, "/nameservers/0/aaaa/rcode", json!("SERVFAIL")),
        (healthy, "/nameservers/0/upward_referral", json!(true)),
        (healthy, "/nameservers/1/version_server/class", json!("IN")),
        (mail, "/mail/mx/0/cname", json!(true)),
        (mail, "/mail/mta_sts", json!([])),
        (mail, "/mail/tls_rpt", json!([])),
    ];
    for (zone, pointer, value) in cases {
        let document = mutated(zone, pointer, value);
        record(&judge.findings(AppliesTo::Zone, &document, "x", None));
    }
    for check in catalog.checks.iter().filter(|c| c.applies_to != AppliesTo::Target) {
        let detail = failing.get(&check.id).unwrap_or_else(|| panic!("no failing case for {}", check.id));
        assert_eq!(
            detail.keys().collect::<Vec<_>>(),
            check.evidence.iter().map(|(name, _, _)| name).collect::<Vec<_>>(),
            "{}",
            check.id
        );
        for (name, value) in detail {
            assert!(
                !value.as_str().is_some_and(|v| v.starts_with("unavailable:")),
                "{} evidence {name}: {value}",
                check.id
            );
        }
    }
    // The two expressions the issue names, as they now print.
    assert_eq!(
        failing["dns.edns.noncompliant"]["noncompliant"],
        json!(["ns1.healthy.test. 127.0.21.1: OPT missing, EDNS version 1 BADVERS"])
    );
    assert_eq!(failing["dns.dnssec.ds_mismatch"]["ds"].as_array().map(Vec::len), Some(1));
}
