//! Known TLS vulnerabilities against real servers.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::legacy_openssl::{openssl_111, LegacyOpenSslServer};
use common::*;
use postura::engine::{run, ScanOptions};
use postura::facts::TargetResult;
use postura::target::parse_target;
use postura::tls::vuln::VulnerabilityFact;

fn scan(address: SocketAddr) -> TargetResult {
    let mut spec = parse_target(&format!("{TEST_HOST}:{}", address.port())).unwrap();
    spec.pinned = vec![address.ip()];
    let options = ScanOptions { timeout: Duration::from_secs(10), deadline: Duration::from_secs(120), ..Default::default() };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut results = runtime.block_on(run(vec![spec], &options, None, |_| {}));
    results.remove(0)
}

#[test]
fn legacy_openssl_is_1_1_1w() {
    let output = std::process::Command::new(openssl_111()).arg("version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OpenSSL 1.1.1w  11 Sep 2023");
}


/// One verdict: vulnerable exactly, and the connections it cost.
fn assert_verdict(name: &str, fact: &VulnerabilityFact, vulnerable: Option<bool>, connections: u32) {
    assert_eq!(fact.vulnerable, vulnerable, "{name}: {fact:?}");
    assert_eq!(fact.connections, connections, "{name}: {fact:?}");
    assert!(!fact.evidence.is_empty(), "{name}: evidence");
}

#[test]
fn old_openssl_1_1_1w_and_a_current_openssl_3() {
    // OpenSSL 1.1.1w built with SSLv3, weak ciphers and zlib; TLS compression on.
    let old = LegacyOpenSslServer::start(&["-min_protocol", "SSLv3", "-cipher", "ALL:COMPLEMENTOFALL:@SECLEVEL=0", "-comp"]);
    // Debian's OpenSSL 3 defaults.
    let current = OpenSslServer::start_auto(&[]);

    let old = scan(old.addr);
    assert_eq!(old.error, None);
    let v = &old.tls.as_ref().unwrap().vulnerabilities;
    for (name, fact) in [("poodle", &v.poodle), ("sweet32", &v.sweet32), ("beast", &v.beast), ("rc4", &v.rc4), ("crime", &v.crime), ("lucky13", &v.lucky13)] {
        assert_verdict(name, fact, Some(true), 0);
    }
    assert!(v.poodle.evidence.iter().all(|e| e.starts_with("SSLv3 ")), "{:?}", v.poodle);
    assert!(v.sweet32.evidence.contains(&"TLSv1.2 TLS_RSA_WITH_3DES_EDE_CBC_SHA".to_string()), "{:?}", v.sweet32);
    assert!(v.rc4.evidence.contains(&"TLSv1.2 TLS_RSA_WITH_RC4_128_SHA".to_string()), "{:?}", v.rc4);
    assert_verdict("freak", &v.freak, Some(false), 0);
    assert_verdict("drown", &v.drown, Some(false), 0);
    assert_verdict("insecure_renegotiation", &v.insecure_renegotiation, Some(false), 0);
    assert_verdict("no_fallback_scsv", &v.no_fallback_scsv, Some(false), 0);
    assert_verdict("heartbleed", &v.heartbleed, Some(false), 0);
    assert_verdict("ccs_injection", &v.ccs_injection, Some(false), 1);
    assert_verdict("client_renegotiation", &v.client_renegotiation, Some(true), 1);
    assert_verdict("early_data", &v.early_data, Some(false), 2);
    // Its anonymous DH suites use RFC 2409's 1024-bit group: LOGJAM, and a named common prime.
    assert_verdict("logjam", &v.logjam, Some(true), 0);
    assert!(v.logjam.evidence.iter().any(|e| e.starts_with("DH 1024 bits, common prime RFC2409/Oakley Group 2")), "{:?}", v.logjam);

    let current = scan(current.socket_addr());
    assert_eq!(current.error, None);
    let v = &current.tls.as_ref().unwrap().vulnerabilities;
    for (name, fact) in [
        ("poodle", &v.poodle),
        ("sweet32", &v.sweet32),
        ("beast", &v.beast),
        ("rc4", &v.rc4),
        ("crime", &v.crime),
        ("freak", &v.freak),
        ("drown", &v.drown),
        ("insecure_renegotiation", &v.insecure_renegotiation),
        ("no_fallback_scsv", &v.no_fallback_scsv),
        ("heartbleed", &v.heartbleed),
    ] {
        assert_verdict(name, fact, Some(false), 0);
    }
    assert_verdict("ccs_injection", &v.ccs_injection, Some(false), 1);
    assert_verdict("client_renegotiation", &v.client_renegotiation, Some(false), 1);
    assert_eq!(
        v.client_renegotiation.evidence,
        ["a client-initiated renegotiation was refused (alert:no_renegotiation; TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"]
    );
    assert_verdict("early_data", &v.early_data, Some(false), 2);
    // Its automatic DH group is RFC 3526's 2048-bit group: shared, but not LOGJAM.
    assert_verdict("logjam", &v.logjam, Some(false), 0);
    assert_eq!(v.logjam.evidence, ["DH 2048 bits, common prime RFC3526/Oakley Group 14 (TLSv1.2 TLS_DHE_RSA_WITH_AES_256_GCM_SHA384)"]);
    // LUCKY13 is informational: any CBC suite, as this server's TLS 1.2 CBC suites.
    assert_verdict("lucky13", &v.lucky13, Some(true), 0);
}
