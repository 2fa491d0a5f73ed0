//! The command line: raw flags (clap) are validated first, then turned into the working
//! configuration (targets and scan options). Exit codes: 0 done, 2 usage or input error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::checks::catalog::{load_dir, Catalog, CatalogError};
use crate::checks::model::Severity;
use crate::checks::schema_paths::FactSchema;
use crate::output::{escaped, escaped_line};
use crate::profile::Profile;

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
    /// More log output on standard error: -v info, -vv debug, -vvv trace (POSTURA_LOG, an
    /// env-filter directive such as `postura=debug`, overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log lines as text, or as one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// Set up `tracing` for this run: warnings by default, more with -v, JSON lines with
    /// `--log-format json`; always to standard error (standard output carries results).
    pub fn init_logging(&self) {
        let level = match self.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        };
        // -v is about postura's own events; the libraries stay at warnings unless POSTURA_LOG says.
        let filter = tracing_subscriber::EnvFilter::try_from_env("POSTURA_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("warn,postura={level}")));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal());
        let _ = match self.log_format {
            LogFormat::Text => builder.try_init(),
            LogFormat::Json => builder.json().try_init(),
        };
    }
}

// Parsed once per run: the size of the scan variant does not matter.
#[allow(clippy::large_enum_variant)]
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
    /// The scans kept in the store, newest first: time, status, index, items, failing findings.
    History {
        /// Only the scans of this country (ISO 3166-1 alpha-2 code of the profile).
        #[arg(long, value_name = "CC")]
        country: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// What changed from scan A to scan B: new, regressed, resolved and unchanged failing
    /// findings, grade and index changes, endpoints added and removed.
    Diff {
        a: i64,
        b: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Write a stored scan as the JSON document and/or one CSV row per finding.
    Export {
        #[arg(long, value_name = "ID")]
        scan: i64,
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        #[arg(long, default_value = "en", value_parser = ["en", "es", "pt", "fr"])]
        lang: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Retention: delete all but the newest N scans, and/or those older than DAYS.
    Prune {
        #[arg(long, value_name = "N", required_unless_present = "older_than")]
        keep: Option<usize>,
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u32>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard output.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff) to standard output: `postura man > postura.1`.
    Man,
    /// Import scan documents written by `postura scan --json` into the store.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Create an Ed25519 key pair for signing report bundles.
    Keygen(crate::bundle::command::KeygenArgs),
    /// Write a signed, tamper-evident bundle of a scan: reports, JSON, CSV, policy, checks.
    Bundle(crate::bundle::command::BundleArgs),
    /// Check a bundle's signature and every file's digest; names what changed.
    Verify(crate::bundle::command::VerifyArgs),
    /// Scan country profiles on cron schedules, write reports, alert by webhook on new or
    /// regressed findings, serve Prometheus metrics (see docs/operations.md).
    Daemon(crate::daemon::DaemonArgs),
    /// Run the jobs of distributed scans (`scan --distributed`) from a PostgreSQL store, until
    /// SIGINT or SIGTERM; any number of workers on any number of machines (docs/scaling.md).
    Worker {
        /// The PostgreSQL store: postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
        #[arg(long, value_name = "URL")]
        db: String,
        /// Jobs (targets, zones, resolvers) run at once.
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
        concurrency: u32,
        /// The vantage point this worker scans from: it runs the jobs of scans that ask for it
        /// (`scan --distributed --vantage NAME`), and only those.
        #[arg(long, value_name = "NAME")]
        vantage: Option<String>,
    },
    /// Run the assessment of a distributed scan whose items are all in (normally the worker that
    /// finishes the last item queues it).
    Finish {
        scan: i64,
        /// The PostgreSQL store: postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
        #[arg(long, value_name = "URL")]
        db: String,
    },
}

/// Which store: `--db PATH`, else the default data directory (see `docs/operations.md`).
#[derive(Debug, Clone, Args)]
pub struct DbArg {
    /// The scan store: an SQLite file, or a PostgreSQL database as postgres://USER[:PASSWORD]@HOST[:PORT]/DB;
    /// default: $XDG_DATA_HOME/postura/postura.db, /var/lib/postura/postura.db as root.
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
}

impl DbArg {
    pub fn open(&self) -> anyhow::Result<crate::store::Store> {
        let path = match &self.db {
            Some(path) => path.clone(),
            None => {
                let path = crate::store::default_path();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("store {}: cannot create {}", path.display(), dir.display()))?;
                }
                path
            }
        };
        crate::store::Store::open(&path)
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The scan document to report on (written by `postura scan --json`).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["regional", "scan"], conflicts_with_all = ["regional", "scan"])]
    pub input: Option<PathBuf>,
    /// A scan kept in the store (see `postura history`) instead of --input.
    #[arg(long, value_name = "ID", conflicts_with = "regional")]
    pub scan: Option<i64>,
    /// The previous scan of the same profile: adds new, resolved and regressed findings and the
    /// index change (a FILE with --input, a scan ID with --scan).
    #[arg(long, value_name = "FILE|ID")]
    pub previous: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArg,
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
    /// Also write one notice per operator (HTML and CSV, only its endpoints, zones and
    /// findings) into DIR; the country report links each one.
    #[arg(long, value_name = "DIR", requires = "input")]
    pub per_operator: Option<PathBuf>,
    /// The country profile whose `[[operators]]` give each notice's contact, due date and
    /// language.
    #[arg(long, value_name = "FILE", requires = "per_operator")]
    pub profile: Option<PathBuf>,
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
    Validate { dir: Option<PathBuf> },
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
    /// Targets as HOST[:PORT] (TLS, default port 443); IPv6 as [ADDR]:PORT;
    /// smtp://HOST[:PORT], imap://…, pop3://…, lmtp://, sieve://, ftp://, xmpp://HOST[:PORT][/DOMAIN],
    /// xmpp-server://, ldap://, postgres://, mysql://, nntp:// for STARTTLS (each on its usual
    /// port); dns://ZONE for a zone's DNS and mail hygiene; resolver://ADDRESS[:PORT] for a
    /// declared resolver.
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
    /// Connections allowed per target, sweep, HTTP probe and certificate fetches together
    /// (docs/connections.md); the target's error says when it was reached.
    #[arg(long, value_name = "N", default_value_t = crate::net::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_connections: u32,
    /// Contact destinations discovered during the scan (OCSP, CRL, AIA and MTA-STS hosts,
    /// redirects) even outside the profile's scope. Without it they are listed as out of scope
    /// and not contacted.
    #[arg(long)]
    pub allow_discovered: bool,
    /// A PEM bundle of extra trust anchors (a national or private PKI), judged as its own trust
    /// store beside Mozilla's (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,
    /// Make no revocation or AIA fetches (OCSP, CRL, caIssuers): for scans that must not phone
    /// out. Stapled OCSP responses are still validated.
    #[arg(long)]
    pub no_revocation: bool,
    /// Start DNS delegation walks at the root servers of this hints file (named.root format)
    /// instead of the IANA root servers: for labs and internal namespaces.
    #[arg(long, value_name = "FILE")]
    pub root_hints: Option<PathBuf>,
    /// Judge the root's keys against the DS or DNSKEY records for `.` in this file (zone-file
    /// form, e.g. BIND's dsset-., Debian's /usr/share/dns/root.ds). Default: IANA's root KSKs
    /// with the IANA root servers; with --root-hints and no anchor the root is not judged.
    #[arg(long, value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// Use this resolver (ADDRESS[:PORT]) for ordinary DNS lookups (MX, TXT, CAA, NS
    /// addresses) instead of iterating from the roots.
    #[arg(long, value_name = "ADDRESS[:PORT]")]
    pub dns_resolver: Option<String>,
    /// A name in a correctly signed zone: a validating resolver sets AD for it (default:
    /// ietf.org; a profile's [dns] validation_signed_name overrides the default).
    #[arg(long, value_name = "NAME")]
    pub dns_signed_name: Option<String>,
    /// A name in a zone with broken signatures: a validating resolver answers SERVFAIL
    /// (default: www.dnssec-failed.org).
    #[arg(long, value_name = "NAME")]
    pub dns_bogus_name: Option<String>,
    /// IP → ASN table (`PREFIX ASN` per line) for the nameservers' AS diversity.
    #[arg(long, value_name = "FILE")]
    pub asn_table: Option<PathBuf>,
    /// Seconds allowed per DNS query.
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    pub dns_timeout: f64,
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
    /// Keep the scan in the store at the default place (each item as it finishes).
    #[arg(long)]
    pub store: bool,
    /// Keep the scan in this store (SQLite file, or postgres://… URL); implies --store.
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
    /// Continue an interrupted scan of the store: its plan is rebuilt from the arguments it was
    /// started with, and the items it finished are not scanned again.
    #[arg(long, value_name = "SCAN_ID", conflicts_with_all = ["targets", "profile"])]
    pub resume: Option<i64>,
    /// Queue the scan in the PostgreSQL store given by --db as one job per target, zone and
    /// resolver, for `postura worker` processes to run (docs/scaling.md); prints the scan ID.
    #[arg(long, requires = "db", conflicts_with = "resume")]
    pub distributed: bool,
    /// With --distributed: scan every item from this vantage point too (repeatable); workers
    /// started with `--vantage NAME` run them. The first one's facts make the report.
    #[arg(long, value_name = "NAME", requires = "distributed")]
    pub vantage: Vec<String>,
    /// With --distributed: wait until the scan is complete, then print its summary and write
    /// --json, --html and --csv.
    #[arg(long, requires = "distributed")]
    pub wait: bool,
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
                    escaped_line(&file.display().to_string()),
                    escaped_line(&profile.country_name),
                    escaped_line(&profile.country_code),
                    profile.endpoints.len(),
                    profile.domains.len()
                );
                ExitCode::from(EXIT_OK)
            }
            Err(error) => {
                eprintln!("{}", escaped(&error.to_string()));
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Checks(command) => checks_command(command),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            // Into a buffer first: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "postura", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Ok(()) => ExitCode::from(EXIT_OK),
                Err(error) => {
                    eprintln!("postura: cannot write the completion script: {error}");
                    ExitCode::from(EXIT_USAGE)
                }
            }
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(command).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::from(EXIT_OK),
                Err(error) => {
                    eprintln!("postura: cannot write the man page: {error}");
                    ExitCode::from(EXIT_USAGE)
                }
            }
        }
        Command::Report(args) => match report(args) {
            Ok(code) => ExitCode::from(code),
            Err(error) => {
                eprintln!("postura: {}", escaped(&format!("{error:#}")));
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::History { .. }
        | Command::Diff { .. }
        | Command::Export { .. }
        | Command::Prune { .. }
        | Command::Import { .. } => match crate::store::commands::run(cli.command) {
            Ok(code) => ExitCode::from(code),
            Err(error) => {
                eprintln!("postura: {}", escaped(&format!("{error:#}")));
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Keygen(args) => bundle_outcome(crate::bundle::command::keygen(&args).map(|()| true)),
        Command::Bundle(args) => bundle_outcome(crate::bundle::command::bundle(&args).map(|()| true)),
        Command::Verify(args) => bundle_outcome(crate::bundle::command::verify(&args)),
        Command::Daemon(args) => ExitCode::from(crate::daemon::run(args).await),
        Command::Worker { db, concurrency, vantage } => {
            match crate::distributed::work(&db, concurrency as usize, vantage.as_deref()).await {
                Ok(()) => ExitCode::from(EXIT_OK),
                Err(error) => {
                    eprintln!("postura: {error:#}");
                    ExitCode::from(EXIT_USAGE)
                }
            }
        }
        Command::Finish { scan, db } => match crate::distributed::finish_now(&db, scan).await {
            Ok(()) => {
                println!("scan {scan}: complete");
                ExitCode::from(EXIT_OK)
            }
            Err(error) => {
                eprintln!("postura: {error:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Scan(args) if args.distributed => match scan_distributed(args).await {
            Ok(code) => ExitCode::from(code),
            Err(error) => {
                eprintln!("postura: {error:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Scan(args) => match scan(args).await {
            Ok(code) => ExitCode::from(code),
            Err(error) => {
                eprintln!("postura: {}", escaped(&format!("{error:#}")));
                ExitCode::from(EXIT_USAGE)
            }
        },
    }
}

pub(crate) fn catalog_errors(errors: Vec<CatalogError>) -> anyhow::Error {
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
                println!(
                    "{:<34} {:<9} {:<12} {}",
                    check.id,
                    check.severity.name(),
                    check.category,
                    check.text(&lang).title
                );
            }
            EXIT_OK
        }),
        ChecksCommand::Show { id, lang, checks } => load_catalog(&checks).and_then(|catalog| {
            let check =
                catalog.get(&id).ok_or_else(|| anyhow::anyhow!("no check '{id}' (see `postura checks list`)"))?;
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
            eprintln!("postura: {}", escaped(&format!("{error:#}")));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `postura scan`: build the plan, pick the sinks, map the outcome to an exit code.
async fn scan(args: ScanArgs) -> anyhow::Result<u8> {
    let (args, store) = crate::store::commands::scan_store(args)?;
    let (mut plan, notes) = crate::scan::ScanPlan::from_args(&args).await?;
    if !args.quiet {
        for note in notes {
            eprintln!("postura: {}", escaped(&note.to_string()));
        }
    }
    let fail_on = args.fail_on.as_deref().map(str::parse::<Severity>).transpose().map_err(anyhow::Error::msg)?;
    let json_to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    // Fail before scanning, not after: a scan's results must not be lost to an unwritable path
    // (checked without truncating what is there: outputs are replaced only on success).
    for (flag, path) in [("--json", &args.json), ("--html", &args.html), ("--csv", &args.csv)] {
        if let Some(path) = path.as_ref().filter(|p| p.as_os_str() != "-") {
            check_writable(path).with_context(|| format!("{flag}: cannot write {}", path.display()))?;
        }
    }
    // The templates are loaded now so that a broken override fails before the scan.
    let renderer = if args.html.is_some() || args.csv.is_some() {
        Some(crate::report::Renderer::new(&args.lang, args.templates.as_deref())?)
    } else {
        None
    };
    let mut sinks: Vec<Box<dyn crate::scan::Sink + '_>> = Vec::new();
    let mut stored_scan = None;
    if let Some(store) = store {
        let sink = store.into_sink(&mut plan, args.quiet)?;
        stored_scan = Some((sink.store.source().to_path_buf(), sink.store.location(), sink.scan_id));
        sinks.push(Box::new(sink));
    }
    if !args.quiet && std::io::stderr().is_terminal() {
        sinks.push(Box::new(crate::output::ProgressSink::new()));
    }
    if let Some(path) = &args.json {
        sinks.push(Box::new(crate::scan::JsonSink::new((!json_to_stdout).then(|| path.clone()))));
    }
    if let Some(renderer) = renderer {
        let catalog = plan.assessment.as_ref().map(|a| &a.catalog);
        sinks.push(Box::new(ReportSink::new(renderer, catalog, args.html.clone(), args.csv.clone())));
    }
    if !args.quiet && !json_to_stdout {
        sinks.push(Box::new(crate::output::SummarySink::new(std::io::stdout())));
    }
    let mut fanout = crate::scan::Fanout(sinks);
    let summary = match &stored_scan {
        // A stored scan stopped by SIGINT/SIGTERM is marked interrupted (its finished items are
        // kept) and can be resumed.
        Some((path, location, id)) => tokio::select! {
            summary = crate::scan::run(&plan, &mut fanout) => summary?,
            signal = crate::store::commands::stop_signal() => {
                crate::store::Store::open(path)?.set_status(*id, "interrupted")?;
                eprintln!("postura: {signal}: scan {id} interrupted; continue it with `postura scan --resume {id} --db {location}`");
                return Ok(EXIT_USAGE);
            }
        },
        None => crate::scan::run(&plan, &mut fanout).await?,
    };
    Ok(if fail_on.is_some_and(|threshold| summary.fails_at_or_above(threshold)) { EXIT_FINDINGS } else { EXIT_OK })
}

/// `postura scan --distributed`: validate the plan here, queue it, and (with --wait) wait for
/// the workers and write the outputs from the stored document.
async fn scan_distributed(args: ScanArgs) -> anyhow::Result<u8> {
    let url = args.db.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    if !crate::store::is_postgres_url(&url) {
        anyhow::bail!("--distributed needs a PostgreSQL store: --db postgres://USER@HOST/DB");
    }
    let (plan, notes) = crate::scan::ScanPlan::from_args(&args).await?;
    if !args.quiet {
        for note in notes {
            eprintln!("postura: {note}");
        }
    }
    // The scan's own arguments as typed (everything after `scan`), to rebuild its plan in workers.
    let raw: Vec<String> =
        crate::store::arguments_to_store(std::env::args().skip_while(|a| a != "scan").skip(1).collect());
    let (id, jobs) = crate::distributed::submit(&url, &plan, &raw, &args.vantage).await?;
    let location = crate::store::postgres::redact(&url);
    println!("{id}");
    if !args.quiet {
        eprintln!("postura: scan {id} queued in {location}: {jobs} jobs for `postura worker --db …`");
    }
    if !args.wait {
        return Ok(EXIT_OK);
    }
    let pool = crate::store::postgres::connect(&url, 1).await?;
    loop {
        match crate::distributed::progress(&pool, id).await {
            Ok((_, status)) if status == "complete" => break,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot read the scan's progress; trying again"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    pool.close().await;
    let store = crate::store::Store::open(std::path::Path::new(&url))?;
    let report = store.report(id)?;
    if let Some(path) = &args.json {
        let mut text = serde_json::to_vec_pretty(&report)?;
        text.push(b'\n');
        crate::scan::sink::write_atomically(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.html.is_some() || args.csv.is_some() {
        let renderer = crate::report::Renderer::new(&args.lang, args.templates.as_deref())?;
        let document = crate::report::view::Document::from_report(report.clone());
        let catalog = plan.assessment.as_ref().map(|a| &a.catalog);
        write_reports(&renderer, &document, &document, None, catalog, (args.html.as_deref(), args.csv.as_deref()))?;
    }
    if !args.quiet {
        print!("{}", crate::output::summary(&report));
    }
    let fail_on = args.fail_on.as_deref().map(str::parse::<Severity>).transpose().map_err(anyhow::Error::msg)?;
    Ok(if fail_on.is_some_and(|threshold| report.fails_at_or_above(threshold)) { EXIT_FINDINGS } else { EXIT_OK })
}

/// Whether `path` can be written, without truncating it.
fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new().append(true).create(true).open(path)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// The HTML report and CSV, written when the scan is assessed: the assessed items are written
/// to a temporary scan document as they come, and the reports rendered from it as `postura
/// report` renders a saved scan (one item at a time).
struct ReportSink<'a> {
    renderer: crate::report::Renderer,
    catalog: Option<&'a Catalog>,
    html: Option<PathBuf>,
    csv: Option<PathBuf>,
    document: Option<(tempfile::TempPath, crate::scan::DocumentWriter<std::io::BufWriter<std::fs::File>>)>,
}

impl<'a> ReportSink<'a> {
    fn new(
        renderer: crate::report::Renderer,
        catalog: Option<&'a Catalog>,
        html: Option<PathBuf>,
        csv: Option<PathBuf>,
    ) -> ReportSink<'a> {
        ReportSink { renderer, catalog, html, csv, document: None }
    }
}

impl crate::scan::Sink for ReportSink<'_> {
    fn item(&mut self, _item: crate::scan::Item<'_>) -> Result<(), crate::scan::SinkError> {
        Ok(())
    }

    fn begin(&mut self, summary: &crate::scan::ScanSummary) -> Result<(), crate::scan::SinkError> {
        let failed =
            |e: std::io::Error| crate::scan::SinkError(format!("cannot write the report's scan document: {e}"));
        let (file, path) = tempfile::NamedTempFile::new().map_err(failed)?.into_parts();
        let writer = crate::scan::DocumentWriter::begin(std::io::BufWriter::new(file), summary).map_err(failed)?;
        self.document = Some((path, writer));
        Ok(())
    }

    fn assessed(&mut self, item: crate::scan::Item<'_>) -> Result<(), crate::scan::SinkError> {
        let Some((_, writer)) = self.document.as_mut() else { return Ok(()) };
        writer.item(item).map_err(|e| crate::scan::SinkError(format!("cannot write the report's scan document: {e}")))
    }

    fn finished(&mut self, summary: &crate::scan::ScanSummary) -> Result<(), crate::scan::SinkError> {
        let Some((path, writer)) = self.document.take() else { return Ok(()) };
        writer
            .finish(summary)
            .map_err(|e| crate::scan::SinkError(format!("cannot write the report's scan document: {e}")))?;
        let rendered = crate::report::ScanFile::open(&path).map_err(anyhow::Error::from).and_then(|file| {
            let document = file.summary(self.catalog)?;
            let outputs = (self.html.as_deref(), self.csv.as_deref());
            write_reports(&self.renderer, &document, &file, None, self.catalog, outputs)
        });
        rendered.map_err(|e| crate::scan::SinkError(format!("{e:#}")))
    }
}

/// `ADDRESS[:PORT]` or `[V6]:PORT` of a DNS server (default port 53).
pub fn parse_dns_server(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    text.parse::<std::net::SocketAddr>().map_err(|_| format!("'{text}' is not ADDRESS[:PORT] (IPv6 as [ADDRESS]:PORT)"))
}

/// The country report (HTML) and the CSV of a scan: figures from `document`, each item's
/// details and rows from `items` (the same scan; see `report::ScanFile`). Both are written as
/// they are rendered.
pub(crate) fn write_reports(
    renderer: &crate::report::Renderer,
    document: &crate::report::view::Document,
    items: &dyn crate::report::ItemSource,
    previous: Option<&crate::report::view::Document>,
    catalog: Option<&Catalog>,
    (html, csv): (Option<&std::path::Path>, Option<&std::path::Path>),
) -> anyhow::Result<()> {
    if let Some(path) = html {
        let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        renderer.country_from(&mut out, document, items, previous, catalog, &Default::default())?;
        std::io::Write::flush(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = csv {
        let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        let country = document.report.country.as_ref().map_or("", |c| c.code.as_str());
        renderer.csv_to(&mut out, items, country, catalog)?;
        std::io::Write::flush(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A saved scan for a report's figures (read one item at a time, kept slim: see
/// `report::stream`), and the file to read its items from again.
fn read_scan(
    path: &std::path::Path,
    catalog: &Catalog,
) -> anyhow::Result<(crate::report::view::Document, crate::report::ScanFile)> {
    let file = crate::report::ScanFile::open(path)?;
    let document = file.summary(Some(catalog))?;
    Ok((document, file))
}

/// `postura report`: render saved scans. Titles and remediation are taken from the catalog in
/// the report's language, so a scan made in English can be reported in Spanish.
fn report(args: ReportArgs) -> anyhow::Result<u8> {
    if args.html.is_none() && args.csv.is_none() && args.per_operator.is_none() {
        anyhow::bail!("nothing to write: give --html FILE, --csv FILE and/or --per-operator DIR");
    }
    let catalog = load_catalog(&args.checks)?;
    let mut renderer = crate::report::Renderer::new(&args.lang, args.templates.as_deref())?;
    if let Some(id) = args.scan {
        renderer.set_trend(crate::report::trend::from_store(&args.db.open()?, id)?);
    }
    if !args.regional.is_empty() {
        let documents = args
            .regional
            .iter()
            .map(|p| read_scan(p, &catalog).map(|(document, _)| document))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let path = args.html.as_deref().ok_or_else(|| anyhow::anyhow!("--regional needs --html FILE"))?;
        let text = renderer.regional(&documents, Some(&catalog))?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(EXIT_OK);
    }
    let (document, file, previous) = match args.scan {
        Some(id) => {
            let (document, previous) = crate::store::commands::documents(&args.db, id, args.previous.as_deref())?;
            (document, None, previous)
        }
        None => {
            let input = args
                .input
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("give --input FILE, --scan ID or --regional FILE…"))?;
            let (document, file) = read_scan(input, &catalog)?;
            let previous = args.previous.as_deref().map(|p| read_scan(p, &catalog).map(|(d, _)| d)).transpose()?;
            (document, Some(file), previous)
        }
    };
    let items: &dyn crate::report::ItemSource = match &file {
        Some(file) => file,
        None => &document,
    };
    let html = match &args.per_operator {
        Some(dir) => {
            report_per_operator(&args, dir, &renderer, (&document, items), previous.as_ref(), &catalog)?;
            None
        }
        None => args.html.as_deref(),
    };
    write_reports(&renderer, &document, items, previous.as_ref(), Some(&catalog), (html, args.csv.as_deref()))?;
    Ok(EXIT_OK)
}

/// `postura report --per-operator DIR`: each operator's notice, then the country report (when
/// `--html` is given) linking them by their path relative to the report.
fn report_per_operator(
    args: &ReportArgs,
    dir: &std::path::Path,
    renderer: &crate::report::Renderer,
    (document, items): (&crate::report::view::Document, &dyn crate::report::ItemSource),
    previous: Option<&crate::report::view::Document>,
    catalog: &Catalog,
) -> anyhow::Result<()> {
    let profile = match &args.profile {
        Some(path) => Some(Profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let options = crate::report::notices::NoticeOptions {
        lang: &args.lang,
        templates: args.templates.as_deref(),
        contacts: profile.as_ref().map_or(&[], |p| p.operators.as_slice()),
        catalog: Some(catalog),
        stamp: None,
    };
    let written = crate::report::notices::write_notices_from(document, items, &options, dir)
        .with_context(|| format!("--per-operator {}", dir.display()))?;
    let Some(html) = args.html.as_deref() else {
        return Ok(());
    };
    // The link from the report's directory to the notices' (as given when it cannot be related).
    let base = html.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let relative = match (std::fs::canonicalize(base), std::fs::canonicalize(dir)) {
        (Ok(base), Ok(dir)) => dir.strip_prefix(&base).map(std::path::Path::to_path_buf).unwrap_or(dir),
        _ => dir.to_path_buf(),
    };
    let links = written
        .into_iter()
        .map(|(operator, file)| {
            let link = relative.join(file).to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
            (operator, link)
        })
        .collect();
    let file = std::fs::File::create(html).with_context(|| format!("cannot write {}", html.display()))?;
    let mut out = std::io::BufWriter::new(file);
    renderer.country_from(&mut out, document, items, previous, Some(catalog), &links)?;
    std::io::Write::flush(&mut out).with_context(|| format!("cannot write {}", html.display()))?;
    Ok(())
}

/// The exit code of `keygen`, `bundle` and `verify`: 0 done (bundle intact), 1 the bundle fails
/// verification, 2 the command could not run.
fn bundle_outcome(outcome: anyhow::Result<bool>) -> ExitCode {
    match outcome {
        Ok(true) => ExitCode::from(EXIT_OK),
        Ok(false) => ExitCode::from(EXIT_FINDINGS),
        Err(error) => {
            eprintln!("postura: {}", escaped(&format!("{error:#}")));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
