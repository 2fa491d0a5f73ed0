//! The command line: raw flags (clap) are validated first, then turned into the working
//! configuration (targets and scan options). Exit codes: 0 done, 2 usage or input error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::checks::catalog::{load_dir, Catalog, CatalogError};
use crate::checks::evaluate::Exception;
use crate::checks::model::{Severity, Status};
use crate::checks::policy::{Policy, DEFAULT_POLICY};
use crate::checks::schema_paths::FactSchema;
use crate::checks::Assessor;
use crate::engine::{run, Progress, ScanOptions};
use crate::facts::{CountryInfo, ScanReport, ToolInfo, SCHEMA_VERSION};
use crate::profile::Profile;
use crate::target::{apply_pins, parse_resolve, parse_target, specs_from_profile, TargetSpec};

pub const EXIT_OK: u8 = 0;
/// A failing finding at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "postura",
    version,
    about = "Assess the TLS, DNS, certificate and mail posture of a country's critical telecom infrastructure",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan targets given on the command line or declared in a country profile.
    Scan(ScanArgs),
    /// Work with country profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Print the JSON Schema of the scan result document.
    Schema,
    /// The check catalog: list, show, validate.
    #[command(subcommand)]
    Checks(ChecksCommand),
    /// Render a saved scan (`scan --json`) as an HTML report and/or CSV, or several countries'
    /// scans as a regional HTML report (`--regional`).
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The scan document to report on (written by `postura scan --json`).
    #[arg(long, value_name = "FILE", required_unless_present = "regional", conflicts_with = "regional")]
    pub input: Option<PathBuf>,
    /// The previous scan of the same profile: adds new, resolved and regressed findings and the
    /// index change.
    #[arg(long, value_name = "FILE", requires = "input")]
    pub previous: Option<PathBuf>,
    /// Several countries' scan documents, compared side by side in one HTML report.
    #[arg(long, value_name = "FILE", num_args = 2..)]
    pub regional: Vec<PathBuf>,
    /// Write the HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write one CSV row per finding to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "regional")]
    pub csv: Option<PathBuf>,
    /// Language of the report (fixed strings, check titles and remediation, dates, numbers).
    #[arg(long, default_value = "en", value_parser = ["en", "es", "pt", "fr"])]
    pub lang: String,
    /// Override the built-in templates with those of DIR (same names: country.hbs,
    /// regional.hbs, partials/*.hbs, i18n/<lang>.toml).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Add the checks of DIR (repeatable), for titles and remediation of custom checks.
    #[arg(long, value_name = "DIR")]
    pub checks: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ChecksCommand {
    /// List the checks (id, severity, title).
    List {
        /// Only this category (tls, http, certificate, dns, mail, resolver).
        #[arg(long)]
        category: Option<String>,
        #[arg(long, default_value = "en", value_parser = ["en", "es", "pt", "fr"])]
        lang: String,
        /// Add the checks of DIR (repeatable).
        #[arg(long, value_name = "DIR")]
        checks: Vec<PathBuf>,
    },
    /// Show one check: rule, facts, parameters, references, remediation.
    Show {
        id: String,
        #[arg(long, default_value = "en", value_parser = ["en", "es", "pt", "fr"])]
        lang: String,
        /// Add the checks of DIR (repeatable).
        #[arg(long, value_name = "DIR")]
        checks: Vec<PathBuf>,
    },
    /// Validate check files (the built-in catalog, or DIR); errors name file:line:column.
    Validate {
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Validate a profile; errors name file:line:column and what to change.
    Check {
        /// The profile file (TOML).
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Targets as HOST[:PORT] (TLS, default port 443); IPv6 as [ADDR]:PORT.
    pub targets: Vec<String>,
    /// Scan the endpoints a country profile declares (within its declared scope).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Use ADDRESS for HOST:PORT instead of DNS, as curl's option does (repeatable).
    #[arg(long, value_name = "HOST:PORT:ADDRESS[,ADDRESS]")]
    pub resolve: Vec<String>,
    /// Write the results as JSON to FILE ("-" for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Targets scanned at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Connections at once to one address.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub per_host: u32,
    /// Seconds allowed per connection (connect, send, and the server's answer).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Seconds allowed per target, everything included.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub deadline: f64,
    /// Scan every IPv4 and IPv6 address of each name, not just the first.
    #[arg(long)]
    pub all_addresses: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Policy baseline (name, or a .toml file); default: the profile's, else mozilla-intermediate.
    #[arg(long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// Add (or override, by id) the checks of DIR (repeatable).
    #[arg(long, value_name = "DIR")]
    pub checks: Vec<PathBuf>,
    /// Exit 1 when a failing finding has at least this severity.
    #[arg(long, value_name = "SEVERITY", value_parser = ["info", "low", "medium", "high", "critical"])]
    pub fail_on: Option<String>,
    /// Language of check titles and remediation (and of the HTML and CSV reports).
    #[arg(long, default_value = "en", value_parser = ["en", "es", "pt", "fr"])]
    pub lang: String,
    /// Write the country report as one self-contained HTML file at the end of the scan.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write one CSV row per finding to FILE at the end of the scan.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Override the built-in report templates with those of DIR.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// Run the parsed command; errors that are the user's are reported with exit code 2.
pub async fn execute(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Schema => {
            print!("{}", crate::facts::schema_json());
            ExitCode::from(EXIT_OK)
        }
        Command::Profile(ProfileCommand::Check { file }) => match Profile::load(&file) {
            Ok(profile) => {
                println!(
                    "{}: ok — {} ({}), {} endpoints, {} domains",
                    file.display(),
                    profile.country_name,
                    profile.country_code,
                    profile.endpoints.len(),
                    profile.domains.len()
                );
                ExitCode::from(EXIT_OK)
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Checks(command) => checks_command(command),
        Command::Report(args) => match report(args) {
            Ok(code) => ExitCode::from(code),
            Err(error) => {
                eprintln!("postura: {error:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Scan(args) => match scan(args).await {
            Ok(code) => ExitCode::from(code),
            Err(error) => {
                eprintln!("postura: {error:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
    }
}

fn catalog_errors(errors: Vec<CatalogError>) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    anyhow::anyhow!("invalid checks:\n{}", lines.join("\n"))
}

/// The built-in catalog plus the checks of `dirs`.
pub fn load_catalog(dirs: &[PathBuf]) -> anyhow::Result<Catalog> {
    let mut catalog = Catalog::builtin().map_err(catalog_errors)?;
    let schemas = FactSchema::new();
    for dir in dirs {
        catalog.add_dir(dir, &schemas, false).map_err(catalog_errors)?;
    }
    Ok(catalog)
}

fn checks_command(command: ChecksCommand) -> ExitCode {
    let result = match command {
        ChecksCommand::List { category, lang, checks } => load_catalog(&checks).map(|catalog| {
            for check in catalog.checks.iter().filter(|c| category.as_ref().is_none_or(|k| &c.category == k)) {
                println!("{:<34} {:<9} {:<12} {}", check.id, check.severity.name(), check.category, check.text(&lang).title);
            }
            EXIT_OK
        }),
        ChecksCommand::Show { id, lang, checks } => load_catalog(&checks).and_then(|catalog| {
            let check = catalog.get(&id).ok_or_else(|| anyhow::anyhow!("no check '{id}' (see `postura checks list`)"))?;
            let text = check.text(&lang);
            println!("{}  [{}] {}", check.id, check.severity.name(), text.title);
            println!("category:    {}", check.category);
            println!("applies to:  {}", check.applies_to.name());
            println!("facts:       {}", check.facts.iter().map(|f| f.text.as_str()).collect::<Vec<_>>().join(", "));
            println!("rule:        {}", check.rule_source);
            for (name, source, _) in &check.evidence {
                println!("evidence:    {name} = {source}");
            }
            for (name, value) in &check.params {
                println!("parameter:   {name} = {value}");
            }
            println!("references:  {}", check.references.join("; "));
            println!("remediation: {}", text.remediation);
            println!("defined in:  {}:{}", check.source.display(), check.line);
            Ok(EXIT_OK)
        }),
        ChecksCommand::Validate { dir } => match dir {
            None => Catalog::builtin().map(|c| {
                println!("ok: {} checks", c.checks.len());
                EXIT_OK
            }),
            Some(dir) => load_dir(&dir, &FactSchema::new(), false).map(|checks| {
                println!("ok: {} checks in {}", checks.len(), dir.display());
                EXIT_OK
            }),
        }
        .map_err(catalog_errors),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("postura: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn seconds(name: &str, value: f64) -> anyhow::Result<Duration> {
    if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
        anyhow::bail!("--{name} {value}: expected a number of seconds between 0 and 86400");
    }
    Ok(Duration::from_secs_f64(value))
}

async fn scan(args: ScanArgs) -> anyhow::Result<u8> {
    let options = ScanOptions {
        concurrency: args.concurrency as usize,
        per_host: args.per_host as usize,
        timeout: seconds("timeout", args.timeout)?,
        deadline: seconds("deadline", args.deadline)?,
        all_addresses: args.all_addresses,
    };
    let pins = args.resolve.iter().map(|r| parse_resolve(r)).collect::<Result<Vec<_>, _>>().map_err(anyhow::Error::msg)?;

    let catalog = load_catalog(&args.checks)?;
    let fail_on = args.fail_on.as_deref().map(str::parse::<Severity>).transpose().map_err(anyhow::Error::msg)?;

    let mut specs: Vec<TargetSpec> = Vec::new();
    let mut country = None;
    let mut scope = None;
    let mut profile_policy = None;
    let mut exceptions = Vec::new();
    let mut sector_weights = std::collections::BTreeMap::new();
    if let Some(path) = &args.profile {
        let profile = Profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (profile_specs, skipped) = specs_from_profile(&profile);
        for note in skipped {
            if !args.quiet {
                eprintln!("postura: {note}");
            }
        }
        specs.extend(profile_specs);
        country = Some(CountryInfo {
            code: profile.country_code.clone(),
            name: profile.country_name.clone(),
            policy: profile.policy.clone(),
            profile: path.display().to_string(),
        });
        scope = Some(profile.scope.clone());
        profile_policy = profile.policy.clone();
        sector_weights = profile.sector_weights.clone();
        for exception in &profile.exceptions {
            if catalog.get(&exception.check).is_none() {
                anyhow::bail!(
                    "{}:{}: exception for unknown check '{}' (see `postura checks list`)",
                    path.display(),
                    exception.line,
                    exception.check
                );
            }
            exceptions.push(Exception {
                check: exception.check.clone(),
                target: exception.target.clone(),
                reason: exception.reason.clone(),
                approved_by: exception.approved_by.clone(),
                expires: exception.expires.clone(),
            });
        }
    }
    let policy_name = args.policy.clone().or(profile_policy).unwrap_or_else(|| DEFAULT_POLICY.to_string());
    let policy = Policy::load(&policy_name, &catalog).map_err(catalog_errors)?;
    for text in &args.targets {
        let spec = parse_target(text).map_err(|e| anyhow::anyhow!("target '{text}': {e}"))?;
        if let Some(scope) = &scope {
            if !scope.allows_host(&spec.host) {
                anyhow::bail!("target '{text}' is outside the profile's declared scope");
            }
        }
        specs.push(spec);
    }
    if specs.is_empty() {
        anyhow::bail!("nothing to scan: give TARGET arguments or --profile FILE (see `postura scan --help`)");
    }
    apply_pins(&mut specs, &pins);

    let json_to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    // Fail before scanning, not after: a scan's results must not be lost to an unwritable path.
    if let (Some(path), false) = (&args.json, json_to_stdout) {
        std::fs::File::create(path).with_context(|| format!("--json: cannot write {}", path.display()))?;
    }
    // Likewise for the reports; the templates are loaded now so that a broken override fails
    // before the scan rather than after it.
    let renderer = if args.html.is_some() || args.csv.is_some() {
        Some(crate::report::Renderer::new(&args.lang, args.templates.as_deref())?)
    } else {
        None
    };
    for (flag, path) in [("--html", &args.html), ("--csv", &args.csv)] {
        if let Some(path) = path {
            std::fs::File::create(path).with_context(|| format!("{flag}: cannot write {}", path.display()))?;
        }
    }
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::hidden();
    if show_progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    }

    let started_at = crate::now_rfc3339();
    let targets = run(specs, &options, scope, |event| match event {
        Progress::Planned(n) => bar.set_length(n as u64),
        Progress::Finished(result) => {
            bar.inc(1);
            bar.set_message(format!("{}:{}", result.host, result.port));
        }
    })
    .await;
    bar.finish_and_clear();

    let mut report = ScanReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo { name: "postura".into(), version: env!("CARGO_PKG_VERSION").into() },
        started_at,
        finished_at: crate::now_rfc3339(),
        country,
        targets,
        assessment: None,
    };
    let assessor = Assessor {
        catalog: &catalog,
        policy: &policy,
        lang: args.lang.clone(),
        exceptions,
        sector_weights,
        today: std::env::var("POSTURA_TODAY").unwrap_or_else(|_| crate::checks::today()),
    };
    assessor.assess(&mut report);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)? + "\n";
        if json_to_stdout {
            print!("{text}");
        } else {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    if !args.quiet && !json_to_stdout {
        print!("{}", crate::output::summary(&report));
    }
    let gate_failed = fail_on.is_some_and(|threshold| {
        report.targets.iter().flat_map(|t| &t.findings).any(|f| f.status == Status::Fail && f.severity >= threshold)
    });
    if let Some(renderer) = &renderer {
        let document = crate::report::view::Document::from_report(report);
        write_reports(renderer, &document, None, Some(&catalog), args.html.as_deref(), args.csv.as_deref())?;
    }
    Ok(if gate_failed { EXIT_FINDINGS } else { EXIT_OK })
}

fn write_reports(
    renderer: &crate::report::Renderer,
    document: &crate::report::view::Document,
    previous: Option<&crate::report::view::Document>,
    catalog: Option<&Catalog>,
    html: Option<&std::path::Path>,
    csv: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if let Some(path) = html {
        let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        renderer.country_to(&mut out, document, previous, catalog)?;
        std::io::Write::flush(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = csv {
        std::fs::write(path, renderer.csv(document, catalog)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn read_document(path: &std::path::Path) -> anyhow::Result<crate::report::view::Document> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    crate::report::view::Document::from_json(&text).with_context(|| format!("{}: not a postura scan document", path.display()))
}

/// `postura report`: render saved scans. Titles and remediation are taken from the catalog in
/// the report's language, so a scan made in English can be reported in Spanish.
fn report(args: ReportArgs) -> anyhow::Result<u8> {
    if args.html.is_none() && args.csv.is_none() {
        anyhow::bail!("nothing to write: give --html FILE and/or --csv FILE");
    }
    let catalog = load_catalog(&args.checks)?;
    let renderer = crate::report::Renderer::new(&args.lang, args.templates.as_deref())?;
    if !args.regional.is_empty() {
        let documents = args.regional.iter().map(|p| read_document(p)).collect::<anyhow::Result<Vec<_>>>()?;
        let path = args.html.as_deref().ok_or_else(|| anyhow::anyhow!("--regional needs --html FILE"))?;
        let text = renderer.regional(&documents, Some(&catalog))?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(EXIT_OK);
    }
    let input = args.input.as_deref().ok_or_else(|| anyhow::anyhow!("give --input FILE or --regional FILE…"))?;
    let document = read_document(input)?;
    let previous = args.previous.as_deref().map(read_document).transpose()?;
    write_reports(&renderer, &document, previous.as_ref(), Some(&catalog), args.html.as_deref(), args.csv.as_deref())?;
    Ok(EXIT_OK)
}
