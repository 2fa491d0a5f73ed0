//! "Sectors and operators": the sector table (weight, score, change, items), the operator table,
//! and the comply-or-explain list. Endpoints, zones and resolvers all count in the sector and
//! operator they were declared with (an item declared with none counts as "unspecified").

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{clip, operator_name, score_class, sector_name, severity_class, Document, Item, Lang, GRADES};

/// Per-group (sector or operator) aggregation.
#[derive(Default)]
pub(super) struct Group {
    pub items: usize,
    pub not_testable: usize,
    pub scores: Vec<f64>,
    pub failing: BTreeSet<String>,
    /// Index in [`GRADES`] of the worst grade.
    pub worst: Option<usize>,
    pub sector: String,
}

impl Group {
    pub fn add(&mut self, item: &Item) {
        self.items += 1;
        if item.error.is_some() {
            self.not_testable += 1;
        }
        if let Some(score) = item.score_value() {
            self.scores.push(score);
        }
        for finding in item.failing() {
            self.failing.insert(finding.check.clone());
        }
        let grade =
            item.target().and_then(|t| t.grade.as_ref()).and_then(|g| GRADES.iter().position(|x| *x == g.grade));
        self.worst = match (self.worst, grade) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.sector = item.sector.to_string();
    }

    pub fn mean(&self) -> Option<f64> {
        (!self.scores.is_empty())
            .then(|| crate::checks::score::round1(self.scores.iter().sum::<f64>() / self.scores.len() as f64))
    }
}

/// Items grouped by declared sector and by declared operator.
pub(super) fn groups(items: &[Item]) -> (BTreeMap<String, Group>, BTreeMap<String, Group>) {
    let mut sectors: BTreeMap<String, Group> = BTreeMap::new();
    let mut operators: BTreeMap<String, Group> = BTreeMap::new();
    for item in items {
        sectors.entry(item.sector.to_string()).or_default().add(item);
        operators.entry(item.operator.to_string()).or_default().add(item);
    }
    (sectors, operators)
}

/// The sector table: the assessment's sector scores with the items counted per sector.
pub(super) fn sector_rows(
    lang: &Lang,
    document: &Document,
    previous: Option<&Document>,
    groups: &BTreeMap<String, Group>,
) -> Vec<Value> {
    let previous_sectors: BTreeMap<&str, Option<f64>> = previous
        .and_then(|p| p.report.assessment.as_ref())
        .map(|a| a.sectors.iter().map(|s| (s.sector.as_str(), s.score)).collect())
        .unwrap_or_default();
    let Some(assessment) = document.report.assessment.as_ref() else {
        return Vec::new();
    };
    assessment
        .sectors
        .iter()
        .map(|s| {
            let group = groups.get(&s.sector);
            let delta = match (previous_sectors.get(s.sector.as_str()).copied().flatten(), s.score) {
                (Some(before), Some(now)) => lang.strings.delta(now - before),
                _ => String::new(),
            };
            json!({
                "name": sector_name(lang, &s.sector),
                "weight": lang.strings.number(s.weight, 1),
                "score": lang.score(s.score),
                "score_class": score_class(s.score),
                "scored": lang.strings.int(s.scored),
                "unscored": lang.strings.int(s.unscored),
                "items": lang.strings.int(group.map_or(0, |g| g.items)),
                "not_testable": lang.strings.int(group.map_or(0, |g| g.not_testable)),
                "failing": group.map_or(0, |g| g.failing.len()),
                "delta": delta,
            })
        })
        .collect()
}

/// The operator table. `notices` maps an operator to the file name of its notice, when
/// per-operator notices are written next to the report.
pub(super) fn operator_rows(
    lang: &Lang,
    groups: &BTreeMap<String, Group>,
    notices: &BTreeMap<String, String>,
) -> Vec<Value> {
    groups
        .iter()
        .map(|(name, g)| {
            let worst = g.worst.map(|i| GRADES[i]).unwrap_or("–");
            json!({
                "name": operator_name(lang, name),
                "sector": sector_name(lang, &g.sector),
                "items": lang.strings.int(g.items),
                "not_testable": lang.strings.int(g.not_testable),
                "score": lang.score(g.mean()),
                "worst": worst,
                "worst_class": super::grade_class(worst),
                "failing": g.failing.len(),
                "failing_checks": clip(&g.failing.iter().take(6).cloned().collect::<Vec<_>>().join(", "), 400),
                "notice": notices.get(name),
            })
        })
        .collect()
}

/// Comply-or-explain: every finding an exception applied to (valid or expired).
pub(super) fn exceptions(lang: &Lang, items: &[Item]) -> Vec<Value> {
    items
        .iter()
        .flat_map(|item| item.findings.iter().filter_map(move |f| f.exception.as_ref().map(|e| (item, f, e))))
        .map(|(item, f, e)| {
            json!({
                "target": clip(&item.label, 300), "check": f.check, "title": lang.title(f),
                "severity": lang.severity(f.severity), "sev_class": severity_class(f.severity),
                "reason": clip(&e.reason, 1000), "approved_by": clip(&e.approved_by, 200),
                "expires": lang.strings.date(&e.expires).unwrap_or_else(|| clip(&e.expires, 40)),
                "expired": e.expired,
            })
        })
        .collect()
}
