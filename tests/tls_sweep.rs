//! The TLS sweep against real servers (OpenSSL s_server, nginx, gnutls-serv), compared suite for
//! suite with what OpenSSL's own client can negotiate one suite at a time (the oracle).

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::*;
use postura::engine::{run, ScanOptions};
use postura::facts::{TargetResult, TlsFacts};
use postura::target::TargetSpec;
use postura::tls::registry::Protocol;

fn spec(host: &str, address: SocketAddr) -> TargetSpec {
    TargetSpec {
        host: host.to_string(),
        port: address.port(),
        service: postura::profile::Service::Tls,
        pinned: vec![address.ip()],
        sector: None,
        operator: None,
    }
}

fn scan_all(specs: Vec<TargetSpec>, options: ScanOptions) -> Vec<TargetResult> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(specs, &options, None, |_| {}))
}

fn scan(address: SocketAddr) -> TargetResult {
    let options =
        ScanOptions { timeout: Duration::from_secs(10), deadline: Duration::from_secs(120), ..Default::default() };
    let mut results = scan_all(vec![spec(TEST_HOST, address)], options);
    assert_eq!(results.len(), 1);
    let result = results.remove(0);
    assert_eq!(result.error, None, "scan of {address} failed: {result:#?}");
    result
}

fn tls(result: &TargetResult) -> &TlsFacts {
    result.tls.as_ref().expect("tls facts")
}

fn suites(facts: &TlsFacts, protocol: Protocol) -> BTreeSet<String> {
    facts.cipher_suites.get(&protocol).cloned().unwrap_or_default().into_iter().collect()
}

const ORACLE_NAMES: [(Protocol, &str); 4] =
    [(Protocol::Tls10, "tls1"), (Protocol::Tls11, "tls1_1"), (Protocol::Tls12, "tls1_2"), (Protocol::Tls13, "tls1_3")];

/// postura's suites equal the oracle's for every TLS version, and its protocol list is exactly
/// the versions with at least one suite.
fn assert_matches_oracle(address: SocketAddr, facts: &TlsFacts) {
    let mut expected_protocols = Vec::new();
    for (protocol, name) in ORACLE_NAMES {
        let oracle = openssl_accepted_suites(address.ip(), address.port(), TEST_HOST, name);
        let ours = suites(facts, protocol);
        assert_eq!(ours, oracle, "{protocol} suites differ from openssl s_client's at {address}");
        if !oracle.is_empty() {
            expected_protocols.push(protocol);
        }
    }
    assert_eq!(facts.protocols, expected_protocols);
    for protocol in [Protocol::Sslv2, Protocol::Sslv3] {
        let detail = &facts.protocol_details[&protocol];
        assert!(!detail.accepted, "{protocol} reported accepted");
        assert!(detail.refusal.is_some() && detail.error.is_none(), "{protocol}: {detail:?}");
    }
}

/// The connection budget stated in docs/connections.md: Σ over accepted protocols (suites + 1),
/// plus one per refused protocol, plus the extras (extra refused windows, one order test per
/// protocol with two or more suites, groups + 1, fallback SCSV, the TLS 1.3 handshake).
fn assert_connection_budget(facts: &TlsFacts) {
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
    assert!((facts.connections as usize) <= budget, "{} connections, budget {budget}", facts.connections);
}

#[test]
fn legacy_openssl_all_suites_match_the_oracle() {
    let server = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let result = scan(server.socket_addr());
    let facts = tls(&result);
    assert_matches_oracle(server.socket_addr(), facts);
    assert_eq!(facts.protocols, vec![Protocol::Tls10, Protocol::Tls11, Protocol::Tls12]);
    assert_eq!(suites(facts, Protocol::Tls12).len(), 61);
    assert_eq!(suites(facts, Protocol::Tls10).len(), 20);
    assert_eq!(facts.server_preference[&Protocol::Tls12], Some(false));
    assert_eq!(facts.fallback_scsv, Some(true));
    assert_eq!(facts.extensions.secure_renegotiation, Some(true));
    assert_eq!(facts.extensions.compression, Some(false));
    assert_eq!(facts.extensions.heartbeat, Some(false));
    assert_eq!(facts.extensions.extended_master_secret, Some(true));
    assert_eq!(facts.groups_protocol, Some(Protocol::Tls12));
    let groups: BTreeSet<&str> = facts.groups.iter().map(String::as_str).collect();
    assert_eq!(groups, BTreeSet::from(["x25519", "secp256r1", "secp384r1", "secp521r1", "x448"]));
    assert_eq!(facts.chain_pem.len(), 2, "leaf and intermediate as sent");
    assert!(facts.chain_pem[0].starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(facts.key_exchange.iter().any(|k| k.kind == "DH"));
    assert!(facts.key_exchange.iter().any(|k| k.kind == "ECDH" && k.group.as_deref() == Some("x25519")));
    assert!(facts.probe_errors.is_empty(), "{:?}", facts.probe_errors);
    assert_connection_budget(facts);
}

#[test]
fn tls13_only_server_is_seen_through_raw_hellos_and_rustls() {
    let server = OpenSslServer::start_auto(&[
        "-tls1_3",
        "-ciphersuites",
        "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256",
    ]);
    let result = scan(server.socket_addr());
    let facts = tls(&result);
    assert_matches_oracle(server.socket_addr(), facts);
    assert_eq!(facts.protocols, vec![Protocol::Tls13]);
    assert_eq!(
        suites(facts, Protocol::Tls13),
        BTreeSet::from([
            "TLS_AES_256_GCM_SHA384".to_string(),
            "TLS_CHACHA20_POLY1305_SHA256".to_string(),
            "TLS_AES_128_CCM_SHA256".to_string()
        ])
    );
    // The alert is kept as a value: protocol_version is code 70.
    let refusal = facts.protocol_details[&Protocol::Tls12].refusal.clone().unwrap();
    assert_eq!((refusal.alert_code(), refusal.to_string().as_str()), (Some(70), "alert:protocol_version"));
    assert_eq!(facts.groups_protocol, Some(Protocol::Tls13));
    assert!(facts.groups.iter().any(|g| g == "x25519"));
    assert!(
        facts.groups.iter().any(|g| g == "ffdhe2048"),
        "OpenSSL offers FFDHE groups in TLS 1.3: {:?}",
        facts.groups
    );
    assert_eq!(facts.chain_protocol, Some(Protocol::Tls13));
    assert_eq!(facts.chain_pem.len(), 2);
    let handshake = facts.tls13_handshake.as_ref().expect("rustls handshake");
    assert!(handshake.completed, "{handshake:?}");
    assert_eq!(facts.fallback_scsv, None, "one protocol: not testable");
    assert_connection_budget(facts);
}

#[test]
fn server_preferred_order_is_reported_exactly() {
    let order = ["ECDHE-RSA-AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES128-SHA"];
    let server = OpenSslServer::start_auto(&["-no_tls1_3", "-serverpref", "-cipher", &order.join(":")]);
    let result = scan(server.socket_addr());
    let facts = tls(&result);
    assert_eq!(facts.server_preference[&Protocol::Tls12], Some(true));
    assert_eq!(
        facts.cipher_suites[&Protocol::Tls12],
        vec![
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"
        ]
    );
    assert_matches_oracle(server.socket_addr(), facts);
    assert_connection_budget(facts);
}

#[test]
fn dhe_only_1024_bit_server_shows_its_group_size() {
    let pki = Pki::shared();
    let dh = pki.dh1024().to_str().unwrap().to_string();
    let server = OpenSslServer::start_auto(&["-no_tls1_3", "-cipher", "DHE:@SECLEVEL=0", "-dhparam", &dh]);
    let result = scan(server.socket_addr());
    let facts = tls(&result);
    assert_matches_oracle(server.socket_addr(), facts);
    assert!(!facts.key_exchange.is_empty());
    for kx in &facts.key_exchange {
        assert_eq!((kx.kind.as_str(), kx.bits), ("DH", Some(1024)), "{kx:?}");
    }
    assert!(facts.groups.is_empty(), "no ECDHE suite, no TLS 1.3: no groups");
    for suite in facts.cipher_suites.values().flatten() {
        assert!(suite.starts_with("TLS_DHE_"), "{suite}");
    }
    assert_connection_budget(facts);
}

#[test]
fn nginx_mozilla_intermediate_matches_the_oracle() {
    let server = Nginx::mozilla_intermediate();
    let result = scan(server.socket_addr());
    let facts = tls(&result);
    assert_matches_oracle(server.socket_addr(), facts);
    assert_eq!(facts.protocols, vec![Protocol::Tls12, Protocol::Tls13]);
    assert_eq!(suites(facts, Protocol::Tls12).len(), 6);
    assert_eq!(facts.fallback_scsv, Some(true));
    assert!(facts.key_exchange.iter().any(|k| k.kind == "DH" && k.bits == Some(2048)));
    assert_connection_budget(facts);
}

#[test]
fn gnutls_normal_matches_the_oracle() {
    let server = GnutlsServer::start_auto("NORMAL");
    let result = scan(server.socket_addr());
    let facts = tls(&result);
    assert_matches_oracle(server.socket_addr(), facts);
    assert_eq!(facts.protocols, vec![Protocol::Tls10, Protocol::Tls11, Protocol::Tls12, Protocol::Tls13]);
    assert!(suites(facts, Protocol::Tls13).contains("TLS_AES_128_CCM_SHA256"));
    assert_connection_budget(facts);
}

#[test]
fn hostile_targets_end_within_the_deadline_and_others_complete() {
    let good = OpenSslServer::start_auto(&["-tls1_3"]);
    let silent = SilentServer::start();
    let garbage = GarbageServer::http_400();
    let trickle = TrickleServer::start();
    let closed = closed_port();
    let deadline = Duration::from_secs(6);
    let options = ScanOptions { timeout: Duration::from_secs(2), deadline, concurrency: 8, ..Default::default() };
    let specs = vec![
        spec("closed.test", closed),
        spec("silent.test", silent.addr()),
        spec("garbage.test", garbage.addr()),
        spec("trickle.test", trickle.addr()),
        spec(TEST_HOST, good.socket_addr()),
    ];
    let started = Instant::now();
    let results = scan_all(specs, options);
    let elapsed = started.elapsed();
    // Every target has its own deadline and they run concurrently; the margin is for scheduling.
    assert!(elapsed < deadline + Duration::from_secs(4), "scan took {elapsed:?}");
    assert_eq!(results.len(), 5);
    let by_host = |h: &str| results.iter().find(|r| r.host == h).unwrap();

    assert_eq!(by_host("closed.test").error.as_deref(), Some("connection refused"));
    assert_eq!(by_host("silent.test").error.as_deref(), Some("timeout waiting for the server"));
    let garbage_error = by_host("garbage.test").error.clone().unwrap();
    assert!(garbage_error.starts_with("protocol error: not TLS"), "{garbage_error}");
    assert!(garbage_error.contains("HTTP/1.1 400"), "the evidence names what was sent: {garbage_error}");
    let trickle_error = by_host("trickle.test").error.clone().unwrap();
    assert!(trickle_error.contains("timeout") || trickle_error.contains("deadline"), "{trickle_error}");
    for host in ["closed.test", "silent.test", "garbage.test", "trickle.test"] {
        assert_eq!(by_host(host).tls.as_ref().unwrap().connections, 1, "{host}: gave up after the first contact");
    }
    let good = by_host(TEST_HOST);
    assert_eq!(good.error, None);
    assert_eq!(tls(good).protocols, vec![Protocol::Tls13]);
    assert_eq!(suites(tls(good), Protocol::Tls13).len(), 3);
}

#[test]
fn target_deadline_keeps_partial_facts() {
    // A server that answers but whose sweep cannot finish in 300 ms: what was learned stays.
    let server = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let options = ScanOptions {
        timeout: Duration::from_secs(5),
        deadline: Duration::from_millis(300),
        per_host: 1,
        ..Default::default()
    };
    let started = Instant::now();
    let results = scan_all(vec![spec(TEST_HOST, server.socket_addr())], options);
    assert!(started.elapsed() < Duration::from_secs(3));
    let result = &results[0];
    if let Some(error) = &result.error {
        assert!(error.contains("deadline"), "{error}");
        assert!(tls(result).connections >= 1);
    }
}

#[test]
fn all_addresses_scans_every_pinned_address() {
    let server = OpenSslServer::start_auto(&["-tls1_3"]);
    let unused: IpAddr = alloc_addr().into();
    let mut target = spec(TEST_HOST, server.socket_addr());
    target.pinned.push(unused);
    let options = ScanOptions { all_addresses: true, timeout: Duration::from_secs(3), ..Default::default() };
    let results = scan_all(vec![target.clone()], options);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].address.as_deref(), Some(server.addr.to_string().as_str()));
    assert_eq!(results[0].error, None);
    assert_eq!(results[1].address, Some(unused.to_string()));
    assert_eq!(results[1].error.as_deref(), Some("connection refused"));
    let options = ScanOptions { all_addresses: false, ..Default::default() };
    assert_eq!(scan_all(vec![target], options).len(), 1);
}

#[test]
fn per_host_limit_holds_across_targets_sharing_an_address() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    // A slow server that refuses every hello after 100 ms and records how many connections it
    // ever held at once.
    let listener = std::net::TcpListener::bind(alloc_endpoint()).unwrap();
    let address = listener.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (open_in, most_in) = (open.clone(), most.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (open, most) = (open_in.clone(), most_in.clone());
            std::thread::spawn(move || {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let mut stream = stream;
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                std::thread::sleep(Duration::from_millis(100));
                // Count the connection as closed before the client can see the answer, or a
                // client's next connection could be counted while this thread is still running.
                open.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.write_all(&[21, 3, 3, 0, 2, 2, 40]);
            });
        }
    });
    let specs = vec![spec("a.postura.test", address), spec("b.postura.test", address), spec("c.postura.test", address)];
    let options = ScanOptions { per_host: 2, concurrency: 8, timeout: Duration::from_secs(5), ..Default::default() };
    let results = scan_all(specs, options);
    assert_eq!(results.len(), 3);
    let connections: u32 = results.iter().map(|r| tls(r).connections).sum();
    assert!(connections >= 9, "each target was probed: {connections}");
    assert_eq!(most.load(Ordering::SeqCst), 2, "never more than --per-host connections at once");
}
