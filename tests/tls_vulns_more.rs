//! More known vulnerabilities against real servers: Ticketbleed (a scripted F5-style server,
//! `common::ticketbleed`, since no buildable server has the bug; Debian's OpenSSL 3 and nginx as
//! the patched twins) and BREACH exposure (nginx with `gzip on` and off). Each verdict is
//! asserted exactly with the connections it cost, its check and its grade cap.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::assess::{assess, scan_lab_target};
use common::ticketbleed::TicketbleedServer;
use common::*;
use postura::checks::grade::CapReason;
use postura::checks::model::Status;
use postura::facts::ScanReport;
use postura::profile::Service;
use postura::tls::vuln::VulnerabilityFact;

fn assert_verdict(name: &str, fact: &VulnerabilityFact, vulnerable: Option<bool>, connections: u32) {
    assert_eq!(fact.vulnerable, vulnerable, "{name}: {fact:?}");
    assert_eq!(fact.connections, connections, "{name}: {fact:?}");
    assert!(!fact.evidence.is_empty(), "{name}: evidence");
}

fn status(report: &ScanReport, check: &str) -> Status {
    report.targets[0].findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check}")).status
}

fn assessed(address: SocketAddr, service: Service) -> ScanReport {
    let report = scan_lab_target(address, service, "operator", Duration::from_secs(10));
    assert_eq!(report.targets[0].error, None, "{:#?}", report.targets[0]);
    assess(&report, "mozilla-intermediate", vec![], "2026-01-01")
}

fn has_cap(report: &ScanReport, reason: CapReason) -> bool {
    report.targets[0].grade.as_ref().unwrap().caps.iter().any(|c| c.reason == reason && c.letter == reason.letter())
}

#[test]
fn ticketbleed_on_a_scripted_f5_and_on_openssl_3_and_nginx() {
    // Scripted (F5 BIG-IP's closed stack): a real rustls ticket, then a 32-byte echo.
    let f5 = TicketbleedServer::start();
    let report = assessed(f5.addr, Service::Tls);
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_eq!(tls.extensions.session_ticket, Some(true));
    let v = &tls.vulnerabilities.ticketbleed;
    assert_verdict("ticketbleed", v, Some(true), 2);
    assert_eq!(v.evidence.len(), 1, "{v:?}");
    assert!(
        v.evidence[0].ends_with(
            "-byte ticket was accepted and the 16-byte session ID came back as 32 bytes: 16 bytes of server memory"
        ),
        "{v:?}"
    );
    assert_eq!(status(&report, "tls.vuln.ticketbleed"), Status::Fail);
    assert!(has_cap(&report, CapReason::Ticketbleed));
    assert_eq!(report.targets[0].grade.as_ref().unwrap().grade, "F");
    assert_eq!(f5.resumptions(), 1, "one resumption hello");
    assert_eq!(f5.accepted(), tls.connections as usize, "every connection counted at the server");

    // Debian's OpenSSL 3 issues tickets and resumes with the session ID echoed as sent.
    let current = OpenSslServer::start_auto(&[]);
    let report = assessed(current.socket_addr(), Service::Tls);
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_eq!(tls.extensions.session_ticket, Some(true));
    let v = &tls.vulnerabilities.ticketbleed;
    assert_verdict("ticketbleed", v, Some(false), 2);
    assert!(v.evidence[0].ends_with("-byte ticket was accepted and the 16-byte session ID echoed as sent"), "{v:?}");
    assert_eq!(status(&report, "tls.vuln.ticketbleed"), Status::Pass);
    assert!(!has_cap(&report, CapReason::Ticketbleed));

    // nginx with tickets on: the same; with them off (Mozilla's setting): nothing to ask.
    let with_tickets =
        Nginx::start_auto(&MOZILLA_INTERMEDIATE.replace("ssl_session_tickets off;", "ssl_session_tickets on;"));
    let report = assessed(with_tickets.socket_addr(), Service::Https);
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities.ticketbleed;
    assert_verdict("ticketbleed", v, Some(false), 2);
    assert!(v.evidence[0].ends_with("-byte session ID echoed as sent"), "{v:?}");
    let without = Nginx::mozilla_intermediate();
    let report = assessed(without.socket_addr(), Service::Https);
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities.ticketbleed;
    assert_verdict("ticketbleed", v, Some(false), 0);
    assert_eq!(v.evidence, ["the server does not announce session tickets (RFC 5077)"]);
    assert_eq!(status(&report, "tls.vuln.ticketbleed"), Status::Pass);
}

/// A page nginx serves as text/html (the only type `gzip_types` lists by default).
const HTML_PAGE: &str = "location / { default_type text/html; return 200 \"<html><body><form><input name=csrf value=0123456789abcdef></form></body></html>\"; }";

#[test]
fn breach_exposure_on_nginx_with_gzip_on_and_off() {
    let gzip = Nginx::start_auto(&format!("{MOZILLA_INTERMEDIATE}\n{HTML_PAGE}\ngzip on;\n"));
    let report = assessed(gzip.socket_addr(), Service::Https);
    let target = &report.targets[0];
    let https = target.http.as_ref().unwrap().https.as_ref().unwrap();
    assert_eq!(https.status, Some(200), "{https:?}");
    assert_eq!(https.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(https.compressed, Some(true));
    assert_eq!(status(&report, "http.breach"), Status::Fail);
    // Informational for the grade, as SSL Labs: no cap.
    assert!(target.grade.as_ref().unwrap().caps.iter().all(|c| c.letter != "F" && c.letter != "C"));
    // The same request as before (the HSTS one): no connection added.
    assert_eq!(target.connections.http, 2, "{:?}", target.connections);

    let plain = Nginx::start_auto(&format!("{MOZILLA_INTERMEDIATE}\n{HTML_PAGE}\ngzip off;\n"));
    let report = assessed(plain.socket_addr(), Service::Https);
    let https = report.targets[0].http.as_ref().unwrap().https.as_ref().unwrap();
    assert_eq!(https.status, Some(200), "{https:?}");
    assert_eq!(https.content_encoding, None);
    assert_eq!(https.compressed, Some(false));
    assert_eq!(status(&report, "http.breach"), Status::Pass);
}
