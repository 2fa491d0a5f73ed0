//! Checks as data: the catalog (`checks/*.toml`), policies (`profiles/policies/*.toml`), the
//! evaluation of rules over facts into findings, grades, scores and the country index.
//! Checks never touch the network.

pub mod budget;
pub mod catalog;
pub mod cel_context;
pub mod evaluate;
pub mod grade;
pub mod model;
pub mod policy;
pub mod rule_types;
pub mod schema_paths;
pub mod score;

use std::collections::BTreeMap;

use catalog::{AppliesTo, Catalog};
use evaluate::Exception;
use model::{Assessment, Finding};
use policy::Policy;

use crate::facts::ScanReport;

/// Everything needed to judge a scan.
pub struct Assessor<'a> {
    pub catalog: &'a Catalog,
    pub policy: &'a Policy,
    pub lang: String,
    pub exceptions: Vec<Exception>,
    pub sector_weights: BTreeMap<String, f64>,
    /// YYYY-MM-DD: the day exceptions are judged against.
    pub today: String,
}

/// The sector an item counts in when it declares none.
const UNSPECIFIED: &str = "unspecified";

impl<'a> Assessor<'a> {
    pub fn from_plan(plan: &'a crate::scan::AssessmentPlan) -> Assessor<'a> {
        Assessor {
            catalog: &plan.catalog,
            policy: &plan.policy,
            lang: plan.lang.clone(),
            exceptions: plan.exceptions.clone(),
            sector_weights: plan.sector_weights.clone(),
            today: plan.today.clone(),
        }
    }

    /// Fill in findings, grades and scores of every target, zone and resolver, and the country
    /// assessment. Each item counts in the index under its own declared sector.
    pub fn assess(&self, report: &mut ScanReport) {
        let judge = evaluate::Judge {
            checks: &self.catalog.checks,
            policy: self.policy,
            lang: &self.lang,
            exceptions: &self.exceptions,
            today: &self.today,
        };
        let sector = |declared: &Option<String>| declared.clone().unwrap_or_else(|| UNSPECIFIED.into());
        let mut items = Vec::new();
        for target in &mut report.targets {
            let document = evaluate::target_document(target);
            target.findings = judge.findings(AppliesTo::Target, &document, &target.host, Some(target.port));
            target.grade = grade::grade(target);
            let score = score::score(&target.findings, &self.policy.score_caps);
            items.push((sector(&target.sector), score.value));
            target.score = Some(score);
        }
        for zone in &mut report.zones {
            let document = evaluate::plain_document(zone);
            let name = zone.name.trim_end_matches('.').to_string();
            zone.findings = judge.findings(AppliesTo::Zone, &document, &name, None);
            let score = score::score(&zone.findings, &self.policy.score_caps);
            items.push((sector(&zone.sector), score.value));
            zone.score = Some(score);
        }
        for resolver in &mut report.resolvers {
            let document = evaluate::plain_document(resolver);
            let host = resolver.address.rsplit_once(':').map_or(resolver.address.as_str(), |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
            resolver.findings = judge.findings(AppliesTo::Resolver, &document, &host, None);
            let score = score::score(&resolver.findings, &self.policy.score_caps);
            items.push((sector(&resolver.sector), score.value));
            resolver.score = Some(score);
        }
        let all: Vec<&Finding> = report.findings().collect();
        let (index, sectors) = score::index(&items, &self.sector_weights);
        let headline = score::headline(report, index);
        report.assessment = Some(Assessment {
            policy: self.policy.name.clone(),
            index,
            formula: score::SCORE_FORMULA.into(),
            sectors,
            counts: score::count(&all),
            checks_version: format!("{} checks, {}", self.catalog.checks.len(), self.catalog.sources.join(" + ")),
            headline: Some(headline),
            score_caps: self.policy.score_caps.table(),
            vantage: None,
            vantage_differences: Vec::new(),
        });
    }
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}
