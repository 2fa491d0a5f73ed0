//! Issue 15, part 2: per-operator notices. Real lab servers declared for two operators (and one
//! endpoint with none), scanned and assessed, then `postura report --per-operator DIR --profile
//! FILE`: each operator's file holds exactly its own endpoints and findings, in its language from
//! the profile, with its contact and due date; the country report links each notice; every notice
//! renders in headless Chromium with no request and no console message.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::assess::{assess, report_of, scan_lab_target};
use common::*;
use postura::facts::{CountryInfo, TargetResult};
use postura::profile::Service;

fn scanned(address: SocketAddr, operator: Option<&str>) -> TargetResult {
    let mut target = scan_lab_target(address, Service::Tls, "operator", Duration::from_secs(10)).targets.remove(0);
    assert!(target.error.is_none(), "{:?}", target.error);
    target.operator = operator.map(str::to_string);
    target
}

/// Headless Chromium on a local file, isolated from the network and from any profile: the DOM,
/// and every console message it logged.
fn chromium_dom(file: &Path) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium (scripts/install-test-deps)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let console = stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect();
    (String::from_utf8_lossy(&output.stdout).to_string(), console)
}

/// References to anything outside the file (a scheme or a protocol-relative URL).
fn external_references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for pattern in ["src=", "href=", "url(", "@import", "srcset=", "action=", "data="] {
        for (at, _) in lower.match_indices(pattern) {
            let after = lower[at + pattern.len()..].trim_start_matches(['"', '\'', ' ']);
            if after.starts_with("http:")
                || after.starts_with("https:")
                || after.starts_with("//")
                || after.starts_with("file:")
            {
                found.push(after.chars().take(60).collect());
            }
        }
    }
    found
}

fn csv_rows(text: &str) -> Vec<String> {
    text.lines().skip(1).map(str::to_string).collect()
}

#[test]
fn each_operator_gets_its_own_notice_in_its_language_linked_from_the_country_report() {
    let legacy = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1.2",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let antel_web = Nginx::mozilla_intermediate();
    let telco = Nginx::mozilla_intermediate();
    let nobody = OpenSslServer::start_auto(&["-min_protocol", "TLSv1.2"]);
    let targets = vec![
        scanned(legacy.socket_addr(), Some("Antel S.A.")),
        scanned(antel_web.socket_addr(), Some("Antel S.A.")),
        scanned(telco.socket_addr(), Some("Telco Uno")),
        scanned(nobody.socket_addr(), None),
    ];
    let mut report = assess(&report_of(targets), "mozilla-intermediate", Vec::new(), "2026-06-01");
    report.country =
        Some(CountryInfo { code: "UY".into(), name: "Uruguay".into(), policy: None, profile: "uy.toml".into() });

    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.json");
    std::fs::write(&scan, serde_json::to_string(&report).unwrap()).unwrap();
    let endpoint = |server: SocketAddr, operator: &str| {
        // Declared by address: the lab servers share a port on distinct loopback addresses.
        format!("[[endpoints]]\nhost = \"{}\"\nport = {}\nservice = \"tls\"\nsector = \"operator\"\noperator = \"{operator}\"\n", server.ip(), server.port())
    };
    let profile = format!(
        "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Uruguay\"\n[scope]\nnames = [\"{TEST_HOST}\"]\nnetworks = [\"127.0.0.0/8\"]\n{}{}{}\
         [[operators]]\nname = \"Antel S.A.\"\ncontact = \"Gerencia de Seguridad <seguridad@antel.example>\"\ndue = 2027-06-30\nlang = \"es\"\n\
         [[operators]]\nname = \"Telco Uno\"\n",
        endpoint(legacy.socket_addr(), "Antel S.A."),
        endpoint(antel_web.socket_addr(), "Antel S.A."),
        endpoint(telco.socket_addr(), "Telco Uno"),
    );
    let profile_path = dir.path().join("uy.toml");
    std::fs::write(&profile_path, profile).unwrap();

    let notices = dir.path().join("notices");
    let html = dir.path().join("country.html");
    let output = Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(["report", "--input"])
        .arg(&scan)
        .arg("--html")
        .arg(&html)
        .arg("--per-operator")
        .arg(&notices)
        .arg("--profile")
        .arg(&profile_path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));

    // One HTML and one CSV per declared operator; none for the endpoint without an operator.
    let files: BTreeSet<String> =
        std::fs::read_dir(&notices).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    let expected: BTreeSet<String> =
        ["notice-antel-s-a.html", "notice-antel-s-a.csv", "notice-telco-uno.html", "notice-telco-uno.csv"]
            .map(String::from)
            .into();
    assert_eq!(files, expected);

    let address = |t: &TargetResult| t.address.clone().unwrap();
    let antel_addresses: Vec<String> = report.targets[..2].iter().map(address).collect();
    let others: Vec<String> = report.targets[2..].iter().map(address).collect();
    let read = |name: &str| std::fs::read_to_string(notices.join(name)).unwrap();

    // Antel: Spanish (from the profile), its contact and due date, exactly its two endpoints.
    let antel = read("notice-antel-s-a.html");
    assert!(antel.starts_with("<!DOCTYPE html>\n<html lang=\"es\">"));
    assert!(
        antel.contains("Notificación a Antel S.A.")
            && antel.contains("Gerencia de Seguridad &lt;seguridad@antel.example&gt;")
    );
    assert!(antel.contains("30 de junio de 2027"), "the due date, in Spanish");
    assert!(antel.contains("Cumplir o explicar: su respuesta"));
    for own in &antel_addresses {
        assert!(antel.contains(&format!("({own})")), "Antel's notice lacks its endpoint {own}");
    }
    for other in &others {
        assert!(!antel.contains(other.as_str()), "Antel's notice shows {other}, which is not its endpoint");
    }
    assert_eq!(antel.matches("<details class=\"item\"").count(), 2);
    // Its failing findings, with what to do; the comply-or-explain form has a row for each.
    let antel_failing: usize = report.targets[..2]
        .iter()
        .flat_map(|t| &t.findings)
        .filter(|f| f.status == postura::checks::model::Status::Fail)
        .count();
    assert!(antel.contains("<code>tls.cipher.null</code>"));
    assert_eq!(antel.matches("<td class=\"blank\"></td><td class=\"blank\"></td>").count(), antel_failing);

    // Its CSV: exactly its findings.
    let antel_csv = csv_rows(&read("notice-antel-s-a.csv"));
    let antel_findings: usize = report.targets[..2].iter().map(|t| t.findings.len()).sum();
    assert_eq!(antel_csv.len(), antel_findings);
    assert!(
        antel_csv.iter().all(|row| antel_addresses.iter().any(|a| row.contains(&format!("\"{a}\"")))),
        "a row of another operator"
    );

    // Telco Uno: no language in the profile → the report's (English); no contact, no due date.
    let telco_notice = read("notice-telco-uno.html");
    assert!(telco_notice.contains("<html lang=\"en\">") && telco_notice.contains("Notice to Telco Uno"));
    assert!(telco_notice.contains("no contact declared in the profile"));
    assert!(
        telco_notice.contains(&format!("({})", others[0]))
            && !telco_notice.contains(&antel_addresses[0])
            && !telco_notice.contains(&others[1])
    );
    assert_eq!(csv_rows(&read("notice-telco-uno.csv")).len(), report.targets[2].findings.len());

    // The country report links each notice by its path next to the report.
    let country = std::fs::read_to_string(&html).unwrap();
    assert!(country.contains("<a href=\"notices/notice-antel-s-a.html\">"), "link to Antel's notice");
    assert!(country.contains("<a href=\"notices/notice-telco-uno.html\">"));

    // Every notice renders in Chromium with no console message and no reference outside it.
    for name in ["notice-antel-s-a.html", "notice-telco-uno.html"] {
        let path: PathBuf = notices.join(name);
        assert_eq!(external_references(&read(name)), Vec::<String>::new(), "{name}");
        assert!(!read(name).to_ascii_lowercase().contains("<script"));
        let (dom, console) = chromium_dom(&path);
        assert_eq!(console, Vec::<String>::new(), "{name}");
        assert!(dom.contains("id=\"comply-or-explain\""), "{name} did not render");
    }
}
