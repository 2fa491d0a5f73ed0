//! The country report's view model: every number, table and chart the templates show, computed
//! from one scan document (and the previous one, for changes) in the report's language. The
//! templates only lay it out, so what a report says is testable here, and every figure can be
//! traced back to findings.
//!
//! Sections that other stages add to the scan document (a target's `certificate`, top-level
//! `zones` and `resolvers`, each with `findings`) are read from the document's JSON, generically:
//! any item with a name and `findings` gets the same finding lists, and its facts are shown as a
//! key/value table. So they render as soon as a scan carries them.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{json, Value};

use super::i18n::Strings;
use super::svg::{self, Bar};
use crate::checks::catalog::Catalog;
use crate::checks::model::{Finding, Severity, Status};
use crate::facts::{ScanReport, TargetResult};
use crate::tls::registry::Protocol;

/// Grades in the order the distribution shows them.
const GRADES: [&str; 10] = ["A+", "A", "A-", "B", "C", "D", "E", "F", "T", "M"];

/// A scan as the report reads it: typed, plus its JSON for sections this build does not type.
pub struct Document {
    pub report: ScanReport,
    pub raw: Value,
}

/// Fields of the scan document and of a target that this build reads through its types; the
/// document's JSON is kept for everything else (a target's `certificate`, `zones`, `resolvers`,
/// whatever later stages add). A test checks these lists against the types.
pub const TYPED_FIELDS: [&str; 7] = [
    "schema_version",
    "tool",
    "started_at",
    "finished_at",
    "country",
    "targets",
    "assessment",
];
pub const TYPED_TARGET_FIELDS: [&str; 15] = [
    "host",
    "port",
    "address",
    "sni",
    "service",
    "sector",
    "operator",
    "error",
    "started_at",
    "duration_ms",
    "tls",
    "http",
    "findings",
    "grade",
    "score",
];

/// The JSON of a document minus what the types already hold: `targets` stays an array, one
/// object per target with only its untyped fields.
fn untyped(mut raw: Value) -> Value {
    if let Value::Object(map) = &mut raw {
        map.retain(|k, _| !TYPED_FIELDS.contains(&k.as_str()) || k == "targets");
        if let Some(Value::Array(targets)) = map.get_mut("targets") {
            for target in targets.iter_mut() {
                if let Value::Object(fields) = target {
                    fields.retain(|k, _| !TYPED_TARGET_FIELDS.contains(&k.as_str()));
                }
            }
        }
    }
    raw
}

impl Document {
    pub fn from_report(report: ScanReport) -> Document {
        // Serialised once to find fields the types here do not name (added by later stages).
        let raw = untyped(serde_json::to_value(&report).unwrap_or(Value::Null));
        Document { report, raw }
    }

    /// Parse a scan document, keeping fields this build's types do not know.
    pub fn from_json(text: &str) -> Result<Document, serde_json::Error> {
        let raw: Value = serde_json::from_str(text)?;
        let report: ScanReport = ScanReport::deserialize(&raw)?;
        Ok(Document {
            report,
            raw: untyped(raw),
        })
    }

    /// Zones or resolvers (`key`): every item of the top-level array, if the scan has one.
    fn items(&self, key: &str) -> Vec<&Value> {
        self.raw
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
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
            let more = if items.len() > 40 {
                format!(" (+{})", items.len() - 40)
            } else {
                String::new()
            };
            clip(&(shown.join(", ") + &more), 600)
        }
        Value::Object(_) => clip(&value.to_string(), 300),
        other => other.to_string(),
    }
}

/// A finding's detail as one line ("suites: A, B; minimum: 2048").
pub fn detail_line(finding: &Finding) -> String {
    let parts: Vec<String> = finding
        .detail
        .iter()
        .map(|(k, v)| format!("{k}: {}", scalar(v)))
        .collect();
    clip(&parts.join("; "), 700)
}

/// Facts as key/value rows, for sections the report does not know in detail (certificate,
/// zone and resolver facts): nested objects become dotted keys, PEM blobs are counted.
pub fn fact_rows(value: &Value) -> Vec<Value> {
    fn walk(value: &Value, prefix: &str, depth: usize, rows: &mut Vec<Value>) {
        if rows.len() >= 80 {
            return;
        }
        match value {
            Value::Object(map) if depth < 4 => {
                for (key, item) in map {
                    if matches!(key.as_str(), "findings" | "score" | "grade") {
                        continue;
                    }
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    if key.ends_with("pem") {
                        let n = item
                            .as_array()
                            .map_or(usize::from(!item.is_null()), Vec::len);
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

/// One assessed thing: an endpoint, a zone or a resolver.
struct Item<'a> {
    kind: &'static str,
    /// A stable key for comparing scans ("target host:port address", "zone example.org").
    key: String,
    label: String,
    sector: String,
    operator: String,
    findings: Cow<'a, [Finding]>,
    target: Option<&'a TargetResult>,
    raw: Option<&'a Value>,
    error: Option<String>,
    score: Option<f64>,
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

fn items(document: &Document) -> Vec<Item<'_>> {
    items_of(document, None)
}

/// The items of one kind (`target`, `zone`, `resolver`), or of every kind.
fn items_of<'a>(document: &'a Document, only: Option<&str>) -> Vec<Item<'a>> {
    let mut out = Vec::new();
    let raw_targets = document.items("targets");
    let targets = if only.is_none_or(|k| k == "target") {
        &document.report.targets[..]
    } else {
        &[]
    };
    for (i, target) in targets.iter().enumerate() {
        out.push(Item {
            kind: "target",
            key: format!(
                "target {}:{} {}",
                target.host,
                target.port,
                target.address.as_deref().unwrap_or("")
            ),
            label: target_label(target),
            sector: target
                .sector
                .clone()
                .unwrap_or_else(|| "unspecified".into()),
            operator: target.operator.clone().unwrap_or_else(|| "–".into()),
            findings: Cow::Borrowed(&target.findings),
            target: Some(target),
            raw: raw_targets.get(i).copied(),
            error: target.error.clone(),
            score: target.score.as_ref().and_then(|s| s.value),
        });
    }
    for (kind, key) in [("zone", "zones"), ("resolver", "resolvers")] {
        if only.is_some_and(|k| k != kind) {
            continue;
        }
        for raw in document.items(key) {
            let name = ["zone", "name", "host", "address"]
                .iter()
                .find_map(|k| raw.get(*k).and_then(Value::as_str))
                .unwrap_or("?")
                .to_string();
            let findings: Vec<Finding> = raw
                .get("findings")
                .and_then(|f| serde_json::from_value(f.clone()).ok())
                .unwrap_or_default();
            let text = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_string);
            out.push(Item {
                kind,
                key: format!("{kind} {name}"),
                label: name,
                sector: text("sector").unwrap_or_else(|| "unspecified".into()),
                operator: text("operator").unwrap_or_else(|| "–".into()),
                findings: Cow::Owned(findings),
                target: None,
                raw: Some(raw),
                error: text("error"),
                score: raw
                    .get("score")
                    .and_then(|s| s.get("value"))
                    .and_then(Value::as_f64),
            });
        }
    }
    out
}

/// A failing check across the country.
struct Failing<'a> {
    finding: &'a Finding,
    severity: Severity,
    affected: BTreeSet<String>,
    conclusive: usize,
}

fn failing_checks<'a>(items: &'a [Item<'a>]) -> Vec<Failing<'a>> {
    let mut by_check: BTreeMap<&str, Failing<'a>> = BTreeMap::new();
    let mut conclusive: BTreeMap<&str, usize> = BTreeMap::new();
    for item in items {
        for finding in item.findings.iter() {
            if finding.status != Status::Inconclusive {
                *conclusive.entry(&finding.check).or_default() += 1;
            }
            if finding.status == Status::Fail {
                let entry = by_check.entry(&finding.check).or_insert_with(|| Failing {
                    finding,
                    severity: finding.severity,
                    affected: BTreeSet::new(),
                    conclusive: 0,
                });
                entry.severity = entry.severity.max(finding.severity);
                entry.affected.insert(item.key.clone());
            }
        }
    }
    let mut list: Vec<Failing> = by_check
        .into_iter()
        .map(|(id, mut f)| {
            f.conclusive = conclusive.get(id).copied().unwrap_or(0);
            f
        })
        .collect();
    // Most important first: severity, then how many are affected.
    list.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.affected.len().cmp(&a.affected.len()))
            .then(a.finding.check.cmp(&b.finding.check))
    });
    list
}

fn finding_row(lang: &Lang, finding: &Finding) -> Value {
    json!({
        "check": finding.check,
        "title": lang.title(finding),
        "severity": lang.severity(finding.severity),
        "sev_class": severity_class(finding.severity),
        "status": lang.status(finding.status),
        // The HTML shows the start of the evidence; the JSON and CSV carry all of it.
        "detail": clip(&detail_line(finding), 120),
    })
}

/// An item's findings split the way a reader needs them: what fails first, then what is
/// excepted or could not be tested, then the checks passed (as a compact list of ids).
/// When the item itself could not be tested (`errored`), its inconclusive findings all share
/// that reason, shown once: they are listed by id like the passed ones.
fn finding_lists(lang: &Lang, findings: &[Finding], errored: bool) -> Value {
    let mut failing: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .collect();
    failing.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.check.cmp(&b.check)));
    let excepted: Vec<Value> = findings
        .iter()
        .filter(|f| f.status == Status::Excepted)
        .map(|f| {
            let mut row = finding_row(lang, f);
            if let (Some(e), Value::Object(map)) = (&f.exception, &mut row) {
                map.insert("reason".into(), json!(e.reason));
                map.insert("approved_by".into(), json!(e.approved_by));
                map.insert(
                    "expires".into(),
                    json!(lang
                        .strings
                        .date(&e.expires)
                        .unwrap_or_else(|| e.expires.clone())),
                );
            }
            row
        })
        .collect();
    // Check ids grouped by their prefix ("tls.protocol: sslv2, sslv3"): every finding is listed,
    // in a third of the bytes, which matters with ten thousand endpoints.
    let grouped = |status: Status| {
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for finding in findings.iter().filter(|f| f.status == status) {
            let (prefix, name) = finding
                .check
                .rsplit_once('.')
                .unwrap_or(("", &finding.check));
            groups.entry(prefix).or_default().push(name);
        }
        let count = groups.values().map(Vec::len).sum::<usize>();
        let text: Vec<String> = groups
            .iter()
            .map(|(prefix, names)| format!("{prefix}: {}", names.join(", ")))
            .collect();
        (text.join("; "), count)
    };
    let (passed, passed_count) = grouped(Status::Pass);
    let (inconclusive_ids, inconclusive_count) = if errored {
        grouped(Status::Inconclusive)
    } else {
        (String::new(), 0)
    };
    let inconclusive: Vec<Value> = if errored {
        Vec::new()
    } else {
        findings
            .iter()
            .filter(|f| f.status == Status::Inconclusive)
            .map(|f| finding_row(lang, f))
            .collect()
    };
    json!({
        "failing": failing.iter().map(|f| finding_row(lang, f)).collect::<Vec<_>>(),
        "excepted": excepted,
        "inconclusive": inconclusive,
        "inconclusive_ids": inconclusive_ids,
        "inconclusive_count": inconclusive_count,
        "passed": passed,
        "passed_count": passed_count,
        "any": !findings.is_empty(),
    })
}

fn yes_no(lang: &Lang, value: Option<bool>) -> String {
    lang.t(match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not_tested",
    })
}

fn tls_evidence(lang: &Lang, target: &TargetResult) -> Value {
    let Some(tls) = &target.tls else {
        return Value::Null;
    };
    // Accepted protocols with their suites; refused and untested ones on one line each, with
    // how the server said no (or why the probe failed).
    let mut accepted = Vec::new();
    let mut refused: Vec<(String, Vec<&str>)> = Vec::new();
    for (protocol, detail) in Protocol::ALL
        .iter()
        .rev()
        .filter_map(|p| tls.protocol_details.get(p).map(|d| (p, d)))
    {
        if detail.accepted {
            let order = match tls.server_preference.get(protocol).copied().flatten() {
                Some(true) => lang.t("server_order"),
                Some(false) => lang.t("client_order"),
                None => String::new(),
            };
            let suites = tls
                .cipher_suites
                .get(protocol)
                .map(Vec::as_slice)
                .unwrap_or_default();
            accepted.push(json!({
                "name": protocol.name(),
                "order": order,
                "suites": clip(&suites.join(", "), 4000),
                "suite_count": suites.len(),
            }));
        } else {
            let (state, why) = match (&detail.error, &detail.refusal) {
                (Some(error), _) => (lang.t("not_tested"), error.as_str()),
                (None, refusal) => (String::new(), refusal.as_deref().unwrap_or("")),
            };
            let reason = clip(
                &[state.as_str(), why]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(": "),
                200,
            );
            match refused.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, names)) => names.push(protocol.name()),
                None => refused.push((reason, vec![protocol.name()])),
            }
        }
    }
    let kx: Vec<String> = tls
        .key_exchange
        .iter()
        .map(|k| match (&k.group, k.bits) {
            (Some(group), _) => format!("{} {group} ({})", k.kind, k.protocol.name()),
            (None, Some(bits)) => format!("{} {bits} bits ({})", k.kind, k.protocol.name()),
            (None, None) => k.kind.clone(),
        })
        .collect();
    let e = &tls.extensions;
    let extensions = vec![
        json!({"name": lang.t("ext_secure_renegotiation"), "value": yes_no(lang, e.secure_renegotiation)}),
        json!({"name": lang.t("ext_compression"), "value": yes_no(lang, e.compression)}),
        json!({"name": lang.t("ext_session_ticket"), "value": yes_no(lang, e.session_ticket)}),
        json!({"name": lang.t("ext_ocsp_stapling"), "value": yes_no(lang, e.ocsp_stapling)}),
        json!({"name": lang.t("ext_extended_master_secret"), "value": yes_no(lang, e.extended_master_secret)}),
        json!({"name": lang.t("ext_heartbeat"), "value": yes_no(lang, e.heartbeat)}),
        json!({"name": lang.t("ext_fallback_scsv"), "value": yes_no(lang, tls.fallback_scsv)}),
        json!({"name": "ALPN", "value": clip(&e.alpn.join(", "), 200)}),
    ];
    json!({
        "accepted": accepted,
        "refused": refused
            .iter()
            .map(|(reason, names)| if reason.is_empty() { names.join(", ") } else { format!("{} ({reason})", names.join(", ")) })
            .collect::<Vec<_>>()
            .join("; "),
        "groups": clip(&tls.groups.join(", "), 1000),
        "key_exchange": clip(&kx.join(", "), 1000),
        "extensions": extensions,
        "chain": lang.strings.fill("chain_summary", &[
            ("n", &tls.chain_pem.len().to_string()),
            ("protocol", tls.chain_protocol.map(|p| p.name()).unwrap_or("–")),
        ]),
        "connections": tls.connections,
        "probe_errors": tls.probe_errors.iter().take(20).map(|e| clip(e, 300)).collect::<Vec<_>>(),
        "same_as": null,
    })
}

/// The parts of a TLS evidence view that make up a server's configuration (not its chain,
/// connection count or probe errors), as a key for finding endpoints that share it.
const CONFIGURATION: [&str; 5] = [
    "accepted",
    "refused",
    "groups",
    "key_exchange",
    "extensions",
];

fn configuration_key(tls: &Value) -> Option<String> {
    let map = tls.as_object()?;
    Some(
        CONFIGURATION
            .iter()
            .map(|k| map.get(*k).map(Value::to_string).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\u{0}"),
    )
}

fn item_view(lang: &Lang, item: &Item, index: usize) -> Value {
    let grade = item.target.and_then(|t| t.grade.as_ref()).map(|g| {
        json!({
            "letter": clip(&g.grade, 3),
            "class": grade_class(&g.grade),
            "score": g.score,
            "caps": g.caps.iter().map(|c| clip(&c.to_string(), 200)).collect::<Vec<_>>(),
            "missing": clip(&g.missing.join(", "), 300),
        })
    });
    let rows = |value: Option<&Value>| match value {
        Some(value) if !value.is_null() => Value::Array(fact_rows(value)),
        _ => Value::Null,
    };
    // A target's certificate facts come from the document's JSON (the certificate stage adds
    // them); a zone's or resolver's facts are the whole item.
    let (certificate, http, facts) = match item.target {
        Some(target) => {
            let http = target
                .http
                .as_ref()
                .and_then(|h| serde_json::to_value(h).ok());
            (
                rows(item.raw.and_then(|r| r.get("certificate"))),
                rows(http.as_ref()),
                Value::Null,
            )
        }
        None => (Value::Null, Value::Null, rows(item.raw)),
    };
    let target = item.target;
    json!({
        "anchor": format!("{}-{index}", &item.kind[..1]),
        "label": clip(&item.label, 300),
        "address": target.and_then(|t| t.address.clone()),
        // The SNI only when it differs from the host (the label shows host and address).
        "sni": target.and_then(|t| t.sni.as_deref().filter(|s| *s != t.host).map(|s| clip(s, 300))),
        "service": target.map(|t| clip(t.service.name(), 60)),
        "sector": clip(&item.sector, 100),
        "operator": clip(&item.operator, 200),
        "error": item.error.as_deref().map(|e| clip(e, 500)),
        "grade": grade,
        "score": lang.score(item.score),
        "failing_count": item.findings.iter().filter(|f| f.status == Status::Fail).count(),
        "findings": finding_lists(lang, &item.findings, item.error.is_some()),
        "tls": target.map_or(Value::Null, |t| tls_evidence(lang, t)),
        "certificate": certificate,
        "http": http,
        "facts": facts,
    })
}

/// Per-group (sector or operator) aggregation.
#[derive(Default)]
struct Group {
    items: usize,
    not_testable: usize,
    scores: Vec<f64>,
    failing: BTreeSet<String>,
    worst: Option<usize>,
    sector: String,
}

impl Group {
    fn add(&mut self, item: &Item) {
        self.items += 1;
        if item.error.is_some() {
            self.not_testable += 1;
        }
        if let Some(score) = item.score {
            self.scores.push(score);
        }
        for finding in item.findings.iter().filter(|f| f.status == Status::Fail) {
            self.failing.insert(finding.check.clone());
        }
        let grade = item
            .target
            .and_then(|t| t.grade.as_ref())
            .and_then(|g| GRADES.iter().position(|x| *x == g.grade));
        self.worst = match (self.worst, grade) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.sector = item.sector.clone();
    }

    fn mean(&self) -> Option<f64> {
        (!self.scores.is_empty()).then(|| {
            crate::checks::score::round1(self.scores.iter().sum::<f64>() / self.scores.len() as f64)
        })
    }
}

fn charts(lang: &Lang, items: &[Item], document: &Document) -> Value {
    let targets = &document.report.targets;
    let mut grade_counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ungraded = 0;
    for target in targets {
        match target
            .grade
            .as_ref()
            .and_then(|g| GRADES.iter().find(|x| **x == g.grade))
        {
            Some(grade) => *grade_counts.entry(grade).or_default() += 1,
            None => ungraded += 1,
        }
    }
    let max = targets.len().max(1) as f64;
    let mut grade_bars: Vec<Bar> = GRADES
        .iter()
        .filter(|g| grade_counts.contains_key(*g) || ["A+", "A", "B", "C", "F"].contains(g))
        .map(|g| {
            let n = grade_counts.get(g).copied().unwrap_or(0);
            Bar {
                label: g.to_string(),
                value: n as f64,
                text: lang.strings.int(n),
                colour: grade_colour(g),
            }
        })
        .collect();
    grade_bars.push(Bar {
        label: lang.t("not_graded"),
        value: ungraded as f64,
        text: lang.strings.int(ungraded),
        colour: "#94a3b8",
    });

    let mut by_severity: BTreeMap<Severity, usize> = BTreeMap::new();
    let mut by_category: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for item in items {
        for finding in item.findings.iter() {
            if finding.status == Status::Fail {
                *by_severity.entry(finding.severity).or_default() += 1;
            }
            let counts = by_category.entry(finding.category.clone()).or_default();
            counts[match finding.status {
                Status::Pass => 0,
                Status::Fail => 1,
                Status::Excepted => 2,
                Status::Inconclusive => 3,
            }] += 1;
        }
    }
    let severity_max = by_severity.values().copied().max().unwrap_or(0).max(1) as f64;
    let severity_bars: Vec<Bar> = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            let n = by_severity.get(s).copied().unwrap_or(0);
            Bar {
                label: lang.severity(*s),
                value: n as f64,
                text: lang.strings.int(n),
                colour: severity_colour(*s),
            }
        })
        .collect();
    let category_bars: Vec<Bar> = by_category
        .iter()
        .map(|(category, [pass, fail, excepted, _])| {
            let conclusive = pass + fail + excepted;
            let rate = if conclusive == 0 {
                0.0
            } else {
                100.0 * *pass as f64 / conclusive as f64
            };
            Bar {
                label: lang.t(&format!("category_{category}")),
                value: rate,
                text: format!(
                    "{} (n={})",
                    lang.strings.percent(*pass, conclusive),
                    lang.strings.int(conclusive)
                ),
                colour: score_colour(rate),
            }
        })
        .collect();
    let sector_bars: Vec<Bar> = document
        .report
        .assessment
        .iter()
        .flat_map(|a| &a.sectors)
        .map(|s| Bar {
            label: sector_name(lang, &s.sector),
            value: s.score.unwrap_or(0.0),
            text: format!("{} (n={})", lang.score(s.score), lang.strings.int(s.scored)),
            colour: s.score.map_or("#94a3b8", score_colour),
        })
        .collect();
    let category_rows: Vec<Value> = by_category
        .iter()
        .map(|(category, [pass, fail, excepted, inconclusive])| {
            json!({
                "name": lang.t(&format!("category_{category}")),
                "pass": lang.strings.int(*pass), "fail": lang.strings.int(*fail),
                "excepted": lang.strings.int(*excepted), "inconclusive": lang.strings.int(*inconclusive),
                "rate": lang.strings.percent(*pass, pass + fail + excepted),
            })
        })
        .collect();
    json!({
        "grades": svg::bars(&lang.t("chart_grades"), &grade_bars, max),
        "severity": svg::bars(&lang.t("chart_severity"), &severity_bars, severity_max),
        "categories": svg::bars(&lang.t("chart_categories"), &category_bars, 100.0),
        "sectors": svg::bars(&lang.t("chart_sectors"), &sector_bars, 100.0),
        "category_rows": category_rows,
    })
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

fn changes(lang: &Lang, items: &[Item], previous: &Document) -> Value {
    let before_items = self::items(previous);
    // Hashed: a country has hundreds of thousands of (item, check) pairs.
    let mut before: std::collections::HashMap<(&str, &str), Status> =
        std::collections::HashMap::with_capacity(
            before_items.iter().map(|i| i.findings.len()).sum(),
        );
    for item in &before_items {
        for finding in item.findings.iter() {
            before.insert((item.key.as_str(), finding.check.as_str()), finding.status);
        }
    }
    let (mut new, mut regressed, mut resolved) = (Vec::new(), Vec::new(), Vec::new());
    let mut now_keys = BTreeSet::new();
    for item in items {
        for finding in item.findings.iter() {
            now_keys.insert((item.key.as_str(), finding.check.as_str()));
            let row = || {
                json!({"target": clip(&item.label, 300), "check": finding.check, "title": lang.title(finding),
                       "severity": lang.severity(finding.severity), "sev_class": severity_class(finding.severity)})
            };
            match (
                before.get(&(item.key.as_str(), finding.check.as_str())),
                finding.status,
            ) {
                (Some(Status::Pass | Status::Excepted), Status::Fail) => regressed.push(row()),
                (None | Some(Status::Inconclusive), Status::Fail) => new.push(row()),
                (Some(Status::Fail), Status::Pass) => resolved.push(row()),
                _ => {}
            }
        }
    }
    let before_keys: BTreeSet<&str> = before_items.iter().map(|i| i.key.as_str()).collect();
    let now_item_keys: BTreeSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
    let gone = before_keys.difference(&now_item_keys).count();
    let added = now_item_keys.difference(&before_keys).count();
    json!({
        "window": lang.strings.datetime(&previous.report.started_at),
        "new": new, "regressed": regressed, "resolved": resolved,
        "new_count": lang.strings.int(new.len()), "regressed_count": lang.strings.int(regressed.len()),
        "resolved_count": lang.strings.int(resolved.len()),
        "items_gone": lang.strings.int(gone), "items_added": lang.strings.int(added),
        "previous_index": lang.score(previous.report.assessment.as_ref().and_then(|a| a.index)),
    })
}

/// The country report's view model.
pub fn country(document: &Document, previous: Option<&Document>, lang: &Lang) -> Value {
    let report = &document.report;
    let items = items(document);
    let assessment = report.assessment.as_ref();
    let index = assessment.and_then(|a| a.index);
    let targets = &report.targets;
    let not_testable = targets.iter().filter(|t| t.error.is_some()).count();
    let scored = targets
        .iter()
        .filter(|t| t.score.as_ref().and_then(|s| s.value).is_some())
        .count();
    let zones: Vec<&Item> = items.iter().filter(|i| i.kind == "zone").collect();
    let resolvers: Vec<&Item> = items.iter().filter(|i| i.kind == "resolver").collect();
    let failing = failing_checks(&items);
    let assessed = items.len();

    let problems: Vec<Value> = failing
        .iter()
        .take(5)
        .map(|f| {
            json!({
                "text": lang.strings.fill("problem", &[
                    ("count", &lang.strings.int(f.affected.len())),
                    ("total", &lang.strings.int(f.conclusive)),
                    ("title", &lang.title(f.finding)),
                ]),
                "severity": lang.severity(f.severity),
                "sev_class": severity_class(f.severity),
                "remediation": lang.remediation(f.finding),
            })
        })
        .collect();
    let top_checks: Vec<Value> = failing
        .iter()
        .take(20)
        .map(|f| {
            json!({
                "check": f.finding.check,
                "title": lang.title(f.finding),
                "severity": lang.severity(f.severity),
                "sev_class": severity_class(f.severity),
                "affected": lang.strings.int(f.affected.len()),
                "share": lang.strings.percent(f.affected.len(), f.conclusive),
                "conclusive": lang.strings.int(f.conclusive),
                "remediation": lang.remediation(f.finding),
                "references": f.finding.references.join("; "),
            })
        })
        .collect();

    let previous_sectors: BTreeMap<String, Option<f64>> = previous
        .and_then(|p| p.report.assessment.as_ref())
        .map(|a| {
            a.sectors
                .iter()
                .map(|s| (s.sector.clone(), s.score))
                .collect()
        })
        .unwrap_or_default();
    let mut sector_groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut operator_groups: BTreeMap<String, Group> = BTreeMap::new();
    for item in &items {
        sector_groups
            .entry(item.sector.clone())
            .or_default()
            .add(item);
        operator_groups
            .entry(item.operator.clone())
            .or_default()
            .add(item);
    }
    let sectors: Vec<Value> = assessment
        .map(|a| a.sectors.clone())
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let group = sector_groups.get(&s.sector);
            let delta = match (previous_sectors.get(&s.sector).copied().flatten(), s.score) {
                (Some(before), Some(now)) => lang.strings.delta(now - before),
                _ => String::new(),
            };
            json!({
                "name": sector_name(lang, &s.sector),
                "weight": lang.strings.number(s.weight, 1),
                "score": lang.score(s.score),
                "score_class": s.score.map_or("gn", |v| if v >= 80.0 { "ga" } else if v >= 60.0 { "gc" } else { "gf" }),
                "scored": lang.strings.int(s.scored),
                "unscored": lang.strings.int(s.unscored),
                "items": lang.strings.int(group.map_or(0, |g| g.items)),
                "not_testable": lang.strings.int(group.map_or(0, |g| g.not_testable)),
                "failing": group.map_or(0, |g| g.failing.len()),
                "delta": delta,
            })
        })
        .collect();
    let operators: Vec<Value> = operator_groups
        .iter()
        .map(|(name, g)| {
            let worst = g.worst.map(|i| GRADES[i]).unwrap_or("–");
            json!({
                "name": clip(name, 200),
                "sector": sector_name(lang, &g.sector),
                "items": lang.strings.int(g.items),
                "not_testable": lang.strings.int(g.not_testable),
                "score": lang.score(g.mean()),
                "worst": worst,
                "worst_class": grade_class(worst),
                "failing": g.failing.len(),
                "failing_checks": clip(&g.failing.iter().take(6).cloned().collect::<Vec<_>>().join(", "), 400),
            })
        })
        .collect();
    let exceptions: Vec<Value> = items
        .iter()
        .flat_map(|item| {
            item.findings
                .iter()
                .filter(|f| f.exception.is_some())
                .map(move |f| (item, f))
        })
        .map(|(item, f)| {
            let e = f.exception.as_ref().expect("filtered");
            json!({
                "target": clip(&item.label, 300), "check": f.check, "title": lang.title(f),
                "severity": lang.severity(f.severity), "sev_class": severity_class(f.severity),
                "reason": clip(&e.reason, 1000), "approved_by": clip(&e.approved_by, 200),
                "expires": lang.strings.date(&e.expires).unwrap_or_else(|| clip(&e.expires, 40)),
                "expired": e.expired,
            })
        })
        .collect();

    let mut checks_used: BTreeMap<&str, &Finding> = BTreeMap::new();
    for item in &items {
        for finding in item.findings.iter() {
            checks_used.entry(finding.check.as_str()).or_insert(finding);
        }
    }
    let methodology_checks: Vec<Value> = checks_used
        .values()
        .map(|f| json!({"check": f.check, "category": lang.t(&format!("category_{}", f.category)), "severity": lang.severity(f.severity), "title": lang.title(f)}))
        .collect();

    let country_name = report.country.as_ref().map(|c| clip(&c.name, 200));
    let index_text = lang.score(index);
    let index_delta = match (
        index,
        previous
            .and_then(|p| p.report.assessment.as_ref())
            .and_then(|a| a.index),
    ) {
        (Some(now), Some(before)) => lang.strings.delta(now - before),
        _ => String::new(),
    };
    let n = json!({
        "endpoints": lang.strings.int(targets.len()),
        "tested": lang.strings.int(targets.len() - not_testable),
        "not_testable": lang.strings.int(not_testable),
        "scored": lang.strings.int(scored),
        "unscored": lang.strings.int(targets.len() - scored),
        "zones": lang.strings.int(zones.len()),
        "zones_not_testable": lang.strings.int(zones.iter().filter(|z| z.error.is_some()).count()),
        "resolvers": lang.strings.int(resolvers.len()),
        "has_zones": !zones.is_empty() || document.raw.get("zones").is_some(),
        "has_resolvers": !resolvers.is_empty() || document.raw.get("resolvers").is_some(),
        "findings": lang.strings.int(items.iter().map(|i| i.findings.len()).sum()),
        "fail": lang.strings.int(assessment.map_or(0, |a| a.counts.fail)),
        "pass": lang.strings.int(assessment.map_or(0, |a| a.counts.pass)),
        "excepted": lang.strings.int(assessment.map_or(0, |a| a.counts.excepted)),
        "inconclusive": lang.strings.int(assessment.map_or(0, |a| a.counts.inconclusive)),
        "assessed": lang.strings.int(assessed),
    });
    let window = lang.strings.fill(
        "window",
        &[
            ("start", &lang.strings.datetime(&report.started_at)),
            ("end", &lang.strings.datetime(&report.finished_at)),
        ],
    );
    json!({
        "lang": lang.lang,
        "t": lang.strings.text,
        "title": match &country_name {
            Some(name) => lang.strings.fill("report_title_country", &[("country", name)]),
            None => lang.t("report_title"),
        },
        "country": country_name,
        "country_code": report.country.as_ref().map(|c| clip(&c.code, 10)),
        "generated": lang.strings.datetime(&crate::now_rfc3339()),
        "window": window,
        "tool": format!("{} {}", clip(&report.tool.name, 40), clip(&report.tool.version, 40)),
        "policy": assessment.map(|a| clip(&a.policy, 100)),
        "profile": report.country.as_ref().map(|c| clip(&c.profile, 300)),
        "index": index_text,
        "index_class": index.map_or("gn", |v| if v >= 80.0 { "ga" } else if v >= 60.0 { "gc" } else { "gf" }),
        "index_delta": index_delta,
        "assessed": assessment.is_some(),
        "n": n,
        "problems": problems,
        "charts": charts(lang, &items, document),
        "sectors": sectors,
        "operators": operators,
        "top_checks": top_checks,
        "changes": previous.map_or(Value::Null, |p| changes(lang, &items, p)),
        "exceptions": exceptions,
        // Filled in by the renderer, one item at a time (see `each_item`).
        "endpoints_html": "",
        "zones_html": "",
        "resolvers_html": "",
        "methodology": {
            "checks": methodology_checks,
            "checks_version": assessment.map(|a| clip(&a.checks_version, 500)),
            "formula": assessment.map(|a| a.formula.clone()),
        },
    })
}

/// The index of a scan and its finding counts per category, for the regional report.
pub struct CountrySummary {
    pub name: String,
    pub code: String,
    pub index: Option<f64>,
    pub policy: String,
    pub endpoints: usize,
    pub not_testable: usize,
    pub started_at: String,
    /// category → [pass, fail, excepted, inconclusive]
    pub categories: BTreeMap<String, [usize; 4]>,
    /// sector → score
    pub sectors: BTreeMap<String, Option<f64>>,
    pub failing: Vec<(String, Severity, usize, Finding)>,
}

pub fn summarise(document: &Document) -> CountrySummary {
    let report = &document.report;
    let items = items(document);
    let mut categories: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for finding in items.iter().flat_map(|i| i.findings.iter()) {
        categories.entry(finding.category.clone()).or_default()[match finding.status {
            Status::Pass => 0,
            Status::Fail => 1,
            Status::Excepted => 2,
            Status::Inconclusive => 3,
        }] += 1;
    }
    let failing = failing_checks(&items)
        .into_iter()
        .take(5)
        .map(|f| {
            (
                f.finding.check.clone(),
                f.severity,
                f.affected.len(),
                f.finding.clone(),
            )
        })
        .collect();
    CountrySummary {
        name: report
            .country
            .as_ref()
            .map_or_else(|| "–".into(), |c| c.name.clone()),
        code: report
            .country
            .as_ref()
            .map_or_else(|| "–".into(), |c| c.code.clone()),
        index: report.assessment.as_ref().and_then(|a| a.index),
        policy: report
            .assessment
            .as_ref()
            .map_or_else(|| "–".into(), |a| a.policy.clone()),
        endpoints: report.targets.len(),
        not_testable: report.targets.iter().filter(|t| t.error.is_some()).count(),
        started_at: report.started_at.clone(),
        categories,
        sectors: report
            .assessment
            .iter()
            .flat_map(|a| &a.sectors)
            .map(|s| (s.sector.clone(), s.score))
            .collect(),
        failing,
    }
}

/// The regional report's view model: countries side by side.
pub fn regional(documents: &[Document], lang: &Lang) -> Value {
    let summaries: Vec<CountrySummary> = documents.iter().map(summarise).collect();
    let index_bars: Vec<Bar> = summaries
        .iter()
        .map(|s| Bar {
            label: s.name.clone(),
            value: s.index.unwrap_or(0.0),
            text: lang.score(s.index),
            colour: s.index.map_or("#94a3b8", score_colour),
        })
        .collect();
    let categories: BTreeSet<&String> =
        summaries.iter().flat_map(|s| s.categories.keys()).collect();
    let sectors: BTreeSet<&String> = summaries.iter().flat_map(|s| s.sectors.keys()).collect();
    let category_rows: Vec<Value> = categories
        .iter()
        .map(|c| {
            json!({
                "name": lang.t(&format!("category_{c}")),
                "cells": summaries.iter().map(|s| {
                    let [pass, fail, excepted, _] = s.categories.get(*c).copied().unwrap_or_default();
                    let n = pass + fail + excepted;
                    json!({"rate": lang.strings.percent(pass, n), "n": lang.strings.int(n)})
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let sector_rows: Vec<Value> = sectors
        .iter()
        .map(|sector| {
            json!({
                "name": sector_name(lang, sector),
                "cells": summaries.iter().map(|s| lang.score(s.sectors.get(*sector).copied().flatten())).collect::<Vec<_>>(),
            })
        })
        .collect();
    let countries: Vec<Value> = summaries
        .iter()
        .map(|s| {
            json!({
                "name": clip(&s.name, 200), "code": clip(&s.code, 10), "index": lang.score(s.index),
                "index_class": s.index.map_or("gn", |v| if v >= 80.0 { "ga" } else if v >= 60.0 { "gc" } else { "gf" }),
                "policy": clip(&s.policy, 100),
                "endpoints": lang.strings.int(s.endpoints), "not_testable": lang.strings.int(s.not_testable),
                "scanned": lang.strings.datetime(&s.started_at),
                "problems": s.failing.iter().map(|(_, severity, n, f)| json!({
                    "title": lang.title(f), "severity": lang.severity(*severity), "sev_class": severity_class(*severity),
                    "affected": lang.strings.int(*n),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "lang": lang.lang,
        "t": lang.strings.text,
        "title": lang.t("regional_title"),
        "generated": lang.strings.datetime(&crate::now_rfc3339()),
        "countries": countries,
        "chart_index": svg::bars(&lang.t("chart_index_by_country"), &index_bars, 100.0),
        "category_rows": category_rows,
        "sector_rows": sector_rows,
        "tool": format!("postura {}", env!("CARGO_PKG_VERSION")),
        "formula": crate::checks::score::SCORE_FORMULA,
    })
}

/// The kinds of assessed items, in report order, with the field their rendered details go to.
pub const ITEM_KINDS: [(&str, &str); 3] = [
    ("target", "endpoints_html"),
    ("zone", "zones_html"),
    ("resolver", "resolvers_html"),
];

/// How many items of `kind` the document has.
pub fn count_items(document: &Document, kind: &str) -> usize {
    match kind {
        "target" => document.report.targets.len(),
        "zone" => document.items("zones").len(),
        "resolver" => document.items("resolvers").len(),
        _ => 0,
    }
}

/// Call `render` with the view of each item of `kind` (endpoint, zone or resolver), one at a
/// time: a country's thousands of endpoints are rendered without holding all their views.
pub fn each_item<E>(
    document: &Document,
    lang: &Lang,
    kind: &str,
    mut render: impl FnMut(Value) -> Result<(), E>,
) -> Result<(), E> {
    // An endpoint whose TLS configuration is the same as an earlier one's says so and links to
    // it instead of repeating the table: operators deploy one configuration on many endpoints,
    // and a regulator wants to see that (and a 10,000-endpoint report stays small).
    let mut seen: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    for (i, item) in items_of(document, Some(kind))
        .iter()
        .filter(|i| i.kind == kind)
        .enumerate()
    {
        let mut view = item_view(lang, item, i);
        if let Some(key) = configuration_key(&view["tls"]) {
            match seen.get(&key) {
                Some(first) => {
                    if let Value::Object(tls) = &mut view["tls"] {
                        for field in CONFIGURATION {
                            tls.remove(field);
                        }
                        tls.insert("same_as".into(), first.clone());
                    }
                }
                None => {
                    seen.insert(
                        key,
                        json!({"anchor": view["anchor"].clone(), "label": view["label"].clone()}),
                    );
                }
            }
        }
        render(view)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_field_lists_match_the_scan_types() {
        let target: TargetResult = serde_json::from_value(json!({
            "host": "h", "port": 1, "address": null, "sni": null, "service": "tls", "sector": null, "operator": null,
            "error": null, "started_at": "", "duration_ms": 0, "tls": null, "http": null, "grade": null, "score": null,
        }))
        .unwrap();
        let report = ScanReport {
            schema_version: 1,
            tool: crate::facts::ToolInfo {
                name: "postura".into(),
                version: "0".into(),
            },
            started_at: String::new(),
            finished_at: String::new(),
            country: None,
            targets: vec![target],
            assessment: None,
            zones: Vec::new(),
            resolvers: Vec::new(),
        };
        let value = serde_json::to_value(&report).unwrap();
        // Every name listed is a field of the type (a stale name would keep a field twice).
        // Fields other stages add (`certificate`, `zones`, `resolvers`) are not listed: they
        // are read from the JSON, whether or not they are typed by then.
        for field in TYPED_FIELDS {
            assert!(
                value.get(field).is_some(),
                "TYPED_FIELDS names {field}, which ScanReport lacks"
            );
        }
        for field in TYPED_TARGET_FIELDS {
            assert!(
                value["targets"][0].get(field).is_some(),
                "TYPED_TARGET_FIELDS names {field}, which TargetResult lacks"
            );
        }
        // Untyped fields survive; typed ones are not kept twice.
        let raw = untyped(
            json!({"targets": [{"host": "h", "certificate": {"subject": "s"}}], "zones": [], "tool": {}}),
        );
        assert_eq!(
            raw,
            json!({"targets": [{"certificate": {"subject": "s"}}], "zones": []})
        );
    }
}
