//! The command line: raw flags (clap) are validated first, then turned into the working
//! configuration (targets and scan options). Exit codes: 0 done, 2 usage or input error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::engine::{run, Progress, ScanOptions};
use crate::facts::{CountryInfo, ScanReport, ToolInfo, SCHEMA_VERSION};
use crate::profile::Profile;
use crate::target::{apply_pins, parse_resolve, parse_target, specs_from_profile, TargetSpec};

pub const EXIT_OK: u8 = 0;
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
    /// A PEM bundle of extra trust anchors (a national or private PKI), judged as its own trust
    /// store beside Mozilla's (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,
    /// Make no revocation or AIA fetches (OCSP, CRL, caIssuers): for scans that must not phone
    /// out. Stapled OCSP responses are still validated.
    #[arg(long)]
    pub no_revocation: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
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
        Command::Scan(args) => match scan(args).await {
            Ok(code) => ExitCode::from(code),
            Err(error) => {
                eprintln!("postura: {error:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
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

    let mut specs: Vec<TargetSpec> = Vec::new();
    let mut country = None;
    let mut scope = None;
    if let (Some(path), Some(profile)) = (&args.profile, &profile) {
        let (profile_specs, skipped) = specs_from_profile(profile);
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
    }
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

    let report = ScanReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo { name: "postura".into(), version: env!("CARGO_PKG_VERSION").into() },
        started_at,
        finished_at: crate::now_rfc3339(),
        country,
        targets,
    };
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
    Ok(EXIT_OK)
}
