//! The checks that fail most across the country, most important first: the "top failing checks"
//! section, and the five problems of the executive summary.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{severity_class, Item, Lang};
use crate::checks::model::{Finding, Severity, Status};

/// A failing check across the country.
pub(super) struct Failing<'a> {
    pub finding: &'a Finding,
    pub severity: Severity,
    /// Keys of the items it fails on.
    pub affected: BTreeSet<String>,
    /// Items where the check was conclusive (passed, failed or excepted).
    pub conclusive: usize,
}

pub(super) fn failing_checks<'a>(items: &[Item<'a>]) -> Vec<Failing<'a>> {
    let mut by_check: BTreeMap<&str, Failing<'a>> = BTreeMap::new();
    let mut conclusive: BTreeMap<&str, usize> = BTreeMap::new();
    for item in items {
        for finding in item.findings {
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

/// The executive summary's most important problems, each with what to do.
pub(super) fn problems(lang: &Lang, failing: &[Failing], max: usize) -> Vec<Value> {
    failing
        .iter()
        .take(max)
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
        .collect()
}

/// The "top failing checks" table.
pub(super) fn rows(lang: &Lang, failing: &[Failing], max: usize) -> Vec<Value> {
    failing
        .iter()
        .take(max)
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
        .collect()
}
