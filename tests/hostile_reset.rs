//! A peer that resets every connection (TCP RST right after accept) is given up at first
//! contact with the reason "connection reset", like a refused or silent peer: one connection,
//! counted at the server. Before this was fixed the sweep took the reset for one refused hello
//! and went on: 11 connections, no recorded reason.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use postura::engine::{run, ScanOptions};
use postura::facts::TargetResult;
use postura::target::parse_target;

fn scan(target: &str, address: SocketAddr) -> TargetResult {
    let mut spec = parse_target(target).unwrap();
    spec.pinned = vec![address.ip()];
    spec.port = address.port();
    let options =
        ScanOptions { timeout: Duration::from_secs(3), deadline: Duration::from_secs(20), ..Default::default() };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut results = runtime.block_on(run(vec![spec], &options, None, |_| {}));
    assert_eq!(results.len(), 1);
    results.remove(0)
}

#[test]
fn resetting_peer_is_abandoned_at_first_contact() {
    let peer = ResettingServer::start();
    let result = scan(&format!("reset.test:{}", peer.addr().port()), peer.addr());
    assert_eq!(result.error.as_deref(), Some("connection reset"), "{result:#?}");
    let tls = result.tls.as_ref().expect("tls facts");
    assert_eq!(tls.connections, 1, "postura's count");
    assert!(tls.protocols.is_empty());
    assert_eq!(peer.0.accepted(), 1, "connections counted at the server");
}

#[test]
fn resetting_mail_peer_is_abandoned_at_first_contact() {
    // The reset comes before the SMTP greeting: the same first-contact rule holds over STARTTLS.
    let peer = ResettingServer::start();
    let result = scan("smtp://reset.test", peer.addr());
    assert_eq!(result.error.as_deref(), Some("connection reset"), "{result:#?}");
    assert_eq!(result.tls.as_ref().expect("tls facts").connections, 1);
    assert_eq!(result.starttls, None, "a reset says nothing about STARTTLS");
    assert_eq!(peer.0.accepted(), 1, "connections counted at the server");
}
