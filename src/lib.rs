//! postura: assesses the cybersecurity posture of a country's critical telecommunications
//! infrastructure. The pipeline: profile → plan (`scan::ScanPlan`) → `scan::run` (probes through
//! one connector, `net`) → facts → checks → findings → sinks (JSON, terminal, reports). Probes
//! gather facts and never judge them. See `docs/architecture.md`.

pub mod bundle;
pub mod cert;
pub mod checks;
pub mod cli;
pub mod daemon;
pub mod distributed;
pub mod dns;
pub mod engine;
pub mod facts;
pub mod net;
pub mod output;
pub mod profile;
pub mod report;
pub mod scan;
pub mod starttls;
pub mod store;
pub mod target;
pub mod tls;
pub mod web;

/// The current time as RFC 3339 UTC, for result documents.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
