//! Which fact paths exist: check files are validated against the JSON Schema of the documents
//! they are evaluated over, so a misspelt fact is an error when the catalog loads, not a silent
//! "inconclusive" at every scan.

use std::collections::BTreeSet;

use schemars::schema::{RootSchema, Schema, SchemaObject, SingleOrVec};

use super::catalog::{AppliesTo, FactPath};

/// Fields of a result document that checks produce rather than read.
pub const OUTPUT_FIELDS: [&str; 3] = ["findings", "grade", "score"];

pub struct ScopeSchema {
    root: Option<RootSchema>,
    scope: AppliesTo,
}

pub struct FactSchema {
    target: ScopeSchema,
    zone: ScopeSchema,
    resolver: ScopeSchema,
}

impl Default for FactSchema {
    fn default() -> Self {
        FactSchema::new()
    }
}

impl FactSchema {
    pub fn new() -> FactSchema {
        FactSchema {
            target: ScopeSchema { root: Some(schemars::schema_for!(crate::facts::TargetResult)), scope: AppliesTo::Target },
            zone: ScopeSchema { root: Some(schemars::schema_for!(crate::dns::facts::ZoneFacts)), scope: AppliesTo::Zone },
            resolver: ScopeSchema {
                root: Some(schemars::schema_for!(crate::dns::facts::ResolverFacts)),
                scope: AppliesTo::Resolver,
            },
        }
    }

    pub fn for_scope(&self, scope: AppliesTo) -> &ScopeSchema {
        match scope {
            AppliesTo::Target => &self.target,
            AppliesTo::Zone => &self.zone,
            AppliesTo::Resolver => &self.resolver,
        }
    }
}

impl ScopeSchema {
    /// Top-level names a rule may read.
    pub fn roots(&self) -> BTreeSet<String> {
        let Some(root) = &self.root else { return BTreeSet::new() };
        root.schema
            .object
            .as_ref()
            .map(|o| o.properties.keys().filter(|k| !OUTPUT_FIELDS.contains(&k.as_str())).cloned().collect())
            .unwrap_or_default()
    }

    pub fn check_path(&self, path: &FactPath) -> Result<(), String> {
        let Some(root) = &self.root else {
            return Err(format!("this version has no {} facts", self.scope.name()));
        };
        if OUTPUT_FIELDS.contains(&path.segments[0].as_str()) {
            return Err(format!("'{}' is produced by checks, not a fact", path.segments[0]));
        }
        let mut current = vec![&root.schema];
        for (depth, segment) in path.segments.iter().enumerate() {
            let mut next = Vec::new();
            for schema in &current {
                for object in expand(root, schema) {
                    if let Some(properties) = object.object.as_ref() {
                        if let Some(child) = properties.properties.get(segment) {
                            next.push(as_object(child));
                        } else if let Some(extra) = properties.additional_properties.as_deref() {
                            next.push(as_object(extra));
                        }
                    }
                    if let Some(array) = object.array.as_ref() {
                        if segment.parse::<usize>().is_ok() {
                            if let Some(SingleOrVec::Single(item)) = &array.items {
                                next.push(as_object(item));
                            }
                        }
                    }
                }
            }
            let next: Vec<&SchemaObject> = next.into_iter().flatten().collect();
            if next.is_empty() {
                let known = known_fields(root, &current);
                let at = path.segments[..depth].join(".");
                return Err(format!(
                    "'{}' has no field '{segment}'{}{}",
                    path.text,
                    if at.is_empty() { String::new() } else { format!(" under '{at}'") },
                    if known.is_empty() { String::new() } else { format!(" (known: {})", known.join(", ")) }
                ));
            }
            current = next;
        }
        Ok(())
    }
}

fn as_object(schema: &Schema) -> Option<&SchemaObject> {
    match schema {
        Schema::Object(object) => Some(object),
        Schema::Bool(_) => None,
    }
}

/// Follow `$ref`s and `anyOf`/`allOf`/`oneOf` to the concrete object schemas.
fn expand<'a>(root: &'a RootSchema, schema: &'a SchemaObject) -> Vec<&'a SchemaObject> {
    let mut out = Vec::new();
    let mut stack = vec![schema];
    let mut steps = 0;
    while let Some(schema) = stack.pop() {
        steps += 1;
        if steps > 64 {
            break;
        }
        if let Some(reference) = &schema.reference {
            let name = reference.trim_start_matches("#/definitions/");
            if let Some(target) = root.definitions.get(name).and_then(as_object) {
                stack.push(target);
            }
            continue;
        }
        if let Some(sub) = &schema.subschemas {
            for list in [&sub.any_of, &sub.all_of, &sub.one_of].into_iter().flatten() {
                stack.extend(list.iter().filter_map(as_object));
            }
        }
        out.push(schema);
    }
    out
}

fn known_fields(root: &RootSchema, schemas: &[&SchemaObject]) -> Vec<String> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for schema in schemas {
        for object in expand(root, schema) {
            if let Some(properties) = &object.object {
                names.extend(properties.properties.keys().filter(|k| !OUTPUT_FIELDS.contains(&k.as_str())).cloned());
            }
        }
    }
    names.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_pass_and_misspelt_ones_are_named() {
        let schemas = FactSchema::new();
        let target = schemas.for_scope(AppliesTo::Target);
        for ok in ["tls.protocols", "tls.protocol_details[\"TLSv1.0\"].accepted", "tls.extensions.compression", "host"] {
            target.check_path(&FactPath::parse(ok).unwrap()).unwrap();
        }
        let error = target.check_path(&FactPath::parse("tls.protocolz").unwrap()).unwrap_err();
        assert!(error.contains("no field 'protocolz' under 'tls'") && error.contains("protocols"), "{error}");
        assert!(target.check_path(&FactPath::parse("findings").unwrap()).is_err());
        assert!(target.roots().contains("tls"));
        assert!(!target.roots().contains("findings"));
    }
}
