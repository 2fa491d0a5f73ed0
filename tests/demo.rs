//! The README's first command, end to end: `scripts/demo` on a fresh lab and a fresh output
//! directory (the test's own postura binary through `POSTURA_BIN`, so nothing is rebuilt), then
//! the report it wrote opened in headless Chromium, checking that every section has rows: TLS
//! and certificate findings on the endpoints, the DNS zones, the resolvers, mail, several
//! sectors, the approved exception.
//!
//! Needs root (the lab runs in a network namespace) and the lab's Debian packages
//! (`scripts/lab-deps`, which the demo runs itself) and Chromium (`scripts/install-test-deps`);
//! it fails, not skips, when they are missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Headless Chromium's DOM of a local file, isolated from the network and from any profile.
fn chromium_dom(file: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run chromium ({e}): run scripts/install-test-deps"));
    assert!(output.status.success(), "chromium: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The HTML of `<section id="ID">…</section>` in the DOM.
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom.find(&format!("<section id=\"{id}\"")).unwrap_or_else(|| panic!("the report has no section {id}"));
    let end = dom[start..].find("</section>").expect("section closed");
    &dom[start..start + end]
}

#[test]
fn the_demo_scans_the_whole_lab_country_and_its_report_fills_every_section() {
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(repo().join("scripts/demo"))
        .arg("--out")
        .arg(out.path())
        .env("POSTURA_BIN", env!("CARGO_BIN_EXE_postura"))
        .output()
        .expect("run scripts/demo");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "scripts/demo failed:\n{stdout}\n{stderr}");
    eprintln!("scripts/demo took {elapsed:?}");

    // Quiet: one line per step, then the compact summary; the full output is in the log.
    for step in [
        "[1] Installing missing Debian packages",
        "[2] Building postura",
        "[3] Starting the lab",
        "[4] Checking the country profile",
        "[5] Scanning the country",
    ] {
        assert!(stdout.contains(step), "no step line {step:?}:\n{stdout}");
    }
    assert!(stdout.lines().count() < 60, "not quiet:\n{stdout}");
    for line in [
        "portal.gob.zz:443",
        "cert.revoked",
        "cert.expired",
        "cert.self_signed",
        "cert.hostname_mismatch",
        "cert.chain_incomplete",
        "cert.key_weak",
        "cert.signature_weak",
        "cert.lifetime_excessive",
        "(excepted: tls.protocol.tls10)",
        "mx1.regulator.zz:25",
        "zone gob.zz.                                 DNSSEC bogus",
        "zone nic.zz.                                 DNSSEC secure",
        "resolver 127.0.30.1:53  open yes · validates yes",
        "resolver 127.0.30.2:53  open yes · validates no",
        "0 with errors",
    ] {
        assert!(stdout.contains(line), "summary lacks {line:?}:\n{stdout}");
    }
    let log = std::fs::read_to_string(out.path().join("lab-demo.log")).unwrap();
    assert!(log.contains("lab running in"), "the log has the lab's output");

    // The three files.
    let scan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("lab-scan.json")).unwrap()).unwrap();
    // The MX host is a declared endpoint: scanned once, linked to its zone.
    assert_eq!(scan["targets"].as_array().unwrap().len(), 15, "15 declared, the MX among them");
    assert!(
        scan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["port"] == 25 && t["mx_of"].as_array().is_some_and(|z| !z.is_empty())),
        "the declared MX is linked to its zone"
    );
    assert_eq!(scan["zones"].as_array().unwrap().len(), 7);
    assert_eq!(scan["resolvers"].as_array().unwrap().len(), 2);
    let csv = std::fs::read_to_string(out.path().join("lab-findings.csv")).unwrap();
    assert!(csv.lines().count() > 500, "{} CSV rows", csv.lines().count());

    let dom = chromium_dom(&out.path().join("lab-report.html"));
    // TLS and certificate findings, per endpoint.
    let endpoints = section(&dom, "endpoints");
    assert_eq!(endpoints.matches("<details class=\"item\"").count(), 15);
    for check in [
        "tls.cipher.null",
        "tls.kex.dh_weak",
        "tls.protocol.tls11",
        "cert.revoked",
        "cert.expired",
        "cert.self_signed",
        "cert.hostname_mismatch",
        "cert.chain_incomplete",
        "cert.key_weak",
        "cert.signature_weak",
        "cert.lifetime_excessive",
    ] {
        assert!(endpoints.contains(check), "endpoint evidence lacks {check}");
    }
    // DNS zones, with DNS and mail findings.
    let zones = section(&dom, "zones");
    assert_eq!(zones.matches("<details class=\"item\"").count(), 7);
    for check in [
        "dns.dnssec.rrsig_expired",
        "dns.delegation.lame",
        "dns.recursion.open",
        "dns.axfr.open",
        "mail.spf.permissive",
        "mail.dmarc.weak_policy",
    ] {
        assert!(zones.contains(check), "zones lack {check}");
    }
    // MTA-STS and DANE on regulator.zz: published, and the TLSA record matches Postfix's key.
    assert!(zones.contains("mail.dane") && zones.contains("mail.mta_sts"));
    let regulator =
        scan["zones"].as_array().unwrap().iter().find(|z| z["name"] == "regulator.zz.").expect("regulator.zz. scanned");
    let mail_verdicts: Vec<(String, String)> = regulator["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().starts_with("mail."))
        .map(|f| (f["check"].as_str().unwrap().to_string(), f["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(mail_verdicts.len(), 11, "{mail_verdicts:?}");
    assert!(mail_verdicts.iter().all(|(_, status)| status == "pass"), "{mail_verdicts:?}");
    // Resolvers.
    let resolvers = section(&dom, "resolvers");
    assert_eq!(resolvers.matches("<details class=\"item\"").count(), 2);
    assert!(resolvers.contains("resolver.not_validating") && resolvers.contains("resolver.open"));
    // Several sectors with their weights, operators, the exception.
    let sectors = section(&dom, "sectors");
    for name in ["ccTLD registry", "Government", "Operators", "Regulator", "CSIRT", "Internet exchange points"] {
        assert!(sectors.contains(name), "sectors lack {name}");
    }
    for operator in ["OldTel", "ZZ Mobile", "Telco ZZ", "ZZ Registry", "Ministry of Communications"] {
        assert!(sectors.contains(operator), "operators lack {operator}");
    }
    let exceptions = section(&dom, "exceptions");
    assert!(exceptions.contains("portal.oldtel.zz:443") && exceptions.contains("CISO, Telecom Regulator"));
    assert!(section(&dom, "top-checks").matches("<tr").count() > 5);
    let summary = section(&dom, "summary");
    assert!(
        summary.contains("Country index")
            && summary.contains("<div class=\"v\">7</div><div class=\"k\">DNS zones</div>")
    );
}

#[test]
fn the_demo_says_it_needs_root() {
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"])
        .arg(repo().join("scripts/demo"))
        .output()
        .expect("run setpriv (util-linux)");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("scripts/demo needs root"), "{stderr}");
    assert!(output.stdout.is_empty());
}
