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

    fn judge(&self) -> evaluate::Judge<'_> {
        evaluate::Judge {
            checks: &self.catalog.checks,
            policy: self.policy,
            lang: &self.lang,
            exceptions: &self.exceptions,
            today: &self.today,
        }
    }

    /// Fill in findings, grades and scores of every target, zone and resolver, and the country
    /// assessment. Each item counts in the index under its own declared sector.
    pub fn assess(&self, report: &mut ScanReport) {
        let mut tally = Tally::default();
        for target in &mut report.targets {
            self.assess_target(target, &mut tally);
        }
        for zone in &mut report.zones {
            self.assess_zone(zone, &mut tally);
        }
        for resolver in &mut report.resolvers {
            self.assess_resolver(resolver, &mut tally);
        }
        report.assessment = Some(self.conclude(tally));
    }

    /// Judge one target (findings, grade, score) and count it in `tally`: a scan is assessed
    /// one item at a time, without holding every item.
    pub fn assess_target(&self, target: &mut crate::facts::TargetResult, tally: &mut Tally) {
        let document = evaluate::target_document(target);
        target.findings = self.judge().findings(AppliesTo::Target, &document, &target.host, Some(target.port));
        target.grade = grade::grade(target);
        let score = score::score(&target.findings, &self.policy.score_caps);
        tally.add(score::ItemKind::Endpoint, &target.sector, score.value, &target.findings, target.error.is_some());
        target.score = Some(score);
    }

    pub fn assess_zone(&self, zone: &mut crate::dns::facts::ZoneFacts, tally: &mut Tally) {
        let document = evaluate::plain_document(zone);
        let name = zone.name.trim_end_matches('.').to_string();
        zone.findings = self.judge().findings(AppliesTo::Zone, &document, &name, None);
        let score = score::score(&zone.findings, &self.policy.score_caps);
        tally.add(score::ItemKind::Zone, &zone.sector, score.value, &zone.findings, zone.error.is_some());
        zone.score = Some(score);
    }

    pub fn assess_resolver(&self, resolver: &mut crate::dns::facts::ResolverFacts, tally: &mut Tally) {
        let document = evaluate::plain_document(resolver);
        let host = resolver.address.rsplit_once(':').map_or(resolver.address.as_str(), |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        resolver.findings = self.judge().findings(AppliesTo::Resolver, &document, &host, None);
        let score = score::score(&resolver.findings, &self.policy.score_caps);
        let error = resolver.error.is_some();
        tally.add(score::ItemKind::Resolver, &resolver.sector, score.value, &resolver.findings, error);
        resolver.score = Some(score);
    }

    /// The country assessment from every item's tally.
    pub fn conclude(&self, tally: Tally) -> Assessment {
        let (index, sectors) = score::index(&tally.items, &self.sector_weights);
        Assessment {
            policy: self.policy.name.clone(),
            index,
            formula: score::SCORE_FORMULA.into(),
            sectors,
            counts: tally.counts,
            checks_version: format!("{} checks, {}", self.catalog.checks.len(), self.catalog.sources.join(" + ")),
            headline: Some(tally.headline.finish(index)),
            score_caps: self.policy.score_caps.table(),
            vantage: None,
            vantage_differences: Vec::new(),
        }
    }
}

/// What the country assessment needs from each assessed item: its sector and score, its
/// findings counted, its headline figures. Small per item (a sector name and a number).
#[derive(Debug, Default)]
pub struct Tally {
    items: Vec<(String, Option<f64>)>,
    counts: model::FindingCounts,
    headline: score::HeadlineTally,
}

impl Tally {
    fn add(
        &mut self,
        kind: score::ItemKind,
        sector: &Option<String>,
        value: Option<f64>,
        findings: &[Finding],
        error: bool,
    ) {
        self.items.push((sector.clone().unwrap_or_else(|| UNSPECIFIED.into()), value));
        score::add_to_count(&mut self.counts, findings);
        self.headline.add(kind, findings, error);
    }
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}
