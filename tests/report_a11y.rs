//! Accessibility (issue 15): every report — the country report in each language (with changes
//! since a previous scan), the regional report, the per-operator notices and a report stamped
//! for a signed bundle — has no WCAG 2.0/2.1 A or AA violation found by axe-core, run in the
//! system Chromium with every `<details>` opened, and makes no request and logs nothing.
//!
//! axe-core and playwright-core come from the npm registry (`tests/axe/package.json`, pinned in
//! its lock file; `scripts/install-test-deps` runs `npm ci` there); Chromium is Debian's. The
//! test fails, not skips, when they are missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::assess::{assess, report_of, scan_lab_target};
use common::*;
use postura::checks::catalog::Catalog;
use postura::checks::evaluate::Exception;
use postura::facts::{CountryInfo, ScanReport};
use postura::profile::Service;
use postura::report::notices::{render_notices, NoticeOptions};
use postura::report::view::Document;
use postura::report::Renderer;

/// Legacy OpenSSL (critical failures, an exception), nginx (Mozilla intermediate) and a closed
/// port (not testable), for two operators.
fn lab_country() -> ScanReport {
    let legacy = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let modern = Nginx::mozilla_intermediate();
    let closed = closed_port();
    let mut targets = Vec::new();
    for (address, sector, operator) in [
        (legacy.socket_addr(), "operator", "Legacy Telecom"),
        (modern.socket_addr(), "cctld", "Registry"),
        (closed, "regulator", "Regulator"),
    ] {
        let mut target = scan_lab_target(address, Service::Tls, sector, Duration::from_secs(5)).targets.remove(0);
        target.operator = Some(operator.into());
        targets.push(target);
    }
    let exception = Exception {
        check: "tls.protocol.tls10".into(),
        target: format!("{TEST_HOST}:{}", legacy.port),
        reason: "legacy terminals until the 2027 upgrade".into(),
        approved_by: "CISO of Legacy Telecom".into(),
        expires: "2099-03-31".into(),
    };
    let mut report = assess(&report_of(targets), "mozilla-intermediate", vec![exception], "2026-06-01");
    report.started_at = "2026-06-01T10:00:00Z".into();
    report.finished_at = "2026-06-01T10:05:00Z".into();
    report.country =
        Some(CountryInfo { code: "ZZ".into(), name: "Testland".into(), policy: None, profile: "zz.toml".into() });
    report
}

/// axe-core's findings on `files`: one JSON object per file.
fn axe(files: &[PathBuf]) -> Vec<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe/run.mjs");
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe/node_modules/axe-core").is_dir(),
        "axe-core is not installed: run scripts/install-test-deps (npm ci in tests/axe)"
    );
    let output = Command::new("node").arg(script).args(files).output().expect("node (scripts/install-test-deps)");
    assert!(output.status.success(), "axe run failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[test]
fn every_report_in_every_language_has_no_axe_violation() {
    let report = lab_country();
    let catalog = Catalog::builtin().unwrap();
    let document = Document::from_report(report.clone());
    let mut before = report.clone();
    before.started_at = "2026-03-01T10:00:00Z".into();
    for target in &mut before.targets {
        for finding in &mut target.findings {
            // A different past: some failures were passes (regressions), some passes failures.
            finding.status = match finding.status {
                postura::checks::model::Status::Fail => postura::checks::model::Status::Pass,
                postura::checks::model::Status::Pass => postura::checks::model::Status::Fail,
                other => other,
            };
        }
    }
    let previous = Document::from_report(before);
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut write = |name: String, html: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, html).unwrap();
        files.push(path);
    };
    // The trend section (reports from the store) in every language too.
    let trend = |id: i64, index: f64, failing: &[(&str, i64)]| postura::store::TrendRow {
        id,
        started_at: format!("2026-0{id}-01T03:00:00Z"),
        index: Some(index),
        failing: failing.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
    };
    for lang in ["en", "es", "pt", "fr"] {
        let mut renderer = Renderer::new(lang, None).unwrap();
        renderer.set_trend(vec![
            trend(1, 71.5, &[("high", 3), ("medium", 5)]),
            trend(2, 48.0, &[("critical", 1), ("high", 6), ("medium", 5), ("low", 2), ("info", 1)]),
            trend(3, 64.2, &[("high", 2), ("medium", 4)]),
        ]);
        write(format!("country-{lang}.html"), renderer.country(&document, Some(&previous), Some(&catalog)).unwrap());
        let mut other = report.clone();
        other.country =
            Some(CountryInfo { code: "YY".into(), name: "Otherland".into(), policy: None, profile: "yy.toml".into() });
        other.targets.truncate(2);
        let other = assess(&other, "mozilla-intermediate", Vec::new(), "2026-06-01");
        write(
            format!("regional-{lang}.html"),
            renderer
                .regional(&[Document::from_report(report.clone()), Document::from_report(other)], Some(&catalog))
                .unwrap(),
        );
        let options = NoticeOptions {
            lang,
            templates: None,
            contacts: &[],
            catalog: Some(&catalog),
            stamp: Some(("sha256:0123abcd", "SHA256:key")),
        };
        for notice in render_notices(&document, &options).unwrap() {
            write(format!("{}-{lang}.html", notice.stem), notice.html);
        }
    }
    // The index card in each of its colours (this scan's own band is "poor").
    for band in ["good", "fair", "none"] {
        let mut banded = report.clone();
        banded.assessment.as_mut().unwrap().headline.as_mut().unwrap().band = band.into();
        let html =
            Renderer::new("en", None).unwrap().country(&Document::from_report(banded), None, Some(&catalog)).unwrap();
        write(format!("country-band-{band}.html"), html);
    }
    // Grade badges of every colour (B, D and "not graded" do not occur in this scan).
    let mut graded = report.clone();
    for (target, letter) in graded.targets.iter_mut().zip(["B", "D", "T"]) {
        if let Some(grade) = target.grade.as_mut() {
            grade.grade = letter.into();
        }
    }
    graded.targets[0].operator = Some("Other".into());
    write(
        "country-grades.html".into(),
        Renderer::new("en", None).unwrap().country(&Document::from_report(graded), None, Some(&catalog)).unwrap(),
    );
    let mut stamped = Renderer::new("en", None).unwrap();
    stamped.stamp("sha256:0123abcd", "SHA256:key");
    write("bundle-report.html".into(), stamped.country(&document, None, Some(&catalog)).unwrap());

    // A control: the same report with its muted text made pale must fail on colour contrast,
    // so a clean result means the rules ran, not that nothing was looked at.
    let country = std::fs::read_to_string(&files[0]).unwrap();
    let control = dir.path().join("control.html");
    std::fs::write(&control, country.replacen("</style>", ".muted{color:#cbd5e1}</style>", 1)).unwrap();

    let mut results = axe(&[files.clone(), vec![control]].concat());
    let control = results.pop().unwrap();
    let control_ids: Vec<&str> =
        control["violations"].as_array().unwrap().iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(control_ids, ["color-contrast"], "the control");
    assert_eq!(results.len(), files.len());
    let mut problems = Vec::new();
    for result in &results {
        let file = result["file"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
        assert!(result["passes"].as_u64().unwrap() > 10, "{file}: axe ran no rule?");
        for violation in result["violations"].as_array().unwrap() {
            problems.push(format!(
                "{file}: {} ({}, {} nodes) {}",
                violation["id"], violation["impact"], violation["nodes"], violation["examples"]
            ));
        }
        for key in ["console", "requests"] {
            for item in result[key].as_array().unwrap() {
                problems.push(format!("{file}: {key}: {item}"));
            }
        }
    }
    eprintln!("axe-core {} on {} reports", results[0]["axe"], results.len());
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
