//! Known TLS vulnerabilities (`targets[].tls.vulnerabilities`) against real servers: an
//! OpenSSL 1.1.1w built from crates.io's `openssl-src` (SSLv3, RC4, 3DES, compression, client
//! renegotiation), Debian's OpenSSL 3 and nginx as the patched twins, nginx with
//! `ssl_early_data on`; Heartbleed and CCS injection on a scripted server (`tls_responder`: no
//! buildable server has them). Each verdict is asserted exactly with the connections it cost,
//! its check and its grade cap.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::assess::{assess, scan_lab_target};
use common::legacy_openssl::{openssl_111, LegacyOpenSslServer};
use common::tls_responder::{Behaviour, ScriptedTlsServer};
use common::*;
use postura::checks::grade::CapReason;
use postura::checks::model::Status;
use postura::facts::ScanReport;
use postura::profile::Service;
use postura::tls::registry::Protocol;
use postura::tls::vuln::VulnerabilityFact;

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
    let old =
        LegacyOpenSslServer::start(&["-min_protocol", "SSLv3", "-cipher", "ALL:COMPLEMENTOFALL:@SECLEVEL=0", "-comp"]);
    // Debian's OpenSSL 3 defaults.
    let current = OpenSslServer::start_auto(&[]);

    let old = assessed(old.addr);
    let v = &old.targets[0].tls.as_ref().unwrap().vulnerabilities;
    for (name, fact) in [
        ("poodle", &v.poodle),
        ("sweet32", &v.sweet32),
        ("beast", &v.beast),
        ("rc4", &v.rc4),
        ("crime", &v.crime),
        ("lucky13", &v.lucky13),
    ] {
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
    assert!(
        v.logjam.evidence.iter().any(|e| e.starts_with("DH 1024 bits, common prime RFC2409/Oakley Group 2")),
        "{:?}",
        v.logjam
    );
    for check in [
        "tls.vuln.poodle_sslv3",
        "tls.vuln.logjam",
        "tls.vuln.client_renegotiation",
        "tls.vuln.lucky13",
        "tls.ext.compression",
        "tls.cipher.rc4",
        "tls.cipher.64bit_block",
        "tls.cipher.cbc_tls10",
    ] {
        assert_eq!(status(&old, check), Status::Fail, "{check}");
    }
    for check in [
        "tls.vuln.heartbleed",
        "tls.vuln.ccs_injection",
        "tls.vuln.insecure_client_renegotiation",
        "tls.vuln.early_data",
        "tls.vuln.drown",
        "tls.ext.no_fallback_scsv",
    ] {
        assert_eq!(status(&old, check), Status::Pass, "{check}");
    }
    for reason in [CapReason::Poodle, CapReason::Compression, CapReason::Rc4Or3desModern, CapReason::Sslv3] {
        assert!(has_cap(&old, reason), "{reason:?}");
    }
    // Secure renegotiation (RFC 5746) is there: a client renegotiation is a DoS lever, not F.
    assert!(!has_cap(&old, CapReason::InsecureClientRenegotiation));

    let current = assessed(current.socket_addr());
    let v = &current.targets[0].tls.as_ref().unwrap().vulnerabilities;
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
    assert_eq!(
        v.logjam.evidence,
        ["DH 2048 bits, common prime RFC3526/Oakley Group 14 (TLSv1.2 TLS_DHE_RSA_WITH_AES_256_GCM_SHA384)"]
    );
    // LUCKY13 is informational: any CBC suite, as this server's TLS 1.2 CBC suites.
    assert_verdict("lucky13", &v.lucky13, Some(true), 0);
    let failing: Vec<&str> = current.targets[0]
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail && f.check.starts_with("tls.vuln."))
        .map(|f| f.check.as_str())
        .collect();
    assert_eq!(failing, ["tls.vuln.lucky13"]);
    let caps = &current.targets[0].grade.as_ref().unwrap().caps;
    for reason in [CapReason::Poodle, CapReason::Compression, CapReason::Heartbleed, CapReason::CcsInjection] {
        assert!(!caps.iter().any(|c| c.reason == reason), "{reason:?}");
    }
}

#[test]
fn tls13_early_data_on_nginx_with_and_without_ssl_early_data() {
    let with = Nginx::start_auto(&format!("{MOZILLA_INTERMEDIATE}\n    ssl_early_data on;\n"));
    let without = Nginx::start_auto(MOZILLA_INTERMEDIATE);

    let report = assessed(with.socket_addr());
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities;
    assert_verdict("early_data", &v.early_data, Some(true), 2);
    assert_eq!(
        v.early_data.evidence,
        [
            "a resumed TLS 1.3 handshake offering early data was accepted with early data",
            "the server's tickets allow 16384 bytes of early data",
        ]
    );
    assert_eq!(status(&report, "tls.vuln.early_data"), Status::Fail);
    assert_verdict("client_renegotiation", &v.client_renegotiation, Some(false), 1);
    assert_eq!(status(&report, "tls.vuln.client_renegotiation"), Status::Pass);

    let report = assessed(without.socket_addr());
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities;
    assert_verdict("early_data", &v.early_data, Some(false), 2);
    assert_eq!(
        v.early_data.evidence,
        ["the server's tickets allow 0 bytes of early data", "the session was resumed without early data"]
    );
    assert_eq!(status(&report, "tls.vuln.early_data"), Status::Pass);
}

/// The verdict of `check` on the only target.
fn status(report: &ScanReport, check: &str) -> Status {
    report.targets[0].findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check}")).status
}

fn assessed(address: SocketAddr) -> ScanReport {
    let report = scan_lab_target(address, Service::Tls, "operator", Duration::from_secs(10));
    assert_eq!(report.targets[0].error, None, "{:#?}", report.targets[0]);
    assess(&report, "mozilla-intermediate", vec![], "2026-01-01")
}

fn has_cap(report: &ScanReport, reason: CapReason) -> bool {
    report.targets[0].grade.as_ref().unwrap().caps.iter().any(|c| c.reason == reason && c.letter == reason.letter())
}

#[test]
fn heartbleed_on_a_scripted_vulnerable_server_and_its_patched_twins() {
    // Scripted (no buildable server has the over-read): the echo of the claimed length.
    let vulnerable = ScriptedTlsServer::start(Behaviour::HeartbleedVulnerable);
    let report = assessed(vulnerable.addr);
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_verdict("heartbleed", &tls.vulnerabilities.heartbleed, Some(true), 1);
    assert_eq!(
        tls.vulnerabilities.heartbleed.evidence,
        ["TLSv1.2: a heartbeat request claiming 4096 bytes and carrying none was answered with 4112 bytes"]
    );
    assert_eq!(status(&report, "tls.vuln.heartbleed"), Status::Fail);
    assert!(has_cap(&report, CapReason::Heartbleed));
    assert_eq!(report.targets[0].grade.as_ref().unwrap().grade, "F");
    assert_eq!(vulnerable.accepted(), tls.connections as usize, "every connection counted at the server");

    // Scripted, patched: heartbeat negotiated, the over-long request dropped (RFC 6520 §4).
    let patched = ScriptedTlsServer::start(Behaviour::HeartbeatPatched);
    let report = assessed(patched.addr);
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_verdict("heartbleed", &tls.vulnerabilities.heartbleed, Some(false), 1);
    assert_eq!(tls.vulnerabilities.heartbleed.evidence, ["TLSv1.2: the over-long heartbeat was ignored"]);
    assert_eq!(status(&report, "tls.vuln.heartbleed"), Status::Pass);
    assert!(!has_cap(&report, CapReason::Heartbleed));

    // A current real server: no heartbeat extension, so no probe connection at all.
    let current = OpenSslServer::start_auto(&[]);
    let report = assessed(current.socket_addr());
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_verdict("heartbleed", &tls.vulnerabilities.heartbleed, Some(false), 0);
    assert_eq!(status(&report, "tls.vuln.heartbleed"), Status::Pass);
    assert!(!has_cap(&report, CapReason::Heartbleed));
}

#[test]
fn ccs_injection_on_a_scripted_vulnerable_server_and_a_current_one() {
    // Scripted (the bug was fixed in OpenSSL 1.0.1h): an early CCS accepted, then bad_record_mac.
    let vulnerable = ScriptedTlsServer::start(Behaviour::CcsInjectable);
    let report = assessed(vulnerable.addr);
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_verdict("ccs_injection", &tls.vulnerabilities.ccs_injection, Some(true), 1);
    assert_eq!(
        tls.vulnerabilities.ccs_injection.evidence,
        ["TLSv1.2: an early ChangeCipherSpec was accepted (the next record failed to decrypt: alert:bad_record_mac)"]
    );
    assert_eq!(status(&report, "tls.vuln.ccs_injection"), Status::Fail);
    assert!(has_cap(&report, CapReason::CcsInjection));
    assert_eq!(vulnerable.accepted(), tls.connections as usize, "every connection counted at the server");
    // Its RSA-only suites are outside postura's TLS 1.2 client: renegotiation is not tested.
    assert_verdict("client_renegotiation", &tls.vulnerabilities.client_renegotiation, None, 0);
    assert_eq!(status(&report, "tls.vuln.client_renegotiation"), Status::Inconclusive);

    let current = OpenSslServer::start_auto(&[]);
    let report = assessed(current.socket_addr());
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_verdict("ccs_injection", &tls.vulnerabilities.ccs_injection, Some(false), 1);
    assert_eq!(
        tls.vulnerabilities.ccs_injection.evidence,
        ["TLSv1.2: an early ChangeCipherSpec was refused (alert:unexpected_message)"]
    );
    assert_eq!(status(&report, "tls.vuln.ccs_injection"), Status::Pass);
    assert!(!has_cap(&report, CapReason::CcsInjection));
}

#[test]
fn no_renegotiation_info_and_no_fallback_scsv_on_a_scripted_old_stack() {
    // Scripted (every maintained library has RFC 5746 and RFC 7507): TLS 1.0–1.2 without either.
    let old = ScriptedTlsServer::start(Behaviour::NoRenegotiationInfoNoFallbackScsv);
    let report = assessed(old.addr);
    let tls = report.targets[0].tls.as_ref().unwrap();
    assert_eq!(tls.protocols, [Protocol::Tls10, Protocol::Tls11, Protocol::Tls12]);
    let v = &tls.vulnerabilities;
    assert_verdict("insecure_renegotiation", &v.insecure_renegotiation, Some(true), 0);
    assert_verdict("no_fallback_scsv", &v.no_fallback_scsv, Some(true), 0);
    assert_eq!(v.no_fallback_scsv.evidence, ["a downgraded hello with TLS_FALLBACK_SCSV was accepted"]);
    assert_eq!(status(&report, "tls.ext.no_secure_renegotiation"), Status::Fail);
    assert_eq!(status(&report, "tls.ext.no_fallback_scsv"), Status::Fail);
    assert!(has_cap(&report, CapReason::NoSecureRenegotiation));
    // Its RSA-only suites are outside postura's TLS 1.2 client: whether a client may
    // renegotiate is unknown, so the critical check is inconclusive rather than guessed.
    assert_verdict("client_renegotiation", &v.client_renegotiation, None, 0);
    assert_eq!(status(&report, "tls.vuln.insecure_client_renegotiation"), Status::Inconclusive);
    assert_eq!(old.accepted(), tls.connections as usize, "every connection counted at the server");

    // The twin: nginx, Mozilla intermediate: RFC 5746 answered, a downgrade from TLS 1.3 to 1.2
    // carrying the SCSV refused, and no CBC suite (LUCKY13's twin too).
    let nginx = Nginx::mozilla_intermediate();
    let report = assessed(nginx.socket_addr());
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities;
    assert_verdict("insecure_renegotiation", &v.insecure_renegotiation, Some(false), 0);
    assert_verdict("no_fallback_scsv", &v.no_fallback_scsv, Some(false), 0);
    assert_verdict("lucky13", &v.lucky13, Some(false), 0);
    assert_eq!(status(&report, "tls.ext.no_secure_renegotiation"), Status::Pass);
    assert_eq!(status(&report, "tls.ext.no_fallback_scsv"), Status::Pass);
    assert_eq!(status(&report, "tls.vuln.insecure_client_renegotiation"), Status::Pass);
    assert_eq!(status(&report, "tls.vuln.lucky13"), Status::Pass);
}

#[test]
fn robot_on_a_scripted_oracle_and_a_current_openssl_with_rsa_key_exchange() {
    // Scripted (the affected products are closed appliances): 00 02 → bad_record_mac, else
    // handshake_failure.
    let oracle = ScriptedTlsServer::start(Behaviour::RobotOracle);
    let report = assessed(oracle.addr);
    let tls = report.targets[0].tls.as_ref().unwrap();
    // A differing round, and its confirmation.
    assert_verdict("robot", &tls.vulnerabilities.robot, Some(true), 10);
    assert_eq!(
        tls.vulnerabilities.robot.evidence,
        [
            "ClientKeyExchange, ChangeCipherSpec, Finished, correct padding: alert:bad_record_mac",
            "ClientKeyExchange, ChangeCipherSpec, Finished, wrong first bytes: alert:handshake_failure",
            "ClientKeyExchange, ChangeCipherSpec, Finished, 0x00 in a wrong place: alert:bad_record_mac",
            "ClientKeyExchange, ChangeCipherSpec, Finished, no 0x00 separator: alert:bad_record_mac",
            "ClientKeyExchange, ChangeCipherSpec, Finished, wrong TLS version: alert:bad_record_mac",
        ]
    );
    assert_eq!(status(&report, "tls.vuln.robot"), Status::Fail);
    assert!(has_cap(&report, CapReason::Robot));
    assert_eq!(oracle.accepted(), tls.connections as usize, "every connection counted at the server");

    // Debian's OpenSSL 3 with RSA key exchange only: the same alert to every payload (so no
    // second round).
    let current = OpenSslServer::start_auto(&["-no_tls1_3", "-cipher", "AES128-GCM-SHA256:AES256-GCM-SHA384"]);
    let report = assessed(current.socket_addr());
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities;
    assert_verdict("robot", &v.robot, Some(false), 5);
    assert_eq!(
        v.robot.evidence,
        ["ClientKeyExchange, ChangeCipherSpec, Finished: every payload answered alert:bad_record_mac"]
    );
    assert_eq!(status(&report, "tls.vuln.robot"), Status::Pass);
    assert!(!has_cap(&report, CapReason::Robot));

    // No RSA key exchange at all: nothing to ask, no connection.
    let nginx = Nginx::mozilla_intermediate();
    let report = assessed(nginx.socket_addr());
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities;
    assert_verdict("robot", &v.robot, Some(false), 0);
    assert_eq!(v.robot.evidence, ["no RSA key-exchange suite accepted"]);
}

#[test]
fn logjam_names_the_rfc_5114_group_and_renegotiation_is_probed_over_dhe() {
    // Debian's OpenSSL 3, DHE only, with RFC 5114's 1024-bit group (a well-known shared prime).
    let dh = Pki::shared().dh1024().to_str().unwrap().to_string();
    let weak = OpenSslServer::start_auto(&["-no_tls1_3", "-cipher", "DHE:@SECLEVEL=0", "-dhparam", &dh]);
    let report = assessed(weak.socket_addr());
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities;
    assert_verdict("logjam", &v.logjam, Some(true), 0);
    assert!(
        v.logjam.evidence.contains(
            &"DH 1024 bits, common prime RFC5114/1024-bit DSA group with 160-bit prime order subgroup (TLSv1.2 TLS_DHE_RSA_WITH_AES_256_GCM_SHA384)"
                .to_string()
        ),
        "{:?}",
        v.logjam
    );
    assert_eq!(status(&report, "tls.vuln.logjam"), Status::Fail);
    assert!(has_cap(&report, CapReason::WeakKeyOrDh));
    // A DHE-only server: postura's TLS 1.2 client completes a DHE handshake to ask.
    assert_verdict("client_renegotiation", &v.client_renegotiation, Some(false), 1);
    assert_eq!(
        v.client_renegotiation.evidence,
        ["a client-initiated renegotiation was refused (alert:no_renegotiation; TLSv1.2 TLS_DHE_RSA_WITH_AES_128_GCM_SHA256)"]
    );

    // The twin: nginx with RFC 7919's ffdhe2048 (shared too, but 2048 bits).
    let nginx = Nginx::mozilla_intermediate();
    let report = assessed(nginx.socket_addr());
    let v = &report.targets[0].tls.as_ref().unwrap().vulnerabilities;
    assert_verdict("logjam", &v.logjam, Some(false), 0);
    assert!(
        v.logjam.evidence.iter().all(|e| e.starts_with("DH 2048 bits, common prime ffdhe2048 (TLSv1.2 TLS_DHE_RSA_")),
        "{:?}",
        v.logjam
    );
    assert_eq!(status(&report, "tls.vuln.logjam"), Status::Pass);
}
