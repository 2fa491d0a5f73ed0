//! "Changes since the previous scan": findings that are new, regressed or resolved, matched by
//! item key and check id, and items that appeared or went away.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};

use super::{clip, severity_class, Document, Item, Lang};
use crate::checks::model::Status;

pub(super) fn changes(lang: &Lang, items: &[Item], previous: &Document) -> Value {
    let before_items = super::items(previous);
    // Hashed: a country has hundreds of thousands of (item, check) pairs.
    let mut before: HashMap<(&str, &str), Status> =
        HashMap::with_capacity(before_items.iter().map(|i| i.findings.len()).sum());
    for item in &before_items {
        for finding in item.findings {
            before.insert((item.key.as_str(), finding.check.as_str()), finding.status);
        }
    }
    let (mut new, mut regressed, mut resolved) = (Vec::new(), Vec::new(), Vec::new());
    for item in items {
        for finding in item.findings {
            let row = || {
                json!({"target": clip(&item.label, 300), "check": finding.check, "title": lang.title(finding),
                       "severity": lang.severity(finding.severity), "sev_class": severity_class(finding.severity)})
            };
            match (before.get(&(item.key.as_str(), finding.check.as_str())), finding.status) {
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
