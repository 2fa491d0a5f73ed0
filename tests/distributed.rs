//! Distributed scans (`scan --distributed`, `postura worker`) on a real PostgreSQL server
//! (tests/common/pg.rs) against real nginx targets on loopback:
//! - three workers share a scan of 200 targets; one is SIGKILLed in the middle of its jobs; the
//!   scan completes, every target is stored exactly once, and the findings equal those of a
//!   single-process scan of the same targets;
//! - PostgreSQL is restarted in the middle of a distributed scan: the workers reconnect and the
//!   scan completes;
//! - the per-address limit holds across workers, counted at the server by a TCP gate in front
//!   of nginx (several targets on one address, three workers).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::gate::Gate;
use common::net::{alloc_addr, alloc_endpoint};
use common::pg::PgServer;
use common::process::spawn_guarded;
use common::servers::Nginx;
use postura::facts::ScanReport;
use postura::scan::resume::target_key;
use postura::store::Store;

const TODAY: &str = "2026-12-01";

fn postura(args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postura"));
    command.args(args).env("POSTURA_TODAY", TODAY);
    command
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// One nginx serving `count` addresses (port 4433 unless taken): weak ones also accept TLS 1.0
/// and every cipher, so that findings differ between the two farms.
fn nginx_farm(count: usize, weak: bool) -> (Nginx, Vec<String>) {
    let first = alloc_endpoint();
    let mut addresses = vec![*first.ip()];
    addresses.extend((1..count).map(|_| alloc_addr()));
    let mut directives: String = addresses.iter().map(|a| format!("listen {a}:{} ssl;\n", first.port())).collect();
    if weak {
        directives.push_str("ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\nssl_ciphers ALL:@SECLEVEL=0;\n");
    }
    let nginx = Nginx::start(*first.ip(), first.port(), &directives);
    let targets = addresses.iter().map(|a| format!("{a}:{}", first.port())).collect();
    (nginx, targets)
}

/// Worker processes, SIGKILLed on drop.
struct Workers {
    children: Vec<Child>,
    logs: tempfile::TempDir,
}

impl Workers {
    fn start(url: &str, count: usize, concurrency: u32) -> Workers {
        let logs = tempfile::tempdir().unwrap();
        let mut workers = Workers { children: Vec::new(), logs };
        for _ in 0..count {
            workers.add(url, concurrency, &[]);
        }
        workers
    }

    fn add(&mut self, url: &str, concurrency: u32, extra: &[&str]) {
        let n = self.children.len();
        let log = std::fs::File::create(self.logs.path().join(format!("worker-{n}.log"))).unwrap();
        let mut args = strings(&["worker", "--db", url, "--concurrency", &concurrency.to_string(), "-v"]);
        args.extend(strings(extra));
        let mut command = postura(&args);
        command.stdout(Stdio::null()).stderr(log);
        self.children.push(spawn_guarded(command).unwrap());
    }

    fn alive(&mut self, n: usize) -> bool {
        self.children[n].try_wait().unwrap().is_none()
    }

    fn logs(&self) -> String {
        (0..self.children.len())
            .map(|n| {
                let text =
                    std::fs::read_to_string(self.logs.path().join(format!("worker-{n}.log"))).unwrap_or_default();
                let tail: String = text.chars().rev().take(3000).collect::<Vec<_>>().into_iter().rev().collect();
                format!("--- worker {n} ---\n{tail}\n")
            })
            .collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Queue a distributed scan; returns its ID.
fn submit(url: &str, targets: &[String], extra: &[&str]) -> i64 {
    let mut args = strings(&["scan", "--distributed", "--db", url, "--no-revocation", "--quiet", "--timeout", "10"]);
    args.extend(targets.iter().cloned());
    args.extend(strings(extra));
    ok(postura(&args).output().unwrap()).trim().parse().expect("scan --distributed prints the scan ID")
}

fn stored_items(pg: &PgServer, scan: i64) -> i64 {
    pg.try_psql("postura", &format!("SELECT count(*) FROM postura.items WHERE scan_id = {scan}"))
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Wait until the scan is complete (PostgreSQL may be down for a while meanwhile).
fn wait_complete(pg: &PgServer, scan: i64, workers: &Workers, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let status = pg.try_psql("postura", &format!("SELECT status FROM postura.scans WHERE id = {scan}"));
        if status.as_deref() == Ok("complete") {
            return;
        }
        assert!(Instant::now() < deadline, "scan {scan} not complete in {limit:?} ({status:?})\n{}", workers.logs());
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Every item's findings (key, check, status), grades, and the number of targets.
type Outcome = (BTreeSet<(String, String, String)>, BTreeMap<String, Option<String>>, usize);

fn outcome(report: &ScanReport) -> Outcome {
    let mut findings = BTreeSet::new();
    let mut grades = BTreeMap::new();
    for subject in postura::store::diff::subjects(report) {
        for f in subject.findings {
            findings.insert((subject.key.clone(), f.check.clone(), postura::store::diff::name(&f.status)));
        }
        grades.insert(subject.key, subject.grade);
    }
    (findings, grades, report.targets.len())
}

fn stored_report(url: &str, scan: i64) -> ScanReport {
    Store::open(Path::new(url)).unwrap().report(scan).unwrap()
}

#[test]
fn three_workers_share_a_scan_one_is_killed_and_the_findings_equal_a_single_process_scan() {
    let (_strong, mut targets) = nginx_farm(100, false);
    let (_weak, weak_targets) = nginx_farm(100, true);
    targets.extend(weak_targets);
    let pg = PgServer::start();
    let url = pg.url();
    let work = tempfile::tempdir().unwrap();

    // The reference: one process.
    let reference_json = work.path().join("reference.json");
    let mut args = strings(&["scan", "--no-revocation", "--quiet", "--timeout", "10", "--concurrency", "12", "--json"]);
    args.push(reference_json.display().to_string());
    args.extend(targets.iter().cloned());
    ok(postura(&args).output().unwrap());
    let reference: ScanReport = serde_json::from_slice(&std::fs::read(&reference_json).unwrap()).unwrap();
    assert_eq!(reference.targets.len(), 200);
    assert!(reference.targets.iter().all(|t| t.error.is_none() && t.tls.is_some()), "every target answered");
    let expected = outcome(&reference);
    assert!(expected.0.iter().any(|(_, check, status)| check == "tls.protocol.tls10" && status == "fail"));

    let scan = submit(&url, &targets, &[]);
    let mut workers = Workers::start(&url, 3, 4);
    // Killed while it has jobs in progress: some items are in, most are not.
    let deadline = Instant::now() + Duration::from_secs(300);
    while stored_items(&pg, scan) < 20 {
        assert!(Instant::now() < deadline, "no progress\n{}", workers.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    let in_progress = pg.psql("postura", "SELECT count(*) FROM underway.task WHERE state = 'in_progress'");
    workers.children[0].kill().unwrap(); // SIGKILL
    workers.children[0].wait().unwrap();
    let at_kill = stored_items(&pg, scan);
    assert!(at_kill < 150, "the kill came too late to matter ({at_kill} items in)");
    eprintln!("killed worker 0 with {at_kill} items stored and {in_progress} jobs in progress");

    wait_complete(&pg, scan, &workers, Duration::from_secs(900));
    assert!(workers.alive(1) && workers.alive(2), "the other workers keep running\n{}", workers.logs());
    let report = stored_report(&url, scan);
    let keys: BTreeSet<String> = report.targets.iter().map(target_key).collect();
    assert_eq!((report.targets.len(), keys.len()), (200, 200), "every target exactly once");
    let rows =
        pg.psql("postura", &format!("SELECT count(*), count(DISTINCT key) FROM postura.items WHERE scan_id = {scan}"));
    assert_eq!(rows, "200|200", "one stored row per target");
    assert_eq!(outcome(&report), expected, "the distributed scan's findings differ from the single-process scan's");
    // The killed worker's jobs were taken over: some job ran more than once.
    let retried: i64 = pg
        .psql(
            "postura",
            "SELECT count(*) FROM (SELECT task_id FROM underway.task_attempt GROUP BY task_id HAVING count(*) > 1) r",
        )
        .parse()
        .unwrap();
    assert!(retried >= 1, "no job was taken over from the killed worker\n{}", workers.logs());
}

#[test]
fn a_postgresql_restart_in_the_middle_of_a_distributed_scan_is_survived() {
    let (_nginx, targets) = nginx_farm(40, true);
    let mut pg = PgServer::start();
    let url = pg.url();
    let scan = submit(&url, &targets, &[]);
    let mut workers = Workers::start(&url, 2, 2);
    let deadline = Instant::now() + Duration::from_secs(300);
    while stored_items(&pg, scan) < 5 {
        assert!(Instant::now() < deadline, "no progress\n{}", workers.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    pg.stop();
    std::thread::sleep(Duration::from_secs(3));
    pg.start_again();
    wait_complete(&pg, scan, &workers, Duration::from_secs(900));
    assert!(workers.alive(0) && workers.alive(1), "the workers survived the restart\n{}", workers.logs());
    let report = stored_report(&url, scan);
    let keys: BTreeSet<String> = report.targets.iter().map(target_key).collect();
    assert_eq!((report.targets.len(), keys.len()), (40, 40), "every target exactly once");
    assert!(report.targets.iter().all(|t| t.tls.is_some()), "every target was scanned");
}

#[test]
fn the_per_address_limit_holds_across_workers_counted_at_the_server() {
    let nginx = Nginx::start_auto("ssl_protocols TLSv1.2 TLSv1.3;\n");
    // Six targets on one address (six ports of the gate, one nginx behind), each request held
    // 100 ms: three workers probing them at once would overlap at the gate.
    let gate_address = alloc_addr();
    let ports: Vec<u16> = (0..6).map(|n| 5101 + n).collect();
    let routes: Vec<(u16, std::net::SocketAddr)> = ports.iter().map(|&p| (p, nginx.socket_addr())).collect();
    let gate = Gate::start(gate_address, &routes, Duration::from_millis(100));
    let targets: Vec<String> = ports.iter().map(|p| format!("{gate_address}:{p}")).collect();
    let pg = PgServer::start();
    let url = pg.url();
    let scan = submit(&url, &targets, &["--per-host", "1"]);
    let workers = Workers::start(&url, 3, 4);
    wait_complete(&pg, scan, &workers, Duration::from_secs(900));
    let report = stored_report(&url, scan);
    assert_eq!(report.targets.len(), 6);
    assert!(
        report.targets.iter().all(|t| t.tls.is_some()),
        "{:?}",
        report.targets.iter().map(|t| &t.error).collect::<Vec<_>>()
    );
    let total: usize = (0..ports.len()).map(|n| gate.count(n)).sum();
    let counted: u64 = report.targets.iter().map(|t| u64::from(t.connections.tls)).sum();
    assert!(total >= 6 * 5, "every target's sweep went through the gate ({total} connections)");
    assert!(total as u64 >= counted, "the gate saw the sweeps' connections ({total} < {counted})");
    assert_eq!(gate.most_open.load(Ordering::SeqCst), 1, "--per-host 1 held across three workers");
    assert_eq!(gate.overlaps.load(Ordering::SeqCst), 0);
    // The jobs were spread over the workers (so the limit was held across processes, not by one).
    let ran: usize = (0..3)
        .filter(|n| {
            std::fs::read_to_string(workers.logs.path().join(format!("worker-{n}.log")))
                .unwrap_or_default()
                .contains("job done")
        })
        .count();
    assert!(ran >= 2, "the jobs ran in one worker only\n{}", workers.logs());
}

#[test]
fn each_vantage_point_scans_every_item_the_store_keeps_its_facts_apart_and_the_report_shows_differences() {
    let (nginx, targets) = nginx_farm(4, true);
    let pg = PgServer::start();
    let url = pg.url();
    let scan = submit(&url, &targets, &["--vantage", "north", "--vantage", "south"]);
    let mut workers = Workers { children: Vec::new(), logs: tempfile::tempdir().unwrap() };
    workers.add(&url, 2, &["--vantage", "north"]);
    // Only north's jobs can run: south's wait for a worker of theirs.
    let deadline = Instant::now() + Duration::from_secs(300);
    while stored_items(&pg, scan) < 4 {
        assert!(Instant::now() < deadline, "no progress\n{}", workers.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    let by_vantage = |vantage: &str| -> i64 {
        let sql = format!("SELECT count(*) FROM postura.items WHERE scan_id = {scan} AND vantage = '{vantage}'");
        pg.psql("postura", &sql).parse().unwrap()
    };
    assert_eq!((by_vantage("north"), by_vantage("south")), (4, 0), "a worker runs its own vantage's jobs only");
    assert_eq!(pg.psql("postura", &format!("SELECT status FROM postura.scans WHERE id = {scan}")), "running");
    // From the south, the servers are gone: what it sees differs from what the north saw.
    drop(nginx);
    workers.add(&url, 2, &["--vantage", "south"]);
    wait_complete(&pg, scan, &workers, Duration::from_secs(600));
    assert_eq!((by_vantage("north"), by_vantage("south")), (4, 4));
    let report = stored_report(&url, scan);
    assert_eq!(report.targets.len(), 4, "the report is made from the first vantage point's facts");
    assert!(report.targets.iter().all(|t| t.tls.is_some()), "the north saw every server");
    let assessment = report.assessment.as_ref().unwrap();
    assert_eq!(assessment.vantage.as_deref(), Some("north"));
    let differences = &assessment.vantage_differences;
    for target in &report.targets {
        let key = target_key(target);
        let grade = differences.iter().find(|d| d.item == key && d.check.is_none()).expect("a grade difference");
        // Unreachable: no grade there.
        assert_eq!((grade.vantage.as_str(), grade.there.as_str()), ("south", "-"), "{grade:?}");
        assert!(
            differences
                .iter()
                .any(|d| d.item == key && d.check.as_deref() == Some("tls.protocol.tls10") && d.here == "fail"),
            "{differences:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    ok(postura(&strings(&["report", "--scan", &scan.to_string(), "--html", html.to_str().unwrap(), "--db", &url]))
        .output()
        .unwrap());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"vantages\"") && page.contains("Differences between vantage points"), "no section");
    assert!(page.contains("tls.protocol.tls10") && page.contains(">south<"), "the rows are shown");
}

#[test]
fn scan_distributed_wait_writes_the_outputs_and_finish_refuses_an_unfinished_scan() {
    let (_nginx, targets) = nginx_farm(3, true);
    let pg = PgServer::start();
    let url = pg.url();
    let workers = Workers::start(&url, 1, 2);
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("scan.json"), dir.path().join("scan.html"));
    let mut args = strings(&["scan", "--distributed", "--wait", "--db", &url, "--no-revocation", "--quiet"]);
    args.extend(strings(&["--json", json.to_str().unwrap(), "--html", html.to_str().unwrap()]));
    args.extend(targets.iter().cloned());
    let output = postura(&args).output().unwrap();
    assert!(output.status.success(), "{}\n{}", String::from_utf8_lossy(&output.stderr), workers.logs());
    let scan: i64 = String::from_utf8_lossy(&output.stdout).lines().next().unwrap().parse().unwrap();
    let written: ScanReport = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(written.targets.len(), 3);
    assert_eq!(serde_json::to_value(&written).unwrap(), serde_json::to_value(stored_report(&url, scan)).unwrap());
    assert!(std::fs::read_to_string(&html).unwrap().to_ascii_lowercase().contains("<html"));

    // A scan whose items no worker runs (a vantage point nobody serves) cannot be finished yet.
    let waiting = submit(&url, &targets, &["--vantage", "nowhere"]);
    let output = postura(&strings(&["finish", &waiting.to_string(), "--db", &url])).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("3 items are not done yet"));
}

/// Zones of the DNS lab (BIND/Knot in a network namespace, with mail.test's MX hosts' SMTP
/// servers): the zones' job, the MX pass it leads to (one job per mail host) and the joins at the
/// end give the findings of a single-process scan. PostgreSQL and the workers run in the lab's namespace.
#[test]
fn a_zone_and_its_mx_hosts_found_by_the_mx_pass_equal_a_single_process_scan() {
    let lab = common::dns::DnsLab::start();
    let pg = PgServer::start_in(Some(&lab.netns.name));
    let url = pg.url();
    let in_lab = |args: &[String]| -> Command {
        let mut command = lab.netns.command(Path::new(env!("CARGO_BIN_EXE_postura")));
        command.args(args).env("POSTURA_TODAY", TODAY);
        command
    };
    let hints = lab.hints.to_str().unwrap().to_string();
    let common_args = strings(&[
        "dns://mail.test",
        "dns://optout.test",
        "dns://alias.test",
        "--root-hints",
        &hints,
        "--no-revocation",
    ]);
    let common_args = [common_args, strings(&["--quiet", "--timeout", "5"])].concat();
    let dir = tempfile::tempdir().unwrap();
    let reference_json = dir.path().join("reference.json");
    let mut args = strings(&["scan", "--json", reference_json.to_str().unwrap()]);
    args.extend(common_args.iter().cloned());
    ok(in_lab(&args).output().unwrap());
    let reference: ScanReport = serde_json::from_slice(&std::fs::read(&reference_json).unwrap()).unwrap();
    assert_eq!((reference.zones.len(), reference.targets.len()), (3, 2), "three zones and mail.test's two MX hosts");

    let mut args = strings(&["scan", "--distributed", "--db", &url]);
    args.extend(common_args.iter().cloned());
    let scan: i64 = ok(in_lab(&args).output().unwrap()).trim().parse().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    for n in 0..2 {
        let log = std::fs::File::create(logs.path().join(format!("worker-{n}.log"))).unwrap();
        let mut command = in_lab(&strings(&["worker", "--db", &url, "--concurrency", "2", "-v"]));
        command.stdout(Stdio::null()).stderr(log);
        children.push(spawn_guarded(command).unwrap());
    }
    let workers = Workers { children, logs };
    wait_complete(&pg, scan, &workers, Duration::from_secs(600));
    let db = url.clone();
    let report = lab.netns.enter(move || Store::open(Path::new(&db)).unwrap().report(scan).unwrap());
    assert_eq!(outcome(&report), outcome(&reference), "the distributed scan's findings differ");
    let names = |r: &ScanReport| r.zones.iter().map(|z| z.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&report), names(&reference));
    // The three zones (optout.test and alias.test share their nameservers) were one job.
    let logs = workers.logs();
    assert_eq!(logs.matches("job done scan=1 item=Zones").count(), 1, "{logs}");
    assert_eq!(logs.matches("item=Zone {").count(), 0, "{logs}");
    let mx_of: Vec<&Vec<String>> = report.targets.iter().map(|t| &t.mx_of).collect();
    assert!(mx_of.iter().all(|zones| zones.iter().any(|z| z.starts_with("mail.test"))), "{mx_of:?}");
}

/// A network partition between one worker and PostgreSQL: a relay that passes nothing for 40 s
/// while the other worker reaches the database directly. The scan goes on through the other
/// worker; once the partition heals, the cut-off worker's sessions resume (its jobs commit or are
/// retried) and the scan completes with every target stored exactly once; the worker survives.
#[test]
fn a_network_partition_between_a_worker_and_the_database_loses_nothing() {
    use common::partition::Partition;
    let (_nginx, targets) = nginx_farm(40, true);
    let pg = PgServer::start();
    let url = pg.url();
    let relay = Partition::start(std::net::SocketAddr::V4(alloc_endpoint()), pg.endpoint());
    let relayed_url = format!("postgres://postgres@{}/postura", relay.addr);
    let scan = submit(&url, &targets, &[]);
    let mut workers = Workers::start(&relayed_url, 1, 2);
    let deadline = Instant::now() + Duration::from_secs(300);
    while stored_items(&pg, scan) < 3 {
        assert!(Instant::now() < deadline, "no progress\n{}", workers.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    relay.cut();
    let cut_at = Instant::now();
    let before = stored_items(&pg, scan);
    workers.add(&url, 2, &[]);
    // The scan goes on without the cut-off worker.
    let deadline = Instant::now() + Duration::from_secs(240);
    while stored_items(&pg, scan) < before + 10 {
        assert!(Instant::now() < deadline, "no progress during the partition\n{}", workers.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(40).saturating_sub(cut_at.elapsed()));
    let during = stored_items(&pg, scan);
    relay.heal();
    wait_complete(&pg, scan, &workers, Duration::from_secs(900));
    assert!(workers.alive(0) && workers.alive(1), "both workers survived\n{}", workers.logs());
    let report = stored_report(&url, scan);
    let keys: BTreeSet<String> = report.targets.iter().map(target_key).collect();
    assert_eq!((report.targets.len(), keys.len()), (40, 40), "every target exactly once");
    assert!(report.targets.iter().all(|t| t.tls.is_some()), "every target was scanned");
    println!("items stored: {before} at the cut, {during} after 40 s of partition, 40 at the end");
    // The cut-off worker saw the database go, and started afresh once it came back.
    let cut_off = workers.logs();
    let cut_off = cut_off.split("--- worker 1 ---").next().unwrap_or_default();
    assert!(cut_off.contains("the database does not answer"), "{cut_off}");
    assert!(cut_off.contains("the database came back; starting afresh"), "{cut_off}");
}
