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
    /// Targets as HOST[:PORT] (TLS, default port 443); IPv6 as [ADDR]:PORT;
    /// smtp://HOST[:PORT], imap://…, pop3://… for STARTTLS (ports 25, 143, 110); dns://ZONE for a
    /// zone's DNS and mail hygiene; resolver://ADDRESS[:PORT] for a declared resolver.
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
    let profile = args.profile.as_ref().map(|path| Profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))).transpose()?;
    let mut stores = vec![crate::cert::TrustStore::mozilla()];
    let profile_ca_files = profile.iter().flat_map(|p| p.ca_files.iter());
    for path in profile_ca_files.chain(&args.ca_file) {
        stores.push(crate::cert::TrustStore::from_pem_file(path)?);
    }
    let options = ScanOptions {
        cert: crate::cert::CertOptions {
            stores: std::sync::Arc::new(stores),
            online: !args.no_revocation,
            ..Default::default()
        },
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
    let mut zones: Vec<String> = Vec::new();
    let mut resolvers: Vec<std::net::SocketAddr> = Vec::new();
    let mut country = None;
    let mut profile_dns = crate::profile::DnsSettings::default();
    let mut scope = None;
    let mut profile_policy = None;
    let mut exceptions = Vec::new();
    let mut sector_weights = std::collections::BTreeMap::new();
    let mut zone_sectors = std::collections::BTreeMap::new();
    if let (Some(path), Some(profile)) = (&args.profile, &profile) {
        let (profile_specs, skipped) = specs_from_profile(profile);
        for note in skipped {
            if !args.quiet {
                eprintln!("postura: {note}");
            }
        }
        specs.extend(profile_specs);
        zones.extend(profile.domains.iter().map(|d| d.name.clone()));
        for endpoint in profile.endpoints.iter().filter(|e| e.service == crate::profile::Service::DnsResolver) {
            resolvers.extend(resolver_addresses(&endpoint.host, endpoint.port, endpoint.address).await?);
        }
        profile_dns = profile.dns.clone();
        country = Some(CountryInfo {
            code: profile.country_code.clone(),
            name: profile.country_name.clone(),
            policy: profile.policy.clone(),
            profile: path.display().to_string(),
        });
        scope = Some(profile.scope.clone());
        profile_policy = profile.policy.clone();
        for domain in &profile.domains {
            zone_sectors.insert(domain.name.trim_end_matches('.').to_string(), domain.sector.clone());
        }
        for endpoint in &profile.endpoints {
            if endpoint.service == crate::profile::Service::DnsResolver {
                let address = endpoint.address.map(|a| a.to_string()).unwrap_or_else(|| endpoint.host.clone());
                zone_sectors.insert(address, endpoint.sector.clone());
            }
        }
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
        if let Some(zone) = text.strip_prefix("dns://") {
            let zone = zone.trim_end_matches('/');
            if zone.contains([':', '/', '[']) {
                anyhow::bail!("target '{text}': a zone is a DNS name, without port or path (dns://example.org)");
            }
            if zone != "." {
                parse_target(zone).map_err(|e| anyhow::anyhow!("target '{text}': {e}"))?;
            }
            if let Some(scope) = &scope {
                if !scope.allows_host(zone.trim_end_matches('.')) {
                    anyhow::bail!("target '{text}' is outside the profile's declared scope");
                }
            }
            zones.push(zone.to_string());
            continue;
        }
        if let Some(address) = text.strip_prefix("resolver://") {
            let address = parse_dns_server(address.trim_end_matches('/')).map_err(|e| anyhow::anyhow!("target '{text}': {e}"))?;
            if let Some(scope) = &scope {
                if !scope.allows_address(address.ip()) {
                    anyhow::bail!("target '{text}' is outside the profile's declared scope");
                }
            }
            resolvers.push(address);
            continue;
        }
        let spec = parse_target(text).map_err(|e| anyhow::anyhow!("target '{text}': {e}"))?;
        if let Some(scope) = &scope {
            if !scope.allows_host(&spec.host) {
                anyhow::bail!("target '{text}' is outside the profile's declared scope");
            }
        }
        specs.push(spec);
    }
    if specs.is_empty() && zones.is_empty() && resolvers.is_empty() {
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

    let mut dns_options = crate::dns::DnsOptions {
        timeout: seconds("dns-timeout", args.dns_timeout)?,
        deadline: options.deadline,
        concurrency: options.concurrency,
        // The command line overrides the profile's `[dns]` names.
        validation_names: crate::dns::resolver::ValidationNames {
            signed: args.dns_signed_name.clone().or(profile_dns.validation_signed_name).or(Some(crate::dns::resolver::DEFAULT_SIGNED_NAME.into())),
            bogus: args.dns_bogus_name.clone().or(profile_dns.validation_bogus_name).or(Some(crate::dns::resolver::DEFAULT_BOGUS_NAME.into())),
        },
        ..crate::dns::DnsOptions::default()
    };
    if let Some(path) = &args.root_hints {
        let text = std::fs::read_to_string(path).with_context(|| format!("--root-hints: cannot read {}", path.display()))?;
        dns_options.roots = crate::dns::iterate::Roots::from_hints(&text).map_err(|e| anyhow::anyhow!("--root-hints {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.asn_table {
        let text = std::fs::read_to_string(path).with_context(|| format!("--asn-table: cannot read {}", path.display()))?;
        let table = crate::dns::asn::AsnTable::parse(&text).map_err(|e| anyhow::anyhow!("--asn-table {}: {e}", path.display()))?;
        dns_options.asn_table = Some(std::sync::Arc::new(table));
    }
    if let Some(text) = &args.dns_resolver {
        dns_options.resolver = Some(parse_dns_server(text).map_err(|e| anyhow::anyhow!("--dns-resolver: {e}"))?);
    }

    dns_options.scope = scope.clone().map(std::sync::Arc::new);
    let started_at = crate::now_rfc3339();
    let dns_work = crate::dns::run(zones, resolvers, &dns_options);
    let progress = |event: Progress| match event {
        Progress::Planned(n) => bar.set_length(n as u64),
        Progress::Finished(result) => {
            bar.inc(1);
            bar.set_message(format!("{}:{}", result.host, result.port));
        }
    };
    let tls_work = run(specs, &options, scope.clone(), progress);
    let (mut targets, (mut zones, resolvers)) = tokio::join!(tls_work, dns_work);
    // MX hosts found in the zones become STARTTLS targets on port 25, swept like the others.
    let mx_specs = mx_targets(&zones);
    if !mx_specs.is_empty() {
        targets.extend(run(mx_specs, &options, scope, progress).await);
        crate::dns::dane::match_served_chains(&mut zones, &targets);
    }
    crate::dns::attach_zone_caa(&mut targets, &zones);
    bar.finish_and_clear();

    let mut report = ScanReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo { name: "postura".into(), version: env!("CARGO_PKG_VERSION").into() },
        started_at,
        finished_at: crate::now_rfc3339(),
        country,
        targets,
        assessment: None,
        zones,
        resolvers,
    };
    let assessor = Assessor {
        catalog: &catalog,
        policy: &policy,
        lang: args.lang.clone(),
        exceptions,
        sector_weights,
        sectors: zone_sectors,
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

/// `ADDRESS[:PORT]` or `[V6]:PORT` of a DNS server (default port 53).
pub fn parse_dns_server(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    text.parse::<std::net::SocketAddr>().map_err(|_| format!("'{text}' is not ADDRESS[:PORT] (IPv6 as [ADDRESS]:PORT)"))
}

/// Addresses of a profile's resolver endpoint: its pin, its IP literal, or its name resolved.
async fn resolver_addresses(host: &str, port: u16, pinned: Option<std::net::IpAddr>) -> anyhow::Result<Vec<std::net::SocketAddr>> {
    if let Some(ip) = pinned.or_else(|| host.parse().ok()) {
        return Ok(vec![std::net::SocketAddr::new(ip, port)]);
    }
    let found = tokio::net::lookup_host((host, port)).await.with_context(|| format!("resolver endpoint {host}: name resolution failed"))?;
    Ok(found.collect())
}

/// One `smtp-starttls` target (port 25) per MX exchange of the assessed zones, pinned to the
/// addresses the DNS probes found; a Null MX or an exchange without address gives none.
fn mx_targets(zones: &[crate::dns::facts::ZoneFacts]) -> Vec<TargetSpec> {
    let mut specs: Vec<TargetSpec> = Vec::new();
    for zone in zones {
        let Some(mail) = &zone.mail else { continue };
        for mx in &mail.mx {
            let host = mx.exchange.trim_end_matches('.').to_string();
            let pinned: Vec<std::net::IpAddr> = mx.addresses.iter().filter_map(|a| a.parse().ok()).collect();
            if host.is_empty() || pinned.is_empty() || specs.iter().any(|s| s.host == host) {
                continue;
            }
            specs.push(TargetSpec { host, port: 25, service: "smtp-starttls".into(), pinned, sector: None, operator: None });
        }
    }
    specs
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
