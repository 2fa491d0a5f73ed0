//! The store and resume on real servers: a scan of 50 `openssl s_server` targets and a zone of
//! the DNS lab (BIND/Knot, with its MX hosts found by the MX pass), SIGKILLed at several points
//! and resumed, ends with the same findings as an uninterrupted scan; nothing lost, nothing
//! stored twice, and items finished before the kill are not scanned again.
//!
//! Everything runs inside the lab's network namespace: the s_servers are started there (on
//! 127.0.77.N, which no lab server uses) so that one postura process reaches them and the lab;
//! so is PostgreSQL for the same test on a PostgreSQL store (tests/common/pg.rs).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::dns::DnsLab;
use common::pg::TestStores;
use common::pki::Pki;
use common::process::{spawn_guarded, ServerProcess};
use postura::facts::ScanReport;
use postura::scan::resume::target_key;
use postura::store::Store;

const TARGETS: usize = 50;
const TODAY: &str = "2026-12-01";

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// 50 s_servers in the lab's namespace: even ones with OpenSSL's defaults, odd ones also
/// accepting TLS 1.0 and every cipher (so the findings differ between targets).
fn start_targets(lab: &DnsLab) -> (Vec<ServerProcess>, Vec<String>) {
    let pki = Pki::shared();
    let mut servers = Vec::new();
    let mut targets = Vec::new();
    for n in 1..=TARGETS {
        let address = format!("127.0.77.{n}:4433");
        let mut cmd = lab.netns.command(Path::new("openssl"));
        cmd.args(["s_server", "-accept", &address, "-www", "-cert", p(&pki.rsa.cert), "-key", p(&pki.rsa.key)]);
        cmd.args(["-cert_chain", p(&pki.intermediate_cert)]);
        if n % 2 == 1 {
            cmd.args(["-min_protocol", "TLSv1", "-cipher", "ALL:@SECLEVEL=0"]);
        }
        let dir = tempfile::Builder::new().prefix("postura-store-s_server-").tempdir().unwrap();
        cmd.current_dir(dir.path());
        servers.push(ServerProcess::spawn("openssl s_server (netns)", cmd, dir));
        targets.push(address);
    }
    let addresses = targets.clone();
    let ready = lab.netns.enter(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        addresses.iter().all(|a| loop {
            if std::net::TcpStream::connect(a.as_str()).is_ok() {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        })
    });
    assert!(ready, "s_servers did not come up: {}", servers.iter().map(|s| s.diagnostics()).collect::<String>());
    (servers, targets)
}

fn scan_args(lab: &DnsLab, targets: &[String], db: &str) -> Vec<String> {
    let mut args: Vec<String> = vec!["scan".into()];
    args.extend(targets.iter().cloned());
    args.extend(
        ["dns://mail.test", "--root-hints", p(&lab.hints), "--no-revocation", "--quiet", "--concurrency", "12"]
            .map(String::from),
    );
    args.extend(["--timeout", "5", "--dns-timeout", "3", "--db", db].map(String::from));
    args
}

fn postura(lab: &DnsLab, args: &[String]) -> Command {
    let mut command = lab.netns.command(Path::new(env!("CARGO_BIN_EXE_postura")));
    command.args(args).env("POSTURA_TODAY", TODAY);
    command
}

/// `f` on the store `db`, opened inside the lab's namespace (where a PostgreSQL store runs).
fn with_store<T: Send + 'static>(lab: &DnsLab, db: &str, f: impl FnOnce(Store) -> T + Send + 'static) -> T {
    let db = db.to_string();
    lab.netns.enter(move || f(Store::open(Path::new(&db)).unwrap()))
}

/// What must not change across an interruption: every item's findings (key, check, status)
/// and grades, and how many items there are.
type Outcome = (BTreeSet<(String, String, String)>, BTreeMap<String, Option<String>>, usize, usize);

fn outcome(report: &ScanReport) -> Outcome {
    let mut findings = BTreeSet::new();
    let mut grades = BTreeMap::new();
    for subject in postura::store::diff::subjects(report) {
        for f in subject.findings {
            findings.insert((subject.key.clone(), f.check.clone(), postura::store::diff::name(&f.status)));
        }
        grades.insert(subject.key, subject.grade);
    }
    (findings, grades, report.targets.len(), report.zones.len())
}

fn assert_no_duplicates(report: &ScanReport) {
    let keys: BTreeSet<String> = report.targets.iter().map(target_key).collect();
    assert_eq!(keys.len(), report.targets.len(), "a target is in the document twice");
}

#[test]
fn a_scan_killed_at_several_points_and_resumed_equals_an_uninterrupted_one_sqlite() {
    let lab = DnsLab::start();
    a_scan_killed_at_several_points_and_resumed_equals_an_uninterrupted_one(&lab, &TestStores::sqlite());
}

#[test]
fn a_scan_killed_at_several_points_and_resumed_equals_an_uninterrupted_one_postgres() {
    let lab = DnsLab::start();
    let stores = TestStores::postgres_in(Some(&lab.netns.name));
    a_scan_killed_at_several_points_and_resumed_equals_an_uninterrupted_one(&lab, &stores);
}

fn a_scan_killed_at_several_points_and_resumed_equals_an_uninterrupted_one(lab: &DnsLab, stores: &TestStores) {
    let (_servers, targets) = start_targets(lab);

    // The reference: one uninterrupted scan.
    let reference_db = stores.db("reference");
    let started = Instant::now();
    let output = postura(lab, &scan_args(lab, &targets, &reference_db)).output().unwrap();
    let full_time = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let reference = with_store(lab, &reference_db, |store| store.report(1).unwrap());
    // 50 declared targets and the two MX hosts of mail.test found by the MX pass.
    assert_eq!(
        reference.targets.len(),
        TARGETS + 2,
        "{:?}",
        reference.targets.iter().map(target_key).collect::<Vec<_>>()
    );
    assert_eq!(reference.zones.len(), 1);
    assert!(reference.targets.iter().filter(|t| t.port == 4433).all(|t| t.error.is_none() && t.tls.is_some()));
    assert_no_duplicates(&reference);
    let expected = outcome(&reference);
    assert!(expected.0.iter().any(|(_, _, status)| status == "fail"), "the weak targets fail checks");
    eprintln!("uninterrupted scan: {full_time:?}, {} findings", expected.0.len());

    for kill_after in [1, 17, 38] {
        let db = stores.db(&format!("killed{kill_after}"));
        let mut child = spawn_guarded({
            let mut c = postura(lab, &scan_args(lab, &targets, &db));
            c.stdout(Stdio::null()).stderr(Stdio::null());
            c
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while stores.count_items(&db) < kill_after {
            assert!(child.try_wait().unwrap().is_none(), "the scan ended before {kill_after} items were stored");
            assert!(Instant::now() < deadline, "no progress");
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let before = with_store(lab, &db, |store| store.stored_items(1).unwrap());
        assert!(
            before.len() >= kill_after as usize && before.len() < TARGETS + 3,
            "{} items at the kill",
            before.len()
        );
        let history = with_store(lab, &db, |store| store.history(None).unwrap());
        assert_eq!(history[0].status, "running", "a killed scan stays resumable");

        let resume = ["scan", "--resume", "1", "--db", &db].map(String::from);
        let output = postura(lab, &resume).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "resume after {kill_after} items: {stderr}");
        assert!(stderr.contains(&format!("({} items already done)", before.len())), "{stderr}");

        let (resumed, history) = with_store(lab, &db, |store| (store.report(1).unwrap(), store.history(None).unwrap()));
        assert_no_duplicates(&resumed);
        assert_eq!(
            outcome(&resumed),
            expected,
            "killed after {kill_after} items: the resumed scan differs from the uninterrupted one"
        );
        // Items finished before the kill were reused, not scanned again (same start time).
        for (key, stored) in &before.targets {
            let now = resumed.targets.iter().find(|t| &target_key(t) == key).expect("stored target kept");
            assert_eq!(now.started_at, stored.started_at, "{key} was scanned again");
        }
        assert_eq!((history.len(), history[0].status.as_str()), (1, "complete"));
        assert_eq!(history[0].items as usize, TARGETS + 3, "one row per item, none twice");
        // A finished scan is not resumed again.
        let again = postura(lab, &resume).output().unwrap();
        assert_eq!(again.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert!(stderr.contains("already complete"), "{stderr}");
    }
}
