//! A per-operator notice: what a regulator sends one operator about its own endpoints, zones and
//! resolvers — its headline figures, every failing finding with what to do, the deadline and the
//! contact from the profile, the comply-or-explain form (its exceptions in force, and a row to
//! fill in for every failing finding), then each item's details.

use serde_json::{json, Value};

use super::{clip, detail_line, headline, items, operator_name, severity_class, Document, Item, Lang};
use crate::checks::model::{Finding, Status};
use crate::profile::OperatorContact;

/// The operator's items' failing findings, most severe first.
fn failing<'a>(items: &'a [Item<'a>]) -> Vec<(&'a Item<'a>, &'a Finding)> {
    let mut rows: Vec<(&Item, &Finding)> =
        items.iter().flat_map(|item| item.failing().map(move |f| (item, f))).collect();
    rows.sort_by(|(a, f), (b, g)| g.severity.cmp(&f.severity).then(f.check.cmp(&g.check)).then(a.label.cmp(&b.label)));
    rows
}

/// The notice's view model. `document` holds only this operator's items.
pub fn notice(document: &Document, operator: &str, contact: Option<&OperatorContact>, lang: &Lang) -> Value {
    let report = &document.report;
    let items = items(document);
    let assessment = report.assessment.as_ref();
    let failing = failing(&items);
    let finding_rows: Vec<Value> = failing
        .iter()
        .map(|(item, f)| {
            json!({
                "target": clip(&item.label, 300),
                "check": f.check,
                "title": lang.title(f),
                "severity": lang.severity(f.severity),
                "sev_class": severity_class(f.severity),
                "remediation": lang.remediation(f),
                "detail": clip(&detail_line(f), 300),
            })
        })
        .collect();
    let exceptions: Vec<Value> = items
        .iter()
        .flat_map(|item| item.findings.iter().filter_map(move |f| f.exception.as_ref().map(|e| (item, f, e))))
        .map(|(item, f, e)| {
            json!({
                "target": clip(&item.label, 300), "check": f.check, "title": lang.title(f),
                "severity": lang.severity(f.severity), "sev_class": severity_class(f.severity),
                "reason": clip(&e.reason, 1000), "approved_by": clip(&e.approved_by, 200),
                "expires": lang.strings.date(&e.expires).unwrap_or_else(|| clip(&e.expires, 40)),
                "expired": e.expired || f.status == Status::Fail,
            })
        })
        .collect();
    let operator = operator_name(lang, operator);
    let country = report.country.as_ref().map(|c| clip(&c.name, 200));
    let policy = assessment.map(|a| clip(&a.policy, 100)).unwrap_or_else(|| "–".into());
    let due = contact.and_then(|c| c.due.as_deref()).map(|d| lang.strings.date(d).unwrap_or_else(|| clip(d, 40)));
    let headline = headline::of(document);
    json!({
        "lang": lang.lang,
        "t": lang.strings.text,
        "title": lang.strings.fill("notice_title", &[("operator", &operator)]),
        "operator": operator,
        "country": country,
        "intro": lang.strings.fill("notice_intro", &[
            ("operator", &operator),
            ("country", country.as_deref().unwrap_or("–")),
            ("policy", &policy),
        ]),
        "contact": contact.and_then(|c| c.contact.as_deref()).map(|c| clip(c, 300)),
        "due": due,
        "policy": policy,
        "window": lang.strings.fill("window", &[
            ("start", &lang.strings.datetime(&report.started_at)),
            ("end", &lang.strings.datetime(&report.finished_at)),
        ]),
        "generated": lang.strings.datetime(&crate::now_rfc3339()),
        "tool": format!("{} {}", clip(&report.tool.name, 40), clip(&report.tool.version, 40)),
        "headline": headline::view(lang, headline.as_ref()),
        "n": {
            "endpoints": lang.strings.int(report.targets.len()),
            "zones": lang.strings.int(report.zones.len()),
            "resolvers": lang.strings.int(report.resolvers.len()),
            "failing": lang.strings.int(failing.len()),
        },
        "findings": finding_rows,
        "exceptions": exceptions,
        "checks_version": assessment.map(|a| clip(&a.checks_version, 500)),
        // Filled in by the renderer with each item's details.
        "items_html": "",
    })
}
