//! Scores from findings, and the country index from scores (`docs/scoring.md`).
//!
//! A score is the severity-weighted share of conclusive checks that comply: passed and excepted
//! findings count as complying (an exception is an explained, approved deviation), failed ones
//! do not, inconclusive ones are left out and counted. The country index is the mean of the
//! sector means, weighted by the profile's sector weights.

use std::collections::BTreeMap;

use super::model::{Finding, FindingCounts, Score, SectorScore, Status};

pub const SCORE_FORMULA: &str = "score = 100 × Σ w(pass ∪ excepted) / Σ w(pass ∪ excepted ∪ fail), w = severity weight (info 0, low 1, medium 3, high 6, critical 10), inconclusive left out; index = Σ_sector weight × mean(scores in sector) / Σ_sector weight, over sectors with at least one score";

pub fn score(findings: &[Finding]) -> Score {
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
    let value = (total > 0.0).then(|| round1(100.0 * complying / total));
    Score { value, passed, failed, excepted, inconclusive }
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
    counts
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
}
