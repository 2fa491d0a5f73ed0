//! The scan as a library (`postura::scan`): a whole scan of real lab servers — TLS, STARTTLS,
//! zones and a resolver, inside the DNS lab's network namespace (`tests/common/dns.rs`) — driven
//! through `ScanPlan` and `run(plan, sink)` with a recording sink; the `--fail-on` gate on zone
//! findings; an MX host that is also a declared endpoint scanned once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::dns::*;
use postura::dns::facts::{ResolverFacts, ZoneFacts};
use postura::facts::{ScanReport, TargetResult};
use postura::scan::{Item, ScanPlan, ScanSummary, Sink, SinkError};

/// What the sink saw, in order, with when it saw it.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Planned(usize),
    Target(String, u16),
    Zone(String),
    Resolver(String),
    Finished,
}

#[derive(Default)]
struct Recorder {
    events: Arc<Mutex<Vec<(Instant, Event)>>>,
    /// Whether any item arrived with findings (they must come with the assessment only).
    judged_items: Arc<Mutex<usize>>,
    /// Items handed on again after the joins and checks.
    assessed: Arc<Mutex<usize>>,
}

impl Recorder {
    fn push(&self, event: Event) {
        self.events.lock().unwrap().push((Instant::now(), event));
    }
}

impl Sink for Recorder {
    fn planned(&mut self, count: usize) {
        self.push(Event::Planned(count));
    }

    fn item(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        let judged = match item {
            Item::Target(TargetResult { host, port, findings, .. }) => {
                self.push(Event::Target(host.clone(), *port));
                !findings.is_empty()
            }
            Item::Zone(ZoneFacts { name, findings, .. }) => {
                self.push(Event::Zone(name.clone()));
                !findings.is_empty()
            }
            Item::Resolver(ResolverFacts { address, findings, .. }) => {
                self.push(Event::Resolver(address.clone()));
                !findings.is_empty()
            }
        };
        *self.judged_items.lock().unwrap() += usize::from(judged);
        Ok(())
    }

    fn assessed(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        let findings = match item {
            Item::Target(t) => &t.findings,
            Item::Zone(z) => &z.findings,
            Item::Resolver(r) => &r.findings,
        };
        assert!(!findings.is_empty(), "assessed items come with their findings");
        *self.assessed.lock().unwrap() += 1;
        Ok(())
    }

    fn finished(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        assert!(summary.assessment.is_some(), "the assessment comes with `finished`");
        assert_eq!(*self.assessed.lock().unwrap(), summary.targets + summary.zones + summary.resolvers);
        self.push(Event::Finished);
        Ok(())
    }
}

fn write_profile(lab: &DnsLab) -> std::path::PathBuf {
    let path = lab.dir.path().join("pipeline.toml");
    std::fs::write(
        &path,
        r#"
schema_version = 1
[country]
code = "ZZ"
name = "Pipeline lab"
[scope]
names = ["test"]
networks = ["127.0.0.0/8"]

[[endpoints]]
host = "mta-sts.mail.test"
port = 443
service = "tls"
address = "127.0.25.3"
sector = "regulator"
operator = "Regulator"

[[endpoints]]
host = "mx1.mail.test"
service = "smtp-starttls"
address = "127.0.25.1"
sector = "operator"
operator = "MailCo"

[[endpoints]]
host = "127.0.30.1"
service = "dns-resolver"
sector = "csirt"
operator = "CSIRT"

[[domains]]
name = "mail.test"
sector = "cctld"
operator = "NIC"

[[domains]]
name = "open.test"
sector = "government"
operator = "Ministry"
"#,
    )
    .unwrap();
    path
}

#[test]
fn a_whole_scan_runs_through_the_library_and_hands_each_item_on_once_as_it_finishes() {
    let lab = DnsLab::start();
    let profile = write_profile(&lab);
    let hints = lab.hints.display().to_string();
    let recorder = Recorder::default();
    let (events, judged) = (recorder.events.clone(), recorder.judged_items.clone());
    let report = lab.netns.enter(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let args = [
                "--profile",
                &profile.display().to_string(),
                "--root-hints",
                &hints,
                "--dns-timeout",
                "3",
                "--timeout",
                "5",
            ]
            .map(String::from);
            let (plan, _notes) = ScanPlan::from_command_line(args).await.expect("plan");
            let mut recorder = recorder;
            postura::scan::run_to_report(&plan, &mut recorder).await.expect("scan")
        })
    });
    let events = events.lock().unwrap().clone();
    let names: Vec<&Event> = events.iter().map(|(_, e)| e).filter(|e| !matches!(e, Event::Planned(_))).collect();

    // Every item once; the assessment last.
    let mut expected = vec![
        Event::Target("mta-sts.mail.test".into(), 443),
        Event::Target("mx1.mail.test".into(), 25),
        Event::Target("mx2.mail.test".into(), 25),
        Event::Zone("mail.test.".into()),
        Event::Zone("open.test.".into()),
        Event::Resolver("127.0.30.1:53".into()),
        Event::Finished,
    ];
    let mut seen: Vec<Event> = names.iter().map(|e| (*e).clone()).collect();
    let sort_key = |e: &Event| format!("{e:?}");
    expected.sort_by_key(sort_key);
    seen.sort_by_key(sort_key);
    assert_eq!(seen, expected, "each item exactly once: {events:?}");
    assert_eq!(names.last(), Some(&&Event::Finished), "{events:?}");
    assert_eq!(*judged.lock().unwrap(), 0, "items are handed on with their facts, before the assessment");
    let planned: usize =
        events.iter().filter_map(|(_, e)| if let Event::Planned(n) = e { Some(*n) } else { None }).sum();
    assert_eq!(planned, 6, "{events:?}");

    // As each finishes: the first item arrived well before the last one.
    let first = events.iter().find(|(_, e)| !matches!(e, Event::Planned(_))).unwrap().0;
    let last_item = events.iter().rev().find(|(_, e)| !matches!(e, Event::Planned(_) | Event::Finished)).unwrap().0;
    assert!(last_item.duration_since(first) > Duration::from_millis(50), "items were not streamed: {events:?}");

    // The MX host declared as an endpoint is scanned once, keeps its declaration, and is
    // linked to the zone it serves.
    let mx: Vec<&TargetResult> = report.targets.iter().filter(|t| t.host == "mx1.mail.test").collect();
    assert_eq!(mx.len(), 1, "{:#?}", report.targets);
    assert_eq!((mx[0].sector.as_deref(), mx[0].operator.as_deref()), (Some("operator"), Some("MailCo")));
    assert_eq!(mx[0].mx_of, vec!["mail.test.".to_string()]);
    assert_eq!(mx[0].starttls, Some(true));
    // mx2.mail.test (not declared) is found by the MX pass, with the zone's sector.
    let mx2 = report.targets.iter().find(|t| t.host == "mx2.mail.test").expect("MX pass");
    assert_eq!(
        (mx2.sector.as_deref(), mx2.operator.as_deref(), mx2.mx_of.clone()),
        (Some("cctld"), Some("NIC"), vec!["mail.test.".to_string()])
    );
    assert_eq!(mx2.starttls, Some(false), "{:?}", mx2.error);

    // Zones and resolvers carry their declared sector and operator.
    let zone = report.zones.iter().find(|z| z.name == "mail.test.").unwrap();
    assert_eq!((zone.sector.as_deref(), zone.operator.as_deref()), (Some("cctld"), Some("NIC")));
    let resolver = &report.resolvers[0];
    assert_eq!((resolver.sector.as_deref(), resolver.operator.as_deref()), (Some("csirt"), Some("CSIRT")));
    let sectors = &report.assessment.as_ref().unwrap().sectors;
    for sector in ["cctld", "government", "csirt", "operator", "regulator"] {
        assert!(sectors.iter().any(|s| s.sector == sector), "{sector} in {sectors:?}");
    }
    assert!(!sectors.iter().any(|s| s.sector == "unspecified"), "{sectors:?}");
    // The catalog is named as built-in, never by a build-tree path.
    let version = &report.assessment.as_ref().unwrap().checks_version;
    assert!(version.ends_with("checks, built-in"), "{version}");
}

#[test]
fn fail_on_gates_on_zone_and_resolver_findings() {
    let lab = DnsLab::start();
    let hints = lab.hints.display().to_string();
    // open.test: recursion open (high) and AXFR open; no TLS target in the scan.
    let (status, stdout, stderr) = lab.postura(&[
        "scan",
        "dns://open.test",
        "--root-hints",
        &hints,
        "--quiet",
        "--fail-on",
        "high",
        "--json",
        "-",
    ]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    let report: ScanReport = serde_json::from_str(&stdout).unwrap();
    assert!(report.targets.is_empty());
    let failing: Vec<&str> = report.zones[0]
        .findings
        .iter()
        .filter(|f| {
            f.status == postura::checks::model::Status::Fail && f.severity >= postura::checks::model::Severity::High
        })
        .map(|f| f.check.as_str())
        .collect();
    assert!(failing.contains(&"dns.recursion.open"), "{failing:?}");
    // The same scan without the gate exits 0.
    let (status, _, stderr) = lab.postura(&["scan", "dns://open.test", "--root-hints", &hints, "--quiet"]);
    assert_eq!(status.code(), Some(0), "{stderr}");
}
