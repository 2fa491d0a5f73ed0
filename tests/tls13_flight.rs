//! The TLS 1.3 server flight decrypted on the sweep's own connection (`tls::codec::tls13_flight`),
//! against real servers: `openssl s_server -tls1_3` serving SCTs in the leaf's CertificateEntry
//! (a `-serverinfo` SERVERINFOV2 block with context SSL_EXT_TLS1_3_CERTIFICATE), the same server
//! asking for a client certificate, and nginx, gnutls-serv and s_server over each AEAD suite and
//! both generator key shares, to show the decryption works across implementations.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use common::assess::{assert_connection_budget, assess, scan_lab_target};
use common::staple::ocsp_response_with_scts;
use common::*;
use postura::checks::model::Status;
use postura::facts::{ScanReport, Tls13HandshakeSource, TlsFacts};
use postura::profile::Service;
use postura::tls::registry::Protocol;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn assessed(address: SocketAddr) -> ScanReport {
    let report = scan_lab_target(address, Service::Tls, "operator", Duration::from_secs(20));
    assert_eq!(report.targets[0].error, None, "{:#?}", report.targets[0]);
    assess(&report, "mozilla-intermediate", vec![], "2026-01-01")
}

fn tls(report: &ScanReport) -> &TlsFacts {
    report.targets[0].tls.as_ref().expect("tls facts")
}

fn status(report: &ScanReport, check: &str) -> Status {
    report.targets[0].findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check}")).status
}

/// The DER inside the PEM blocks of `text`, in order.
fn ders(text: &str) -> Vec<Vec<u8>> {
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|block| {
            let body: String = block.split("-----END").next().unwrap().chars().filter(|c| !c.is_whitespace()).collect();
            B64.decode(body).unwrap()
        })
        .collect()
}

/// The chain the shared RSA leaf's servers send: leaf, intermediate.
fn served_chain() -> Vec<Vec<u8>> {
    let pki = Pki::shared();
    [&pki.rsa.cert, &pki.intermediate_cert]
        .iter()
        .flat_map(|path| ders(&std::fs::read_to_string(path).unwrap()))
        .collect()
}

fn recorded_chain(facts: &TlsFacts) -> Vec<Vec<u8>> {
    facts.chain_pem.iter().flat_map(|pem| ders(pem)).collect()
}

/// The TLS encoding (RFC 6962 §3.3) of one SCT with a 2-byte signature.
fn sct(log_byte: u8, millis: u64) -> Vec<u8> {
    let mut body = vec![0u8];
    body.extend([log_byte; 32]);
    body.extend(millis.to_be_bytes());
    body.extend([0, 0]);
    body.extend([4, 3, 0, 2, 0xab, 0xcd]);
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// What the TLS 1.3 flight must have given, with no rustls handshake of its own.
fn assert_read_from_the_flight(facts: &TlsFacts, suite: &str) {
    let handshake = facts.tls13_handshake.as_ref().expect("tls13_handshake");
    assert_eq!(handshake.source, Tls13HandshakeSource::DecryptedFlight, "{:?}", facts.probe_errors);
    assert!(handshake.completed && handshake.error.is_none(), "{handshake:?}");
    assert_eq!(handshake.cipher_suite.as_deref(), Some(suite), "{handshake:?}");
    assert!(!facts.probe_errors.iter().any(|e| e.starts_with("TLS 1.3")), "{:?}", facts.probe_errors);
}

#[test]
fn scts_in_the_tls13_certificate_entry_are_counted_without_an_extra_connection() {
    let mut list = sct(0x33, 1_767_225_600_000);
    list.extend(sct(0x44, 1_767_225_602_000));
    list.extend(sct(0x55, 1_767_225_603_000));
    let mut sct_list = (list.len() as u16).to_be_bytes().to_vec();
    sct_list.extend(list);
    // SERVERINFOV2: a 4-byte context, then type, length, data. 0x1000 is
    // SSL_EXT_TLS1_3_CERTIFICATE: the extension goes into the leaf's CertificateEntry.
    let mut serverinfo = 0x0000_1000u32.to_be_bytes().to_vec();
    serverinfo.extend(18u16.to_be_bytes());
    serverinfo.extend((sct_list.len() as u16).to_be_bytes());
    serverinfo.extend(&sct_list);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scts.pem");
    std::fs::write(
        &file,
        format!(
            "-----BEGIN SERVERINFOV2 FOR signed_certificate_timestamp-----\n{}\n-----END SERVERINFOV2 FOR signed_certificate_timestamp-----\n",
            B64.encode(&serverinfo)
        ),
    )
    .unwrap();

    let server = OpenSslServer::start_auto(&["-tls1_3", "-serverinfo", file.to_str().unwrap()]);
    let report = assessed(server.socket_addr());
    let facts = tls(&report);
    assert_eq!(facts.protocols, [Protocol::Tls13]);
    assert_read_from_the_flight(facts, "TLS_AES_128_GCM_SHA256");
    assert_eq!(facts.chain_protocol, Some(Protocol::Tls13));
    assert_eq!(recorded_chain(facts), served_chain());
    assert_eq!(facts.chain_sent, 2);
    assert_eq!(facts.sct_list_base64.as_deref(), Some(B64.encode(&sct_list).as_str()));
    let cert = report.targets[0].certificate.as_ref().unwrap();
    assert_eq!((cert.sct_sources.certificate, cert.sct_sources.tls_extension, cert.sct_sources.ocsp), (0, 3, 0));
    assert_eq!(cert.scts[2].log_id, B64.encode([0x55; 32]));
    assert_eq!(status(&report, "cert.no_sct"), Status::Pass);
    let auth = facts.client_auth.as_ref().expect("client_auth");
    assert_eq!(
        (auth.protocol, auth.requested, auth.required, auth.connections),
        (Some(Protocol::Tls13), false, None, 0)
    );
    // Before the flight was decrypted this server cost 27: 2 more, a rustls handshake for the
    // chain and another for the client-certificate request.
    assert_connection_budget(facts);
    assert_eq!(facts.connections, 25);
    let with_scts = facts.connections;

    let twin = OpenSslServer::start_auto(&["-tls1_3"]);
    let report = assessed(twin.socket_addr());
    let facts = tls(&report);
    assert_read_from_the_flight(facts, "TLS_AES_128_GCM_SHA256");
    assert_eq!(recorded_chain(facts), served_chain());
    assert_eq!(facts.sct_list_base64, None);
    let cert = report.targets[0].certificate.as_ref().unwrap();
    assert_eq!((cert.sct_count, cert.sct_sources.tls_extension), (0, 0));
    assert_eq!(status(&report, "cert.no_sct"), Status::Fail);
    assert_eq!(facts.connections, with_scts, "the SCTs cost no connection");
}

#[test]
fn a_tls13_only_client_certificate_request_is_read_from_the_flight() {
    let root = Pki::shared().root_cert.to_str().unwrap().to_string();
    let server = OpenSslServer::start_auto(&["-tls1_3", "-Verify", "1", "-CAfile", &root]);
    let report = assessed(server.socket_addr());
    let facts = tls(&report);
    assert_read_from_the_flight(facts, "TLS_AES_128_GCM_SHA256");
    let auth = facts.client_auth.as_ref().expect("client_auth");
    assert_eq!(auth.protocol, Some(Protocol::Tls13));
    assert_eq!((auth.requested, auth.required, auth.connections), (true, Some(true), 1), "{auth:?}");
    assert_eq!(auth.ca_names, ["O=Postura Test, CN=Postura Test Root CA"]);
    assert_eq!(auth.ca_names_sent, 1);
    assert_eq!(auth.evidence[0], "CertificateRequest decrypted from the sweep's TLS 1.3 flight");
    assert!(auth.evidence[1].contains("CertificateRequired"), "{auth:?}");
    assert_eq!(recorded_chain(facts), served_chain());
    assert_connection_budget(facts);
    // 27 before: the rustls handshake for the chain is gone, the one testing the requirement stays.
    assert_eq!(facts.connections, 26);
}

#[test]
fn the_flight_decrypts_over_every_aead_suite_and_both_generator_shares() {
    for (suite, extra) in [
        ("TLS_AES_128_GCM_SHA256", None),
        ("TLS_AES_256_GCM_SHA384", None),
        ("TLS_CHACHA20_POLY1305_SHA256", None),
        ("TLS_AES_128_GCM_SHA256", Some("P-256")),
    ] {
        let mut args = vec!["-tls1_3", "-ciphersuites", suite];
        if let Some(group) = extra {
            args.extend(["-groups", group]);
        }
        let server = OpenSslServer::start_auto(&args);
        let report = scan_lab_target(server.socket_addr(), Service::Tls, "operator", Duration::from_secs(20));
        let facts = tls(&report);
        assert_read_from_the_flight(facts, suite);
        let group = facts.tls13_handshake.as_ref().and_then(|h| h.group.clone());
        assert_eq!(group.as_deref(), Some(if extra.is_some() { "secp256r1" } else { "x25519" }), "{suite}");
        assert_eq!(recorded_chain(facts), served_chain(), "{suite} {extra:?}");
    }
}

#[test]
fn the_flight_decrypts_from_nginx_and_gnutls() {
    let nginx = Nginx::start_auto("ssl_protocols TLSv1.3;\n");
    let report = scan_lab_target(nginx.socket_addr(), Service::Tls, "operator", Duration::from_secs(20));
    let facts = tls(&report);
    assert_eq!(facts.protocols, [Protocol::Tls13]);
    assert_read_from_the_flight(facts, "TLS_AES_128_GCM_SHA256");
    assert_eq!(recorded_chain(facts), served_chain());
    assert_eq!(facts.client_auth.as_ref().map(|a| (a.requested, a.connections)), Some((false, 0)));

    let gnutls = GnutlsServer::start_auto("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305");
    let report = scan_lab_target(gnutls.socket_addr(), Service::Tls, "operator", Duration::from_secs(20));
    let facts = tls(&report);
    assert_eq!(facts.protocols, [Protocol::Tls13]);
    assert_read_from_the_flight(facts, "TLS_CHACHA20_POLY1305_SHA256");
    assert_eq!(recorded_chain(facts), served_chain());
}

#[test]
fn a_ten_thousand_name_leaf_fits_the_tls13_flight() {
    // rustls refuses handshake messages above 64 KiB; the decrypted flight allows 256 KiB, so a
    // TLS 1.3-only server's 210 KB leaf is read (docs/limits.md).
    let pki = Pki::shared();
    let leaf = pki.ten_thousand_name_leaf();
    let server = OpenSslServer::start_auto(&[
        "-tls1_3",
        "-cert",
        leaf.cert.to_str().unwrap(),
        "-key",
        leaf.key.to_str().unwrap(),
        "-cert_chain",
        pki.intermediate_cert.to_str().unwrap(),
    ]);
    let report = assessed(server.socket_addr());
    let facts = tls(&report);
    assert_read_from_the_flight(facts, "TLS_AES_128_GCM_SHA256");
    assert_eq!(facts.chain_protocol, Some(Protocol::Tls13));
    let served = ders(&std::fs::read_to_string(&leaf.cert).unwrap());
    assert_eq!(recorded_chain(facts).first(), served.first());
    let cert = report.targets[0].certificate.as_ref().unwrap();
    assert!((190_000..240_000).contains(&cert.largest_certificate_bytes), "{}", cert.largest_certificate_bytes);
    assert_eq!(cert.truncated.get("san_dns"), Some(&10_000));
}

#[test]
fn a_ccm_suite_is_recorded_as_not_decrypted_and_the_next_hello_is_read() {
    // The server's first choice is CCM (ring has no CCM): the next hello, which no longer
    // offers it, gets AES-128-GCM and its flight is read.
    let server = OpenSslServer::start_auto(&[
        "-tls1_3",
        "-serverpref",
        "-ciphersuites",
        "TLS_AES_128_CCM_SHA256:TLS_AES_128_GCM_SHA256",
    ]);
    let report = scan_lab_target(server.socket_addr(), Service::Tls, "operator", Duration::from_secs(20));
    let facts = tls(&report);
    assert_read_from_the_flight(facts, "TLS_AES_128_GCM_SHA256");
    assert_eq!(recorded_chain(facts), served_chain());

    // CCM only: nothing to decrypt, said so, and the rustls handshake is tried instead.
    let ccm = OpenSslServer::start_auto(&["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"]);
    let report = scan_lab_target(ccm.socket_addr(), Service::Tls, "operator", Duration::from_secs(20));
    let facts = tls(&report);
    assert_eq!(facts.cipher_suites[&Protocol::Tls13], ["TLS_AES_128_CCM_SHA256"]);
    assert!(
        facts.probe_errors.contains(&"TLS 1.3 flight: not decrypted (CCM)".to_string()),
        "{:?}",
        facts.probe_errors
    );
    let handshake = facts.tls13_handshake.as_ref().expect("tls13_handshake");
    assert_eq!(handshake.source, Tls13HandshakeSource::Rustls);
}

#[test]
fn a_flight_that_does_not_decrypt_is_a_reason_and_the_enumeration_stands() {
    // Scripted: no real server sends a record that does not open under its own keys.
    let peer = HostileTlsServer::start(TlsHostility::Tls13BadRecord);
    let report = scan_lab_target(peer.addr(), Service::Tls, "operator", Duration::from_secs(20));
    let facts = tls(&report);
    assert_eq!(facts.protocols, [Protocol::Tls13]);
    assert_eq!(facts.cipher_suites[&Protocol::Tls13].len(), 3, "{:?}", facts.cipher_suites);
    // Record 1 is the middlebox ChangeCipherSpec; record 2 does not open. Asked once only.
    let flight_errors: Vec<&String> = facts.probe_errors.iter().filter(|e| e.starts_with("TLS 1.3 flight")).collect();
    assert_eq!(flight_errors, ["TLS 1.3 flight: record 2 did not decrypt (bad_record_mac)"]);
    // The rustls handshake is tried instead, and fails on the same server.
    let handshake = facts.tls13_handshake.as_ref().expect("tls13_handshake");
    assert_eq!((handshake.source, handshake.completed), (Tls13HandshakeSource::Rustls, false), "{handshake:?}");
    assert!(facts.chain_pem.is_empty());
    assert_eq!(peer.accepted(), facts.connections as usize, "every connection counted at the server");
}

#[test]
fn an_ocsp_staple_in_the_tls13_certificate_entry_is_read() {
    // nginx TLS 1.3 only, stapling a hand-built response that carries two SCTs: the staple
    // travels in the leaf's CertificateEntry status_request extension.
    let mut list = sct(0x66, 1_767_225_600_000);
    list.extend(sct(0x77, 1_767_225_601_000));
    let mut sct_list = (list.len() as u16).to_be_bytes().to_vec();
    sct_list.extend(list);
    let dir = tempfile::tempdir().unwrap();
    let staple = ocsp_response_with_scts(dir.path(), &sct_list);
    let nginx = Nginx::start_auto(&format!(
        "ssl_protocols TLSv1.3;\nssl_stapling on;\nssl_stapling_file {};\n",
        staple.to_str().unwrap()
    ));
    let report = assessed(nginx.socket_addr());
    let facts = tls(&report);
    assert_read_from_the_flight(facts, "TLS_AES_128_GCM_SHA256");
    assert!(facts.tls13_handshake.as_ref().is_some_and(|h| h.ocsp_stapled));
    assert_eq!(facts.extensions.ocsp_stapling, Some(true));
    assert_eq!(facts.ocsp_staple_base64.as_deref(), Some(B64.encode(std::fs::read(&staple).unwrap()).as_str()));
    let cert = report.targets[0].certificate.as_ref().unwrap();
    let stapled = cert.revocation.stapled.as_ref().expect("a staple");
    assert_eq!(stapled.status, postura::cert::RevocationStatus::Good, "{stapled:?}");
    assert_eq!((cert.sct_sources.certificate, cert.sct_sources.tls_extension, cert.sct_sources.ocsp), (0, 0, 2));
    assert_eq!(status(&report, "cert.no_sct"), Status::Pass);
}
