//! Scan a harness server through the library's scan entry point (`postura::scan`) and judge it
//! with the real catalog: the shared steps of the checks, HTTP and certificate tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use postura::cert::{CertOptions, TrustStore};
use postura::checks::catalog::Catalog;
use postura::checks::evaluate::Exception;
use postura::checks::policy::Policy;
use postura::checks::Assessor;
use postura::engine::ScanOptions;
use postura::facts::{ScanReport, TargetResult, TlsFacts, ToolInfo};
use postura::profile::Service;
use postura::scan::{NoSink, ScanPlan};
use postura::target::TargetSpec;
use postura::tls::registry::Protocol;

use super::pki::{Pki, TEST_HOST};

/// Mozilla's roots plus the test PKI's root, standing for a country's declared national CA.
pub fn lab_trust() -> CertOptions {
    let stores = vec![TrustStore::mozilla(), TrustStore::from_pem_file(&Pki::shared().root_cert).unwrap()];
    CertOptions { stores: Arc::new(stores), ..Default::default() }
}

/// A scan document around `targets`, as `postura scan` writes it before checks run.
pub fn report_of(targets: Vec<TargetResult>) -> ScanReport {
    ScanReport {
        schema_version: 1,
        tool: ToolInfo { name: "postura".into(), version: "test".into() },
        started_at: String::new(),
        finished_at: String::new(),
        country: None,
        targets,
        assessment: None,
        zones: Vec::new(),
        resolvers: Vec::new(),
    }
}

/// Scan `address` as TEST_HOST, declared with `service` and `sector`, trusting the test PKI:
/// the facts only (no checks), through `postura::scan::run`.
pub fn scan_lab_target(address: SocketAddr, service: Service, sector: &str, timeout: Duration) -> ScanReport {
    let spec = TargetSpec {
        host: TEST_HOST.into(),
        port: address.port(),
        service,
        pinned: vec![address.ip()],
        sector: Some(sector.into()),
        operator: None,
        xmpp_domain: None,
    };
    let plan = ScanPlan {
        targets: vec![spec],
        options: ScanOptions { timeout, cert: lab_trust(), ..Default::default() },
        ..ScanPlan::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(postura::scan::run_to_report(&plan, &mut NoSink)).expect("scan")
}

/// A copy of `report` judged under `policy` with the built-in catalog, on the day `today`.
pub fn assess(report: &ScanReport, policy: &str, exceptions: Vec<Exception>, today: &str) -> ScanReport {
    let catalog = Catalog::builtin().expect("built-in catalog");
    let policy = Policy::load(policy, &catalog).expect("policy");
    let mut report = report.clone();
    Assessor {
        catalog: &catalog,
        policy: &policy,
        lang: "en".into(),
        exceptions,
        sector_weights: Default::default(),
        today: today.into(),
    }
    .assess(&mut report);
    report
}

/// The connection budget stated in docs/connections.md: Σ over accepted protocols (suites + 1),
/// plus one per refused protocol, plus the extras (extra refused windows, one order test per
/// protocol with two or more suites, a re-ranking where the server enforces its order, groups
/// + 1, fallback SCSV, the TLS 1.3 handshake, the vulnerability probes).
pub fn assert_connection_budget(facts: &TlsFacts) {
    let mut budget = 0usize;
    for protocol in Protocol::ALL {
        let accepted = facts.protocol_details.get(&protocol).is_some_and(|d| d.accepted);
        let windows = match protocol {
            Protocol::Sslv2 | Protocol::Tls13 => 1,
            Protocol::Sslv3 | Protocol::Tls10 | Protocol::Tls11 => 2,
            Protocol::Tls12 => 3,
        };
        if accepted {
            let n = facts.cipher_suites.get(&protocol).map_or(0, Vec::len);
            budget += n + 1 + (windows - 1) + usize::from(n >= 2);
            // A server that enforces its order over choices from different windows is
            // re-ranked: one connection per suite but the last (e.g. PostgreSQL's 44 suites).
            if facts.server_preference.get(&protocol) == Some(&Some(true)) {
                budget += n.saturating_sub(1);
            }
        } else {
            budget += windows;
        }
    }
    budget += facts.groups.len() + 1 + 2;
    // The vulnerability probes count their own connections (docs/connections.md).
    let v = &facts.vulnerabilities;
    budget += [&v.heartbleed, &v.ccs_injection, &v.client_renegotiation, &v.early_data, &v.robot, &v.ticketbleed]
        .iter()
        .map(|fact| fact.connections as usize)
        .sum::<usize>();
    budget += facts.client_auth.as_ref().map_or(0, |auth| auth.connections as usize);
    // Client simulation's questions about a server's group choice (at most 4).
    budget += facts.key_share_answers.len() + facts.group_order_answers.len();
    assert!((facts.connections as usize) <= budget, "{} connections, budget {budget}", facts.connections);
}
