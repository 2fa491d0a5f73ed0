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

/// A `DH PARAMETERS` PEM (PKCS#3) for `p` (hex) and g = 2, written with `openssl asn1parse
/// -genconf` as an operator crafting parameters by hand would.
fn dh_parameters(dir: &std::path::Path, name: &str, p_hex: &str) -> std::path::PathBuf {
    let conf = dir.join(format!("{name}.cnf"));
    std::fs::write(&conf, format!("asn1=SEQUENCE:dh\n[dh]\np=INTEGER:0x{p_hex}\ng=INTEGER:2\n")).unwrap();
    let der = dir.join(format!("{name}.der"));
    let status = std::process::Command::new("openssl")
        .args(["asn1parse", "-genconf", conf.to_str().unwrap(), "-out", der.to_str().unwrap(), "-noout"])
        .status()
        .unwrap();
    assert!(status.success());
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&der).unwrap());
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|chunk| std::str::from_utf8(chunk).unwrap()).collect::<Vec<_>>();
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&pem, format!("-----BEGIN DH PARAMETERS-----\n{}\n-----END DH PARAMETERS-----\n", lines.join("\n")))
        .unwrap();
    pem
}

/// A random prime of `bits` bits from `openssl prime -generate` (not a safe prime).
fn openssl_prime(bits: u32) -> num_bigint::BigUint {
    let output = std::process::Command::new("openssl")
        .args(["prime", "-generate", "-bits", &bits.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success());
    num_bigint::BigUint::parse_bytes(String::from_utf8_lossy(&output.stdout).trim().as_bytes(), 10).unwrap()
}

/// The only DH group of a DHE-only OpenSSL 3 server using `dhparam`.
fn dh_server_report(dhparam: &std::path::Path) -> ScanReport {
    let server =
        OpenSslServer::start_auto(&["-no_tls1_3", "-cipher", "DHE:@SECLEVEL=0", "-dhparam", dhparam.to_str().unwrap()]);
    assessed(server.socket_addr(), Service::Tls)
}

#[test]
fn dh_groups_judged_beyond_size_safe_known_unsafe_and_composite() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::shared();

    // A safe prime from OpenSSL's parameter generator.
    let report = dh_server_report(&pki.dh1024_safe_prime().0);
    let groups = &report.targets[0].tls.as_ref().unwrap().dh_groups;
    assert_eq!(groups.len(), 1, "{groups:?}");
    let g = &groups[0];
    assert_eq!((g.bits, g.prime, g.safe_prime, g.generator_in_range), (1024, Some(true), Some(true), true), "{g:?}");
    assert_eq!((g.generator.as_str(), g.known_group.as_deref()), ("2", None));
    // SECLEVEL=0 lets TLS 1.0 and 1.1 in too: one group, seen over three protocols.
    use postura::tls::registry::Protocol;
    assert_eq!(g.protocols, [Protocol::Tls10, Protocol::Tls11, Protocol::Tls12]);
    assert_eq!(status(&report, "tls.kex.dh_composite"), Status::Pass);
    assert_eq!(status(&report, "tls.kex.dh_unsafe_prime"), Status::Pass);

    // RFC 5114's 1024-bit group: prime, not safe (a 160-bit subgroup), and a well-known one.
    let report = dh_server_report(pki.dh1024());
    let g = &report.targets[0].tls.as_ref().unwrap().dh_groups[0];
    assert_eq!((g.prime, g.safe_prime), (Some(true), Some(false)), "{g:?}");
    assert_eq!(g.known_group.as_deref(), Some("RFC5114/1024-bit DSA group with 160-bit prime order subgroup"));
    assert_eq!(status(&report, "tls.kex.dh_unsafe_prime"), Status::Fail);
    assert_eq!(status(&report, "tls.kex.dh_composite"), Status::Pass);

    // A random 2048-bit prime written by hand as DH parameters: prime, not safe, unknown.
    let prime = dh_parameters(dir.path(), "prime", &openssl_prime(2048).to_str_radix(16));
    let report = dh_server_report(&prime);
    let g = &report.targets[0].tls.as_ref().unwrap().dh_groups[0];
    assert_eq!((g.bits, g.prime, g.safe_prime, g.known_group.as_deref()), (2048, Some(true), Some(false), None));
    assert_eq!(status(&report, "tls.kex.dh_unsafe_prime"), Status::Fail);
    assert_eq!(status(&report, "tls.kex.dh_composite"), Status::Pass);

    // A composite 2048-bit modulus (two 1024-bit primes), which OpenSSL 3 serves as is.
    let composite = &openssl_prime(1024) * &openssl_prime(1024);
    let report = dh_server_report(&dh_parameters(dir.path(), "composite", &composite.to_str_radix(16)));
    let tls = report.targets[0].tls.as_ref().unwrap();
    let g = &tls.dh_groups[0];
    assert_eq!((g.bits, g.prime, g.safe_prime), (composite.bits() as u32, Some(false), Some(false)), "{g:?}");
    assert_eq!(status(&report, "tls.kex.dh_composite"), Status::Fail);
    assert!(has_cap(&report, CapReason::DhComposite), "{:?}", report.targets[0].grade);
    assert_eq!(report.targets[0].grade.as_ref().unwrap().grade, "F");
    // Judged from the sweep's ServerKeyExchanges: no connection of its own.
    assert!(tls.key_exchange.iter().all(|k| k.kind == "DH"), "{:?}", tls.key_exchange);
}

#[test]
fn client_certificate_requested_required_or_not_asked() {
    let root = Pki::shared().root_cert.to_str().unwrap().to_string();

    let requested = OpenSslServer::start_auto(&["-verify", "1", "-CAfile", &root]);
    let report = assessed(requested.socket_addr(), Service::Tls);
    let auth = report.targets[0].tls.as_ref().unwrap().client_auth.clone().unwrap();
    assert!(auth.requested, "{auth:?}");
    assert_eq!(auth.required, Some(false), "{auth:?}");
    assert_eq!(auth.connections, 1);
    assert_eq!(auth.ca_names, ["O=Postura Test, CN=Postura Test Root CA"]);
    assert_eq!(auth.ca_names_sent, 1);
    assert_eq!(auth.protocol, Some(postura::tls::registry::Protocol::Tls12));
    assert!(auth.certificate_types.contains(&"rsa_sign".to_string()), "{auth:?}");
    assert_eq!(auth.evidence, ["a TLS 1.2 handshake with an empty client Certificate was completed"]);

    let required = OpenSslServer::start_auto(&["-Verify", "1", "-CAfile", &root]);
    let report = assessed(required.socket_addr(), Service::Tls);
    let auth = report.targets[0].tls.as_ref().unwrap().client_auth.clone().unwrap();
    assert!(auth.requested);
    assert_eq!(auth.required, Some(true), "{auth:?}");
    assert_eq!(auth.connections, 1);
    assert_eq!(
        auth.evidence,
        ["a TLS 1.2 handshake with an empty client Certificate was refused (alert:handshake_failure)"]
    );

    let open = OpenSslServer::start_auto(&[]);
    let report = assessed(open.socket_addr(), Service::Tls);
    let auth = report.targets[0].tls.as_ref().unwrap().client_auth.clone().unwrap();
    assert_eq!((auth.requested, auth.required, auth.connections), (false, None, 0), "{auth:?}");
    assert!(auth.ca_names.is_empty());
}

#[test]
fn client_certificate_over_tls_1_3_only() {
    use postura::tls::registry::Protocol;
    let root = Pki::shared().root_cert.to_str().unwrap().to_string();

    // The request is encrypted: the sweep decrypts it from its own TLS 1.3 hello's flight, and
    // one rustls handshake sends no certificate to see whether it is required.
    let requested = OpenSslServer::start_auto(&["-tls1_3", "-verify", "1", "-CAfile", &root]);
    let report = assessed(requested.socket_addr(), Service::Tls);
    let auth = report.targets[0].tls.as_ref().unwrap().client_auth.clone().unwrap();
    assert_eq!(auth.protocol, Some(Protocol::Tls13));
    assert_eq!((auth.requested, auth.required, auth.connections), (true, Some(false), 1), "{auth:?}");
    assert_eq!(auth.ca_names, ["O=Postura Test, CN=Postura Test Root CA"]);
    assert_eq!(
        auth.evidence,
        [
            "CertificateRequest decrypted from the sweep's TLS 1.3 flight",
            "a TLS 1.3 handshake without a client certificate was not refused"
        ]
    );

    let required = OpenSslServer::start_auto(&["-tls1_3", "-Verify", "1", "-CAfile", &root]);
    let report = assessed(required.socket_addr(), Service::Tls);
    let auth = report.targets[0].tls.as_ref().unwrap().client_auth.clone().unwrap();
    assert_eq!((auth.requested, auth.required, auth.connections), (true, Some(true), 1), "{auth:?}");
    assert!(auth.evidence[1].contains("CertificateRequired"), "{auth:?}");

    // No request in the decrypted flight: nothing to test, no connection.
    let open = OpenSslServer::start_auto(&["-tls1_3"]);
    let report = assessed(open.socket_addr(), Service::Tls);
    let auth = report.targets[0].tls.as_ref().unwrap().client_auth.clone().unwrap();
    assert_eq!((auth.requested, auth.required, auth.connections), (false, None, 0), "{auth:?}");
}
