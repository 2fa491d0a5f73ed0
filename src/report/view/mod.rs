//! The reports' view model: every number, table and chart the templates show, computed from one
//! typed scan result (`ScanReport`, and the previous one for changes) in the report's language.
//! The templates only lay it out, so what a report says is testable here, and every figure can be
//! traced back to findings.
//!
//! One file per report section: [`summary`] (the cover, headline figures and the five problems),
//! [`charts`], [`sectors`] (sector and operator tables, comply-or-explain), [`top_checks`],
//! [`changes`], [`items`] (every endpoint's, zone's and resolver's details), [`methodology`], and
//! [`regional`] (countries side by side). This file holds what they share: the document, the
//! language, the assessed items and the formatting helpers.

mod changes;
mod charts;
pub mod clients;
mod headline;
mod items;
mod methodology;
mod notice;
mod pqc;
mod regional;
mod sectors;
mod summary;
mod top_checks;
mod vantages;

use serde_json::{json, Value};

use super::i18n::Strings;
use crate::checks::catalog::Catalog;
use crate::checks::model::{Finding, Score, Severity, Status};
use crate::dns::facts::{ResolverFacts, ZoneFacts};
use crate::facts::{ScanReport, TargetResult};

pub use items::{count_items, each_item, ItemViews, ITEM_KINDS};
pub use notice::notice;
pub use regional::{regional, summarise, CountrySummary};
pub use summary::{country, country_linking};

/// Grades in the order the distribution shows them.
const GRADES: [&str; 10] = ["A+", "A", "A-", "B", "C", "D", "E", "F", "T", "M"];

/// The sector or operator of an item that declares none (scans from the command line, and JSON
/// written before zones and resolvers carried them).
pub const UNSPECIFIED: &str = "unspecified";

/// A scan as the report reads it: the typed result. Fields a newer postura adds are ignored;
/// fields an older one lacked take their defaults (sector and operator "unspecified").
pub struct Document {
    pub report: ScanReport,
    /// The client verdicts counted while a saved scan was read item by item (its slim items
    /// carry none); None: count them from `report`.
    pub clients: Option<clients::ClientTallies>,
}

impl Document {
    pub fn from_report(report: ScanReport) -> Document {
        Document { report, clients: None }
    }

    /// The operators of the document's items (as declared; "unspecified" for none), in order.
    pub fn operators(&self) -> std::collections::BTreeSet<String> {
        items(self).iter().map(|i| i.operator.to_string()).collect()
    }

    /// The same scan with only `operator`'s endpoints, zones and resolvers, and the headline
    /// figures recomputed for them (the index and sector scores stay the country's).
    pub fn of_operator(&self, operator: &str) -> Document {
        let mine = |declared: &Option<String>| declared.as_deref().unwrap_or(UNSPECIFIED) == operator;
        // Only the operator's items are copied (a country's report has thousands).
        let all = &self.report;
        let mut report = ScanReport {
            schema_version: all.schema_version,
            tool: all.tool.clone(),
            started_at: all.started_at.clone(),
            finished_at: all.finished_at.clone(),
            country: all.country.clone(),
            targets: all.targets.iter().filter(|t| mine(&t.operator)).cloned().collect(),
            assessment: all.assessment.clone(),
            zones: all.zones.iter().filter(|z| mine(&z.operator)).cloned().collect(),
            resolvers: all.resolvers.iter().filter(|r| mine(&r.operator)).cloned().collect(),
        };
        let mut headline = crate::checks::score::headline(&report, None);
        // The band belongs to the country's index; an operator's notice shows only its shares.
        headline.band = "none".into();
        if let Some(assessment) = report.assessment.as_mut() {
            assessment.headline = Some(headline);
        }
        Document { report, clients: None }
    }

    /// Parse a scan document.
    pub fn from_json(text: &str) -> Result<Document, serde_json::Error> {
        Ok(Document { report: serde_json::from_str(text)?, clients: None })
    }
}

/// Everything language-dependent the view needs.
pub struct Lang<'a> {
    pub strings: &'a Strings,
    /// Check titles and remediation in the report's language, by check id (findings keep the
    /// text of the scan's language when their check is not in the catalog).
    pub catalog: Option<&'a Catalog>,
    pub lang: &'a str,
}

impl Lang<'_> {
    fn t(&self, key: &str) -> String {
        self.strings.get(key)
    }

    fn title(&self, finding: &Finding) -> String {
        match self.catalog.and_then(|c| c.get(&finding.check)) {
            Some(check) => check.text(self.lang).title.clone(),
            None => finding.title.clone(),
        }
    }

    fn remediation(&self, finding: &Finding) -> String {
        match self.catalog.and_then(|c| c.get(&finding.check)) {
            Some(check) => check.text(self.lang).remediation.clone(),
            None => finding.remediation.clone(),
        }
    }

    fn severity(&self, severity: Severity) -> String {
        self.t(&format!("severity_{}", severity.name()))
    }

    fn status(&self, status: Status) -> String {
        self.t(match status {
            Status::Pass => "status_pass",
            Status::Fail => "status_fail",
            Status::Inconclusive => "status_inconclusive",
            Status::Excepted => "status_excepted",
        })
    }

    fn score(&self, value: Option<f64>) -> String {
        value.map_or_else(|| "–".to_string(), |v| self.strings.number(v, 1))
    }

    /// Why a score is capped, in this language ("capped at 25 by a critical failure:
    /// tls.cipher.null; 77.3 before the cap"), or nothing when it is not.
    fn score_cap(&self, score: Option<&Score>) -> Option<String> {
        let score = score?;
        let cap = score.cap.as_ref()?;
        Some(self.strings.fill(
            "score_cap",
            &[
                ("limit", &self.strings.number(cap.limit, 0)),
                ("severity", &self.severity(cap.severity)),
                ("checks", &clip(&cap.checks.join(", "), 400)),
                ("raw", &self.score(score.raw)),
            ],
        ))
    }
}

pub fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#7f1d1d",
        Severity::High => "#c2410c",
        Severity::Medium => "#d97706",
        Severity::Low => "#2563eb",
        Severity::Info => "#64748b",
    }
}

fn grade_colour(grade: &str) -> &'static str {
    match grade {
        "A+" | "A" | "A-" => "#15803d",
        "B" => "#65a30d",
        "C" => "#ca8a04",
        "D" | "E" => "#ea580c",
        "F" => "#b91c1c",
        "T" | "M" => "#7c3aed",
        _ => "#94a3b8",
    }
}

/// A CSS class for a grade letter, from a fixed set (never from the document's text).
fn grade_class(grade: &str) -> &'static str {
    match grade {
        "A+" | "A" | "A-" => "ga",
        "B" => "gb",
        "C" => "gc",
        "D" | "E" => "gd",
        "F" => "gf",
        "T" | "M" => "gt",
        _ => "gn",
    }
}

pub fn score_colour(score: f64) -> &'static str {
    if score >= 80.0 {
        "#15803d"
    } else if score >= 60.0 {
        "#ca8a04"
    } else {
        "#b91c1c"
    }
}

/// The CSS class of a score's band (green, amber, red; grey when there is none).
fn score_class(score: Option<f64>) -> &'static str {
    score.map_or("gn", |v| {
        if v >= 80.0 {
            "ga"
        } else if v >= 60.0 {
            "gc"
        } else {
            "gf"
        }
    })
}

fn severity_class(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "sc",
        Severity::High => "sh",
        Severity::Medium => "sm",
        Severity::Low => "sl",
        Severity::Info => "si",
    }
}

/// At most `max` characters, so that one enormous value from a server cannot bloat the report.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max).collect::<String>() + "…"
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => clip(s, 300),
        Value::Null => "–".into(),
        Value::Array(items) => {
            let shown: Vec<String> = items.iter().take(40).map(scalar).collect();
            let more = if items.len() > 40 { format!(" (+{})", items.len() - 40) } else { String::new() };
            clip(&(shown.join(", ") + &more), 600)
        }
        Value::Object(_) => clip(&value.to_string(), 300),
        other => other.to_string(),
    }
}

/// A finding's detail as one line ("suites: A, B; minimum: 2048").
pub fn detail_line(finding: &Finding) -> String {
    let parts: Vec<String> = finding.detail.iter().map(|(k, v)| format!("{k}: {}", scalar(v))).collect();
    clip(&parts.join("; "), 700)
}

/// Facts as key/value rows, for sections the report does not lay out in detail (certificate,
/// zone and resolver facts): nested objects become dotted keys, PEM blobs are counted.
pub fn fact_rows(value: &Value) -> Vec<Value> {
    fn walk(value: &Value, prefix: &str, depth: usize, rows: &mut Vec<Value>) {
        if rows.len() >= 80 {
            return;
        }
        match value {
            Value::Object(map) if depth < 4 => {
                for (key, item) in map {
                    if matches!(key.as_str(), "findings" | "score" | "grade" | "sector" | "operator") {
                        continue;
                    }
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    if key.ends_with("pem") {
                        let n = item.as_array().map_or(usize::from(!item.is_null()), Vec::len);
                        rows.push(json!({"key": path, "value": format!("{n} PEM")}));
                    } else {
                        walk(item, &path, depth + 1, rows);
                    }
                }
            }
            Value::Array(items) if depth < 4 && items.iter().any(Value::is_object) => {
                for (i, item) in items.iter().take(12).enumerate() {
                    walk(item, &format!("{prefix}[{i}]"), depth + 1, rows);
                }
            }
            other => rows.push(json!({"key": clip(prefix, 120), "value": scalar(other)})),
        }
    }
    let mut rows = Vec::new();
    walk(value, "", 0, &mut rows);
    rows
}

/// What an assessed item is, with its typed facts.
#[derive(Clone, Copy)]
enum Source<'a> {
    Target(&'a TargetResult),
    Zone(&'a ZoneFacts),
    Resolver(&'a ResolverFacts),
}

/// One assessed thing: an endpoint, a zone or a resolver, in its declared sector and operator.
struct Item<'a> {
    kind: &'static str,
    /// A stable key for comparing scans ("target host:port address", "zone example.org.").
    key: String,
    label: String,
    sector: &'a str,
    operator: &'a str,
    findings: &'a [Finding],
    source: Source<'a>,
    error: Option<&'a str>,
    score: Option<&'a Score>,
}

impl<'a> Item<'a> {
    fn target(&self) -> Option<&'a TargetResult> {
        match self.source {
            Source::Target(target) => Some(target),
            _ => None,
        }
    }

    fn score_value(&self) -> Option<f64> {
        self.score.and_then(|s| s.value)
    }

    fn failing(&self) -> impl Iterator<Item = &'a Finding> {
        self.findings.iter().filter(|f| f.status == Status::Fail)
    }
}

fn target_label(target: &TargetResult) -> String {
    let mut label = format!("{}:{}", target.host, target.port);
    if let Some(address) = &target.address {
        if address != &target.host {
            label.push_str(&format!(" ({address})"));
        }
    }
    label
}

fn declared(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or(UNSPECIFIED)
}

fn items(document: &Document) -> Vec<Item<'_>> {
    items_of(document, None)
}

/// The items of one kind (`target`, `zone`, `resolver`), or of every kind.
fn items_of<'a>(document: &'a Document, only: Option<&str>) -> Vec<Item<'a>> {
    let report = &document.report;
    let wanted = |kind: &str| only.is_none_or(|k| k == kind);
    let mut out = Vec::new();
    if wanted("target") {
        out.extend(report.targets.iter().map(|t| Item::of(crate::scan::Item::Target(t))));
    }
    if wanted("zone") {
        out.extend(report.zones.iter().map(|z| Item::of(crate::scan::Item::Zone(z))));
    }
    if wanted("resolver") {
        out.extend(report.resolvers.iter().map(|r| Item::of(crate::scan::Item::Resolver(r))));
    }
    out
}

impl<'a> Item<'a> {
    /// The report's view of a scan item.
    fn of(item: crate::scan::Item<'a>) -> Item<'a> {
        match item {
            crate::scan::Item::Target(target) => Item {
                kind: "target",
                key: format!("target {}:{} {}", target.host, target.port, target.address.as_deref().unwrap_or("")),
                label: target_label(target),
                sector: declared(&target.sector),
                operator: declared(&target.operator),
                findings: &target.findings,
                source: Source::Target(target),
                error: target.error.as_deref(),
                score: target.score.as_ref(),
            },
            crate::scan::Item::Zone(zone) => Item {
                kind: "zone",
                key: format!("zone {}", zone.name),
                label: zone.name.clone(),
                sector: declared(&zone.sector),
                operator: declared(&zone.operator),
                findings: &zone.findings,
                source: Source::Zone(zone),
                error: zone.error.as_deref(),
                score: zone.score.as_ref(),
            },
            crate::scan::Item::Resolver(resolver) => Item {
                kind: "resolver",
                key: format!("resolver {}", resolver.address),
                label: resolver.address.clone(),
                sector: declared(&resolver.sector),
                operator: declared(&resolver.operator),
                findings: &resolver.findings,
                source: Source::Resolver(resolver),
                error: resolver.error.as_deref(),
                score: resolver.score.as_ref(),
            },
        }
    }
}

/// A sector's name in the report's language when it is one of the profile vocabulary's, else as
/// declared.
pub fn sector_name(lang: &Lang, sector: &str) -> String {
    let key = format!("sector_{sector}");
    if lang.strings.text.contains_key(&key) {
        lang.t(&key)
    } else {
        clip(sector, 100)
    }
}

/// An operator's name as declared, or "unspecified" in the report's language.
pub fn operator_name(lang: &Lang, operator: &str) -> String {
    if operator == UNSPECIFIED {
        lang.t("sector_unspecified")
    } else {
        clip(operator, 200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zones and resolvers count in their declared sector and operator; JSON written before
    /// they carried one reads as "unspecified".
    #[test]
    fn zones_and_resolvers_keep_their_sector_and_operator() {
        let document = Document::from_json(
            &json!({
                "schema_version": 1, "tool": {"name": "postura", "version": "0"},
                "started_at": "", "finished_at": "", "country": null, "targets": [], "assessment": null,
                "zones": [
                    {"name": "a.example.", "sector": "cctld", "operator": "Registry", "error": null,
                     "delegation": null, "nameservers": [], "soa": null, "dnssec": null, "mail": null,
                     "caa": null, "queries": 0, "duration_ms": 0},
                    {"name": "old.example.", "error": null, "delegation": null, "nameservers": [],
                     "soa": null, "dnssec": null, "mail": null, "caa": null, "queries": 0, "duration_ms": 0}
                ],
                "resolvers": [],
            })
            .to_string(),
        )
        .unwrap();
        let items = items(&document);
        let declared: Vec<(&str, &str)> = items.iter().map(|i| (i.sector, i.operator)).collect();
        assert_eq!(declared, [("cctld", "Registry"), (UNSPECIFIED, UNSPECIFIED)]);
    }
}
