//! DNS facts and findings against a real lab (see `tests/common/dns.rs`): a private root and
//! `test.` TLD, BIND 9 and Knot authoritative servers, an Unbound validating resolver and
//! hostile nameservers, each on its own 127.0.x.y port 53 inside a network namespace. The lab is
//! started once per test process and shared; each zone (or case) is its own test with its own
//! scan (as `postura scan` runs it, inside the namespace), so that one failure does not hide
//! the others. Facts and the checks' verdicts are asserted exactly.

#[path = "../common/mod.rs"]
mod common;

mod alias;
mod anchor;
mod dead;
mod evidence;
mod expired;
mod healthy;
mod hostile;
mod inconsistent;
mod lame;
mod mail;
mod nsec3alg;
mod open;
mod optout;
mod profiles;
mod resolvers;
mod v6only;

use std::collections::BTreeSet;

use common::dns::*;
use postura::checks::model::{Finding, Status};
use postura::dns::facts::{NameserverFacts, QueryFact, ZoneFacts};
use postura::facts::ScanReport;

/// Per query: long enough for a loaded 2-core CI machine, short enough for silent servers.
pub const DNS_TIMEOUT: &str = "3";

/// Scan `zones` (and any other targets) in the shared lab with `extra` flags; the report.
pub fn scan(targets: &[&str], extra: &[&str]) -> ScanReport {
    let lab = DnsLab::shared();
    let hints = lab.hints.display().to_string();
    // BIND "a" and "open" in one AS, Knot "b" in another; 127.0.24.0/24 in none.
    let asn_table = lab.dir.path().join("asn.txt");
    if !asn_table.exists() {
        std::fs::write(&asn_table, "127.0.21.0/24 64501\n127.0.23.0/24 64501\n127.0.22.0/24 AS64502\n").unwrap();
    }
    let asn_table = asn_table.display().to_string();
    let mut args = vec![
        "scan",
        "--quiet",
        "--json",
        "-",
        "--root-hints",
        &hints,
        "--dns-timeout",
        DNS_TIMEOUT,
        "--asn-table",
        &asn_table,
    ];
    args.extend_from_slice(extra);
    let targets: Vec<String> =
        targets.iter().map(|t| if t.contains("://") { t.to_string() } else { format!("dns://{t}") }).collect();
    args.extend(targets.iter().map(String::as_str));
    let (status, stdout, stderr) = lab.postura(&args);
    assert!(status.success(), "{stderr}\n{}", lab.diagnostics());
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Scan one zone; its facts.
pub fn scan_zone(name: &str) -> ZoneFacts {
    let report = scan(&[name], &[]);
    zone(&report, &format!("{name}.")).clone()
}

pub fn zone<'a>(report: &'a ScanReport, name: &str) -> &'a ZoneFacts {
    report.zones.iter().find(|z| z.name == name).unwrap_or_else(|| panic!("no zone {name} in the report"))
}

pub fn server<'a>(zone: &'a ZoneFacts, address: &str) -> &'a NameserverFacts {
    zone.nameservers
        .iter()
        .find(|n| n.address == address)
        .unwrap_or_else(|| panic!("no server {address} in {}", zone.name))
}

pub fn answered(rcode: &str, authoritative: bool, answers: u32) -> QueryFact {
    QueryFact {
        rcode: Some(rcode.into()),
        authoritative: Some(authoritative),
        recursion_available: Some(false),
        truncated: Some(false),
        answers: Some(answers),
        opt: Some(true),
        error: None,
    }
}

pub fn failed(error: &str) -> QueryFact {
    QueryFact { error: Some(error.into()), ..QueryFact::default() }
}

/// Check ids of the zone's findings with `status`.
pub fn with_status(zone: &ZoneFacts, status: Status) -> BTreeSet<String> {
    zone.findings.iter().filter(|f| f.status == status).map(|f| f.check.clone()).collect()
}

pub fn finding<'a>(zone: &'a ZoneFacts, check: &str) -> &'a Finding {
    zone.findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no finding {check} for {}", zone.name))
}

pub fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Failing checks every zone of the lab shares: its nameservers are on loopback (a
/// special-purpose block) with no IPv6, and only mail.test publishes CAA, SPF and DMARC.
pub const LAB_WIDE: [&str; 3] = ["dns.ns.no_ipv6", "dns.ns.special_purpose", "dns.caa.missing"];

/// `LAB_WIDE`, no mail records (MX, SPF, DMARC), plus `extra`.
pub fn failing_with(extra: &[&str]) -> BTreeSet<String> {
    let mut set = ids(&LAB_WIDE);
    set.extend(
        ["mail.dmarc.missing", "mail.spf.missing", "mail.mx.missing"].iter().chain(extra).map(|s| s.to_string()),
    );
    set
}

/// The facts every well-behaved BIND/Knot server of the lab shows for a zone it serves.
pub fn assert_well_behaved(ns: &NameserverFacts, serial: u32) {
    let context = format!("{} {}", ns.name, ns.address);
    assert_eq!(ns.soa_udp, answered("NOERROR", true, 1), "{context}");
    assert_eq!(ns.soa_tcp, answered("NOERROR", true, 1), "{context}");
    assert_eq!((ns.answered, ns.authoritative, ns.lame), (Some(true), Some(true), Some(false)), "{context}");
    assert_eq!(ns.soa.as_ref().map(|s| s.serial), Some(serial), "{context}");
    assert_eq!(ns.recursion_offered, Some(false), "{context}");
    assert_eq!(ns.recursion.rcode.as_deref(), Some("REFUSED"), "{context}");
    assert_eq!(ns.axfr.open, Some(false), "{context}");
    assert_eq!(ns.aaaa, answered("NOERROR", true, 0), "{context}");
    assert_eq!(ns.upward_referral, Some(false), "{context}");
    let edns = &ns.edns;
    assert_eq!(edns.opt_returned, Some(true), "{context}");
    assert_eq!((edns.version1_rcode.as_deref(), edns.version1_opt_version), (Some("BADVERS"), Some(0)), "{context}");
    assert_eq!(edns.unknown_option_echoed, Some(false), "{context}");
    assert_eq!(edns.z_flag_cleared, Some(true), "{context}");
    assert!(edns.errors.is_empty(), "{context}: {:?}", edns.errors);
    // BIND "a" answers version.bind with one space (nothing disclosed); Knot with its version.
    let version = if ns.address == BIND_A { " " } else { "Knot DNS 3.2.6" };
    assert_eq!(ns.version_bind.text.as_deref(), Some(version), "{context}");
    assert_eq!(ns.version_bind.class.as_deref(), Some("CH"), "{context}");
}

/// No finding of the zone shows evidence that could not be evaluated.
pub fn assert_evidence_evaluates(zone: &ZoneFacts) {
    for finding in &zone.findings {
        for (name, value) in &finding.detail {
            assert!(
                !value.as_str().is_some_and(|v| v.starts_with("unavailable:")),
                "{} {}: evidence {name}: {value}",
                zone.name,
                finding.check
            );
        }
    }
}
