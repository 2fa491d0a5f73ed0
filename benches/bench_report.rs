//! Benchmark of the reports on a synthetic country of N endpoints (default 10,000).
//! `generate N FILE` builds realistic TLS facts (a mix of modern, intermediate and legacy
//! servers, some unreachable), assesses them with the real check catalog and saves the scan
//! JSON; `render FILE` loads it in a fresh process and times the HTML (streamed to a file) and
//! CSV reports, printing wall and CPU time, sizes and peak memory (`BENCH_PROFILE=1` adds the
//! view-building times). Run with `bash scripts/bench-report [N]`. Not a test: the figures depend
//! on the machine.

use std::time::Instant;

use postura::checks::catalog::Catalog;
use postura::checks::policy::Policy;
use postura::checks::Assessor;
use postura::facts::ScanReport;
use postura::report::view::Document;
use postura::report::Renderer;
use serde_json::{json, Value};

const SECTORS: [&str; 6] = ["cctld", "operator", "ixp", "regulator", "csirt", "government"];

const MODERN: [&str; 5] = [
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
];
const LEGACY: [&str; 8] = [
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
    "TLS_RSA_WITH_NULL_SHA256",
];
const TLS13: [&str; 3] = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];

fn target(i: usize) -> Value {
    let kind = i % 10;
    let sector = SECTORS[i % SECTORS.len()];
    let host = format!("host{i}.operator{}.example", i % 250);
    let base = json!({
        "host": host, "port": 443, "address": format!("192.0.{}.{}", (i / 250) % 256, i % 250), "sni": host,
        "service": if i % 3 == 0 { "https" } else { "tls" }, "sector": sector,
        "operator": format!("Operator {} ({sector})", i % 250), "started_at": "2026-03-01T10:00:00Z", "duration_ms": 800,
        "http": null, "grade": null, "score": null,
    });
    let mut value = base;
    if kind == 9 {
        value["error"] = json!("connect timeout");
        value["tls"] = Value::Null;
        return value;
    }
    value["error"] = Value::Null;
    let (protocols, v12): (Vec<&str>, Vec<&str>) = match kind {
        0..=4 => (vec!["TLSv1.2", "TLSv1.3"], MODERN.to_vec()),
        5..=7 => (vec!["TLSv1.2"], MODERN.iter().chain(&LEGACY[..5]).copied().collect()),
        _ => (vec!["TLSv1.0", "TLSv1.1", "TLSv1.2"], LEGACY.to_vec()),
    };
    let mut details = serde_json::Map::new();
    for p in ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"] {
        let accepted = protocols.contains(&p);
        details.insert(p.into(), json!({"accepted": accepted, "refusal": if accepted { Value::Null } else { json!("alert:protocol_version") }, "error": null}));
    }
    let mut suites = serde_json::Map::new();
    let mut facts = Vec::new();
    for p in &protocols {
        let list: Vec<&str> = match *p {
            "TLSv1.3" => TLS13.to_vec(),
            "TLSv1.2" => v12.clone(),
            _ => LEGACY[..4].to_vec(),
        };
        for name in &list {
            let aead = name.contains("GCM") || name.contains("CHACHA") || name.starts_with("TLS_AES");
            facts.push(json!({
                "protocol": p, "name": name,
                "key_exchange": if name.starts_with("TLS_AES") || name.starts_with("TLS_CHACHA") { "TLS13" } else if name.contains("ECDHE") { "ECDHE" } else if name.contains("DHE") { "DHE" } else { "RSA" },
                "authentication": "RSA", "encryption": "AES", "bits": if name.contains("NULL") { 0 } else { 128 }, "mac": "AEAD",
                "aead": aead, "forward_secrecy": name.contains("DHE") || name.starts_with("TLS_AES") || name.starts_with("TLS_CHACHA"),
                "export": false, "null_encryption": name.contains("NULL"), "anonymous": false, "rc4": false,
                "block_64bit": false, "cbc": name.contains("CBC"),
            }));
        }
        suites.insert(p.to_string(), json!(list));
    }
    value["tls"] = json!({
        "protocols": protocols, "protocol_details": details, "cipher_suites": suites,
        "server_preference": {"TLSv1.2": kind >= 5}, "groups": ["x25519", "secp256r1", "ffdhe2048"], "groups_protocol": "TLSv1.2",
        "suites": facts,
        "group_details": [{"name": "x25519", "kind": "EC", "bits": 253}, {"name": "secp256r1", "kind": "EC", "bits": 256}, {"name": "ffdhe2048", "kind": "FF", "bits": 2048}],
        "key_exchange": [{"protocol": "TLSv1.2", "kind": "DH", "group": null, "bits": if kind >= 8 { 1024 } else { 2048 }, "cipher_suite": "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"}],
        "extensions": {"secure_renegotiation": true, "compression": false, "session_ticket": true, "ocsp_stapling": kind < 3,
                       "extended_master_secret": true, "encrypt_then_mac": false, "heartbeat": false, "alpn": ["h2", "http/1.1"]},
        "fallback_scsv": protocols.len() > 1, "chain_pem": [], "chain_protocol": "TLSv1.2", "ocsp_staple_base64": null,
        "tls13_handshake": null, "connections": 12, "probe_errors": [],
    });
    value
}

/// CPU time (user + system) of this process so far, in seconds: on a shared machine the wall
/// time depends on the other jobs, the CPU time much less.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Build and assess the synthetic scan, write it as the scan JSON `postura scan --json` writes.
fn generate(n: usize, path: &std::path::Path) {
    let setup = Instant::now();
    let mut report = ScanReport {
        schema_version: postura::facts::SCHEMA_VERSION,
        tool: postura::facts::ToolInfo { name: "postura".into(), version: env!("CARGO_PKG_VERSION").into() },
        started_at: "2026-03-01T10:00:00Z".into(),
        finished_at: "2026-03-01T14:00:00Z".into(),
        country: Some(postura::facts::CountryInfo {
            code: "ZZ".into(),
            name: "Benchland".into(),
            policy: Some("mozilla-intermediate".into()),
            profile: "zz.toml".into(),
        }),
        targets: (0..n).map(|i| serde_json::from_value(target(i)).expect("synthetic target")).collect(),
        assessment: None,
        zones: Vec::new(),
        resolvers: Vec::new(),
    };
    let catalog = Catalog::builtin().expect("catalog");
    let policy = Policy::load("mozilla-intermediate", &catalog).expect("policy");
    Assessor {
        catalog: &catalog,
        policy: &policy,
        lang: "en".into(),
        exceptions: vec![],
        sector_weights: Default::default(),
        today: "2026-03-01".into(),
    }
    .assess(&mut report);
    let findings: usize = report.targets.iter().map(|t| t.findings.len()).sum();
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    serde_json::to_writer(file, &report).expect("write");
    eprintln!(
        "generated {}: {n} endpoints, {findings} findings, {:.1} MB, in {:.1} s",
        path.display(),
        std::fs::metadata(path).map_or(0, |m| m.len()) as f64 / 1e6,
        setup.elapsed().as_secs_f64()
    );
}

/// Load a scan JSON and render it as `postura report --input FILE --previous FILE --html --csv` does.
fn render(path: &std::path::Path, out_dir: Option<&std::path::Path>) {
    let started = Instant::now();
    let cpu = cpu_seconds();
    let text = std::fs::read_to_string(path).expect("read the scan");
    let document = Document::from_json(&text).expect("a scan document");
    drop(text);
    let catalog = Catalog::builtin().expect("catalog");
    println!(
        "load: {:.2} s wall ({:.2} s CPU) for {} endpoints; peak RSS {:.1} MB",
        started.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
        document.report.targets.len(),
        peak_rss_kib() as f64 / 1024.0
    );
    if std::env::var_os("BENCH_PROFILE").is_some() {
        profile_view(&document, &catalog);
    }
    let rss_before = peak_rss_kib();
    for lang in ["en", "es"] {
        let renderer = Renderer::new(lang, None).expect("templates");
        // Written to a file as it renders, the way `postura report --html` does.
        let html_path = out_dir
            .map_or_else(std::env::temp_dir, std::path::Path::to_path_buf)
            .join(format!("bench-report-{lang}.html"));
        let started = Instant::now();
        let cpu = cpu_seconds();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&html_path).expect("create"));
        // The previous scan is the same one: the changes section is computed in full (and empty).
        renderer.country_to(&mut out, &document, Some(&document), Some(&catalog)).expect("render");
        std::io::Write::flush(&mut out).expect("flush");
        let html_time = started.elapsed();
        let html_cpu = cpu_seconds() - cpu;
        let html_bytes = std::fs::metadata(&html_path).expect("written").len();
        let started = Instant::now();
        let csv = renderer.csv(&document, Some(&catalog));
        let csv_time = started.elapsed();
        match out_dir {
            Some(dir) => std::fs::write(dir.join(format!("bench-report-{lang}.csv")), &csv).expect("write"),
            None => {
                let _ = std::fs::remove_file(&html_path);
            }
        }
        println!(
            "{lang}: HTML {:.2} s wall ({:.2} s CPU), {:.1} MB; CSV {:.2} s, {:.1} MB",
            html_time.as_secs_f64(),
            html_cpu,
            html_bytes as f64 / 1e6,
            csv_time.as_secs_f64(),
            csv.len() as f64 / 1e6
        );
    }
    let rss_after = peak_rss_kib();
    println!(
        "peak RSS: {:.1} MB with the scan loaded, {:.1} MB after rendering (rendering added {:.1} MB)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        (rss_after - rss_before) as f64 / 1024.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out_dir = std::env::var_os("BENCH_REPORT_OUT").map(std::path::PathBuf::from);
    match args.get(1).map(String::as_str) {
        Some("generate") => {
            let n = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000);
            generate(n, std::path::Path::new(args.get(3).map_or("bench-scan.json", String::as_str)));
        }
        Some("render") => {
            render(std::path::Path::new(args.get(2).map_or("bench-scan.json", String::as_str)), out_dir.as_deref())
        }
        _ => {
            eprintln!("usage: bench_report generate N FILE | bench_report render FILE");
            std::process::exit(2);
        }
    }
}

/// Times of the view alone (without templates), with and without a previous scan.
fn profile_view(document: &Document, catalog: &Catalog) {
    let strings = postura::report::i18n::load("en", None).unwrap();
    let lang = postura::report::view::Lang { strings: &strings, catalog: Some(catalog), lang: "en" };
    let t = Instant::now();
    let _ = postura::report::view::country(document, Some(document), &lang);
    eprintln!("view::country {:.3}", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let _ = postura::report::view::country(document, None, &lang);
    eprintln!("view::country no previous {:.3}", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut n = 0;
    postura::report::view::each_item(document, &lang, "target", |v| {
        n += v.to_string().len();
        Ok(())
    })
    .unwrap();
    eprintln!("items {:.3} {n}", t.elapsed().as_secs_f64());
}
