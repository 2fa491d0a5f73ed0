//! History, diffs, reports, export, import and retention from the store, on a real s_server
//! whose configuration is weakened between two scans and restored for a third; the same test on
//! an SQLite file and on a real PostgreSQL server (tests/common/pg.rs).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::net::alloc_endpoint;
use common::pg::TestStores;
use common::servers::OpenSslServer;
use postura::store::Store;

fn postura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postura")).args(args).env("POSTURA_TODAY", "2026-12-01").output().unwrap()
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const WEAK: &[&str] = &["-min_protocol", "TLSv1", "-cipher", "ALL:@SECLEVEL=0"];

fn scan(db: &str, endpoint: std::net::SocketAddrV4, args: &[&str]) {
    let server = OpenSslServer::start(*endpoint.ip(), endpoint.port(), args);
    ok(postura(&["scan", &server.socket_addr().to_string(), "--no-revocation", "--quiet", "--db", db]));
}

fn checks(list: &serde_json::Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap().to_string()).collect()
}

#[test]
fn diff_names_the_findings_a_weakened_server_gained_and_lost_sqlite() {
    diff_names_the_findings_a_weakened_server_gained_and_lost(&TestStores::sqlite());
}

#[test]
fn diff_names_the_findings_a_weakened_server_gained_and_lost_postgres() {
    diff_names_the_findings_a_weakened_server_gained_and_lost(&TestStores::postgres());
}

fn diff_names_the_findings_a_weakened_server_gained_and_lost(stores: &TestStores) {
    let dir = &stores.dir;
    let db = stores.db("postura");
    let dbs = db.as_str();
    let endpoint = alloc_endpoint();
    scan(dbs, endpoint, &[]);
    scan(dbs, endpoint, WEAK);
    scan(dbs, endpoint, &[]);

    let history = ok(postura(&["history", "--json", "--db", dbs]));
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    let ids: Vec<i64> = history.as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![3, 2, 1], "newest first");
    assert!(history.as_array().unwrap().iter().all(|s| s["status"] == "complete" && s["items"] == 1));
    assert!(ok(postura(&["history", "--country", "ZZ", "--json", "--db", dbs])).trim() == "[]");

    let weakened: serde_json::Value =
        serde_json::from_str(&ok(postura(&["diff", "1", "2", "--json", "--db", dbs]))).unwrap();
    let regressed = checks(&weakened["regressed"]);
    assert!(regressed.contains(&"tls.protocol.tls10".to_string()), "{weakened:#}");
    assert!(weakened["resolved"].as_array().unwrap().is_empty(), "{weakened:#}");
    // Exactly the findings failing in 2 and not in 1, from the stored documents themselves.
    let store = Store::open(Path::new(dbs)).unwrap();
    let failing = |id: i64| -> std::collections::BTreeSet<String> {
        let report = store.report(id).unwrap();
        report.targets[0]
            .findings
            .iter()
            .filter(|f| postura::store::diff::name(&f.status) == "fail")
            .map(|f| f.check.clone())
            .collect()
    };
    let mut gained: Vec<String> = failing(2).difference(&failing(1)).cloned().collect();
    let mut named: Vec<String> = regressed.iter().chain(checks(&weakened["new"]).iter()).cloned().collect();
    gained.sort();
    named.sort();
    assert_eq!(named, gained);
    assert_eq!(weakened["unchanged"].as_array().unwrap().len(), failing(1).len());

    let restored: serde_json::Value =
        serde_json::from_str(&ok(postura(&["diff", "2", "3", "--json", "--db", dbs]))).unwrap();
    assert_eq!(
        checks(&restored["resolved"]).into_iter().collect::<std::collections::BTreeSet<_>>(),
        failing(2).difference(&failing(3)).cloned().collect()
    );
    assert!(
        restored["regressed"].as_array().unwrap().is_empty() && restored["new"].as_array().unwrap().is_empty(),
        "{restored:#}"
    );
    let text = ok(postura(&["diff", "1", "2", "--db", dbs]));
    assert!(text.contains("regressed:") && text.contains("tls.protocol.tls10"), "{text}");

    // The report from the store, with the previous scan; export; import; retention.
    let html = dir.path().join("report.html");
    ok(postura(&["report", "--scan", "2", "--previous", "1", "--html", html.to_str().unwrap(), "--db", dbs]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.to_ascii_lowercase().contains("<html") && page.len() > 10_000, "{}", &page[..page.len().min(500)]);
    let (json, csv) = (dir.path().join("scan2.json"), dir.path().join("scan2.csv"));
    ok(postura(&[
        "export",
        "--scan",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--db",
        dbs,
    ]));
    assert!(std::fs::read_to_string(&csv).unwrap().lines().count() > 1);
    let other = stores.db("imported");
    let imported = ok(postura(&["import", json.to_str().unwrap(), "--db", &other]));
    assert!(imported.contains("scan 1"), "{imported}");
    let again = Store::open(Path::new(&other)).unwrap().report(1).unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap(), serde_json::to_value(store.report(2).unwrap()).unwrap());
    drop(store);
    let pruned = ok(postura(&["prune", "--keep", "1", "--db", dbs]));
    assert!(pruned.contains("deleted 2 scans"), "{pruned}");
    let left: Vec<i64> = Store::open(Path::new(dbs)).unwrap().history(None).unwrap().iter().map(|s| s.id).collect();
    assert_eq!(left, vec![3]);
    let missing = postura(&["report", "--scan", "1", "--html", html.to_str().unwrap(), "--db", dbs]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no scan 1"));
}
