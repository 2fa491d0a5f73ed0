//! Evaluating compiled checks over collected facts. No network here: a check sees the facts
//! document of one target (or zone, or resolver) and says pass or fail; when a fact it names is
//! missing or errored it says inconclusive, never pass.

use std::collections::BTreeMap;

use serde_json::Value;

use super::budget::Outcome;
use super::catalog::{AppliesTo, Check};
use super::cel_context::{cel_to_json, DocumentContext};
use super::model::{ExceptionNote, Finding, Status};
use super::policy::Policy;

/// A comply-or-explain exception from a country profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub check: String,
    /// `host:port`, `host` (every port) or a zone name.
    pub target: String,
    pub reason: String,
    pub approved_by: String,
    /// YYYY-MM-DD; the exception holds through that day.
    pub expires: String,
}

impl Exception {
    fn matches(&self, check: &str, host: &str, port: Option<u16>) -> bool {
        if self.check != check {
            return false;
        }
        let wanted = self.target.trim_end_matches('.').to_ascii_lowercase();
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        wanted == host || port.is_some_and(|p| wanted == format!("{host}:{p}"))
    }
}

/// The document a target's checks read: its facts, minus anything that cannot be trusted as
/// complete. A target whose sweep stopped on an error has no `tls` facts for checks but the
/// implausible-server verdict, if that was the error (its partial facts stay in the report as
/// evidence); a protocol whose probe failed is left out of
/// `protocol_details` so that a check about it is inconclusive.
pub fn target_document(target: &crate::facts::TargetResult) -> Value {
    let mut document = serde_json::to_value(target).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut document {
        for field in super::schema_paths::OUTPUT_FIELDS {
            map.remove(field);
        }
        if target.error.is_some() {
            // Only the verdict that stopped the sweep is kept: it is a finding of its own.
            let implausible = target.tls.as_ref().and_then(|tls| tls.implausible.as_ref());
            let kept = implausible.map(|verdict| serde_json::json!({ "implausible": verdict }));
            map.insert("tls".into(), kept.unwrap_or(Value::Null));
        }
        if let Some(Value::Object(tls)) = map.get_mut("tls") {
            if let Some(Value::Object(details)) = tls.get_mut("protocol_details") {
                details.retain(|_, d| d.get("error").is_none_or(Value::is_null));
            }
        }
    }
    document
}

/// The document of a zone or resolver: its facts without the check outputs.
pub fn plain_document<T: serde::Serialize>(facts: &T) -> Value {
    let mut document = serde_json::to_value(facts).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut document {
        for field in super::schema_paths::OUTPUT_FIELDS {
            map.remove(field);
        }
    }
    document
}

/// What findings are judged against: the catalog, the policy, the language, the exceptions and
/// the day.
pub struct Judge<'a> {
    pub checks: &'a [Check],
    pub policy: &'a Policy,
    pub lang: &'a str,
    pub exceptions: &'a [Exception],
    /// YYYY-MM-DD.
    pub today: &'a str,
}

impl Judge<'_> {
    /// Evaluate every applicable check of `applies_to` over `document` (the facts of the target
    /// or zone called `name`, on `port` for targets).
    pub fn findings(&self, applies_to: AppliesTo, document: &Value, name: &str, port: Option<u16>) -> Vec<Finding> {
        let service = document.get("service").and_then(Value::as_str).unwrap_or("");
        let applicable = |c: &&Check| c.services.is_empty() || c.services.iter().any(|s| s == service);
        let selected = |c: &&Check| c.applies_to == applies_to && (!c.builtin || self.policy.selects(&c.id));
        let mut findings = Vec::new();
        // Converted once for all the checks of this document (issue 12).
        let context = DocumentContext::new(document);
        for check in self.checks.iter().filter(selected).filter(applicable) {
            let mut finding = evaluate_one(check, self.policy, document, &context, self.lang);
            if finding.status == Status::Fail {
                if let Some(exception) = self.exceptions.iter().find(|e| e.matches(&check.id, name, port)) {
                    let expired = exception.expires.as_str() < self.today;
                    finding.exception = Some(ExceptionNote {
                        reason: exception.reason.clone(),
                        approved_by: exception.approved_by.clone(),
                        expires: exception.expires.clone(),
                        expired,
                    });
                    if expired {
                        finding.detail.insert(
                            "exception".into(),
                            Value::String(format!("exception expired on {}", exception.expires)),
                        );
                    } else {
                        finding.status = Status::Excepted;
                    }
                }
            }
            findings.push(finding);
        }
        findings
    }
}

fn evaluate_one(check: &Check, policy: &Policy, document: &Value, context: &DocumentContext, lang: &str) -> Finding {
    let text = check.text(lang);
    let mut finding = Finding {
        check: check.id.clone(),
        category: check.category.clone(),
        status: Status::Inconclusive,
        severity: policy.severity(check),
        title: text.title.clone(),
        detail: BTreeMap::new(),
        remediation: text.remediation.clone(),
        references: check.references.clone(),
        exception: None,
    };
    let missing = unobserved_facts(check, document);
    if !missing.is_empty() {
        let mut reason = format!("nothing observed for fact(s): {} (missing, null or empty)", missing.join(", "));
        if let Some(error) = document.get("error").and_then(Value::as_str) {
            reason.push_str(&format!(" (target error: {error})"));
        }
        finding.detail.insert("inconclusive".into(), Value::String(reason));
        return finding;
    }
    let scope = context.with_params(&Value::Object(policy.params(check).into_iter().collect()));
    match scope.evaluate(&check.guarded.rule) {
        Outcome::Value(cel::Value::Bool(passed)) => finding.status = if passed { Status::Pass } else { Status::Fail },
        Outcome::Value(cel::Value::Null) => {
            finding.detail.insert(
                "inconclusive".into(),
                Value::String("the facts do not allow a verdict (the rule returned null)".into()),
            );
        }
        Outcome::Value(other) => {
            finding
                .detail
                .insert("inconclusive".into(), Value::String(format!("rule returned {other:?}, not a boolean")));
        }
        Outcome::Error(error) => {
            finding
                .detail
                .insert("inconclusive".into(), Value::String(format!("rule could not be evaluated: {error}")));
        }
        Outcome::OverBudget(reason) => {
            finding.detail.insert("inconclusive".into(), Value::String(reason));
        }
        Outcome::Panicked(message) => {
            finding.detail.insert(
                "inconclusive".into(),
                Value::String(format!("rule error: the CEL interpreter failed ({message})")),
            );
        }
    }
    for ((name, _, _), guarded) in check.evidence.iter().zip(&check.guarded.evidence) {
        let value = match scope.evaluate(guarded) {
            Outcome::Value(value) => cel_to_json(&value),
            Outcome::Error(error) => Value::String(format!("unavailable: {error}")),
            Outcome::OverBudget(reason) => Value::String(format!("unavailable: {reason}")),
            Outcome::Panicked(message) => Value::String(format!("unavailable: the CEL interpreter failed ({message})")),
        };
        finding.detail.insert(name.clone(), value);
    }
    finding
}

/// The check's facts with nothing observed: missing, null, or an empty list (unless the check
/// says that list may be empty). Any of them makes the finding inconclusive, so that a rule
/// like `nameservers.all(…)` never passes over servers that never answered.
fn unobserved_facts<'a>(check: &'a Check, document: &Value) -> Vec<&'a str> {
    check
        .facts
        .iter()
        .filter(|fact| !fact.observed(document, check.may_be_empty.contains(fact)))
        .map(|fact| fact.text.as_str())
        .collect()
}
