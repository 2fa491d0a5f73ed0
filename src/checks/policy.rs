//! Policy baselines (`profiles/policies/<name>.toml`): which checks apply, with which parameter
//! values and severities. A country profile names one; `--policy` overrides it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::catalog::{line_column, Catalog, CatalogError, Check};
use super::model::Severity;
use super::score::ScoreCaps;

pub const DEFAULT_POLICY: &str = "mozilla-intermediate";

#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub title: String,
    pub source: String,
    include: Vec<String>,
    exclude: Vec<String>,
    params: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    severity: BTreeMap<String, Severity>,
    /// The score caps per severity of an item's worst failure (`[score_caps]`, docs/scoring.md).
    pub score_caps: ScoreCaps,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Spanned<String>,
    title: String,
    #[serde(default)]
    description: String,
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, BTreeMap<String, toml::Value>>,
    #[serde(default)]
    severity: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Severity → the highest score an item whose worst failure has it may get.
    #[serde(default)]
    score_caps: Option<Spanned<BTreeMap<String, f64>>>,
}

const BUILTIN: &[(&str, &str)] = &[
    ("mozilla-intermediate", include_str!("../../profiles/policies/mozilla-intermediate.toml")),
    ("mozilla-modern", include_str!("../../profiles/policies/mozilla-modern.toml")),
    ("nist-800-52r2", include_str!("../../profiles/policies/nist-800-52r2.toml")),
    ("bsi-tr-02102-2", include_str!("../../profiles/policies/bsi-tr-02102-2.toml")),
    ("ncsc-nl", include_str!("../../profiles/policies/ncsc-nl.toml")),
    ("pqc-2030", include_str!("../../profiles/policies/pqc-2030.toml")),
];

/// The text of a built-in policy, for a report bundle's copy of the policy it was judged with.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

fn pattern_matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => pattern == id,
    }
}

impl Policy {
    /// A policy by name (from `POSTURA_POLICIES_DIR` when it has that file, else built in) or by
    /// file path. The directory postura was built in is never read.
    pub fn load(name_or_path: &str, catalog: &Catalog) -> Result<Policy, Vec<CatalogError>> {
        let path = Path::new(name_or_path);
        if name_or_path.ends_with(".toml") || path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| {
                vec![CatalogError {
                    file: path.to_path_buf(),
                    line: 0,
                    column: 0,
                    check: None,
                    message: format!("cannot read policy: {e}"),
                }]
            })?;
            return Policy::parse(&text, path, catalog);
        }
        for dir in policy_dirs() {
            let file = dir.join(format!("{name_or_path}.toml"));
            if let Ok(text) = std::fs::read_to_string(&file) {
                return Policy::parse(&text, &file, catalog);
            }
        }
        match BUILTIN.iter().find(|(name, _)| *name == name_or_path) {
            Some((name, text)) => {
                Policy::parse(text, &PathBuf::from(format!("profiles/policies/{name}.toml")), catalog)
            }
            None => Err(vec![CatalogError {
                file: PathBuf::from(name_or_path),
                line: 0,
                column: 0,
                check: None,
                message: format!(
                    "unknown policy '{name_or_path}': use one of {} or a .toml file",
                    builtin_names().join(", ")
                ),
            }]),
        }
    }

    pub fn parse(text: &str, file: &Path, catalog: &Catalog) -> Result<Policy, Vec<CatalogError>> {
        let at = |offset: usize, check: Option<&str>, message: String| {
            let (line, column) = line_column(text, offset);
            CatalogError { file: file.to_path_buf(), line, column, check: check.map(str::to_string), message }
        };
        let raw: RawPolicy = toml::from_str(text)
            .map_err(|e| vec![at(e.span().map_or(0, |s| s.start), None, e.message().trim().to_string())])?;
        let _ = raw.description;
        let mut errors = Vec::new();
        let ids = catalog.ids();
        let known_pattern = |pattern: &str| ids.iter().any(|id| pattern_matches(pattern, id));
        for pattern in raw.include.iter().chain(&raw.exclude) {
            // A wildcard may select a family that has no checks yet; an exact id must exist.
            if !pattern.get_ref().ends_with('*') && !known_pattern(pattern.get_ref()) {
                errors.push(at(
                    pattern.span().start,
                    None,
                    format!("'{}' matches no check id (see `postura checks list`)", pattern.get_ref()),
                ));
            }
        }
        let mut params = BTreeMap::new();
        for (id, values) in &raw.params {
            match catalog.get(id.get_ref()) {
                None => errors.push(at(id.span().start, Some(id.get_ref()), "unknown check id in [params]".into())),
                Some(check) => {
                    for key in values.keys() {
                        if !check.params.contains_key(key) {
                            let known: Vec<&String> = check.params.keys().collect();
                            errors.push(at(
                                id.span().start,
                                Some(id.get_ref()),
                                format!("unknown parameter '{key}' (the check has: {known:?})"),
                            ));
                        }
                    }
                    let converted = values
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null)))
                        .collect();
                    params.insert(id.get_ref().clone(), converted);
                }
            }
        }
        let mut severity = BTreeMap::new();
        for (id, level) in &raw.severity {
            if catalog.get(id.get_ref()).is_none() {
                errors.push(at(id.span().start, Some(id.get_ref()), "unknown check id in [severity]".into()));
            }
            match level.get_ref().parse::<Severity>() {
                Ok(level) => {
                    severity.insert(id.get_ref().clone(), level);
                }
                Err(message) => errors.push(at(level.span().start, Some(id.get_ref()), message)),
            }
        }
        let score_caps = match &raw.score_caps {
            None => ScoreCaps::default(),
            Some(table) => {
                let mut values = BTreeMap::new();
                for (level, value) in table.get_ref() {
                    match level.parse::<Severity>() {
                        Ok(level) => {
                            values.insert(level, *value);
                        }
                        Err(message) => errors.push(at(table.span().start, None, format!("[score_caps]: {message}"))),
                    }
                }
                ScoreCaps::new(&values).unwrap_or_else(|message| {
                    errors.push(at(table.span().start, None, format!("[score_caps]: {message}")));
                    ScoreCaps::default()
                })
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Policy {
            name: raw.name.into_inner(),
            title: raw.title,
            source: file.display().to_string(),
            include: raw.include.into_iter().map(Spanned::into_inner).collect(),
            exclude: raw.exclude.into_iter().map(Spanned::into_inner).collect(),
            params,
            severity,
            score_caps,
        })
    }

    pub fn selects(&self, id: &str) -> bool {
        self.include.iter().any(|p| pattern_matches(p, id)) && !self.exclude.iter().any(|p| pattern_matches(p, id))
    }

    pub fn severity(&self, check: &Check) -> Severity {
        self.severity.get(&check.id).copied().unwrap_or(check.severity)
    }

    /// The check's parameters with this policy's values over the defaults.
    pub fn params(&self, check: &Check) -> BTreeMap<String, serde_json::Value> {
        let mut values = check.params.clone();
        if let Some(overrides) = self.params.get(&check.id) {
            values.extend(overrides.clone());
        }
        values
    }
}

fn policy_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("POSTURA_POLICIES_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_caps_come_from_the_policy_and_are_checked() {
        let catalog = Catalog::builtin().unwrap();
        let file = Path::new("caps.toml");
        let text = "name = \"x\"\ntitle = \"x\"\ninclude = [\"tls.*\"]\n\n[score_caps]\ncritical = 10\n";
        let policy = Policy::parse(text, file, &catalog).unwrap();
        assert_eq!(policy.score_caps.band(Severity::Critical), Some((0.0, 10.0)));
        assert_eq!(policy.score_caps.band(Severity::High), Some((10.0, 50.0)));
        let bad = text.replace("critical = 10", "critical = 60");
        let errors = Policy::parse(&bad, file, &catalog).unwrap_err();
        assert_eq!(errors[0].line, 5, "{errors:?}");
        assert!(errors[0].message.contains("above the high cap"), "{errors:?}");
        let builtin = Policy::load("mozilla-intermediate", &catalog).unwrap();
        assert_eq!(builtin.score_caps, ScoreCaps::default());
    }
}
