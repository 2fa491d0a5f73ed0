//! Probing one target: the TLS sweep (over STARTTLS when the service has one), the certificate
//! analysis, the HTTP probe of web endpoints — all through one connector, within the target's
//! deadline. The scan as a whole (plans, concurrency, sinks) is `crate::scan`.

use std::time::Duration;

use tokio::time::Instant;

use crate::cert::{analyze, CertInput, CertOptions, CertificateFacts};
use crate::facts::{TargetResult, TlsFacts};
use crate::net::Network;
use crate::profile::{Scope, Service};
use crate::target::{ResolvedTarget, TargetSpec};
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
    /// Connections allowed per target, every purpose together (`--max-connections`).
    pub max_connections: u32,
    /// Contact discovered destinations outside the profile's scope (`--allow-discovered`).
    pub allow_discovered: bool,
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
            max_connections: crate::net::DEFAULT_MAX_CONNECTIONS,
            allow_discovered: false,
        }
    }
}

/// Scan `specs` (TLS targets only) and return their results in the order of the specs; each
/// result is also given to `finished` as it arrives. A shorthand for a plan with targets only
/// and a closure for sink (see `crate::scan`).
pub async fn run(
    specs: Vec<TargetSpec>,
    options: &ScanOptions,
    scope: Option<Scope>,
    finished: impl FnMut(&TargetResult) + Send,
) -> Vec<TargetResult> {
    let plan =
        crate::scan::ScanPlan { targets: specs, options: options.clone(), scope, ..crate::scan::ScanPlan::default() };
    let mut sink = EachTarget(finished);
    match crate::scan::run_to_report(&plan, &mut sink).await {
        Ok(report) => report.targets,
        Err(_) => Vec::new(),
    }
}

struct EachTarget<F>(F);

impl<F: FnMut(&TargetResult) + Send> crate::scan::Sink for EachTarget<F> {
    fn item(&mut self, item: crate::scan::Item<'_>) -> Result<(), crate::scan::SinkError> {
        if let crate::scan::Item::Target(target) = item {
            (self.0)(target);
        }
        Ok(())
    }

    fn finished(&mut self, _summary: &crate::scan::ScanSummary) -> Result<(), crate::scan::SinkError> {
        Ok(())
    }
}

/// The result of a target before any probe ran (its error, if any, says why none will).
pub fn empty_result(job: &ResolvedTarget) -> TargetResult {
    TargetResult {
        host: job.spec.host.clone(),
        port: job.spec.port,
        address: job.address.map(|a| a.ip().to_string()),
        sni: job.spec.sni(),
        service: job.spec.service,
        sector: job.spec.sector.clone(),
        operator: job.spec.operator.clone(),
        mx_of: Vec::new(),
        error: job.error.clone(),
        started_at: crate::now_rfc3339(),
        duration_ms: 0,
        connections: Default::default(),
        out_of_scope: Vec::new(),
        tls: None,
        certificate: None,
        starttls: None,
        caa: None,
        http: None,
        findings: Vec::new(),
        grade: None,
        score: None,
    }
}

/// Scan one target at one address within its deadline.
pub async fn scan_one(job: ResolvedTarget, options: &ScanOptions, network: &Network) -> TargetResult {
    let started = Instant::now();
    let mut result = empty_result(&job);
    let (Some(address), None) = (job.address, &job.error) else {
        return result;
    };
    let deadline = started + options.deadline;
    let connector = network
        .connector(address, deadline)
        .with_starttls(job.spec.service.starttls())
        .with_starttls_domain(Some(&job.spec.starttls_domain()));
    let target = SweepTarget { connector: connector.clone(), sni: job.spec.sni() };
    // The sweep bounds every step by the deadline itself and keeps partial facts; this outer
    // bound only guards against a step that was not bounded.
    match tokio::time::timeout_at(deadline + Duration::from_secs(2), sweep(&target)).await {
        Ok(outcome) => {
            if let Some(error) = &outcome.fatal {
                if job.spec.service.starttls().is_some() {
                    result.starttls = error.starttls_offered();
                }
            }
            result.error = outcome.fatal.map(|e| e.to_string());
            result.tls = Some(outcome.facts);
        }
        Err(_) => {
            result.error = Some("target deadline exceeded".into());
            result.tls = Some(TlsFacts { connections: connector.connections(), ..TlsFacts::default() });
        }
    }
    if job.spec.service.starttls().is_some() && result.tls.as_ref().is_some_and(|t| !t.protocols.is_empty()) {
        result.starttls = Some(true);
    }
    if let Some(tls) = result.tls.as_ref().filter(|tls| !tls.chain_pem.is_empty()) {
        let input = CertInput {
            chain_pem: &tls.chain_pem,
            ocsp_staple_base64: tls.ocsp_staple_base64.as_deref(),
            sct_list_base64: tls.sct_list_base64.as_deref(),
            name: job.spec.certificate_name(),
            fetch_from: Some(&connector),
        };
        // Each fetch is bounded on its own (once connected) and by the target's deadline; this
        // bounds the whole analysis by that deadline too.
        let until = deadline + Duration::from_secs(1);
        result.certificate = Some(match tokio::time::timeout_at(until, analyze(input, &options.cert)).await {
            Ok(facts) => facts,
            Err(_) => CertificateFacts {
                error: Some("certificate analysis exceeded its time budget".into()),
                checked_name: job.spec.certificate_name().to_string(),
                ..CertificateFacts::default()
            },
        });
    }
    // HTTP facts for web endpoints, within what is left of the target's deadline.
    if job.spec.service == Service::Https && result.error.is_none() && Instant::now() < deadline {
        let probe = crate::web::probe(&connector, &job.spec.host);
        if let Ok(facts) = tokio::time::timeout_at(deadline + Duration::from_secs(1), probe).await {
            result.http = Some(facts);
        }
    }
    result.connections = connector.tally().counts();
    result.out_of_scope = connector.tally().out_of_scope();
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}
