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
    /// Sector of each zone (from the profile's domains) and resolver (by address), for the index.
    pub sectors: BTreeMap<String, String>,
}

impl Assessor<'_> {
    /// Fill in findings, grades and scores of every target, and the country assessment.
    pub fn assess(&self, report: &mut ScanReport) {
        let judge = evaluate::Judge {
            checks: &self.catalog.checks,
            policy: self.policy,
            lang: &self.lang,
            exceptions: &self.exceptions,
            today: &self.today,
        };
        let mut items = Vec::new();
        for target in &mut report.targets {
            let document = evaluate::target_document(target);
            target.findings = judge.findings(AppliesTo::Target, &document, &target.host, Some(target.port));
            target.grade = grade::grade(target);
            let score = score::score(&target.findings);
            items.push((target.sector.clone().unwrap_or_else(|| "unspecified".into()), score.value));
            target.score = Some(score);
        }
        let sector_of = |name: &str| self.sectors.get(name).cloned().unwrap_or_else(|| "unspecified".into());
        for zone in &mut report.zones {
            let document = evaluate::plain_document(zone);
            let name = zone.name.trim_end_matches('.').to_string();
            zone.findings = judge.findings(AppliesTo::Zone, &document, &name, None);
            let score = score::score(&zone.findings);
            items.push((sector_of(&name), score.value));
            zone.score = Some(score);
        }
        for resolver in &mut report.resolvers {
            let document = evaluate::plain_document(resolver);
            let host = resolver.address.rsplit_once(':').map_or(resolver.address.as_str(), |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
            resolver.findings = judge.findings(AppliesTo::Resolver, &document, &host, None);
            let score = score::score(&resolver.findings);
            items.push((sector_of(&host), score.value));
            resolver.score = Some(score);
        }
        let all: Vec<&Finding> = report
            .targets
            .iter()
            .flat_map(|t| &t.findings)
            .chain(report.zones.iter().flat_map(|z| &z.findings))
            .chain(report.resolvers.iter().flat_map(|r| &r.findings))
            .collect();
        let (index, sectors) = score::index(&items, &self.sector_weights);
        report.assessment = Some(Assessment {
            policy: self.policy.name.clone(),
            index,
            formula: score::SCORE_FORMULA.into(),
            sectors,
            counts: score::count(&all),
            checks_version: format!("{} checks from {}", self.catalog.checks.len(), self.catalog.sources.join(", ")),
        });
    }
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}
