//! Issue 15, part 1: an index that cannot hide critical failures. Real lab servers: one OpenSSL
//! server accepting NULL and anonymous suites (two critical failures) among Mozilla-intermediate
//! nginx servers. Its score is capped with the reason shown in the JSON, the HTML and the CSV;
//! the country's index is not in the top colour band; the headline figures count it.

mod common;

use std::time::Duration;

use common::assess::{assess, report_of, scan_lab_target};
use common::*;
use postura::checks::catalog::Catalog;
use postura::checks::model::Severity;
use postura::facts::ScanReport;
use postura::profile::Service;
use postura::report::view::Document;
use postura::report::Renderer;

/// One legacy endpoint and three modern ones, declared in two sectors, judged under Mozilla
/// intermediate.
fn country_with_one_critical_endpoint() -> ScanReport {
    let legacy = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1.2",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let modern: Vec<Nginx> = (0..3).map(|_| Nginx::mozilla_intermediate()).collect();
    let timeout = Duration::from_secs(10);
    let mut targets = scan_lab_target(legacy.socket_addr(), Service::Tls, "operator", timeout).targets;
    for (i, server) in modern.iter().enumerate() {
        let sector = if i == 0 { "operator" } else { "cctld" };
        targets.extend(scan_lab_target(server.socket_addr(), Service::Tls, sector, timeout).targets);
    }
    assert!(targets.iter().all(|t| t.error.is_none()), "{:?}", targets.iter().map(|t| &t.error).collect::<Vec<_>>());
    assess(&report_of(targets), "mozilla-intermediate", Vec::new(), "2026-06-01")
}

#[test]
fn one_critical_failure_caps_its_endpoint_and_keeps_the_index_out_of_the_top_band() {
    let report = country_with_one_critical_endpoint();
    let legacy = &report.targets[0];
    let score = legacy.score.as_ref().unwrap();
    let cap = score.cap.as_ref().expect("the legacy endpoint's score is capped");
    assert_eq!(cap.severity, Severity::Critical);
    assert_eq!((cap.floor, cap.limit), (0.0, 25.0), "the default caps of the policy");
    assert!(
        cap.checks.contains(&"tls.cipher.null".to_string()) && cap.checks.contains(&"tls.cipher.anonymous".to_string()),
        "{cap:?}"
    );
    let raw = score.raw.unwrap();
    let value = score.value.unwrap();
    assert!(raw > 50.0, "many passing checks: {raw} before the cap");
    assert!(value <= 25.0 && (value - 25.0 * raw / 100.0).abs() < 0.06, "{value} from {raw}");
    // Every modern endpoint scores above any capped one.
    for modern in &report.targets[1..] {
        let modern_score = modern.score.as_ref().unwrap();
        assert!(modern_score.cap.as_ref().is_none_or(|c| c.severity < Severity::High), "{:?}", modern_score.cap);
        assert!(modern_score.value.unwrap() > 50.0);
    }

    // Without caps (the raw weighted shares) this country's index would be green, as in the
    // issue's demo; with them, the index drops and the headline figures keep it out of the top
    // band.
    let raws: Vec<(String, Option<f64>)> =
        report.targets.iter().map(|t| (t.sector.clone().unwrap(), t.score.as_ref().unwrap().raw)).collect();
    let (uncapped, _) = postura::checks::score::index(&raws, &Default::default());
    let assessment = report.assessment.as_ref().unwrap();
    eprintln!("index {:?}, without caps {uncapped:?}", assessment.index);
    assert!(uncapped.unwrap() >= 80.0, "{uncapped:?}");
    assert!(assessment.index.unwrap() < 80.0, "{:?}", assessment.index);
    let headline = assessment.headline.as_ref().unwrap();
    assert_eq!(headline.endpoints.total, 4);
    assert_eq!(headline.endpoints.critical, 1);
    assert_eq!(headline.endpoints.not_testable, 0);
    assert_eq!(headline.critical_share, Some(25.0));
    assert_ne!(headline.band, "good", "one critical failure must not leave the index green");
    assert_eq!(headline.band, "poor", "a critical failure on 25 % of the endpoints");

    // JSON: the cap and its reason are in the document.
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["targets"][0]["score"]["cap"]["severity"], "critical");
    assert_eq!(json["targets"][0]["score"]["cap"]["limit"], 25.0);
    assert_eq!(json["assessment"]["headline"]["band"], "poor");
    assert_eq!(json["assessment"]["score_caps"]["critical"], 25.0);

    // HTML: the cap with its reason beside the score, the index card not green, the headline.
    let catalog = Catalog::builtin().unwrap();
    let document = Document::from_report(report.clone());
    let html = Renderer::new("en", None).unwrap().country(&document, None, Some(&catalog)).unwrap();
    let at = html.find("capped at 25").map(|i| &html[i.saturating_sub(100)..i + 200]);
    assert!(
        html.contains("capped at 25 by a critical failure (tls.cipher.anonymous"),
        "cap reason missing from the HTML: {at:?}"
    );
    assert!(html.contains("(≤ 25)"), "the cap beside the score in the endpoint's summary line");
    assert!(html.contains("class=\"index-card gf\""), "the index card is red");
    assert!(!html.contains("class=\"index-card ga\""));
    assert!(
        html.contains("<strong>Poor.</strong> 3 of 4 endpoints, zones and resolvers comply with the baseline"),
        "headline text"
    );
    assert!(html.contains("Score caps") && html.contains("0–25"), "the methodology lists the caps");
    let es = Renderer::new("es", None).unwrap().country(&document, None, Some(&catalog)).unwrap();
    assert!(es.contains("limitada a 25 por un fallo de severidad crítica"), "the cap in Spanish");

    // The regional report: the same figures per country, with their charts. The second country
    // is the same scan without the legacy endpoint.
    let mut clean = assess(&report_of(report.targets[1..].to_vec()), "mozilla-intermediate", Vec::new(), "2026-06-01");
    clean.country = Some(postura::facts::CountryInfo {
        code: "YY".into(),
        name: "Cleanland".into(),
        policy: None,
        profile: "yy.toml".into(),
    });
    let mut critical = report.clone();
    critical.country = Some(postura::facts::CountryInfo {
        code: "ZZ".into(),
        name: "Testland".into(),
        policy: None,
        profile: "zz.toml".into(),
    });
    let regional = Renderer::new("en", None)
        .unwrap()
        .regional(&[Document::from_report(critical), Document::from_report(clean)], Some(&catalog))
        .unwrap();
    assert_eq!(
        regional.matches("<svg class=\"chart\"").count(),
        4,
        "index, compliant share, critical share and hybrid post-quantum share charts"
    );
    assert!(regional.contains("Share with a critical failure, by country"));
    // (The chart escapes `=` as handlebars does.)
    assert!(regional.contains("25% (n&#x3D;4)") && regional.contains("0% (n&#x3D;3)"), "critical shares per country");
    assert!(
        regional.contains("<td class=\"num\">75%</td><td class=\"num\">25%</td>"),
        "Testland: 75 % compliant, 25 % critical"
    );

    // CSV: every row of the legacy endpoint carries its score and the cap's reason.
    let csv = Renderer::new("en", None).unwrap().csv(&document, Some(&catalog));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(&header[13..], ["\"item_score\"", "\"item_score_cap\""]);
    let address = format!("\"{}\"", legacy.address.as_deref().unwrap());
    let legacy_rows: Vec<&str> = csv.lines().filter(|l| l.contains(&address)).collect();
    assert_eq!(legacy_rows.len(), legacy.findings.len());
    let cells = format!("\"{value:.1}\",\"{}\"", cap.reason());
    assert!(cap.reason().starts_with("≤ 25: critical failure (tls.cipher.anonymous, "), "{}", cap.reason());
    for row in legacy_rows {
        assert!(row.ends_with(&cells), "{row}");
    }
}
