//! Scores from findings, and the country index and its headline figures from scores
//! (`docs/scoring.md`).
//!
//! A raw score is the severity-weighted share of conclusive checks that comply: passed and
//! excepted findings count as complying (an exception is an explained, approved deviation),
//! failed ones do not, inconclusive ones are left out and counted. The worst conclusive failure
//! then caps it: the score is placed in its severity's band (between that severity's cap and the
//! next more severe one's), so many passing low checks can never outweigh one critical failure,
//! and an item failing a high check always scores below any item whose worst failure is medium.
//! The country index is the mean of the sector means, weighted by the profile's sector weights;
//! its headline figures (compliant share, critical share, not testable) are counted beside it and
//! decide its colour with it.

use std::collections::BTreeMap;

use super::model::{Finding, FindingCounts, Headline, HeadlineCounts, Score, ScoreCap, SectorScore, Severity, Status};
use crate::facts::ScanReport;

pub const SCORE_FORMULA: &str = "raw = 100 × Σ w(pass ∪ excepted) / Σ w(pass ∪ excepted ∪ fail), w = severity weight (info 0, low 1, medium 3, high 6, critical 10), inconclusive left out; worst conclusive failure of severity s (low or above): score = floor(s) + (cap(s) − floor(s)) × raw / 100, floor(s) = cap of the next more severe level (0 for critical); no failure: score = raw; index = Σ_sector weight × mean(scores in sector) / Σ_sector weight, over sectors with at least one score";

/// The highest score an item may have per severity of its worst conclusive failure, from the
/// policy's `[score_caps]` (docs/scoring.md). Info failures (weight 0) never cap.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreCaps {
    /// Limits for critical, high, medium and low, in that order, non-decreasing.
    limits: [f64; 4],
}

/// The capped severities, most severe first.
pub const CAPPED: [Severity; 4] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low];

impl Default for ScoreCaps {
    fn default() -> ScoreCaps {
        ScoreCaps { limits: [25.0, 50.0, 80.0, 95.0] }
    }
}

impl ScoreCaps {
    /// Caps from a policy's values (a severity left out keeps its default). Each must be
    /// 0–100 and no higher than the cap of a less severe level.
    pub fn new(values: &BTreeMap<Severity, f64>) -> Result<ScoreCaps, String> {
        let mut caps = ScoreCaps::default();
        for (severity, value) in values {
            let Some(slot) = CAPPED.iter().position(|s| s == severity) else {
                return Err(format!(
                    "{severity} failures do not cap a score (weight 0): use critical, high, medium or low"
                ));
            };
            if !(0.0..=100.0).contains(value) {
                return Err(format!("the {severity} cap must be between 0 and 100, not {value}"));
            }
            caps.limits[slot] = *value;
        }
        for pair in 0..3 {
            if caps.limits[pair] > caps.limits[pair + 1] {
                return Err(format!(
                    "the {} cap ({}) is above the {} cap ({}): a more severe failure must cap lower",
                    CAPPED[pair],
                    caps.limits[pair],
                    CAPPED[pair + 1],
                    caps.limits[pair + 1]
                ));
            }
        }
        Ok(caps)
    }

    /// The (floor, limit) band of a worst failure of `severity`, when it caps.
    pub fn band(&self, severity: Severity) -> Option<(f64, f64)> {
        let slot = CAPPED.iter().position(|s| *s == severity)?;
        let floor = if slot == 0 { 0.0 } else { self.limits[slot - 1] };
        Some((floor, self.limits[slot]))
    }

    pub fn limit(&self, severity: Severity) -> Option<f64> {
        self.band(severity).map(|(_, limit)| limit)
    }

    /// Severity → cap, as the assessment records it.
    pub fn table(&self) -> BTreeMap<Severity, f64> {
        CAPPED.iter().copied().zip(self.limits).collect()
    }
}

/// The score of one item's findings under `caps`.
pub fn score(findings: &[Finding], caps: &ScoreCaps) -> Score {
    let mut complying = 0.0;
    let mut total = 0.0;
    let (mut passed, mut failed, mut excepted, mut inconclusive) = (0, 0, 0, 0);
    for finding in findings {
        let weight = finding.severity.weight();
        match finding.status {
            Status::Pass => {
                passed += 1;
                complying += weight;
                total += weight;
            }
            Status::Excepted => {
                excepted += 1;
                complying += weight;
                total += weight;
            }
            Status::Fail => {
                failed += 1;
                total += weight;
            }
            Status::Inconclusive => inconclusive += 1,
        }
    }
    let raw = (total > 0.0).then(|| round1(100.0 * complying / total));
    let cap = worst_failure(findings, caps);
    let value = match (&cap, raw) {
        (Some(cap), Some(raw)) => Some(round1(cap.floor + (cap.limit - cap.floor) * raw / 100.0)),
        (_, raw) => raw,
    };
    Score { value, raw, cap, passed, failed, excepted, inconclusive }
}

/// The cap of the most severe conclusive failure, with the failing checks of that severity.
fn worst_failure(findings: &[Finding], caps: &ScoreCaps) -> Option<ScoreCap> {
    let worst = findings.iter().filter(|f| f.status == Status::Fail).map(|f| f.severity).max()?;
    let (floor, limit) = caps.band(worst)?;
    let mut checks: Vec<String> =
        findings.iter().filter(|f| f.status == Status::Fail && f.severity == worst).map(|f| f.check.clone()).collect();
    checks.sort();
    checks.dedup();
    checks.truncate(10);
    Some(ScoreCap { severity: worst, limit, floor, checks })
}

/// Compliance of one item: tested, with a conclusive check, and no failing critical or high one.
fn tally(counts: &mut HeadlineCounts, findings: &[Finding], error: bool) {
    counts.total += 1;
    let failing = |severity: Severity| findings.iter().any(|f| f.status == Status::Fail && f.severity >= severity);
    let conclusive = findings.iter().any(|f| f.status != Status::Inconclusive);
    if error {
        counts.not_testable += 1;
    } else if conclusive && !failing(Severity::High) {
        counts.compliant += 1;
    }
    if failing(Severity::Critical) {
        counts.critical += 1;
    }
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| round1(100.0 * part as f64 / whole as f64))
}

/// The headline figures of an assessed scan, with the index's band.
pub fn headline(report: &ScanReport, index: Option<f64>) -> Headline {
    let mut headline = HeadlineTally::default();
    for target in &report.targets {
        headline.add(ItemKind::Endpoint, &target.findings, target.error.is_some());
    }
    for zone in &report.zones {
        headline.add(ItemKind::Zone, &zone.findings, zone.error.is_some());
    }
    for resolver in &report.resolvers {
        headline.add(ItemKind::Resolver, &resolver.findings, resolver.error.is_some());
    }
    headline.finish(index)
}

/// Which headline count an item goes to.
#[derive(Debug, Clone, Copy)]
pub enum ItemKind {
    Endpoint,
    Zone,
    Resolver,
}

/// The headline figures gathered one item at a time (a scan streamed item by item), then
/// finished with the index.
#[derive(Debug, Default)]
pub struct HeadlineTally(Headline);

impl HeadlineTally {
    pub fn add(&mut self, kind: ItemKind, findings: &[Finding], error: bool) {
        let counts = match kind {
            ItemKind::Endpoint => &mut self.0.endpoints,
            ItemKind::Zone => &mut self.0.zones,
            ItemKind::Resolver => &mut self.0.resolvers,
        };
        tally(counts, findings, error);
    }

    pub fn finish(self, index: Option<f64>) -> Headline {
        let mut headline = self.0;
        let parts = [&headline.endpoints, &headline.zones, &headline.resolvers];
        headline.all = HeadlineCounts {
            total: parts.iter().map(|c| c.total).sum(),
            compliant: parts.iter().map(|c| c.compliant).sum(),
            critical: parts.iter().map(|c| c.critical).sum(),
            not_testable: parts.iter().map(|c| c.not_testable).sum(),
        };
        headline.compliant_share = share(headline.all.compliant, headline.all.total);
        headline.critical_share = share(headline.all.critical, headline.all.total);
        headline.band = band(index, headline.compliant_share, headline.critical_share).into();
        headline
    }
}

/// The index's colour band: `good` only with no critical failure anywhere, at least 80 % of
/// items compliant and an index of 80 or more; `poor` with a critical failure on 10 % or more of
/// the items, fewer than half compliant, or an index under 60; `fair` otherwise; `none` without
/// an index.
pub fn band(index: Option<f64>, compliant_share: Option<f64>, critical_share: Option<f64>) -> &'static str {
    let (Some(index), Some(compliant), Some(critical)) = (index, compliant_share, critical_share) else {
        return "none";
    };
    if index < 60.0 || critical >= 10.0 || compliant < 50.0 {
        "poor"
    } else if index >= 80.0 && critical == 0.0 && compliant >= 80.0 {
        "good"
    } else {
        "fair"
    }
}

pub fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// (sector, score) pairs → per-sector scores and the weighted index.
pub fn index(items: &[(String, Option<f64>)], weights: &BTreeMap<String, f64>) -> (Option<f64>, Vec<SectorScore>) {
    let mut by_sector: BTreeMap<String, (Vec<f64>, usize)> = BTreeMap::new();
    for (sector, value) in items {
        let entry = by_sector.entry(sector.clone()).or_default();
        match value {
            Some(v) => entry.0.push(*v),
            None => entry.1 += 1,
        }
    }
    let mut sectors = Vec::new();
    let (mut weighted, mut weight_sum) = (0.0, 0.0);
    for (sector, (values, unscored)) in by_sector {
        let weight = weights.get(&sector).copied().unwrap_or(1.0);
        let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
        if let Some(mean) = mean {
            weighted += weight * mean;
            weight_sum += weight;
        }
        sectors.push(SectorScore { sector, weight, score: mean.map(round1), scored: values.len(), unscored });
    }
    let index = (weight_sum > 0.0).then(|| round1(weighted / weight_sum));
    (index, sectors)
}

pub fn count(findings: &[&Finding]) -> FindingCounts {
    let mut counts = FindingCounts::default();
    add_to_count(&mut counts, findings.iter().copied());
    counts
}

/// Add `findings` to `counts` (a scan counted item by item).
pub fn add_to_count<'a>(counts: &mut FindingCounts, findings: impl IntoIterator<Item = &'a Finding>) {
    for finding in findings {
        match finding.status {
            Status::Pass => counts.pass += 1,
            Status::Fail => {
                counts.fail += 1;
                *counts.fail_by_severity.entry(finding.severity).or_default() += 1;
            }
            Status::Inconclusive => counts.inconclusive += 1,
            Status::Excepted => counts.excepted += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_weights_sector_means() {
        let items = vec![
            ("cctld".to_string(), Some(100.0)),
            ("cctld".to_string(), Some(50.0)),
            ("operator".to_string(), Some(40.0)),
            ("operator".to_string(), None),
        ];
        let weights = BTreeMap::from([("cctld".to_string(), 3.0)]);
        let (index, sectors) = index(&items, &weights);
        // (3 × 75 + 1 × 40) / 4 = 66.25
        assert_eq!(index, Some(66.3));
        assert_eq!(sectors[1].unscored, 1);
    }

    fn finding(check: &str, severity: Severity, status: Status) -> Finding {
        Finding {
            check: check.into(),
            category: "tls".into(),
            status,
            severity,
            title: String::new(),
            detail: BTreeMap::new(),
            remediation: String::new(),
            references: Vec::new(),
            exception: None,
        }
    }

    /// The worked example of docs/scoring.md.
    #[test]
    fn the_worst_failure_places_the_score_in_its_band() {
        let caps = ScoreCaps::default();
        let mut findings: Vec<Finding> =
            (0..20).map(|i| finding(&format!("c.low{i:02}"), Severity::Low, Status::Pass)).collect();
        findings.extend((0..6).map(|i| finding(&format!("c.high{i}"), Severity::High, Status::Pass)));
        findings.extend((0..4).map(|i| finding(&format!("c.med{i}"), Severity::Medium, Status::Pass)));
        findings.push(finding("tls.cipher.null", Severity::Critical, Status::Fail));
        findings.push(finding("tls.cipher.anonymous", Severity::Critical, Status::Fail));
        findings.push(finding("c.info", Severity::Info, Status::Fail));
        // raw = 100 × (20 + 36 + 12) / (20 + 36 + 12 + 20) = 77.3 → 0 + 25 × 0.773 = 19.3
        let capped = score(&findings, &caps);
        assert_eq!(capped.raw, Some(77.3));
        assert_eq!(capped.value, Some(19.3));
        let cap = capped.cap.unwrap();
        assert_eq!((cap.severity, cap.floor, cap.limit), (Severity::Critical, 0.0, 25.0));
        assert_eq!(cap.checks, ["tls.cipher.anonymous", "tls.cipher.null"]);
        assert_eq!(cap.reason(), "≤ 25: critical failure (tls.cipher.anonymous, tls.cipher.null)");

        // A high failure scores below any item whose worst failure is medium, however many
        // mediums that one fails.
        let high =
            score(&[finding("h", Severity::High, Status::Fail), finding("p", Severity::Low, Status::Pass)], &caps);
        let mediums = score(
            &[finding("m1", Severity::Medium, Status::Fail), finding("m2", Severity::Medium, Status::Fail)],
            &caps,
        );
        assert_eq!(mediums.value, Some(50.0));
        assert!(high.value.unwrap() < mediums.value.unwrap(), "{high:?}");
        // Nothing failing: no cap; only an info failure: no cap either.
        let clean =
            score(&[finding("p", Severity::High, Status::Pass), finding("i", Severity::Info, Status::Fail)], &caps);
        assert_eq!((clean.value, clean.cap), (Some(100.0), None));
    }

    #[test]
    fn policy_caps_are_validated() {
        let caps = ScoreCaps::new(&BTreeMap::from([(Severity::Critical, 10.0)])).unwrap();
        assert_eq!(caps.band(Severity::Critical), Some((0.0, 10.0)));
        assert_eq!(caps.band(Severity::High), Some((10.0, 50.0)));
        assert!(ScoreCaps::new(&BTreeMap::from([(Severity::Critical, 60.0)]))
            .unwrap_err()
            .contains("above the high cap"));
        assert!(ScoreCaps::new(&BTreeMap::from([(Severity::Info, 60.0)])).is_err());
        assert!(ScoreCaps::new(&BTreeMap::from([(Severity::Low, 120.0)])).is_err());
    }

    #[test]
    fn the_band_needs_no_critical_failure_to_be_good() {
        assert_eq!(band(Some(95.0), Some(95.0), Some(0.0)), "good");
        assert_eq!(band(Some(95.0), Some(95.0), Some(1.0)), "fair");
        assert_eq!(band(Some(95.0), Some(40.0), Some(0.0)), "poor");
        assert_eq!(band(Some(95.0), Some(85.0), Some(12.0)), "poor");
        assert_eq!(band(None, Some(85.0), Some(0.0)), "none");
    }
}
