//! `postura daemon --config FILE`: scans each configured country profile on its cron schedule
//! into the store, writes the reports (JSON, HTML, CSV) after each scan, POSTs webhooks when
//! findings are new or regressed, and serves Prometheus metrics. SIGTERM/SIGINT stops new work,
//! lets the items in flight finish within the grace period, marks the scan interrupted and exits
//! 0; the next start resumes it. `docs/operations.md` is the operator's reference.
//!
//! One task per profile waits for its next occurrence and runs its scans one after another (an
//! occurrence that comes while the previous scan still runs is skipped); a semaphore bounds the
//! scans running at once across profiles. With a PostgreSQL store the occurrences go through the
//! job queue instead ([`queue`]), so that several daemons on one store scan each occurrence once. Deliveries of alerts run on their own tasks
//! ([`alerts`]), the metrics server on another ([`metrics`]).

pub mod alerts;
pub mod config;
pub mod job;
pub mod metrics;
pub mod queue;
pub mod schedule;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{watch, Semaphore};

use crate::cli::{EXIT_OK, EXIT_USAGE};
use config::{Config, ProfileJob};
use job::Context;

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// The daemon's configuration (TOML; see profiles/daemon.example.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Check the configuration and the profiles it names, then exit (0 when usable).
    #[arg(long)]
    pub check: bool,
}

/// Run the daemon until SIGTERM/SIGINT. Exit 2 when the configuration, a profile, the store,
/// an output directory or the metrics address cannot be used: nothing is scanned then.
pub async fn run(args: DaemonArgs) -> u8 {
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return EXIT_USAGE;
        }
    };
    if let Err(error) = prepare(&config).await {
        eprintln!("postura: {error:#}");
        return EXIT_USAGE;
    }
    if args.check {
        let n = config.profiles.len();
        println!("{}: ok — {n} profile{}", config.source.display(), if n == 1 { "" } else { "s" });
        return EXIT_OK;
    }
    let metrics = Arc::new(metrics::Metrics::new());
    let server = match config.metrics_address {
        Some(address) => match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => {
                tracing::info!(%address, "serving /metrics and /healthz");
                Some(tokio::spawn(metrics::serve(listener, metrics.clone())))
            }
            Err(error) => {
                eprintln!("postura: {}: metrics_address {address}: cannot listen: {error}", config.source.display());
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let (stop_sender, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        let signal = crate::store::commands::stop_signal().await;
        tracing::warn!(signal, "stopping: no new scans or items; items in flight may finish");
        let _ = stop_sender.send(true);
        // Kept alive so that the receivers never see the channel close.
        std::future::pending::<()>().await;
    });
    let (alerts, dispatcher) = alerts::start(metrics.clone());
    let config = Arc::new(config);
    let context = Context { config: config.clone(), metrics, alerts, shutdown };
    let gate = Arc::new(Semaphore::new(config.max_concurrent_scans));
    let mut profiles = tokio::task::JoinSet::new();
    let db = config.db.display().to_string();
    if crate::store::is_postgres_url(&db) {
        // Shared schedules (`queue`): a scan job claimed, a schedule waiting and a heartbeat per
        // profile, plus the store's own connections.
        let size = (config.profiles.len() as u32) * 3 + 4;
        let pool = match crate::distributed::connect(&db, size).await {
            Ok(pool) => pool,
            Err(error) => {
                eprintln!("postura: {error:#}");
                return EXIT_USAGE;
            }
        };
        for job in config.profiles.clone() {
            profiles.spawn(queue::profile_loop(context.clone(), job, gate.clone(), pool.clone()));
        }
    } else {
        for job in config.profiles.clone() {
            profiles.spawn(profile_loop(context.clone(), job, gate.clone()));
        }
    }
    tracing::info!(profiles = config.profiles.len(), db = %config.db.display(), "daemon started");
    while let Some(done) = profiles.join_next().await {
        if let Err(error) = done {
            tracing::error!(%error, "a profile's task failed");
        }
    }
    // Deliveries in progress get the grace period too, then are abandoned.
    drop(context);
    if tokio::time::timeout(config.grace_period, dispatcher).await.is_err() {
        tracing::warn!("alert deliveries still in progress were abandoned");
    }
    if let Some(server) = server {
        server.abort();
    }
    tracing::info!("daemon stopped");
    EXIT_OK
}

/// Everything that can be checked before anything starts: each profile and its scan options
/// (by building its plan), the output directories, the store.
async fn prepare(config: &Config) -> anyhow::Result<()> {
    for job in &config.profiles {
        job::plan(&job::scan_arguments(config, job))
            .await
            .map_err(|e| anyhow::anyhow!("{}: profile \"{}\": {e:#}", job.location, job.name))?;
        std::fs::create_dir_all(&job.output_dir).map_err(|e| {
            anyhow::anyhow!(
                "{}: profile \"{}\": cannot create output_dir {}: {e}",
                job.location,
                job.name,
                job.output_dir.display()
            )
        })?;
    }
    let is_file = !crate::store::is_postgres_url(&config.db.display().to_string());
    if let Some(dir) = config.db.parent().filter(|d| is_file && !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    crate::store::Store::open(&config.db)?;
    Ok(())
}

/// One profile: resume its unfinished scan, then scan at each occurrence until shutdown.
async fn profile_loop(context: Context, job: ProfileJob, gate: Arc<Semaphore>) {
    let mut shutdown = context.shutdown.clone();
    // The counters exist (at 0) from the start: "no failure yet" reads as 0, not as absent.
    let label = metrics::ProfileLabel { profile: job.name.clone() };
    let m = &context.metrics;
    for family in [&m.scans, &m.scans_failed, &m.scans_interrupted, &m.items, &m.items_failed] {
        let _ = family.get_or_create(&label);
    }
    let unfinished =
        crate::store::Store::open(&context.config.db).and_then(|store| job::unfinished(&store, &context.config, &job));
    match unfinished {
        Ok(Some(id)) => {
            let Some(_permit) = acquire(&gate, &mut shutdown).await else { return };
            let _ = job::run(&context, &job, Some(id)).await;
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(profile = job.name, error = format!("{error:#}"), "cannot look for an unfinished scan")
        }
    }
    // Never fire the same occurrence twice, even if the timer wakes a little early.
    let mut last = Utc::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = Utc::now().max(last);
        let Some(next) = job.schedule.next_after(now) else {
            tracing::error!(
                profile = job.name,
                schedule = job.schedule.pattern(),
                "the schedule has no next occurrence"
            );
            return;
        };
        tracing::info!(profile = job.name, next = %next.to_rfc3339(), "next scan");
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(&mut shutdown) => return,
        }
        last = next;
        let Some(_permit) = acquire(&gate, &mut shutdown).await else { return };
        let _ = job::run(&context, &job, None).await;
        if let Some(missed) = job.schedule.next_after(last).filter(|m| *m < Utc::now()) {
            tracing::warn!(profile = job.name, missed = %missed.to_rfc3339(), "the scan outlasted the next occurrence: occurrences in the meantime are skipped");
        }
    }
}

async fn acquire<'a>(
    gate: &'a Semaphore,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<tokio::sync::SemaphorePermit<'a>> {
    tokio::select! {
        permit = gate.acquire() => permit.ok(),
        _ = stopped(shutdown) => None,
    }
}

/// Resolves once shutdown has begun (a closed channel counts as shutdown).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
