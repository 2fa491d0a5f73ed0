//! Issue 14 and issue 12 part 4: a scan and its reports stream instead of holding the whole
//! document. Against real `openssl s_server`s on loopback: the JSON is written item by item
//! while the assessment pass runs (items are in the file before the scan ends); the CSV is
//! written as items are read; a report of a saved document equals the report of the same
//! document in memory, from the current document format and the earlier one; a 100 MB host name
//! in a saved document is clipped in the CSV and HTML. Memory itself is measured by
//! `scripts/bench farm` (docs/benchmarks.md), not here.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::*;
use postura::facts::ScanReport;
use postura::report::stream::{ItemSource, Kind};
use postura::report::{Renderer, ReportError, ScanFile};
use postura::scan::{Fanout, Item, JsonSink, ScanPlan, ScanSummary, Sink, SinkError};

/// Three real servers, scanned through the library with the default policy.
fn plan_for(servers: &[OpenSslServer]) -> (Vec<String>, ScanPlan) {
    let mut args = Vec::new();
    let mut hosts = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let host = format!("s{i}.postura.test");
        let address = server.socket_addr();
        args.push(format!("{host}:{}", address.port()));
        args.push("--resolve".into());
        args.push(format!("{host}:{}:{}", address.port(), address.ip()));
        hosts.push(host);
    }
    args.extend(["--timeout", "5", "--no-revocation"].map(String::from));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (plan, _notes) = runtime.block_on(ScanPlan::from_command_line(args)).expect("plan");
    (hosts, plan)
}

fn servers(n: usize) -> Vec<OpenSslServer> {
    (0..n).map(|_| OpenSslServer::start_auto(&[])).collect()
}

/// Placed after the JSON sink: at each assessed item, what the JSON file under its temporary
/// name holds already.
struct FileWatcher {
    partial: PathBuf,
    hosts: Vec<String>,
    /// For each assessed item after the first: whether the previous items were in the file.
    seen: Arc<Mutex<Vec<bool>>>,
    assessed: usize,
}

impl Sink for FileWatcher {
    fn item(&mut self, _item: Item<'_>) -> Result<(), SinkError> {
        Ok(())
    }

    fn assessed(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        let Item::Target(target) = item else { return Ok(()) };
        let text = std::fs::read_to_string(&self.partial).unwrap_or_default();
        // This item was just written by the JSON sink before us; the next ones not yet.
        let written = self.hosts[..=self.assessed].iter().all(|h| text.contains(&format!("\"host\": \"{h}\"")));
        let ahead = self.hosts[self.assessed + 1..].iter().any(|h| text.contains(&format!("\"host\": \"{h}\"")));
        assert_eq!(self.hosts[self.assessed], target.host);
        self.seen.lock().unwrap().push(written && !ahead);
        self.assessed += 1;
        Ok(())
    }

    fn finished(&mut self, _summary: &ScanSummary) -> Result<(), SinkError> {
        Ok(())
    }
}

#[test]
fn the_json_document_is_written_item_by_item_before_the_scan_ends() {
    let servers = servers(3);
    let (hosts, plan) = plan_for(&servers);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.json");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let watcher = FileWatcher {
        partial: postura::scan::sink::partial_path(&path),
        hosts: hosts.clone(),
        seen: seen.clone(),
        assessed: 0,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let summary = runtime
        .block_on(async {
            let mut fanout = Fanout(vec![Box::new(JsonSink::new(Some(path.clone()))), Box::new(watcher)]);
            postura::scan::run(&plan, &mut fanout).await
        })
        .expect("scan");
    assert_eq!(*seen.lock().unwrap(), vec![true, true, true], "each item in the file as it is assessed");
    assert_eq!(summary.targets, 3);
    assert!(!postura::scan::sink::partial_path(&path).exists(), "the temporary name is renamed");

    // The file is the scan document: every item, in declared order, judged, and the assessment.
    let report: ScanReport = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("a scan document");
    let names: Vec<&str> = report.targets.iter().map(|t| t.host.as_str()).collect();
    assert_eq!(names, hosts.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(report.targets.iter().all(|t| t.error.is_none() && !t.findings.is_empty() && t.grade.is_some()));
    let assessment = report.assessment.expect("assessment");
    assert_eq!(assessment.headline.expect("headline").endpoints.total, 3);
    assert_eq!(assessment.counts.pass + assessment.counts.fail + assessment.counts.inconclusive, {
        report.targets.iter().map(|t| t.findings.len()).sum::<usize>()
    });
}

/// A writer that records, each time an item is handed on, how many bytes were written so far.
struct Recorded(Arc<Mutex<Vec<u8>>>);

impl Write for Recorded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An item source that notes how much CSV had been written when it hands on each target.
struct Watched<'a> {
    inner: &'a dyn ItemSource,
    written: Arc<Mutex<Vec<u8>>>,
    before_each: Mutex<Vec<usize>>,
}

impl ItemSource for Watched<'_> {
    fn each(&self, kind: Kind, each: &mut dyn FnMut(Item<'_>) -> Result<(), ReportError>) -> Result<(), ReportError> {
        self.inner.each(kind, &mut |item| {
            if kind == Kind::Target {
                self.before_each.lock().unwrap().push(self.written.lock().unwrap().len());
            }
            each(item)
        })
    }
}

/// Scan `servers` and save the document with `postura scan --json` (the binary).
fn saved_scan(servers: &[OpenSslServer], dir: &Path) -> PathBuf {
    let path = dir.join("scan.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_postura"));
    command.args(["scan", "--quiet", "--no-revocation", "--timeout", "5", "--json"]).arg(&path);
    for (i, server) in servers.iter().enumerate() {
        let address = server.socket_addr();
        command.arg(format!("s{i}.postura.test:{}", address.port()));
        command.arg("--resolve").arg(format!("s{i}.postura.test:{}:{}", address.port(), address.ip()));
    }
    let output = command.output().expect("postura scan");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    path
}

#[test]
fn the_csv_is_written_as_items_are_read_and_a_saved_scan_reports_as_the_document_in_memory() {
    let servers = servers(3);
    let dir = tempfile::tempdir().unwrap();
    let path = saved_scan(&servers, dir.path());
    let file = ScanFile::open(&path).unwrap();
    let renderer = Renderer::new("en", None).unwrap();
    let catalog = postura::cli::load_catalog(&[]).unwrap();

    let written = Arc::new(Mutex::new(Vec::new()));
    let watched = Watched { inner: &file, written: written.clone(), before_each: Mutex::new(Vec::new()) };
    renderer.csv_to(&mut Recorded(written.clone()), &watched, "", Some(&catalog)).unwrap();
    let before = watched.before_each.lock().unwrap().clone();
    assert_eq!(before.len(), 3);
    assert!(before.windows(2).all(|w| w[0] < w[1]), "each item's rows are written before the next is read: {before:?}");

    // The same rows and the same page as from the whole document in memory.
    let whole = postura::report::view::Document::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let csv = String::from_utf8(written.lock().unwrap().clone()).unwrap();
    assert_eq!(csv, renderer.csv(&whole, Some(&catalog)));
    let summary = file.summary(Some(&catalog)).unwrap();
    let mut streamed = Vec::new();
    renderer.country_from(&mut streamed, &summary, &file, None, Some(&catalog), &Default::default()).unwrap();
    let mut in_memory = Vec::new();
    renderer.country_to(&mut in_memory, &whole, None, Some(&catalog)).unwrap();
    let streamed = String::from_utf8(streamed).unwrap();
    assert_same_page(&streamed, &String::from_utf8(in_memory).unwrap());
    // Three endpoints with one configuration, certificate and findings: the first in full, the
    // others one line each, linking to it.
    assert_eq!(streamed.matches("<details class=\"item\"").count(), 1);
    assert_eq!(streamed.matches("<p class=\"item same\"").count(), 2);
    assert_eq!(streamed.matches("href=\"#t-0\"").count(), 2);

    // A document in the earlier layout (the assessment between targets and zones) reads the same.
    let earlier = dir.path().join("earlier.json");
    std::fs::write(&earlier, serde_json::to_vec_pretty(&whole.report).unwrap()).unwrap();
    let earlier = ScanFile::open(&earlier).unwrap();
    let mut from_earlier = Vec::new();
    renderer.csv_to(&mut from_earlier, &earlier, "", Some(&catalog)).unwrap();
    assert_eq!(String::from_utf8(from_earlier).unwrap(), csv);
    let summary_earlier = earlier.summary(Some(&catalog)).unwrap();
    assert_eq!(summary_earlier.report.targets.len(), 3);
    assert_eq!(
        serde_json::to_value(&summary_earlier.report.assessment).unwrap(),
        serde_json::to_value(&whole.report.assessment).unwrap()
    );
}

/// Two renderings of one report differ only in the line saying when it was generated.
fn assert_same_page(a: &str, b: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(a.len(), b.len());
    let differing: Vec<(&str, &str)> = a.iter().zip(&b).filter(|(x, y)| x != y).map(|(x, y)| (*x, *y)).collect();
    assert!(differing.len() <= 1, "{differing:#?}");
}

#[test]
fn a_100_mb_host_name_in_a_saved_scan_is_clipped_in_the_csv_and_the_html() {
    let servers = servers(1);
    let dir = tempfile::tempdir().unwrap();
    let path = saved_scan(&servers, dir.path());
    let mut report: ScanReport = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    report.targets[0].host = format!("{}.postura.test", "h".repeat(100 * 1024 * 1024));
    let findings = report.targets[0].findings.len();
    assert!(findings > 10);
    let hostile = dir.path().join("hostile.json");
    std::fs::write(&hostile, serde_json::to_vec(&report).unwrap()).unwrap();
    drop(report);
    let (csv, html) = (dir.path().join("out.csv"), dir.path().join("out.html"));
    let output = Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(["report", "--input"])
        .arg(&hostile)
        .arg("--csv")
        .arg(&csv)
        .arg("--html")
        .arg(&html)
        .output()
        .expect("postura report");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Before the cap, each of the target's rows carried the whole name (100 MB × findings).
    let csv_size = std::fs::metadata(&csv).unwrap().len();
    assert!(csv_size < 2_000 * findings as u64, "CSV of {csv_size} bytes for {findings} rows");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), findings + 1);
    assert!(text.contains(&format!("{}…", "h".repeat(100))), "the name is cut and marked");
    let html_size = std::fs::metadata(&html).unwrap().len();
    assert!(html_size < 2_000_000, "HTML of {html_size} bytes");
}

/// Issue 12 part 4: `profile check` and error messages show control characters escaped. A
/// profile's country name and an invalid host name carrying an ANSI escape sequence.
#[test]
fn profile_check_and_errors_print_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "schema_version = 1\n[country]\ncode = \"ZZ\"\nname = \"Evil\\u001b[2J\\u0007land\"\n[scope]\nnames = [\"zz\"]\n\
         [[endpoints]]\nhost = \"www.zz\"\nservice = \"https\"\nsector = \"operator\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_postura")).args(["profile", "check"]).arg(&good).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{7}'), "raw control characters: {stdout:?}");
    assert!(stdout.contains("Evil\\u{1b}[2J\\u{7}land"), "{stdout:?}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "schema_version = 1\n[country]\ncode = \"ZZ\"\nname = \"Z\"\n[scope]\nnames = [\"zz\"]\n\
         [[endpoints]]\nhost = \"a\\u001b[31m.zz\"\nservice = \"https\"\nsector = \"operator\"\n",
    )
    .unwrap();
    for args in [vec!["profile", "check"], vec!["scan", "--profile"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_postura")).args(&args).arg(&bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "{args:?}: raw escape in {stderr:?}");
        assert!(stderr.contains("\\u{1b}"), "{args:?}: {stderr:?}");
    }
}
