//! The country report's page: the cover (title, meta, index card), the executive summary with
//! its counts and the five most important problems, and the assembly of every other section.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{
    changes::changes, charts::charts, clip, headline, items, methodology::methodology, sectors, top_checks, Document,
    Lang,
};

/// The country report's view model.
pub fn country(document: &Document, previous: Option<&Document>, lang: &Lang) -> Value {
    country_linking(document, previous, lang, &BTreeMap::new())
}

/// The country report's view model, its operator table linking each operator's notice
/// (`notices`: operator → file name).
pub fn country_linking(
    document: &Document,
    previous: Option<&Document>,
    lang: &Lang,
    notices: &BTreeMap<String, String>,
) -> Value {
    let report = &document.report;
    let items = items(document);
    let assessment = report.assessment.as_ref();
    let index = assessment.and_then(|a| a.index);
    let failing = top_checks::failing_checks(&items);
    let (sector_groups, operator_groups) = sectors::groups(&items);
    let headline = headline::of(document);

    let country_name = report.country.as_ref().map(|c| clip(&c.name, 200));
    let index_delta = match (index, previous.and_then(|p| p.report.assessment.as_ref()).and_then(|a| a.index)) {
        (Some(now), Some(before)) => lang.strings.delta(now - before),
        _ => String::new(),
    };
    let window = lang.strings.fill(
        "window",
        &[("start", &lang.strings.datetime(&report.started_at)), ("end", &lang.strings.datetime(&report.finished_at))],
    );
    json!({
        "lang": lang.lang,
        "t": lang.strings.text,
        "title": match &country_name {
            Some(name) => lang.strings.fill("report_title_country", &[("country", name)]),
            None => lang.t("report_title"),
        },
        "country": country_name,
        "country_code": report.country.as_ref().map(|c| clip(&c.code, 10)),
        "generated": lang.strings.datetime(&crate::now_rfc3339()),
        "window": window,
        "tool": format!("{} {}", clip(&report.tool.name, 40), clip(&report.tool.version, 40)),
        "policy": assessment.map(|a| clip(&a.policy, 100)),
        "profile": report.country.as_ref().map(|c| clip(&c.profile, 300)),
        "index": lang.score(index),
        // The colour follows the compliant and critical shares, not the index alone.
        "index_class": headline.as_ref().map_or("gn", |h| headline::band_class(&h.band)),
        "headline": headline::view(lang, headline.as_ref()),
        "pqc": super::pqc::view(lang, super::pqc::hybrid_share(report)),
        "clients": match &document.clients {
            Some(tallies) => super::clients::view_of(tallies, lang),
            None => super::clients::view(report, lang),
        },
        "index_delta": index_delta,
        "assessed": assessment.is_some(),
        "n": counts(lang, document),
        "problems": top_checks::problems(lang, &failing, 5),
        "charts": charts(lang, &items, document),
        "sectors": sectors::sector_rows(lang, document, previous, &sector_groups),
        "operators": sectors::operator_rows(lang, &operator_groups, notices),
        "has_notices": !notices.is_empty(),
        "top_checks": top_checks::rows(lang, &failing, 20),
        "changes": previous.map_or(Value::Null, |p| changes(lang, &items, p)),
        "vantages": super::vantages::vantages(lang, document),
        "exceptions": sectors::exceptions(lang, &items),
        // Filled in by the renderer, one item at a time (see `each_item`).
        "endpoints_html": "",
        "zones_html": "",
        "resolvers_html": "",
        "methodology": methodology(lang, &items, document),
    })
}

/// The executive summary's counts (n= of every figure).
fn counts(lang: &Lang, document: &Document) -> Value {
    let report = &document.report;
    let assessment = report.assessment.as_ref();
    let targets = &report.targets;
    let int = |n: usize| lang.strings.int(n);
    let not_testable = targets.iter().filter(|t| t.error.is_some()).count();
    let scored = targets.iter().filter(|t| t.score.as_ref().and_then(|s| s.value).is_some()).count();
    let findings = targets.iter().map(|t| t.findings.len()).sum::<usize>()
        + report.zones.iter().map(|z| z.findings.len()).sum::<usize>()
        + report.resolvers.iter().map(|r| r.findings.len()).sum::<usize>();
    let counts = assessment.map(|a| a.counts.clone()).unwrap_or_default();
    json!({
        "endpoints": int(targets.len()),
        "tested": int(targets.len() - not_testable),
        "not_testable": int(not_testable),
        "scored": int(scored),
        "unscored": int(targets.len() - scored),
        "zones": int(report.zones.len()),
        "zones_not_testable": int(report.zones.iter().filter(|z| z.error.is_some()).count()),
        "resolvers": int(report.resolvers.len()),
        "has_zones": !report.zones.is_empty(),
        "has_resolvers": !report.resolvers.is_empty(),
        "findings": int(findings),
        "fail": int(counts.fail),
        "pass": int(counts.pass),
        "excepted": int(counts.excepted),
        "inconclusive": int(counts.inconclusive),
        "assessed": int(targets.len() + report.zones.len() + report.resolvers.len()),
    })
}
