//! Distributed scans on a PostgreSQL store: `scan --distributed` queues one job per item of the
//! plan (each target, zone and resolver, from each vantage point asked for), `postura worker`
//! processes run them on any number of machines, every result goes to the store in the job's
//! own transaction, and the job that completes the last item queues the finishing job (joins,
//! checks, grades, scores, the stored document), which `postura finish SCAN` can also run.
//!
//! The queue is `underway` (PostgreSQL, docs/scaling.md says why): it claims jobs with
//! `FOR UPDATE SKIP LOCKED`, holds a transaction-level advisory lock on each running job, records
//! heartbeats so that a dead worker's job is taken by another once its heartbeat is stale,
//! retries failures with exponential backoff, and has a cron scheduler. What is postura's:
//! - the work list (`work` table: one row per item and vantage, marked done in the job's
//!   transaction), from which the MX pass (once every zone of a vantage is in) and the end of
//!   the scan are decided, under a row lock on the scan so that exactly one job sees the end;
//! - politeness across workers: a target's whole probe is one job, and before probing it the
//!   job takes a transaction-level advisory lock per address, so that jobs for the same address
//!   never run at once anywhere; inside the job the scan's per-address limit (`--per-host`) and
//!   per-target ceiling (`--max-connections`) apply as in a single process. A resolver's job
//!   locks its address the same way. The zones of a vantage point are one job (their
//!   nameservers are shared and found only while probing), run with the plan's DNS concurrency
//!   through one process's per-address limit, as in a single-process scan.
//!
//! A worker rebuilds a scan's plan from the arguments stored with it (`scans.args`, read in the
//! directory the scan was started from, which every worker must have: profiles and CA files at
//! the same paths), once per scan, and runs only the items it is given (`run_item`).

pub mod run_item;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use jiff::ToSpan;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};
use underway::task::{Error as TaskError, Result as TaskResult, RetryPolicy};
use underway::{Queue, Task, Worker};

use crate::checks::model::{VantageDifference, MAX_VANTAGE_DIFFERENCES};
use crate::facts::{ScanReport, TargetResult, ToolInfo, SCHEMA_VERSION};
use crate::net::Network;
use crate::profile::Service;
use crate::scan::resume::{target_key, zone_key};
use crate::scan::ScanPlan;
use crate::store::postgres;
use crate::target::TargetSpec;

/// How often a running job records that its worker is alive; a job whose heartbeat is older
/// than this is taken over by another worker (its first worker died or lost the database).
pub const HEARTBEAT_SECONDS: i64 = 10;

/// A job may run this long (waiting for an address another worker is probing included) before
/// it is abandoned and retried.
const JOB_TIMEOUT_MINUTES: i64 = 120;

/// Attempts per job: a worker killed mid-job, a database restart and a stale heartbeat on a
/// loaded machine each cost one.
const MAX_ATTEMPTS: i32 = 25;

/// The queue of a vantage point ('' for workers without one).
pub fn queue_name(vantage: &str) -> String {
    if vantage.is_empty() {
        "postura".to_string()
    } else {
        format!("postura@{vantage}")
    }
}

/// A vantage point's name: 1–40 of `a-z 0-9 . _ -`.
pub fn check_vantage(name: &str) -> anyhow::Result<()> {
    let ok = (1..=40).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        anyhow::bail!("vantage '{name}': expected 1 to 40 of a-z, 0-9, '.', '_', '-'");
    }
    Ok(())
}

/// One job: an item of a scan, from one vantage point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub scan: i64,
    #[serde(default)]
    pub vantage: String,
    pub item: WorkItem,
}

/// What a job runs; plan items by their place in the plan rebuilt from the scan's arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkItem {
    Target {
        index: usize,
    },
    /// A mail host the MX pass found (not in the plan, so carried whole).
    Mx {
        target: JobTarget,
    },
    /// One zone (scans queued before zones became one job per vantage point).
    Zone {
        index: usize,
    },
    /// Every zone of the plan, in one job: zones share nameservers (a registry's, an operator's)
    /// that are only found while probing, so the per-address limit can only hold across them
    /// inside one process, as in a single-process scan.
    Zones,
    Resolver {
        index: usize,
    },
    /// The joins, the assessment and the stored document, once every item is in.
    Finish,
}

impl WorkItem {
    /// The item's row in the work list (none for the finishing job).
    fn work_key(&self) -> Option<String> {
        match self {
            WorkItem::Target { index } => Some(format!("target {index}")),
            WorkItem::Mx { target } => Some(format!("mx {}", target.host)),
            WorkItem::Zone { index } => Some(format!("zone {index}")),
            WorkItem::Resolver { index } => Some(format!("resolver {index}")),
            // Each zone's own row is marked as it is stored.
            WorkItem::Zones | WorkItem::Finish => None,
        }
    }
}

/// The work-list row of the MX pass of a vantage (done once every zone of it is in).
const MX_PASS: &str = "mx pass";

/// A target spec as a job carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobTarget {
    pub host: String,
    pub port: u16,
    pub service: Service,
    pub pinned: Vec<IpAddr>,
    pub sector: Option<String>,
    pub operator: Option<String>,
    /// The XMPP stream's domain when it is not the host (`TargetSpec::xmpp_domain`).
    #[serde(default)]
    pub xmpp_domain: Option<String>,
}

impl From<TargetSpec> for JobTarget {
    fn from(spec: TargetSpec) -> JobTarget {
        JobTarget {
            host: spec.host,
            port: spec.port,
            service: spec.service,
            pinned: spec.pinned,
            sector: spec.sector,
            operator: spec.operator,
            xmpp_domain: spec.xmpp_domain,
        }
    }
}

impl From<JobTarget> for TargetSpec {
    fn from(target: JobTarget) -> TargetSpec {
        TargetSpec {
            host: target.host,
            port: target.port,
            service: target.service,
            pinned: target.pinned,
            sector: target.sector,
            operator: target.operator,
            xmpp_domain: target.xmpp_domain,
        }
    }
}

/// A scan as a worker holds it: the plan rebuilt from its arguments, its connection path (the
/// per-address limit shared by every job of the scan this process runs), its vantage points.
pub struct ScanContext {
    pub plan: ScanPlan,
    pub network: Network,
    /// The vantage points asked for ('' alone for none); the first one's facts make the report.
    pub vantages: Vec<String>,
}

/// Rebuild a scan's plan from its stored arguments, in the directory it was started from.
pub async fn load_context(pool: &PgPool, scan: i64) -> anyhow::Result<ScanContext> {
    // The working directory is the process's: one plan is built at a time.
    static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let (args, cwd, _status) =
        postgres::scan_arguments(pool, scan).await?.ok_or_else(|| anyhow::anyhow!("no scan {scan} in the store"))?;
    let stored: Vec<String> = serde_json::from_str(&args).context("the scan's stored arguments are unreadable")?;
    let args =
        parse_scan_args(&stored).with_context(|| format!("scan {scan}: its stored arguments no longer parse"))?;
    let _building = BUILDING.lock().await;
    let previous = std::env::current_dir().ok();
    std::env::set_current_dir(&cwd).with_context(|| {
        format!("scan {scan} was started in {cwd}, which this worker does not have (workers need the same paths)")
    })?;
    let plan = ScanPlan::from_args(&args).await;
    if let Some(previous) = previous {
        let _ = std::env::set_current_dir(previous);
    }
    let (plan, _notes) = plan.with_context(|| format!("scan {scan}: cannot rebuild its plan"))?;
    let network = run_item::network_for(&plan);
    let vantages = if args.vantage.is_empty() { vec![String::new()] } else { args.vantage.clone() };
    Ok(ScanContext { plan, network, vantages })
}

fn parse_scan_args(stored: &[String]) -> anyhow::Result<crate::cli::ScanArgs> {
    use clap::Parser;
    let mut full = vec!["postura".to_string(), "scan".to_string()];
    full.extend(stored.iter().cloned());
    let cli = crate::cli::Cli::try_parse_from(full)?;
    match cli.command {
        crate::cli::Command::Scan(args) => Ok(args),
        _ => anyhow::bail!("not a scan's arguments"),
    }
}

/// The queue's task: runs jobs, and queues the jobs they lead to.
#[derive(Clone)]
pub struct ScanTask {
    pool: PgPool,
    contexts: Arc<tokio::sync::Mutex<HashMap<i64, Arc<ScanContext>>>>,
    queues: Arc<tokio::sync::Mutex<HashMap<String, Arc<Queue<ScanTask>>>>>,
}

fn retryable(error: anyhow::Error) -> TaskError {
    TaskError::Retryable(format!("{error:#}"))
}

impl ScanTask {
    pub fn new(pool: PgPool) -> ScanTask {
        ScanTask { pool, contexts: Arc::default(), queues: Arc::default() }
    }

    /// The queue of `vantage`, made (and registered in the database) on first use.
    pub async fn queue(&self, vantage: &str) -> anyhow::Result<Arc<Queue<ScanTask>>> {
        let mut queues = self.queues.lock().await;
        if let Some(queue) = queues.get(vantage) {
            return Ok(queue.clone());
        }
        let queue = Queue::builder().name(queue_name(vantage)).pool(self.pool.clone()).build().await?;
        let queue = Arc::new(queue);
        queues.insert(vantage.to_string(), queue.clone());
        Ok(queue)
    }

    /// Queue `job` in `tx` (it runs only if `tx` commits).
    async fn enqueue(&self, tx: &mut Transaction<'_, Postgres>, job: &Job) -> anyhow::Result<()> {
        let queue = self.queue(&job.vantage).await?;
        queue.enqueue(&mut **tx, self, job).await?;
        Ok(())
    }

    async fn context(&self, scan: i64) -> anyhow::Result<Arc<ScanContext>> {
        if let Some(context) = self.contexts.lock().await.get(&scan) {
            return Ok(context.clone());
        }
        let context = Arc::new(load_context(&self.pool, scan).await?);
        self.contexts.lock().await.entry(scan).or_insert(context.clone());
        Ok(context)
    }

    async fn run(&self, tx: &mut Transaction<'_, Postgres>, job: &Job) -> anyhow::Result<()> {
        let context = self.context(job.scan).await?;
        let plan = &context.plan;
        let (scan, vantage) = (job.scan, job.vantage.as_str());
        match &job.item {
            WorkItem::Finish => return finish(tx, &context, scan).await,
            WorkItem::Target { index } => {
                let spec = plan.targets.get(*index).ok_or_else(|| anyhow::anyhow!("no target {index} in the plan"))?;
                self.run_target(tx, &context, job, spec.clone()).await?;
            }
            WorkItem::Mx { target } => self.run_target(tx, &context, job, target.clone().into()).await?,
            WorkItem::Zone { index } => {
                let facts = zone_facts(&context, *index).await?;
                let text = serde_json::to_string(&facts)?;
                postgres::put_item(&mut **tx, scan, "zone", &zone_key(&facts.name), &text, vantage).await?;
            }
            WorkItem::Zones => return self.run_zones(tx, &context, job).await,
            WorkItem::Resolver { index } => {
                let address = plan
                    .resolvers
                    .get(*index)
                    .ok_or_else(|| anyhow::anyhow!("no resolver {index} in the plan"))?
                    .address;
                lock_address(tx, address.ip()).await?;
                let index = *index;
                let probe =
                    isolated(
                        &context,
                        move |c| async move { run_item::assess_resolver(&c.plan, &c.network, index).await },
                    );
                let facts = probe.await.unwrap_or_else(|why| crate::dns::facts::ResolverFacts {
                    address: address.to_string(),
                    error: Some(why),
                    ..Default::default()
                });
                let text = serde_json::to_string(&facts)?;
                postgres::put_item(&mut **tx, scan, "resolver", &facts.address, &text, vantage).await?;
            }
        }
        self.complete(tx, &context, job).await
    }

    /// Every zone of the plan at once (at most the plan's DNS concurrency), through this
    /// process's connection path; each zone stored and marked done as a `Zone` job would be.
    async fn run_zones(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        context: &Arc<ScanContext>,
        job: &Job,
    ) -> anyhow::Result<()> {
        let gate = Arc::new(tokio::sync::Semaphore::new(context.plan.dns.concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        for index in 0..context.plan.zones.len() {
            let (context, gate) = (context.clone(), gate.clone());
            running.spawn(async move {
                let _slot = gate.acquire_owned().await;
                (index, zone_facts(&context, index).await)
            });
        }
        let mut done = Vec::new();
        while let Some(finished) = running.join_next().await {
            let (index, facts) = finished.map_err(|e| anyhow::anyhow!("a zone's task failed: {e}"))?;
            done.push((index, facts?));
        }
        done.sort_by_key(|(index, _)| *index);
        for (index, facts) in done {
            let text = serde_json::to_string(&facts)?;
            postgres::put_item(&mut **tx, job.scan, "zone", &zone_key(&facts.name), &text, &job.vantage).await?;
            let zone = Job { scan: job.scan, vantage: job.vantage.clone(), item: WorkItem::Zone { index } };
            self.complete(tx, context, &zone).await?;
        }
        Ok(())
    }

    /// Resolve, take every address's lock (no other job probes them meanwhile), probe.
    async fn run_target(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        context: &Arc<ScanContext>,
        job: &Job,
        spec: TargetSpec,
    ) -> anyhow::Result<()> {
        let resolved = run_item::resolve_target(&context.plan, &spec).await;
        for address in run_item::addresses(&resolved) {
            lock_address(tx, address).await?;
        }
        for target in resolved {
            let job_target = target.clone();
            let probe = isolated(context, move |c| async move {
                Some(run_item::scan_target(&c.plan, &c.network, job_target).await)
            });
            let result: TargetResult = probe.await.unwrap_or_else(|why| {
                let mut result = crate::engine::empty_result(&target);
                result.error = Some(why);
                result
            });
            let text = serde_json::to_string(&result)?;
            postgres::put_item(&mut **tx, job.scan, "target", &target_key(&result), &text, &job.vantage).await?;
        }
        Ok(())
    }

    /// Mark the job's item done; after the last zone of a vantage, queue its MX hosts; after the
    /// last item of the scan, queue the finishing job.
    async fn complete(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        context: &ScanContext,
        job: &Job,
    ) -> anyhow::Result<()> {
        let Some(key) = job.item.work_key() else { return Ok(()) };
        let (scan, vantage) = (job.scan, job.vantage.as_str());
        let marked =
            sqlx::query("UPDATE work SET done = TRUE WHERE scan_id = $1 AND item = $2 AND vantage = $3 AND NOT done")
                .bind(scan)
                .bind(&key)
                .bind(vantage)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        if marked == 0 {
            // Done already (a repeated job): what followed from it was queued then.
            return Ok(());
        }
        // One completing job at a time per scan, so that exactly one sees the end. NO KEY UPDATE:
        // the job's stored items hold KEY SHARE on the scan's row (their foreign key), which FOR
        // UPDATE would wait for, in both directions (a deadlock).
        sqlx::query("SELECT id FROM scans WHERE id = $1 FOR NO KEY UPDATE").bind(scan).execute(&mut **tx).await?;
        if matches!(job.item, WorkItem::Zone { .. }) {
            self.mx_pass(tx, context, scan, vantage).await?;
        }
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM work WHERE scan_id = $1 AND NOT done")
            .bind(scan)
            .fetch_one(&mut **tx)
            .await?;
        if pending == 0 {
            tracing::info!(scan, "last item in: queueing the assessment");
            self.enqueue(tx, &Job { scan, vantage: vantage.to_string(), item: WorkItem::Finish }).await?;
        }
        Ok(())
    }

    async fn mx_pass(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        context: &ScanContext,
        scan: i64,
        vantage: &str,
    ) -> anyhow::Result<()> {
        let zones_pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM work WHERE scan_id = $1 AND vantage = $2 AND item LIKE 'zone %' AND NOT done",
        )
        .bind(scan)
        .bind(vantage)
        .fetch_one(&mut **tx)
        .await?;
        if zones_pending > 0 {
            return Ok(());
        }
        let started =
            sqlx::query("UPDATE work SET done = TRUE WHERE scan_id = $1 AND item = $2 AND vantage = $3 AND NOT done")
                .bind(scan)
                .bind(MX_PASS)
                .bind(vantage)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        if started == 0 {
            return Ok(());
        }
        let rows = postgres::item_rows(&mut **tx, scan, vantage).await?;
        let stored = crate::store::items_from_rows("", scan, rows)?;
        let plan = &context.plan;
        let mut zones: Vec<(usize, crate::dns::facts::ZoneFacts)> = plan
            .zones
            .iter()
            .enumerate()
            .filter_map(|(index, spec)| stored.zones.get(&zone_key(&spec.name)).map(|z| (index, z.clone())))
            .collect();
        zones.sort_by_key(|(index, _)| *index);
        for spec in crate::scan::mx_targets_of(plan, &zones, &plan.targets) {
            let target = JobTarget::from(spec);
            let item = WorkItem::Mx { target };
            let key = item.work_key().unwrap_or_default();
            let added =
                sqlx::query("INSERT INTO work (scan_id, item, vantage) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(scan)
                    .bind(&key)
                    .bind(vantage)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
            if added == 1 {
                self.enqueue(tx, &Job { scan, vantage: vantage.to_string(), item }).await?;
            }
        }
        Ok(())
    }
}

impl Task for ScanTask {
    type Input = Job;
    type Output = ();

    async fn execute(&self, mut tx: Transaction<'_, Postgres>, job: Job) -> TaskResult<()> {
        tracing::debug!(scan = job.scan, vantage = %job.vantage, item = ?job.item, "job started");
        self.run(&mut tx, &job).await.map_err(retryable)?;
        tx.commit().await.map_err(|e| retryable(e.into()))?;
        tracing::info!(scan = job.scan, item = ?job.item, "job done");
        Ok(())
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::builder().max_attempts(MAX_ATTEMPTS).initial_interval_ms(1_000).max_interval_ms(60_000).build()
    }

    fn timeout(&self) -> jiff::Span {
        JOB_TIMEOUT_MINUTES.minutes()
    }

    fn heartbeat(&self) -> jiff::Span {
        HEARTBEAT_SECONDS.seconds()
    }
}

/// Run a probe as a task of its own, so that a probe that panics becomes its item with an
/// "internal failure" error (as in `scan::run`) rather than a job that never ends.
async fn isolated<T, F, Fut>(context: &Arc<ScanContext>, probe: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(Arc<ScanContext>) -> Fut,
    Fut: std::future::Future<Output = Option<T>> + Send + 'static,
{
    match tokio::spawn(probe(context.clone())).await {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err("internal failure: the item is not in the plan".to_string()),
        Err(error) => {
            let why = if error.is_panic() { "the probe panicked".to_string() } else { error.to_string() };
            tracing::error!(%why, "job's probe failed");
            Err(format!("internal failure: {why}"))
        }
    }
}

/// The facts of the plan's zone `index` (an "internal failure" error if its probe panicked).
async fn zone_facts(context: &Arc<ScanContext>, index: usize) -> anyhow::Result<crate::dns::facts::ZoneFacts> {
    let name =
        context.plan.zones.get(index).ok_or_else(|| anyhow::anyhow!("no zone {index} in the plan"))?.name.clone();
    let probe = isolated(context, move |c| async move { run_item::assess_zone(&c.plan, &c.network, index).await });
    Ok(probe.await.unwrap_or_else(|why| crate::dns::facts::ZoneFacts {
        name: crate::dns::wire::fqdn(&name),
        error: Some(why),
        ..Default::default()
    }))
}

/// Wait until no other job holds `address`; held until the job's transaction ends.
async fn lock_address(tx: &mut Transaction<'_, Postgres>, address: IpAddr) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('postura address'), hashtext($1))")
        .bind(address.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The scan's document from its stored items (the first vantage point's), joined and assessed,
/// stored as the complete scan in `tx`.
pub async fn finish(tx: &mut Transaction<'_, Postgres>, context: &ScanContext, scan: i64) -> anyhow::Result<()> {
    let primary = context.vantages.first().cloned().unwrap_or_default();
    let started_at: String =
        sqlx::query_scalar("SELECT started_at FROM scans WHERE id = $1").bind(scan).fetch_one(&mut **tx).await?;
    let rows = postgres::item_rows(&mut **tx, scan, &primary).await?;
    let mut report = assemble(context, started_at.clone(), crate::store::items_from_rows("", scan, rows)?);
    if context.vantages.len() > 1 {
        let mut differences = Vec::new();
        for other in &context.vantages[1..] {
            let rows = postgres::item_rows(&mut **tx, scan, other).await?;
            let seen = assemble(context, started_at.clone(), crate::store::items_from_rows("", scan, rows)?);
            differences.extend(compare_vantages(&report, &seen, other));
        }
        let total = differences.len();
        differences.truncate(MAX_VANTAGE_DIFFERENCES);
        if total > MAX_VANTAGE_DIFFERENCES {
            tracing::warn!(scan, total, kept = MAX_VANTAGE_DIFFERENCES, "vantage differences cut");
        }
        if let Some(assessment) = report.assessment.as_mut() {
            assessment.vantage = Some(primary.clone());
            assessment.vantage_differences = differences;
        }
    }
    let finished = crate::store::Finished::from_report(&report)?;
    postgres::finish_scan(tx, scan, &finished).await?;
    tracing::info!(scan, targets = report.targets.len(), "scan complete in the store");
    Ok(())
}

/// Where `there` (another vantage point's assessed document) differs from `here`: items one of
/// them lacks, grades, and each check's status.
pub fn compare_vantages(here: &ScanReport, there: &ScanReport, vantage: &str) -> Vec<VantageDifference> {
    use crate::store::diff::{name, subjects};
    let theirs: HashMap<String, crate::store::diff::Subject<'_>> =
        subjects(there).into_iter().map(|s| (s.key.clone(), s)).collect();
    let mut rows = Vec::new();
    let row = |item: &str, check: Option<&str>, here: String, there: String| VantageDifference {
        item: item.to_string(),
        vantage: vantage.to_string(),
        check: check.map(str::to_string),
        here,
        there,
    };
    let mine = subjects(here);
    for subject in &mine {
        let Some(other) = theirs.get(&subject.key) else {
            rows.push(row(&subject.key, None, "present".into(), "-".into()));
            continue;
        };
        if subject.grade != other.grade {
            let grade = |g: &Option<String>| g.clone().unwrap_or_else(|| "-".into());
            rows.push(row(&subject.key, None, grade(&subject.grade), grade(&other.grade)));
        }
        let statuses: HashMap<&str, String> =
            other.findings.iter().map(|f| (f.check.as_str(), name(&f.status))).collect();
        for finding in subject.findings {
            let (status, seen) = (name(&finding.status), statuses.get(finding.check.as_str()));
            if seen != Some(&status) {
                rows.push(row(&subject.key, Some(&finding.check), status, seen.cloned().unwrap_or_else(|| "-".into())));
            }
        }
    }
    let keys: std::collections::HashSet<&str> = mine.iter().map(|s| s.key.as_str()).collect();
    let mut missing_here: Vec<&String> = theirs.keys().filter(|k| !keys.contains(k.as_str())).collect();
    missing_here.sort();
    rows.extend(missing_here.into_iter().map(|key| row(key, None, "-".into(), "present".into())));
    rows
}

/// Stored items in the plan's order, joined across items and assessed, as `scan::run` ends.
fn assemble(context: &ScanContext, started_at: String, stored: crate::scan::StoredItems) -> ScanReport {
    let plan = &context.plan;
    let declared = |t: &TargetResult| {
        plan.targets
            .iter()
            .position(|s| s.host.eq_ignore_ascii_case(&t.host) && s.port == t.port && s.service == t.service)
            .unwrap_or(usize::MAX)
    };
    let mut targets: Vec<TargetResult> = stored.targets.into_values().collect();
    targets.sort_by_cached_key(|t| (declared(t), target_key(t)));
    let mut zones: Vec<_> = stored.zones.into_values().collect();
    zones.sort_by_cached_key(|z| plan.zones.iter().position(|s| zone_key(&s.name) == zone_key(&z.name)));
    let mut resolvers: Vec<_> = stored.resolvers.into_values().collect();
    resolvers.sort_by_cached_key(|r| plan.resolvers.iter().position(|s| s.address.to_string() == r.address));
    let mut report = ScanReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo { name: "postura".into(), version: env!("CARGO_PKG_VERSION").into() },
        started_at,
        finished_at: crate::now_rfc3339(),
        country: plan.country.clone(),
        targets,
        assessment: None,
        zones,
        resolvers,
    };
    crate::scan::join_across_items(&mut report);
    if let Some(assessment) = &plan.assessment {
        crate::checks::Assessor::from_plan(assessment).assess(&mut report);
    }
    report
}

/// A pool for queue work, the store's schema and the queue's migrated.
pub async fn connect(url: &str, size: u32) -> anyhow::Result<PgPool> {
    let pool = postgres::connect(url, size).await?;
    let location = postgres::redact(url);
    // underway's migrations create its schema without a lock: two processes starting at once
    // (two daemons, a fleet of workers) would race on CREATE SCHEMA. One at a time, then.
    let mut lock = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock(hashtext('postura queue migration'))").execute(&mut *lock).await?;
    let migrated = underway::run_migrations(&pool).await;
    let unlocked =
        sqlx::query("SELECT pg_advisory_unlock(hashtext('postura queue migration'))").execute(&mut *lock).await;
    migrated.map_err(|e| anyhow::anyhow!("store {location}: cannot set up the job queue: {e}"))?;
    unlocked?;
    Ok(pool)
}

/// `scan --distributed`: record the scan, its work list and one job per item and vantage point,
/// in one transaction. Returns the scan's ID and the number of jobs.
pub async fn submit(url: &str, plan: &ScanPlan, args: &[String], vantages: &[String]) -> anyhow::Result<(i64, usize)> {
    let pool = connect(url, 4).await?;
    let task = ScanTask::new(pool.clone());
    let vantages: Vec<String> = if vantages.is_empty() { vec![String::new()] } else { vantages.to_vec() };
    for vantage in vantages.iter().filter(|v| !v.is_empty()) {
        check_vantage(vantage)?;
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut tx = pool.begin().await?;
    let country = plan.country.as_ref().map(|c| c.code.as_str());
    let scan =
        postgres::begin_scan(&mut *tx, &serde_json::to_string(args)?, &cwd.display().to_string(), country).await?;
    let mut items: Vec<WorkItem> = Vec::new();
    items.extend((0..plan.targets.len()).map(|index| WorkItem::Target { index }));
    items.extend((0..plan.resolvers.len()).map(|index| WorkItem::Resolver { index }));
    let zone_rows: Vec<String> =
        (0..plan.zones.len()).filter_map(|index| WorkItem::Zone { index }.work_key()).collect();
    let mut jobs = 0;
    for vantage in &vantages {
        if !plan.zones.is_empty() {
            add_work(&mut tx, scan, MX_PASS, vantage).await?;
            for row in &zone_rows {
                add_work(&mut tx, scan, row, vantage).await?;
            }
            task.enqueue(&mut tx, &Job { scan, vantage: vantage.clone(), item: WorkItem::Zones }).await?;
            jobs += 1;
        }
        for item in &items {
            add_work(&mut tx, scan, &item.work_key().unwrap_or_default(), vantage).await?;
            task.enqueue(&mut tx, &Job { scan, vantage: vantage.clone(), item: item.clone() }).await?;
            jobs += 1;
        }
    }
    tx.commit().await?;
    Ok((scan, jobs))
}

async fn add_work(tx: &mut Transaction<'_, Postgres>, scan: i64, item: &str, vantage: &str) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO work (scan_id, item, vantage) VALUES ($1, $2, $3)")
        .bind(scan)
        .bind(item)
        .bind(vantage)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Items of a scan not done yet, and its status.
pub async fn progress(pool: &PgPool, scan: i64) -> anyhow::Result<(i64, String)> {
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM work WHERE scan_id = $1 AND NOT done")
        .bind(scan)
        .fetch_one(pool)
        .await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM scans WHERE id = $1").bind(scan).fetch_optional(pool).await?;
    Ok((pending, status.ok_or_else(|| anyhow::anyhow!("no scan {scan} in the store"))?))
}

/// `postura finish SCAN`: run the assessment now, in this process (every item must be in).
pub async fn finish_now(url: &str, scan: i64) -> anyhow::Result<()> {
    let pool = connect(url, 2).await?;
    let (pending, _status) = progress(&pool, scan).await?;
    if pending > 0 {
        anyhow::bail!("scan {scan}: {pending} items are not done yet (are workers running?)");
    }
    let context = load_context(&pool, scan).await?;
    let mut tx = pool.begin().await?;
    finish(&mut tx, &context, scan).await?;
    tx.commit().await?;
    Ok(())
}

/// `postura worker`: run jobs of the vantage point's queue, `concurrency` at once, until SIGINT
/// or SIGTERM (jobs in progress are finished first). Losing the database is not fatal: the
/// worker waits for it, then starts afresh (below), and jobs it could not finish are taken over
/// once their heartbeat is stale.
///
/// Why afresh: underway 0.2 keeps a job's heartbeat going when the job's completion fails (its
/// `process_next_task` returns early on the database error before stopping the heartbeat task),
/// so a job caught by a database restart or a broken connection would look alive for ever and
/// never be retried. A watchdog notices the loss (a failed query, or PostgreSQL's start time
/// changed), waits until the database answers, lets the jobs in progress end, and replaces the
/// process by a new one (`exec`, same PID and arguments): the leaked heartbeats end with it.
pub async fn work(url: &str, concurrency: usize, vantage: Option<&str>) -> anyhow::Result<()> {
    let vantage = vantage.unwrap_or("");
    if !vantage.is_empty() {
        check_vantage(vantage)?;
    }
    postgres::connect_options(url)?;
    // A job holds one connection for its transaction; heartbeats, claims and listeners need more.
    let pool = loop {
        match connect(url, (concurrency as u32) * 2 + 4).await {
            Ok(pool) => break pool,
            Err(error) => {
                eprintln!("postura worker: {error:#}; trying again in 5 s");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    };
    let task = ScanTask::new(pool.clone());
    let queue = task.queue(vantage).await?;
    let mut worker = Worker::new(queue, task);
    worker.set_concurrency_limit(concurrency.max(1));
    let stopping = Arc::new(AtomicBool::new(false));
    let renew = Arc::new(AtomicBool::new(false));
    tokio::spawn({
        let (worker, stopping) = (worker.clone(), stopping.clone());
        async move {
            let signal = crate::store::commands::stop_signal().await;
            eprintln!("postura worker: {signal}: finishing the jobs in progress");
            stopping.store(true, Ordering::SeqCst);
            worker.shutdown();
        }
    });
    // PostgreSQL's start time before this worker claims anything: a restart at any later moment,
    // however early, is then seen (read later, it could already be the restarted server's).
    let first = postmaster_started(pool.clone()).await;
    tokio::spawn(watchdog(pool.clone(), worker.clone(), renew.clone(), first));
    eprintln!("postura worker: {} on queue {} ({concurrency} at once)", postgres::redact(url), queue_name(vantage));
    while !stopping.load(Ordering::SeqCst) && !renew.load(Ordering::SeqCst) {
        match worker.run_every(1.second()).await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(%error, "the worker lost the database; trying again");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    }
    if renew.load(Ordering::SeqCst) && !stopping.load(Ordering::SeqCst) {
        use std::os::unix::process::CommandExt;
        eprintln!("postura worker: the database came back; starting afresh");
        pool.close().await;
        let program = std::env::current_exe().context("cannot find this program to start it afresh")?;
        let error = std::process::Command::new(program).args(std::env::args_os().skip(1)).exec();
        anyhow::bail!("cannot start afresh: {error}");
    }
    Ok(())
}

/// When the PostgreSQL server started (None: it did not answer within 10 s).
async fn postmaster_started(pool: PgPool) -> Option<String> {
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
    let query = sqlx::query_scalar::<_, String>("SELECT pg_postmaster_start_time()::text").fetch_one(&pool);
    tokio::time::timeout(LIMIT, query).await.ok().and_then(Result::ok)
}

/// Watch the database: once a query failed or PostgreSQL restarted, wait until it answers, then
/// stop the worker (it finishes its jobs) and ask for a fresh start.
async fn watchdog(pool: PgPool, worker: Worker<ScanTask>, renew: Arc<AtomicBool>, mut first: Option<String>) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(2);
    let mut lost = false;
    loop {
        tokio::time::sleep(EVERY).await;
        match (postmaster_started(pool.clone()).await, &first) {
            (None, _) => {
                if !lost {
                    tracing::warn!("the database does not answer");
                }
                lost = true;
            }
            (Some(now), None) if !lost => first = Some(now),
            (Some(now), Some(before)) if !lost && &now == before => {}
            (Some(_), _) => {
                tracing::warn!(
                    "the database was lost and is back: finishing the jobs in progress, then starting afresh"
                );
                renew.store(true, Ordering::SeqCst);
                worker.shutdown();
                return;
            }
        }
    }
}
