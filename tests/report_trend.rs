//! The trend section of reports made from the store (`report --scan ID`): three real scans of an
//! s_server that is weakened for the second and restored for the third. The charts' text
//! alternative (the table) must give, per scan, the index and the failing findings by severity
//! that the store holds; the SVG charts carry a title and description; one scan has no trend.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::net::alloc_endpoint;
use common::servers::OpenSslServer;
use postura::store::Store;

fn postura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postura")).args(args).env("POSTURA_TODAY", "2026-12-01").output().unwrap()
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn scan(db: &Path, endpoint: std::net::SocketAddrV4, args: &[&str]) {
    let server = OpenSslServer::start(*endpoint.ip(), endpoint.port(), args);
    let target = server.socket_addr().to_string();
    ok(postura(&["scan", &target, "--no-revocation", "--quiet", "--db", db.to_str().unwrap()]));
}

/// The cells of each row of the trend table.
fn trend_rows(page: &str) -> Vec<Vec<String>> {
    let start = page.find(r#"<section id="trend""#).expect("a trend section");
    let section = &page[start..start + page[start..].find("</section>").unwrap()];
    let body = &section[section.find("<tbody>").unwrap()..section.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = &cell[cell.find('>').unwrap() + 1..];
                    text[..text.find("</td>").unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_report_from_the_store_shows_the_trend_of_the_index_and_failing_findings() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("postura.db");
    let dbs = db.to_str().unwrap();
    let endpoint = alloc_endpoint();
    scan(&db, endpoint, &["-min_protocol", "TLSv1.2"]);
    scan(&db, endpoint, &["-min_protocol", "TLSv1", "-cipher", "ALL:@SECLEVEL=0"]);
    scan(&db, endpoint, &["-min_protocol", "TLSv1.2"]);

    let html = dir.path().join("report.html");
    ok(postura(&["report", "--scan", "3", "--html", html.to_str().unwrap(), "--db", dbs]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "self-contained, no script");
    assert!(page.contains(r##"<a href="#trend">Trend over the last scans</a>"##), "in the table of contents");
    for id in ["trend-index", "trend-failing"] {
        assert!(page.contains(&format!(r#"aria-labelledby="{id}-t {id}-d""#)), "{id}: labelled");
        assert!(page.contains(&format!(r#"<title id="{id}-t">"#)) && page.contains(&format!(r#"<desc id="{id}-d">"#)));
    }
    let store = Store::open(&db).unwrap();
    let rows = trend_rows(&page);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (row, id) in rows.iter().zip(1..) {
        let report = store.report(id).unwrap();
        assert_eq!(row[0], format!("#{id}"));
        let index = report.assessment.as_ref().and_then(|a| a.index).unwrap();
        assert_eq!(row[2], format!("{index:.1}"), "scan {id}");
        for (column, severity) in ["critical", "high", "medium", "low", "info"].iter().enumerate() {
            let failing = report.targets[0]
                .findings
                .iter()
                .filter(|f| postura::store::diff::name(&f.status) == "fail" && f.severity.name() == *severity)
                .count();
            assert_eq!(row[3 + column], failing.to_string(), "scan {id}, {severity}: {row:?}");
        }
    }
    assert_ne!(rows[1][2], rows[0][2], "the weakened scan's index differs");
    // The index line goes through the three scans' values: 100 at y = 10, 0 at y = 180.
    let y = |id: i64| {
        let index = store.report(id).unwrap().assessment.and_then(|a| a.index).unwrap();
        10.0 + 170.0 * (1.0 - index / 100.0)
    };
    let points = format!("points=\"44.0,{:.1} 295.0,{:.1} 546.0,{:.1}\"", y(1), y(2), y(3));
    assert!(page.contains(&points), "{points}");

    // Other languages: the section's strings are translated.
    ok(postura(&["report", "--scan", "3", "--html", html.to_str().unwrap(), "--db", dbs, "--lang", "es"]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Evolución en los últimos escaneos"));
    assert_eq!(trend_rows(&page).len(), 3);

    // The first scan has nothing before it: no trend section.
    ok(postura(&["report", "--scan", "1", "--html", html.to_str().unwrap(), "--db", dbs]));
    assert!(!std::fs::read_to_string(&html).unwrap().contains(r#"id="trend""#));
}
