//! The CEL view of one facts document, built once per target, zone or resolver and shared by
//! all of its checks: converting a document (a whole certificate chain in PEM, every suite,
//! every record) into CEL values costs as much as evaluating most rules, so it must not be
//! repeated per check.

use std::sync::Arc;

use serde_json::Value;

use super::budget::{self, Guarded, Meter, Outcome};

/// A document's facts as CEL variables, with the budget functions installed.
pub struct DocumentContext {
    root: cel::Context<'static>,
    meter: Meter,
}

impl DocumentContext {
    pub fn new(document: &Value) -> DocumentContext {
        let mut root = cel::Context::default();
        let meter = Meter::default();
        meter.install(&mut root);
        // Evidence prints facts that may be booleans or null: `string()` takes any value.
        root.add_function("string", string_of_any);
        if let Value::Object(map) = document {
            for (key, value) in map {
                root.add_variable_from_value(key.as_str(), json_to_cel(value));
            }
        }
        DocumentContext { root, meter }
    }

    /// The scope of one check: the document plus the check's `params`.
    pub fn with_params(&self, params: &Value) -> CheckScope<'_> {
        let mut scope = self.root.new_inner_scope();
        scope.add_variable_from_value("params", json_to_cel(params));
        CheckScope { scope, meter: &self.meter }
    }
}

/// One check's variables over a shared document.
pub struct CheckScope<'a> {
    scope: cel::Context<'a>,
    meter: &'a Meter,
}

impl CheckScope<'_> {
    /// Evaluate a guarded rule or evidence expression within its budget.
    pub fn evaluate(&self, guarded: &Guarded) -> Outcome {
        budget::evaluate(guarded, &self.scope, self.meter)
    }
}

/// CEL's `string()` for every value: booleans as `true`/`false`, null as `null`, lists and maps
/// as JSON (the standard function refuses all of these, which made evidence unprintable).
fn string_of_any(cel::extractors::This(value): cel::extractors::This<cel::Value>) -> cel::ResolveResult {
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

/// Facts as CEL values. Every integer becomes a signed CEL `int`, so that rules can mix fact
/// values, parameters and literals (`7 * soa.fields.refresh`) without int/uint overload errors.
pub fn json_to_cel(value: &Value) -> cel::Value {
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

pub fn cel_to_json(value: &cel::Value) -> Value {
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
