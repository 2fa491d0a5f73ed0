//! Certificate facts against real servers (openssl s_server, nginx) serving chains from a PKI
//! built at test time (`TestCa`): each case's facts are asserted exactly. Revocation is seen
//! through a real `openssl ocsp` responder and a CRL served over HTTP; hostile fetches and
//! hostile DER end with a recorded reason.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use postura::cert::{
    analyze, parse_certificate, CertInput, CertOptions, CertificateFacts, FetchLimits, KeyFacts, RevocationStatus,
    TrustStore,
};
use postura::engine::{run, ScanOptions};
use postura::target::TargetSpec;

/// The store name the test CA's root file gets (its path, as given).
fn root_store() -> String {
    TestCa::shared().root_cert.display().to_string()
}

fn options(now: Option<i64>) -> CertOptions {
    let ca = TestCa::shared();
    CertOptions {
        stores: Arc::new(vec![TrustStore::mozilla(), TrustStore::from_pem_file(&ca.root_cert).expect("root store")]),
        online: true,
        fetch_limits: FetchLimits::default(),
        now,
    }
}

/// Scans `address` as `host` with the engine and returns the certificate facts.
fn scan(host: &str, address: SocketAddr, cert: CertOptions) -> CertificateFacts {
    let spec = TargetSpec {
        host: host.to_string(),
        port: address.port(),
        service: postura::profile::Service::Tls,
        pinned: vec![address.ip()],
        sector: None,
        operator: None,
        xmpp_domain: None,
    };
    let options = ScanOptions {
        timeout: Duration::from_secs(10),
        deadline: Duration::from_secs(120),
        cert,
        ..Default::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut results = runtime.block_on(run(vec![spec], &options, None, |_| {}));
    record_certificate_verdicts(&results);
    let result = results.remove(0);
    match result.certificate {
        Some(facts) => facts,
        None => panic!("no certificate facts: {result:#?}"),
    }
}

thread_local! {
    /// The failing `cert.*` checks of the last `scan` on this test's thread.
    static CERT_FAILURES: std::cell::RefCell<std::collections::BTreeSet<String>> = Default::default();
}

/// Judge the scanned target with the default policy and remember its failing certificate checks.
fn record_certificate_verdicts(results: &[postura::facts::TargetResult]) {
    let report = common::assess::assess(
        &common::assess::report_of(results.to_vec()),
        "mozilla-intermediate",
        vec![],
        "2026-01-01",
    );
    let failing = report.targets[0]
        .findings
        .iter()
        .filter(|f| f.status == postura::checks::model::Status::Fail && f.check.starts_with("cert."))
        .map(|f| f.check.clone())
        .collect();
    CERT_FAILURES.with(|c| *c.borrow_mut() = failing);
}

/// The failing certificate checks of the last scan are exactly `expected` (the test CA logs
/// nothing, so `cert.no_sct` fails everywhere; `cert.no_ocsp_stapling` unless the case staples).
fn assert_cert_failures(expected: &[&str]) {
    let got = CERT_FAILURES.with(|c| c.borrow().clone());
    let want: std::collections::BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want, "failing certificate checks");
}

/// `openssl s_server` sending `leaf` then the certificates of `chain` (in that order).
fn serve(leaf: &IssuedLeaf, chain: &[&Path], extra: &[&str]) -> OpenSslServer {
    let ca = TestCa::shared();
    let mut args: Vec<String> =
        vec!["-cert".into(), leaf.cert.display().to_string(), "-key".into(), leaf.key.display().to_string()];
    if !chain.is_empty() {
        args.push("-cert_chain".into());
        args.push(ca.chain_file("chain", chain).display().to_string());
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let endpoint = alloc_endpoint();
    OpenSslServer::start_with(*endpoint.ip(), endpoint.port(), &Pki::shared().rsa, &refs)
}

fn leaf_times(leaf: &IssuedLeaf) -> (i64, i64) {
    let pem = std::fs::read_to_string(&leaf.cert).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    let parsed = parse_certificate(&der).unwrap();
    (parsed.not_before, parsed.not_after)
}

/// The CA/B limit for an issue date, from the table of BR 6.3.2 written out independently.
fn cab_limit(issued: i64) -> i64 {
    use time::macros::datetime;
    let t = time::OffsetDateTime::from_unix_timestamp(issued).unwrap();
    if t < datetime!(2026-03-15 0:00 UTC) {
        398
    } else if t < datetime!(2027-03-15 0:00 UTC) {
        200
    } else if t < datetime!(2029-03-15 0:00 UTC) {
        100
    } else {
        47
    }
}

fn rsa2048() -> KeyFacts {
    KeyFacts { r#type: "RSA".into(), bits: Some(2048), curve: None, rsa_exponent: Some(65537) }
}

fn intermediate_subject() -> String {
    "O=Postura Test, CN=Postura Revocation Intermediate CA".into()
}

fn root_subject() -> String {
    "O=Postura Test, CN=Postura Revocation Root CA".into()
}

#[test]
fn good_chain() {
    let ca = TestCa::shared();
    let (port, ocsp_url) = ca.responder_endpoint();
    let leaf =
        ca.issue(&LeafSpec { ips: vec!["127.0.0.1".into()], ocsp_url: Some(ocsp_url.clone()), ..LeafSpec::default() });
    let responder = ca.start_responder(port);
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let (not_before, not_after) = leaf_times(&leaf);
    let facts = scan(TEST_HOST, server.socket_addr(), options(None));
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.no_ocsp_stapling", "cert.no_sct"]);
    assert_eq!(facts.error, None);
    assert!(!facts.trusted, "not a Mozilla root");
    assert_eq!(facts.trust["mozilla"].reason_code.as_deref(), Some("unknown_issuer"));
    let verdict = &facts.trust[&root_store()];
    assert!(verdict.trusted, "{verdict:?}");
    assert_eq!(verdict.path, vec![intermediate_subject(), root_subject()]);
    assert!(!facts.expired);
    assert!(!facts.not_yet_valid);
    assert_eq!(facts.lifetime_days, Some(90));
    assert_eq!(facts.days_left, Some((not_after - facts_now(&facts)).div_euclid(86_400)));
    assert_eq!(facts.cab_max_lifetime_days, Some(cab_limit(not_before)));
    assert!(facts.hostname_match);
    assert_eq!(facts.hostname_match_via.as_deref(), Some("dns_san"));
    assert_eq!(facts.san_dns, vec![TEST_HOST.to_string()]);
    assert_eq!(facts.san_ip, vec!["127.0.0.1".to_string()]);
    assert!(!facts.self_signed);
    assert!(facts.chain_complete);
    assert!(facts.chain_in_order);
    assert!(!facts.anchor_sent);
    assert!(facts.unrelated_certificates.is_empty());
    assert!(facts.ca_issuers_fetched.is_empty());
    assert_eq!(facts.key, rsa2048());
    assert_eq!(facts.signature_algorithm.as_deref(), Some("sha256WithRSAEncryption"));
    assert_eq!(facts.extended_key_usage, Some(vec!["serverAuth".to_string()]));
    assert!(facts.eku_server_auth);
    assert!(!facts.must_staple);
    assert_eq!(facts.sct_count, 0);
    let revocation = &facts.revocation;
    assert!(!revocation.no_pointer);
    assert_eq!(revocation.ocsp_urls, vec![ocsp_url]);
    assert_eq!(revocation.crl_urls, vec![ca.crl_url()]);
    assert_eq!(revocation.stapled, None);
    let ocsp = revocation.ocsp.as_ref().expect("ocsp checked");
    assert_eq!(ocsp.status, RevocationStatus::Good, "{ocsp:?}\n{}", responder.diagnostics());
    assert_eq!(ocsp.signer.as_deref(), Some("delegated"));
    let crl = revocation.crl.as_ref().expect("crl checked");
    assert_eq!(crl.status, RevocationStatus::Good, "{crl:?}");
    assert_eq!(crl.signer.as_deref(), Some("issuer"));
    assert_eq!(facts.fetches, 2);
    assert_eq!(facts.certificates.len(), 2);
    assert_eq!(facts.certificates[1].subject, Some(intermediate_subject()));
    // The intermediate was made for 3650 days when the CA was built, moments ago.
    assert_eq!(facts.certificates[1].days_left, Some(3649));
    assert!(!facts.certificates[1].expired);
    assert!(facts.certificates[1].is_ca);

    // The same server scanned by IP literal: the IP SAN matches.
    let by_ip = scan("127.0.0.1", server.socket_addr(), options(None));
    assert!(by_ip.hostname_match);
    assert_eq!(by_ip.hostname_match_via.as_deref(), Some("ip_san"));
}

fn facts_now(facts: &CertificateFacts) -> i64 {
    time::OffsetDateTime::parse(&facts.checked_at, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

#[test]
fn expired() {
    let ca = TestCa::shared();
    let leaf = ca
        .issue(&LeafSpec { validity: Validity::Offsets { start: -100 * DAY, end: -10 * DAY }, ..LeafSpec::default() });
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let (not_before, not_after) = leaf_times(&leaf);
    let now = not_after + 10 * DAY;
    let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(Some(now)) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.expired", "cert.untrusted", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert!(facts.expired);
    assert!(!facts.not_yet_valid);
    assert_eq!(facts.days_left, Some(-10));
    assert_eq!(facts.lifetime_days, Some(90));
    assert_eq!(not_after - not_before, 90 * DAY);
    let verdict = &facts.trust[&root_store()];
    assert!(!verdict.trusted);
    assert_eq!(verdict.reason_code.as_deref(), Some("expired"));
    assert_eq!(verdict.reason, facts.subject.as_ref().map(|subject| format!("{subject} expired")));
    assert!(facts.certificates[0].expired);
    assert!(!facts.certificates[1].expired);
    assert!(facts.hostname_match);
    assert!(facts.chain_complete && facts.chain_in_order);
    // Online checks off: nothing fetched, no answers.
    assert!(!facts.revocation.online_checks);
    assert_eq!(facts.revocation.ocsp, None);
    assert_eq!(facts.revocation.crl, None);
    assert_eq!(facts.fetches, 0);
}

#[test]
fn not_yet_valid() {
    let ca = TestCa::shared();
    let leaf =
        ca.issue(&LeafSpec { validity: Validity::Offsets { start: 10 * DAY, end: 100 * DAY }, ..LeafSpec::default() });
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let (not_before, _) = leaf_times(&leaf);
    let facts =
        scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(Some(not_before - 10 * DAY)) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.not_yet_valid", "cert.untrusted", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert!(facts.not_yet_valid);
    assert!(!facts.expired);
    assert_eq!(facts.days_left, Some(100));
    assert_eq!(facts.lifetime_days, Some(90));
    let verdict = &facts.trust[&root_store()];
    assert_eq!(verdict.reason_code.as_deref(), Some("not_yet_valid"));
    assert!(!verdict.trusted);
}

#[test]
fn expiring_in_seven_days() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { validity: Validity::Days(7), ..LeafSpec::default() });
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let (not_before, _) = leaf_times(&leaf);
    let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(Some(not_before)) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.expiring", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert_eq!(facts.days_left, Some(7));
    assert_eq!(facts.lifetime_days, Some(7));
    assert!(!facts.expired);
    assert!(facts.trust[&root_store()].trusted);
    // One second before the end: still 0 whole days left, not expired.
    let (_, not_after) = leaf_times(&leaf);
    let last = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(Some(not_after - 1)) });
    assert_eq!(last.days_left, Some(0));
    assert!(!last.expired);
}

#[test]
fn self_signed() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { issuer: Issuer::SelfSigned, ..LeafSpec::default() });
    let server = serve(&leaf, &[], &[]);
    let facts = scan(TEST_HOST, server.socket_addr(), options(None));
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&[
        "cert.self_signed",
        "cert.untrusted",
        "cert.no_revocation_info",
        "cert.no_ocsp_stapling",
        "cert.no_sct",
    ]);
    assert!(facts.self_signed);
    assert!(!facts.trusted);
    for store in ["mozilla".to_string(), root_store()] {
        let verdict = &facts.trust[&store];
        assert!(!verdict.trusted);
        assert_eq!(verdict.reason_code.as_deref(), Some("self_signed"), "{store}: {verdict:?}");
    }
    assert!(facts.chain_complete, "nothing is missing from a self-signed chain");
    assert!(facts.chain_in_order);
    assert!(!facts.anchor_sent, "the leaf is not counted as a sent anchor");
    assert!(facts.hostname_match);
    assert!(facts.revocation.no_pointer);
    assert_eq!(facts.revocation.ocsp, None);
    assert_eq!(facts.revocation.crl, None);
    assert_eq!(facts.fetches, 0);
}

#[test]
fn wrong_host() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { names: vec!["other.test".into(), "*.postura.test".into()], ..LeafSpec::default() });
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(None) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.hostname_mismatch", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert!(!facts.hostname_match, "*.postura.test does not cover postura.test");
    assert_eq!(facts.hostname_match_via, None);
    assert!(facts.trust[&root_store()].trusted, "trust does not depend on the name");
    let sub = scan("www.postura.test", server.socket_addr(), CertOptions { online: false, ..options(None) });
    assert!(sub.hostname_match);
    let deep = scan("a.www.postura.test", server.socket_addr(), CertOptions { online: false, ..options(None) });
    assert!(!deep.hostname_match);
}

#[test]
fn missing_intermediate_is_completed_through_aia() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec::default());
    let server = serve(&leaf, &[], &[]);
    let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: true, ..options(None) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.chain_incomplete", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert!(!facts.chain_complete);
    assert_eq!(facts.ca_issuers_fetched.len(), 1);
    assert_eq!(facts.ca_issuers_fetched[0].url, ca.ca_issuers_url());
    assert_eq!(facts.ca_issuers_fetched[0].error, None);
    let verdict = &facts.trust[&root_store()];
    assert!(verdict.trusted, "the fetched intermediate completes the path: {verdict:?}");
    assert_eq!(facts.certificates.len(), 2);
    assert_eq!(facts.certificates[1].source, "aia");
    assert_eq!(facts.certificates[1].subject, Some(intermediate_subject()));
    assert!(facts.chain_in_order, "one certificate is trivially in order");

    // Without fetches the chain stays incomplete and untrusted.
    let offline = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(None) });
    assert!(!offline.chain_complete);
    assert!(offline.ca_issuers_fetched.is_empty());
    let verdict = &offline.trust[&root_store()];
    assert_eq!(verdict.reason_code.as_deref(), Some("unknown_issuer"), "{verdict:?}");
}

#[test]
fn wrong_order_and_root_sent() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec::default());
    let reversed = serve(&leaf, &[&ca.root_cert, &ca.intermediate_cert], &[]);
    let facts = scan(TEST_HOST, reversed.socket_addr(), CertOptions { online: false, ..options(None) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.chain_order", "cert.anchor_sent", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert!(!facts.chain_in_order);
    assert!(facts.anchor_sent);
    assert!(facts.chain_complete);
    assert!(facts.unrelated_certificates.is_empty());
    assert!(facts.trust[&root_store()].trusted);

    let with_root = serve(&leaf, &[&ca.intermediate_cert, &ca.root_cert], &[]);
    let facts = scan(TEST_HOST, with_root.socket_addr(), CertOptions { online: false, ..options(None) });
    assert!(facts.chain_in_order);
    assert!(facts.anchor_sent);
    assert!(facts.chain_complete);
    assert!(facts.trust[&root_store()].trusted);

    // An unrelated certificate and a duplicate.
    let pki = Pki::shared();
    let messy = serve(&leaf, &[&ca.intermediate_cert, &pki.intermediate_cert, &ca.intermediate_cert], &[]);
    let facts = scan(TEST_HOST, messy.socket_addr(), CertOptions { online: false, ..options(None) });
    assert!(!facts.chain_in_order);
    assert!(!facts.anchor_sent);
    assert_eq!(facts.unrelated_certificates, vec![2]);
    assert_eq!(facts.duplicate_certificates, vec![3]);
}

#[test]
fn rsa_1024_leaf_on_nginx() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { key: "rsa:1024".into(), ..LeafSpec::default() });
    let chain = ca.chain_file("rsa1024", &[&leaf.cert, &ca.intermediate_cert]);
    let nginx = Nginx::start_auto(&format!(
        "ssl_certificate {};\nssl_certificate_key {};\nssl_ciphers DEFAULT:@SECLEVEL=0;\n",
        chain.display(),
        leaf.key.display()
    ));
    let facts = scan(TEST_HOST, nginx.socket_addr(), CertOptions { online: false, ..options(None) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.key_weak", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert_eq!(facts.key, KeyFacts { r#type: "RSA".into(), bits: Some(1024), curve: None, rsa_exponent: Some(65537) });
    // webpki checks the keys that sign, not the leaf's own key size: the path is valid.
    assert!(facts.trust[&root_store()].trusted);
    assert!(facts.chain_complete && facts.chain_in_order);
}

#[test]
fn rsa_1024_issuer_is_named() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { issuer: Issuer::WeakIntermediate, ..LeafSpec::default() });
    let server = serve(&leaf, &[&ca.weak_intermediate_cert], &["-cipher", "DEFAULT:@SECLEVEL=0"]);
    let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(None) });
    let verdict = &facts.trust[&root_store()];
    assert!(!verdict.trusted);
    assert_eq!(verdict.reason_code.as_deref(), Some("weak_rsa_key"), "{verdict:?}");
    assert_eq!(
        verdict.reason.as_deref(),
        Some("issuer O=Postura Test, CN=Postura Weak 1024 Intermediate CA has an RSA key of 1024 bits")
    );
    assert!(facts.chain_complete && facts.chain_in_order);
    assert_eq!(facts.certificates[1].key.as_ref().and_then(|k| k.bits), Some(1024));
    assert!(facts.revocation.no_pointer);
}

#[test]
fn sha1_signed_leaf_is_named() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { digest: "sha1".into(), ..LeafSpec::default() });
    let server = serve(&leaf, &[&ca.intermediate_cert], &["-cipher", "DEFAULT:@SECLEVEL=0"]);
    let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(None) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.signature_weak", "cert.untrusted", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert_eq!(facts.signature_algorithm.as_deref(), Some("sha1WithRSAEncryption"));
    let verdict = &facts.trust[&root_store()];
    assert!(!verdict.trusted);
    assert_eq!(verdict.reason_code.as_deref(), Some("sha1_signature"), "{verdict:?}");
    assert_eq!(
        verdict.reason,
        facts
            .subject
            .as_ref()
            .map(|subject| format!("leaf certificate {subject} is signed with sha1WithRSAEncryption (SHA-1)"))
    );
    assert!(verdict.reason.as_deref().is_some_and(|r| r.contains("CN=postura.test")));
    // The structure is still analysed: the SHA-1 signature checks out with the issuer's key.
    assert!(facts.chain_complete && facts.chain_in_order);
}

#[test]
fn lifetime_825_days() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { validity: Validity::Days(825), key: "ec".into(), ..LeafSpec::default() });
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let (not_before, _) = leaf_times(&leaf);
    let facts =
        scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(Some(not_before + 3600)) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.lifetime_excessive", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert_eq!(facts.lifetime_days, Some(825));
    assert_eq!(facts.days_left, Some(824));
    assert_eq!(facts.cab_max_lifetime_days, Some(cab_limit(not_before)));
    assert_eq!(
        facts.key,
        KeyFacts { r#type: "EC".into(), bits: Some(256), curve: Some("P-256".into()), rsa_exponent: None }
    );
    assert_eq!(facts.signature_algorithm.as_deref(), Some("sha256WithRSAEncryption"));
    assert!(facts.trust[&root_store()].trusted);
}

#[test]
fn revoked_through_ocsp_crl_and_staple() {
    let ca = TestCa::shared();
    let (port, ocsp_url) = ca.responder_endpoint();
    let leaf = ca.issue(&LeafSpec { ocsp_url: Some(ocsp_url), ..LeafSpec::default() });
    ca.revoke(&leaf);
    let responder = ca.start_responder(port);
    let staple = ca.ocsp_response(&leaf);
    let server = serve(&leaf, &[&ca.intermediate_cert], &["-status_file", staple.to_str().unwrap()]);
    let facts = scan(TEST_HOST, server.socket_addr(), options(None));
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.revoked", "cert.no_sct"]);
    let revocation = &facts.revocation;
    let ocsp = revocation.ocsp.as_ref().expect("ocsp");
    assert_eq!(ocsp.status, RevocationStatus::Revoked, "{ocsp:?}\n{}", responder.diagnostics());
    assert_eq!(ocsp.reason.as_deref(), Some("reason: keyCompromise"));
    assert_eq!(ocsp.signer.as_deref(), Some("delegated"));
    assert!(ocsp.revocation_time.is_some());
    let crl = revocation.crl.as_ref().expect("crl");
    assert_eq!(crl.status, RevocationStatus::Revoked, "{crl:?}");
    assert_eq!(crl.reason.as_deref(), Some("reason: keyCompromise"));
    assert_eq!(crl.revocation_time, ocsp.revocation_time);
    let stapled = revocation.stapled.as_ref().expect("staple");
    assert_eq!(stapled.status, RevocationStatus::Revoked, "{stapled:?}");
    assert_eq!(stapled.signer.as_deref(), Some("delegated"));
    // Trust is path validation; revocation is reported beside it.
    assert!(facts.trust[&root_store()].trusted);
}

#[test]
fn must_staple_with_and_without_a_staple() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { must_staple: true, ..LeafSpec::default() });
    let bare = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let facts = scan(TEST_HOST, bare.socket_addr(), CertOptions { online: false, ..options(None) });
    // The certificate checks' verdicts on the same facts (default policy).
    assert_cert_failures(&["cert.must_staple_unmet", "cert.no_ocsp_stapling", "cert.no_sct"]);
    assert!(facts.must_staple);
    assert_eq!(facts.revocation.stapled, None);

    let staple = ca.ocsp_response(&leaf);
    let stapling = serve(&leaf, &[&ca.intermediate_cert], &["-status_file", staple.to_str().unwrap()]);
    let facts = scan(TEST_HOST, stapling.socket_addr(), CertOptions { online: false, ..options(None) });
    assert!(facts.must_staple);
    let stapled = facts.revocation.stapled.as_ref().expect("staple");
    assert_eq!(stapled.status, RevocationStatus::Good, "{stapled:?}");
    assert_eq!(stapled.signer.as_deref(), Some("delegated"));

    // The same staple is stale a week later (nextUpdate is one day after thisUpdate).
    let (not_before, _) = leaf_times(&leaf);
    let later =
        scan(TEST_HOST, stapling.socket_addr(), CertOptions { online: false, ..options(Some(not_before + 7 * DAY)) });
    let stapled = later.revocation.stapled.as_ref().expect("staple");
    assert_eq!(stapled.status, RevocationStatus::Error);
    assert_eq!(stapled.reason.as_deref(), Some("stale: nextUpdate has passed"));

    // A staple about another certificate is refused.
    let other = ca.issue(&LeafSpec::default());
    let foreign = ca.ocsp_response(&other);
    let wrong = serve(&leaf, &[&ca.intermediate_cert], &["-status_file", foreign.to_str().unwrap()]);
    let facts = scan(TEST_HOST, wrong.socket_addr(), CertOptions { online: false, ..options(None) });
    let stapled = facts.revocation.stapled.as_ref().expect("staple");
    assert_eq!(stapled.status, RevocationStatus::Error);
    assert_eq!(stapled.reason.as_deref(), Some("the response has no entry for this certificate (CertID mismatch)"));
}

/// Hostile revocation and AIA endpoints: each fetch ends within its bound with a reason.
#[test]
fn hostile_fetches_end_within_bounds() {
    let ca = TestCa::shared();
    let hostile = HttpServer::start();
    hostile.route("/hang", Route::Hang);
    hostile.route("/loop", Route::RedirectLoop);
    hostile.route("/huge", Route::Huge(50 * 1024 * 1024));
    let limits = FetchLimits { timeout: Duration::from_secs(2), max_bytes: 1024 * 1024, max_redirects: 3 };
    let cases = [
        ("/hang", "timeout after 2000 ms"),
        ("/loop", "too many redirects (limit 3)"),
        ("/huge", "body too large: over the 1048576 byte limit"),
    ];
    for (path, expected) in cases {
        let url = hostile.url(path);
        let leaf = ca.issue(&LeafSpec {
            ocsp_url: Some(url.clone()),
            crl_url: Some(url.clone()),
            ca_issuers_url: Some(url.clone()),
            ..LeafSpec::default()
        });
        // The leaf alone: the intermediate must come through AIA, which is hostile too.
        let server = serve(&leaf, &[], &[]);
        let started = Instant::now();
        let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { fetch_limits: limits, ..options(None) });
        let elapsed = started.elapsed();
        // AIA, then OCSP and CRL side by side: two fetch bounds, plus the sweep.
        assert!(elapsed < Duration::from_secs(20), "{path}: {elapsed:?}");
        assert_eq!(facts.ca_issuers_fetched.len(), 1, "{path}");
        assert_eq!(facts.ca_issuers_fetched[0].error.as_deref(), Some(expected), "{path} (AIA)");
        // The issuer stayed unknown, so OCSP and CRL answers could not be checked: the
        // fetches are not even made.
        let ocsp = facts.revocation.ocsp.as_ref().expect("ocsp");
        assert_eq!(ocsp.status, RevocationStatus::Error);
        assert_eq!(facts.fetches, 1, "{path}");
    }

    // With the issuer sent, OCSP and CRL fetches are made and bounded.
    for (path, expected) in cases {
        let url = hostile.url(path);
        let leaf =
            ca.issue(&LeafSpec { ocsp_url: Some(url.clone()), crl_url: Some(url.clone()), ..LeafSpec::default() });
        let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
        let started = Instant::now();
        let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { fetch_limits: limits, ..options(None) });
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(15), "{path}: {elapsed:?}");
        for check in [&facts.revocation.ocsp, &facts.revocation.crl] {
            let check = check.as_ref().expect("checked");
            assert_eq!(check.status, RevocationStatus::Error, "{path}");
            assert_eq!(check.reason.as_deref(), Some(expected), "{path}");
            assert_eq!(check.url.as_deref(), Some(url.as_str()));
        }
        assert_eq!(facts.fetches, 2);
    }
}

/// URLs that are not http(s) are never fetched.
#[test]
fn non_http_urls_are_not_fetched() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec {
        ocsp_url: Some("ldap://127.0.0.1/ocsp".into()),
        crl_url: Some("file:///etc/passwd".into()),
        ..LeafSpec::default()
    });
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let facts = scan(TEST_HOST, server.socket_addr(), options(None));
    assert_eq!(facts.fetches, 0);
    for check in [&facts.revocation.ocsp, &facts.revocation.crl] {
        let check = check.as_ref().expect("reported");
        assert_eq!(check.status, RevocationStatus::Error);
        assert_eq!(check.reason.as_deref(), Some("not an http or https URL: not fetched"));
    }
}

#[test]
fn analysis_runs_without_a_network_for_pem_input() {
    // The analysis itself, fed directly: a chain from the shared PKI, offline.
    let pki = Pki::shared();
    let chain: Vec<String> =
        [&pki.rsa.cert, &pki.intermediate_cert].iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let options = CertOptions {
        stores: Arc::new(vec![TrustStore::mozilla(), TrustStore::from_pem_file(&pki.root_cert).unwrap()]),
        online: false,
        ..CertOptions::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let facts = runtime.block_on(analyze(
        CertInput {
            chain_pem: &chain,
            ocsp_staple_base64: None,
            sct_list_base64: None,
            name: "localhost",
            fetch_from: None,
        },
        &options,
    ));
    assert!(facts.trust[&pki.root_cert.display().to_string()].trusted);
    assert!(facts.hostname_match);
    assert!(facts.revocation.no_pointer);
}

/// The binary as a user runs it: `--ca-file` adds a store named by its path, `--no-revocation`
/// makes no fetches, and the JSON carries `targets[].certificate`.
#[test]
fn cli_ca_file_and_no_revocation() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec::default());
    let server = serve(&leaf, &[], &[]);
    let root = ca.root_cert.display().to_string();
    let resolve = format!("{TEST_HOST}:{}:{}", server.port, server.addr);
    let target = format!("{TEST_HOST}:{}", server.port);
    let run = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "scan",
            target.as_str(),
            "--resolve",
            resolve.as_str(),
            "--ca-file",
            root.as_str(),
            "--json",
            "-",
            "--quiet",
        ];
        args.extend(extra);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_postura")).args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    // The leaf alone: with fetches the intermediate comes through AIA and the path is trusted.
    let online = run(&[]);
    let cert = &online["targets"][0]["certificate"];
    assert_eq!(cert["trusted"], false);
    assert_eq!(cert["trust"][&root]["trusted"], true, "{cert:#}");
    assert_eq!(cert["chain_complete"], false);
    assert_eq!(cert["revocation"]["crl"]["status"], "good");
    assert_eq!(cert["fetches"], 2, "caIssuers and the CRL");
    // Without fetches nothing completes the chain.
    let offline = run(&["--no-revocation"]);
    let cert = &offline["targets"][0]["certificate"];
    assert_eq!(cert["trust"][&root]["trusted"], false);
    assert_eq!(cert["trust"][&root]["reason_code"], "unknown_issuer");
    assert_eq!(cert["revocation"]["online_checks"], false);
    assert_eq!(cert["revocation"]["crl"], serde_json::Value::Null);
    assert_eq!(cert["fetches"], 0);

    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(["scan", "example.test", "--ca-file", "/nonexistent/ca.pem"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("CA file /nonexistent/ca.pem"));
}

/// A leaf without subjectAltName matches only through its CN, and says so.
#[test]
fn common_name_only_leaf() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec { san: false, ..LeafSpec::default() });
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(None) });
    assert!(!facts.san_present);
    assert!(facts.san_dns.is_empty());
    assert_eq!(facts.common_names, vec![TEST_HOST.to_string()]);
    assert!(facts.hostname_match);
    assert_eq!(facts.hostname_match_via.as_deref(), Some("common_name"));
    // webpki ignores the CN; the path itself is still valid.
    assert!(facts.trust[&root_store()].trusted);
}

/// The TLS encoding (RFC 6962 §3.3) of one SCT with an empty signature.
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

/// SCTs embedded in the leaf (precertificate SCT list extension) are counted and listed.
#[test]
fn embedded_scts_are_listed() {
    use base64::Engine as _;
    let ca = TestCa::shared();
    let mut list = sct(0x11, 1_767_225_600_000);
    list.extend(sct(0x22, 1_767_225_601_500));
    let mut tls_list = (list.len() as u16).to_be_bytes().to_vec();
    tls_list.extend(list);
    let mut octets = vec![0x04, tls_list.len() as u8];
    octets.extend(&tls_list);
    let hex: String = octets.iter().map(|b| format!("{b:02X}")).collect();
    let leaf = ca.issue(&LeafSpec {
        extra_extensions: vec![format!("1.3.6.1.4.1.11129.2.4.2 = DER:{hex}")],
        ..LeafSpec::default()
    });
    let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
    let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(None) });
    assert_eq!(facts.sct_count, 2);
    let base64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(facts.scts[0].source, "certificate");
    assert_eq!(facts.scts[0].log_id, base64.encode([0x11; 32]));
    assert_eq!(facts.scts[0].timestamp, "2026-01-01T00:00:00Z");
    assert_eq!(facts.scts[1].log_id, base64.encode([0x22; 32]));
    assert_eq!(facts.scts[1].timestamp, "2026-01-01T00:00:01Z");
}

/// caIssuers pointing at a PKCS#7 certs-only bundle (.p7c), as many CAs publish: the
/// intermediate inside completes the path.
#[test]
fn aia_pkcs7_bundle_completes_the_chain() {
    let ca = TestCa::shared();
    let url = ca.http.url("/intermediate.p7c");
    let leaf =
        ca.issue(&LeafSpec { ca_issuers_url: Some(url.clone()), crl_url: Some(String::new()), ..LeafSpec::default() });
    let server = serve(&leaf, &[], &[]);
    let facts = scan(TEST_HOST, server.socket_addr(), options(None));
    assert_eq!(facts.ca_issuers_fetched.len(), 1);
    assert_eq!(facts.ca_issuers_fetched[0].url, url);
    assert_eq!(facts.ca_issuers_fetched[0].error, None);
    assert!(!facts.chain_complete);
    assert!(facts.trust[&root_store()].trusted);
    assert_eq!(facts.certificates[1].source, "aia");
    assert_eq!(facts.certificates[1].subject, Some(intermediate_subject()));
    assert!(facts.revocation.no_pointer);
    assert_eq!(facts.fetches, 1);
}

/// Staples signed by the issuer itself are accepted; staples signed by a certificate the issuer
/// signed without the OCSPSigning EKU, or by another CA's key, are refused with the reason.
#[test]
fn staple_signers_are_checked() {
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec::default());
    let by_issuer = ca.ocsp_response_signed_by(&leaf, &ca.intermediate_cert, &ca.intermediate_key());
    // Another leaf of the same intermediate: issued by it, but no OCSPSigning EKU.
    let other = ca.issue(&LeafSpec::default());
    let by_leaf = ca.ocsp_response_signed_by(&leaf, &other.cert, &other.key);
    // A CA the intermediate never signed.
    let pki = Pki::shared();
    let by_stranger = ca.ocsp_response_signed_by(&leaf, &pki.intermediate_cert, &pki.intermediate_key);
    let other_subject = {
        let text = std::fs::read_to_string(&other.cert).unwrap();
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine as _;
        parse_certificate(&base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap().subject
    };
    let cases = [
        (by_issuer, RevocationStatus::Good, None, Some("issuer")),
        (
            by_leaf,
            RevocationStatus::Error,
            Some(format!("signed by {other_subject}, which lacks the OCSPSigning EKU")),
            None,
        ),
        (
            by_stranger,
            RevocationStatus::Error,
            Some(
                "signed by O=Postura Test, CN=Postura Test Intermediate CA, which the issuer did not sign".to_string(),
            ),
            None,
        ),
    ];
    for (response, status, reason, signer) in cases {
        let server = serve(&leaf, &[&ca.intermediate_cert], &["-status_file", response.to_str().unwrap()]);
        let facts = scan(TEST_HOST, server.socket_addr(), CertOptions { online: false, ..options(None) });
        let stapled = facts.revocation.stapled.as_ref().expect("staple");
        assert_eq!(stapled.status, status, "{stapled:?}");
        assert_eq!(stapled.reason, reason);
        assert_eq!(stapled.signer.as_deref(), signer);
    }
}

/// An OCSP responder and a CRL server that answer 200 with garbage, or an HTTP error: the
/// answers are refused with the reason.
#[test]
fn garbage_revocation_answers_are_named() {
    let ca = TestCa::shared();
    let hostile = HttpServer::start();
    hostile.route("/garbage", Route::Body(b"<html>not DER</html>".to_vec()));
    let cases = [
        (hostile.url("/garbage"), "malformed OCSP response (not one DER SEQUENCE)", "malformed CRL"),
        (hostile.url("/absent"), "HTTP status 404", "HTTP status 404"),
    ];
    for (url, ocsp_reason, crl_reason) in cases {
        let leaf =
            ca.issue(&LeafSpec { ocsp_url: Some(url.clone()), crl_url: Some(url.clone()), ..LeafSpec::default() });
        let server = serve(&leaf, &[&ca.intermediate_cert], &[]);
        let facts = scan(TEST_HOST, server.socket_addr(), options(None));
        let ocsp = facts.revocation.ocsp.as_ref().expect("ocsp");
        assert_eq!(ocsp.status, RevocationStatus::Error);
        assert_eq!(ocsp.reason.as_deref(), Some(ocsp_reason));
        let crl = facts.revocation.crl.as_ref().expect("crl");
        assert_eq!(crl.status, RevocationStatus::Error);
        assert!(crl.reason.as_deref().unwrap_or_default().starts_with(crl_reason), "{crl:?}");
        assert_eq!(facts.fetches, 2);
    }
}
