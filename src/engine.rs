//! The scan engine: resolves targets, runs the probes with bounded concurrency, per-address
//! connection limits and per-target deadlines, and collects results in one place.
//!
//! Workers send finished targets over a channel to the collector (the caller's task), which owns
//! the result list; a target that fails becomes a result with its reason, and the rest go on.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use crate::cert::{analyze, CertInput, CertOptions, CertificateFacts};
use crate::facts::{TargetResult, TlsFacts};
use crate::net::{Connector, HostLimiter};
use crate::profile::Scope;
use crate::target::{resolve, ResolvedTarget, TargetSpec};
use crate::tls::sweep::{sweep, SweepTarget};

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Targets scanned at once.
    pub concurrency: usize,
    /// Connections at once to one address, across all targets.
    pub per_host: usize,
    /// Per connection: connect, send, and the whole answer.
    pub timeout: Duration,
    /// Per target: everything, resolution included.
    pub deadline: Duration,
    /// Scan every address of a name (IPv4 and IPv6) instead of the first.
    pub all_addresses: bool,
    /// Certificate analysis: trust stores, whether to fetch (AIA, OCSP, CRL), the clock.
    pub cert: CertOptions,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            concurrency: 8,
            per_host: 2,
            timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(300),
            all_addresses: false,
            cert: CertOptions::default(),
        }
    }
}

/// Progress as the scan goes.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Resolution is done: this many targets will be scanned.
    Planned(usize),
    /// One target finished.
    Finished(Box<TargetResult>),
}

/// Scan every spec. Results come back in the order of the specs (addresses in resolver order).
pub async fn run(
    specs: Vec<TargetSpec>,
    options: &ScanOptions,
    scope: Option<Scope>,
    progress: impl Fn(Progress),
) -> Vec<TargetResult> {
    let scope = scope.map(Arc::new);
    // Resolution, bounded like the scans themselves.
    let gate = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut resolving = tokio::task::JoinSet::new();
    for (index, spec) in specs.into_iter().enumerate() {
        let gate = gate.clone();
        let scope = scope.clone();
        let (all, timeout) = (options.all_addresses, options.timeout);
        resolving.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (index, resolve(&spec, all, timeout, scope.as_deref()).await)
        });
    }
    let mut resolved: Vec<(usize, Vec<ResolvedTarget>)> = Vec::new();
    while let Some(joined) = resolving.join_next().await {
        if let Ok(entry) = joined {
            resolved.push(entry);
        }
    }
    resolved.sort_by_key(|(index, _)| *index);
    let jobs: Vec<ResolvedTarget> = resolved.into_iter().flat_map(|(_, targets)| targets).collect();
    progress(Progress::Planned(jobs.len()));

    let limiter = HostLimiter::new(options.per_host);
    let (sender, mut receiver) = mpsc::unbounded_channel::<(usize, TargetResult)>();
    let mut workers = tokio::task::JoinSet::new();
    let total = jobs.len();
    for (index, job) in jobs.into_iter().enumerate() {
        let gate = gate.clone();
        let limiter = limiter.clone();
        let sender = sender.clone();
        let options = options.clone();
        workers.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let result = scan_one(job, &options, limiter).await;
            let _ = sender.send((index, result));
        });
    }
    drop(sender);

    let mut results: Vec<Option<TargetResult>> = vec![None; total];
    while let Some((index, result)) = receiver.recv().await {
        progress(Progress::Finished(Box::new(result.clone())));
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
    }
    while workers.join_next().await.is_some() {}
    results.into_iter().flatten().collect()
}

/// Scan one target at one address within its deadline.
pub async fn scan_one(job: ResolvedTarget, options: &ScanOptions, limiter: Arc<HostLimiter>) -> TargetResult {
    let started = Instant::now();
    let started_at = crate::now_rfc3339();
    let mut result = TargetResult {
        host: job.spec.host.clone(),
        port: job.spec.port,
        address: job.address.map(|a| a.ip().to_string()),
        sni: job.spec.sni(),
        service: job.spec.service.clone(),
        sector: job.spec.sector.clone(),
        operator: job.spec.operator.clone(),
        error: job.error.clone(),
        started_at,
        duration_ms: 0,
        tls: None,
        certificate: None,
        starttls: None,
        caa: None,
        http: None,
        findings: Vec::new(),
        grade: None,
        score: None,
    };
    let (Some(address), None) = (job.address, &job.error) else {
        return result;
    };
    let deadline = started + options.deadline;
    let connector = Connector::new(address, options.timeout, deadline, limiter)
        .with_starttls(crate::starttls::Starttls::for_service(&job.spec.service));
    let target = SweepTarget { connector: connector.clone(), sni: job.spec.sni() };
    // The sweep bounds every step by the deadline itself and keeps partial facts; this outer
    // bound only guards against a step that was not bounded.
    match tokio::time::timeout_at(deadline + Duration::from_secs(2), sweep(&target)).await {
        Ok(outcome) => {
            result.error = outcome.fatal.map(|e| e.to_string());
            result.tls = Some(outcome.facts);
        }
        Err(_) => {
            result.error = Some("target deadline exceeded".into());
            result.tls = Some(TlsFacts { connections: connector.connections(), ..TlsFacts::default() });
        }
    }
    if let Some(tls) = result.tls.as_ref().filter(|tls| !tls.chain_pem.is_empty()) {
        let input = CertInput {
            chain_pem: &tls.chain_pem,
            ocsp_staple_base64: tls.ocsp_staple_base64.as_deref(),
            name: &job.spec.host,
        };
        // Fetches are bounded one by one; this bounds their sum (AIA hops, then OCSP and CRL
        // side by side).
        let budget = options.cert.fetch_limits.timeout * 6 + Duration::from_secs(2);
        result.certificate = Some(match tokio::time::timeout(budget, analyze(input, &options.cert)).await {
            Ok(facts) => facts,
            Err(_) => CertificateFacts {
                error: Some("certificate analysis exceeded its time budget".into()),
                checked_name: job.spec.host.clone(),
                ..CertificateFacts::default()
            },
        });
    }
    if job.spec.service.ends_with("-starttls") {
        let upgraded = result.tls.as_ref().is_some_and(|t| !t.protocols.is_empty());
        result.starttls = match &result.error {
            Some(error) if error.contains("STARTTLS not offered") => Some(false),
            _ if upgraded => Some(true),
            _ => None,
        };
    }
    // HTTP facts for web endpoints, within what is left of the target's deadline.
    if job.spec.service == "https" && result.error.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = options.timeout.min(left);
        if !timeout.is_zero() {
            let probe = crate::web::probe(&job.spec.host, address, timeout);
            if let Ok(facts) = tokio::time::timeout(left + Duration::from_secs(1), probe).await {
                result.http = Some(facts);
            }
        }
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}
