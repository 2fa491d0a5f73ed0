//! The regional report: several countries' scans side by side (index, pass rate per category,
//! score per sector, each country's most important problems).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{
    charts::by_category, clip, items, score_colour, sector_name, severity_class, top_checks::failing_checks, Document,
    Lang,
};
use crate::checks::model::{Finding, Headline, Severity};
use crate::report::svg::{self, Bar};

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
    /// Compliant share, critical share and not testable (recorded, or computed from findings).
    pub headline: Option<Headline>,
    /// Endpoints offering a hybrid post-quantum group.
    pub pqc: super::pqc::HybridShare,
}

pub fn summarise(document: &Document) -> CountrySummary {
    let report = &document.report;
    let items = items(document);
    let categories = by_category(items.iter().flat_map(|i| i.findings.iter()));
    let failing = failing_checks(&items)
        .into_iter()
        .take(5)
        .map(|f| (f.finding.check.clone(), f.severity, f.affected.len(), f.finding.clone()))
        .collect();
    CountrySummary {
        name: report.country.as_ref().map_or_else(|| "–".into(), |c| c.name.clone()),
        code: report.country.as_ref().map_or_else(|| "–".into(), |c| c.code.clone()),
        index: report.assessment.as_ref().and_then(|a| a.index),
        policy: report.assessment.as_ref().map_or_else(|| "–".into(), |a| a.policy.clone()),
        endpoints: report.targets.len(),
        not_testable: report.targets.iter().filter(|t| t.error.is_some()).count(),
        started_at: report.started_at.clone(),
        categories,
        sectors: report.assessment.iter().flat_map(|a| &a.sectors).map(|s| (s.sector.clone(), s.score)).collect(),
        failing,
        headline: super::headline::of(document),
        pqc: super::pqc::hybrid_share(report),
    }
}

/// A bar per country of one headline share (`part` of each country's items).
fn share_bars(
    lang: &Lang,
    summaries: &[CountrySummary],
    part: impl Fn(&Headline) -> usize,
    colour: impl Fn(f64) -> &'static str,
) -> Vec<Bar> {
    summaries
        .iter()
        .map(|s| {
            let counts = s.headline.as_ref().map(|h| (part(h), h.all.total));
            let value = match counts {
                Some((n, total)) if total > 0 => 100.0 * n as f64 / total as f64,
                _ => 0.0,
            };
            Bar {
                label: s.name.clone(),
                value,
                text: counts.map_or_else(
                    || "–".into(),
                    |(n, total)| format!("{} (n={})", lang.strings.percent(n, total), lang.strings.int(total)),
                ),
                colour: if counts.is_some() { colour(value) } else { "#94a3b8" },
            }
        })
        .collect()
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
    let categories: BTreeSet<&String> = summaries.iter().flat_map(|s| s.categories.keys()).collect();
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
                // As in the country report: the colour follows the headline figures.
                "index_class": s.headline.as_ref().map_or("gn", |h| super::headline::band_class(&h.band)),
                "headline": super::headline::view(lang, s.headline.as_ref()),
                "pqc": super::pqc::view(lang, s.pqc),
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
        "chart_compliant": svg::bars(
            &lang.t("chart_compliant_by_country"),
            &share_bars(lang, &summaries, |h| h.all.compliant, score_colour),
            100.0,
        ),
        "chart_critical": svg::bars(
            &lang.t("chart_critical_by_country"),
            &share_bars(lang, &summaries, |h| h.all.critical, |v| if v > 0.0 { "#b91c1c" } else { "#15803d" }),
            100.0,
        ),
        "chart_pqc": svg::bars(
            &lang.t("chart_pqc_by_country"),
            &super::pqc::bars(lang, &summaries.iter().map(|s| (s.name.clone(), s.pqc)).collect::<Vec<_>>()),
            100.0,
        ),
        "category_rows": category_rows,
        "sector_rows": sector_rows,
        "tool": format!("postura {}", env!("CARGO_PKG_VERSION")),
        "formula": crate::checks::score::SCORE_FORMULA,
    })
}
