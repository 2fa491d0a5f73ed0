//! With a PostgreSQL store, the daemons that share it share the schedules: each occurrence of a
//! profile's schedule becomes ONE job on the `underway` queue the distributed workers use
//! (`postura-daemon-NAME`), whichever daemon runs the job scans, and a daemon that dies or stops
//! mid-scan leaves the job to another (or to itself once restarted), which resumes the scan.
//!
//! Every daemon keeps the schedule (so any of them can go away), and at an occurrence records it
//! in `daemon_runs` under a per-profile transaction lock: the first daemon to do so queues the
//! job in the same transaction, the others find the row and queue nothing. As with SQLite, an
//! occurrence that comes while the profile's previous scan is still queued or running is skipped.
//!
//! Why not `underway::Scheduler`: it reads cron patterns with `jiff_cron`, whose weekday numbers
//! start at 1 = Sunday (`0 3 * * 1` would run on Sundays, not Mondays as in cron and as with an
//! SQLite store), and it keeps a single scheduler alive only while it holds its lock, returning
//! when another holds it; the occurrence row gives the same "one job per occurrence" with the
//! daemon's own schedule parser, and any daemon can fire.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;
use jiff::ToSpan;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};
use tokio::sync::Semaphore;
use underway::task::{Error as TaskError, Result as TaskResult, RetryPolicy};
use underway::{Queue, Task, Worker};

use super::config::ProfileJob;
use super::job::{self, Context, Outcome};

/// A whole scan of a country may take hours; a job past this is abandoned and retried.
const SCAN_TIMEOUT_HOURS: i64 = 24;

/// Attempts per occurrence: each stop of the daemon running it (SIGTERM, crash, lost database)
/// costs one; a scan that fails is not retried (the next occurrence is the retry).
const MAX_ATTEMPTS: i32 = 25;

/// The queue of a profile's scheduled scans.
pub fn queue_name(profile: &str) -> String {
    format!("postura-daemon-{profile}")
}

/// One occurrence of a profile's schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Occurrence {
    pub profile: String,
    /// RFC 3339, UTC.
    pub at: String,
}

/// The queue's task: scans a profile (resuming its unfinished scan, if a daemon stopped in it).
#[derive(Clone)]
pub struct ScheduledScan {
    context: Context,
    job: ProfileJob,
    gate: Arc<Semaphore>,
}

impl Task for ScheduledScan {
    type Input = Occurrence;
    type Output = ();

    async fn execute(&self, mut tx: Transaction<'_, Postgres>, occurrence: Occurrence) -> TaskResult<()> {
        let Ok(_permit) = self.gate.acquire().await else {
            return Err(TaskError::Retryable("the daemon is stopping".into()));
        };
        let job = &self.job;
        let resume = {
            let (config, job) = (self.context.config.clone(), job.clone());
            tokio::task::spawn_blocking(move || {
                crate::store::Store::open(&config.db).and_then(|store| job::unfinished(&store, &config, &job))
            })
            .await
            .map_err(|e| TaskError::Retryable(e.to_string()))?
            .map_err(|e| TaskError::Retryable(format!("{e:#}")))?
        };
        tracing::info!(profile = job.name, occurrence = occurrence.at, resume = ?resume, "running a scheduled scan from the queue");
        match job::run(&self.context, job, resume).await {
            // Interrupted by this daemon's shutdown: the queue gives it to another daemon (or to
            // this one restarted), which resumes the stored scan.
            Outcome::Interrupted => return Err(TaskError::Retryable("the daemon stopped during the scan".into())),
            Outcome::Complete | Outcome::Failed => {}
        }
        sqlx::query("UPDATE daemon_runs SET done = TRUE WHERE profile = $1 AND occurrence = $2")
            .bind(&occurrence.profile)
            .bind(&occurrence.at)
            .execute(&mut *tx)
            .await
            .map_err(|e| TaskError::Retryable(e.to_string()))?;
        tx.commit().await.map_err(|e| TaskError::Retryable(e.to_string()))?;
        Ok(())
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::builder().max_attempts(MAX_ATTEMPTS).initial_interval_ms(1_000).max_interval_ms(60_000).build()
    }

    fn timeout(&self) -> jiff::Span {
        SCAN_TIMEOUT_HOURS.hours()
    }

    fn heartbeat(&self) -> jiff::Span {
        crate::distributed::HEARTBEAT_SECONDS.seconds()
    }
}

/// One profile on a shared PostgreSQL store: a worker on its queue, and its schedule.
pub async fn profile_loop(context: Context, job: ProfileJob, gate: Arc<Semaphore>, pool: PgPool) {
    let task = ScheduledScan { context: context.clone(), job: job.clone(), gate };
    let queue = match Queue::builder().name(queue_name(&job.name)).pool(pool.clone()).build().await {
        Ok(queue) => Arc::new(queue),
        Err(error) => {
            tracing::error!(profile = job.name, %error, "cannot set up the profile's queue");
            return;
        }
    };
    let worker = Worker::new(queue.clone(), task.clone());
    let stopping = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn({
        let (worker, stopping) = (worker.clone(), stopping.clone());
        async move {
            while !stopping.load(Ordering::SeqCst) {
                match worker.run_every(1.second()).await {
                    Ok(()) => break,
                    Err(error) => {
                        tracing::warn!(%error, "the daemon's worker lost the database; trying again");
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    }
                }
            }
        }
    });
    schedule_loop(&context, &job, &queue, &task, &pool).await;
    // Shutdown: no new job is claimed; the scan in progress stops within the grace period.
    stopping.store(true, Ordering::SeqCst);
    worker.shutdown();
    let _ = running.await;
}

async fn schedule_loop(
    context: &Context,
    job: &ProfileJob,
    queue: &Queue<ScheduledScan>,
    task: &ScheduledScan,
    pool: &PgPool,
) {
    let mut shutdown = context.shutdown.clone();
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
        tracing::debug!(profile = job.name, next = %next.to_rfc3339(), "next occurrence");
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = super::stopped(&mut shutdown) => return,
        }
        last = next;
        let at = next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match queue_occurrence(job, &at, queue, task, pool).await {
            Ok(Queued::Yes) => tracing::info!(profile = job.name, occurrence = at, "scan queued"),
            Ok(Queued::ByAnother) => tracing::info!(profile = job.name, occurrence = at, "queued by another daemon"),
            Ok(Queued::PreviousNotDone(previous)) => tracing::warn!(
                profile = job.name,
                occurrence = at,
                previous,
                "the previous scan of this profile is still queued or running: occurrence skipped"
            ),
            Err(error) => tracing::error!(
                profile = job.name,
                occurrence = at,
                error = format!("{error:#}"),
                "cannot queue the scan"
            ),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Queued {
    Yes,
    ByAnother,
    PreviousNotDone(String),
}

/// Record the occurrence and queue its job, unless another daemon did or the previous one has not
/// ended. One transaction, under a lock per profile, so two daemons never both queue.
async fn queue_occurrence(
    job: &ProfileJob,
    at: &str,
    queue: &Queue<ScheduledScan>,
    task: &ScheduledScan,
    pool: &PgPool,
) -> anyhow::Result<Queued> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('postura daemon'), hashtext($1))")
        .bind(&job.name)
        .execute(&mut *tx)
        .await?;
    let seen: Option<bool> = sqlx::query_scalar("SELECT done FROM daemon_runs WHERE profile = $1 AND occurrence = $2")
        .bind(&job.name)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
    if seen.is_some() {
        return Ok(Queued::ByAnother);
    }
    // A run older than the job's timeout that never ended was abandoned by the queue.
    let horizon = (Utc::now() - chrono::Duration::hours(SCAN_TIMEOUT_HOURS + 1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let open: Option<String> = sqlx::query_scalar(
        "SELECT occurrence FROM daemon_runs WHERE profile = $1 AND NOT done AND queued_at > $2 ORDER BY occurrence DESC LIMIT 1",
    )
    .bind(&job.name)
    .bind(&horizon)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(previous) = open {
        return Ok(Queued::PreviousNotDone(previous));
    }
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    sqlx::query("INSERT INTO daemon_runs (profile, occurrence, queued_at) VALUES ($1, $2, $3)")
        .bind(&job.name)
        .bind(at)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    queue.enqueue(&mut *tx, task, &Occurrence { profile: job.name.clone(), at: at.to_string() }).await?;
    tx.commit().await?;
    Ok(Queued::Yes)
}
