//! `postura daemon` on real local servers (openssl s_server, nginx), a real SQLite store and real
//! HTTP receivers for its webhooks: the one-minute cron schedule runs two scans and writes two
//! report sets, `/metrics` is scraped and parsed, a server weakened between the scans gives
//! exactly one webhook naming what `postura diff` names; receivers that hang or answer 500 delay
//! no scan; SIGTERM mid-scan exits 0 with the scan interrupted and the next start resumes it; a
//! malformed configuration is refused with FILE:LINE:COLUMN before anything starts.
//!
//! The webhook receiver is a small HTTP/1.1 listener written here (on 127.0.0.1): what it must
//! do — record each POST, answer 200 or 500, or never answer — is a test fixture's job, not a
//! server's.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::servers::{Nginx, OpenSslServer};
use postura::store::Store;

// ---------------------------------------------------------------------------------------------
// A webhook receiver

#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    Ok,
    ServerError,
    /// Reads the request and never answers (the connection stays open).
    Hang,
}

struct Receiver {
    addr: SocketAddr,
    /// (path, JSON body) of each request received in full.
    posts: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    connections: Arc<Mutex<usize>>,
}

impl Receiver {
    fn start(answer: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let posts = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (p, c) = (posts.clone(), connections.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                *c.lock().unwrap() += 1;
                stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                if let Some(request) = read_request(&stream) {
                    p.lock().unwrap().push(request);
                }
                let mut stream = stream;
                match answer {
                    Answer::Ok => {
                        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                    }
                    Answer::ServerError => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops",
                        );
                    }
                    Answer::Hang => held.push(stream),
                }
            }
        });
        Receiver { addr, posts, connections }
    }

    fn url(&self) -> String {
        format!("http://{}/hook?token=t", self.addr)
    }

    fn posts(&self) -> Vec<(String, serde_json::Value)> {
        self.posts.lock().unwrap().clone()
    }

    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

fn read_request(stream: &TcpStream) -> Option<(String, serde_json::Value)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    assert_eq!(method, "POST", "webhooks are POSTs");
    let mut length = 0;
    let mut content_type = String::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "content-type" => content_type = value.trim().to_string(),
            _ => {}
        }
    }
    assert_eq!(content_type, "application/json");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, serde_json::from_slice(&body).expect("the webhook body is JSON")))
}

// ---------------------------------------------------------------------------------------------
// The daemon process

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path) -> Daemon {
        let log = config.with_extension(format!("log.{}", rand_suffix()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_postura"))
            .args(["daemon", "--config"])
            .arg(config)
            .args(["-v", "--log-format", "json"])
            .env("POSTURA_TODAY", "2026-12-01")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Log events (JSON lines) whose message is `message`.
    fn events(&self, message: &str) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["fields"]["message"] == message)
            .collect()
    }

    fn terminate(&mut self, limit: Duration) -> Option<i32> {
        assert!(Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the daemon did not exit in time after SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the daemon exited ({status}):\n{}", self.log());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn wait_until(what: &str, limit: Duration, daemon: &mut Daemon, mut done: impl FnMut(&Daemon) -> bool) {
    let deadline = Instant::now() + limit;
    while !done(daemon) {
        daemon.assert_running();
        assert!(Instant::now() < deadline, "timed out waiting for {what}:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scans in the store as (id, status), oldest first (read-only: the daemon writes).
fn scans(db: &Path) -> Vec<(i64, String)> {
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    let Ok(mut statement) = conn.prepare("SELECT id, status FROM scans ORDER BY id") else { return Vec::new() };
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

fn complete(db: &Path) -> usize {
    scans(db).iter().filter(|(_, s)| s == "complete").count()
}

fn items(db: &Path, scan: i64) -> i64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM items WHERE scan_id = ?1", [scan], |r| r.get(0)))
        .unwrap_or(0)
}

/// GET `path` over HTTP/1.1: (status, body).
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The samples of an OpenMetrics text: `name{labels}` → value.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF: {text}");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {l}"));
            (name.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("not a number: {l}")))
        })
        .collect()
}

fn postura(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postura")).args(args).output().unwrap()
}

/// A country profile "ZZ" declaring these TLS endpoints by address.
fn write_profile(dir: &Path, servers: &[SocketAddr]) -> PathBuf {
    let mut text = String::from(
        "schema_version = 1\n[country]\ncode = \"ZZ\"\nname = \"Daemon lab\"\n[scope]\nnames = [\"postura.test\"]\nnetworks = [\"127.0.0.0/8\"]\n",
    );
    for server in servers {
        text.push_str(&format!(
            "[[endpoints]]\nhost = \"{}\"\nport = {}\nservice = \"tls\"\nsector = \"operator\"\noperator = \"Telco\"\n",
            server.ip(),
            server.port()
        ));
    }
    let path = dir.join("zz.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const MODERN: [&str; 2] = ["-min_protocol", "TLSv1.2"];
const WEAK: [&str; 4] = ["-min_protocol", "TLSv1", "-cipher", "ALL:@SECLEVEL=0"];

// ---------------------------------------------------------------------------------------------
// The tests

/// The real one-minute cron path: two scans a minute apart, the first server weakened in between.
#[test]
fn a_minutely_schedule_scans_twice_writes_reports_serves_metrics_and_alerts_once_on_the_regression() {
    let first = OpenSslServer::start_auto(&MODERN);
    let (addr, port) = (first.addr, first.port);
    let steady = Nginx::mozilla_intermediate();
    let receiver = Receiver::start(Answer::Ok);
    let dir = tempfile::tempdir().unwrap();
    write_profile(dir.path(), &[first.socket_addr(), steady.socket_addr()]);
    let metrics = free_port();
    let db = dir.path().join("postura.db");
    let config = dir.path().join("daemon.toml");
    std::fs::write(
        &config,
        format!(
            r#"[daemon]
db = "postura.db"
metrics_address = "{metrics}"
grace_period = 20

[[profile]]
name = "zz"
profile = "zz.toml"
schedule = "* * * * *"
output_dir = "reports"
scan_args = ["--no-revocation", "--timeout", "10"]

[[profile.alert]]
webhook = "{}"
min_severity = "info"
headers = {{ X-Token = "secret" }}
"#,
            receiver.url()
        ),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config);
    wait_until("/healthz", Duration::from_secs(30), &mut daemon, |_| {
        TcpStream::connect(metrics).is_ok() && http_get(metrics, "/healthz") == (200, "ok\n".to_string())
    });
    wait_until("the first scan", Duration::from_secs(180), &mut daemon, |_| complete(&db) >= 1);
    // Weaken the first server on the same address and port before the next minute.
    drop(first);
    let weakened = OpenSslServer::start(addr, port, &WEAK);
    wait_until("the second scan", Duration::from_secs(180), &mut daemon, |_| complete(&db) >= 2);
    wait_until("the webhook", Duration::from_secs(60), &mut daemon, |_| !receiver.posts().is_empty());
    // Nothing else is on its way: the delivery is logged, and no second POST follows.
    wait_until("the delivery's log", Duration::from_secs(30), &mut daemon, |d| !d.events("alert delivered").is_empty());
    std::thread::sleep(Duration::from_secs(2));
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "exactly one webhook: {posts:?}");
    let (path, body) = &posts[0];
    assert_eq!(path, "/hook?token=t");
    assert_eq!((body["scan"].as_i64(), body["previous_scan"].as_i64()), (Some(2), Some(1)), "{body}");
    assert_eq!(body["country"], "ZZ");

    // `postura diff 1 2` names exactly the findings the webhook named.
    let diff = postura(&["diff", "1", "2", "--json", "--db", db.to_str().unwrap()]);
    assert!(diff.status.success(), "{}", String::from_utf8_lossy(&diff.stderr));
    let diff: serde_json::Value = serde_json::from_slice(&diff.stdout).unwrap();
    let named = |list: &serde_json::Value| -> BTreeSet<(String, String)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| (c["subject"].as_str().unwrap().to_string(), c["check"].as_str().unwrap().to_string()))
            .collect()
    };
    let mut expected = named(&diff["new"]);
    expected.extend(named(&diff["regressed"]));
    assert_eq!(named(&body["findings"]), expected);
    let weak_subject = format!("{addr}|{port}|");
    assert!(
        expected.iter().any(|(s, c)| s.starts_with(&weak_subject) && c == "tls.protocol.tls10"),
        "TLS 1.0 on the weakened server is new or regressed: {expected:?}"
    );
    let steady_subject = format!("{}|{}|", steady.socket_addr().ip(), steady.socket_addr().port());
    assert!(expected.iter().all(|(s, _)| !s.starts_with(&steady_subject)), "{expected:?}");
    let text = postura(&["diff", "1", "2", "--db", db.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("tls.protocol.tls10"));

    // Two report sets.
    wait_until("the reports", Duration::from_secs(60), &mut daemon, |d| d.events("reports written").len() >= 2);
    let reports = dir.path().join("reports");
    for id in [1, 2] {
        for ext in ["html", "json", "csv"] {
            let file = reports.join(format!("zz-{id}.{ext}"));
            assert!(file.metadata().is_ok_and(|m| m.len() > 0), "{} missing", file.display());
        }
        let json: postura::facts::ScanReport =
            serde_json::from_str(&std::fs::read_to_string(reports.join(format!("zz-{id}.json"))).unwrap()).unwrap();
        assert_eq!(json.targets.len(), 2);
    }
    let html = std::fs::read_to_string(reports.join("zz-2.html")).unwrap();
    assert!(html.contains(r#"<section id="trend""#) && html.contains("aria-labelledby=\"trend-index-t"), "trend");

    // /metrics, parsed.
    let (status, text) = http_get(metrics, "/metrics");
    assert_eq!(status, 200);
    let samples = parse_metrics(&text);
    let get = |name: &str| samples.get(name).copied().unwrap_or_else(|| panic!("no {name} in:\n{text}"));
    assert_eq!(get(r#"postura_scans_total{profile="zz"}"#), 2.0);
    assert_eq!(get(r#"postura_scans_failed_total{profile="zz"}"#), 0.0);
    assert_eq!(get(r#"postura_items_scanned_total{profile="zz"}"#), 4.0);
    assert_eq!(get(r#"postura_items_failed_total{profile="zz"}"#), 0.0);
    assert_eq!(get(r#"postura_scan_duration_seconds_count{profile="zz"}"#), 2.0);
    assert_eq!(get(r#"postura_webhooks_total{profile="zz",outcome="delivered"}"#), 1.0);
    let store = Store::open(&db).unwrap();
    let second = store.report(2).unwrap();
    let index = second.assessment.as_ref().and_then(|a| a.index).unwrap();
    assert!((get(r#"postura_country_index{country="ZZ"}"#) - index).abs() < 1e-9);
    let failing_now = store.history(None).unwrap()[0].failing as f64;
    let by_severity: f64 = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|s| get(&format!(r#"postura_failing_findings{{country="ZZ",severity="{s}"}}"#)))
        .sum();
    assert_eq!(by_severity, failing_now);
    let last = get(r#"postura_last_success_timestamp_seconds{profile="zz"}"#);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(last > now - 600.0 && last <= now + 1.0, "{last} vs {now}");

    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0), "{}", daemon.log());
    drop(weakened);
}

/// A receiver that never answers and one that answers 500 get bounded retries, while the
/// schedule goes on: later scans complete before the hanging delivery is given up.
#[test]
fn webhook_receivers_that_hang_or_fail_delay_nothing_else() {
    let server = OpenSslServer::start_auto(&MODERN);
    let (addr, port) = (server.addr, server.port);
    let hanging = Receiver::start(Answer::Hang);
    let failing = Receiver::start(Answer::ServerError);
    let dir = tempfile::tempdir().unwrap();
    write_profile(dir.path(), &[server.socket_addr()]);
    let db = dir.path().join("postura.db");
    let config = dir.path().join("daemon.toml");
    std::fs::write(
        &config,
        format!(
            r#"[daemon]
db = "postura.db"

[[profile]]
name = "zz"
profile = "zz.toml"
schedule = "*/4 * * * * *"
output_dir = "reports"
scan_args = ["--no-revocation"]

[[profile.alert]]
webhook = "{}"
min_severity = "medium"
timeout = 60
retries = 1

[[profile.alert]]
webhook = "{}"
min_severity = "medium"
timeout = 5
retries = 2
"#,
            hanging.url(),
            failing.url()
        ),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config);
    wait_until("the first scan", Duration::from_secs(120), &mut daemon, |_| complete(&db) >= 1);
    drop(server);
    let weakened = OpenSslServer::start(addr, port, &WEAK);
    // Some scan after the restart sees the weakened server: both rules fire, once.
    wait_until("the alerts", Duration::from_secs(120), &mut daemon, |_| {
        hanging.connections() >= 1 && !failing.posts().is_empty()
    });
    let alerted_at = complete(&db);
    // The hanging delivery lasts at least 60 s + 1 s backoff + 60 s; scans every 4 s go on.
    wait_until("two more scans", Duration::from_secs(120), &mut daemon, |_| complete(&db) >= alerted_at + 2);
    assert!(
        daemon
            .events("alert not delivered; giving up")
            .iter()
            .all(|e| !e["fields"]["url"].as_str().unwrap().contains(&hanging.addr.to_string())),
        "the hanging delivery was still retrying while later scans completed:\n{}",
        daemon.log()
    );
    // Retries are bounded and logged: 1 + retries attempts each, then given up.
    wait_until("both deliveries given up", Duration::from_secs(300), &mut daemon, |d| {
        d.events("alert not delivered; giving up").len() >= 2
    });
    assert_eq!(failing.posts().len(), 3, "500: the first attempt and 2 retries");
    assert_eq!(hanging.connections(), 2, "no answer: the first attempt and 1 retry");
    let retries = daemon.events("alert not delivered; retrying");
    assert_eq!(retries.len(), 3, "{retries:?}");
    assert!(retries.iter().any(|e| e["fields"]["why"].as_str().unwrap().contains("500")), "{retries:?}");
    assert!(
        retries.iter().any(|e| e["fields"]["why"].as_str().unwrap().contains("no answer within 60 s")),
        "{retries:?}"
    );
    // Only the one regression alerted (later scans equal the weakened one).
    assert_eq!(failing.posts().iter().map(|(_, b)| b["scan"].as_i64()).collect::<BTreeSet<_>>().len(), 1);
    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0), "{}", daemon.log());
    drop(weakened);
}

/// HTTPS receivers: nginx with the test PKI's certificate. A rule whose `ca_file` holds the
/// test root delivers; the same URL without it is refused (the Mozilla roots do not know the
/// test CA), never delivered, and given up after its retries.
#[test]
fn an_https_receiver_is_verified_against_the_rules_ca_file() {
    let server = OpenSslServer::start_auto(&MODERN);
    let (addr, port) = (server.addr, server.port);
    let https = free_port();
    let std::net::IpAddr::V4(https_ip) = https.ip() else { unreachable!() };
    let receiver = Nginx::start(https_ip, https.port(), "location /hook { return 204; }");
    let dir = tempfile::tempdir().unwrap();
    write_profile(dir.path(), &[server.socket_addr()]);
    let db = dir.path().join("postura.db");
    let config = dir.path().join("daemon.toml");
    let root = common::pki::Pki::shared().root_cert.display().to_string();
    std::fs::write(
        &config,
        format!(
            r#"[daemon]
db = "postura.db"

[[profile]]
name = "zz"
profile = "zz.toml"
schedule = "*/4 * * * * *"
output_dir = "reports"
scan_args = ["--no-revocation"]

[[profile.alert]]
webhook = "https://{https}/hook"
min_severity = "medium"
ca_file = "{root}"

[[profile.alert]]
webhook = "https://{https}/hook?untrusted"
min_severity = "medium"
retries = 1
"#
        ),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config);
    wait_until("the first scan", Duration::from_secs(120), &mut daemon, |_| complete(&db) >= 1);
    drop(server);
    let weakened = OpenSslServer::start(addr, port, &WEAK);
    wait_until("both outcomes", Duration::from_secs(120), &mut daemon, |d| {
        !d.events("alert delivered").is_empty() && !d.events("alert not delivered; giving up").is_empty()
    });
    let delivered = daemon.events("alert delivered");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["fields"]["status"].as_u64(), Some(204));
    assert_eq!(delivered[0]["fields"]["url"], format!("https://{https}/hook"));
    let refused = daemon.events("alert not delivered; giving up");
    assert_eq!(refused[0]["fields"]["url"], format!("https://{https}/hook?untrusted"));
    assert!(refused[0]["fields"]["why"].as_str().unwrap().contains("certificate"), "{refused:?}");
    let access = std::fs::read_to_string(receiver.process.dir().join("access.log")).unwrap();
    let posts: Vec<&str> = access.lines().filter(|l| l.contains("\"POST /hook")).collect();
    assert_eq!(posts.len(), 1, "one POST got through TLS: {access}");
    assert!(posts[0].contains("\"POST /hook HTTP/1.1\" 204"), "{access}");
    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0), "{}", daemon.log());
    drop(weakened);
}

/// SIGTERM mid-scan: the item in flight finishes, the scan is marked interrupted, exit 0; the
/// next start resumes the same scan to its end without scanning its stored items again.
#[test]
fn sigterm_interrupts_the_scan_and_the_next_start_resumes_it() {
    let servers: Vec<OpenSslServer> = (0..6).map(|_| OpenSslServer::start_auto(&WEAK)).collect();
    let dir = tempfile::tempdir().unwrap();
    write_profile(dir.path(), &servers.iter().map(OpenSslServer::socket_addr).collect::<Vec<_>>());
    let db = dir.path().join("postura.db");
    let config = dir.path().join("daemon.toml");
    let write_config = |schedule: &str| {
        std::fs::write(
            &config,
            format!(
                "[daemon]\ndb = \"postura.db\"\ngrace_period = 60\n\n[[profile]]\nname = \"zz\"\nprofile = \"zz.toml\"\n\
                 schedule = \"{schedule}\"\noutput_dir = \"reports\"\nscan_args = [\"--no-revocation\", \"--concurrency\", \"1\"]\n"
            ),
        )
        .unwrap()
    };
    write_config("*/2 * * * * *");
    let mut daemon = Daemon::start(&config);
    wait_until("a stored item", Duration::from_secs(120), &mut daemon, |_| items(&db, 1) >= 1);
    assert_eq!(daemon.terminate(Duration::from_secs(90)), Some(0), "{}", daemon.log());
    assert_eq!(scans(&db), vec![(1, "interrupted".to_string())], "{}", daemon.log());
    let stored = items(&db, 1);
    assert!((1..servers.len() as i64).contains(&stored), "{stored} items stored");
    assert!(!daemon.events("stopping: no new items; waiting for those in flight").is_empty(), "{}", daemon.log());

    // Restarted with a schedule that will not fire during the test: it resumes scan 1 at once.
    write_config("0 0 1 1 *");
    let mut restarted = Daemon::start(&config);
    wait_until("the resumed scan", Duration::from_secs(180), &mut restarted, |_| complete(&db) == 1);
    assert_eq!(scans(&db), vec![(1, "complete".to_string())]);
    let resumed = restarted.events("resuming an interrupted scan");
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0]["fields"]["done"].as_i64(), Some(stored));
    let report = Store::open(&db).unwrap().report(1).unwrap();
    assert_eq!(report.targets.len(), servers.len());
    assert!(report.targets.iter().all(|t| t.error.is_none()), "every target scanned");
    wait_until("the reports", Duration::from_secs(60), &mut restarted, |d| !d.events("reports written").is_empty());
    assert!(dir.path().join("reports/zz-1.html").is_file());
    assert_eq!(restarted.terminate(Duration::from_secs(60)), Some(0), "{}", restarted.log());
}

/// An item that would outlast the grace period is abandoned: the daemon exits 0 soon after the
/// grace period, the scan is interrupted and the item is not stored (it is probed on resume).
#[test]
fn sigterm_abandons_an_item_that_outlasts_the_grace_period() {
    let silent = common::hostile::SilentServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_profile(dir.path(), &[silent.addr()]);
    let db = dir.path().join("postura.db");
    let config = dir.path().join("daemon.toml");
    std::fs::write(
        &config,
        "[daemon]\ndb = \"postura.db\"\ngrace_period = 2\n\n[[profile]]\nname = \"zz\"\nprofile = \"zz.toml\"\n\
         schedule = \"*/2 * * * * *\"\noutput_dir = \"reports\"\n\
         scan_args = [\"--no-revocation\", \"--timeout\", \"300\", \"--deadline\", \"600\"]\n",
    )
    .unwrap();
    let mut daemon = Daemon::start(&config);
    wait_until("the scan", Duration::from_secs(60), &mut daemon, |d| !d.events("scan started").is_empty());
    // The silent server holds the probe for up to 300 s per read; the grace period is 2 s.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0), "{}", daemon.log());
    assert!(!daemon.events("items still in flight at the end of the grace period were abandoned").is_empty());
    assert_eq!(scans(&db), vec![(1, "interrupted".to_string())]);
    assert_eq!(items(&db, 1), 0, "the abandoned item is not stored");
}

#[test]
fn a_malformed_configuration_is_located_and_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    write_profile(dir.path(), &[]);
    let config = dir.path().join("daemon.toml");
    std::fs::write(
        &config,
        "[daemon]\ndb = \"postura.db\"\nmetrics_adress = \"127.0.0.1:9464\"\n\n[[profile]]\nname = \"zz\"\nprofile = \"zz.toml\"\n\
         schedule = \"0 3 * *\"\noutput_dir = \"reports\"\n",
    )
    .unwrap();
    let output = postura(&["daemon", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let at = format!("{}:3:1: error: unknown key `metrics_adress`", config.display());
    assert!(stderr.starts_with(&at), "{stderr}");
    assert!(stderr.contains("did you mean `metrics_address`?"), "{stderr}");
    assert!(!dir.path().join("postura.db").exists() && !dir.path().join("reports").exists(), "nothing started");

    // Fixed key, bad schedule: the schedule's place and a fix.
    let text = std::fs::read_to_string(&config).unwrap().replace("metrics_adress", "metrics_address");
    std::fs::write(&config, text).unwrap();
    let output = postura(&["daemon", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:8:12: error: `schedule` is not a cron pattern", config.display())),
        "{stderr}"
    );
    assert!(stderr.contains("help: five fields"), "{stderr}");
    assert!(!dir.path().join("postura.db").exists(), "nothing started");

    // A profile that does not validate is reported at the `profile` key, still before anything.
    let text = std::fs::read_to_string(&config).unwrap().replace("0 3 * *", "0 3 * * 1");
    std::fs::write(&config, text).unwrap();
    std::fs::write(dir.path().join("zz.toml"), "schema_version = 1\n[country]\ncode = \"ZZ\"\n").unwrap();
    let output = postura(&["daemon", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:7:11: profile \"zz\"", config.display())), "{stderr}");
    assert!(stderr.contains("zz.toml:"), "the profile's own diagnostic: {stderr}");
    assert!(!dir.path().join("postura.db").exists(), "nothing started");

    // All fixed: `--check` says so and exits 0 without scanning (nothing listens on port 9).
    write_profile(dir.path(), &["127.0.0.1:9".parse().unwrap()]);
    let output = postura(&["daemon", "--config", config.to_str().unwrap(), "--check"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).ends_with(": ok — 1 profile\n"));
    assert!(scans(&dir.path().join("postura.db")).is_empty(), "no scan");
}

#[test]
fn the_example_configuration_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/daemon.example.toml");
    let config = postura::daemon::config::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.profiles.len(), 1);
    let profile = &config.profiles[0];
    assert_eq!((profile.name.as_str(), profile.lang.as_str()), ("uy", "es"));
    assert_eq!(profile.schedule.pattern(), "0 3 * * 1");
    assert_eq!(profile.alerts[0].headers, vec![("Authorization".to_string(), "Bearer change-me".to_string())]);
    assert_eq!(config.metrics_address, Some("127.0.0.1:9464".parse().unwrap()));
}

// ---------------------------------------------------------------------------------------------
// Daemons sharing a PostgreSQL store: the schedules go through the job queue

/// A daemon configuration on the PostgreSQL store `url`, reports into `output_dir`.
fn write_pg_config(dir: &Path, name: &str, url: &str, schedule: &str, output_dir: &str) -> PathBuf {
    let config = dir.join(name);
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndb = \"{url}\"\ngrace_period = 60\n\n[[profile]]\nname = \"zz\"\nprofile = \"zz.toml\"\n\
             schedule = \"{schedule}\"\noutput_dir = \"{output_dir}\"\nscan_args = [\"--no-revocation\", \"--concurrency\", \"1\"]\n"
        ),
    )
    .unwrap();
    config
}

/// `SELECT` rows of the store as `|`-separated lines.
fn pg_rows(pg: &common::pg::PgServer, sql: &str) -> Vec<String> {
    pg.try_psql("postura", sql).map(|out| out.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// Two daemons with the same schedule on one PostgreSQL store: one schedules (holds the profile's
/// scheduler lock), the other stands by; every occurrence is queued once (one row) and each scan
/// runs in one daemon. The scheduler is then SIGKILLed: the standby takes over the schedule
/// within seconds and the scans go on, still one per occurrence.
#[test]
fn two_daemons_on_one_postgres_store_scan_each_occurrence_once() {
    let pg = common::pg::PgServer::start();
    let servers: Vec<OpenSslServer> = (0..3).map(|_| OpenSslServer::start_auto(&MODERN)).collect();
    let dir = tempfile::tempdir().unwrap();
    write_profile(dir.path(), &servers.iter().map(OpenSslServer::socket_addr).collect::<Vec<_>>());
    let every_four_seconds = "*/4 * * * * *";
    let a = write_pg_config(dir.path(), "a.toml", &pg.url(), every_four_seconds, "reports-a");
    let b = write_pg_config(dir.path(), "b.toml", &pg.url(), every_four_seconds, "reports-b");
    let mut daemons = [Daemon::start(&a), Daemon::start(&b)];
    let pg = &pg;
    let complete = |n: usize| {
        move |_: &Daemon| {
            pg_rows(pg, "SELECT count(*) FROM postura.scans WHERE status = 'complete'")
                .first()
                .and_then(|c| c.parse::<usize>().ok())
                >= Some(n)
        }
    };
    wait_until("two complete scans", Duration::from_secs(300), &mut daemons[0], complete(2));
    const LEADS: &str = "this daemon schedules the profile; others on the store stand by";
    const STANDS_BY: &str = "another daemon schedules this profile: standing by";
    let leader = daemons.iter().position(|d| !d.events(LEADS).is_empty()).expect("a scheduler");
    let standby = 1 - leader;
    let logs = |d: &[Daemon; 2]| format!("A: {}\nB: {}", d[0].log(), d[1].log());
    assert_eq!(daemons[standby].events(LEADS).len(), 0, "{}", logs(&daemons));
    assert_eq!(daemons[standby].events(STANDS_BY).len(), 1, "{}", logs(&daemons));
    assert!(daemons[standby].events("scan queued").is_empty(), "the standby fired: {}", logs(&daemons));
    assert!(daemons[leader].events("scan queued").len() >= 2, "{}", logs(&daemons));

    // The scheduler dies; the standby takes the schedule over and the scans go on.
    daemons[leader].child.kill().unwrap();
    daemons[leader].child.wait().unwrap();
    let queued_before = pg_rows(pg, "SELECT count(*) FROM postura.daemon_runs")[0].parse::<usize>().unwrap();
    let complete_at_kill: usize =
        pg_rows(pg, "SELECT count(*) FROM postura.scans WHERE status = 'complete'")[0].parse().unwrap();
    wait_until(
        "two more complete scans",
        Duration::from_secs(300),
        &mut daemons[standby],
        complete(complete_at_kill + 2),
    );
    assert_eq!(daemons[standby].events(LEADS).len(), 1, "the standby took over: {}", logs(&daemons));
    let after_takeover = daemons[standby].events("scan queued").len();
    assert!(after_takeover >= 1, "{}", logs(&daemons));
    assert_eq!(daemons[standby].terminate(Duration::from_secs(90)), Some(0), "{}", logs(&daemons));

    // Each occurrence recorded once, queued by exactly one daemon.
    let runs = pg_rows(pg, "SELECT occurrence FROM postura.daemon_runs ORDER BY occurrence");
    let mut queued: Vec<String> = daemons
        .iter()
        .flat_map(|d| d.events("scan queued"))
        .map(|e| e["fields"]["occurrence"].as_str().unwrap().to_string())
        .collect();
    queued.sort();
    assert_eq!(queued, runs, "{}", logs(&daemons));
    queued.dedup();
    assert_eq!(queued.len(), runs.len(), "an occurrence queued twice");
    let scans = pg_rows(pg, "SELECT count(*) FROM postura.scans")[0].parse::<usize>().unwrap();
    assert!(scans <= runs.len(), "{scans} scans for {} occurrences", runs.len());
    let resumed = daemons[standby].events("resuming an interrupted scan").len();
    let complete_already = daemons[standby]
        .events("the occurrence's scan is complete already: writing its reports and alerts again")
        .len();
    println!(
        "occurrences queued: {} ({queued_before} by the first scheduler, {after_takeover} after the takeover), scans: {scans}, \
         taken over by the standby: {resumed} resumed, {complete_already} complete already",
        runs.len()
    );
    // The reports of each scan were written by the daemon that ran it.
    let reports = ["reports-a", "reports-b"]
        .iter()
        .filter_map(|d| std::fs::read_dir(dir.path().join(d)).ok())
        .flat_map(|entries| entries.filter_map(Result::ok))
        .filter(|e| e.file_name().to_string_lossy().ends_with(".html"))
        .count();
    assert!(reports >= 4, "{reports} HTML reports");
}

/// A daemon killed mid-scan: its job's heartbeat stops, and another daemon on the same store
/// takes the job and resumes the same scan (the items already stored are not probed again).
#[test]
fn a_scan_left_by_a_killed_daemon_is_resumed_by_another() {
    let pg = common::pg::PgServer::start();
    let servers: Vec<OpenSslServer> = (0..8).map(|_| OpenSslServer::start_auto(&WEAK)).collect();
    let dir = tempfile::tempdir().unwrap();
    write_profile(dir.path(), &servers.iter().map(OpenSslServer::socket_addr).collect::<Vec<_>>());
    // Fires once, soon; then never again during the test.
    let soon = chrono_like_next_second_pattern();
    let a = write_pg_config(dir.path(), "a.toml", &pg.url(), &soon, "reports-a");
    let b = write_pg_config(dir.path(), "b.toml", &pg.url(), "0 0 1 1 *", "reports-b");
    let mut first = Daemon::start(&a);
    let stored = |_: &Daemon| {
        pg_rows(&pg, "SELECT count(*) FROM postura.items WHERE scan_id = 1").first().and_then(|n| n.parse::<i64>().ok())
            >= Some(1)
    };
    wait_until("a stored item", Duration::from_secs(180), &mut first, stored);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let at_kill: i64 = pg_rows(&pg, "SELECT count(*) FROM postura.items WHERE scan_id = 1")[0].parse().unwrap();
    assert!(at_kill < servers.len() as i64, "the scan ended before the kill: {at_kill} items");

    let mut second = Daemon::start(&b);
    let complete = |_: &Daemon| pg_rows(&pg, "SELECT status FROM postura.scans WHERE id = 1") == ["complete"];
    wait_until("the resumed scan", Duration::from_secs(300), &mut second, complete);
    assert_eq!(pg_rows(&pg, "SELECT count(*) FROM postura.scans"), ["1"], "one scan, resumed: {}", second.log());
    let resumed = second.events("resuming an interrupted scan");
    assert_eq!(resumed.len(), 1, "{}", second.log());
    let done_at_resume = resumed[0]["fields"]["done"].as_i64().unwrap();
    assert!(done_at_resume >= at_kill, "{done_at_resume} items kept of {at_kill} stored");
    assert_eq!(pg_rows(&pg, "SELECT count(*) FROM postura.items WHERE scan_id = 1"), [servers.len().to_string()]);
    wait_until("the reports", Duration::from_secs(60), &mut second, |d| !d.events("reports written").is_empty());
    // The occurrence is done once its job commits, just after the reports.
    let done = |_: &Daemon| pg_rows(&pg, "SELECT done FROM postura.daemon_runs") == ["t"];
    wait_until("the occurrence done", Duration::from_secs(60), &mut second, done);
    assert!(dir.path().join("reports-b/zz-1.html").is_file());
    assert_eq!(second.terminate(Duration::from_secs(60)), Some(0), "{}", second.log());
}

/// A six-field pattern that fires at one second a few seconds from now (and then a minute later).
fn chrono_like_next_second_pattern() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    format!("{} * * * * *", (now + 5) % 60)
}
