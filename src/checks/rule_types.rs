//! Load-time type checking of check rules: a comprehension (`all`, `exists`, `exists_one`,
//! `map`, `filter`) must range over a list or a map, and message literals (`Foo{a: 1}`, which
//! `cel` 0.11 parses but cannot evaluate: `todo!()`) are refused. The types come from the JSON Schema of
//! the document the check reads (the same schema that validates fact paths) and from the
//! check's parameters; where a type cannot be known (a value computed by a function, a field of
//! free-form JSON) the rule is accepted, and the run-time guard of `budget.rs` turns a bad range
//! into the rule's error instead.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cel::common::ast::{operators, Expr, IdedExpr};
use cel::common::value::CelVal;
use schemars::schema::{InstanceType, RootSchema, Schema, SchemaObject, SingleOrVec};
use serde_json::Value as Json;

use super::catalog::AppliesTo;

/// A comprehension found to range over something that is not a list or map, or a message
/// literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError {
    /// The offending text as written (`port` of `port.all(…)`, `Foo` of `Foo{…}`), or empty
    /// when it is not a plain path.
    pub range: String,
    /// The character that follows it in the source ('.' for a range, '{' for a literal).
    pub followed_by: char,
    pub message: String,
}

/// What is known of a value's type.
#[derive(Clone)]
enum Ty {
    Dyn,
    /// Conforms to one of these schemas.
    Schema(Vec<&'static SchemaObject>),
    /// Not a list or map: "an integer", "a string", …
    Scalar(&'static str),
    List(Box<Ty>),
    Map(Box<Ty>),
    /// `params`: the check's default parameters.
    Params,
}

struct Checker<'a> {
    root: &'static RootSchema,
    params: &'a BTreeMap<String, Json>,
    scopes: Vec<(String, Ty)>,
    error: Option<RangeError>,
}

fn roots() -> &'static [RootSchema; 3] {
    static ROOTS: OnceLock<[RootSchema; 3]> = OnceLock::new();
    ROOTS.get_or_init(|| {
        [
            schemars::schema_for!(crate::facts::TargetResult),
            schemars::schema_for!(crate::dns::facts::ZoneFacts),
            schemars::schema_for!(crate::dns::facts::ResolverFacts),
        ]
    })
}

/// The first comprehension of `program` whose range is known not to be a list or map.
pub fn check_ranges(
    program: &cel::Program,
    applies_to: AppliesTo,
    params: &BTreeMap<String, Json>,
) -> Result<(), RangeError> {
    let root = match applies_to {
        AppliesTo::Target => &roots()[0],
        AppliesTo::Zone => &roots()[1],
        AppliesTo::Resolver => &roots()[2],
    };
    let mut checker = Checker { root, params, scopes: Vec::new(), error: None };
    checker.infer(program.expression());
    checker.error.map_or(Ok(()), Err)
}

fn as_object(schema: &Schema) -> Option<&SchemaObject> {
    match schema {
        Schema::Object(object) => Some(object),
        Schema::Bool(_) => None,
    }
}

impl Checker<'_> {
    /// Follow `$ref`s and `anyOf`/`allOf`/`oneOf` to concrete schemas (bounded, as references
    /// may be recursive).
    fn expand(&self, schemas: &[&'static SchemaObject]) -> Vec<&'static SchemaObject> {
        let mut out = Vec::new();
        let mut stack: Vec<&'static SchemaObject> = schemas.to_vec();
        let mut steps = 0;
        while let Some(schema) = stack.pop() {
            steps += 1;
            if steps > 256 {
                break;
            }
            if let Some(reference) = &schema.reference {
                let name = reference.trim_start_matches("#/definitions/");
                if let Some(target) = self.root.definitions.get(name).and_then(as_object) {
                    stack.push(target);
                }
                continue;
            }
            if let Some(sub) = &schema.subschemas {
                let mut found = false;
                for list in [&sub.any_of, &sub.all_of, &sub.one_of].into_iter().flatten() {
                    stack.extend(list.iter().filter_map(as_object));
                    found = true;
                }
                if found && schema.instance_type.is_none() {
                    continue;
                }
            }
            out.push(schema);
        }
        out
    }

    /// "an integer" when every schema says the value is a scalar; None when it may be a list
    /// or map, or nothing is known.
    fn scalar_kind(&self, ty: &Ty) -> Option<&'static str> {
        match ty {
            Ty::Scalar(kind) => Some(kind),
            Ty::Schema(schemas) => {
                let expanded = self.expand(schemas);
                let mut kinds = Vec::new();
                for schema in &expanded {
                    let Some(types) = &schema.instance_type else { return None };
                    match types {
                        SingleOrVec::Single(t) => kinds.push(**t),
                        SingleOrVec::Vec(ts) => kinds.extend(ts.iter().copied()),
                    }
                }
                if kinds.is_empty() || kinds.iter().any(|k| matches!(k, InstanceType::Array | InstanceType::Object)) {
                    return None;
                }
                let scalar = kinds.iter().find(|k| **k != InstanceType::Null).unwrap_or(&InstanceType::Null);
                Some(match scalar {
                    InstanceType::Boolean => "a boolean",
                    InstanceType::Integer => "an integer",
                    InstanceType::Number => "a number",
                    InstanceType::String => "a string",
                    _ => "null",
                })
            }
            _ => None,
        }
    }

    fn field(&self, ty: &Ty, name: &str) -> Ty {
        match ty {
            Ty::Schema(schemas) => {
                let mut next = Vec::new();
                for schema in self.expand(schemas) {
                    if let Some(object) = &schema.object {
                        if let Some(child) = object.properties.get(name).and_then(as_object) {
                            next.push(child);
                        } else if let Some(extra) = object.additional_properties.as_deref().and_then(as_object) {
                            next.push(extra);
                        }
                    }
                }
                if next.is_empty() {
                    Ty::Dyn
                } else {
                    Ty::Schema(next)
                }
            }
            Ty::Map(value) => (**value).clone(),
            Ty::Params => self.params.get(name).map_or(Ty::Dyn, json_type),
            _ => Ty::Dyn,
        }
    }

    /// The type of `x` in `range.all(x, …)`: a list's element, a map's key.
    fn element(&self, ty: &Ty) -> Ty {
        match ty {
            Ty::List(item) => (**item).clone(),
            Ty::Map(_) => Ty::Scalar("a string"),
            Ty::Schema(schemas) => {
                let mut items = Vec::new();
                for schema in self.expand(schemas) {
                    if let Some(SingleOrVec::Single(item)) = schema.array.as_ref().and_then(|a| a.items.as_ref()) {
                        items.extend(as_object(item));
                    }
                }
                if items.is_empty() {
                    Ty::Dyn
                } else {
                    Ty::Schema(items)
                }
            }
            _ => Ty::Dyn,
        }
    }

    fn infer(&mut self, expression: &IdedExpr) -> Ty {
        match &expression.expr {
            Expr::Literal(value) => match value {
                CelVal::Boolean(_) => Ty::Scalar("a boolean"),
                CelVal::Int(_) | CelVal::UInt(_) => Ty::Scalar("an integer"),
                CelVal::Double(_) => Ty::Scalar("a number"),
                CelVal::String(_) => Ty::Scalar("a string"),
                CelVal::Bytes(_) => Ty::Scalar("bytes"),
                CelVal::Null => Ty::Scalar("null"),
                _ => Ty::Dyn,
            },
            Expr::Ident(name) => {
                if let Some((_, ty)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
                    return ty.clone();
                }
                if name == "params" {
                    return Ty::Params;
                }
                self.field(&Ty::Schema(vec![&self.root.schema]), name)
            }
            Expr::Select(select) => {
                let operand = self.infer(&select.operand);
                if select.test {
                    Ty::Scalar("a boolean")
                } else {
                    self.field(&operand, &select.field)
                }
            }
            Expr::List(list) => {
                list.elements.iter().for_each(|e| {
                    self.infer(e);
                });
                Ty::List(Box::new(Ty::Dyn))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(e) = &entry.expr {
                        self.infer(&e.key);
                        self.infer(&e.value);
                    }
                }
                Ty::Map(Box::new(Ty::Dyn))
            }
            Expr::Call(call) => {
                if let Some(target) = call.target.as_deref() {
                    self.infer(target);
                }
                let args: Vec<Ty> = call.args.iter().map(|a| self.infer(a)).collect();
                match call.func_name.as_str() {
                    operators::INDEX => match args.first() {
                        Some(Ty::List(item)) => (**item).clone(),
                        Some(Ty::Map(value)) => (**value).clone(),
                        Some(schema @ Ty::Schema(_)) => match self.element(schema) {
                            Ty::Dyn => self.field(schema, ""),
                            item => item,
                        },
                        _ => Ty::Dyn,
                    },
                    "size" => Ty::Scalar("an integer"),
                    operators::LOGICAL_AND
                    | operators::LOGICAL_OR
                    | operators::LOGICAL_NOT
                    | operators::EQUALS
                    | operators::NOT_EQUALS
                    | operators::LESS
                    | operators::LESS_EQUALS
                    | operators::GREATER
                    | operators::GREATER_EQUALS
                    | operators::IN
                    | "contains"
                    | "startsWith"
                    | "endsWith"
                    | "matches" => Ty::Scalar("a boolean"),
                    _ => Ty::Dyn,
                }
            }
            Expr::Comprehension(comprehension) => {
                let range = self.infer(&comprehension.iter_range);
                if let Some(kind) = self.scalar_kind(&range) {
                    if self.error.is_none() {
                        let text = path_text(&comprehension.iter_range);
                        let what = if text.is_empty() { "its range".to_string() } else { format!("'{text}'") };
                        self.error = Some(RangeError {
                            message: format!("a comprehension (all, exists, exists_one, map, filter) must range over a list or map, but {what} is {kind}"),
                            range: text,
                            followed_by: '.',
                        });
                    }
                }
                let accu_init = self.infer(&comprehension.accu_init);
                self.scopes.push((comprehension.accu_var.clone(), Ty::Dyn));
                let element = self.element(&range);
                self.scopes.push((comprehension.iter_var.clone(), element));
                self.infer(&comprehension.loop_cond);
                self.infer(&comprehension.loop_step);
                self.scopes.pop();
                let result = self.infer(&comprehension.result);
                self.scopes.pop();
                match accu_init {
                    Ty::List(_) => Ty::List(Box::new(Ty::Dyn)),
                    _ => result,
                }
            }
            Expr::Struct(literal) => {
                if self.error.is_none() {
                    self.error = Some(RangeError {
                        range: literal.type_name.clone(),
                        followed_by: '{',
                        message: format!(
                            "message literals ({}{{…}}) are not supported: facts are lists, maps and scalars",
                            literal.type_name
                        ),
                    });
                }
                Ty::Dyn
            }
            Expr::Unspecified => Ty::Dyn,
        }
    }
}

fn json_type(value: &Json) -> Ty {
    match value {
        Json::Null => Ty::Scalar("null"),
        Json::Bool(_) => Ty::Scalar("a boolean"),
        Json::Number(n) if n.is_f64() => Ty::Scalar("a number"),
        Json::Number(_) => Ty::Scalar("an integer"),
        Json::String(_) => Ty::Scalar("a string"),
        Json::Array(items) => Ty::List(Box::new(items.first().map_or(Ty::Dyn, json_type))),
        Json::Object(_) => Ty::Map(Box::new(Ty::Dyn)),
    }
}

/// `a.b.c` for a path of identifiers and fields, else empty.
fn path_text(expression: &IdedExpr) -> String {
    match &expression.expr {
        Expr::Ident(name) => name.clone(),
        Expr::Select(select) if !select.test => {
            let operand = path_text(&select.operand);
            if operand.is_empty() {
                operand
            } else {
                format!("{operand}.{}", select.field)
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str, applies_to: AppliesTo) -> Result<(), RangeError> {
        let params = BTreeMap::from([
            ("names".to_string(), serde_json::json!(["a"])),
            ("limit".to_string(), serde_json::json!(3)),
        ]);
        check_ranges(&cel::Program::compile(source).unwrap(), applies_to, &params)
    }

    #[test]
    fn scalar_ranges_are_refused() {
        let error = check("port.all(c, true)", AppliesTo::Target).unwrap_err();
        assert_eq!(error.range, "port");
        assert!(error.message.contains("'port' is an integer"), "{}", error.message);
        assert!(check("host.exists(c, true)", AppliesTo::Target).is_err());
        assert!(check("params.limit.all(x, true)", AppliesTo::Target).is_err());
        assert!(check("tls.suites.all(s, s.name.all(c, true))", AppliesTo::Target).is_err());
        assert!(check("size(host).all(c, true)", AppliesTo::Target).is_err());
    }

    #[test]
    fn list_and_map_ranges_are_accepted() {
        for rule in [
            "tls.suites.all(s, !s.rc4)",
            "params.names.exists(n, n == host)",
            "certificate.trust.exists(store, certificate.trust[store].trusted)",
            "[1, 2].all(x, x > 0)",
            "tls.suites.map(s, s.name).all(n, n != '')",
        ] {
            check(rule, AppliesTo::Target).unwrap_or_else(|e| panic!("{rule}: {}", e.message));
        }
        check("nameservers.all(n, n.lame != true)", AppliesTo::Zone).unwrap();
    }

    #[test]
    fn message_literals_are_refused() {
        let error = check("size(tls.protocols) > 0 && Foo{a: 1} == 1", AppliesTo::Target).unwrap_err();
        assert_eq!((error.range.as_str(), error.followed_by), ("Foo", '{'));
    }
}
