//! Zones and resolvers in the report's sector and operator tables and in per-operator notices
//! (issue 9 item 5): a profile scan on the DNS lab (BIND, Knot, Unbound in their own network
//! namespace, `tests/common/dns.rs`) declares a zone and a resolver with their own sector and
//! operator; the report counts each in its declared sector and operator (before, they fell into
//! "unspecified"), and each operator's notice holds exactly its own zone or resolver.

mod common;

use std::process::Command;

use common::dns::{DnsLab, UNBOUND};
use postura::report::view::{self, Document, Lang};

#[test]
fn zones_and_resolvers_count_in_their_declared_sector_and_operator() {
    let lab = DnsLab::shared();
    let dir = tempfile::tempdir_in(lab.dir.path()).unwrap();
    let profile = dir.path().join("zz.toml");
    std::fs::write(
        &profile,
        format!(
            "schema_version = 1\n[country]\ncode = \"ZZ\"\nname = \"Lab\"\n[scope]\nnames = [\"test\"]\nnetworks = [\"127.0.0.0/8\"]\n\
             [[endpoints]]\nhost = \"{UNBOUND}\"\nservice = \"dns-resolver\"\nsector = \"operator\"\noperator = \"Resolver Co\"\n\
             [[domains]]\nname = \"open.test\"\nsector = \"government\"\noperator = \"Gov Net\"\n\
             [[operators]]\nname = \"Gov Net\"\nlang = \"fr\"\ncontact = \"DSI\"\n\
             [dns]\nvalidation_signed_name = \"www.healthy.test\"\nvalidation_bogus_name = \"www.expired.test\"\n"
        ),
    )
    .unwrap();
    let json = dir.path().join("scan.json");
    let hints = lab.hints.display().to_string();
    let (status, _, stderr) = lab.postura(&[
        "scan",
        "--quiet",
        "--json",
        &json.display().to_string(),
        "--root-hints",
        &hints,
        "--dns-timeout",
        "3",
        "--profile",
        &profile.display().to_string(),
    ]);
    // Exit 1: the open zone and the open resolver fail high checks (that is their point).
    assert!(status.code() == Some(0) || status.code() == Some(1), "{stderr}\n{}", lab.diagnostics());
    let document = Document::from_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let report = &document.report;
    assert_eq!(report.zones.len(), 1);
    assert_eq!(
        (report.zones[0].sector.as_deref(), report.zones[0].operator.as_deref()),
        (Some("government"), Some("Gov Net"))
    );
    assert_eq!(
        (report.resolvers[0].sector.as_deref(), report.resolvers[0].operator.as_deref()),
        (Some("operator"), Some("Resolver Co"))
    );

    // The report's sector and operator tables count them where they were declared.
    let strings = postura::report::i18n::load("en", None).unwrap();
    let lang = Lang { strings: &strings, catalog: None, lang: "en" };
    let page = view::country(&document, None, &lang);
    let rows = |table: &str| -> Vec<(String, String)> {
        page[table]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r["items"].as_str().unwrap().to_string()))
            .collect()
    };
    let sectors = rows("sectors");
    assert!(sectors.contains(&("Government".into(), "1".into())), "{sectors:?}");
    assert!(sectors.contains(&("Operators".into(), "1".into())), "{sectors:?}");
    assert!(!sectors.iter().any(|(name, _)| name == "Unspecified"), "{sectors:?}");
    let operators = rows("operators");
    assert_eq!(operators, [("Gov Net".to_string(), "1".to_string()), ("Resolver Co".to_string(), "1".to_string())]);
    // The zone's failing checks are counted for its operator.
    let gov = page["operators"].as_array().unwrap().iter().find(|r| r["name"] == "Gov Net").unwrap();
    assert!(gov["failing"].as_u64().unwrap() > 0 && gov["failing_checks"].as_str().unwrap().contains("dns."), "{gov}");
    // Headline figures count zones and resolvers apart from endpoints.
    let headline = report.assessment.as_ref().unwrap().headline.as_ref().unwrap();
    assert_eq!((headline.zones.total, headline.resolvers.total, headline.endpoints.total), (1, 1, 0));

    // Per-operator notices: the zone's operator gets the zone (in French), the resolver's the
    // resolver.
    let notices = dir.path().join("notices");
    let output = Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(["report", "--input"])
        .arg(&json)
        .arg("--per-operator")
        .arg(&notices)
        .arg("--profile")
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let gov = std::fs::read_to_string(notices.join("notice-gov-net.html")).unwrap();
    assert!(gov.contains("<html lang=\"fr\">") && gov.contains("Notification à Gov Net"));
    assert!(gov.contains("open.test.") && !gov.contains("127.0.30.1:53"));
    let resolver = std::fs::read_to_string(notices.join("notice-resolver-co.html")).unwrap();
    assert!(resolver.contains("127.0.30.1:53") && !resolver.contains("open.test."));
    let zone_rows = std::fs::read_to_string(notices.join("notice-gov-net.csv")).unwrap();
    assert_eq!(zone_rows.lines().count() - 1, report.zones[0].findings.len());
    assert!(zone_rows.lines().skip(1).all(|row| row.contains("\"zone\",\"open.test.\"")), "{zone_rows}");
}
