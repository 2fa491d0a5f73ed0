//! STARTTLS targets (`smtp://`, `imap://`, `pop3://`): the connector runs the plaintext
//! dialogue on every connection, then the whole TLS sweep runs over it. The mail servers are a
//! scripted STARTTLS shim (tests/common/mail.rs) relaying to a real `openssl s_server`, so the
//! suites are OpenSSL's and can be compared with a direct scan of the same backend.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::mail::{MailProtocol, StarttlsShim};
use common::*;
use postura::engine::{run, ScanOptions};
use postura::facts::TargetResult;
use postura::target::parse_target;
use postura::tls::registry::Protocol;

fn scan(target: &str, address: SocketAddr) -> TargetResult {
    let mut spec = parse_target(target).unwrap();
    spec.pinned = vec![address.ip()];
    spec.port = address.port();
    let options = ScanOptions {
        timeout: Duration::from_secs(10),
        deadline: Duration::from_secs(120),
        ..Default::default()
    };
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

    let direct = scan(
        &format!("{}:{}", TEST_HOST, backend.port()),
        SocketAddr::V4(backend),
    );
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
    assert_eq!(
        refused.error.as_deref(),
        Some("protocol error: STARTTLS not offered (not in the EHLO reply)")
    );
    assert!(refused.tls.as_ref().unwrap().protocols.is_empty());
}

#[test]
fn imap_and_pop3_starttls() {
    let backend = alloc_endpoint();
    let _server = OpenSslServer::start(*backend.ip(), backend.port(), &["-rev"]);
    for (protocol, scheme, service) in [
        (MailProtocol::Imap, "imap", "imap-starttls"),
        (MailProtocol::Pop3, "pop3", "pop3-starttls"),
    ] {
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
