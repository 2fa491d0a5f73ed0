//! STARTTLS beyond SMTP, IMAP and POP3: FTP, XMPP (client and server streams), LDAP,
//! PostgreSQL, MySQL (MariaDB), NNTP, ManageSieve and LMTP, each against a real server from
//! Debian's packages (tests/common/starttls_servers.rs, and Dovecot from tests/common/mail.rs
//! for ManageSieve and LMTP). Each upgraded sweep must equal the oracle — `openssl s_client
//! -starttls PROTO`, one suite per run — for every TLS version; each server, started without a
//! certificate, refuses the upgrade, which is recorded as `starttls: false` with its reply after
//! one connection.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::assess::{assert_connection_budget, assess, report_of};
use common::mail::{Dovecot, DovecotTls};
use common::oracle::openssl_accepted_suites_with;
use common::starttls_servers::{mariadb, nnrpd, postgres, prosody, slapd, vsftpd};
use common::*;
use postura::checks::model::Status;
use postura::engine::{run, ScanOptions};
use postura::facts::TargetResult;
use postura::target::parse_target;
use postura::tls::registry::Protocol;

fn scan(target: &str, address: SocketAddr) -> TargetResult {
    let mut spec = parse_target(target).unwrap();
    spec.pinned = vec![address.ip()];
    spec.port = address.port();
    let options =
        ScanOptions { timeout: Duration::from_secs(10), deadline: Duration::from_secs(180), ..Default::default() };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut results = runtime.block_on(run(vec![spec], &options, None, |_| {}));
    assert_eq!(results.len(), 1);
    results.remove(0)
}

/// The target upgraded, and for every TLS version its suites are the oracle's (`s_client
/// -starttls …` with `starttls` arguments); the versions it accepts are those the oracle found
/// a suite for.
fn assert_upgraded_like_the_oracle(result: &TargetResult, address: SocketAddr, starttls: &[&str]) {
    let name = starttls.get(1).copied().unwrap_or_default();
    assert_eq!(result.error, None, "{name}: {result:#?}");
    assert_eq!(result.starttls, Some(true), "{name}");
    let tls = result.tls.as_ref().unwrap();
    assert_eq!(tls.chain_pem.len(), 2, "{name}: leaf and intermediate");
    let mut accepted = Vec::new();
    for (protocol, flag) in [
        (Protocol::Tls10, "tls1"),
        (Protocol::Tls11, "tls1_1"),
        (Protocol::Tls12, "tls1_2"),
        (Protocol::Tls13, "tls1_3"),
    ] {
        let oracle = openssl_accepted_suites_with(address.ip(), address.port(), TEST_HOST, flag, starttls);
        let ours: BTreeSet<String> = tls.cipher_suites.get(&protocol).into_iter().flatten().cloned().collect();
        assert_eq!(ours, oracle, "{name} {protocol}");
        if !oracle.is_empty() {
            accepted.push(protocol);
        }
    }
    assert_eq!(tls.protocols, accepted, "{name}");
    assert!(tls.protocols.contains(&Protocol::Tls12), "{name}: {:?}", tls.protocols);
    // The same budget as over direct TLS: the dialogue costs no connection of its own.
    assert_connection_budget(tls);
    let counts: Vec<String> = tls.cipher_suites.iter().map(|(p, suites)| format!("{p} {}", suites.len())).collect();
    eprintln!("{name}: {} ({} connections)", counts.join(", "), tls.connections);
}

/// The status of `check` on each target once assessed (built-in checks, Mozilla intermediate).
fn statuses(targets: &[&TargetResult], check: &str) -> Vec<Option<Status>> {
    let assessed = assess(
        &report_of(targets.iter().map(|t| (*t).clone()).collect()),
        "mozilla-intermediate",
        vec![],
        "2026-12-01",
    );
    assessed.targets.iter().map(|t| t.findings.iter().find(|f| f.check == check).map(|f| f.status)).collect()
}

/// The server said no: a typed refusal with its reply, after exactly one connection.
fn assert_refused(result: &TargetResult, error: &str) {
    assert_eq!(result.error.as_deref(), Some(error), "{result:#?}");
    assert_eq!(result.starttls, Some(false));
    let tls = result.tls.as_ref().unwrap();
    assert!(tls.protocols.is_empty());
    assert_eq!(tls.connections, 1, "a refusal costs the first connection only");
    assert_eq!(result.connections.total, 1);
}

#[test]
fn ftp_auth_tls_on_vsftpd() {
    let server = vsftpd(true);
    let result = scan(&format!("ftp://{TEST_HOST}"), server.addr);
    assert_eq!(result.service, "ftp-starttls");
    assert_upgraded_like_the_oracle(&result, server.addr, &["-starttls", "ftp"]);

    let plain = vsftpd(false);
    let refused = scan(&format!("ftp://{TEST_HOST}"), plain.addr);
    assert_refused(&refused, "STARTTLS not offered (FTP: \"530 Please login with USER and PASS.\")");
}

#[test]
fn xmpp_client_and_server_streams_on_prosody() {
    let server = prosody(true);
    let client = scan(&format!("xmpp://{TEST_HOST}"), server.client);
    assert_eq!(client.service, "xmpp-starttls");
    assert_upgraded_like_the_oracle(&client, server.client, &["-starttls", "xmpp", "-xmpphost", TEST_HOST]);
    let s2s = scan(&format!("xmpp-server://{TEST_HOST}"), server.server);
    assert_eq!(s2s.service, "xmpp-server-starttls");
    assert_upgraded_like_the_oracle(&s2s, server.server, &["-starttls", "xmpp-server", "-xmpphost", TEST_HOST]);

    // The stream names the domain given in the URL, not the host: Prosody serves only its own.
    // It is also the SNI and the name the certificate must match (RFC 7590, RFC 6120 §13.7.2).
    let named = scan(&format!("xmpp://xmpp.example.org/{TEST_HOST}"), server.client);
    assert_eq!(named.error, None, "{named:#?}");
    assert_eq!((named.starttls, named.sni.as_deref()), (Some(true), Some(TEST_HOST)));
    let certificate = named.certificate.as_ref().unwrap();
    assert_eq!((certificate.checked_name.as_str(), certificate.hostname_match), (TEST_HOST, true));
    let unknown = scan(&format!("xmpp://{TEST_HOST}/other.example"), server.client);
    assert_eq!(unknown.error.as_deref(), Some("protocol error: XMPP stream error: host-unknown"), "{unknown:#?}");
    assert_eq!(unknown.starttls, None, "neither offered nor refused");

    let plain = prosody(false);
    assert_refused(
        &scan(&format!("xmpp://{TEST_HOST}"), plain.client),
        "STARTTLS not offered (XMPP: not in the stream features)",
    );
    assert_refused(
        &scan(&format!("xmpp-server://{TEST_HOST}"), plain.server),
        "STARTTLS not offered (XMPP server: not in the stream features)",
    );
}

#[test]
fn ldap_start_tls_on_slapd() {
    let server = slapd(true);
    let result = scan(&format!("ldap://{TEST_HOST}"), server.addr);
    assert_eq!(result.service, "ldap-starttls");
    assert_upgraded_like_the_oracle(&result, server.addr, &["-starttls", "ldap"]);

    let plain = slapd(false);
    assert_refused(
        &scan(&format!("ldap://{TEST_HOST}"), plain.addr),
        "STARTTLS not offered (LDAP: resultCode 2 (protocolError) \"unsupported extended operation\")",
    );
}

#[test]
fn postgres_ssl_request_on_postgresql() {
    let server = postgres(true);
    let result = scan(&format!("postgres://{TEST_HOST}"), server.addr);
    assert_eq!(result.service, "postgres-starttls");
    assert_upgraded_like_the_oracle(&result, server.addr, &["-starttls", "postgres"]);

    let plain = postgres(false);
    let refused = scan(&format!("postgresql://{TEST_HOST}"), plain.addr);
    assert_refused(&refused, "STARTTLS not offered (PostgreSQL: \"N\" (the server does not accept SSL))");
    assert_eq!(statuses(&[&result, &refused], "tls.starttls.missing"), [Some(Status::Pass), Some(Status::Fail)]);
}

#[test]
fn mysql_ssl_request_on_mariadb() {
    let server = mariadb(true);
    let result = scan(&format!("mysql://{TEST_HOST}"), server.addr);
    assert_eq!(result.service, "mysql-starttls");
    assert_upgraded_like_the_oracle(&result, server.addr, &["-starttls", "mysql"]);

    let plain = mariadb(false);
    assert_refused(
        &scan(&format!("mysql://{TEST_HOST}"), plain.addr),
        "STARTTLS not offered (MySQL: CLIENT_SSL not in the server greeting's capabilities)",
    );
}

#[test]
fn nntp_starttls_on_inn() {
    let server = nnrpd(true);
    let result = scan(&format!("nntp://{TEST_HOST}"), server.addr);
    assert_eq!(result.service, "nntp-starttls");
    assert_upgraded_like_the_oracle(&result, server.addr, &["-starttls", "nntp"]);

    let plain = nnrpd(false);
    assert_refused(
        &scan(&format!("nntp://{TEST_HOST}"), plain.addr),
        "STARTTLS not offered (NNTP: \"580 Error initializing TLS\")",
    );
}

#[test]
fn managesieve_and_lmtp_on_dovecot() {
    let dovecot = Dovecot::start(DovecotTls::Required);
    let sieve = scan(&format!("sieve://{TEST_HOST}"), dovecot.sieve);
    assert_eq!(sieve.service, "sieve-starttls");
    assert_upgraded_like_the_oracle(&sieve, dovecot.sieve, &["-starttls", "sieve"]);
    let lmtp = scan(&format!("lmtp://{TEST_HOST}"), dovecot.lmtp);
    assert_eq!(lmtp.service, "lmtp-starttls");
    assert_upgraded_like_the_oracle(&lmtp, dovecot.lmtp, &["-starttls", "lmtp"]);

    let plain = Dovecot::start(DovecotTls::Off);
    let refused = scan(&format!("sieve://{TEST_HOST}"), plain.sieve);
    assert_refused(&refused, "STARTTLS not offered (ManageSieve: not in the capabilities)");
    assert_eq!(statuses(&[&sieve, &refused], "mail.starttls.missing"), [Some(Status::Pass), Some(Status::Fail)]);
    assert_refused(
        &scan(&format!("lmtp://{TEST_HOST}"), plain.lmtp),
        "STARTTLS not offered (LMTP: not in the LHLO reply)",
    );
}

/// Peers no real server imitates (scripted responders, tests/common/hostile.rs): each dialogue
/// stops at its documented cap or check, as data, after the first connection.
#[test]
fn hostile_dialogues_stop_at_their_caps_after_one_connection() {
    let hostile = |target: &str, address: SocketAddr, error: &str| {
        let result = scan(target, address);
        assert_eq!(result.error.as_deref(), Some(error), "{target}: {result:#?}");
        assert_eq!(result.starttls, None, "{target}: neither offered nor refused");
        assert_eq!(result.connections.total, 1, "{target}");
    };
    // PostgreSQL's `S` followed by bytes the server wants read as TLS (CVE-2021-23214's shape).
    let stuffing = GarbageServer::with_reply(b"S\x16\x03\x01\x00\x05hello".to_vec());
    hostile(&format!("postgres://{TEST_HOST}"), stuffing.addr(), "protocol error: data after the STARTTLS reply");

    // XMPP features that never end: read up to 16 KiB.
    let mut features = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>\
        <stream:features>"
        .to_vec();
    while features.len() < 20_000 {
        features.extend_from_slice(b"<feature xmlns='urn:example'/>");
    }
    let endless = GarbageServer::with_reply(features);
    hostile(&format!("xmpp://{TEST_HOST}"), endless.addr(), "protocol error: STARTTLS dialogue too long");

    // An FTP multi-line reply past the line cap.
    let mut lines = b"220-welcome\r\n".to_vec();
    for _ in 0..200 {
        lines.extend_from_slice(b" more banner\r\n");
    }
    let banner = TrickleServer::start_with(Duration::from_millis(0), lines);
    hostile(
        &format!("ftp://{TEST_HOST}"),
        banner.addr(),
        &format!("protocol error: FTP reply with more than {} lines", postura::starttls::MAX_REPLY_LINES),
    );

    // MySQL's error packet instead of a greeting (a full server), sent without waiting.
    let mut packet = vec![0, 0, 0, 0, 0xff, 0x10, 0x04];
    packet.extend_from_slice(b"Too many connections");
    packet[0] = (packet.len() - 4) as u8;
    let full = TrickleServer::start_with(Duration::from_millis(0), packet);
    hostile(
        &format!("mysql://{TEST_HOST}"),
        full.addr(),
        "protocol error: MySQL server error 1040: \"Too many connections\"",
    );

    // An LDAP answer that is not an ExtendedResponse (a SearchResultDone, APPLICATION 5).
    let wrong = GarbageServer::with_reply(b"\x30\x0c\x02\x01\x01\x65\x07\x0a\x01\x00\x04\x00\x04\x00".to_vec());
    hostile(
        &format!("ldap://{TEST_HOST}"),
        wrong.addr(),
        "protocol error: LDAP answer is not an ExtendedResponse (protocolOp [APPLICATION 5])",
    );
}
