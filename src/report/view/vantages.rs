//! "Differences between vantage points": in a distributed scan from several vantage points
//! (docs/scaling.md), the items, grades and check statuses another vantage point saw differently
//! from the one this report is made from.

use serde_json::{json, Value};

use super::{clip, Document, Lang};

pub(super) fn vantages(lang: &Lang, document: &Document) -> Value {
    let Some(assessment) = document.report.assessment.as_ref() else { return Value::Null };
    if assessment.vantage_differences.is_empty() {
        return Value::Null;
    }
    let rows: Vec<Value> = assessment
        .vantage_differences
        .iter()
        .map(|d| {
            json!({"item": clip(&d.item, 300), "vantage": clip(&d.vantage, 40),
                   "check": d.check.as_deref().map(|c| clip(c, 120)),
                   "here": clip(&d.here, 40), "there": clip(&d.there, 40)})
        })
        .collect();
    json!({
        "here": assessment.vantage.as_deref().map(|v| clip(v, 40)),
        "count": lang.strings.int(rows.len()),
        "rows": rows,
    })
}
