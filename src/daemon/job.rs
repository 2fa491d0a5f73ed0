//! One scan of one profile, as the daemon runs it: the plan from the profile (or, resuming, from
//! the arguments stored with the interrupted scan), the store as it goes, a graceful stop on
//! shutdown, then the metrics, the alerts and the reports (JSON, HTML with the trend, CSV).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::sync::watch;

use super::alerts::{self, Alert, Alerts};
use super::config::{Config, ProfileJob};
use super::metrics::{Metrics, ProfileLabel};
use crate::facts::ScanReport;
use crate::scan::{Item, ScanError, ScanPlan, ScanSummary, Sink, SinkError, StopFlag};
use crate::store::{Store, StoreSink};

/// What the daemon's tasks share.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub alerts: Alerts,
    /// Turns true on SIGTERM/SIGINT.
    pub shutdown: watch::Receiver<bool>,
}

/// The `postura scan` arguments of a profile's scans. They are stored with each scan, so an
/// interrupted one can be resumed by the daemon or by hand (`postura scan --resume ID`).
pub fn scan_arguments(config: &Config, job: &ProfileJob) -> Vec<String> {
    let mut args = vec![
        "--profile".to_string(),
        job.profile.display().to_string(),
        "--db".to_string(),
        config.db.display().to_string(),
        "--quiet".to_string(),
        "--lang".to_string(),
        job.lang.clone(),
    ];
    args.extend(job.scan_args.iter().cloned());
    args
}

/// The plan those arguments give.
pub async fn plan(args: &[String]) -> anyhow::Result<ScanPlan> {
    let (plan, _notes) = ScanPlan::from_command_line(args).await?;
    Ok(plan)
}

/// Whether scan `id` was started by a daemon for this profile: its stored arguments begin with
/// `--profile PROFILE --db DB`. Scans of the same profile run by hand are left to their owner.
fn is_ours(store: &Store, config: &Config, job: &ProfileJob, id: i64) -> anyhow::Result<bool> {
    let own = scan_arguments(config, job);
    let (args, _, _) = store.scan_arguments(id)?;
    Ok(args.starts_with(&own[..4]))
}

/// The newest scan of this profile in the store that did not finish (interrupted, or left
/// running by a crash), to resume.
pub fn unfinished(store: &Store, config: &Config, job: &ProfileJob) -> anyhow::Result<Option<i64>> {
    for scan in store.history(None)?.into_iter().filter(|s| s.status != "complete") {
        if is_ours(store, config, job, scan.id)? {
            return Ok(Some(scan.id));
        }
    }
    Ok(None)
}

/// The newest complete scan of this profile before `id`: what alerts compare with.
fn previous_complete(store: &Store, config: &Config, job: &ProfileJob, id: i64) -> anyhow::Result<Option<i64>> {
    for scan in store.history(None)?.into_iter().filter(|s| s.id < id && s.status == "complete") {
        if is_ours(store, config, job, scan.id)? {
            return Ok(Some(scan.id));
        }
    }
    Ok(None)
}

/// The store, and the metrics' item counts.
struct DaemonSink {
    store: StoreSink,
    metrics: Arc<Metrics>,
    label: ProfileLabel,
}

impl Sink for DaemonSink {
    fn item(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        self.store.item(item)?;
        let failed = match item {
            Item::Target(t) => t.error.is_some(),
            Item::Zone(z) => z.error.is_some(),
            Item::Resolver(r) => r.error.is_some(),
        };
        self.metrics.items.get_or_create(&self.label).inc();
        if failed {
            self.metrics.items_failed.get_or_create(&self.label).inc();
        }
        Ok(())
    }

    fn assessed(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        self.store.assessed(item)
    }

    fn finished(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        self.store.finished(summary)
    }
}

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    /// Stopped by shutdown, marked interrupted in the store: to be resumed.
    Interrupted,
    Failed,
}

/// Run one scan of `job` (a new one, or `resume` an unfinished one) and everything after it.
pub async fn run(context: &Context, job: &ProfileJob, resume: Option<i64>) -> Outcome {
    run_reporting_id(context, job, resume, None).await
}

/// [`run`], sending the scan's ID on `started` as soon as the scan is in the store.
pub async fn run_reporting_id(
    context: &Context,
    job: &ProfileJob,
    resume: Option<i64>,
    started_id: Option<tokio::sync::mpsc::UnboundedSender<i64>>,
) -> Outcome {
    let label = ProfileLabel { profile: job.name.clone() };
    let started = Instant::now();
    match scan(context, job, resume, started_id).await {
        Ok(Some((store, id, report))) => {
            let elapsed = started.elapsed();
            let metrics = &context.metrics;
            metrics.scans.get_or_create(&label).inc();
            metrics.duration.get_or_create(&label).observe(elapsed.as_secs_f64());
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            metrics.last_success.get_or_create(&label).set(now.as_secs_f64());
            metrics.record_report(&report);
            tracing::info!(profile = job.name, scan = id, seconds = elapsed.as_secs_f64(), index = ?report.assessment.as_ref().and_then(|a| a.index), "scan complete");
            // Rendering a large country's report takes seconds: off the async workers, so the
            // metrics server and the other profiles' schedules are not held up.
            let (context, job) = (context.clone(), job.clone());
            let after = tokio::task::spawn_blocking(move || after_scan(&context, &job, &store, id, report));
            if let Err(error) = after.await {
                tracing::error!(scan = id, %error, "writing the reports failed");
            }
            Outcome::Complete
        }
        Ok(None) => {
            context.metrics.scans_interrupted.get_or_create(&label).inc();
            Outcome::Interrupted
        }
        Err(error) => {
            context.metrics.scans_failed.get_or_create(&label).inc();
            tracing::error!(profile = job.name, error = format!("{error:#}"), "scan failed");
            Outcome::Failed
        }
    }
}

/// The scan itself. `Ok(None)`: stopped by shutdown and marked interrupted.
async fn scan(
    context: &Context,
    job: &ProfileJob,
    resume: Option<i64>,
    started_id: Option<tokio::sync::mpsc::UnboundedSender<i64>>,
) -> anyhow::Result<Option<(Store, i64, ScanReport)>> {
    let config = &context.config;
    let store = Store::open(&config.db)?;
    let (args, id_to_resume) = match resume {
        Some(id) => (store.scan_arguments(id)?.0, Some(id)),
        None => (scan_arguments(config, job), None),
    };
    let mut plan = plan(&args).await.with_context(|| format!("profile {}", job.name))?;
    let id = match id_to_resume {
        Some(id) => {
            plan.done = store.stored_items(id)?;
            store.set_status(id, "running")?;
            tracing::info!(profile = job.name, scan = id, done = plan.done.len(), "resuming an interrupted scan");
            id
        }
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let country = plan.country.as_ref().map(|c| c.code.clone());
            let id = store.begin_scan(&args, &cwd, country.as_deref())?;
            tracing::info!(profile = job.name, scan = id, "scan started");
            id
        }
    };
    if let Some(sender) = started_id {
        let _ = sender.send(id);
    }
    let stop = StopFlag::default();
    plan.stop = Some(stop.clone());
    let mut sink = DaemonSink {
        store: StoreSink::new(store, id),
        metrics: context.metrics.clone(),
        label: ProfileLabel { profile: job.name.clone() },
    };
    let result = {
        let mut shutdown = context.shutdown.clone();
        let mut running = std::pin::pin!(crate::scan::run_to_report(&plan, &mut sink));
        tokio::select! {
            result = &mut running => result,
            _ = super::stopped(&mut shutdown) => {
                tracing::info!(profile = job.name, scan = id, grace = config.grace_period.as_secs(), "stopping: no new items; waiting for those in flight");
                stop.raise();
                match tokio::time::timeout(config.grace_period, &mut running).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(profile = job.name, scan = id, "items still in flight at the end of the grace period were abandoned");
                        Err(ScanError::Stopped)
                    }
                }
            }
        }
    };
    let store = sink.store.store;
    match result {
        Ok(report) => Ok(Some((store, id, report))),
        Err(ScanError::Stopped) => {
            store.set_status(id, "interrupted")?;
            tracing::warn!(
                profile = job.name,
                scan = id,
                "scan interrupted; the daemon resumes it when it starts again"
            );
            Ok(None)
        }
        Err(error) => Err(anyhow::anyhow!("scan {id}: {error}")),
    }
}

/// The steps after a scan that is already complete (its daemon stopped before its job was marked
/// done): the reports and alerts again, so that none is lost (an alert may then be sent twice).
pub async fn after_complete(context: &Context, job: &ProfileJob, id: i64) -> anyhow::Result<()> {
    let (context, job) = (context.clone(), job.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let store = Store::open(&context.config.db)?;
        let report = store.report(id)?;
        after_scan(&context, &job, &store, id, report);
        Ok(())
    })
    .await
    .map_err(|e| anyhow::anyhow!("the reports' task failed: {e}"))?
}

/// Alerts on what is new or regressed since the previous complete scan, then the reports.
fn after_scan(context: &Context, job: &ProfileJob, store: &Store, id: i64, report: ScanReport) {
    let previous = match previous_complete(store, &context.config, job, id) {
        Ok(previous) => previous,
        Err(error) => {
            tracing::error!(
                profile = job.name,
                scan = id,
                error = format!("{error:#}"),
                "cannot read the previous scan"
            );
            None
        }
    };
    let previous_report = previous.and_then(|p| store.report(p).ok());
    if let (Some(previous), Some(before)) = (previous, &previous_report) {
        let diff = crate::store::diff::diff(before, &report);
        let country = report.country.as_ref().map(|c| c.code.as_str());
        for rule in &job.alerts {
            let changes = alerts::matching(&diff, rule.min_severity);
            if changes.is_empty() {
                continue;
            }
            tracing::warn!(
                profile = job.name,
                scan = id,
                previous,
                findings = changes.len(),
                url = rule.webhook.as_str(),
                "new or regressed findings: alerting"
            );
            let body = alerts::body(&job.name, country, id, previous, rule, &diff, &changes);
            context.alerts.send(Alert { profile: job.name.clone(), rule: rule.clone(), body });
        }
    } else if !job.alerts.is_empty() {
        tracing::info!(profile = job.name, scan = id, "first complete scan of this profile: the baseline for alerts");
    }
    if let Err(error) = write_reports(job, store, id, &report, previous_report) {
        tracing::error!(profile = job.name, scan = id, error = format!("{error:#}"), "cannot write the reports");
    }
}

/// `OUTPUT_DIR/NAME-ID.json`, `.html` and `.csv`, by the code paths of `scan --json` and
/// `report --scan`.
fn write_reports(
    job: &ProfileJob,
    store: &Store,
    id: i64,
    report: &ScanReport,
    previous: Option<ScanReport>,
) -> anyhow::Result<()> {
    let base = job.output_dir.join(format!("{}-{id}", job.name));
    let path = |ext: &str| base.with_extension(ext);
    let mut json = serde_json::to_vec_pretty(report)?;
    json.push(b'\n');
    crate::scan::sink::write_atomically(&path("json"), &json)
        .with_context(|| format!("cannot write {}", path("json").display()))?;
    let catalog = crate::cli::load_catalog(&[])?;
    let mut renderer = crate::report::Renderer::new(&job.lang, None)?;
    renderer.set_trend(crate::report::trend::from_store(store, id)?);
    let document = crate::report::view::Document::from_report(report.clone());
    let previous = previous.map(crate::report::view::Document::from_report);
    crate::cli::write_reports(
        &renderer,
        &document,
        &document,
        previous.as_ref(),
        Some(&catalog),
        (Some(&path("html")), Some(&path("csv"))),
    )?;
    tracing::info!(profile = job.name, scan = id, base = %base.display(), "reports written");
    Ok(())
}
