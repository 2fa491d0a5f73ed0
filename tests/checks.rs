//! Checks as data, end to end: real servers → facts → findings under named policies, grades with
//! their SSL Labs rule, comply-or-explain with a fixed clock, custom check files without
//! rebuilding, and clear errors for malformed check files and policies.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::assess::{assess, scan_lab_target};
use common::*;
use postura::checks::catalog::Catalog;
use postura::checks::evaluate::Exception;
use postura::checks::model::Status;
use postura::checks::policy::Policy;
use postura::facts::ScanReport;

fn scan_report(address: SocketAddr) -> ScanReport {
    let report = scan_lab_target(address, postura::profile::Service::Tls, "operator", Duration::from_secs(10));
    assert_eq!(report.targets[0].error, None);
    report
}

fn failing(report: &ScanReport) -> BTreeSet<String> {
    report.targets[0].findings.iter().filter(|f| f.status == Status::Fail).map(|f| f.check.clone()).collect()
}

/// What every server of the test PKI fails, whatever its TLS configuration: the harness leaf is
/// valid for 397 days (over the CA/B Forum's 200-day limit for certificates issued after
/// 2026-03-15), names no OCSP responder or CRL, is not stapled and carries no SCT.
const LAB_PKI_FAILS: [&str; 4] =
    ["cert.lifetime_excessive", "cert.no_revocation_info", "cert.no_ocsp_stapling", "cert.no_sct"];

/// What every lab server on Debian's OpenSSL 3.0 (or 1.1.1) fails: it has no hybrid
/// post-quantum group (an info finding in today's baselines; `tests/pqc.rs` has one that passes).
const NO_HYBRID_GROUP: &str = "tls.pqc.hybrid_group";

/// The expected failing set: `ids` plus the test PKI's own failures and the missing hybrid group.
fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().chain(LAB_PKI_FAILS.iter()).chain([NO_HYBRID_GROUP].iter()).map(|s| s.to_string()).collect()
}

fn inconclusive(report: &ScanReport) -> Vec<String> {
    report.targets[0].findings.iter().filter(|f| f.status == Status::Inconclusive).map(|f| f.check.clone()).collect()
}

#[test]
fn legacy_openssl_fails_the_expected_checks_and_grades_f() {
    let server = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let report = scan_report(server.socket_addr());

    let mozilla = assess(&report, "mozilla-intermediate", vec![], "2026-01-01");
    assert_eq!(
        failing(&mozilla),
        set(&[
            "tls.protocol.tls10",
            "tls.protocol.tls11",
            "tls.protocol.no_tls13",
            "tls.cipher.null",
            "tls.cipher.anonymous",
            "tls.cipher.no_forward_secrecy",
            "tls.cipher.outside_policy",
            "tls.cipher.cbc_tls10",
            "tls.kex.dh_weak",
            "tls.vuln.logjam",
            "tls.vuln.lucky13",
        ])
    );
    // Only CAA is unknown: no zone was scanned beside the endpoint.
    assert_eq!(inconclusive(&mozilla), vec!["cert.caa_mismatch".to_string()]);
    // NIST: forward secrecy is not required (static RSA allowed), TLS 1.2 must be there.
    let nist = assess(&report, "nist-800-52r2", vec![], "2026-01-01");
    assert_eq!(
        failing(&nist),
        set(&[
            "tls.protocol.tls10",
            "tls.protocol.tls11",
            "tls.protocol.no_tls13",
            "tls.cipher.null",
            "tls.cipher.anonymous",
            "tls.cipher.outside_policy",
            "tls.cipher.cbc_tls10",
            "tls.kex.dh_weak",
            "tls.vuln.logjam",
            "tls.vuln.lucky13",
        ])
    );
    let finding = nist.targets[0].findings.iter().find(|f| f.check == "tls.protocol.tls10").unwrap();
    assert_eq!(finding.severity.name(), "high", "NIST raises TLS 1.0 to high");
    let nulls = &mozilla.targets[0].findings.iter().find(|f| f.check == "tls.cipher.null").unwrap().detail["suites"];
    assert!(nulls.as_array().unwrap().iter().any(|s| s == "TLSv1.2 TLS_RSA_WITH_NULL_SHA256"), "{nulls}");

    // SSL Labs: anonymous suites make the key-exchange score 0, so the score is 0 (F); NULL
    // encryption caps at F; TLS 1.0/1.1 cap at B; DH under 2048 bits caps at B; no TLS 1.3 A-.
    let grade = mozilla.targets[0].grade.as_ref().unwrap();
    assert_eq!(grade.grade, "F");
    assert_eq!(grade.score, 0);
    assert_eq!(grade.key_exchange_score, 0);
    for cap in [
        "F: NULL encryption accepted",
        "B: TLS 1.0 or 1.1 accepted",
        "B: key or DH parameters under 2048 bits",
        "A-: no TLS 1.3",
    ] {
        assert!(grade.caps.iter().any(|c| c.to_string() == *cap), "missing cap {cap}: {:?}", grade.caps);
    }
}

#[test]
fn tls13_only_passes_mozilla_but_not_nist() {
    let server = OpenSslServer::start_auto(&["-tls1_3"]);
    let report = scan_report(server.socket_addr());
    let mozilla = assess(&report, "mozilla-intermediate", vec![], "2026-01-01");
    // Apple Mail 16 has no TLS 1.3 (client simulation); Mozilla modern does not expect it.
    assert_eq!(failing(&mozilla), set(&["tls.clients.cannot_connect"]));
    let clients = mozilla.targets[0].findings.iter().find(|f| f.check == "tls.clients.cannot_connect").unwrap();
    assert_eq!(clients.detail["cannot_connect"], serde_json::json!(["Apple Mail 16.0"]));
    assert!(!failing(&assess(&report, "mozilla-modern", vec![], "2026-01-01")).contains("tls.clients.cannot_connect"));
    // Only CAA is unknown: no zone was scanned beside the endpoint.
    assert_eq!(inconclusive(&mozilla), vec!["cert.caa_mismatch".to_string()]);
    // NIST SP 800-52r2 requires TLS 1.2 and does not list ChaCha20.
    let nist = assess(&report, "nist-800-52r2", vec![], "2026-01-01");
    assert_eq!(
        failing(&nist),
        set(&["tls.protocol.no_tls12", "tls.cipher.outside_policy", "tls.clients.cannot_connect"])
    );
    // Protocol 100; key exchange 90 (ffdhe2048 offered: 2048–4095 bits → 90); cipher
    // (AES-128 → 80, AES-256 → 100) / 2 = 90; 0.3·100 + 0.3·90 + 0.4·90 = 93 → A, no cap; no
    // HSTS (not a web endpoint) so not A+.
    let grade = mozilla.targets[0].grade.as_ref().unwrap();
    assert_eq!((grade.grade.as_str(), grade.score), ("A", 93));
    assert!(grade.caps.is_empty(), "{:?}", grade.caps);
}

#[test]
fn dhe_1024_fails_logjam_and_grades_b() {
    let dh = Pki::shared().dh1024().to_str().unwrap().to_string();
    let server = OpenSslServer::start_auto(&["-no_tls1_3", "-cipher", "DHE:@SECLEVEL=0", "-dhparam", &dh]);
    let report = scan_report(server.socket_addr());
    let mozilla = assess(&report, "mozilla-intermediate", vec![], "2026-01-01");
    assert_eq!(
        failing(&mozilla),
        set(&[
            "tls.protocol.tls10",
            "tls.protocol.tls11",
            "tls.protocol.no_tls13",
            "tls.cipher.outside_policy",
            "tls.cipher.cbc_tls10",
            "tls.kex.dh_weak",
            // RFC 5114's group: prime, not a safe prime (a 160-bit subgroup).
            "tls.kex.dh_unsafe_prime",
            "tls.vuln.logjam",
            "tls.vuln.lucky13",
            // DHE only: current browsers offer no DHE suite (client simulation).
            "tls.clients.cannot_connect",
        ])
    );
    let dh_weak = mozilla.targets[0].findings.iter().find(|f| f.check == "tls.kex.dh_weak").unwrap();
    assert_eq!(dh_weak.detail["dh_bits"], serde_json::json!([1024, 1024, 1024]));
    // Protocol (100 + 90) / 2 = 95; key exchange DH 1024 → 80; cipher (128 → 80, 256 → 100) → 90;
    // (95·3 + 80·3 + 90·4) / 10 = 88 → A, capped at B by TLS 1.0/1.1 and by DH < 2048.
    let grade = mozilla.targets[0].grade.as_ref().unwrap();
    assert_eq!((grade.grade.as_str(), grade.score), ("B", 88));
    assert!(grade.caps.iter().any(|c| c.reason == postura::checks::grade::CapReason::WeakKeyOrDh && c.letter == "B"));
}

#[test]
fn nginx_mozilla_intermediate_5_7_config_is_outside_the_6_0_policy_only_for_dhe() {
    let server = Nginx::mozilla_intermediate();
    let report = scan_report(server.socket_addr());
    let mozilla = assess(&report, "mozilla-intermediate", vec![], "2026-01-01");
    assert_eq!(failing(&mozilla), set(&["tls.cipher.outside_policy"]));
    let outside = &mozilla.targets[0].findings.iter().find(|f| f.check == "tls.cipher.outside_policy").unwrap().detail
        ["outside_policy"];
    for suite in outside.as_array().unwrap() {
        assert!(suite.as_str().unwrap().contains("_DHE_RSA_"), "{suite}");
    }
    let nist = assess(&report, "nist-800-52r2", vec![], "2026-01-01");
    assert_eq!(failing(&nist), set(&["tls.cipher.outside_policy"]));
    let grade = mozilla.targets[0].grade.as_ref().unwrap();
    assert_eq!(grade.grade, "A", "{grade:?}");
}

#[test]
fn exceptions_hold_until_their_date_then_fail_again() {
    let server = OpenSslServer::start_auto(&[
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
        "-cipher",
        "DEFAULT:@SECLEVEL=0",
    ]);
    let report = scan_report(server.socket_addr());
    let exception = Exception {
        check: "tls.protocol.tls10".into(),
        target: format!("{TEST_HOST}:{}", server.port),
        reason: "legacy terminals until the 2027 upgrade".into(),
        approved_by: "CISO".into(),
        expires: "2027-03-31".into(),
    };
    let before = assess(&report, "mozilla-intermediate", vec![exception.clone()], "2027-03-31");
    let finding = before.targets[0].findings.iter().find(|f| f.check == "tls.protocol.tls10").unwrap();
    assert_eq!(finding.status, Status::Excepted);
    assert_eq!(finding.exception.as_ref().unwrap().reason, "legacy terminals until the 2027 upgrade");
    assert_eq!(before.assessment.as_ref().unwrap().counts.excepted, 1);

    let after = assess(&report, "mozilla-intermediate", vec![exception], "2027-04-01");
    let finding = after.targets[0].findings.iter().find(|f| f.check == "tls.protocol.tls10").unwrap();
    assert_eq!(finding.status, Status::Fail);
    assert!(finding.exception.as_ref().unwrap().expired);
    assert_eq!(finding.detail["exception"], "exception expired on 2027-03-31");
    assert_eq!(after.assessment.as_ref().unwrap().counts.excepted, 0);
}

#[test]
fn a_new_check_file_is_used_without_rebuilding() {
    let server = OpenSslServer::start_auto(&["-no_tls1_3"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.toml"),
        r#"
[[check]]
id = "local.tls.tls13_only"
category = "tls"
severity = "high"
facts = ["tls.protocols"]
rule = "tls.protocols.all(p, p == 'TLSv1.3')"
[check.evidence]
protocols = "tls.protocols"
[check.text.en]
title = "Only TLS 1.3 is accepted"
remediation = "Our national baseline requires TLS 1.3 only."
"#,
    )
    .unwrap();
    let target = format!("{TEST_HOST}:{}", server.port);
    let pin = format!("{TEST_HOST}:{}:{}", server.port, server.addr);
    let json = dir.path().join("scan.json");
    let output = Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(["scan", &target, "--resolve", &pin, "--quiet", "--checks"])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let finding = doc["targets"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "local.tls.tls13_only")
        .cloned();
    let finding = finding.expect("the new check ran");
    assert_eq!(finding["status"], "fail");
    assert_eq!(finding["detail"]["protocols"], serde_json::json!(["TLSv1.2"]));

    // The same through the checks directory itself: a copy of checks/ plus the new file.
    let catalog_dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/checks")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, catalog_dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(dir.path().join("local.toml"), catalog_dir.path().join("local.toml")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(["checks", "list", "--category", "tls"])
        .env("POSTURA_CHECKS_DIR", catalog_dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("local.tls.tls13_only"));

    // --fail-on gates CI on it.
    let output = Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(["scan", &target, "--resolve", &pin, "--quiet", "--fail-on", "high", "--checks"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

fn validate(files: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let output =
        Command::new(env!("CARGO_BIN_EXE_postura")).args(["checks", "validate"]).arg(dir.path()).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

const GOOD: &str = r#"[[check]]
id = "local.a"
category = "tls"
severity = "low"
facts = ["tls.protocols"]
rule = "size(tls.protocols) > 0"
[check.text.en]
title = "t"
remediation = "r"
"#;

#[test]
fn malformed_check_files_name_file_line_and_check() {
    let (code, _) = validate(&[("a.toml", GOOD)]);
    assert_eq!(code, 0);

    let (code, text) = validate(&[("bad.toml", "[[check]]\nid = \"local.a\"\ncategory = \n")]);
    assert_eq!(code, 2);
    assert!(text.contains("bad.toml:3:"), "syntax error names the line: {text}");

    let (code, text) =
        validate(&[("fact.toml", &GOOD.replace("facts = [\"tls.protocols\"]", "facts = [\"tls.protocolz\"]"))]);
    assert_eq!(code, 2);
    assert!(text.contains("fact.toml:5:") && text.contains("check local.a") && text.contains("unknown fact"), "{text}");
    assert!(text.contains("protocols"), "suggests the known fields: {text}");

    let (code, text) =
        validate(&[("rule.toml", &GOOD.replace("size(tls.protocols) > 0", "size(tls.protocolz) > 0 && ciphers"))]);
    assert_eq!(code, 2);
    assert!(text.contains("rule.toml:6:") && text.contains("unknown fact(s) ciphers"), "{text}");

    let (code, text) = validate(&[("type.toml", &GOOD.replace("severity = \"low\"", "severity = 3"))]);
    assert_eq!(code, 2);
    assert!(text.contains("type.toml:4:") && text.contains("invalid type"), "{text}");

    let (code, text) = validate(&[("sev.toml", &GOOD.replace("severity = \"low\"", "severity = \"urgent\""))]);
    assert_eq!(code, 2);
    assert!(text.contains("sev.toml:4:") && text.contains("unknown severity 'urgent'"), "{text}");

    let (code, text) = validate(&[("cel.toml", &GOOD.replace("size(tls.protocols) > 0", "size(tls.protocols) >"))]);
    assert_eq!(code, 2);
    assert!(text.contains("cel.toml:6:") && text.contains("not valid CEL"), "{text}");

    let (code, text) = validate(&[("a.toml", GOOD), ("b.toml", GOOD)]);
    assert_eq!(code, 2);
    assert!(text.contains("b.toml:1:") && text.contains("duplicate id"), "{text}");
}

#[test]
fn malformed_policies_name_file_and_line() {
    let catalog = Catalog::builtin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    let cases = [
        (
            "name = \"p\"\ntitle = \"t\"\ninclude = [\"tls.*\"]\n[severity]\n\"tls.protocol.tls99\" = \"high\"\n",
            "p.toml:5:",
            "unknown check id",
        ),
        ("name = \"p\"\ntitle = \"t\"\ninclude = [\"tls.protocol.tls99\"]\n", "p.toml:3:", "matches no check id"),
        (
            "name = \"p\"\ntitle = \"t\"\ninclude = [\"tls.*\"]\n[params.\"tls.kex.dh_weak\"]\nmin_bits = 3\n",
            "p.toml:4:",
            "unknown parameter 'min_bits'",
        ),
        (
            "name = \"p\"\ntitle = \"t\"\ninclude = [\"tls.*\"]\n[severity]\n\"tls.protocol.tls10\" = \"urgent\"\n",
            "p.toml:5:",
            "unknown severity",
        ),
        ("name = \"p\"\ntitle = 7\ninclude = [\"tls.*\"]\n", "p.toml:2:", "invalid type"),
    ];
    for (text, location, message) in cases {
        std::fs::write(&path, text).unwrap();
        let errors = Policy::load(path.to_str().unwrap(), &catalog).unwrap_err();
        let rendered: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(rendered.iter().any(|e| e.contains(location) && e.contains(message)), "{text}: {rendered:?}");
    }
    for name in postura::checks::policy::builtin_names() {
        Policy::load(name, &catalog).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

#[test]
fn every_built_in_check_is_translated() {
    // The shipped files, read from the source tree (not a POSTURA_CHECKS_DIR override).
    let schemas = postura::checks::schema_paths::FactSchema::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("checks");
    let catalog =
        Catalog { checks: postura::checks::catalog::load_dir(&dir, &schemas, true).unwrap(), sources: vec![] };
    assert!(catalog.checks.len() >= 25);
    for check in &catalog.checks {
        for lang in postura::checks::catalog::LANGUAGES {
            let text = check.text.get(lang).unwrap_or_else(|| panic!("{} lacks {lang}", check.id));
            assert!(!text.title.is_empty() && !text.remediation.is_empty());
        }
    }
}
