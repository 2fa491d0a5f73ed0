//! The scan, as a library: `run(plan, sink)` owns every stage of a scan — TLS and STARTTLS
//! targets (with their certificate and HTTP probes), zones and resolvers side by side, the MX
//! pass once every zone is in, the DANE, CAA, MX and DROWN joins, then checks, grades, scores
//! and the country index. Each target, zone and resolver is handed to the sink as soon as it
//! finishes; then, in document order, each item again once joined and judged; the country
//! assessment last.
//!
//! One task owns the state (tokio-console's aggregator): probes run as tasks of one `JoinSet`
//! and return their result; this collector alone receives the results and feeds the sink. A
//! task that panics is not lost: its item is recorded with an error naming an internal failure.
//! Finished items wait for the assessment pass in a temporary file, not in memory: a scan of ten
//! thousand endpoints holds a few bytes per item (docs/benchmarks.md).

pub mod clip;
pub mod plan;
pub mod resume;
pub mod sink;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use plan::{AssessmentPlan, BeforeProbe, ProbeItem, ResolverSpec, ScanPlan, StopFlag, ZoneSpec};
pub use resume::StoredItems;
pub use sink::{Collect, DocumentWriter, Fanout, Item, JsonSink, NoSink, ScanSummary, Sink, SinkError};

use crate::checks::Assessor;
use crate::dns::facts::{CaaFacts, ResolverFacts, ZoneFacts};
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
    /// The temporary file finished items wait in for the assessment pass.
    #[error("{0}")]
    Spill(String),
    /// `ScanPlan::stop` was raised: the items in flight finished, the rest were not probed.
    #[error("stopped before the end (the items finished so far were handed to the sink)")]
    Stopped,
}

/// Where a target result goes in the document: its spec's place, then its address's.
type TargetKey = (usize, usize);

/// What a task hands back.
enum Done {
    Resolved(usize, Vec<ResolvedTarget>),
    Target(TargetKey, Box<TargetResult>),
    Zone(usize, Box<ZoneFacts>),
    Resolver(usize, Box<ResolverFacts>),
    /// Not started: the scan is stopping (`ScanPlan::stop`).
    Skipped,
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
    /// The profile's scope, shared by the resolution tasks.
    scope: Option<Arc<crate::profile::Scope>>,
    tls_gate: Arc<Semaphore>,
    dns_gate: Arc<Semaphore>,
    set: JoinSet<Done>,
    pending: HashMap<tokio::task::Id, Pending>,
    /// Resolved targets not yet started: a target's task (its probes' state) exists only while
    /// it runs, so ten thousand waiting targets cost their spec, not their probes' futures.
    waiting: VecDeque<(TargetKey, ResolvedTarget)>,
    targets_running: usize,
}

impl Tasks<'_> {
    fn hook(&self) -> Option<BeforeProbe> {
        self.plan.before_probe.clone()
    }

    fn stop(&self) -> Option<plan::StopFlag> {
        self.plan.stop.clone()
    }

    fn resolve(&mut self, index: usize, spec: TargetSpec) {
        let (gate, scope) = (self.tls_gate.clone(), self.scope.clone());
        let (all, timeout) = (self.plan.options.all_addresses, self.plan.options.timeout);
        let task_spec = spec.clone();
        let stop = self.stop();
        let handle = self.set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            if stopping(&stop) {
                return Done::Skipped;
            }
            Done::Resolved(index, resolve(&task_spec, all, timeout, scope.as_deref()).await)
        });
        self.pending.insert(handle.id(), Pending::Resolving(index, spec));
    }

    /// Queue a resolved target; it starts when fewer than `--concurrency` targets run.
    fn target(&mut self, key: TargetKey, job: ResolvedTarget) {
        self.waiting.push_back((key, job));
        self.start_waiting();
    }

    fn start_waiting(&mut self) {
        while self.targets_running < self.plan.options.concurrency.max(1) {
            let Some((key, job)) = self.waiting.pop_front() else { break };
            self.targets_running += 1;
            self.spawn_target(key, job);
        }
    }

    fn spawn_target(&mut self, key: TargetKey, job: ResolvedTarget) {
        let (gate, network, options, hook) =
            (self.tls_gate.clone(), self.network.clone(), self.plan.options.clone(), self.hook());
        let stop = self.stop();
        let task_job = job.clone();
        // Resuming: a target finished by the interrupted run is not probed again.
        let stored = self.plan.done.targets.get(&resume::target_key(&empty_result(&job))).cloned();
        let handle = self.set.spawn(async move {
            if let Some(result) = stored {
                return Done::Target(key, Box::new(result));
            }
            let _permit = gate.acquire_owned().await;
            if stopping(&stop) {
                return Done::Skipped;
            }
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
        let stop = self.stop();
        let task_name = name.clone();
        let stored = self.plan.done.zones.get(&resume::zone_key(&name)).cloned();
        let handle = self.set.spawn(async move {
            if let Some(facts) = stored {
                return Done::Zone(index, Box::new(facts));
            }
            let _permit = gate.acquire_owned().await;
            if stopping(&stop) {
                return Done::Skipped;
            }
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
        let stop = self.stop();
        let stored = self.plan.done.resolvers.get(&address.to_string()).cloned();
        let handle = self.set.spawn(async move {
            if let Some(facts) = stored {
                return Done::Resolver(index, Box::new(facts));
            }
            let _permit = gate.acquire_owned().await;
            if stopping(&stop) {
                return Done::Skipped;
            }
            if let Some(hook) = hook {
                hook(ProbeItem::Resolver(address));
            }
            Done::Resolver(index, Box::new(crate::dns::assess_resolver_item(address, &options, &network).await))
        });
        self.pending.insert(handle.id(), Pending::Resolver(index, address));
    }

    /// A task ended: a target's frees its place for a waiting one.
    fn ended(&mut self, pending: Option<&Pending>) {
        if let Some(Pending::Target(..)) = pending {
            self.targets_running -= 1;
            self.start_waiting();
        }
    }

    /// The next finished task's result; a failed task becomes its item with the error.
    async fn next(&mut self) -> Option<Done> {
        loop {
            match self.set.join_next_with_id().await? {
                Ok((id, done)) => {
                    let pending = self.pending.remove(&id);
                    self.ended(pending.as_ref());
                    return Some(done);
                }
                Err(error) => {
                    let why = if error.is_panic() { "the probe panicked".to_string() } else { error.to_string() };
                    tracing::error!(%why, "scan task failed");
                    if let Some(pending) = self.pending.remove(&error.id()) {
                        self.ended(Some(&pending));
                        return Some(pending.failed(why));
                    }
                }
            }
        }
    }
}

/// Run the plan, handing results to `sink` as they finish, then each assessed item and the
/// country assessment (see [`Sink`]). Memory does not grow with the scan: finished items are
/// spilled to a temporary file and read back one at a time for the joins and the checks; only
/// the few facts the joins need (mail hosts' chains, zones' MX hosts and CAA, SSLv2 keys) stay
/// in memory. Returns the summary `sink.finished` received; [`run_to_report`] keeps the whole
/// document instead.
pub async fn run(plan: &ScanPlan, sink: &mut dyn Sink) -> Result<ScanSummary, ScanError> {
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
        scope: plan.scope.clone().map(Arc::new),
        tls_gate: Arc::new(Semaphore::new(plan.options.concurrency.max(1))),
        dns_gate: Arc::new(Semaphore::new(plan.dns.concurrency.max(1))),
        set: JoinSet::new(),
        pending: HashMap::new(),
        waiting: VecDeque::new(),
        targets_running: 0,
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

    let mut spill = Spill::new()?;
    let mut joins = Joins::default();
    let mut zones_in = 0;
    let mut mx_pass_done = plan.zones.is_empty();
    while let Some(done) = tasks.next().await {
        match done {
            Done::Resolved(index, jobs) => {
                sink.planned(jobs.len());
                for (n, job) in jobs.into_iter().enumerate() {
                    tasks.target((index, n), job);
                }
            }
            Done::Target(key, mut result) => {
                let text = clip::clip_item(&mut *result).map_err(Spill::unserialisable)?;
                sink.item(Item::Target(&result))?;
                joins.observe_target(key, &result);
                spill.put(Slot::Target(key), text)?;
            }
            Done::Zone(index, mut facts) => {
                if let Some(spec) = plan.zones.get(index) {
                    facts.sector = spec.sector.clone();
                    facts.operator = spec.operator.clone();
                }
                let text = clip::clip_item(&mut *facts).map_err(Spill::unserialisable)?;
                sink.item(Item::Zone(&facts))?;
                joins.observe_zone(index, &facts);
                spill.put(Slot::Zone(index), text)?;
                zones_in += 1;
            }
            Done::Resolver(index, mut facts) => {
                if let Some(spec) = plan.resolvers.get(index) {
                    facts.sector = spec.sector.clone();
                    facts.operator = spec.operator.clone();
                }
                let text = clip::clip_item(&mut *facts).map_err(Spill::unserialisable)?;
                sink.item(Item::Resolver(&facts))?;
                spill.put(Slot::Resolver(index), text)?;
            }
            Done::Skipped => {}
        }
        // Once every zone is in, their MX hosts become STARTTLS targets on port 25.
        if !mx_pass_done && zones_in == plan.zones.len() && !stopping(&plan.stop) {
            mx_pass_done = true;
            for spec in mx_targets(plan, &joins.zones, &specs) {
                tasks.resolve(specs.len(), spec.clone());
                specs.push(spec);
            }
        }
    }
    if stopping(&plan.stop) {
        return Err(ScanError::Stopped);
    }
    let mut summary = ScanSummary {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo { name: "postura".into(), version: env!("CARGO_PKG_VERSION").into() },
        started_at,
        finished_at: crate::now_rfc3339(),
        country: plan.country.clone(),
        assessment: None,
        targets: spill.count(SlotKind::Target),
        zones: spill.count(SlotKind::Zone),
        resolvers: spill.count(SlotKind::Resolver),
    };
    sink.begin(&summary)?;
    let assessor = plan.assessment.as_ref().map(Assessor::from_plan);
    let mut tally = crate::checks::Tally::default();
    for slot in spill.slots() {
        match slot {
            Slot::Target(_) => {
                let mut target: TargetResult = spill.get(slot)?;
                joins.apply_to_target(&mut target);
                if let Some(assessor) = &assessor {
                    assessor.assess_target(&mut target, &mut tally);
                }
                sink.assessed(Item::Target(&target))?;
            }
            Slot::Zone(_) => {
                let mut zone: ZoneFacts = spill.get(slot)?;
                joins.apply_to_zone(&mut zone);
                if let Some(assessor) = &assessor {
                    assessor.assess_zone(&mut zone, &mut tally);
                }
                sink.assessed(Item::Zone(&zone))?;
            }
            Slot::Resolver(_) => {
                let mut resolver: ResolverFacts = spill.get(slot)?;
                if let Some(assessor) = &assessor {
                    assessor.assess_resolver(&mut resolver, &mut tally);
                }
                sink.assessed(Item::Resolver(&resolver))?;
            }
        }
    }
    summary.assessment = assessor.map(|assessor| assessor.conclude(tally));
    sink.finished(&summary)?;
    Ok(summary)
}

/// [`run`], keeping the whole assessed document in memory and returning it (memory grows with
/// the scan): for tests, small scans and callers that want a `ScanReport`.
pub async fn run_to_report(plan: &ScanPlan, sink: &mut dyn Sink) -> Result<ScanReport, ScanError> {
    let mut collect = Collect::default();
    let summary = {
        let mut both = Fanout(vec![Box::new(&mut collect), Box::new(sink)]);
        run(plan, &mut both).await?
    };
    Ok(collect.into_report(&summary))
}

/// Where a finished item goes in the document: targets (by spec, then address), zones,
/// resolvers (by declaration). Sorting slots gives the document's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Target(TargetKey),
    Zone(usize),
    Resolver(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    Target,
    Zone,
    Resolver,
}

impl Slot {
    fn kind(&self) -> SlotKind {
        match self {
            Slot::Target(_) => SlotKind::Target,
            Slot::Zone(_) => SlotKind::Zone,
            Slot::Resolver(_) => SlotKind::Resolver,
        }
    }
}

/// Finished items as compact JSON in an anonymous temporary file (gone when the scan ends,
/// however it ends), each found again by its offset: the scan holds 24 bytes per item, not the
/// item.
struct Spill {
    file: std::io::BufWriter<std::fs::File>,
    written: u64,
    at: std::collections::BTreeMap<Slot, (u64, usize)>,
}

impl Spill {
    fn new() -> Result<Spill, ScanError> {
        let file =
            tempfile::tempfile().map_err(|e| ScanError::Spill(format!("cannot create a temporary file: {e}")))?;
        Ok(Spill { file: std::io::BufWriter::with_capacity(256 * 1024, file), written: 0, at: Default::default() })
    }

    fn unserialisable(error: serde_json::Error) -> ScanError {
        ScanError::Spill(format!("cannot serialise an item: {error}"))
    }

    /// Keep an item's JSON until the assessment pass.
    fn put(&mut self, slot: Slot, text: Vec<u8>) -> Result<(), ScanError> {
        use std::io::Write;
        self.file.write_all(&text).map_err(|e| ScanError::Spill(format!("cannot write the temporary file: {e}")))?;
        self.at.insert(slot, (self.written, text.len()));
        self.written += text.len() as u64;
        Ok(())
    }

    fn count(&self, kind: SlotKind) -> usize {
        self.at.keys().filter(|slot| slot.kind() == kind).count()
    }

    /// Every slot, in document order.
    fn slots(&self) -> Vec<Slot> {
        self.at.keys().copied().collect()
    }

    fn get<T: serde::de::DeserializeOwned>(&mut self, slot: Slot) -> Result<T, ScanError> {
        use std::io::{Read, Seek};
        let failed = |e: &dyn std::fmt::Display| ScanError::Spill(format!("cannot read the temporary file back: {e}"));
        let (offset, len) = *self.at.get(&slot).ok_or_else(|| failed(&"no such item"))?;
        std::io::Write::flush(&mut self.file).map_err(|e| failed(&e))?;
        let file = self.file.get_mut();
        file.seek(std::io::SeekFrom::Start(offset)).map_err(|e| failed(&e))?;
        let mut text = vec![0; len];
        file.read_exact(&mut text).map_err(|e| failed(&e))?;
        file.seek(std::io::SeekFrom::End(0)).map_err(|e| failed(&e))?;
        serde_json::from_slice(&text).map_err(|e| failed(&e))
    }
}

/// What the joins across items need, gathered as each item finishes (the items themselves are
/// spilled): the chain each mail host's port 25 served (DANE), each zone's name, MX hosts and
/// CAA set (MX links, CAA, and the MX pass), and the keys served with SSLv2 (DROWN).
#[derive(Default)]
struct Joins {
    mail_chains: HashMap<String, (TargetKey, Vec<String>)>,
    zones: Vec<ZoneJoin>,
    sslv2: crate::tls::vuln::drown::Sslv2Keys,
}

/// One zone's facts for the joins and the MX pass.
struct ZoneJoin {
    index: usize,
    name: String,
    /// MX exchanges (lower case, no trailing dot) with their addresses.
    mx: Vec<(String, Vec<String>)>,
    caa: Option<CaaFacts>,
}

impl Joins {
    fn observe_target(&mut self, key: TargetKey, target: &TargetResult) {
        self.sslv2.observe(target);
        let Some(tls) = target.tls.as_ref().filter(|tls| target.port == 25 && !tls.chain_pem.is_empty()) else {
            return;
        };
        // DANE matches the first such target in document order, as the items are sorted.
        let entry = self.mail_chains.entry(target.host.clone()).or_insert_with(|| (key, tls.chain_pem.clone()));
        if key < entry.0 {
            *entry = (key, tls.chain_pem.clone());
        }
    }

    fn observe_zone(&mut self, index: usize, zone: &ZoneFacts) {
        let mx = zone.mail.as_ref().map_or_else(Vec::new, |mail| {
            mail.mx.iter().map(|mx| (mail_host_key(&mx.exchange), mx.addresses.clone())).collect()
        });
        self.zones.push(ZoneJoin { index, name: zone.name.clone(), mx, caa: zone.caa.clone() });
        self.zones.sort_by_key(|z| z.index);
    }

    /// Which zones a mail host serves, its zone's CAA set, DROWN through another endpoint.
    fn apply_to_target(&self, target: &mut TargetResult) {
        if target.port == 25 {
            let host = mail_host_key(&target.host);
            target.mx_of = self
                .zones
                .iter()
                .filter(|z| z.mx.iter().any(|(exchange, _)| *exchange == host))
                .map(|z| z.name.clone())
                .collect();
        }
        let zone = crate::dns::enclosing_zone(&target.host, self.zones.iter().map(|z| z.name.as_str()));
        target.caa = zone.and_then(|name| self.zones.iter().find(|z| z.name == name)).and_then(|z| z.caa.clone());
        self.sslv2.apply(target);
    }

    /// The DANE match of each MX against the chain its sweep saw.
    fn apply_to_zone(&self, zone: &mut ZoneFacts) {
        crate::dns::dane::match_zone_chains(zone, |host| self.mail_chains.get(host).map(|(_, c)| c.as_slice()));
    }
}

/// The joins across items on a whole document in memory (a distributed scan's finishing step,
/// `crate::distributed`): the same joins the streaming run applies item by item.
pub(crate) fn join_across_items(report: &mut ScanReport) {
    let joins = joins_of(&report.targets, &report.zones);
    report.targets.iter_mut().for_each(|target| joins.apply_to_target(target));
    report.zones.iter_mut().for_each(|zone| joins.apply_to_zone(zone));
}

/// The MX pass over zones already assessed (index in the plan, facts), for the distributed scan.
pub(crate) fn mx_targets_of(plan: &ScanPlan, zones: &[(usize, ZoneFacts)], known: &[TargetSpec]) -> Vec<TargetSpec> {
    let mut joins = Joins::default();
    zones.iter().for_each(|(index, zone)| joins.observe_zone(*index, zone));
    mx_targets(plan, &joins.zones, known)
}

fn joins_of(targets: &[TargetResult], zones: &[ZoneFacts]) -> Joins {
    let mut joins = Joins::default();
    targets.iter().enumerate().for_each(|(index, target)| joins.observe_target((index, 0), target));
    zones.iter().enumerate().for_each(|(index, zone)| joins.observe_zone(index, zone));
    joins
}

fn stopping(stop: &Option<plan::StopFlag>) -> bool {
    stop.as_ref().is_some_and(plan::StopFlag::is_raised)
}

fn mail_host_key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// One `smtp-starttls` target (port 25) per MX exchange of the assessed zones, pinned to the
/// addresses the DNS probes found, and carrying the zone's sector and operator. An exchange
/// already declared (or already found for another zone) is scanned once; a Null MX or an
/// exchange without address gives none; an exchange outside the scope's names is recorded, not
/// contacted.
fn mx_targets(plan: &ScanPlan, zones: &[ZoneJoin], known: &[TargetSpec]) -> Vec<TargetSpec> {
    let mut specs: Vec<TargetSpec> = Vec::new();
    let already = |specs: &[TargetSpec], host: &str| {
        known
            .iter()
            .chain(specs.iter())
            .any(|s| s.port == 25 && s.service == Service::SmtpStarttls && mail_host_key(&s.host) == host)
    };
    for zone in zones {
        let declared = plan.zones.get(zone.index);
        for (host, addresses) in &zone.mx {
            let host = host.clone();
            let pinned: Vec<std::net::IpAddr> = addresses.iter().filter_map(|a| a.parse().ok()).collect();
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
                xmpp_domain: None,
            });
        }
    }
    specs
}
