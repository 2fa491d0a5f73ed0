//! The charts section: grade distribution, failing findings by severity, pass rate by category
//! and score by sector (inline SVG from [`crate::report::svg`]), and the category table.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{grade_colour, score_colour, sector_name, severity_colour, Document, Item, Lang, GRADES};
use crate::checks::model::{Finding, Severity, Status};
use crate::report::svg::{self, Bar};

/// Findings per category: [pass, fail, excepted, inconclusive].
pub(super) fn by_category<'a>(findings: impl Iterator<Item = &'a Finding>) -> BTreeMap<String, [usize; 4]> {
    let mut categories: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for finding in findings {
        categories.entry(finding.category.clone()).or_default()[match finding.status {
            Status::Pass => 0,
            Status::Fail => 1,
            Status::Excepted => 2,
            Status::Inconclusive => 3,
        }] += 1;
    }
    categories
}

fn grade_bars(lang: &Lang, document: &Document) -> (Vec<Bar>, f64) {
    let targets = &document.report.targets;
    let mut grade_counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ungraded = 0;
    for target in targets {
        match target.grade.as_ref().and_then(|g| GRADES.iter().find(|x| **x == g.grade)) {
            Some(grade) => *grade_counts.entry(grade).or_default() += 1,
            None => ungraded += 1,
        }
    }
    let mut bars: Vec<Bar> = GRADES
        .iter()
        .filter(|g| grade_counts.contains_key(*g) || ["A+", "A", "B", "C", "F"].contains(g))
        .map(|g| {
            let n = grade_counts.get(g).copied().unwrap_or(0);
            Bar { label: g.to_string(), value: n as f64, text: lang.strings.int(n), colour: grade_colour(g) }
        })
        .collect();
    bars.push(Bar {
        label: lang.t("not_graded"),
        value: ungraded as f64,
        text: lang.strings.int(ungraded),
        colour: "#94a3b8",
    });
    (bars, targets.len().max(1) as f64)
}

fn severity_bars(lang: &Lang, items: &[Item]) -> (Vec<Bar>, f64) {
    let mut by_severity: BTreeMap<Severity, usize> = BTreeMap::new();
    for finding in items.iter().flat_map(Item::failing) {
        *by_severity.entry(finding.severity).or_default() += 1;
    }
    let max = by_severity.values().copied().max().unwrap_or(0).max(1) as f64;
    let bars = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            let n = by_severity.get(s).copied().unwrap_or(0);
            Bar { label: lang.severity(*s), value: n as f64, text: lang.strings.int(n), colour: severity_colour(*s) }
        })
        .collect();
    (bars, max)
}

pub(super) fn charts(lang: &Lang, items: &[Item], document: &Document) -> Value {
    let (grade_bars, grade_max) = grade_bars(lang, document);
    let (severity_bars, severity_max) = severity_bars(lang, items);
    let by_category = by_category(items.iter().flat_map(|i| i.findings.iter()));
    let category_bars: Vec<Bar> = by_category
        .iter()
        .map(|(category, [pass, fail, excepted, _])| {
            let conclusive = pass + fail + excepted;
            let rate = if conclusive == 0 { 0.0 } else { 100.0 * *pass as f64 / conclusive as f64 };
            Bar {
                label: lang.t(&format!("category_{category}")),
                value: rate,
                text: format!("{} (n={})", lang.strings.percent(*pass, conclusive), lang.strings.int(conclusive)),
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
        "grades": svg::bars(&lang.t("chart_grades"), &grade_bars, grade_max),
        "severity": svg::bars(&lang.t("chart_severity"), &severity_bars, severity_max),
        "categories": svg::bars(&lang.t("chart_categories"), &category_bars, 100.0),
        "sectors": svg::bars(&lang.t("chart_sectors"), &sector_bars, 100.0),
        "category_rows": category_rows,
    })
}
