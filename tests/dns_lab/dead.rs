//! dead.test: four nameservers that never answer (UDP or TCP). Nothing the zone's servers
//! would say can pass; "no working nameserver" is critical; the scan does not wait out the
//! timeout once per lookup and per dead address (issue 16: 135 s before).

use std::time::Instant;

use super::*;

#[test]
fn dead_zone() {
    let started = Instant::now();
    let dead = scan_zone("dead.test");
    let elapsed = started.elapsed();
    // One round of timeouts (the walk asks the four servers once: 4 × 3 s) and the probes'
    // SOA over UDP and TCP (in parallel: 6 s); everything after is not sent.
    assert!(elapsed.as_secs() < 30, "scan took {elapsed:?}");
    assert_eq!(
        dead.error.as_deref(),
        Some("no nameserver of dead.test. answered (127.0.27.1, 127.0.27.2, 127.0.27.3, 127.0.27.4 gave no usable answer over UDP or TCP); lookups only they could answer were not sent again")
    );
    let passing: Vec<&str> =
        dead.findings.iter().filter(|f| f.status == Status::Pass).map(|f| f.check.as_str()).collect();
    assert!(passing.is_empty(), "a zone with no answering server passes {passing:?}");
    assert_eq!(
        with_status(&dead, Status::Fail),
        ids(&[
            "dns.dnssec.unsigned",
            "dns.ns.no_ipv6",
            "dns.ns.no_working",
            "dns.ns.prefix_diversity",
            "dns.ns.special_purpose",
            "dns.ns.unresponsive",
        ])
    );
    assert_eq!(finding(&dead, "dns.ns.no_working").severity, postura::checks::model::Severity::Critical);
    assert_evidence_evaluates(&dead);
    // Rules that can only fail on the parent's data return null when nothing answered.
    assert_eq!(
        finding(&dead, "dns.ns.shared_address").detail["inconclusive"],
        serde_json::json!("the facts do not allow a verdict (the rule returned null)")
    );
    assert!(finding(&dead, "mail.mx.missing").detail["inconclusive"]
        .as_str()
        .is_some_and(|r| r.starts_with("nothing observed for fact(s): mail.rcodes.mx")));
    assert_eq!(dead.nameservers.len(), 4);
    for ns in &dead.nameservers {
        assert_eq!((ns.answered, ns.authoritative, ns.lame, ns.queries), (Some(false), None, None, 2), "{ns:?}");
        assert_eq!(ns.soa_udp, failed("no answer within 3000 ms"));
    }
    // Lookups after the first round are not sent, and say why.
    let mail = dead.mail.as_ref().unwrap();
    assert_eq!(mail.rcodes, Default::default());
    assert!(
        mail.errors
            .iter()
            .all(|e| e.contains("not asked: 127.0.27.1, 127.0.27.2, 127.0.27.3, 127.0.27.4 gave no answer earlier")),
        "{:?}",
        mail.errors
    );
    assert!(dead.caa.is_none());
    // The parent answered "no DS"; the zone itself said nothing.
    let dnssec = dead.dnssec.as_ref().unwrap();
    assert_eq!(
        (dnssec.status.as_str(), dnssec.reason.as_deref()),
        ("insecure", Some("no DS at the parent (the zone's DNSKEY set was not observed: no answer)"))
    );
    // About 4 queries from the walk, 8 from the probes, and the parent's and reverse lookups:
    // not one per lookup per address.
    assert!(dead.queries < 40, "{} queries", dead.queries);
}

/// The benchmark of issue 16 (`scripts/bench-dns-dead`): the same dead zone through
/// zonemaster-cli (Debian's 5.0.2, an independent implementation) in the same namespace. Both
/// must call the zone unusable; postura must not take more than twice Zonemaster's time.
#[test]
fn dead_zone_beside_zonemaster() {
    let lab = DnsLab::shared();
    let started = Instant::now();
    let output = lab
        .netns
        .command(&common::process::find_program("zonemaster-cli"))
        .args(["--hints"])
        .arg(&lab.hints)
        .args(["--no-ipv6", "--level", "WARNING", "--show-testcase", "--raw", "dead.test"])
        .output()
        .expect("zonemaster-cli (scripts/install-test-deps installs it)");
    let zonemaster = started.elapsed();
    let text = String::from_utf8_lossy(&output.stdout);
    let started = Instant::now();
    let dead = scan_zone("dead.test");
    let postura = started.elapsed();
    eprintln!("dead.test: postura {postura:?}, zonemaster-cli {zonemaster:?}\n{text}");
    // Zonemaster: no working nameserver (CRITICAL); postura: the critical finding.
    assert!(text.contains("CRITICAL  BASIC02        NO_GLUE_PREVENTS_NAMESERVER_TESTS"), "{text}");
    assert_eq!(finding(&dead, "dns.ns.no_working").status, Status::Fail);
    assert!(postura <= zonemaster * 2, "postura {postura:?}, zonemaster-cli {zonemaster:?}");
}
