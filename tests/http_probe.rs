//! The HTTP probe of https endpoints against real nginx servers: HSTS parsed from the HTTPS
//! answer, the redirect of plain http:// on port 80, and the http.* checks and A+ grade they
//! decide.

mod common;

use std::time::Duration;

use common::assess::{assess, scan_lab_target};
use common::*;
use postura::checks::model::Status;
use postura::facts::ScanReport;

fn scan_https(address: std::net::SocketAddr) -> ScanReport {
    let report = scan_lab_target(address, postura::profile::Service::Https, "regulator", Duration::from_secs(5));
    assess(&report, "mozilla-intermediate", vec![], "2026-01-01")
}

fn status(report: &ScanReport, check: &str) -> Status {
    report.targets[0].findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no finding {check}")).status
}

#[test]
fn hsts_and_redirect_are_seen_and_earn_a_plus() {
    let address = alloc_addr();
    let https = Nginx::start(
        address,
        DEFAULT_PORT,
        "ssl_protocols TLSv1.2 TLSv1.3;\nssl_ecdh_curve X25519:prime256v1:secp384r1;\nssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305;\nadd_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;",
    );
    let _plain = Nginx::start(
        address,
        80,
        &format!("listen {address}:80;\nlocation / {{ return 301 https://$host$request_uri; }}"),
    );
    let report = scan_https(https.socket_addr());
    let http = report.targets[0].http.as_ref().expect("http facts");
    let hsts = http.https.as_ref().unwrap().hsts.as_ref().expect("HSTS header");
    assert_eq!((hsts.max_age, hsts.include_subdomains, hsts.preload), (Some(63072000), true, false));
    let redirect = http.redirect.as_ref().unwrap();
    assert_eq!(redirect.listening, Some(true));
    assert_eq!(redirect.status, Some(301));
    assert_eq!(redirect.location.as_deref(), Some("https://postura.test/"));
    assert!(redirect.to_https);
    for check in ["http.hsts.missing", "http.hsts.short", "http.redirect.missing"] {
        assert_eq!(status(&report, check), Status::Pass, "{check}");
    }
    // Protocol 100; key exchange 90 (X25519/P-256/P-384 give 100, the RSA-2048 certificate key
    // 2048–4095 bits → 90); cipher (128 → 80, 256 → 100) → 90: 0.3·100 + 0.3·90 + 0.4·90 = 93
    // → A; trusted chain, no cap, HSTS ≥ 6 months → A+.
    let grade = report.targets[0].grade.as_ref().unwrap();
    assert_eq!((grade.grade.as_str(), grade.score), ("A+", 93), "{grade:?}");
    assert!(grade.missing.is_empty(), "{grade:?}");
}

#[test]
fn missing_hsts_and_plain_http_without_redirect_fail() {
    let address = alloc_addr();
    let https = Nginx::start(address, DEFAULT_PORT, "ssl_protocols TLSv1.2 TLSv1.3;");
    let _plain = Nginx::start(address, 80, &format!("listen {address}:80;"));
    let report = scan_https(https.socket_addr());
    assert_eq!(status(&report, "http.hsts.missing"), Status::Fail);
    assert_eq!(status(&report, "http.hsts.short"), Status::Inconclusive, "no header, no max-age to judge");
    assert_eq!(status(&report, "http.redirect.missing"), Status::Fail);
    let redirect = report.targets[0].http.as_ref().unwrap().redirect.as_ref().unwrap();
    assert_eq!((redirect.status, redirect.to_https), (Some(200), false));
    let grade = report.targets[0].grade.as_ref().unwrap();
    assert_ne!(grade.grade, "A+", "no HSTS, no A+");
}

#[test]
fn nothing_on_port_80_needs_no_redirect() {
    let https = Nginx::start_auto(
        "ssl_protocols TLSv1.2 TLSv1.3;\nadd_header Strict-Transport-Security \"max-age=300\" always;",
    );
    let report = scan_https(https.socket_addr());
    let redirect = report.targets[0].http.as_ref().unwrap().redirect.as_ref().unwrap();
    assert_eq!(redirect.listening, Some(false));
    assert_eq!(status(&report, "http.redirect.missing"), Status::Pass);
    assert_eq!(status(&report, "http.hsts.short"), Status::Fail, "max-age=300 is under the policy's two years");
}
