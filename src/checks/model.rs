//! The values checks produce: severities, statuses, findings, grades and scores, as they appear
//! in the JSON result.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much a failing check matters. Ordered: `Info < Low < … < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Weight in scores (docs/scoring.md).
    pub fn weight(self) -> f64 {
        match self {
            Severity::Info => 0.0,
            Severity::Low => 1.0,
            Severity::Medium => 3.0,
            Severity::High => 6.0,
            Severity::Critical => 10.0,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(text: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or_else(|| format!("unknown severity '{text}': use one of info, low, medium, high, critical"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// The facts the check needs are missing or errored: never counted as a pass.
    Inconclusive,
    /// A failing check covered by a valid comply-or-explain exception.
    Excepted,
}

/// One check's verdict on one target, zone or resolver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub check: String,
    pub category: String,
    pub status: Status,
    pub severity: Severity,
    pub title: String,
    /// The fact values that decided it (evidence expressions of the check), or why it is
    /// inconclusive.
    pub detail: BTreeMap<String, serde_json::Value>,
    pub remediation: String,
    pub references: Vec<String>,
    /// For excepted findings (and expired exceptions): the exception that applied.
    pub exception: Option<ExceptionNote>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ExceptionNote {
    pub reason: String,
    pub approved_by: String,
    /// YYYY-MM-DD.
    pub expires: String,
    /// True when the exception's date has passed: the finding fails again.
    pub expired: bool,
}

/// An SSL Labs-style grade of a TLS endpoint (docs/grading.md).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Grade {
    /// A+, A, A-, B, C, D, E, F, T (untrusted) or M (name mismatch).
    pub grade: String,
    /// 0–100 before caps: 0.3·protocol + 0.3·key exchange + 0.4·cipher.
    pub score: u32,
    pub protocol_score: u32,
    pub key_exchange_score: u32,
    pub cipher_score: u32,
    /// Each cap applied: its letter, its stable id, and what it means.
    pub caps: Vec<GradeCap>,
    /// Facts the grade could not use (e.g. no certificate facts): the grade is provisional.
    pub missing: Vec<String>,
}

/// One cap of a grade: `{letter: "B", reason: "tls10_or11", text: "TLS 1.0 or 1.1 accepted"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GradeCap {
    /// The letter the grade cannot exceed (`T`: untrusted, `M`: name mismatch).
    pub letter: String,
    pub reason: crate::checks::grade::CapReason,
    pub text: String,
}

impl std::fmt::Display for GradeCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.letter, self.text)
    }
}

/// Score of one target, zone or resolver from its findings (docs/scoring.md).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Score {
    /// 0–100 after the cap of the worst failure, or null when no check was conclusive.
    pub value: Option<f64>,
    /// The severity-weighted share of complying checks (0–100) before the cap.
    #[serde(default)]
    pub raw: Option<f64>,
    /// The cap of the worst conclusive failure, when one applied (null: nothing failed, or the
    /// policy sets no cap for that severity).
    #[serde(default)]
    pub cap: Option<ScoreCap>,
    pub passed: usize,
    pub failed: usize,
    pub excepted: usize,
    pub inconclusive: usize,
}

/// Why a score is held down: its worst conclusive failure (docs/scoring.md). The score lies in
/// `floor`..=`limit`: the band between this severity's cap and the next more severe one's, so
/// that any item failing a more severe check scores lower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreCap {
    /// The severity of the worst failing check.
    pub severity: Severity,
    /// The highest score an item with such a failure can have.
    pub limit: f64,
    /// The cap of the next more severe failure (0 for critical).
    pub floor: f64,
    /// The failing checks of that severity (at most 10, by id).
    pub checks: Vec<String>,
}

impl ScoreCap {
    /// "≤ 25: critical failure (tls.cipher.null, tls.cipher.anonymous)", in English, for the
    /// CSV and logs (the HTML report says it in its own language).
    pub fn reason(&self) -> String {
        format!("≤ {}: {} failure ({})", self.limit, self.severity, self.checks.join(", "))
    }
}

/// The country-level aggregation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Assessment {
    pub policy: String,
    /// 0–100, or null when nothing could be scored.
    pub index: Option<f64>,
    pub formula: String,
    pub sectors: Vec<SectorScore>,
    pub counts: FindingCounts,
    pub checks_version: String,
    /// The figures shown beside the index (null in documents from before they existed).
    #[serde(default)]
    pub headline: Option<Headline>,
    /// The policy's score caps: severity of the worst failure → highest score (docs/scoring.md).
    #[serde(default)]
    pub score_caps: BTreeMap<Severity, f64>,
    /// A distributed scan from several vantage points: the one whose facts make this document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantage: Option<String>,
    /// Where another vantage point saw an item differently (at most `MAX_VANTAGE_DIFFERENCES`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vantage_differences: Vec<VantageDifference>,
}

/// Rows of `vantage_differences` kept at most (the rest are counted in the last row's item).
pub const MAX_VANTAGE_DIFFERENCES: usize = 10_000;

/// One difference between what two vantage points saw of the same item (docs/scaling.md): a
/// check's status, a grade, or the item itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VantageDifference {
    /// The item's key (a target's `host|port|service|address`, `zone NAME`, `resolver ADDRESS`).
    pub item: String,
    /// The other vantage point.
    pub vantage: String,
    /// The check whose status differs; none for the grade or the item's presence.
    pub check: Option<String>,
    /// What this document's vantage point saw: a status, a grade, `present`, or `-` for nothing.
    pub here: String,
    /// What the other vantage point saw.
    pub there: String,
}

/// Compliance figures beside the index (docs/scoring.md): how many items comply with the
/// baseline, how many fail a critical check, how many could not be tested.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Headline {
    pub endpoints: HeadlineCounts,
    pub zones: HeadlineCounts,
    pub resolvers: HeadlineCounts,
    /// All three together.
    pub all: HeadlineCounts,
    /// Share of all items compliant with the baseline, 0–100 (null: nothing declared).
    pub compliant_share: Option<f64>,
    /// Share of all items with a failing critical check, 0–100.
    pub critical_share: Option<f64>,
    /// The index's band from the index and both shares: `good`, `fair`, `poor` or `none`.
    pub band: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HeadlineCounts {
    /// Items declared (and discovered) in the scan.
    pub total: usize,
    /// Items with no failing critical or high check and at least one conclusive check, that
    /// could be tested.
    pub compliant: usize,
    /// Items with at least one failing critical check.
    pub critical: usize,
    /// Items that could not be (fully) tested: their error is set.
    pub not_testable: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SectorScore {
    pub sector: String,
    pub weight: f64,
    /// Mean of the scored targets' values in this sector.
    pub score: Option<f64>,
    pub scored: usize,
    pub unscored: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct FindingCounts {
    pub pass: usize,
    pub fail: usize,
    pub inconclusive: usize,
    pub excepted: usize,
    /// Failing findings per severity.
    pub fail_by_severity: BTreeMap<Severity, usize>,
}
