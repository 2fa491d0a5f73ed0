//! From what the user asked (flags and a country profile) to what will be scanned: a
//! `ScanPlan`, validated and scoped, built before any connection. The split follows ripgrep's
//! low-level/high-level arguments: `cli::ScanArgs` is the raw request, the plan the working
//! configuration.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::checks::catalog::Catalog;
use crate::checks::evaluate::Exception;
use crate::checks::policy::{Policy, DEFAULT_POLICY};
use crate::cli::{load_catalog, parse_dns_server, ScanArgs};
use crate::dns::DnsOptions;
use crate::engine::ScanOptions;
use crate::facts::CountryInfo;
use crate::profile::{Profile, Scope, Service};
use crate::target::{apply_pins, parse_resolve, parse_target, specs_from_profile, TargetSpec};

/// A zone to assess, with what the profile declares about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    pub name: String,
    pub sector: Option<String>,
    pub operator: Option<String>,
}

/// A declared resolver at one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSpec {
    pub address: SocketAddr,
    pub sector: Option<String>,
    pub operator: Option<String>,
}

/// How findings, grades and scores are judged once the facts are in.
pub struct AssessmentPlan {
    pub catalog: Catalog,
    pub policy: Policy,
    pub lang: String,
    pub exceptions: Vec<Exception>,
    /// Sector → weight in the country index.
    pub sector_weights: BTreeMap<String, f64>,
    /// YYYY-MM-DD: the day exceptions are judged against.
    pub today: String,
}

/// One item about to be probed, as a hook sees it.
#[derive(Debug, Clone, Copy)]
pub enum ProbeItem<'a> {
    Target(&'a TargetSpec),
    Zone(&'a str),
    Resolver(SocketAddr),
}

/// Called in each item's task just before it is probed: for tracing and for fault-injection
/// tests (a hook that panics stands for a probe that panics).
pub type BeforeProbe = Arc<dyn Fn(ProbeItem<'_>) + Send + Sync>;

/// Everything a scan will do, decided before it starts.
#[derive(Default)]
pub struct ScanPlan {
    /// TLS and STARTTLS endpoints (before resolution).
    pub targets: Vec<TargetSpec>,
    pub zones: Vec<ZoneSpec>,
    pub resolvers: Vec<ResolverSpec>,
    pub options: ScanOptions,
    pub dns: DnsOptions,
    /// The profile's declared scope (None for a command-line scan without a profile).
    pub scope: Option<Scope>,
    pub country: Option<CountryInfo>,
    /// None: facts only, no checks.
    pub assessment: Option<AssessmentPlan>,
    pub before_probe: Option<BeforeProbe>,
    /// Resuming: items an interrupted run already finished, reused instead of probed (and still
    /// handed to the sink, so every sink sees every item of the scan).
    pub done: super::StoredItems,
    /// Graceful stop: once raised, no further item is probed (items in flight finish and reach
    /// the sink) and `run` returns `ScanError::Stopped` instead of assessing.
    pub stop: Option<StopFlag>,
}

/// Raised to stop a scan gracefully (the daemon on SIGTERM); see [`ScanPlan::stop`].
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<std::sync::atomic::AtomicBool>);

impl StopFlag {
    pub fn raise(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl ScanPlan {
    /// Build a plan from `postura scan` arguments, e.g. `["--profile", "lab.toml"]`: for
    /// library users and tests.
    pub async fn from_command_line<I, T>(args: I) -> anyhow::Result<(ScanPlan, Vec<String>)>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        let mut full: Vec<std::ffi::OsString> = vec!["postura".into(), "scan".into()];
        full.extend(args.into_iter().map(Into::into));
        let cli = crate::cli::Cli::try_parse_from(full)?;
        match cli.command {
            crate::cli::Command::Scan(args) => ScanPlan::from_args(&args).await,
            _ => anyhow::bail!("not a scan command"),
        }
    }

    /// Validate the flags and the profile and turn them into a plan. Returns the notes to show
    /// the user (endpoints this version does not scan). Nothing is connected, except that a
    /// resolver endpoint declared by name is looked up (bounded by `--timeout`).
    pub async fn from_args(args: &ScanArgs) -> anyhow::Result<(ScanPlan, Vec<String>)> {
        let profile =
            args.profile.as_ref().map(|path| Profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))).transpose()?;
        let mut notes = Vec::new();
        let mut plan = ScanPlan { options: scan_options(args, profile.as_ref())?, ..ScanPlan::default() };
        let catalog = load_catalog(&args.checks)?;
        let mut exceptions = Vec::new();
        let mut sector_weights = BTreeMap::new();
        let mut profile_policy = None;
        if let (Some(path), Some(profile)) = (&args.profile, &profile) {
            let (specs, skipped) = specs_from_profile(profile);
            notes.extend(skipped);
            plan.targets.extend(specs);
            plan.zones.extend(profile.domains.iter().map(|d| ZoneSpec {
                name: d.name.clone(),
                sector: Some(d.sector.clone()),
                operator: d.operator.clone(),
            }));
            for endpoint in profile.endpoints.iter().filter(|e| e.service == Service::DnsResolver) {
                let addresses =
                    resolver_addresses(&endpoint.host, endpoint.port, endpoint.address, plan.options.timeout).await?;
                for address in addresses {
                    if !profile.scope.allows_address(address.ip()) {
                        anyhow::bail!(
                            "{}: resolver endpoint {} resolves to {}, outside the profile's declared networks",
                            path.display(),
                            endpoint.host,
                            address.ip()
                        );
                    }
                    plan.resolvers.push(ResolverSpec {
                        address,
                        sector: Some(endpoint.sector.clone()),
                        operator: endpoint.operator.clone(),
                    });
                }
            }
            plan.country = Some(CountryInfo {
                code: profile.country_code.clone(),
                name: profile.country_name.clone(),
                policy: profile.policy.clone(),
                profile: path.display().to_string(),
            });
            plan.scope = Some(profile.scope.clone());
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
        for text in &args.targets {
            plan.add_command_line_target(text)?;
        }
        if plan.targets.is_empty() && plan.zones.is_empty() && plan.resolvers.is_empty() {
            anyhow::bail!("nothing to scan: give TARGET arguments or --profile FILE (see `postura scan --help`)");
        }
        let pins =
            args.resolve.iter().map(|r| parse_resolve(r)).collect::<Result<Vec<_>, _>>().map_err(anyhow::Error::msg)?;
        apply_pins(&mut plan.targets, &pins);
        plan.dns = dns_options(args, profile.as_ref(), &plan)?;
        let policy_name = args.policy.clone().or(profile_policy).unwrap_or_else(|| DEFAULT_POLICY.to_string());
        let policy = Policy::load(&policy_name, &catalog).map_err(crate::cli::catalog_errors)?;
        plan.assessment = Some(AssessmentPlan {
            catalog,
            policy,
            lang: args.lang.clone(),
            exceptions,
            sector_weights,
            today: std::env::var("POSTURA_TODAY").unwrap_or_else(|_| crate::checks::today()),
        });
        Ok((plan, notes))
    }

    /// `HOST[:PORT]`, `smtp://…`, `dns://ZONE` or `resolver://ADDRESS`, checked against the scope.
    fn add_command_line_target(&mut self, text: &str) -> anyhow::Result<()> {
        let outside = || anyhow::anyhow!("target '{text}' is outside the profile's declared scope");
        if let Some(zone) = text.strip_prefix("dns://") {
            let zone = zone.trim_end_matches('/');
            if zone.contains([':', '/', '[']) {
                anyhow::bail!("target '{text}': a zone is a DNS name, without port or path (dns://example.org)");
            }
            if zone != "." {
                parse_target(zone).map_err(|e| anyhow::anyhow!("target '{text}': {e}"))?;
            }
            if self.scope.as_ref().is_some_and(|scope| !scope.allows_host(zone.trim_end_matches('.'))) {
                return Err(outside());
            }
            self.zones.push(ZoneSpec { name: zone.to_string(), sector: None, operator: None });
            return Ok(());
        }
        if let Some(address) = text.strip_prefix("resolver://") {
            let address =
                parse_dns_server(address.trim_end_matches('/')).map_err(|e| anyhow::anyhow!("target '{text}': {e}"))?;
            if self.scope.as_ref().is_some_and(|scope| !scope.allows_address(address.ip())) {
                return Err(outside());
            }
            self.resolvers.push(ResolverSpec { address, sector: None, operator: None });
            return Ok(());
        }
        let spec = parse_target(text).map_err(|e| anyhow::anyhow!("target '{text}': {e}"))?;
        if self.scope.as_ref().is_some_and(|scope| !scope.allows_host(&spec.host)) {
            return Err(outside());
        }
        self.targets.push(spec);
        Ok(())
    }
}

fn seconds(name: &str, value: f64) -> anyhow::Result<Duration> {
    if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
        anyhow::bail!("--{name} {value}: expected a number of seconds between 0 and 86400");
    }
    Ok(Duration::from_secs_f64(value))
}

fn scan_options(args: &ScanArgs, profile: Option<&Profile>) -> anyhow::Result<ScanOptions> {
    let mut stores = vec![crate::cert::TrustStore::mozilla()];
    let profile_ca_files = profile.iter().flat_map(|p| p.ca_files.iter());
    for path in profile_ca_files.chain(&args.ca_file) {
        stores.push(crate::cert::TrustStore::from_pem_file(path)?);
    }
    Ok(ScanOptions {
        cert: crate::cert::CertOptions { stores: Arc::new(stores), online: !args.no_revocation, ..Default::default() },
        concurrency: args.concurrency as usize,
        per_host: args.per_host as usize,
        timeout: seconds("timeout", args.timeout)?,
        deadline: seconds("deadline", args.deadline)?,
        all_addresses: args.all_addresses,
        max_connections: args.max_connections,
        allow_discovered: args.allow_discovered || profile.is_some_and(|p| p.scope.allow_discovered),
    })
}

fn dns_options(args: &ScanArgs, profile: Option<&Profile>, plan: &ScanPlan) -> anyhow::Result<DnsOptions> {
    let profile_dns = profile.map(|p| p.dns.clone()).unwrap_or_default();
    let mut options = DnsOptions {
        timeout: seconds("dns-timeout", args.dns_timeout)?,
        deadline: plan.options.deadline,
        concurrency: plan.options.concurrency,
        // The command line overrides the profile's `[dns]` names.
        validation_names: crate::dns::resolver::ValidationNames {
            signed: args
                .dns_signed_name
                .clone()
                .or(profile_dns.validation_signed_name)
                .or(Some(crate::dns::resolver::DEFAULT_SIGNED_NAME.into())),
            bogus: args
                .dns_bogus_name
                .clone()
                .or(profile_dns.validation_bogus_name)
                .or(Some(crate::dns::resolver::DEFAULT_BOGUS_NAME.into())),
        },
        scope: plan.scope.clone().map(Arc::new),
        ..DnsOptions::default()
    };
    if let Some(path) = &args.root_hints {
        let text = read(path, "--root-hints")?;
        options.roots = crate::dns::iterate::Roots::from_hints(&text)
            .map_err(|e| anyhow::anyhow!("--root-hints {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.trust_anchor {
        let text = read(path, "--trust-anchor")?;
        let anchor = crate::dns::anchor::TrustAnchor::parse(&text, &path.display().to_string())
            .map_err(|e| anyhow::anyhow!("--trust-anchor {}: {e}", path.display()))?;
        options.roots.anchor = Some(anchor);
    }
    if let Some(path) = &args.asn_table {
        let text = read(path, "--asn-table")?;
        let table = crate::dns::asn::AsnTable::parse(&text)
            .map_err(|e| anyhow::anyhow!("--asn-table {}: {e}", path.display()))?;
        options.asn_table = Some(Arc::new(table));
    }
    if let Some(text) = &args.dns_resolver {
        options.resolver = Some(parse_dns_server(text).map_err(|e| anyhow::anyhow!("--dns-resolver: {e}"))?);
    }
    Ok(options)
}

fn read(path: &Path, flag: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{flag}: cannot read {}", path.display()))
}

/// Addresses of a profile's resolver endpoint: its pin, its IP literal, or its name resolved
/// within `timeout`.
async fn resolver_addresses(
    host: &str,
    port: u16,
    pinned: Option<std::net::IpAddr>,
    timeout: Duration,
) -> anyhow::Result<Vec<SocketAddr>> {
    if let Some(ip) = pinned.or_else(|| host.parse().ok()) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| anyhow::anyhow!("resolver endpoint {host}: name resolution timed out"))?
        .with_context(|| format!("resolver endpoint {host}: name resolution failed"))?;
    Ok(found.collect())
}
