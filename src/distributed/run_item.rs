//! One item of a scan, run alone with the plan's options and `Network`: what a worker does with
//! a job. The seams are the probes `scan::run` uses (`target::resolve`, `engine::scan_one`,
//! `dns::assess_zone_item`, `dns::assess_resolver_item`), so a worker's item has the same facts
//! as the same item in a single-process scan.

use std::net::IpAddr;
use std::sync::Arc;

use crate::dns::facts::{ResolverFacts, ZoneFacts};
use crate::facts::TargetResult;
use crate::net::{DiscoveryPolicy, Network};
use crate::scan::ScanPlan;
use crate::target::{resolve, ResolvedTarget, TargetSpec};

/// The plan's connection path, built as `scan::run` builds it: the per-address limit, the
/// connection timeout, the scope and the per-target ceiling.
pub fn network_for(plan: &ScanPlan) -> Network {
    Network::new(plan.options.per_host, plan.options.timeout, None).with_limits(
        DiscoveryPolicy { scope: plan.scope.clone().map(Arc::new), allow_discovered: plan.options.allow_discovered },
        plan.options.max_connections,
    )
}

/// The addresses a target will be probed at (or none, with the reason in each job).
pub async fn resolve_target(plan: &ScanPlan, spec: &TargetSpec) -> Vec<ResolvedTarget> {
    resolve(spec, plan.options.all_addresses, plan.options.timeout, plan.scope.as_ref()).await
}

/// The distinct addresses of resolved jobs, sorted (the order locks are taken in).
pub fn addresses(jobs: &[ResolvedTarget]) -> Vec<IpAddr> {
    let mut addresses: Vec<IpAddr> = jobs.iter().filter_map(|j| j.address.map(|a| a.ip())).collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// Probe one resolved target (TLS sweep, certificate, HTTP), within its deadline.
pub async fn scan_target(plan: &ScanPlan, network: &Network, job: ResolvedTarget) -> TargetResult {
    crate::engine::scan_one(job, &plan.options, network).await
}

/// Assess the plan's zone `index`, with the sector and operator its declaration gives.
pub async fn assess_zone(plan: &ScanPlan, network: &Network, index: usize) -> Option<ZoneFacts> {
    let spec = plan.zones.get(index)?;
    let mut facts = crate::dns::assess_zone_item(&spec.name, &plan.dns, network).await;
    facts.sector = spec.sector.clone();
    facts.operator = spec.operator.clone();
    Some(facts)
}

/// Assess the plan's resolver `index`, with its declared sector and operator.
pub async fn assess_resolver(plan: &ScanPlan, network: &Network, index: usize) -> Option<ResolverFacts> {
    let spec = plan.resolvers.get(index)?;
    let mut facts = crate::dns::assess_resolver_item(spec.address, &plan.dns, network).await;
    facts.sector = spec.sector.clone();
    facts.operator = spec.operator.clone();
    Some(facts)
}
