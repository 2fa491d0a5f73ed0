//! Post-quantum readiness against real servers: OpenSSL 3.5.4's `s_server` (hybrid ML-KEM groups
//! by default) beside Debian's OpenSSL 3.0 `s_server` (none). The sweep sees X25519MLKEM768,
//! the check `tls.pqc.hybrid_group` passes on one and fails on the other, at info severity in
//! today's baseline and high in the forward-looking `pqc-2030`, and the country and regional
//! reports carry the share of endpoints offering a hybrid group (1 of 2); the country report's
//! client compatibility table counts the two endpoints' client simulations.

mod common;

use std::time::Duration;

use common::assess::{assess, scan_lab_target};
use common::openssl35::OpenSsl35Server;
use common::*;
use postura::checks::model::{Severity, Status};
use postura::facts::ScanReport;
use postura::profile::Service;
use postura::report::view::Document;
use postura::report::Renderer;

const CHECK: &str = "tls.pqc.hybrid_group";

fn finding(report: &ScanReport, check: &str) -> (Status, Severity) {
    let found = report.targets[0].findings.iter().find(|f| f.check == check).expect("finding");
    (found.status, found.severity)
}

#[test]
fn hybrid_group_seen_on_openssl_35_and_missing_on_openssl_30() {
    let modern = OpenSsl35Server::start(&[]);
    let debian = OpenSslServer::start_auto(&[]);
    let timeout = Duration::from_secs(10);
    let with_pqc = scan_lab_target(modern.addr, Service::Tls, "operator", timeout);
    let without = scan_lab_target(debian.socket_addr(), Service::Tls, "operator", timeout);

    let tls = with_pqc.targets[0].tls.as_ref().expect("tls facts");
    assert_eq!(tls.groups.first().map(String::as_str), Some("X25519MLKEM768"), "{:?}", tls.groups);
    assert!(tls.group_details.iter().any(|g| g.name == "X25519MLKEM768" && g.kind == "HYBRID"));
    let chrome = tls.clients.iter().find(|c| c.client == "chrome-137").expect("chrome simulated");
    assert_eq!(chrome.group.as_deref(), Some("X25519MLKEM768"));
    let plain = without.targets[0].tls.as_ref().expect("tls facts");
    assert!(plain.group_details.iter().all(|g| g.kind != "HYBRID"), "{:?}", plain.groups);
    assert!(!plain.groups.is_empty());

    // Today's baseline: informational; the forward-looking policy: high.
    for (policy, severity) in [("mozilla-intermediate", Severity::Info), ("pqc-2030", Severity::High)] {
        assert_eq!(finding(&assess(&with_pqc, policy, vec![], "2026-12-01"), CHECK), (Status::Pass, severity));
        assert_eq!(finding(&assess(&without, policy, vec![], "2026-12-01"), CHECK), (Status::Fail, severity));
    }
    // Groups not enumerated over TLS 1.3 (a failed probe) leave the verdict open.
    let mut unknown = with_pqc.clone();
    if let Some(tls) = unknown.targets[0].tls.as_mut() {
        tls.groups_protocol = None;
        tls.group_details.clear();
    }
    let verdict = finding(&assess(&unknown, "pqc-2030", vec![], "2026-12-01"), CHECK);
    assert_eq!(verdict, (Status::Inconclusive, Severity::High));
    // An info failure never lowers a score; a high one caps it at 50.
    let today = assess(&without, "mozilla-intermediate", vec![], "2026-12-01");
    let forward = assess(&without, "pqc-2030", vec![], "2026-12-01");
    let score = |r: &ScanReport| r.targets[0].score.as_ref().and_then(|s| s.value).expect("score");
    assert!(score(&forward) <= 50.0 && score(&forward) < score(&today), "{} vs {}", score(&forward), score(&today));

    // The national figure: one endpoint of two offers a hybrid group.
    let mut both = assess(&with_pqc, "mozilla-intermediate", vec![], "2026-12-01");
    both.targets.extend(assess(&without, "mozilla-intermediate", vec![], "2026-12-01").targets);
    let country = Renderer::new("en", None).unwrap().country(&Document::from_report(both.clone()), None, None).unwrap();
    assert!(country.contains("Hybrid post-quantum key exchange:</strong> 50"), "country report lacks the share");
    assert!(country.contains("(1 / 2 TLS endpoints)"));
    // The client compatibility section, from the same two endpoints' simulations.
    let row = |name: &str| {
        let start = country.find(&format!("<td>{name}</td>")).unwrap_or_else(|| panic!("no row for {name}"));
        country[start..].split("</tr>").next().unwrap_or_default().to_string()
    };
    assert!(country.contains("<h2>Client compatibility</h2>"));
    assert!(row("Chrome 137 (Windows 11)").contains("2 / 2"), "{}", row("Chrome 137 (Windows 11)"));
    assert!(row("Internet Explorer 6 (Windows XP)").contains("0 / 2"), "{}", row("Internet Explorer 6 (Windows XP)"));
    let failing_line = country.split("Clients that cannot connect (simulated):</b>").nth(1).unwrap_or_default();
    let failing_line = failing_line.split("<br>").next().unwrap_or_default();
    assert!(failing_line.contains("Internet Explorer 6 (Windows XP)"), "{failing_line}");
    assert!(!failing_line.contains("Chrome"), "{failing_line}");
    let regional = Renderer::new("fr", None).unwrap().regional(&[Document::from_report(both)], None).unwrap();
    assert!(regional.contains("Échange de clés hybride post-quantique"));
    assert!(regional.contains("1 / 2"));
    assert!(regional.contains("Part des points de terminaison TLS proposant un échange de clés hybride post-quantique"));
}
