//! Certificate facts that were missing or misjudged, each on a real `openssl s_server`: a leaf
//! with 10 000 SANs (a size problem, not a trust failure), a leaf naming its host only in the
//! CN, and SCTs served in the TLS extension (`-serverinfo`) or in a stapled OCSP response (nginx
//! `ssl_stapling_file`) counted by source.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::assess::{assess, scan_lab_target};
use common::staple::ocsp_response_with_scts;
use common::*;
use postura::checks::model::Status;
use postura::facts::ScanReport;
use postura::profile::Service;

fn assessed(address: SocketAddr) -> ScanReport {
    let report = scan_lab_target(address, Service::Tls, "operator", Duration::from_secs(20));
    assert_eq!(report.targets[0].error, None, "{:#?}", report.targets[0]);
    assess(&report, "mozilla-intermediate", vec![], "2026-01-01")
}

fn status(report: &ScanReport, check: &str) -> Status {
    report.targets[0].findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check}")).status
}

#[test]
fn ten_thousand_sans_are_a_size_problem_and_trust_is_judged_apart() {
    let pki = Pki::shared();
    let leaf = pki.ten_thousand_name_leaf();
    let server = OpenSslServer::start_auto(&[
        "-cert",
        leaf.cert.to_str().unwrap(),
        "-key",
        leaf.key.to_str().unwrap(),
        "-cert_chain",
        pki.intermediate_cert.to_str().unwrap(),
    ]);
    // webpki itself refuses it (DER lengths of at most two bytes): the case postura must
    // judge on its own path rather than call it malformed.
    let pem = std::fs::read_to_string(&leaf.cert).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    let refused = webpki::EndEntityCert::try_from(&rustls::pki_types::CertificateDer::from(der.as_slice())).err();
    assert!(refused.is_some(), "webpki accepted a {}-byte certificate", der.len());
    let report = assessed(server.socket_addr());
    let cert = report.targets[0].certificate.as_ref().unwrap();
    assert_eq!(cert.error, None);
    // Names past the cap of 1000 are counted, not kept (docs/limits.md).
    assert_eq!(cert.san_dns.len(), 1_000);
    assert_eq!(cert.truncated.get("san_dns"), Some(&10_000));
    assert!(cert.hostname_match);
    // Well over webpki's 64 KiB: the size is reported as what it is.
    assert!((190_000..240_000).contains(&cert.largest_certificate_bytes), "{}", cert.largest_certificate_bytes);
    assert!(cert.chain_bytes > cert.largest_certificate_bytes);
    assert_eq!(status(&report, "cert.chain_too_large"), Status::Fail);
    // ... and trust is judged on its own: the lab root (the country's CA) anchors it.
    let lab = cert.trust.get(&pki.root_cert.display().to_string()).unwrap();
    assert!(lab.trusted, "{lab:?}");
    assert_eq!(
        lab.path,
        ["O=Postura Test, CN=Postura Test Intermediate CA", "O=Postura Test, CN=Postura Test Root CA"]
    );
    assert_eq!(cert.trust["mozilla"].reason_code.as_deref(), Some("unknown_issuer"), "{:?}", cert.trust);
    assert_eq!(status(&report, "cert.untrusted"), Status::Pass);

    // The twin: the shared leaf, a few hundred bytes.
    let normal = OpenSslServer::start_auto(&[]);
    let report = assessed(normal.socket_addr());
    let cert = report.targets[0].certificate.as_ref().unwrap();
    assert!(cert.largest_certificate_bytes < 2048, "{}", cert.largest_certificate_bytes);
    assert_eq!(status(&report, "cert.chain_too_large"), Status::Pass);
}

#[test]
fn a_leaf_named_only_in_its_cn_fails_cert_no_san() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { san: false, ..LeafSpec::default() });
    let server = OpenSslServer::start_auto(&[
        "-cert",
        leaf.cert.to_str().unwrap(),
        "-key",
        leaf.key.to_str().unwrap(),
        "-cert_chain",
        ca.intermediate_cert.to_str().unwrap(),
    ]);
    let report = assessed(server.socket_addr());
    let cert = report.targets[0].certificate.as_ref().unwrap();
    assert!(!cert.san_present);
    assert_eq!(cert.hostname_match_via.as_deref(), Some("common_name"));
    // RFC 6125's legacy fallback still matches, so the mismatch check passes: this one fails.
    assert_eq!(status(&report, "cert.hostname_mismatch"), Status::Pass);
    assert_eq!(status(&report, "cert.no_san"), Status::Fail);

    let normal = OpenSslServer::start_auto(&[]);
    let report = assessed(normal.socket_addr());
    assert_eq!(report.targets[0].certificate.as_ref().unwrap().hostname_match_via.as_deref(), Some("dns_san"));
    assert_eq!(status(&report, "cert.no_san"), Status::Pass);
}

/// The TLS encoding (RFC 6962 §3.3) of one SCT with a 2-byte signature.
fn sct(log_byte: u8, millis: u64) -> Vec<u8> {
    let mut body = vec![0u8];
    body.extend([log_byte; 32]);
    body.extend(millis.to_be_bytes());
    body.extend([0, 0]); // no extensions
    body.extend([4, 3, 0, 2, 0xab, 0xcd]); // sha256/ecdsa, 2 signature bytes
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend(body);
    out
}

#[test]
fn scts_in_the_tls_extension_are_counted_by_source() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut list = sct(0x33, 1_767_225_600_000);
    list.extend(sct(0x44, 1_767_225_602_000));
    let mut sct_list = (list.len() as u16).to_be_bytes().to_vec();
    sct_list.extend(list);
    // OpenSSL's serverinfo file: extension type, length, data, in a PEM block.
    let mut serverinfo = 18u16.to_be_bytes().to_vec();
    serverinfo.extend((sct_list.len() as u16).to_be_bytes());
    serverinfo.extend(&sct_list);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scts.pem");
    std::fs::write(
        &file,
        format!(
            "-----BEGIN SERVERINFO FOR signed_certificate_timestamp-----\n{}\n-----END SERVERINFO FOR signed_certificate_timestamp-----\n",
            b64.encode(&serverinfo)
        ),
    )
    .unwrap();
    let server = OpenSslServer::start_auto(&["-serverinfo", file.to_str().unwrap()]);
    let report = assessed(server.socket_addr());
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_eq!(tls.sct_list_base64.as_deref(), Some(b64.encode(&sct_list).as_str()));
    let cert = report.targets[0].certificate.as_ref().unwrap();
    assert_eq!(cert.sct_count, 2);
    assert_eq!((cert.sct_sources.certificate, cert.sct_sources.tls_extension, cert.sct_sources.ocsp), (0, 2, 0));
    assert_eq!(cert.scts[0].source, "tls_extension");
    assert_eq!(cert.scts[0].log_id, b64.encode([0x33; 32]));
    assert_eq!(cert.scts[1].timestamp, "2026-01-01T00:00:02Z");
    assert_eq!(status(&report, "cert.no_sct"), Status::Pass);

    let without = OpenSslServer::start_auto(&[]);
    let report = assessed(without.socket_addr());
    assert_eq!(report.targets[0].tls.as_ref().unwrap().sct_list_base64, None);
    let cert = report.targets[0].certificate.as_ref().unwrap();
    assert_eq!((cert.sct_count, cert.sct_sources.tls_extension), (0, 0));
    assert_eq!(status(&report, "cert.no_sct"), Status::Fail);
}

#[test]
fn scts_in_a_stapled_ocsp_response_on_nginx_are_counted_by_source() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut list = sct(0x55, 1_767_225_600_000);
    list.extend(sct(0x66, 1_767_225_603_000));
    list.extend(sct(0x77, 1_767_225_604_000));
    let mut sct_list = (list.len() as u16).to_be_bytes().to_vec();
    sct_list.extend(list);
    let dir = tempfile::tempdir().unwrap();
    let staple = ocsp_response_with_scts(dir.path(), &sct_list);
    let nginx = Nginx::start_auto(&format!(
        "{MOZILLA_INTERMEDIATE}\nssl_stapling on;\nssl_stapling_file {};\n",
        staple.to_str().unwrap()
    ));
    let report = scan_lab_target(nginx.socket_addr(), Service::Tls, "operator", Duration::from_secs(20));
    let report = assess(&report, "mozilla-intermediate", vec![], "2026-01-01");
    let cert = report.targets[0].certificate.as_ref().unwrap();
    let stapled = cert.revocation.stapled.as_ref().expect("a staple");
    assert_eq!(stapled.status, postura::cert::RevocationStatus::Good, "{stapled:?}");
    assert_eq!(stapled.signer.as_deref(), Some("issuer"));
    assert_eq!(cert.sct_count, 3);
    assert_eq!((cert.sct_sources.certificate, cert.sct_sources.tls_extension, cert.sct_sources.ocsp), (0, 0, 3));
    assert!(cert.scts.iter().all(|s| s.source == "ocsp"));
    assert_eq!(cert.scts[2].log_id, b64.encode([0x77; 32]));
    assert_eq!(status(&report, "cert.no_sct"), Status::Pass);
}
