//! What changed between two scans: findings that are new, resolved, regressed or unchanged,
//! grade and index changes, and endpoints added to or removed from the scan. Items are matched
//! by the same keys as resume (`scan::resume`), findings by item and check id.

use std::collections::{BTreeMap, BTreeSet};

use crate::checks::model::{Finding, Status};
use crate::facts::ScanReport;
use crate::scan::resume::{target_key, zone_key};

/// One target, zone or resolver of a document, by its key.
pub struct Subject<'a> {
    pub key: String,
    pub findings: &'a [Finding],
    pub grade: Option<String>,
}

/// Every item of a document with its findings and grade.
pub fn subjects(report: &ScanReport) -> Vec<Subject<'_>> {
    let targets = report.targets.iter().map(|t| Subject {
        key: target_key(t),
        findings: &t.findings,
        grade: t.grade.as_ref().map(|g| g.grade.clone()),
    });
    let zones = report.zones.iter().map(|z| Subject {
        key: format!("zone {}", zone_key(&z.name)),
        findings: &z.findings,
        grade: None,
    });
    let resolvers = report.resolvers.iter().map(|r| Subject {
        key: format!("resolver {}", r.address),
        findings: &r.findings,
        grade: None,
    });
    targets.chain(zones).chain(resolvers).collect()
}

/// A status as the JSON document spells it (`pass`, `fail`, …).
pub fn name(status: &Status) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// One finding in a diff: the item, the check, its severity and its status before and after.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub subject: String,
    pub check: String,
    pub severity: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Diff {
    /// Failing now; the item or the check was not there before.
    pub new: Vec<Change>,
    /// Failing now; not failing before (pass, excepted or inconclusive).
    pub regressed: Vec<Change>,
    /// Failing before; not failing now (or the item is gone).
    pub resolved: Vec<Change>,
    /// Failing in both.
    pub unchanged: Vec<Change>,
    pub grades: Vec<(String, Option<String>, Option<String>)>,
    pub index: (Option<f64>, Option<f64>),
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Compare scan `a` (before) with scan `b` (after).
pub fn diff(a: &ScanReport, b: &ScanReport) -> Diff {
    type Findings = BTreeMap<(String, String), (String, String)>;
    let collect = |report: &ScanReport| -> (Findings, BTreeMap<String, Option<String>>) {
        let mut findings = BTreeMap::new();
        let mut grades = BTreeMap::new();
        for subject in subjects(report) {
            for f in subject.findings {
                findings
                    .insert((subject.key.clone(), f.check.clone()), (name(&f.status), f.severity.name().to_string()));
            }
            grades.insert(subject.key, subject.grade);
        }
        (findings, grades)
    };
    let (before, grades_before) = collect(a);
    let (after, grades_after) = collect(b);
    let mut out = Diff { index: (index(a), index(b)), ..Diff::default() };
    let subjects_before: BTreeSet<&String> = grades_before.keys().collect();
    let subjects_after: BTreeSet<&String> = grades_after.keys().collect();
    out.added = subjects_after.difference(&subjects_before).map(|s| s.to_string()).collect();
    out.removed = subjects_before.difference(&subjects_after).map(|s| s.to_string()).collect();
    let change = |key: &(String, String), severity: &str, before: Option<&String>, after: Option<&String>| Change {
        subject: key.0.clone(),
        check: key.1.clone(),
        severity: severity.to_string(),
        before: before.cloned(),
        after: after.cloned(),
    };
    for (key, (status, severity)) in &after {
        let was = before.get(key).map(|(s, _)| s);
        let c = change(key, severity, was, Some(status));
        match (was.map(String::as_str), status.as_str()) {
            (None, "fail") => out.new.push(c),
            (Some("fail"), "fail") => out.unchanged.push(c),
            (Some(_), "fail") => out.regressed.push(c),
            (Some("fail"), _) => out.resolved.push(c),
            _ => {}
        }
    }
    for (key, (status, severity)) in &before {
        if status == "fail" && !after.contains_key(key) {
            out.resolved.push(change(key, severity, Some(status), None));
        }
    }
    for (subject, grade) in &grades_after {
        if let Some(old) = grades_before.get(subject) {
            if old != grade {
                out.grades.push((subject.clone(), old.clone(), grade.clone()));
            }
        }
    }
    out
}

fn index(report: &ScanReport) -> Option<f64> {
    report.assessment.as_ref().and_then(|a| a.index)
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
        writeln!(f, "index: {} → {}", show(&self.index.0), show(&self.index.1))?;
        for (title, list) in [("new", &self.new), ("regressed", &self.regressed), ("resolved", &self.resolved)] {
            writeln!(f, "{title}: {}", list.len())?;
            for c in list {
                let was = c.before.as_deref().unwrap_or("absent");
                let now = c.after.as_deref().unwrap_or("absent");
                writeln!(f, "  {:<8} {:<34} {}  ({was} → {now})", c.severity, c.check, c.subject)?;
            }
        }
        writeln!(f, "unchanged failing: {}", self.unchanged.len())?;
        for (subject, old, new) in &self.grades {
            writeln!(f, "grade {subject}: {} → {}", old.as_deref().unwrap_or("-"), new.as_deref().unwrap_or("-"))?;
        }
        for subject in &self.added {
            writeln!(f, "added: {subject}")?;
        }
        for subject in &self.removed {
            writeln!(f, "removed: {subject}")?;
        }
        Ok(())
    }
}
