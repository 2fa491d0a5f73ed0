//! Check definitions as data: `checks/*.toml` parsed, validated and compiled once.
//!
//! A check names the facts it reads (paths into the target, zone or resolver document), a rule
//! in the Common Expression Language that is true when the check passes, evidence expressions
//! whose values go into a finding's `detail`, parameters a policy may override, references,
//! and its title and remediation in English, Spanish, Portuguese and French. Errors name the
//! file, line and column, the check id and what to change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::budget::{self, Guarded};
use super::model::Severity;
use super::rule_types;
use super::schema_paths::FactSchema;

/// The languages every built-in check is written in.
pub const LANGUAGES: [&str; 4] = ["en", "es", "pt", "fr"];

/// What a check is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppliesTo {
    Target,
    Zone,
    Resolver,
}

impl AppliesTo {
    pub fn name(self) -> &'static str {
        match self {
            AppliesTo::Target => "target",
            AppliesTo::Zone => "zone",
            AppliesTo::Resolver => "resolver",
        }
    }
}

pub const CATEGORIES: [&str; 6] = ["tls", "http", "certificate", "dns", "mail", "resolver"];

#[derive(Debug, Clone)]
pub struct Text {
    pub title: String,
    pub remediation: String,
}

/// A compiled check.
pub struct Check {
    pub id: String,
    pub category: String,
    pub applies_to: AppliesTo,
    /// Services the check applies to (empty: all).
    pub services: Vec<String>,
    pub severity: Severity,
    /// Fact paths that must be observed for the rule to be evaluated: present, not null, and
    /// (for a list) not empty. A field after a list is read in each item (`nameservers.lame`:
    /// observed when at least one nameserver has a `lame` value).
    pub facts: Vec<FactPath>,
    /// Facts of `facts` whose empty list is itself an observation (e.g. no key-exchange
    /// parameters on a TLS 1.3-only server), from the check's `may_be_empty`.
    pub may_be_empty: Vec<FactPath>,
    pub rule_source: String,
    pub rule: cel::Program,
    /// name → (source, program)
    pub evidence: Vec<(String, String, cel::Program)>,
    /// The rule and evidence rewritten to run within a budget (what the evaluation runs).
    pub guarded: GuardedCheck,
    pub params: BTreeMap<String, serde_json::Value>,
    pub references: Vec<String>,
    pub text: BTreeMap<String, Text>,
    pub source: PathBuf,
    pub line: usize,
    /// Part of the built-in catalog (selected by policies); checks added with `--checks` run
    /// whatever the policy.
    pub builtin: bool,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("id", &self.id).field("rule", &self.rule_source).finish()
    }
}

impl Check {
    /// Title and remediation in `lang`, falling back to English.
    pub fn text(&self, lang: &str) -> &Text {
        self.text.get(lang).or_else(|| self.text.get("en")).unwrap_or_else(|| {
            // Validation guarantees an English text; this branch is unreachable for loaded checks.
            static EMPTY: std::sync::OnceLock<Text> = std::sync::OnceLock::new();
            EMPTY.get_or_init(|| Text { title: String::new(), remediation: String::new() })
        })
    }
}

/// A check's rule and evidence (in the order of `Check::evidence`) as evaluated: instrumented
/// with the step budget of `budget.rs`.
#[derive(Debug, Clone)]
pub struct GuardedCheck {
    pub rule: Guarded,
    pub evidence: Vec<Guarded>,
}

/// A dotted fact path with bracketed map keys: `tls.protocol_details["TLSv1.0"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactPath {
    pub text: String,
    pub segments: Vec<String>,
}

impl FactPath {
    pub fn parse(text: &str) -> Result<FactPath, String> {
        let mut segments = Vec::new();
        let mut rest = text.trim();
        let mut first = true;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
                let Some(quote) = quote else {
                    return Err(format!("'{text}': expected a quoted key after '['"));
                };
                let inner = &after[1..];
                let end = inner.find(quote).ok_or_else(|| format!("'{text}': unterminated key"))?;
                segments.push(inner[..end].to_string());
                rest = inner[end + 1..]
                    .strip_prefix(']')
                    .ok_or_else(|| format!("'{text}': expected ']' after the key"))?;
            } else {
                let body = if first {
                    rest
                } else {
                    rest.strip_prefix('.').ok_or_else(|| format!("'{text}': expected '.' or '['"))?
                };
                let end = body.find(['.', '[']).unwrap_or(body.len());
                let name = &body[..end];
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("'{text}': '{name}' is not a field name"));
                }
                segments.push(name.to_string());
                rest = &body[end..];
            }
            first = false;
        }
        if segments.is_empty() {
            return Err("empty fact path".into());
        }
        Ok(FactPath { text: text.to_string(), segments })
    }

    /// Whether the facts hold an observation at this path: some value there (in some item, for
    /// a field read through a list) that is not null and, unless `empty_observed`, not an
    /// empty list. "Nothing observed" is what makes a check inconclusive instead of letting
    /// `all()` over an empty list pass.
    pub fn observed(&self, document: &serde_json::Value, empty_observed: bool) -> bool {
        fn walk(value: &serde_json::Value, segments: &[String], empty_observed: bool) -> bool {
            let Some((segment, rest)) = segments.split_first() else {
                return match value {
                    serde_json::Value::Null => false,
                    serde_json::Value::Array(items) => empty_observed || !items.is_empty(),
                    _ => true,
                };
            };
            match value {
                serde_json::Value::Object(map) => map.get(segment).is_some_and(|v| walk(v, rest, empty_observed)),
                serde_json::Value::Array(items) => match segment.parse::<usize>() {
                    Ok(index) => items.get(index).is_some_and(|v| walk(v, rest, empty_observed)),
                    Err(_) => items.iter().any(|item| walk(item, segments, empty_observed)),
                },
                _ => false,
            }
        }
        walk(document, &self.segments, empty_observed)
    }

    /// The value at this path, if present and not null.
    pub fn lookup<'a>(&self, document: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        let mut value = document;
        for segment in &self.segments {
            value = match value {
                serde_json::Value::Object(map) => map.get(segment)?,
                serde_json::Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        (!value.is_null()).then_some(value)
    }
}

/// One problem in a check file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub check: Option<String>,
    pub message: String,
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if let Some(check) = &self.check {
            write!(f, "check {check}: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    check: Vec<Spanned<RawCheck>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: Spanned<String>,
    category: Spanned<String>,
    #[serde(default)]
    applies_to: Option<Spanned<String>>,
    /// Only targets of these services (e.g. ["https"]); absent: every target.
    #[serde(default)]
    services: Vec<String>,
    severity: Spanned<String>,
    facts: Spanned<Vec<Spanned<String>>>,
    /// Facts (among `facts`) whose empty list is an observation rather than "nothing observed".
    #[serde(default)]
    may_be_empty: Vec<Spanned<String>>,
    rule: Spanned<String>,
    #[serde(default)]
    evidence: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    #[serde(default)]
    references: Vec<String>,
    text: BTreeMap<String, Spanned<RawText>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    title: String,
    remediation: String,
}

/// 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parse one check file. `builtin` marks the checks of the catalog directory (selected by
/// policies) as opposed to those added with `--checks` (always run).
pub fn parse_file(
    text: &str,
    file: &Path,
    schemas: &FactSchema,
    builtin: bool,
) -> Result<Vec<Check>, Vec<CatalogError>> {
    let error_at = |offset: usize, check: Option<&str>, message: String| {
        let (line, column) = line_column(text, offset);
        CatalogError { file: file.to_path_buf(), line, column, check: check.map(str::to_string), message }
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => {
            let offset = error.span().map_or(0, |s| s.start);
            return Err(vec![error_at(offset, None, error.message().trim().to_string())]);
        }
    };
    let mut errors = Vec::new();
    let mut checks = Vec::new();
    for spanned in raw.check {
        let check_offset = spanned.span().start;
        let raw = spanned.into_inner();
        let id = raw.id.get_ref().clone();
        let here = |offset: usize, message: String| error_at(offset, Some(&id), message);
        let before = errors.len();

        let id_valid = id.split('.').count() >= 2
            && id
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        if !id_valid {
            errors.push(here(
                raw.id.span().start,
                "id must be dotted lower-case words, e.g. \"tls.protocol.tls10\"".into(),
            ));
        }
        let category = raw.category.get_ref().clone();
        if !CATEGORIES.contains(&category.as_str()) {
            errors.push(here(
                raw.category.span().start,
                format!("unknown category '{category}': use one of {}", CATEGORIES.join(", ")),
            ));
        }
        let applies_to = match raw.applies_to.as_ref().map(|a| (a.get_ref().as_str(), a.span().start)) {
            None | Some(("target", _)) => AppliesTo::Target,
            Some(("zone", _)) => AppliesTo::Zone,
            Some(("resolver", _)) => AppliesTo::Resolver,
            Some((other, offset)) => {
                errors.push(here(offset, format!("applies_to '{other}': use target, zone or resolver")));
                AppliesTo::Target
            }
        };
        let severity = match raw.severity.get_ref().parse::<Severity>() {
            Ok(severity) => severity,
            Err(message) => {
                errors.push(here(raw.severity.span().start, message));
                Severity::Info
            }
        };
        let schema = schemas.for_scope(applies_to);
        let mut facts = Vec::new();
        if raw.facts.get_ref().is_empty() {
            errors.push(here(
                raw.facts.span().start,
                "facts is empty: name the facts the rule reads, so that a check without them is inconclusive".into(),
            ));
        }
        for fact in raw.facts.get_ref() {
            match FactPath::parse(fact.get_ref()).and_then(|path| schema.check_path(&path).map(|_| path)) {
                Ok(path) => facts.push(path),
                Err(message) => errors.push(here(fact.span().start, format!("unknown fact: {message}"))),
            }
        }
        let mut may_be_empty = Vec::new();
        for entry in &raw.may_be_empty {
            match facts.iter().find(|f| f.text == *entry.get_ref()) {
                Some(fact) if schema.is_list(fact) => may_be_empty.push(fact.clone()),
                Some(_) => {
                    errors.push(here(entry.span().start, format!("may_be_empty: '{}' is not a list", entry.get_ref())))
                }
                None => errors.push(here(
                    entry.span().start,
                    format!("may_be_empty: '{}' is not one of the check's facts", entry.get_ref()),
                )),
            }
        }
        let roots = schema.roots();
        let params: BTreeMap<String, serde_json::Value> = raw
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null)))
            .collect();
        let compile = |spanned: &Spanned<String>, what: &str, errors: &mut Vec<CatalogError>| -> Option<cel::Program> {
            let (source, offset) = (spanned.get_ref().as_str(), spanned.span().start);
            if let Err(message) = budget::check_source(source) {
                errors.push(here(offset, format!("{what} {message}")));
                return None;
            }
            match cel::Program::compile(source) {
                Ok(program) => {
                    let references = program.references();
                    let bound = macro_variables(source);
                    let unknown: Vec<String> = references
                        .variables()
                        .into_iter()
                        .filter(|v| !roots.contains(*v) && *v != "params" && !bound.contains(*v))
                        .map(str::to_string)
                        .collect();
                    let unknown_functions = unknown_functions(&program);
                    if !unknown_functions.is_empty() {
                        errors.push(here(
                            offset,
                            format!(
                                "{what} calls unknown function(s) {}: the rule language has {}",
                                unknown_functions.join(", "),
                                FUNCTIONS.join(", ")
                            ),
                        ));
                        return None;
                    }
                    if !unknown.is_empty() {
                        errors.push(here(
                            offset,
                            format!(
                                "{what} reads unknown fact(s) {}: the {} document has {}",
                                unknown.join(", "),
                                applies_to.name(),
                                roots.iter().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                        return None;
                    }
                    if let Err(error) = rule_types::check_ranges(&program, applies_to, &params) {
                        errors.push(here(
                            range_offset(text, spanned.span(), &error),
                            format!("{what}: {}", error.message),
                        ));
                        return None;
                    }
                    Some(program)
                }
                Err(error) => {
                    let detail = error.errors.first().map(|e| e.msg.clone()).unwrap_or_else(|| "syntax error".into());
                    errors.push(here(offset, format!("{what} is not valid CEL: {detail}")));
                    None
                }
            }
        };
        let rule = compile(&raw.rule, "rule", &mut errors);
        let mut evidence = Vec::new();
        for (name, source) in &raw.evidence {
            if let Some(program) = compile(source, &format!("evidence '{name}'"), &mut errors) {
                evidence.push((name.clone(), source.get_ref().clone(), program));
            }
        }
        let mut texts = BTreeMap::new();
        for (lang, text) in &raw.text {
            if !LANGUAGES.contains(&lang.as_str()) {
                errors.push(here(text.span().start, format!("unknown language '{lang}': use en, es, pt or fr")));
            }
            let t = text.get_ref();
            if t.title.trim().is_empty() || t.remediation.trim().is_empty() {
                errors.push(here(text.span().start, format!("text.{lang}: title and remediation must not be empty")));
            }
            texts.insert(lang.clone(), Text { title: t.title.clone(), remediation: t.remediation.clone() });
        }
        // Missing translations fall back to English at run time; the shipped catalog's
        // completeness is enforced by a test, so that a file dropped into checks/ still works.
        for lang in &["en"] {
            if !texts.contains_key(*lang) {
                errors.push(here(
                    check_offset,
                    format!("missing translation: add [check.text.{lang}] with title and remediation"),
                ));
            }
        }
        if errors.len() == before {
            if let Some(rule) = rule {
                let (line, _) = line_column(text, check_offset);
                let guarded = GuardedCheck {
                    rule: Guarded::new(&rule),
                    evidence: evidence.iter().map(|(_, _, program)| Guarded::new(program)).collect(),
                };
                checks.push(Check {
                    id,
                    category,
                    applies_to,
                    services: raw.services.clone(),
                    severity,
                    facts,
                    may_be_empty,
                    rule_source: raw.rule.get_ref().clone(),
                    rule,
                    evidence,
                    guarded,
                    params,
                    references: raw.references.clone(),
                    text: texts,
                    source: file.to_path_buf(),
                    line,
                    builtin,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(checks)
    } else {
        Err(errors)
    }
}

/// Functions a rule or evidence expression may call (the `cel` crate's standard functions;
/// `all`, `exists`, `filter`, `map` and `has` are macros, operators are not named this way).
/// `string()` accepts any value here, `null` and booleans included (see `evaluate`).
pub const FUNCTIONS: [&str; 24] = [
    "contains",
    "size",
    "max",
    "min",
    "startsWith",
    "endsWith",
    "string",
    "bytes",
    "double",
    "int",
    "uint",
    "matches",
    "duration",
    "timestamp",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// Functions an expression calls that the evaluator does not provide: such an expression would
/// fail at every evaluation (`join`, `trim`…), so it is refused when the catalog loads.
fn unknown_functions(program: &cel::Program) -> Vec<String> {
    let references = program.references();
    let mut unknown: Vec<String> = references
        .functions()
        .into_iter()
        // Operators are named `_==_`, `!_`, `@in`…: only plain names are functions.
        .filter(|name| name.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter(|name| !FUNCTIONS.contains(name))
        .map(str::to_string)
        .collect();
    unknown.sort();
    unknown
}

/// Where the text an error is about (the range of a comprehension, e.g. `port` in
/// `port.all(c, true)`) is written inside the TOML string at `span`, so the error points at it;
/// else the string's start.
fn range_offset(text: &str, span: std::ops::Range<usize>, error: &rule_types::RangeError) -> usize {
    let (range, followed_by) = (error.range.as_str(), error.followed_by);
    let written = text.get(span.clone()).unwrap_or("");
    if range.is_empty() {
        return span.start;
    }
    let mut from = 0;
    while let Some(at) = written[from..].find(range) {
        let start = from + at;
        let before = written[..start].chars().next_back();
        let after = written[start + range.len()..].trim_start();
        let starts_a_name = before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
        if starts_a_name && after.starts_with(followed_by) {
            return span.start + start;
        }
        from = start + range.len();
    }
    span.start
}

/// Names bound by comprehension macros (`list.exists(s, …)`): local to the rule, not facts.
fn macro_variables(source: &str) -> BTreeSet<String> {
    let mut bound = BTreeSet::new();
    for name in ["exists_one", "exists", "all", "filter", "map"] {
        let needle = format!(".{name}(");
        let mut rest = source;
        while let Some(at) = rest.find(&needle) {
            rest = &rest[at + needle.len()..];
            let variable: String =
                rest.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let after = rest.trim_start()[variable.len()..].trim_start();
            if !variable.is_empty() && after.starts_with(',') {
                bound.insert(variable);
            }
        }
    }
    bound
}

/// The built-in catalog, embedded at build time (used when no checks directory is found).
const BUILTIN: &[(&str, &str)] = &[
    ("checks/tls.toml", include_str!("../../checks/tls.toml")),
    ("checks/http.toml", include_str!("../../checks/http.toml")),
    ("checks/cert.toml", include_str!("../../checks/cert.toml")),
    ("checks/dns.toml", include_str!("../../checks/dns.toml")),
    ("checks/mail.toml", include_str!("../../checks/mail.toml")),
];

/// The built-in check files as embedded (path under the source tree, text), for a report bundle's
/// copy of the catalog it was judged with.
pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
    BUILTIN
}

/// The catalog: every check by id.
pub struct Catalog {
    pub checks: Vec<Check>,
    /// Where the checks came from (for the report's methodology).
    pub sources: Vec<String>,
}

impl Catalog {
    /// The built-in checks: the copy embedded in the binary, or the whole catalog directory named
    /// by `POSTURA_CHECKS_DIR` (the documented override). Never the source tree the binary was
    /// built from: a scan must not depend on where it was compiled.
    pub fn builtin() -> Result<Catalog, Vec<CatalogError>> {
        let schemas = FactSchema::new();
        if let Some(dir) = builtin_dir() {
            let mut catalog = Catalog { checks: Vec::new(), sources: Vec::new() };
            catalog.add_dir(&dir, &schemas, true)?;
            return Ok(catalog);
        }
        let mut checks = Vec::new();
        let mut errors = Vec::new();
        for (name, text) in BUILTIN {
            match parse_file(text, Path::new(name), &schemas, true) {
                Ok(found) => checks.extend(found),
                Err(found) => errors.extend(found),
            }
        }
        if errors.is_empty() {
            Ok(Catalog { checks, sources: vec!["built-in".into()] })
        } else {
            Err(errors)
        }
    }

    /// Add (or replace, by id) the checks of every `*.toml` file in `dir`.
    pub fn add_dir(&mut self, dir: &Path, schemas: &FactSchema, builtin: bool) -> Result<(), Vec<CatalogError>> {
        let found = load_dir(dir, schemas, builtin)?;
        for check in found {
            self.checks.retain(|c| c.id != check.id);
            self.checks.push(check);
        }
        self.checks.sort_by(|a, b| a.id.cmp(&b.id));
        self.sources.push(dir.display().to_string());
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    pub fn ids(&self) -> BTreeSet<String> {
        self.checks.iter().map(|c| c.id.clone()).collect()
    }
}

fn builtin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("POSTURA_CHECKS_DIR") {
        return Some(PathBuf::from(dir));
    }
    None
}

/// Parse every `*.toml` file of a directory; ids must be unique within it.
pub fn load_dir(dir: &Path, schemas: &FactSchema, builtin: bool) -> Result<Vec<Check>, Vec<CatalogError>> {
    let unreadable =
        |message: String| vec![CatalogError { file: dir.to_path_buf(), line: 0, column: 0, check: None, message }];
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(format!("cannot read the checks directory: {e}")))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut checks: Vec<Check> = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                errors.push(CatalogError {
                    file: file.clone(),
                    line: 0,
                    column: 0,
                    check: None,
                    message: format!("cannot read: {error}"),
                });
                continue;
            }
        };
        match parse_file(&text, &file, schemas, builtin) {
            Ok(found) => {
                for check in found {
                    if let Some(first) = checks.iter().find(|c| c.id == check.id) {
                        errors.push(CatalogError {
                            file: file.clone(),
                            line: check.line,
                            column: 1,
                            check: Some(check.id.clone()),
                            message: format!(
                                "duplicate id: already defined at {}:{}",
                                first.source.display(),
                                first.line
                            ),
                        });
                    } else {
                        checks.push(check);
                    }
                }
            }
            Err(found) => errors.extend(found),
        }
    }
    if errors.is_empty() {
        Ok(checks)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_paths_parse_with_bracketed_keys() {
        let path = FactPath::parse("tls.protocol_details[\"TLSv1.0\"].accepted").unwrap();
        assert_eq!(path.segments, vec!["tls", "protocol_details", "TLSv1.0", "accepted"]);
        assert!(FactPath::parse("tls..x").is_err());
        assert!(FactPath::parse("tls[TLSv1]").is_err());
        let doc = serde_json::json!({"tls": {"protocol_details": {"TLSv1.0": {"accepted": false}}, "n": null}});
        assert_eq!(path.lookup(&doc), Some(&serde_json::json!(false)));
        assert_eq!(FactPath::parse("tls.n").unwrap().lookup(&doc), None);
    }

    #[test]
    fn facts_are_observed_only_when_something_was_seen() {
        let doc = serde_json::json!({
            "nameservers": [{"lame": null, "edns": {"opt": null}}, {"lame": false, "edns": {"opt": null}}],
            "silent": [{"lame": null}],
            "empty": [],
            "mx": [{"tlsa": []}, {"tlsa": [1]}],
            "none": [{"tlsa": []}]
        });
        let seen = |path: &str, empty: bool| FactPath::parse(path).unwrap().observed(&doc, empty);
        assert!(seen("nameservers.lame", false));
        assert!(!seen("silent.lame", false));
        assert!(!seen("nameservers.edns.opt", false));
        assert!(!seen("empty", false));
        assert!(seen("empty", true));
        assert!(seen("mx.tlsa", false));
        assert!(!seen("none.tlsa", false));
        assert!(seen("none.tlsa", true));
        assert!(!seen("absent", true));
        assert!(seen("nameservers.1.lame", false));
        assert!(!seen("nameservers.0.lame", false));
    }

    fn one_check(extra: &str, rule: &str, evidence: &str) -> String {
        format!(
            "[[check]]\nid = \"dns.x.y\"\ncategory = \"dns\"\napplies_to = \"zone\"\nseverity = \"low\"\nfacts = [\"nameservers.lame\", \"delegation.glue\"]\n{extra}rule = \"{rule}\"\n[check.evidence]\ne = \"{evidence}\"\n[check.text.en]\ntitle = \"t\"\nremediation = \"r\"\n"
        )
    }

    #[test]
    fn unknown_functions_and_bad_may_be_empty_are_refused_at_load() {
        let schemas = FactSchema::new();
        let parse = |text: &str| parse_file(text, Path::new("x.toml"), &schemas, false);
        assert!(parse(&one_check("", "true", "string(size(delegation.glue))")).is_ok());
        let errors = parse(&one_check("", "true", "delegation.glue.join(' ')")).unwrap_err();
        assert!(errors[0].message.contains("unknown function(s) join"), "{errors:?}");
        assert!(parse(&one_check("may_be_empty = [\"delegation.glue\"]\n", "true", "1")).is_ok());
        let errors = parse(&one_check("may_be_empty = [\"nameservers.lame\"]\n", "true", "1")).unwrap_err();
        assert!(errors[0].message.contains("not a list"), "{errors:?}");
        let errors = parse(&one_check("may_be_empty = [\"delegation.addresses\"]\n", "true", "1")).unwrap_err();
        assert!(errors[0].message.contains("not one of the check's facts"), "{errors:?}");
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_column("a\nbc\nd", 3), (2, 2));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}

#[cfg(test)]
mod builtin_tests {
    use super::*;

    #[test]
    fn every_check_file_is_embedded_in_the_binary() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("checks");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| format!("checks/{}", p.file_name().unwrap().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = BUILTIN.iter().map(|(name, _)| name.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "add new files of checks/ to BUILTIN in src/checks/catalog.rs");
    }
}
