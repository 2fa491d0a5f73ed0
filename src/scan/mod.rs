//! The scan, as a library: `run(plan, sink)` owns every stage of a scan — TLS and STARTTLS
//! targets (with their certificate and HTTP probes), zones and resolvers side by side, the MX
//! pass once every zone is in, the DANE and CAA joins, then checks, grades, scores and the
//! country index. Each target, zone and resolver is handed to the sink as soon as it finishes;
//! the assessed document once at the end.
//!
//! One task owns the state (tokio-console's aggregator): probes run as tasks of one `JoinSet`
//! and return their result; this collector alone keeps the results and feeds the sink. A task
//! that panics is not lost: its item is recorded with an error naming an internal failure.

pub mod plan;
pub mod resume;
pub mod sink;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use plan::{AssessmentPlan, BeforeProbe, ProbeItem, ResolverSpec, ScanPlan, ZoneSpec};
pub use resume::StoredItems;
pub use sink::{Fanout, Item, JsonSink, NoSink, Sink, SinkError};

use crate::checks::Assessor;
use crate::dns::facts::{ResolverFacts, ZoneFacts};
use crate::engine::{empty_result, scan_one};
use crate::facts::{ScanReport, TargetResult, ToolInfo, SCHEMA_VERSION};
use crate::net::{DiscoveryPolicy, Network};
use crate::profile::Service;
use crate::target::{resolve, ResolvedTarget, TargetSpec};

/// Why a scan stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}")]
    Sink(#[from] SinkError),
}

/// Where a target result goes in the document: its spec's place, then its address's.
type TargetKey = (usize, usize);

/// What a task hands back.
enum Done {
    Resolved(usize, Vec<ResolvedTarget>),
    Target(TargetKey, Box<TargetResult>),
    Zone(usize, Box<ZoneFacts>),
    Resolver(usize, Box<ResolverFacts>),
}

/// What a running task was working on, to record it if the task fails.
enum Pending {
    Resolving(usize, TargetSpec),
    Target(TargetKey, ResolvedTarget),
    Zone(usize, String),
    Resolver(usize, std::net::SocketAddr),
}

impl Pending {
    /// The item's result when its task failed (panicked or was cancelled).
    fn failed(self, why: String) -> Done {
        let error = Some(format!("internal failure: {why}"));
        match self {
            Pending::Resolving(index, spec) => {
                let job = ResolvedTarget { spec, address: None, error: error.clone() };
                Done::Target((index, 0), Box::new(empty_result(&job)))
            }
            Pending::Target(key, job) => {
                let mut result = empty_result(&job);
                result.error = error;
                Done::Target(key, Box::new(result))
            }
            Pending::Zone(index, name) => Done::Zone(
                index,
                Box::new(ZoneFacts { name: crate::dns::wire::fqdn(&name), error, ..ZoneFacts::default() }),
            ),
            Pending::Resolver(index, address) => Done::Resolver(
                index,
                Box::new(ResolverFacts { address: address.to_string(), error, ..ResolverFacts::default() }),
            ),
        }
    }
}

/// The running scan: the task set and what each task stands for.
struct Tasks<'p> {
    plan: &'p ScanPlan,
    network: Network,
    tls_gate: Arc<Semaphore>,
    dns_gate: Arc<Semaphore>,
    set: JoinSet<Done>,
    pending: HashMap<tokio::task::Id, Pending>,
}

impl Tasks<'_> {
    fn hook(&self) -> Option<BeforeProbe> {
        self.plan.before_probe.clone()
    }

    fn resolve(&mut self, index: usize, spec: TargetSpec) {
        let (gate, scope) = (self.tls_gate.clone(), self.plan.scope.clone());
        let (all, timeout) = (self.plan.options.all_addresses, self.plan.options.timeout);
        let task_spec = spec.clone();
        let handle = self.set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            Done::Resolved(index, resolve(&task_spec, all, timeout, scope.as_ref()).await)
        });
        self.pending.insert(handle.id(), Pending::Resolving(index, spec));
    }

    fn target(&mut self, key: TargetKey, job: ResolvedTarget) {
        let (gate, network, options, hook) =
            (self.tls_gate.clone(), self.network.clone(), self.plan.options.clone(), self.hook());
        let task_job = job.clone();
        // Resuming: a target finished by the interrupted run is not probed again.
        let stored = self.plan.done.targets.get(&resume::target_key(&empty_result(&job))).cloned();
        let handle = self.set.spawn(async move {
            if let Some(result) = stored {
                return Done::Target(key, Box::new(result));
            }
            let _permit = gate.acquire_owned().await;
            if let Some(hook) = hook {
                hook(ProbeItem::Target(&task_job.spec));
            }
            Done::Target(key, Box::new(scan_one(task_job, &options, &network).await))
        });
        self.pending.insert(handle.id(), Pending::Target(key, job));
    }

    fn zone(&mut self, index: usize, name: String) {
        let (gate, network, options, hook) =
            (self.dns_gate.clone(), self.network.clone(), self.plan.dns.clone(), self.hook());
        let task_name = name.clone();
        let stored = self.plan.done.zones.get(&resume::zone_key(&name)).cloned();
        let handle = self.set.spawn(async move {
            if let Some(facts) = stored {
                return Done::Zone(index, Box::new(facts));
            }
            let _permit = gate.acquire_owned().await;
            if let Some(hook) = hook {
                hook(ProbeItem::Zone(&task_name));
            }
            Done::Zone(index, Box::new(crate::dns::assess_zone_item(&task_name, &options, &network).await))
        });
        self.pending.insert(handle.id(), Pending::Zone(index, name));
    }

    fn resolver(&mut self, index: usize, address: std::net::SocketAddr) {
        let (gate, network, options, hook) =
            (self.dns_gate.clone(), self.network.clone(), self.plan.dns.clone(), self.hook());
        let stored = self.plan.done.resolvers.get(&address.to_string()).cloned();
        let handle = self.set.spawn(async move {
            if let Some(facts) = stored {
                return Done::Resolver(index, Box::new(facts));
            }
            let _permit = gate.acquire_owned().await;
            if let Some(hook) = hook {
                hook(ProbeItem::Resolver(address));
            }
            Done::Resolver(index, Box::new(crate::dns::assess_resolver_item(address, &options, &network).await))
        });
        self.pending.insert(handle.id(), Pending::Resolver(index, address));
    }

    /// The next finished task's result; a failed task becomes its item with the error.
    async fn next(&mut self) -> Option<Done> {
        loop {
            match self.set.join_next_with_id().await? {
                Ok((id, done)) => {
                    self.pending.remove(&id);
                    return Some(done);
                }
                Err(error) => {
                    let why = if error.is_panic() { "the probe panicked".to_string() } else { error.to_string() };
                    tracing::error!(%why, "scan task failed");
                    if let Some(pending) = self.pending.remove(&error.id()) {
                        return Some(pending.failed(why));
                    }
                }
            }
        }
    }
}

/// Run the plan, handing results to `sink` as they finish. Returns the assessed document (the
/// same one `sink.finished` received).
pub async fn run(plan: &ScanPlan, sink: &mut dyn Sink) -> Result<ScanReport, ScanError> {
    let started_at = crate::now_rfc3339();
    let mut tasks = Tasks {
        plan,
        network: Network::new(plan.options.per_host, plan.options.timeout, None).with_limits(
            DiscoveryPolicy {
                scope: plan.scope.clone().map(Arc::new),
                allow_discovered: plan.options.allow_discovered,
            },
            plan.options.max_connections,
        ),
        tls_gate: Arc::new(Semaphore::new(plan.options.concurrency.max(1))),
        dns_gate: Arc::new(Semaphore::new(plan.dns.concurrency.max(1))),
        set: JoinSet::new(),
        pending: HashMap::new(),
    };
    let mut specs: Vec<TargetSpec> = plan.targets.clone();
    for (index, spec) in specs.iter().enumerate() {
        tasks.resolve(index, spec.clone());
    }
    for (index, zone) in plan.zones.iter().enumerate() {
        tasks.zone(index, zone.name.clone());
    }
    for (index, resolver) in plan.resolvers.iter().enumerate() {
        tasks.resolver(index, resolver.address);
    }
    sink.planned(plan.zones.len() + plan.resolvers.len());

    let mut targets: Vec<(TargetKey, TargetResult)> = Vec::new();
    let mut zones: Vec<(usize, ZoneFacts)> = Vec::new();
    let mut resolvers: Vec<(usize, ResolverFacts)> = Vec::new();
    let mut mx_pass_done = plan.zones.is_empty();
    while let Some(done) = tasks.next().await {
        match done {
            Done::Resolved(index, jobs) => {
                sink.planned(jobs.len());
                for (n, job) in jobs.into_iter().enumerate() {
                    tasks.target((index, n), job);
                }
            }
            Done::Target(key, result) => {
                sink.item(Item::Target(&result))?;
                targets.push((key, *result));
            }
            Done::Zone(index, mut facts) => {
                if let Some(spec) = plan.zones.get(index) {
                    facts.sector = spec.sector.clone();
                    facts.operator = spec.operator.clone();
                }
                sink.item(Item::Zone(&facts))?;
                zones.push((index, *facts));
            }
            Done::Resolver(index, mut facts) => {
                if let Some(spec) = plan.resolvers.get(index) {
                    facts.sector = spec.sector.clone();
                    facts.operator = spec.operator.clone();
                }
                sink.item(Item::Resolver(&facts))?;
                resolvers.push((index, *facts));
            }
        }
        // Once every zone is in, their MX hosts become STARTTLS targets on port 25.
        if !mx_pass_done && zones.len() == plan.zones.len() {
            mx_pass_done = true;
            zones.sort_by_key(|(index, _)| *index);
            for spec in mx_targets(plan, &zones, &specs) {
                tasks.resolve(specs.len(), spec.clone());
                specs.push(spec);
            }
        }
    }
    targets.sort_by_key(|(key, _)| *key);
    zones.sort_by_key(|(index, _)| *index);
    resolvers.sort_by_key(|(index, _)| *index);
    let mut report = ScanReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo { name: "postura".into(), version: env!("CARGO_PKG_VERSION").into() },
        started_at,
        finished_at: crate::now_rfc3339(),
        country: plan.country.clone(),
        targets: targets.into_iter().map(|(_, t)| t).collect(),
        assessment: None,
        zones: zones.into_iter().map(|(_, z)| z).collect(),
        resolvers: resolvers.into_iter().map(|(_, r)| r).collect(),
    };
    join_across_items(&mut report);
    if let Some(assessment) = &plan.assessment {
        Assessor::from_plan(assessment).assess(&mut report);
    }
    sink.finished(&report)?;
    Ok(report)
}

/// The facts that need several items: which zones each mail host serves, the DANE match of each
/// MX against the chain its sweep saw, each target's zone CAA set, and DROWN through another
/// endpoint serving the same key with SSLv2.
pub(crate) fn join_across_items(report: &mut ScanReport) {
    for target in report.targets.iter_mut().filter(|t| t.port == 25) {
        let host = mail_host_key(&target.host);
        target.mx_of = report
            .zones
            .iter()
            .filter(|z| z.mail.as_ref().is_some_and(|m| m.mx.iter().any(|mx| mail_host_key(&mx.exchange) == host)))
            .map(|z| z.name.clone())
            .collect();
    }
    crate::dns::dane::match_served_chains(&mut report.zones, &report.targets);
    crate::dns::attach_zone_caa(&mut report.targets, &report.zones);
    crate::tls::vuln::drown::across_scan(&mut report.targets);
}

fn mail_host_key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// One `smtp-starttls` target (port 25) per MX exchange of the assessed zones, pinned to the
/// addresses the DNS probes found, and carrying the zone's sector and operator. An exchange
/// already declared (or already found for another zone) is scanned once; a Null MX or an
/// exchange without address gives none; an exchange outside the scope's names is recorded, not
/// contacted.
pub(crate) fn mx_targets(plan: &ScanPlan, zones: &[(usize, ZoneFacts)], known: &[TargetSpec]) -> Vec<TargetSpec> {
    let mut specs: Vec<TargetSpec> = Vec::new();
    let already = |specs: &[TargetSpec], host: &str| {
        known
            .iter()
            .chain(specs.iter())
            .any(|s| s.port == 25 && s.service == Service::SmtpStarttls && mail_host_key(&s.host) == host)
    };
    for (index, zone) in zones {
        let Some(mail) = &zone.mail else { continue };
        let declared = plan.zones.get(*index);
        for mx in &mail.mx {
            let host = mail_host_key(&mx.exchange);
            let pinned: Vec<std::net::IpAddr> = mx.addresses.iter().filter_map(|a| a.parse().ok()).collect();
            if host.is_empty() || pinned.is_empty() || already(&specs, &host) {
                continue;
            }
            specs.push(TargetSpec {
                host,
                port: 25,
                service: Service::SmtpStarttls,
                pinned,
                sector: declared.and_then(|z| z.sector.clone()),
                operator: declared.and_then(|z| z.operator.clone()),
            });
        }
    }
    specs
}
