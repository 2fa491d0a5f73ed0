//! The store under bad input and faults, on a real SQLite file and real mounts: a file that is
//! not SQLite, another program's SQLite database, a store from a newer postura, a read-only
//! directory and a full disk (a 1 MiB tmpfs) each give a clear error naming the file and exit
//! 2, and the scans already stored stay intact (and an interrupted one stays resumable).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::pg::TestStores;
use common::servers::OpenSslServer;
use postura::store::Store;

fn postura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postura")).args(args).env("POSTURA_TODAY", "2026-12-01").output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A real scan of a real s_server into `db`.
fn scan_into(server: &OpenSslServer, db: &Path) -> Output {
    let target = server.socket_addr().to_string();
    postura(&["scan", &target, "--no-revocation", "--quiet", "--db", db.to_str().unwrap()])
}

fn assert_refused(output: &Output, db: &Path, why: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains(&db.display().to_string()), "the error names the file: {text}");
    assert!(text.contains(why), "expected «{why}»: {text}");
}

/// A tmpfs mounted for the test, unmounted on drop (the temporary directory holding the mount
/// point is removed after that).
struct Tmpfs(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Tmpfs {
    fn mount(options: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(&path).status().unwrap();
        assert!(status.success(), "mount tmpfs (the tests run as root)");
        Tmpfs(path, dir)
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount").args(["-o", &format!("remount,{options}")]).arg(&self.0).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.db");
    let garbage: Vec<u8> = (0..16_384u32).map(|i| (i * 7 + 13) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    assert_refused(&postura(&["history", "--db", db.to_str().unwrap()]), &db, "not an SQLite database");
    let server = OpenSslServer::start_auto(&[]);
    assert_refused(&scan_into(&server, &db), &db, "not an SQLite database");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "never written to");
}

#[test]
fn another_programs_sqlite_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("accounts.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO accounts (name) VALUES ('kept');",
        )
        .unwrap();
    }
    let server = OpenSslServer::start_auto(&[]);
    assert_refused(&scan_into(&server, &db), &db, "not a postura store");
    assert_refused(&postura(&["history", "--db", db.to_str().unwrap()]), &db, "not a postura store");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let name: String = conn.query_row("SELECT name FROM accounts", [], |r| r.get(0)).unwrap();
    assert_eq!(name, "kept");
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).unwrap();
    assert_eq!(tables, 1, "no postura table was added");
}

#[test]
fn a_store_from_a_newer_postura_is_refused_and_its_scans_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("postura.db");
    let server = OpenSslServer::start_auto(&[]);
    assert!(scan_into(&server, &db).status.success());
    let before = serde_json::to_string(&Store::open(&db).unwrap().report(1).unwrap()).unwrap();
    rusqlite::Connection::open(&db).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
    assert_refused(&postura(&["history", "--db", db.to_str().unwrap()]), &db, "newer postura");
    assert_refused(&scan_into(&server, &db), &db, "newer postura");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", postura::store::SCHEMA_VERSION))
        .unwrap();
    let store = Store::open(&db).unwrap();
    assert_eq!(serde_json::to_string(&store.report(1).unwrap()).unwrap(), before);
    assert_eq!(store.history(None).unwrap().len(), 1, "the refused scan left no row");
}

#[test]
fn a_read_only_directory_is_refused_and_the_stored_scans_survive() {
    let mount = Tmpfs::mount("size=8m");
    let db = mount.0.join("postura.db");
    let server = OpenSslServer::start_auto(&[]);
    assert!(scan_into(&server, &db).status.success(), "first scan");
    let before = serde_json::to_string(&Store::open(&db).unwrap().report(1).unwrap()).unwrap();
    mount.remount("ro");
    let output = scan_into(&server, &db);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains(&db.display().to_string()), "{}", stderr(&output));
    let fresh = mount.0.join("new.db");
    assert_refused(&scan_into(&server, &fresh), &fresh, "cannot open");
    mount.remount("rw");
    let store = Store::open(&db).unwrap();
    assert_eq!(serde_json::to_string(&store.report(1).unwrap()).unwrap(), before);
    let history = store.history(None).unwrap();
    assert_eq!((history.len(), history[0].status.as_str()), (1, "complete"));
}

#[test]
fn a_full_disk_stops_the_scan_with_an_error_and_loses_nothing_stored() {
    let mount = Tmpfs::mount("size=1m");
    let db = mount.0.join("postura.db");
    let server = OpenSslServer::start_auto(&[]);
    assert!(scan_into(&server, &db).status.success(), "first scan");
    let before = serde_json::to_string(&Store::open(&db).unwrap().report(1).unwrap()).unwrap();
    // Fill the rest of the disk.
    let filler = mount.0.join("filler");
    {
        let mut file = std::fs::File::create(&filler).unwrap();
        while file.write_all(&[0u8; 4096]).and_then(|()| file.flush()).is_ok() {}
    }
    let output = scan_into(&server, &db);
    assert_refused(&output, &db, "disk");
    std::fs::remove_file(&filler).unwrap();
    let store = Store::open(&db).unwrap();
    assert_eq!(serde_json::to_string(&store.report(1).unwrap()).unwrap(), before, "the stored scan is intact");
    // The interrupted scan, if its row made it, is resumable now that there is room.
    let history = store.history(None).unwrap();
    assert!(history.iter().any(|s| s.id == 1 && s.status == "complete"));
    if let Some(second) = history.iter().find(|s| s.id == 2) {
        assert_eq!(second.status, "running");
        let resumed = postura(&["scan", "--resume", "2", "--quiet", "--db", db.to_str().unwrap()]);
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert_eq!(Store::open(&db).unwrap().history(None).unwrap()[0].status, "complete");
    }
}

#[test]
fn sigterm_marks_a_stored_scan_interrupted_and_it_resumes_sqlite() {
    sigterm_marks_a_stored_scan_interrupted_and_it_resumes(&TestStores::sqlite());
}

#[test]
fn sigterm_marks_a_stored_scan_interrupted_and_it_resumes_postgres() {
    sigterm_marks_a_stored_scan_interrupted_and_it_resumes(&TestStores::postgres());
}

fn sigterm_marks_a_stored_scan_interrupted_and_it_resumes(stores: &TestStores) {
    let servers: Vec<OpenSslServer> =
        (0..6).map(|_| OpenSslServer::start_auto(&["-min_protocol", "TLSv1", "-cipher", "ALL:@SECLEVEL=0"])).collect();
    let db = stores.db("postura");
    let mut args: Vec<String> = vec!["scan".into()];
    args.extend(servers.iter().map(|s| s.socket_addr().to_string()));
    args.extend(["--no-revocation", "--quiet", "--concurrency", "1", "--db", &db].map(String::from));
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_postura")).args(&args).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while stores.count_items(&db) < 1 {
        assert!(child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline, "no item stored in time");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("SIGTERM: scan 1 interrupted"), "{text}");
    let history = Store::open(Path::new(&db)).unwrap().history(None).unwrap();
    assert_eq!(history[0].status, "interrupted");
    assert!(history[0].items >= 1 && history[0].items < servers.len() as i64, "{:?}", history[0]);
    let resumed = postura(&["scan", "--resume", "1", "--quiet", "--db", &db]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let report = Store::open(Path::new(&db)).unwrap().report(1).unwrap();
    assert_eq!(report.targets.len(), servers.len());
}

/// The disk fills while the scan is writing its items (not at open): the scan stops with an
/// error naming the store and the item it could not keep, exit 2; the scan stored before is
/// intact; the partial scan keeps the items that made it and, once there is room again, resumes
/// to the same end as a scan that never stopped, without probing its stored items again.
#[test]
fn a_disk_that_fills_while_items_are_written_stops_the_scan_and_it_resumes_once_there_is_room() {
    const TARGETS: usize = 12;
    let mount = Tmpfs::mount("size=4m");
    let db = mount.0.join("postura.db");
    let servers: Vec<OpenSslServer> = (0..TARGETS)
        .map(|_| OpenSslServer::start_auto(&["-min_protocol", "TLSv1", "-cipher", "ALL:@SECLEVEL=0"]))
        .collect();
    assert!(scan_into(&servers[0], &db).status.success(), "first scan");
    let before = serde_json::to_string(&Store::open(&db).unwrap().report(1).unwrap()).unwrap();
    // Room for the scan's row and a few items, not for twelve: fill the disk, then free a gap.
    let gap = mount.0.join("gap");
    std::fs::write(&gap, vec![0u8; 160 * 1024]).unwrap();
    let filler = mount.0.join("filler");
    {
        let mut file = std::fs::File::create(&filler).unwrap();
        while file.write_all(&[0u8; 4096]).and_then(|()| file.flush()).is_ok() {}
    }
    std::fs::remove_file(&gap).unwrap();
    let mut args: Vec<String> = vec!["scan".into()];
    args.extend(servers.iter().map(|s| s.socket_addr().to_string()));
    args.extend(["--no-revocation", "--quiet", "--concurrency", "1", "--db", db.to_str().unwrap()].map(String::from));
    let output = postura(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_refused(&output, &db, "disk");
    let text = stderr(&output);
    assert!(text.contains("cannot store target "), "the error names what could not be kept: {text}");

    let stored_before_room = {
        let store = Store::open(&db).unwrap();
        assert_eq!(serde_json::to_string(&store.report(1).unwrap()).unwrap(), before, "the stored scan is intact");
        let history = store.history(None).unwrap();
        assert_eq!((history[0].id, history[0].status.as_str()), (2, "running"), "{history:?}");
        let items = history[0].items;
        assert!(items >= 1 && items < TARGETS as i64, "the disk filled mid-scan: {items} items stored");
        eprintln!("{items} of {TARGETS} items stored when the disk filled");
        store.stored_items(2).unwrap()
    };
    std::fs::remove_file(&filler).unwrap();
    let resumed = postura(&["scan", "--resume", "2", "--quiet", "--db", db.to_str().unwrap()]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let store = Store::open(&db).unwrap();
    assert_eq!(serde_json::to_string(&store.report(1).unwrap()).unwrap(), before);
    let report = store.report(2).unwrap();
    assert_eq!(report.targets.len(), TARGETS);
    assert!(report.targets.iter().all(|t| t.error.is_none()), "every target scanned");
    // The items stored before the disk filled were kept as they were, not probed again.
    for target in &report.targets {
        if let Some(kept) = stored_before_room.targets.get(&postura::scan::resume::target_key(target)) {
            assert_eq!(kept.started_at, target.started_at, "{} was probed again", target.host);
        }
    }
}

#[test]
fn a_postgresql_store_that_is_not_ours_newer_or_unreachable_is_refused_and_left_untouched() {
    let pg = common::pg::PgServer::start();
    let url = pg.url();
    // Another program's tables in a schema named `postura`.
    pg.psql(
        "postura",
        "CREATE SCHEMA postura; CREATE TABLE postura.accounts (id int); INSERT INTO postura.accounts VALUES (7)",
    );
    let output = postura(&["history", "--db", &url]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("not a postura store"), "{}", stderr(&output));
    assert_eq!(
        pg.psql("postura", "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'postura'"),
        "accounts"
    );
    assert_eq!(pg.psql("postura", "SELECT id FROM postura.accounts"), "7", "never written to");

    // A store from a newer postura: refused, its scans kept.
    pg.psql("postgres", "CREATE DATABASE newer");
    let newer = url.replace("/postura", "/newer");
    let server = OpenSslServer::start_auto(&[]);
    let target = server.socket_addr().to_string();
    let scanned = postura(&["scan", &target, "--no-revocation", "--quiet", "--db", &newer]);
    assert!(scanned.status.success(), "{}", stderr(&scanned));
    pg.psql("newer", &format!("UPDATE postura.meta SET schema_version = {}", postura::store::SCHEMA_VERSION + 1));
    let output = postura(&["history", "--db", &newer]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("newer postura"), "{}", stderr(&output));
    assert_eq!(pg.psql("newer", "SELECT status FROM postura.scans"), "complete");

    // Unreachable: an error naming the store, the password not shown.
    let closed = common::net::closed_port();
    let unreachable = format!("postgres://postura:hunter2@{closed}/postura");
    let output = postura(&["history", "--db", &unreachable]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot connect") && text.contains(&closed.to_string()), "{text}");
    assert!(!text.contains("hunter2"), "the password is not shown: {text}");
}

#[test]
fn a_version_1_store_is_migrated_to_version_2_and_keeps_its_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    {
        // Schema version 1 as postura wrote it before vantage points.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE scans (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
                status TEXT NOT NULL, country TEXT, args TEXT NOT NULL, cwd TEXT NOT NULL,
                tool_version TEXT NOT NULL, index_value REAL, report TEXT);
             CREATE TABLE items (scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
                kind TEXT NOT NULL, key TEXT NOT NULL, facts TEXT NOT NULL, PRIMARY KEY (scan_id, kind, key));
             CREATE TABLE findings (scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
                subject TEXT NOT NULL, check_id TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL,
                PRIMARY KEY (scan_id, subject, check_id));
             CREATE TABLE grades (scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
                subject TEXT NOT NULL, grade TEXT NOT NULL, PRIMARY KEY (scan_id, subject));
             INSERT INTO scans (started_at, status, args, cwd, tool_version)
                VALUES ('2026-11-30T10:00:00Z', 'interrupted', '[\"example.test\"]', '/', '0.1.0');
             PRAGMA application_id = 1347638354; PRAGMA user_version = 1;",
        )
        .unwrap();
        let zone = postura::dns::facts::ZoneFacts { name: "mail.test.".into(), ..Default::default() };
        conn.execute("INSERT INTO items VALUES (1, 'zone', 'mail.test.', ?1)", [serde_json::to_string(&zone).unwrap()])
            .unwrap();
    }
    let output = postura(&["history", "--json", "--db", db.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let history: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((history[0]["status"].as_str(), history[0]["items"].as_i64()), (Some("interrupted"), Some(1)));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, postura::store::SCHEMA_VERSION);
    let (key, vantage): (String, String) =
        conn.query_row("SELECT key, vantage FROM items", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((key.as_str(), vantage.as_str()), ("mail.test.", ""));
    // The migrated item is what a resume reads back.
    let stored = Store::open(&db).unwrap().stored_items(1).unwrap();
    assert!(stored.zones.contains_key("mail.test."));
}
