//! The details of every endpoint, zone and resolver: its findings (failing first), its TLS
//! evidence, its certificate and HTTP facts or its DNS facts. Rendered one item at a time
//! ([`each_item`]) so that a country's thousands of endpoints never sit in memory as views.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::{
    clip, detail_line, fact_rows, grade_class, operator_name, sector_name, severity_class, Document, Item, Lang, Source,
};
use crate::checks::model::{Finding, Status};
use crate::facts::TargetResult;
use crate::report::stream::{ItemSource, Kind};
use crate::report::ReportError;
use crate::tls::registry::Protocol;

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
    let mut failing: Vec<&Finding> = findings.iter().filter(|f| f.status == Status::Fail).collect();
    failing.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.check.cmp(&b.check)));
    let excepted: Vec<Value> = findings
        .iter()
        .filter(|f| f.status == Status::Excepted)
        .map(|f| {
            let mut row = finding_row(lang, f);
            if let (Some(e), Value::Object(map)) = (&f.exception, &mut row) {
                map.insert("reason".into(), json!(e.reason));
                map.insert("approved_by".into(), json!(e.approved_by));
                map.insert("expires".into(), json!(lang.strings.date(&e.expires).unwrap_or_else(|| e.expires.clone())));
            }
            row
        })
        .collect();
    // Check ids grouped by their prefix ("tls.protocol: sslv2, sslv3"): every finding is listed,
    // in a third of the bytes, which matters with ten thousand endpoints.
    let grouped = |status: Status| {
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for finding in findings.iter().filter(|f| f.status == status) {
            let (prefix, name) = finding.check.rsplit_once('.').unwrap_or(("", &finding.check));
            groups.entry(prefix).or_default().push(name);
        }
        let count = groups.values().map(Vec::len).sum::<usize>();
        let text: Vec<String> =
            groups.iter().map(|(prefix, names)| format!("{prefix}: {}", names.join(", "))).collect();
        (text.join("; "), count)
    };
    let (passed, passed_count) = grouped(Status::Pass);
    let (inconclusive_ids, inconclusive_count) =
        if errored { grouped(Status::Inconclusive) } else { (String::new(), 0) };
    let inconclusive: Vec<Value> = if errored {
        Vec::new()
    } else {
        findings.iter().filter(|f| f.status == Status::Inconclusive).map(|f| finding_row(lang, f)).collect()
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
    for (protocol, detail) in Protocol::ALL.iter().rev().filter_map(|p| tls.protocol_details.get(p).map(|d| (p, d))) {
        if detail.accepted {
            let order = match tls.server_preference.get(protocol).copied().flatten() {
                Some(true) => lang.t("server_order"),
                Some(false) => lang.t("client_order"),
                None => String::new(),
            };
            let suites = tls.cipher_suites.get(protocol).map(Vec::as_slice).unwrap_or_default();
            accepted.push(json!({
                "name": protocol.name(),
                "order": order,
                "suites": clip(&suites.join(", "), 4000),
                "suite_count": suites.len(),
            }));
        } else {
            let (state, why): (String, String) = match (&detail.error, &detail.refusal) {
                (Some(error), _) => (lang.t("not_tested"), error.clone()),
                (None, refusal) => (String::new(), refusal.as_ref().map(ToString::to_string).unwrap_or_default()),
            };
            let reason = clip(
                &[state.as_str(), why.as_str()]
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
        // Client simulation: the clients that cannot connect ("" when all can, or none simulated).
        "clients_failing": clip(&tls.clients.iter().filter(|c| c.outcome == crate::tls::clients::SimulatedOutcome::Fails)
            .map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "), 1000),
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
const CONFIGURATION: [&str; 5] = ["accepted", "refused", "groups", "key_exchange", "extensions"];

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

/// The facts of a value as key/value rows, or null when there are none.
fn rows_of<T: serde::Serialize>(value: Option<&T>) -> Value {
    match value.and_then(|v| serde_json::to_value(v).ok()) {
        Some(value) if !value.is_null() => Value::Array(fact_rows(&value)),
        _ => Value::Null,
    }
}

fn item_view(lang: &Lang, item: &Item, index: usize) -> Value {
    let target = item.target();
    let grade = target.and_then(|t| t.grade.as_ref()).map(|g| {
        json!({
            "letter": clip(&g.grade, 3),
            "class": grade_class(&g.grade),
            "score": g.score,
            "caps": g.caps.iter().map(|c| clip(&c.to_string(), 200)).collect::<Vec<_>>(),
            "missing": clip(&g.missing.join(", "), 300),
        })
    });
    // A target's certificate and HTTP facts get their own tables; a zone's or resolver's facts
    // are the whole item.
    let (certificate, http, facts) = match item.source {
        Source::Target(t) => (rows_of(t.certificate.as_ref()), rows_of(t.http.as_ref()), Value::Null),
        Source::Zone(zone) => (Value::Null, Value::Null, rows_of(Some(zone))),
        Source::Resolver(resolver) => (Value::Null, Value::Null, rows_of(Some(resolver))),
    };
    json!({
        "anchor": format!("{}-{index}", &item.kind[..1]),
        "label": clip(&item.label, 300),
        "address": target.and_then(|t| t.address.as_deref().map(|a| clip(a, 100))),
        // The SNI only when it differs from the host (the label shows host and address).
        "sni": target.and_then(|t| t.sni.as_deref().filter(|s| *s != t.host).map(|s| clip(s, 300))),
        "service": target.map(|t| clip(t.service.name(), 60)),
        "sector": sector_name(lang, item.sector),
        "operator": operator_name(lang, item.operator),
        "error": item.error.map(|e| clip(e, 500)),
        "grade": grade,
        "score": lang.score(item.score_value()),
        "score_cap": lang.score_cap(item.score),
        "cap_limit": item.score.and_then(|s| s.cap.as_ref()).map(|c| lang.strings.number(c.limit, 0)),
        "failing_count": item.failing().count(),
        "findings": finding_lists(lang, item.findings, item.error.is_some()),
        "tls": target.map_or(Value::Null, |t| tls_evidence(lang, t)),
        "certificate": certificate,
        "http": http,
        "facts": facts,
        "same_item_as": null,
    })
}

/// The kinds of assessed items, in report order, with the field their rendered details go to.
pub const ITEM_KINDS: [(&str, &str); 3] =
    [("target", "endpoints_html"), ("zone", "zones_html"), ("resolver", "resolvers_html")];

/// How many items of `kind` the document has.
pub fn count_items(document: &Document, kind: &str) -> usize {
    let report = &document.report;
    match kind {
        "target" => report.targets.len(),
        "zone" => report.zones.len(),
        "resolver" => report.resolvers.len(),
        _ => 0,
    }
}

/// Call `render` with the view of each item of `kind` (endpoint, zone or resolver) of `source`,
/// one at a time: a country's thousands of endpoints are rendered without holding all their
/// views (or, read from a file, the items themselves).
pub fn each_item(
    source: &dyn ItemSource,
    lang: &Lang,
    kind: &str,
    mut render: impl FnMut(Value) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let Some(kind) = Kind::from_name(kind) else { return Ok(()) };
    let mut views = ItemViews::default();
    source.each(kind, &mut |item| render(views.view(lang, item)))
}

/// The views of a list of items of one kind, one at a time. Operators deploy one configuration
/// on many endpoints, and a regulator wants to see that (and a 10,000-endpoint report must stay
/// readable), so:
/// - an endpoint whose whole view (findings, grade, TLS, certificate and HTTP evidence) is the
///   same as an earlier one's, its own name aside, is shown as one line linking to that one;
/// - an endpoint whose TLS configuration alone is the same as an earlier one's links to it
///   instead of repeating the table.
///
/// Only the first endpoint of each configuration is remembered (its anchor and label, and a
/// digest of its view).
#[derive(Default)]
pub struct ItemViews {
    seen: HashMap<String, Value>,
    seen_items: HashMap<[u8; 32], Value>,
    count: usize,
}

/// The fields of an item's view that name it (or say whose it is) rather than describe it; its
/// one line shows them.
const IDENTITY: [&str; 6] = ["anchor", "label", "address", "sni", "sector", "operator"];

/// Fact rows that say when a fact was observed, not what it is.
fn observation_time(row: &Value) -> bool {
    row["key"].as_str().is_some_and(|key| key.ends_with("checked_at") || key.ends_with("fetched_at"))
}

/// A digest of what an item's view says, its identity and observation times aside (its name
/// replaced wherever it appears, e.g. in the certificate's checked name).
fn item_digest(view: &Value, names: &[&str]) -> Option<[u8; 32]> {
    let Value::Object(map) = view else { return None };
    let mut text = String::new();
    for (key, value) in map.iter().filter(|(key, _)| !IDENTITY.contains(&key.as_str())) {
        text.push_str(key);
        text.push('\u{0}');
        match value {
            Value::Array(rows) => {
                for row in rows.iter().filter(|row| !observation_time(row)) {
                    text.push_str(&row.to_string());
                }
            }
            value => text.push_str(&value.to_string()),
        }
        text.push('\u{0}');
    }
    for name in names.iter().filter(|n| n.len() >= 3) {
        text = text.replace(name, "\u{1}");
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().try_into().ok()
}

impl ItemViews {
    /// The view of the next item of the list.
    pub fn view(&mut self, lang: &Lang, item: crate::scan::Item<'_>) -> Value {
        let names: Vec<&str> = match item {
            crate::scan::Item::Target(t) => [Some(t.host.as_str()), t.sni.as_deref()].into_iter().flatten().collect(),
            _ => Vec::new(),
        };
        let item = Item::of(item);
        let mut view = item_view(lang, &item, self.count);
        self.count += 1;
        let first = json!({"anchor": view["anchor"].clone(), "label": view["label"].clone()});
        if item.kind == "target" {
            if let Some(digest) = item_digest(&view, &names) {
                if let Some(same) = self.seen_items.get(&digest) {
                    return json!({
                        "anchor": view["anchor"], "label": view["label"], "address": view["address"],
                        "sector": view["sector"], "operator": view["operator"], "grade": view["grade"],
                        "score": view["score"], "failing_count": view["failing_count"], "error": view["error"],
                        "same_item_as": same,
                    });
                }
                self.seen_items.insert(digest, first.clone());
            }
        }
        if let Some(key) = configuration_key(&view["tls"]) {
            match self.seen.get(&key) {
                Some(same) => {
                    if let Value::Object(tls) = &mut view["tls"] {
                        for field in CONFIGURATION {
                            tls.remove(field);
                        }
                        tls.insert("same_as".into(), same.clone());
                    }
                }
                None => {
                    self.seen.insert(key, first);
                }
            }
        }
        view
    }
}
