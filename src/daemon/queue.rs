//! With a PostgreSQL store, the daemons that share it share the schedules: each occurrence of a
//! profile's schedule becomes ONE job on the `underway` queue the distributed workers use
//! (`postura-daemon-NAME`), whichever daemon runs the job scans, and a daemon that dies or stops
//! mid-scan leaves the job to another (or to itself once restarted), which resumes the scan.
//!
//! One daemon fires each profile's schedule: the holder of the profile's scheduler lock (a
//! PostgreSQL session advisory lock); the others stand by and take the lock over within seconds
//! if its holder goes. At an occurrence the scheduler records it in `daemon_runs` under a
//! per-profile transaction lock and queues the job in the same transaction, so that even at a
//! takeover an occurrence is queued once. As with SQLite, an occurrence that comes while the
//! profile's previous scan is still queued or running is skipped.
//!
//! Why not `underway::Scheduler`: it reads cron patterns with `jiff_cron`, whose weekday numbers
//! start at 1 = Sunday (`0 3 * * 1` would run on Sundays, not Mondays as in cron and as with an
//! SQLite store), and its singleton scheduler returns when another holds its lock (a standby
//! would need its own retry loop anyway); the same lock-and-standby scheme is kept here with the
//! daemon's own schedule parser.

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
    pool: PgPool,
}

impl ScheduledScan {
    /// Remember which scan the occurrence started (committed at once, outside the job's
    /// transaction): a retry resumes it, or finds it complete, rather than scanning again.
    async fn record_scan(&self, occurrence: &Occurrence, id: i64) {
        let recorded = sqlx::query("UPDATE daemon_runs SET scan_id = $3 WHERE profile = $1 AND occurrence = $2")
            .bind(&occurrence.profile)
            .bind(&occurrence.at)
            .bind(id)
            .execute(&self.pool)
            .await;
        if let Err(error) = recorded {
            tracing::warn!(profile = occurrence.profile, scan = id, %error, "cannot record the occurrence's scan");
        }
    }
}

impl Task for ScheduledScan {
    type Input = Occurrence;
    type Output = ();

    async fn execute(&self, mut tx: Transaction<'_, Postgres>, occurrence: Occurrence) -> TaskResult<()> {
        let retry = |e: String| TaskError::Retryable(e);
        let Ok(_permit) = self.gate.acquire().await else {
            return Err(retry("the daemon is stopping".into()));
        };
        let job = &self.job;
        // The scan this occurrence started, if an earlier attempt got that far.
        let recorded: Option<i64> =
            sqlx::query_scalar("SELECT scan_id FROM daemon_runs WHERE profile = $1 AND occurrence = $2")
                .bind(&occurrence.profile)
                .bind(&occurrence.at)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| retry(e.to_string()))?
                .flatten();
        let (config, profile) = (self.context.config.clone(), job.clone());
        let (resume, complete) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Option<i64>, bool)> {
            let store = crate::store::Store::open(&config.db)?;
            match recorded {
                Some(id) => {
                    let (_, _, status) = store.scan_arguments(id)?;
                    Ok((Some(id), status == "complete"))
                }
                None => Ok((job::unfinished(&store, &config, &profile)?, false)),
            }
        })
        .await
        .map_err(|e| retry(e.to_string()))?
        .map_err(|e| retry(format!("{e:#}")))?;
        if complete {
            // Its daemon stopped between the end of the scan and the end of the job.
            let id = resume.unwrap_or_default();
            tracing::warn!(
                profile = job.name,
                occurrence = occurrence.at,
                scan = id,
                "the occurrence's scan is complete already: writing its reports and alerts again"
            );
            if let Err(error) = job::after_complete(&self.context, job, id).await {
                tracing::error!(
                    profile = job.name,
                    scan = id,
                    error = format!("{error:#}"),
                    "cannot write the reports"
                );
            }
        } else {
            tracing::info!(profile = job.name, occurrence = occurrence.at, resume = ?resume, "running a scheduled scan from the queue");
            let (sender, mut started) = tokio::sync::mpsc::unbounded_channel();
            let run = job::run_reporting_id(&self.context, job, resume, Some(sender));
            tokio::pin!(run);
            let outcome = loop {
                tokio::select! {
                    outcome = &mut run => break outcome,
                    Some(id) = started.recv() => self.record_scan(&occurrence, id).await,
                }
            };
            if let Ok(id) = started.try_recv() {
                self.record_scan(&occurrence, id).await;
            }
            // Interrupted by this daemon's shutdown: the queue gives it to another daemon (or to
            // this one restarted), which resumes the stored scan.
            if outcome == Outcome::Interrupted {
                return Err(retry("the daemon stopped during the scan".into()));
            }
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
    let task = ScheduledScan { context: context.clone(), job: job.clone(), gate, pool: pool.clone() };
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

/// How often a standby daemon tries to become a profile's scheduler.
const STANDBY_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// How far back a daemon that takes over from another looks for an occurrence the other may not
/// have fired (it died just before): at most the standby's retry, with room to spare.
const TAKEOVER_LOOKBACK_SECONDS: i64 = 60;

/// One daemon at a time fires a profile's schedule: the one holding the profile's scheduler lock
/// (a session advisory lock on a connection of its own). The others stand by and try again every
/// few seconds, so the schedule survives its daemon; the occurrence row still guards the moment of
/// a takeover.
async fn schedule_loop(
    context: &Context,
    job: &ProfileJob,
    queue: &Queue<ScheduledScan>,
    task: &ScheduledScan,
    pool: &PgPool,
) {
    let mut shutdown = context.shutdown.clone();
    let mut last = Utc::now();
    let mut lead: Option<sqlx::PgConnection> = None;
    let mut standing_by = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if lead.is_none() {
            match take_lead(pool, &job.name).await {
                Ok(Some(connection)) => {
                    lead = Some(connection);
                    tracing::info!(
                        profile = job.name,
                        "this daemon schedules the profile; others on the store stand by"
                    );
                    if std::mem::take(&mut standing_by) {
                        // Another daemon scheduled until now: an occurrence it had no time to
                        // fire is fired here (if it did, the occurrence row says so).
                        last = Utc::now() - chrono::Duration::seconds(TAKEOVER_LOOKBACK_SECONDS);
                    }
                }
                Ok(None) => {
                    if !standing_by {
                        tracing::info!(profile = job.name, "another daemon schedules this profile: standing by");
                        standing_by = true;
                    }
                }
                Err(error) => {
                    tracing::warn!(profile = job.name, error = format!("{error:#}"), "cannot take the scheduler's lock")
                }
            }
            if lead.is_none() {
                tokio::select! {
                    _ = tokio::time::sleep(STANDBY_RETRY) => {}
                    _ = super::stopped(&mut shutdown) => return,
                }
                continue;
            }
        }
        let Some(next) = job.schedule.next_after(last) else {
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
        // The lock lives as long as its session: a database restart or a broken connection ends
        // both, and another daemon may have taken over meanwhile.
        if !still_leading(&mut lead).await {
            tracing::warn!(profile = job.name, "lost the scheduler's lock (the database connection ended)");
            standing_by = true;
            continue;
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

/// The profile's scheduler lock, on a connection taken out of the pool (closing it releases the
/// lock); None when another daemon holds it.
async fn take_lead(pool: &PgPool, profile: &str) -> anyhow::Result<Option<sqlx::PgConnection>> {
    let mut connection = pool.acquire().await?.detach();
    let taken: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('postura daemon scheduler'), hashtext($1))")
            .bind(profile)
            .fetch_one(&mut connection)
            .await?;
    Ok(taken.then_some(connection))
}

/// Whether the lock's session still answers (within 10 s); drops the connection if not.
async fn still_leading(lead: &mut Option<sqlx::PgConnection>) -> bool {
    let Some(connection) = lead.as_mut() else { return false };
    let alive = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(connection);
    let alive = matches!(tokio::time::timeout(std::time::Duration::from_secs(10), alive).await, Ok(Ok(1)));
    if !alive {
        *lead = None;
    }
    alive
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
