//! The scan pipeline's guarantees that do not need the DNS lab: a probe that panics leaves its
//! item in the result with an internal-failure error while the rest of the scan completes; every
//! connection of a target — the sweep, the HTTP probe, the certificate fetches (AIA caIssuers,
//! CRL) — is counted in its result and holds the per-address limit, counted at the server by a
//! gate in front of real OpenSSL and HTTP servers.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::ca::{LeafSpec, TestCa};
use common::gate::Gate;
use common::net::{alloc_addr, alloc_endpoint};
use common::pki::TEST_HOST;
use common::servers::OpenSslServer;
use postura::engine::ScanOptions;
use postura::profile::Service;
use postura::scan::{NoSink, ProbeItem, ResolverSpec, ScanPlan, ZoneSpec};
use postura::target::TargetSpec;

fn spec(host: &str, address: SocketAddr, service: Service) -> TargetSpec {
    TargetSpec {
        host: host.into(),
        port: address.port(),
        service,
        pinned: vec![address.ip()],
        sector: None,
        operator: None,
        xmpp_domain: None,
    }
}

#[test]
fn a_probe_that_panics_leaves_its_item_with_an_error_and_the_scan_completes() {
    let server = OpenSslServer::start_auto(&["-tls1_3"]);
    let plan = ScanPlan {
        targets: vec![
            spec("boom.postura.test", server.socket_addr(), Service::Tls),
            spec(TEST_HOST, server.socket_addr(), Service::Tls),
        ],
        zones: vec![ZoneSpec { name: "boom.test".into(), sector: Some("cctld".into()), operator: None }],
        resolvers: vec![ResolverSpec { address: "127.0.0.1:9".parse().unwrap(), sector: None, operator: None }],
        options: ScanOptions { timeout: Duration::from_secs(5), ..Default::default() },
        // The fault: these items' probes panic as they start.
        before_probe: Some(Arc::new(|item: ProbeItem<'_>| match item {
            ProbeItem::Target(spec) if spec.host == "boom.postura.test" => panic!("injected fault"),
            ProbeItem::Zone(_) | ProbeItem::Resolver(_) => panic!("injected fault"),
            _ => {}
        })),
        ..ScanPlan::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(postura::scan::run_to_report(&plan, &mut NoSink)).expect("scan");

    assert_eq!(report.targets.len(), 2, "{:#?}", report.targets);
    let boom = &report.targets[0];
    assert_eq!(boom.host, "boom.postura.test");
    assert_eq!(boom.error.as_deref(), Some("internal failure: the probe panicked"));
    assert!(boom.tls.is_none());
    let good = &report.targets[1];
    assert_eq!(good.error, None);
    assert_eq!(good.tls.as_ref().unwrap().protocols, vec![postura::tls::registry::Protocol::Tls13]);
    assert_eq!(report.zones.len(), 1);
    assert_eq!(
        (report.zones[0].name.as_str(), report.zones[0].error.as_deref()),
        ("boom.test.", Some("internal failure: the probe panicked"))
    );
    assert_eq!(report.zones[0].sector.as_deref(), Some("cctld"));
    assert_eq!(report.resolvers.len(), 1);
    assert_eq!(report.resolvers[0].error.as_deref(), Some("internal failure: the probe panicked"));
}

#[test]
fn http_probe_and_certificate_fetches_are_counted_and_hold_the_per_address_limit() {
    let ca = TestCa::shared();
    let gate_address = alloc_addr();
    let fetch_port = 8080;
    let rewrite = |url: String| {
        let path = url.splitn(4, '/').nth(3).unwrap_or_default().to_string();
        format!("http://{gate_address}:{fetch_port}/{path}")
    };
    // A leaf whose chain is sent incomplete (AIA fetch) and that names a CRL (CRL fetch), both on
    // the gate's address.
    let leaf = ca.issue(&LeafSpec {
        crl_url: Some(rewrite(ca.crl_url())),
        ca_issuers_url: Some(rewrite(ca.ca_issuers_url())),
        ..LeafSpec::default()
    });
    let backend = alloc_endpoint();
    let (cert, key) = (leaf.cert.display().to_string(), leaf.key.display().to_string());
    let _tls = OpenSslServer::start(*backend.ip(), backend.port(), &["-cert", &cert, "-key", &key, "-www"]);
    let plain = common::http::HttpServer::start();
    plain.route("/", common::http::Route::Body(b"plain".to_vec()));
    let gate = Gate::start(
        gate_address,
        &[(4433, SocketAddr::V4(backend)), (80, plain.addr), (fetch_port, ca.http.addr)],
        Duration::from_millis(100),
    );
    let address = SocketAddr::from((gate_address, 4433));
    let plan = ScanPlan {
        // Two names on one address, scanned at once: their connections compete for one permit.
        targets: vec![spec(TEST_HOST, address, Service::Https), spec("localhost", address, Service::Https)],
        options: ScanOptions { per_host: 1, concurrency: 8, timeout: Duration::from_secs(10), ..Default::default() },
        ..ScanPlan::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(postura::scan::run_to_report(&plan, &mut NoSink)).expect("scan");

    let mut total = 0;
    for target in &report.targets {
        assert_eq!(target.error, None, "{target:#?}");
        let counts = target.connections;
        let tls = target.tls.as_ref().unwrap();
        assert_eq!(counts.tls, tls.connections, "{counts:?}");
        assert_eq!(counts.http, 2, "the https request and the http:// redirect probe: {counts:?}");
        let certificate = target.certificate.as_ref().unwrap();
        assert_eq!(certificate.fetches, 2, "{certificate:#?}");
        assert_eq!(counts.certificate, 2, "AIA caIssuers and CRL: {counts:?}");
        assert_eq!(counts.total, counts.tls + counts.http + counts.certificate);
        assert!(target.http.as_ref().unwrap().redirect.as_ref().unwrap().listening == Some(true));
        total += counts.total as usize;
    }
    // Counted at the server: every connection went through the gate, none other.
    assert_eq!(gate.count(0) + gate.count(1) + gate.count(2), total);
    assert_eq!(gate.count(1), 2, "one http:// probe per target");
    assert_eq!(gate.count(2), 4, "two fetches per target");
    assert_eq!(gate.open.load(Ordering::SeqCst), 0);
    assert_eq!(
        gate.overlaps.load(Ordering::SeqCst),
        0,
        "never two connections at once to one address with --per-host 1"
    );
}

#[test]
fn discovered_destinations_outside_the_scope_are_listed_and_never_contacted() {
    // The CA's AIA and CRL files, reached through a counting gate on an address of its own.
    let ca = TestCa::shared();
    let fetch_address = alloc_addr();
    let fetches = Gate::start(fetch_address, &[(8080, ca.http.addr)], Duration::ZERO);
    let rewrite = |url: String| {
        let path = url.splitn(4, '/').nth(3).unwrap_or_default().to_string();
        format!("http://{fetch_address}:8080/{path}")
    };
    let leaf = ca.issue(&LeafSpec {
        crl_url: Some(rewrite(ca.crl_url())),
        ca_issuers_url: Some(rewrite(ca.ca_issuers_url())),
        ..LeafSpec::default()
    });
    let endpoint = alloc_endpoint();
    let (cert, key) = (leaf.cert.display().to_string(), leaf.key.display().to_string());
    let _tls = OpenSslServer::start(*endpoint.ip(), endpoint.port(), &["-cert", &cert, "-key", &key, "-tls1_2"]);
    let address = SocketAddr::V4(endpoint);
    // The scope holds the endpoint's address only; the fetch server is elsewhere on loopback.
    let scope = postura::profile::Scope {
        names: vec![TEST_HOST.into()],
        networks: vec![format!("{}/32", endpoint.ip()).parse().unwrap()],
        allow_discovered: false,
    };
    let scan = |allow_discovered: bool| {
        let plan = ScanPlan {
            targets: vec![spec(TEST_HOST, address, Service::Tls)],
            options: ScanOptions { timeout: Duration::from_secs(5), allow_discovered, ..Default::default() },
            scope: Some(scope.clone()),
            ..ScanPlan::default()
        };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(postura::scan::run_to_report(&plan, &mut NoSink)).expect("scan").targets.remove(0)
    };

    let target = scan(false);
    assert_eq!(target.error, None);
    assert_eq!(fetches.count(0), 0, "the server outside the scope was contacted");
    assert_eq!(target.connections.certificate, 0);
    assert_eq!(target.out_of_scope.len(), 1, "{:#?}", target.out_of_scope);
    let refused = &target.out_of_scope[0];
    assert_eq!(
        (refused.address.as_str(), refused.purpose.as_str(), refused.reason.as_str()),
        (fetch_address.to_string().as_str(), "certificate", "address outside the scope's networks")
    );
    // The AIA fetch is refused with its reason (and without the issuer, the CRL cannot be judged).
    let aia = &target.certificate.as_ref().unwrap().ca_issuers_fetched;
    assert!(
        aia.iter().any(|f| f.error.as_deref().unwrap_or("").contains("outside the scope: not contacted")),
        "{aia:?}"
    );

    // Widened knowingly: the same scan fetches both.
    let target = scan(true);
    assert!(target.out_of_scope.is_empty());
    assert_eq!(target.connections.certificate, 2, "{:#?}", target.certificate);
    assert_eq!(fetches.count(0), 2);
}

#[test]
fn the_per_target_connection_ceiling_stops_a_target_with_its_reason() {
    let backend = alloc_endpoint();
    let _server = OpenSslServer::start(*backend.ip(), backend.port(), &[]);
    let gate_address = alloc_addr();
    let gate = Gate::start(gate_address, &[(4433, SocketAddr::V4(backend))], Duration::ZERO);
    let plan = ScanPlan {
        targets: vec![spec(TEST_HOST, SocketAddr::from((gate_address, 4433)), Service::Tls)],
        options: ScanOptions { timeout: Duration::from_secs(5), max_connections: 3, ..Default::default() },
        ..ScanPlan::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let target = runtime.block_on(postura::scan::run_to_report(&plan, &mut NoSink)).expect("scan").targets.remove(0);
    assert_eq!(target.error.as_deref(), Some("per-target connection ceiling reached (3 connections)"));
    assert_eq!(target.connections.total, 3);
    assert_eq!(gate.count(0), 3, "counted at the server");
}
