//! The daemon's configuration file (`postura daemon --config FILE`, TOML; every key is in
//! `profiles/daemon.example.toml` and `docs/operations.md`). Read into span-keeping serde structs,
//! then checked as a whole: every problem is reported as `FILE:LINE:COLUMN: error: …` with a
//! suggested change (the renderer of profile diagnostics, `profile::diagnostic`), all of them at
//! once, before the daemon starts anything. Unknown keys are errors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::schedule::Schedule;
use crate::checks::model::Severity;
use crate::profile::diagnostic::{closest, render, Diagnostic};

/// Where every key is documented with an example.
const EXAMPLE: &str = "profiles/daemon.example.toml";

/// Caps on what a configuration may ask for (each documented in docs/operations.md).
pub const MAX_GRACE_SECS: i64 = 3600;
pub const MAX_CONCURRENT_SCANS: i64 = 64;
pub const MAX_WEBHOOK_TIMEOUT_SECS: i64 = 300;
pub const MAX_WEBHOOK_RETRIES: i64 = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    daemon: Option<RawDaemon>,
    #[serde(default)]
    profile: Vec<RawProfile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    db: Option<Spanned<String>>,
    metrics_address: Option<Spanned<String>>,
    grace_period: Option<Spanned<i64>>,
    max_concurrent_scans: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Spanned<String>,
    profile: Spanned<String>,
    schedule: Spanned<String>,
    output_dir: Spanned<String>,
    lang: Option<Spanned<String>>,
    scan_args: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    alert: Vec<RawAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    webhook: Spanned<String>,
    min_severity: Option<Spanned<String>>,
    timeout: Option<Spanned<i64>>,
    retries: Option<Spanned<i64>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    ca_file: Option<Spanned<String>>,
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: PathBuf,
    /// The scan store (default: the store's default place).
    pub db: PathBuf,
    /// Where `/metrics` and `/healthz` are served (none: not served).
    pub metrics_address: Option<SocketAddr>,
    /// How long items in flight may take to finish after SIGTERM/SIGINT.
    pub grace_period: Duration,
    pub max_concurrent_scans: usize,
    pub profiles: Vec<ProfileJob>,
}

/// One country profile scanned on a schedule.
#[derive(Debug, Clone)]
pub struct ProfileJob {
    /// Unique; in metrics, logs and report file names.
    pub name: String,
    /// The country profile (absolute).
    pub profile: PathBuf,
    pub schedule: Schedule,
    pub output_dir: PathBuf,
    pub lang: String,
    /// More `postura scan` options (e.g. `--concurrency 16`).
    pub scan_args: Vec<String>,
    pub alerts: Vec<AlertRule>,
    /// `FILE:LINE:COLUMN` of its `profile` key, for errors found when the profile is loaded.
    pub location: String,
}

/// Post a webhook when a finding at or above `min_severity` is new or regressed.
#[derive(Debug, Clone)]
pub struct AlertRule {
    pub webhook: url::Url,
    pub min_severity: Severity,
    /// For one attempt (connect, send, answer).
    pub timeout: Duration,
    /// Attempts after the first one, with exponential backoff.
    pub retries: u32,
    pub headers: Vec<(String, String)>,
    /// CA certificates (DER) trusted for an https:// webhook besides the Mozilla roots.
    pub roots: Vec<Vec<u8>>,
}

/// A configuration that cannot be used: the rendered diagnostics.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read the daemon configuration: {e}", path.display())))?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
        Config::parse(&text, path, &base)
    }

    /// Parse `text` (read from `source`); relative paths are taken from `base`.
    pub fn parse(text: &str, source: &Path, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError(render(vec![from_toml(&e, text)], text, source)))?;
        let mut checker = Checker { text, source, base, diagnostics: Vec::new() };
        let config = checker.config(raw);
        if checker.diagnostics.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(render(checker.diagnostics, text, source)))
        }
    }
}

struct Checker<'a> {
    text: &'a str,
    source: &'a Path,
    base: &'a Path,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, at: usize, message: impl Into<String>, help: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(at, message, help));
    }

    fn path(&self, text: &str) -> PathBuf {
        let path = Path::new(text);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    fn range(&mut self, value: Option<&Spanned<i64>>, key: &str, min: i64, max: i64, default: i64) -> i64 {
        let Some(value) = value else { return default };
        let n = *value.get_ref();
        if n < min || n > max {
            self.error(
                value.span().start,
                format!("`{key}` must be {min} to {max}, found {n}"),
                format!("write e.g. {key} = {default}"),
            );
            return default;
        }
        n
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let daemon = raw.daemon.unwrap_or(RawDaemon {
            db: None,
            metrics_address: None,
            grace_period: None,
            max_concurrent_scans: None,
        });
        let db = daemon.db.as_ref().map_or_else(crate::store::default_path, |d| {
            if crate::store::is_postgres_url(d.get_ref()) {
                PathBuf::from(d.get_ref())
            } else {
                self.path(d.get_ref())
            }
        });
        let metrics_address = daemon.metrics_address.as_ref().and_then(|a| match a.get_ref().parse::<SocketAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                self.error(
                    a.span().start,
                    format!("`metrics_address` must be ADDRESS:PORT, found \"{}\"", a.get_ref().escape_debug()),
                    "write e.g. metrics_address = \"127.0.0.1:9464\" (IPv6 as \"[::1]:9464\")",
                );
                None
            }
        });
        let grace = self.range(daemon.grace_period.as_ref(), "grace_period", 1, MAX_GRACE_SECS, 30);
        let concurrent =
            self.range(daemon.max_concurrent_scans.as_ref(), "max_concurrent_scans", 1, MAX_CONCURRENT_SCANS, 1);
        if raw.profile.is_empty() {
            self.error(
                0,
                "no [[profile]] to scan",
                "add a [[profile]] table with name, profile, schedule and output_dir",
            );
        }
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut profiles = Vec::new();
        for raw_profile in raw.profile {
            let name = raw_profile.name.get_ref();
            let at = raw_profile.name.span().start;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                self.error(
                    at,
                    format!("`name` must be letters, digits, `-` or `_`, found \"{}\"", name.escape_debug()),
                    "write e.g. name = \"uy\" (it names the report files and the metrics' profile label)",
                );
            } else if let Some(first) = names.insert(name.clone(), at) {
                let (line, _) = crate::profile::diagnostic::line_column(self.text, first);
                self.error(
                    at,
                    format!("a second profile named \"{name}\""),
                    format!("give each [[profile]] its own name (the first \"{name}\" is on line {line})"),
                );
            }
            if let Some(job) = self.profile(raw_profile) {
                profiles.push(job);
            }
        }
        Config {
            source: self.source.to_path_buf(),
            db,
            metrics_address,
            grace_period: Duration::from_secs(grace as u64),
            max_concurrent_scans: concurrent as usize,
            profiles,
        }
    }

    fn profile(&mut self, raw: RawProfile) -> Option<ProfileJob> {
        let mut ok = true;
        let profile = self.path(raw.profile.get_ref());
        let (line, column) = crate::profile::diagnostic::line_column(self.text, raw.profile.span().start);
        let location = format!("{}:{line}:{column}", self.source.display());
        if !profile.is_file() {
            ok = false;
            self.error(
                raw.profile.span().start,
                format!("no country profile at {}", profile.display()),
                "give the path of a profile file (relative paths are taken from the configuration's directory)",
            );
        }
        let schedule = match Schedule::parse(raw.schedule.get_ref()) {
            Ok(schedule) => Some(schedule),
            Err(why) => {
                self.error(
                    raw.schedule.span().start,
                    format!("`schedule` is not a cron pattern: {why}"),
                    "five fields, minute hour day-of-month month day-of-week, in UTC: e.g. schedule = \"0 3 * * 1\" (Mondays at 03:00); a sixth field in front gives seconds",
                );
                None
            }
        };
        if raw.output_dir.get_ref().is_empty() {
            ok = false;
            self.error(
                raw.output_dir.span().start,
                "`output_dir` is empty",
                "write e.g. output_dir = \"/var/lib/postura/reports/uy\"",
            );
        }
        let lang = raw.lang.as_ref().map_or("en".to_string(), |l| l.get_ref().clone());
        if !crate::report::i18n::LANGUAGES.contains(&lang.as_str()) {
            ok = false;
            let at = raw.lang.as_ref().map_or(0, |l| l.span().start);
            let help = match closest(&lang, crate::report::i18n::LANGUAGES) {
                Some(near) => format!("did you mean lang = \"{near}\"? one of en, es, pt, fr"),
                None => "write one of lang = \"en\", \"es\", \"pt\", \"fr\"".to_string(),
            };
            self.error(at, format!("`lang` \"{}\" is not a report language", lang.escape_debug()), help);
        }
        let scan_args = raw.scan_args.as_ref().map_or_else(Vec::new, |a| a.get_ref().clone());
        if let Some(spanned) = &raw.scan_args {
            if let Err(why) = check_scan_args(&scan_args) {
                ok = false;
                self.error(spanned.span().start, format!("`scan_args`: {why}"), "give only `postura scan` options, e.g. scan_args = [\"--concurrency\", \"16\", \"--no-revocation\"]; the daemon sets --profile, --db, --lang and the outputs itself");
            }
        }
        let mut alerts = Vec::new();
        for alert in raw.alert {
            if let Some(rule) = self.alert(alert) {
                alerts.push(rule);
            } else {
                ok = false;
            }
        }
        let schedule = schedule?;
        ok.then(|| ProfileJob {
            name: raw.name.get_ref().clone(),
            profile,
            schedule,
            output_dir: self.path(raw.output_dir.get_ref()),
            lang,
            scan_args,
            alerts,
            location,
        })
    }

    fn alert(&mut self, raw: RawAlert) -> Option<AlertRule> {
        let mut ok = true;
        let webhook = match url::Url::parse(raw.webhook.get_ref()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
            Ok(_) | Err(_) => {
                self.error(
                    raw.webhook.span().start,
                    format!(
                        "`webhook` must be an http:// or https:// URL, found \"{}\"",
                        raw.webhook.get_ref().escape_debug()
                    ),
                    "write e.g. webhook = \"https://alerts.example.org/postura\"",
                );
                None
            }
        };
        let min_severity = match &raw.min_severity {
            None => Severity::High,
            Some(text) => match text.get_ref().parse::<Severity>() {
                Ok(severity) => severity,
                Err(_) => {
                    ok = false;
                    let names = Severity::ALL.map(Severity::name);
                    let help = match closest(text.get_ref(), names) {
                        Some(near) => {
                            format!("did you mean min_severity = \"{near}\"? one of info, low, medium, high, critical")
                        }
                        None => {
                            "write one of min_severity = \"info\", \"low\", \"medium\", \"high\", \"critical\"".into()
                        }
                    };
                    self.error(
                        text.span().start,
                        format!("`min_severity` \"{}\" is not a severity", text.get_ref().escape_debug()),
                        help,
                    );
                    Severity::High
                }
            },
        };
        let timeout = self.range(raw.timeout.as_ref(), "timeout", 1, MAX_WEBHOOK_TIMEOUT_SECS, 10);
        let retries = self.range(raw.retries.as_ref(), "retries", 0, MAX_WEBHOOK_RETRIES, 3);
        let mut headers = Vec::new();
        for (name, value) in raw.headers {
            let valid_name = http::HeaderName::from_bytes(name.as_bytes()).is_ok();
            let valid_value = http::HeaderValue::from_str(value.get_ref()).is_ok();
            if !valid_name || !valid_value {
                ok = false;
                self.error(
                    value.span().start,
                    format!("header `{}` is not a valid HTTP header name and value", name.escape_debug()),
                    "write e.g. headers = { Authorization = \"Bearer …\" } (visible ASCII only)",
                );
            }
            headers.push((name, value.into_inner()));
        }
        let mut roots = Vec::new();
        if let Some(file) = &raw.ca_file {
            let path = self.path(file.get_ref());
            match std::fs::read(&path) {
                Ok(bytes) => {
                    roots = crate::cert::pem_blocks(&bytes);
                    let mut store = rustls::RootCertStore::empty();
                    let (added, _) = store.add_parsable_certificates(
                        roots.iter().map(|der| rustls_pki_types::CertificateDer::from(der.as_slice())),
                    );
                    if added == 0 {
                        ok = false;
                        self.error(
                            file.span().start,
                            format!("`ca_file` {} holds no PEM certificate", path.display()),
                            "give a PEM file of the CA certificate(s) that issued the receiver's certificate",
                        );
                    }
                }
                Err(error) => {
                    ok = false;
                    self.error(
                        file.span().start,
                        format!("`ca_file` {}: {error}", path.display()),
                        "give the path of a PEM file (relative paths are taken from the configuration's directory)",
                    );
                }
            }
        }
        let webhook = webhook?;
        ok.then(|| AlertRule {
            webhook,
            min_severity,
            timeout: Duration::from_secs(timeout as u64),
            retries: retries as u32,
            headers,
            roots,
        })
    }
}

/// `scan_args` must parse as `postura scan` options and leave the profile, the store, the
/// language and the outputs to the daemon.
fn check_scan_args(args: &[String]) -> Result<(), String> {
    const OWN: [&str; 9] =
        ["--profile", "--db", "--store", "--resume", "--json", "--html", "--csv", "--lang", "--quiet"];
    if let Some(own) = args.iter().find(|a| OWN.iter().any(|o| a == o || a.starts_with(&format!("{o}=")))) {
        return Err(format!("`{own}` is set by the daemon"));
    }
    let mut full = vec!["postura".to_string(), "scan".to_string(), "--profile".to_string(), "x".to_string()];
    full.extend(args.iter().cloned());
    let parsed = <crate::cli::Cli as clap::Parser>::try_parse_from(full).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("").trim_start_matches("error: ").to_string();
        first
    })?;
    match parsed.command {
        crate::cli::Command::Scan(scan) if !scan.targets.is_empty() => {
            Err(format!("target `{}`: the daemon scans the profile's endpoints only", scan.targets[0]))
        }
        _ => Ok(()),
    }
}

/// A `toml`/serde error as a diagnostic that talks about the configuration's keys.
fn from_toml(error: &toml::de::Error, text: &str) -> Diagnostic {
    let span = error.span().unwrap_or(0..0);
    let mut at = span.start.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let message = error.message().replace('\n', "; ");
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let _ = rest;
        let (key, allowed) = quoted.split_first().map_or(("?", &[][..]), |(k, a)| (*k, a));
        let list = allowed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        let help = match closest(key, allowed.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? keys allowed here: {list}"),
            None => format!("remove `{}`; keys allowed here: {list}", key.escape_debug()),
        };
        return Diagnostic::new(at, format!("unknown key `{}`", key.escape_debug()), help);
    }
    if message.starts_with("missing field ") {
        let key = quoted.first().copied().unwrap_or("?");
        let help = match KEYS.iter().find(|(k, _)| *k == key) {
            Some((_, example)) => format!("add {example}"),
            None => format!("add `{key}`; see {EXAMPLE}"),
        };
        return Diagnostic::new(at, format!("missing required key `{key}`"), help);
    }
    if message.starts_with("invalid type: ") {
        let key = key_before(text, at);
        let help = match key.and_then(|key| KEYS.iter().find(|(k, _)| *k == key)) {
            Some((_, example)) => format!("write it as {example}"),
            None => format!("see {EXAMPLE} for the type of each key"),
        };
        return Diagnostic::new(at, format!("wrong type: {}", message.trim_start_matches("invalid type: ")), help);
    }
    Diagnostic::new(
        at,
        format!("invalid TOML: {message}"),
        format!("fix the TOML syntax here; see {EXAMPLE} for the layout"),
    )
}

/// The key of the `key = value` whose value starts at `at` (best effort, for help texts).
fn key_before(text: &str, at: usize) -> Option<&str> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..at];
    let (key, _) = line.split_once('=')?;
    Some(key.trim())
}

/// Every key with an example value, for help texts.
const KEYS: &[(&str, &str)] = &[
    ("db", "db = \"/var/lib/postura/postura.db\""),
    ("metrics_address", "metrics_address = \"127.0.0.1:9464\""),
    ("grace_period", "grace_period = 30 (seconds)"),
    ("max_concurrent_scans", "max_concurrent_scans = 1"),
    ("name", "name = \"uy\""),
    ("profile", "profile = \"/etc/postura/profiles/uy.toml\""),
    ("schedule", "schedule = \"0 3 * * 1\" (cron, UTC)"),
    ("output_dir", "output_dir = \"/var/lib/postura/reports/uy\""),
    ("lang", "lang = \"en\""),
    ("scan_args", "scan_args = [\"--concurrency\", \"16\"]"),
    ("webhook", "webhook = \"https://alerts.example.org/postura\""),
    ("min_severity", "min_severity = \"high\""),
    ("timeout", "timeout = 10 (seconds)"),
    ("retries", "retries = 3"),
    ("headers", "headers = { Authorization = \"Bearer …\" }"),
    ("ca_file", "ca_file = \"/etc/postura/alerts-ca.pem\""),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zz.toml"), "").unwrap();
        Config::parse(text, Path::new("daemon.toml"), dir.path()).map_err(|e| e.0)
    }

    const GOOD: &str = r#"
[daemon]
db = "postura.db"
metrics_address = "127.0.0.1:9464"

[[profile]]
name = "zz"
profile = "zz.toml"
schedule = "0 3 * * 1"
output_dir = "reports"

[[profile.alert]]
webhook = "http://127.0.0.1:9/hook"
min_severity = "medium"
"#;

    #[test]
    fn a_good_configuration_parses_with_defaults() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.grace_period, Duration::from_secs(30));
        assert_eq!(config.max_concurrent_scans, 1);
        assert_eq!(config.profiles[0].alerts[0].min_severity, Severity::Medium);
        assert_eq!(config.profiles[0].alerts[0].retries, 3);
        assert!(config.db.is_absolute());
    }

    #[test]
    fn an_unknown_key_is_located_and_a_near_one_suggested() {
        let text = GOOD.replace("schedule = ", "schedul = \"x\"\nschedule = ");
        let error = parse(&text).unwrap_err();
        assert!(error.starts_with("daemon.toml:9:1: error: unknown key `schedul`"), "{error}");
        assert!(error.contains("did you mean `schedule`?"), "{error}");
    }

    #[test]
    fn every_semantic_problem_is_reported_at_its_place() {
        let text = GOOD
            .replace("0 3 * * 1", "0 3 * *")
            .replace("\"medium\"", "\"hihg\"")
            .replace("127.0.0.1:9464", "localhost");
        let error = parse(&text).unwrap_err();
        assert!(error.contains("daemon.toml:4:19: error: `metrics_address` must be ADDRESS:PORT"), "{error}");
        assert!(error.contains("daemon.toml:9:12: error: `schedule` is not a cron pattern"), "{error}");
        assert!(error.contains("daemon.toml:14:16: error: `min_severity` \"hihg\" is not a severity"), "{error}");
        assert!(error.contains("did you mean min_severity = \"high\"?"), "{error}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let text = GOOD.replace("min_severity = \"medium\"", "min_severity = \"medium\"\nca_file = \"zz.toml\"");
        let error = parse(&text).unwrap_err();
        assert!(
            error.contains("daemon.toml:15:11: error: `ca_file`") && error.contains("holds no PEM certificate"),
            "{error}"
        );
    }

    #[test]
    fn scan_args_that_the_daemon_owns_are_refused() {
        let text = GOOD.replace("output_dir = \"reports\"", "output_dir = \"reports\"\nscan_args = [\"--db\", \"x\"]");
        assert!(parse(&text).unwrap_err().contains("`--db` is set by the daemon"));
        let text = GOOD.replace("output_dir = \"reports\"", "output_dir = \"reports\"\nscan_args = [\"--bogus\"]");
        assert!(parse(&text).unwrap_err().contains("`scan_args`: unexpected argument '--bogus'"));
    }
}
