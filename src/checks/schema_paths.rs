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
            target: ScopeSchema {
                root: Some(schemars::schema_for!(crate::facts::TargetResult)),
                scope: AppliesTo::Target,
            },
            zone: ScopeSchema {
                root: Some(schemars::schema_for!(crate::dns::facts::ZoneFacts)),
                scope: AppliesTo::Zone,
            },
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
        self.resolve(path).map(|_| ())
    }

    /// Whether the value at `path` is a list (the last field's schema allows an array), so that
    /// a check may say an empty list there is an observation (`may_be_empty`).
    pub fn is_list(&self, path: &FactPath) -> bool {
        let Some(root) = &self.root else { return false };
        self.resolve(path)
            .map(|found| found.iter().flat_map(|s| expand(root, s)).any(|s| s.array.is_some()))
            .unwrap_or(false)
    }

    /// The schemas a path leads to. A field name after a list applies to each of its items
    /// (`nameservers.lame`: the `lame` of every nameserver).
    fn resolve(&self, path: &FactPath) -> Result<Vec<&SchemaObject>, String> {
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
                        if let Some(SingleOrVec::Single(item)) = &array.items {
                            if segment.parse::<usize>().is_ok() {
                                next.push(as_object(item));
                            } else if let Some(item) = as_object(item) {
                                // A projection: the field of every item.
                                for element in expand(root, item) {
                                    if let Some(child) = element.object.as_ref().and_then(|o| o.properties.get(segment))
                                    {
                                        next.push(as_object(child));
                                    }
                                }
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
        Ok(current)
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
        for ok in ["tls.protocols", "tls.protocol_details[\"TLSv1.0\"].accepted", "tls.extensions.compression", "host"]
        {
            target.check_path(&FactPath::parse(ok).unwrap()).unwrap();
        }
        let error = target.check_path(&FactPath::parse("tls.protocolz").unwrap()).unwrap_err();
        assert!(error.contains("no field 'protocolz' under 'tls'") && error.contains("protocols"), "{error}");
        assert!(target.check_path(&FactPath::parse("findings").unwrap()).is_err());
        assert!(target.roots().contains("tls"));
        assert!(target.is_list(&FactPath::parse("tls.group_details").unwrap()));
        assert!(!target.is_list(&FactPath::parse("tls.extensions").unwrap()));
        let zone = schemas.for_scope(AppliesTo::Zone);
        zone.check_path(&FactPath::parse("nameservers.lame").unwrap()).unwrap();
        zone.check_path(&FactPath::parse("mail.mx.tlsa").unwrap()).unwrap();
        assert!(zone.is_list(&FactPath::parse("mail.mx.tlsa").unwrap()));
        assert!(zone.check_path(&FactPath::parse("nameservers.lamer").unwrap()).is_err());
        assert!(!target.roots().contains("findings"));
    }
}
