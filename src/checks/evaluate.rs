//! Evaluating compiled checks over collected facts. No network here: a check sees the facts
//! document of one target (or zone, or resolver) and says pass or fail; when a fact it names is
//! missing or errored it says inconclusive, never pass.

use std::collections::BTreeMap;

use serde_json::Value;

use super::catalog::{AppliesTo, Check};
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
/// complete. A target whose sweep stopped on an error has no `tls` facts for checks (its partial
/// facts stay in the report as evidence); a protocol whose probe failed is left out of
/// `protocol_details` so that a check about it is inconclusive.
pub fn target_document(target: &crate::facts::TargetResult) -> Value {
    let mut document = serde_json::to_value(target).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut document {
        for field in super::schema_paths::OUTPUT_FIELDS {
            map.remove(field);
        }
        if target.error.is_some() {
            map.insert("tls".into(), Value::Null);
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
        for check in self.checks.iter().filter(selected).filter(applicable) {
            let mut finding = evaluate_one(check, self.policy, document, self.lang);
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
                        finding
                            .detail
                            .insert("exception".into(), Value::String(format!("exception expired on {}", exception.expires)));
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

fn evaluate_one(check: &Check, policy: &Policy, document: &Value, lang: &str) -> Finding {
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
    let mut context = cel::Context::default();
    if let Value::Object(map) = document {
        for (key, value) in map {
            context.add_variable_from_value(key.as_str(), json_to_cel(value));
        }
    }
    // Evidence prints facts that may be booleans or null: `string()` takes any value.
    context.add_function("string", string_of_any);
    let params = Value::Object(policy.params(check).into_iter().collect());
    context.add_variable_from_value("params", json_to_cel(&params));
    match check.rule.execute(&context) {
        Ok(cel::Value::Bool(passed)) => finding.status = if passed { Status::Pass } else { Status::Fail },
        Ok(cel::Value::Null) => {
            finding.detail.insert("inconclusive".into(), Value::String("the facts do not allow a verdict (the rule returned null)".into()));
        }
        Ok(other) => {
            finding.detail.insert("inconclusive".into(), Value::String(format!("rule returned {other:?}, not a boolean")));
        }
        Err(error) => {
            finding.detail.insert("inconclusive".into(), Value::String(format!("rule could not be evaluated: {error}")));
        }
    }
    for (name, _, program) in &check.evidence {
        let value = match program.execute(&context) {
            Ok(value) => cel_to_json(&value),
            Err(error) => Value::String(format!("unavailable: {error}")),
        };
        finding.detail.insert(name.clone(), value);
    }
    finding
}

/// CEL's `string()` for every value: booleans as `true`/`false`, null as `null`, lists and maps
/// as JSON (the standard function refuses all of these, which made evidence unprintable).
fn string_of_any(cel::extractors::This(value): cel::extractors::This<cel::Value>) -> cel::ResolveResult {
    use std::sync::Arc;
    Ok(cel::Value::String(Arc::new(match &value {
        cel::Value::String(text) => text.to_string(),
        cel::Value::Null => "null".into(),
        cel::Value::Bool(b) => b.to_string(),
        cel::Value::Int(i) => i.to_string(),
        cel::Value::UInt(u) => u.to_string(),
        cel::Value::Float(f) => f.to_string(),
        other => cel_to_json(other).to_string(),
    })))
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

/// Facts as CEL values. Every integer becomes a signed CEL `int`, so that rules can mix fact
/// values, parameters and literals (`7 * soa.fields.refresh`) without int/uint overload errors.
fn json_to_cel(value: &Value) -> cel::Value {
    use std::sync::Arc;
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => cel::Value::Int(i),
            (None, Some(u), _) => cel::Value::UInt(u),
            (_, _, Some(f)) => cel::Value::Float(f),
            _ => cel::Value::Null,
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(json_to_cel).collect())),
        Value::Object(map) => {
            let entries: std::collections::HashMap<cel::objects::Key, cel::Value> =
                map.iter().map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), json_to_cel(v))).collect();
            cel::Value::from(entries)
        }
    }
}

fn cel_to_json(value: &cel::Value) -> Value {
    use cel::Value as V;
    match value {
        V::Null => Value::Null,
        V::Bool(b) => Value::Bool(*b),
        V::Int(i) => Value::from(*i),
        V::UInt(u) => Value::from(*u),
        V::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
        V::String(s) => Value::String(s.to_string()),
        V::List(items) => Value::Array(items.iter().map(cel_to_json).collect()),
        V::Map(map) => Value::Object(
            map.map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        cel::objects::Key::String(s) => s.to_string(),
                        cel::objects::Key::Int(i) => i.to_string(),
                        cel::objects::Key::Uint(u) => u.to_string(),
                        cel::objects::Key::Bool(b) => b.to_string(),
                    };
                    (key, cel_to_json(v))
                })
                .collect(),
        ),
        other => Value::String(format!("{other:?}")),
    }
}
