//! The methodology section: the policy, where the checks came from, the scoring formula and every
//! check that was evaluated.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{clip, Document, Item, Lang};
use crate::checks::model::Finding;
use crate::checks::score::CAPPED;

pub(super) fn methodology(lang: &Lang, items: &[Item], document: &Document) -> Value {
    let assessment = document.report.assessment.as_ref();
    let mut checks_used: BTreeMap<&str, &Finding> = BTreeMap::new();
    for finding in items.iter().flat_map(|i| i.findings) {
        checks_used.entry(finding.check.as_str()).or_insert(finding);
    }
    let checks: Vec<Value> = checks_used
        .values()
        .map(|f| {
            json!({
                "check": f.check,
                "category": lang.t(&format!("category_{}", f.category)),
                "severity": lang.severity(f.severity),
                "title": lang.title(f),
            })
        })
        .collect();
    // The policy's caps, most severe first, each with the band it sets.
    let mut floor = 0.0;
    let caps: Vec<Value> = CAPPED
        .iter()
        .filter_map(|severity| {
            let limit = *assessment?.score_caps.get(severity)?;
            let row = json!({
                "severity": lang.severity(*severity),
                "limit": lang.strings.number(limit, 0),
                "floor": lang.strings.number(floor, 0),
            });
            floor = limit;
            Some(row)
        })
        .collect();
    json!({
        "checks": checks,
        // As the assessment wrote it ("75 checks, built-in" or the override directory given by
        // the user): the report adds no path of its own.
        "checks_version": assessment.map(|a| clip(&a.checks_version, 500)),
        "formula": assessment.map(|a| a.formula.clone()),
        "caps": caps,
    })
}
