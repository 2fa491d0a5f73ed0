//! Reports end to end: a real scan of test servers rendered as HTML and opened in headless
//! Chromium (no console error, no network request, screenshot, PDF), hostile strings in every
//! network-derived field made inert in HTML and CSV, the four languages, changes since a
//! previous scan, the regional report, template overrides and the `report` command.
//!
//! Chromium and poppler-utils come from `scripts/install-test-deps` (Debian packages
//! `chromium`, `poppler-utils`); these tests fail, not skip, when they are missing.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use postura::checks::catalog::Catalog;
use postura::checks::evaluate::Exception;
use postura::checks::policy::Policy;
use postura::checks::Assessor;
use postura::engine::{run, ScanOptions};
use postura::facts::{CountryInfo, ScanReport, ToolInfo};
use postura::report::view::Document;
use postura::report::Renderer;
use postura::target::TargetSpec;
use serde_json::json;

fn spec(address: SocketAddr, sector: &str, operator: &str, service: &str) -> TargetSpec {
    TargetSpec {
        host: TEST_HOST.into(),
        port: address.port(),
        service: service.parse().unwrap(),
        pinned: vec![address.ip()],
        sector: Some(sector.into()),
        operator: Some(operator.into()),
        xmpp_domain: None,
    }
}

/// Scan the given endpoints and assess them as a country profile would (one exception).
fn scan_and_assess(specs: Vec<TargetSpec>, exception_port: Option<u16>) -> ScanReport {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = ScanOptions { timeout: Duration::from_secs(10), ..Default::default() };
    let started_at = postura::now_rfc3339();
    let targets = runtime.block_on(run(specs, &options, None, |_| {}));
    let mut report = ScanReport {
        schema_version: postura::facts::SCHEMA_VERSION,
        tool: ToolInfo { name: "postura".into(), version: env!("CARGO_PKG_VERSION").into() },
        started_at,
        finished_at: postura::now_rfc3339(),
        country: Some(CountryInfo {
            code: "ZZ".into(),
            name: "Testland".into(),
            policy: Some("mozilla-intermediate".into()),
            profile: "profiles/test.toml".into(),
        }),
        targets,
        assessment: None,
        zones: Vec::new(),
        resolvers: Vec::new(),
    };
    let catalog = Catalog::builtin().unwrap();
    let policy = Policy::load("mozilla-intermediate", &catalog).unwrap();
    let exceptions = exception_port
        .map(|port| Exception {
            check: "tls.protocol.tls10".into(),
            target: format!("{TEST_HOST}:{port}"),
            reason: "legacy terminals until the 2027 upgrade".into(),
            approved_by: "CISO of Legacy Telecom".into(),
            expires: "2099-03-31".into(),
        })
        .into_iter()
        .collect();
    Assessor {
        catalog: &catalog,
        policy: &policy,
        lang: "en".into(),
        exceptions,
        sector_weights: BTreeMap::from([("cctld".to_string(), 2.0)]),
        today: "2026-06-01".into(),
    }
    .assess(&mut report);
    report
}

/// Legacy OpenSSL (TLS 1.0–1.2, everything), nginx (Mozilla intermediate) and a closed port.
fn real_scan() -> ScanReport {
    let legacy = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let nginx = Nginx::mozilla_intermediate();
    let closed = closed_port();
    let report = scan_and_assess(
        vec![
            spec(legacy.socket_addr(), "operator", "Legacy Telecom", "tls"),
            spec(nginx.socket_addr(), "cctld", "Registry", "tls"),
            spec(closed, "regulator", "Regulator", "tls"),
        ],
        Some(legacy.port),
    );
    assert!(report.targets[0].error.is_none() && report.targets[1].error.is_none(), "{:?}", report.targets);
    assert!(report.targets[2].error.is_some());
    report
}

fn catalog() -> Catalog {
    Catalog::builtin().unwrap()
}

fn render(report: &ScanReport, lang: &str) -> String {
    Renderer::new(lang, None).unwrap().country(&Document::from_report(report.clone()), None, Some(&catalog())).unwrap()
}

struct Chromium {
    stdout: String,
    stderr: String,
}

/// Headless Chromium on a local file, isolated from the network and from any profile.
fn chromium(file: &Path, extra: &[&str]) -> Chromium {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    command.arg(format!("--user-data-dir={}", profile.path().display()));
    command.args(extra);
    command.arg(format!("file://{}", file.display()));
    let output = command.output().unwrap_or_else(|e| {
        panic!("cannot run chromium ({e}): run scripts/install-test-deps (Debian package chromium)")
    });
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "chromium failed: {stderr}");
    Chromium { stdout: String::from_utf8_lossy(&output.stdout).to_string(), stderr }
}

/// Every console message Chromium logged (script errors, blocked loads, CSP violations).
fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// Any reference to a resource outside the file: src/href/url()/@import with a scheme or a
/// protocol-relative URL.
fn external_references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for pattern in ["src=", "href=", "url(", "@import", "srcset=", "action=", "data="] {
        let mut rest = lower.as_str();
        while let Some(at) = rest.find(pattern) {
            let after = rest[at + pattern.len()..].trim_start_matches(['"', '\'', ' ']);
            if after.starts_with("http:")
                || after.starts_with("https:")
                || after.starts_with("//")
                || after.starts_with("ftp:")
            {
                found.push(after.chars().take(60).collect());
            }
            rest = &rest[at + pattern.len()..];
        }
    }
    found
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const SECTIONS: [&str; 8] = [
    "id=\"summary\"",
    "id=\"charts\"",
    "id=\"sectors\"",
    "id=\"top-checks\"",
    "id=\"exceptions\"",
    "id=\"endpoints\"",
    "id=\"methodology\"",
    "class=\"toc\"",
];

#[test]
fn a_real_scan_report_opens_in_chromium_without_console_errors_or_network_and_shows_its_sections() {
    let report = real_scan();
    let html = render(&report, "en");
    assert_eq!(external_references(&html), Vec::<String>::new());
    assert!(!html.to_ascii_lowercase().contains("<script"), "a report has no script");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "report.html", &html);

    let dom = chromium(&file, &["--dump-dom"]);
    assert_eq!(console_messages(&dom.stderr), Vec::<&str>::new());
    for section in SECTIONS {
        assert!(dom.stdout.contains(section), "DOM lacks {section}");
    }
    // What the sections say, from the real scan.
    for text in [
        "Executive summary",
        "The five most important problems",
        "No anonymous (unauthenticated) suite is accepted",
        "legacy terminals until the 2027 upgrade",
        "CISO of Legacy Telecom",
        "TLS_RSA_WITH_NULL_SHA256",
        "Grade distribution",
        "Legacy Telecom",
        "mozilla-intermediate",
    ] {
        assert!(dom.stdout.contains(text), "DOM lacks {text:?}");
    }
    // n= is honest: three endpoints declared, one could not be tested.
    assert!(dom.stdout.contains("<strong>3</strong> declared endpoints"), "endpoint count");
    assert!(dom.stdout.contains("<strong>1</strong> could not be tested"), "not-testable count");
    assert_eq!(dom.stdout.matches("<details class=\"item\"").count(), 3);
    assert_eq!(dom.stdout.matches("<svg class=\"chart\"").count(), 4);

    let png = dir.path().join("shot.png");
    let shot = chromium(&file, &["--window-size=1200,2000", &format!("--screenshot={}", png.display())]);
    assert_eq!(console_messages(&shot.stderr), Vec::<&str>::new());
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height as asked; a blank page compresses to a few kB, a report does not.
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 1200);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 2000);
    assert!(bytes.len() > 60_000, "screenshot is {} bytes: blank?", bytes.len());
}

#[test]
fn a_real_scan_report_prints_to_a4_pdf_with_every_section() {
    let report = real_scan();
    let html = render(&report, "es");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "informe.html", &html);
    let pdf = dir.path().join("informe.pdf");
    let printed = chromium(&file, &["--no-pdf-header-footer", &format!("--print-to-pdf={}", pdf.display())]);
    assert_eq!(console_messages(&printed.stderr), Vec::<&str>::new());
    let bytes = std::fs::read(&pdf).expect("PDF written");
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(bytes.len() > 30_000, "PDF is {} bytes", bytes.len());

    let info =
        Command::new("pdfinfo").arg(&pdf).output().expect("pdfinfo (poppler-utils): run scripts/install-test-deps");
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let pages: usize = info.lines().find_map(|l| l.strip_prefix("Pages:")).unwrap().trim().parse().unwrap();
    assert!(pages >= 6, "sections start on new pages: {pages} pages");
    assert!(info.lines().any(|l| l.starts_with("Page size:") && l.ends_with("(A4)")), "{info}");
    let text = Command::new("pdftotext").args(["-layout"]).arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    for heading in ["Resumen ejecutivo", "Gráficos", "Sectores y operadores", "Metodología", "Cumplir o explicar"] {
        assert!(text.contains(heading), "PDF lacks {heading:?}");
    }
    // Printing expands every endpoint's <details>: the evidence of both tested endpoints is on
    // paper (a long suite list may wrap, hence the comparison without white space).
    assert!(text.matches("Protocolos y suites de cifrado").count() >= 2, "endpoint evidence missing from the PDF");
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(compact.contains("TLS_RSA_WITH_NULL_SHA256"), "suite list missing from the PDF");
}

const HOSTILE: [&str; 7] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
    "{{#each t}}{{this}}{{/each}}{{{lang}}}",
    "=HYPERLINK(\"http://evil.example/\",\"x\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
];

/// A scan document with a hostile string in every field that comes from the network or from a
/// profile, including sections (certificate, zones, resolvers) this build reads generically.
fn hostile_document() -> Document {
    let h = |i: usize| HOSTILE[i % HOSTILE.len()].to_string();
    let finding = |i: usize, status: &str| {
        json!({
            "check": format!("custom.{i}"), "category": "tls", "status": status, "severity": "high",
            "title": h(i), "remediation": h(i + 1), "references": [h(i + 2)],
            "detail": {"suites": [h(i + 3), h(i + 4)], "value": h(i + 5)},
            "exception": if status == "excepted" { json!({"reason": h(i), "approved_by": h(i + 1), "expires": h(i + 2), "expired": false}) } else { json!(null) },
        })
    };
    let target = |i: usize| {
        json!({
            "host": h(i), "port": 443, "address": h(i + 1), "sni": h(i + 2), "service": "https",
            "sector": h(i + 4), "operator": h(i + 5), "error": if i == 1 { json!(h(i)) } else { json!(null) },
            "started_at": h(i), "duration_ms": 1,
            "tls": {
                "protocols": ["TLSv1.2"],
                "protocol_details": {"TLSv1.2": {"accepted": true, "refusal": null, "error": null},
                                     "TLSv1.0": {"accepted": false, "refusal": {"kind": "not_sslv2", "detail": h(i)}, "error": null}},
                "cipher_suites": {"TLSv1.2": [h(i), h(i + 1)]},
                "server_preference": {"TLSv1.2": true},
                "groups": [h(i + 2)], "groups_protocol": "TLSv1.2",
                "key_exchange": [{"protocol": "TLSv1.2", "kind": h(i), "group": h(i + 1), "bits": 1024, "cipher_suite": h(i + 2)}],
                "extensions": {"alpn": [h(i + 3)]},
                "fallback_scsv": null, "chain_pem": [h(i)], "chain_protocol": "TLSv1.2",
                "ocsp_staple_base64": null, "tls13_handshake": null, "connections": 3, "probe_errors": [h(i + 4)],
            },
            "http": {"https": {"url": h(i), "status": 200, "error": null,
                               "hsts": {"raw": h(i + 1), "max_age": null, "include_subdomains": false, "preload": false}},
                     "redirect": null},
            "findings": [finding(i, "fail"), finding(i + 1, "excepted"), finding(i + 2, "inconclusive"), finding(i + 3, "pass")],
            "grade": {"grade": h(i), "score": 10, "protocol_score": 1, "key_exchange_score": 1, "cipher_score": 1,
                      "caps": [{"letter": h(i), "reason": "no_tls13", "text": h(i + 1)}], "missing": [h(i + 2)]},
            "score": {"value": 50.0, "passed": 1, "failed": 1, "excepted": 1, "inconclusive": 1},
            "certificate": hostile_certificate(i),
        })
    };
    let raw = json!({
        "schema_version": 1,
        "tool": {"name": h(0), "version": h(1)},
        "started_at": h(2), "finished_at": h(3),
        "country": {"code": h(4), "name": h(5), "policy": h(6), "profile": h(0)},
        "targets": (0..7).map(target).collect::<Vec<_>>(),
        "assessment": {"policy": h(1), "index": 50.0, "formula": h(2), "checks_version": h(3),
                       "sectors": (0..7).map(|i| json!({"sector": h(i), "weight": 1.0, "score": 50.0, "scored": 1, "unscored": 0})).collect::<Vec<_>>(),
                       "counts": {"pass": 1, "fail": 1, "inconclusive": 1, "excepted": 1, "fail_by_severity": {"high": 1}}},
        "zones": (0..7).map(|i| hostile_zone(i, vec![finding(i, "fail"), finding(i + 1, "excepted")])).collect::<Vec<_>>(),
        "resolvers": [hostile_resolver(vec![finding(4, "fail")])],
    });
    Document::from_json(&raw.to_string()).expect("hostile document parses")
}

fn h(i: usize) -> String {
    HOSTILE[i % HOSTILE.len()].to_string()
}

/// A certificate's facts, as the certificate stage writes them, with hostile names.
fn hostile_certificate(i: usize) -> serde_json::Value {
    let facts = postura::cert::CertificateFacts {
        subject: Some(h(i)),
        issuer: Some(h(i + 3)),
        san_dns: vec![h(i + 1), h(i + 2)],
        checked_name: h(i),
        ..Default::default()
    };
    serde_json::to_value(facts).unwrap()
}

/// A zone's facts with hostile names and TXT-derived strings (SPF, DMARC, CAA).
fn hostile_zone(i: usize, findings: Vec<serde_json::Value>) -> serde_json::Value {
    use postura::dns::facts::{CaaFacts, DmarcFacts, MailFacts, SpfFacts, ZoneFacts};
    let zone = ZoneFacts {
        name: h(i),
        error: Some(h(i + 1)),
        mail: Some(MailFacts {
            spf: Some(SpfFacts { records: vec![h(i + 3)], ..SpfFacts::default() }),
            dmarc: Some(DmarcFacts { records: vec![h(i + 2)], ..DmarcFacts::default() }),
            tls_rpt: vec![h(i + 4)],
            ..MailFacts::default()
        }),
        caa: Some(CaaFacts { found_at: Some(h(i + 5)), records: vec![] }),
        ..ZoneFacts::default()
    };
    let mut value = serde_json::to_value(zone).unwrap();
    value["findings"] = serde_json::Value::Array(findings);
    value
}

fn hostile_resolver(findings: Vec<serde_json::Value>) -> serde_json::Value {
    let resolver = postura::dns::facts::ResolverFacts { address: h(3), error: Some(h(5)), ..Default::default() };
    let mut value = serde_json::to_value(resolver).unwrap();
    value["findings"] = serde_json::Value::Array(findings);
    value
}

#[test]
fn hostile_strings_are_inert_in_html() {
    let document = hostile_document();
    for lang in ["en", "fr"] {
        let html = Renderer::new(lang, None).unwrap().country(&document, Some(&document), Some(&catalog())).unwrap();
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "a <script> element got through");
        assert!(!lower.contains("<img"), "an <img> element got through");
        assert!(!lower.contains("onerror=alert"), "an event handler attribute got through");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the script text is shown, escaped");
        assert!(
            html.contains("&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(2)&gt;"),
            "the attribute breakout is shown, escaped"
        );
        // Handlebars syntax in data is text, not template: shown as sent, never evaluated.
        assert!(html.contains("{{#each t}}{{this}}{{/each}}{{{lang}}}"));
        assert_eq!(
            external_references(&html),
            Vec::<String>::new(),
            "hostile URLs must not become resource references"
        );
        // The generic sections rendered the hostile certificate, zone and resolver facts.
        for needle in [
            "id=\"zones\"",
            "id=\"resolvers\"",
            "<th class=\"mono\">subject</th>",
            "<th class=\"mono\">san_dns</th>",
            "<th class=\"mono\">error</th>",
        ] {
            assert!(html.contains(needle), "{lang}: {needle} missing");
        }
    }
    // In a browser: no element, no script run, no request (the CSP would log a blocked load).
    let html = Renderer::new("en", None).unwrap().country(&document, None, Some(&catalog())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hostile.html", &html);
    let dom = chromium(&file, &["--dump-dom"]);
    assert_eq!(console_messages(&dom.stderr), Vec::<&str>::new());
    let lower = dom.stdout.to_ascii_lowercase();
    assert!(!lower.contains("<script") && !lower.contains("<img"), "the DOM holds an injected element");

    let regional = Renderer::new("es", None)
        .unwrap()
        .regional(&[hostile_document(), hostile_document()], Some(&catalog()))
        .unwrap();
    assert!(!regional.to_ascii_lowercase().contains("<script") && !regional.to_ascii_lowercase().contains("<img"));
    assert!(regional.contains("&lt;script&gt;"));
}

/// RFC 4180 cells of a CSV text.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

#[test]
fn hostile_strings_are_inert_in_csv() {
    let document = hostile_document();
    let text = Renderer::new("en", None).unwrap().csv(&document, Some(&catalog()));
    let rows = parse_csv(&text);
    assert_eq!(rows[0], postura::report::csv::HEADER);
    // 7 targets × 4 findings + 7 zones × 2 + 1 resolver.
    assert_eq!(rows.len(), 1 + 28 + 14 + 1);
    for row in &rows {
        assert_eq!(row.len(), postura::report::csv::HEADER.len(), "{row:?}");
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "formula trigger in cell {cell:?}");
        }
    }
    let hosts: Vec<&str> = rows[1..].iter().map(|r| r[4].as_str()).collect();
    assert!(hosts.contains(&"'=HYPERLINK(\"http://evil.example/\",\"x\"):443"), "{hosts:?}");
    // Each hostile value is there, neutralised, not dropped.
    for hostile in HOSTILE.iter().filter(|h| h.starts_with(['=', '+', '-', '@'])) {
        let neutralised = format!("'{hostile}");
        assert!(rows.iter().flatten().any(|c| c.starts_with(&neutralised)), "{hostile} missing");
    }
}

#[test]
fn every_language_renders_completely_and_retranslates_check_titles() {
    let report = hostile_free_report();
    let mut bodies = Vec::new();
    for lang in postura::report::i18n::LANGUAGES {
        let html = render(&report, lang);
        assert!(!html.contains("[missing text"), "{lang}: a fixed string is missing");
        assert!(html.contains(&format!("<html lang=\"{lang}\">")));
        bodies.push(html);
    }
    // The scan was assessed in English; the Spanish report speaks Spanish, from the catalog.
    assert!(bodies[0].contains("TLS 1.0 is not accepted"));
    assert!(bodies[1].contains("TLS 1.0 no se acepta") && !bodies[1].contains("TLS 1.0 is not accepted"));
    assert!(bodies[2].contains("TLS 1.0 não é aceito"));
    assert!(bodies[3].contains("TLS 1.0 n&#x27;est pas accepté"), "French title (apostrophe escaped)");
    assert!(
        bodies[1].contains("Resumen ejecutivo")
            && bodies[2].contains("Resumo executivo")
            && bodies[3].contains("Synthèse")
    );
    // Dates and numbers per language.
    assert!(bodies[0].contains("1 March 2026, 10:00 UTC"), "English date");
    assert!(bodies[1].contains("1 de marzo de 2026, 10:00 UTC"), "Spanish date");
    assert!(bodies[3].contains("1 mars 2026, 10:00 UTC"), "French date");
    let index = report.assessment.as_ref().unwrap().index.unwrap();
    let en = format!("{index:.1}");
    assert!(bodies[0].contains(&format!("<span class=\"big\">{en}</span>")), "English index {en}");
    assert!(
        bodies[1].contains(&format!("<span class=\"big\">{}</span>", en.replace('.', ","))),
        "Spanish decimal comma"
    );
}

/// A small assessed scan built from facts (no servers): TLS 1.0 accepted on one target.
fn hostile_free_report() -> ScanReport {
    let target = |host: &str, protocols: &[&str], sector: &str| {
        let details: serde_json::Map<String, serde_json::Value> =
            ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3", "SSLv2", "SSLv3"]
                .iter()
                .map(|p| (p.to_string(), json!({"accepted": protocols.contains(p), "refusal": null, "error": null})))
                .collect();
        json!({
            "host": host, "port": 443, "address": "192.0.2.1", "sni": host, "service": "tls", "sector": sector,
            "operator": "Op", "error": null, "started_at": "2026-03-01T10:00:00Z", "duration_ms": 5,
            "tls": {"protocols": protocols, "protocol_details": details,
                    "cipher_suites": {"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}, "server_preference": {"TLSv1.2": null},
                    "groups": ["x25519"], "groups_protocol": "TLSv1.2", "key_exchange": [], "extensions": {"alpn": []},
                    "fallback_scsv": true, "chain_pem": [], "chain_protocol": null, "ocsp_staple_base64": null,
                    "tls13_handshake": null, "connections": 4, "probe_errors": []},
            "http": null, "grade": null, "score": null,
        })
    };
    let raw = json!({
        "schema_version": 1, "tool": {"name": "postura", "version": "test"},
        "started_at": "2026-03-01T10:00:00Z", "finished_at": "2026-03-01T10:05:00Z",
        "country": {"code": "ZZ", "name": "Testland", "policy": "mozilla-intermediate", "profile": "zz.toml"},
        "targets": [target("old.example", &["TLSv1.0", "TLSv1.2"], "operator"), target("new.example", &["TLSv1.2", "TLSv1.3"], "cctld")],
        "assessment": null,
    });
    let mut report: ScanReport = serde_json::from_value(raw).unwrap();
    let catalog = catalog();
    let policy = Policy::load("mozilla-intermediate", &catalog).unwrap();
    Assessor {
        catalog: &catalog,
        policy: &policy,
        lang: "en".into(),
        exceptions: vec![],
        sector_weights: Default::default(),
        today: "2026-03-01".into(),
    }
    .assess(&mut report);
    report
}

#[test]
fn changes_since_the_previous_scan_list_new_regressed_and_resolved_findings() {
    let now = hostile_free_report();
    let mut before = now.clone();
    // Before: old.example passed the TLS 1.0 check (now it fails: a regression) and had no
    // secure-renegotiation finding at all (now failing: new); new.example failed the fallback SCSV check
    // (now it passes: resolved). The index was 4 points higher.
    let set = |report: &mut ScanReport, target: usize, check: &str, status: postura::checks::model::Status| {
        let finding = report.targets[target].findings.iter_mut().find(|f| f.check == check).unwrap();
        finding.status = status;
    };
    use postura::checks::model::Status;
    set(&mut before, 0, "tls.protocol.tls10", Status::Pass);
    set(&mut before, 1, "tls.ext.no_fallback_scsv", Status::Fail);
    before.targets[0].findings.retain(|f| f.check != "tls.ext.no_secure_renegotiation");
    let mut assessment = before.assessment.clone().unwrap();
    assessment.index = Some(assessment.index.unwrap() + 4.0);
    before.assessment = Some(assessment);
    let now_failing: Vec<String> =
        now.targets[0].findings.iter().filter(|f| f.status == Status::Fail).map(|f| f.check.clone()).collect();
    assert!(
        now_failing.contains(&"tls.protocol.tls10".to_string())
            && now_failing.contains(&"tls.ext.no_secure_renegotiation".to_string()),
        "{now_failing:?}"
    );

    let html = Renderer::new("en", None)
        .unwrap()
        .country(&Document::from_report(now), Some(&Document::from_report(before)), Some(&catalog()))
        .unwrap();
    let section = &html[html.find("id=\"changes\"").expect("changes section")..html.find("id=\"exceptions\"").unwrap()];
    let part = |from: &str, to: &str| section[section.find(from).unwrap()..section.find(to).unwrap()].to_string();
    let new = part("<h3>New failures", "<h3>Regressed");
    let regressed = part("<h3>Regressed", "<h3>Resolved");
    let resolved = section[section.find("<h3>Resolved").unwrap()..].to_string();
    assert!(new.contains("tls.ext.no_secure_renegotiation") && !new.contains("tls.protocol.tls10"), "{new}");
    assert!(regressed.contains("tls.protocol.tls10") && regressed.contains("old.example:443"), "{regressed}");
    assert!(resolved.contains("tls.ext.no_fallback_scsv") && resolved.contains("new.example:443"), "{resolved}");
    assert!(html.contains("−4.0 since the previous scan"), "index delta");
}

fn postura() -> Command {
    Command::new(env!("CARGO_BIN_EXE_postura"))
}

#[test]
fn report_command_renders_saved_scans_regional_reports_and_template_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let report = hostile_free_report();
    let scan = write(dir.path(), "zz.json", &serde_json::to_string(&report).unwrap());
    let mut other = report.clone();
    other.country.as_mut().unwrap().name = "Otherland".into();
    other.country.as_mut().unwrap().code = "YY".into();
    let other_scan = write(dir.path(), "yy.json", &serde_json::to_string(&other).unwrap());

    let html = dir.path().join("zz.html");
    let csv = dir.path().join("zz.csv");
    let status = postura()
        .args(["report", "--lang", "pt", "--input"])
        .arg(&scan)
        .arg("--previous")
        .arg(&scan)
        .arg("--html")
        .arg(&html)
        .arg("--csv")
        .arg(&csv)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("Relatório de postura: Testland") && text.contains("id=\"changes\""));
    assert!(std::fs::read_to_string(&csv).unwrap().lines().count() > 10);

    let regional = dir.path().join("region.html");
    let status = postura()
        .args(["report", "--regional"])
        .arg(&scan)
        .arg(&other_scan)
        .arg("--html")
        .arg(&regional)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&regional).unwrap();
    assert!(text.contains("Regional posture comparison") && text.contains("Testland") && text.contains("Otherland"));
    assert!(text.contains("<th class=\"num\">ZZ</th><th class=\"num\">YY</th>"));

    // An override replaces one template; the others stay built in. Strict mode: a template that
    // names a field the report does not have is an error, not a blank.
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(templates.join("partials")).unwrap();
    std::fs::write(templates.join("partials/style.hbs"), "body{background:#abcdef}").unwrap();
    let custom = dir.path().join("custom.html");
    let status = postura()
        .args(["report", "--input"])
        .arg(&scan)
        .arg("--templates")
        .arg(&templates)
        .arg("--html")
        .arg(&custom)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&custom).unwrap();
    assert!(text.contains("body{background:#abcdef}") && text.contains("id=\"methodology\""));
    std::fs::write(templates.join("country.hbs"), "{{no_such_field}}").unwrap();
    let output = postura()
        .args(["report", "--input"])
        .arg(&scan)
        .arg("--templates")
        .arg(&templates)
        .arg("--html")
        .arg(&custom)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no_such_field"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = postura().args(["report", "--input"]).arg(&scan).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "nothing to write is a usage error");
}

#[test]
fn scan_writes_the_html_and_csv_reports_at_the_end() {
    let server = OpenSslServer::start_auto(&[
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
        "-cipher",
        "DEFAULT:@SECLEVEL=0",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (html, csv) = (dir.path().join("scan.html"), dir.path().join("scan.csv"));
    let target = format!("{TEST_HOST}:{}", server.port);
    let output = postura()
        .args(["scan", "-q", "--lang", "fr", &target, "--resolve", &format!("{target}:{}", server.addr)])
        .arg("--html")
        .arg(&html)
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Rapport de posture") && page.contains(&format!("{TEST_HOST}:{}", server.port)));
    assert!(page.contains("TLS 1.0 n&#x27;est pas accepté"), "the finding of this server, in French");
    let rows = parse_csv(&std::fs::read_to_string(&csv).unwrap());
    assert!(rows.iter().any(|r| r[6] == "tls.protocol.tls10" && r[8] == "fail"), "{rows:?}");

    // An unwritable report path is refused before any connection is made.
    let output = postura().args(["scan", "-q", &target, "--html", "/nonexistent-dir/x.html"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--html: cannot write"));
}

#[test]
fn a_scan_without_checks_renders_its_facts_and_says_there_is_no_index() {
    let mut report = hostile_free_report();
    report.assessment = None;
    for target in &mut report.targets {
        target.findings.clear();
        target.grade = None;
        target.score = None;
    }
    let html = render(&report, "pt");
    assert!(html.contains("As verificações não foram executadas nesta varredura"));
    assert!(html.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "facts are still shown");
    assert!(!html.contains("[missing text"));
}
