//! STARTTLS targets (`smtp://`, `imap://`, `pop3://`): the connector runs the plaintext
//! dialogue on every connection, then the whole TLS sweep runs over it. The mail servers are a
//! scripted STARTTLS shim (tests/common/mail.rs) relaying to a real `openssl s_server`, so the
//! suites are OpenSSL's and can be compared with a direct scan of the same backend; and a real
//! Dovecot (IMAP and POP3), refusing the upgrade (`ssl = no`) or requiring it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use std::collections::BTreeSet;

use common::mail::{Dovecot, DovecotTls, MailProtocol, StarttlsShim, UntaggedFloodServer};
use common::*;
use postura::engine::{run, ScanOptions};
use postura::facts::TargetResult;
use postura::net::{Connector, NetError};
use postura::starttls::{Starttls, MAX_REPLY_LINES};
use postura::target::parse_target;
use postura::tls::registry::Protocol;
use postura::tls::sweep::{sweep, SweepTarget};

fn scan(target: &str, address: SocketAddr) -> TargetResult {
    let mut spec = parse_target(target).unwrap();
    spec.pinned = vec![address.ip()];
    spec.port = address.port();
    let options =
        ScanOptions { timeout: Duration::from_secs(10), deadline: Duration::from_secs(120), ..Default::default() };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut results = runtime.block_on(run(vec![spec], &options, None, |_| {}));
    assert_eq!(results.len(), 1);
    results.remove(0)
}

#[test]
fn smtp_with_and_without_starttls() {
    let backend = alloc_endpoint();
    let _server = OpenSslServer::start(*backend.ip(), backend.port(), &["-rev", "-no_tls1_3"]);
    let with = StarttlsShim::start(MailProtocol::Smtp, true, SocketAddr::V4(backend));
    let without = StarttlsShim::start(MailProtocol::Smtp, false, SocketAddr::V4(backend));

    let direct = scan(&format!("{}:{}", TEST_HOST, backend.port()), SocketAddr::V4(backend));
    assert_eq!(direct.error, None);
    let upgraded = scan(&format!("smtp://{}", TEST_HOST), with.addr);
    assert_eq!(upgraded.error, None, "{upgraded:#?}");
    assert_eq!(upgraded.service, "smtp-starttls");
    let (tls, direct_tls) = (upgraded.tls.as_ref().unwrap(), direct.tls.as_ref().unwrap());
    assert_eq!(tls.protocols, direct_tls.protocols);
    assert_eq!(tls.cipher_suites, direct_tls.cipher_suites);
    assert!(tls.protocols.contains(&Protocol::Tls12));
    assert_eq!(tls.chain_pem.len(), 2);

    let refused = scan(&format!("smtp://{}", TEST_HOST), without.addr);
    assert_eq!(refused.error.as_deref(), Some("STARTTLS not offered (SMTP: not in the EHLO reply)"));
    assert_eq!(refused.starttls, Some(false));
    assert!(refused.tls.as_ref().unwrap().protocols.is_empty());
    assert_eq!(refused.tls.as_ref().unwrap().connections, 1);
}

#[test]
fn imap_and_pop3_starttls() {
    let backend = alloc_endpoint();
    let _server = OpenSslServer::start(*backend.ip(), backend.port(), &["-rev"]);
    for (protocol, scheme, service) in
        [(MailProtocol::Imap, "imap", "imap-starttls"), (MailProtocol::Pop3, "pop3", "pop3-starttls")]
    {
        let shim = StarttlsShim::start(protocol, true, SocketAddr::V4(backend));
        let result = scan(&format!("{scheme}://{TEST_HOST}"), shim.addr);
        assert_eq!(result.error, None, "{scheme}: {result:#?}");
        assert_eq!(result.service, service);
        let tls = result.tls.as_ref().unwrap();
        assert!(
            tls.protocols.contains(&Protocol::Tls13) && tls.protocols.contains(&Protocol::Tls12),
            "{scheme}: {:?}",
            tls.protocols
        );
    }
}

/// The sweep alone, to read its typed outcome.
fn sweep_outcome(address: SocketAddr, protocol: Starttls) -> postura::tls::sweep::SweepOutcome {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let connector =
            Connector::standalone(address, Duration::from_secs(5), deadline, 2).with_starttls(Some(protocol));
        sweep(&SweepTarget { connector, sni: Some(TEST_HOST.into()) }).await
    })
}

#[test]
fn dovecot_refusing_starttls_and_stls_is_a_typed_refusal() {
    let dovecot = Dovecot::start(DovecotTls::Off);
    let imap = scan(&format!("imap://{TEST_HOST}"), dovecot.imap);
    assert_eq!(
        imap.error.as_deref(),
        Some("STARTTLS not offered (IMAP: \"P1 BAD TLS support isn't enabled.\")"),
        "{imap:#?}"
    );
    assert_eq!(imap.starttls, Some(false));
    assert_eq!(imap.tls.as_ref().unwrap().connections, 1);

    let pop3 = scan(&format!("pop3://{TEST_HOST}"), dovecot.pop3);
    assert_eq!(
        pop3.error.as_deref(),
        Some("STARTTLS not offered (POP3: \"-ERR TLS support isn't enabled.\")"),
        "{pop3:#?}"
    );
    assert_eq!(pop3.starttls, Some(false));
    assert_eq!(pop3.tls.as_ref().unwrap().connections, 1);

    // The refusal is a value, the same for the three protocols.
    for (address, protocol) in [(dovecot.imap, Starttls::Imap), (dovecot.pop3, Starttls::Pop3)] {
        let outcome = sweep_outcome(address, protocol);
        let fatal = outcome.fatal.expect("a refusal stops the sweep");
        assert!(fatal.is_starttls_refusal(), "{fatal:?}");
        assert!(matches!(fatal, NetError::StarttlsRefused { protocol: p, .. } if p == protocol));
    }
}

/// What `openssl s_client -starttls PROTO` negotiates, one suite per run: the oracle.
fn starttls_oracle(address: SocketAddr, starttls: &str, protocol: &str) -> BTreeSet<String> {
    let flag = format!("-{protocol}");
    let mut accepted = BTreeSet::new();
    for suite in candidate_suites(protocol) {
        let name = format!("{}:@SECLEVEL=0", suite.openssl);
        let args: Vec<&str> = if protocol == "tls1_3" {
            vec!["-starttls", starttls, &flag, "-ciphersuites", &suite.openssl]
        } else {
            vec!["-starttls", starttls, &flag, "-cipher", &name]
        };
        let probe = s_client(address.ip(), address.port(), TEST_HOST, &args);
        assert!(!probe.timed_out, "oracle timed out: {}", probe.output);
        if probe.server_hello.is_some_and(|hello| hello.cipher == suite.code) {
            accepted.insert(suite.iana.clone());
        }
    }
    accepted
}

#[test]
fn dovecot_upgrades_imap_and_pop3_and_matches_the_oracle() {
    let dovecot = Dovecot::start(DovecotTls::Required);
    for (scheme, starttls, address) in [("imap", "imap", dovecot.imap), ("pop3", "pop3", dovecot.pop3)] {
        let result = scan(&format!("{scheme}://{TEST_HOST}"), address);
        assert_eq!(result.error, None, "{scheme}: {result:#?}");
        assert_eq!(result.starttls, Some(true));
        let tls = result.tls.as_ref().unwrap();
        assert_eq!(tls.protocols, vec![Protocol::Tls12, Protocol::Tls13], "{scheme}");
        assert_eq!(tls.chain_pem.len(), 2, "{scheme}: leaf and intermediate");
        for (protocol, name) in [(Protocol::Tls12, "tls1_2"), (Protocol::Tls13, "tls1_3")] {
            let ours: BTreeSet<String> = tls.cipher_suites[&protocol].iter().cloned().collect();
            assert_eq!(ours, starttls_oracle(address, starttls, name), "{scheme} {protocol}");
        }
    }
}

#[test]
fn imap_untagged_lines_without_end_are_refused_at_the_cap() {
    // A scripted peer (no real server floods like this): greeting, then untagged lines forever.
    let flood = UntaggedFloodServer::start();
    let result = scan(&format!("imap://{TEST_HOST}"), flood.addr);
    assert_eq!(
        result.error.as_deref(),
        Some(format!("protocol error: IMAP STARTTLS reply: no tagged answer within {MAX_REPLY_LINES} lines").as_str()),
        "{result:#?}"
    );
    assert_eq!(result.starttls, None, "neither offered nor refused");
    assert_eq!(result.tls.as_ref().unwrap().connections, 1);
}
