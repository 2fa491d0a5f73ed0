//! The hostile-peer suite (issue 12): one named test per behaviour a scanner meets on a national
//! network. Each runs the `postura` binary against a hostile peer AND a well-behaved real server
//! (`openssl s_server`, TLS 1.3) in the same scan, and asserts that
//! - the hostile target ends within its deadline with a specific reason,
//! - the process's peak memory (the child's `ru_maxrss`, from `wait4`) stays under 200 MB,
//! - the well-behaved target is complete (TLS 1.3, its three suites, its certificate analysed),
//! - where it matters, the connections counted AT THE SERVER are few.
//!
//! The hostile peers are scripted (`common::hostile`, `common::hostile_tls`, `common::dns`,
//! `common::hostile_dns`, `common::http`): no real server accepts every suite, retries hellos forever or sends a 64 KB
//! TXT record on purpose. Related tests elsewhere: `tls_sweep.rs`
//! (hostile_targets_end_within_the_deadline_and_others_complete), `hostile_reset.rs`,
//! `cert_hostile_der.rs`, `cert.rs` (hostile_fetches_end_within_bounds, library level),
//! `starttls.rs` (imap_untagged_lines_without_end_are_refused_at_the_cap), `dns_lab/hostile.rs`.
//! Caps and what happens at each: `docs/limits.md`.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use common::dns::{HostileDns, Hostility};
use common::hostile_dns::{txt, ListingZoneServer};
use common::hostile_tls::EndlessHttpsServer;
use common::*;
use postura::facts::{ImplausibleReason, ScanReport, TargetResult};
use postura::tls::registry::Protocol;

/// Seconds allowed per connection and per target in these scans.
const TIMEOUT: u64 = 3;
const DEADLINE: u64 = 30;
/// A generous bound on the scanning process's peak resident memory.
const MAX_PEAK_RSS_KB: u64 = 200 * 1024;
const GOOD_HOST: &str = TEST_HOST;

/// One target of a scan: how it is written on the command line, and where its name points.
struct Target {
    arg: String,
    resolve: Option<String>,
}

impl Target {
    /// A TLS endpoint `host` at `address`.
    fn tls(host: &str, address: SocketAddr) -> Target {
        Target::named("", host, address)
    }

    /// A STARTTLS endpoint (`smtp`, `imap`, `pop3`).
    fn mail(scheme: &str, host: &str, address: SocketAddr) -> Target {
        Target::named(&format!("{scheme}://"), host, address)
    }

    fn named(prefix: &str, host: &str, address: SocketAddr) -> Target {
        let port = address.port();
        Target { arg: format!("{prefix}{host}:{port}"), resolve: Some(format!("{host}:{port}:{}", address.ip())) }
    }

    /// A zone, `dns://NAME`.
    fn zone(name: &str) -> Target {
        Target { arg: format!("dns://{name}"), resolve: None }
    }

    fn resolver(address: SocketAddr) -> Target {
        Target { arg: format!("resolver://{address}"), resolve: None }
    }
}

/// What one run of the binary gave.
struct Run {
    report: ScanReport,
    peak_rss_kb: u64,
    stderr: String,
}

impl Run {
    fn target(&self, host: &str) -> &TargetResult {
        self.report.targets.iter().find(|t| t.host == host).unwrap_or_else(|| panic!("no target {host}"))
    }

    /// Memory stayed bounded, every target ended within its deadline (with the sweep's and the
    /// analysis' own slack), and the well-behaved server was scanned completely.
    fn assert_bounded_and_good_complete(&self) {
        assert!(
            self.peak_rss_kb < MAX_PEAK_RSS_KB,
            "peak RSS {} KB over {MAX_PEAK_RSS_KB} KB\n{}",
            self.peak_rss_kb,
            self.stderr
        );
        for target in &self.report.targets {
            assert!(target.duration_ms <= (DEADLINE + 5) * 1000, "{} took {} ms", target.host, target.duration_ms);
        }
        let good = self.target(GOOD_HOST);
        assert_eq!(good.error, None, "the well-behaved server: {good:#?}");
        let tls = good.tls.as_ref().expect("the well-behaved server's TLS facts");
        assert_eq!(tls.protocols, vec![Protocol::Tls13]);
        assert_eq!(tls.cipher_suites.get(&Protocol::Tls13).map(Vec::len), Some(3));
        assert_eq!(tls.implausible, None);
        let certificate = good.certificate.as_ref().expect("the well-behaved server's certificate");
        assert_eq!(certificate.error, None);
        assert!(certificate.hostname_match);
    }
}

/// A well-behaved real server: `openssl s_server`, TLS 1.3 only, the shared PKI's RSA leaf.
fn good_server() -> OpenSslServer {
    OpenSslServer::start_auto(&["-tls1_3"])
}

/// Run `postura scan` on `targets` (and `extra` flags), waiting with `wait4` to read the child's
/// peak resident memory.
fn scan(targets: &[Target], extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("scan.json");
    let stderr_path = dir.path().join("stderr");
    let mut command = Command::new(env!("CARGO_BIN_EXE_postura"));
    command.args(["scan", "--quiet", "--timeout", &TIMEOUT.to_string(), "--deadline", &DEADLINE.to_string()]);
    command.arg("--json").arg(&json).args(extra);
    for target in targets {
        if let Some(resolve) = &target.resolve {
            command.args(["--resolve", resolve]);
        }
        command.arg(&target.arg);
    }
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    // Reaped by `wait4` below (which `Child::wait` cannot do: it gives no resource usage).
    #[allow(clippy::zombie_processes)]
    let child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr).spawn().expect("postura");
    let (status, peak_rss_kb) = wait_with_peak_rss(child.id());
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    // Exit 0, or 1 when a target failed; 101 is a panic, a signal is a crash.
    assert!(status == Some(0) || status == Some(1), "postura exited with {status:?}\n{stderr}");
    let report = read_report(&json, &stderr);
    eprintln!("postura peak RSS: {peak_rss_kb} KB");
    Run { report, peak_rss_kb, stderr }
}

fn read_report(json: &Path, stderr: &str) -> ScanReport {
    let text = std::fs::read_to_string(json).unwrap_or_else(|e| panic!("{}: {e}\n{stderr}", json.display()));
    serde_json::from_str(&text).expect("the scan document")
}

extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut [i64; 18]) -> i32;
}

/// Reap the child `pid`: its exit code (None when killed by a signal) and its peak resident
/// memory in KB (`ru_maxrss`, the field after the two `timeval`s of `struct rusage`).
fn wait_with_peak_rss(pid: u32) -> (Option<i32>, u64) {
    let mut status = 0i32;
    let mut usage = [0i64; 18];
    // SAFETY: a child of this process that nothing else waits for; valid pointers to an int and
    // to 144 bytes (the size of `struct rusage` on 64-bit Linux) that outlive the call.
    let reaped = unsafe { wait4(pid as i32, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid as i32, "wait4: {}", std::io::Error::last_os_error());
    let exited = status & 0x7f == 0;
    (exited.then_some((status >> 8) & 0xff), usage[4] as u64)
}

fn tls_of(target: &TargetResult) -> &postura::facts::TlsFacts {
    target.tls.as_ref().unwrap_or_else(|| panic!("{}: no TLS facts: {target:#?}", target.host))
}

fn finding<'a>(target: &'a TargetResult, check: &str) -> &'a postura::checks::model::Finding {
    target.findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("{}: no {check}", target.host))
}

// --- TLS peers -------------------------------------------------------------------------------

#[test]
fn peer_that_accepts_and_never_speaks() {
    let good = good_server();
    let silent = SilentServer::start();
    let run = scan(&[Target::tls("silent.test", silent.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target("silent.test");
    assert_eq!(target.error.as_deref(), Some("timeout waiting for the server"));
    assert_eq!(silent.0.accepted(), 1, "given up at first contact (counted at the server)");
}

#[test]
fn peer_that_resets_every_connection() {
    let good = good_server();
    let reset = ResettingServer::start();
    let run = scan(&[Target::tls("reset.test", reset.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    assert_eq!(run.target("reset.test").error.as_deref(), Some("connection reset"));
    assert_eq!(reset.0.accepted(), 1);
}

#[test]
fn peer_that_answers_random_bytes() {
    let good = good_server();
    let garbage = GarbageServer::random_bytes(3000);
    let run = scan(&[Target::tls("random.test", garbage.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let error = run.target("random.test").error.clone().unwrap_or_default();
    assert!(error.starts_with("protocol error: not TLS"), "{error}");
    assert_eq!(garbage.0.accepted(), 1);
}

#[test]
fn peer_that_sends_a_record_header_then_trickles() {
    let good = good_server();
    let trickle = TrickleServer::start();
    let run = scan(&[Target::tls("trickle.test", trickle.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    // Each byte arrives within the connection timeout, but the record never completes within it.
    assert_eq!(run.target("trickle.test").error.as_deref(), Some("timeout waiting for the server"));
    assert_eq!(trickle.0.accepted(), 1);
}

#[test]
fn server_hello_for_a_suite_not_offered() {
    let good = good_server();
    let peer = HostileTlsServer::start(TlsHostility::SuiteNotOffered);
    let run = scan(&[Target::tls("unoffered.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target("unoffered.test");
    assert_eq!(
        target.error.as_deref(),
        Some("implausible TLS server: it chose TLS_NULL_WITH_NULL_NULL over TLSv1.2, which was not offered")
    );
    let verdict = tls_of(target).implausible.as_ref().expect("the verdict");
    assert_eq!(verdict.reason, ImplausibleReason::SuiteNotOffered);
    assert_eq!(verdict.suites, vec!["TLS_NULL_WITH_NULL_NULL"]);
    assert_eq!(peer.accepted(), 1, "stopped at first contact");
}

#[test]
fn hello_retry_request_loop() {
    let good = good_server();
    let peer = HostileTlsServer::start(TlsHostility::HelloRetryLoop);
    let run = scan(&[Target::tls("hrr.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target("hrr.test");
    // It retries the hello for x25519, whose key share the hello carried: no real server does.
    assert_eq!(
        target.error.as_deref(),
        Some(
            "implausible TLS server: its HelloRetryRequest (TLS_AES_128_GCM_SHA256) asks for x25519, whose key \
             share the hello carried"
        )
    );
    let verdict = tls_of(target).implausible.as_ref().expect("the verdict");
    assert_eq!(verdict.reason, ImplausibleReason::RetryForOfferedKeyShare);
    assert_eq!(verdict.protocol, Protocol::Tls13);
    // Before the verdict: 16 connections, and TLS 1.3 "accepted" with all five suites.
    assert!(tls_of(target).protocols.is_empty());
    assert!(peer.accepted() <= 8, "{} connections", peer.accepted());
}

#[test]
fn endless_handshake_stream() {
    let good = good_server();
    let peer = HostileTlsServer::start(TlsHostility::EndlessHandshake);
    let run = scan(&[Target::tls("endless.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    // Read up to the flight cap (512 KB), then given up.
    assert_eq!(run.target("endless.test").error.as_deref(), Some("answer too large"));
    assert_eq!(peer.accepted(), 1);
}

#[test]
fn huge_certificate_chain() {
    let good = good_server();
    let peer = HostileTlsServer::start(TlsHostility::HugeChain(5000));
    let run = scan(&[Target::tls(TEST_HOST_ALIAS, peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target(TEST_HOST_ALIAS);
    let tls = tls_of(target);
    assert_eq!(target.error, None, "{target:#?}");
    assert_eq!(tls.protocols, vec![Protocol::Tls12]);
    assert_eq!(tls.chain_pem.len(), 16, "the chain is cut at 16 entries");
    assert_eq!(tls.chain_sent, 5001, "the count beside the kept list");
    assert!(
        tls.probe_errors.iter().any(|e| e == "certificate chain of 5001 entries: the first 16 kept"),
        "{:?}",
        tls.probe_errors
    );
    let certificate = target.certificate.as_ref().expect("the kept chain is analysed");
    assert!(certificate.certificates.len() <= 16, "{}", certificate.certificates.len());
}

/// A second name of the huge-chain peer (the good server is `TEST_HOST`).
const TEST_HOST_ALIAS: &str = "chain.test";

#[test]
fn accept_everything_peer_is_stopped_as_implausible() {
    let good = good_server();
    let peer = HostileTlsServer::start(TlsHostility::AcceptEverything);
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let targets = [Target::tls("everything.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())];
    let run = scan(&targets, &["--html", html.to_str().unwrap()]);
    run.assert_bounded_and_good_complete();
    let target = run.target("everything.test");
    let verdict = tls_of(target).implausible.clone().expect("the verdict");
    // Whichever lane sees it first: one certificate for RSA and ECDSA suites (TLS 1.2 lane), or
    // a certificate with an anonymous suite (the lane of the older protocols).
    match verdict.reason {
        ImplausibleReason::OneCertificateManyKeyTypes => assert_eq!(verdict.suites.len(), 2, "{verdict:?}"),
        ImplausibleReason::CertificateWithoutAuthentication => assert_eq!(verdict.suites.len(), 1, "{verdict:?}"),
        _ => panic!("{verdict:?}"),
    }
    assert_eq!(target.error, Some(format!("implausible TLS server: {}", verdict.detail)));
    // Before the verdict it cost 500 connections (the per-target ceiling) and would have cost
    // 718; now a handful, counted at the server and by postura alike.
    assert!(peer.accepted() <= 6, "{} connections at the server", peer.accepted());
    assert_eq!(target.connections.total as usize, peer.accepted());
    let finding = finding(target, "tls.server.implausible");
    assert_eq!(finding.status, postura::checks::model::Status::Fail);
    assert_eq!(finding.detail.get("reason"), Some(&serde_json::to_value(&verdict.reason).unwrap()));
    let good_finding = finding_of(&run, GOOD_HOST, "tls.server.implausible");
    assert_eq!(good_finding, postura::checks::model::Status::Pass);
    // The report shows the reason and the failing check.
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(page.contains("implausible TLS server: "), "the target's error in the report");
    assert!(page.contains("does not accept everything it is offered"), "the failing check in the report");
}

fn finding_of(run: &Run, host: &str, check: &str) -> postura::checks::model::Status {
    finding(run.target(host), check).status
}

// --- Mail peers ------------------------------------------------------------------------------

#[test]
fn smtp_server_that_never_greets() {
    let good = good_server();
    let peer = HostileMailServer::start(MailHostility::NeverGreets);
    let run = scan(&[Target::mail("smtp", "mute.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target("mute.test");
    assert_eq!(target.error.as_deref(), Some("timeout waiting for the server"));
    assert_eq!(target.starttls, None, "silence says nothing about STARTTLS");
    assert_eq!(peer.accepted(), 1);
}

#[test]
fn smtp_greeting_that_never_ends() {
    let good = good_server();
    let peer = HostileMailServer::start(MailHostility::SmtpEndlessGreeting);
    let run =
        scan(&[Target::mail("smtp", "chatty.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target("chatty.test");
    assert_eq!(target.error.as_deref(), Some("protocol error: SMTP reply with more than 64 lines"));
    assert_eq!(peer.accepted(), 1);
}

#[test]
fn imap_untagged_lines_that_never_end() {
    let good = good_server();
    let peer = HostileMailServer::start(MailHostility::ImapEndlessUntagged);
    let run =
        scan(&[Target::mail("imap", "chatty.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target("chatty.test");
    assert_eq!(target.error.as_deref(), Some("protocol error: IMAP STARTTLS reply: no tagged answer within 64 lines"));
    assert_eq!(peer.accepted(), 1);
}

#[test]
fn pop3_greeting_line_that_never_ends() {
    let good = good_server();
    let peer = HostileMailServer::start(MailHostility::Pop3EndlessLine);
    let run =
        scan(&[Target::mail("pop3", "chatty.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target("chatty.test");
    assert_eq!(target.error.as_deref(), Some("protocol error: STARTTLS dialogue too long"));
    assert_eq!(peer.accepted(), 1);
}

// --- DNS peers -------------------------------------------------------------------------------

/// A hostile resolver declared as `resolver://ADDRESS:PORT`: its three queries (root SOA, the
/// signed and the bogus name) each end with the given reason.
fn hostile_resolver(kind: Hostility) -> (Run, u32) {
    let good = good_server();
    let address = SocketAddr::V4(alloc_endpoint());
    let peer = HostileDns::serve(address, kind);
    let run = scan(&[Target::resolver(address), Target::tls(GOOD_HOST, good.socket_addr())], &["--dns-timeout", "2"]);
    run.assert_bounded_and_good_complete();
    let queries = peer.queries.load(std::sync::atomic::Ordering::SeqCst);
    (run, queries)
}

#[test]
fn dns_compression_loop() {
    let (run, _) = hostile_resolver(Hostility::CompressionLoop);
    let resolver = &run.report.resolvers[0];
    let error = resolver.open_query.error.clone().unwrap_or_default();
    assert!(error.starts_with("malformed answer: label points to data not prior to"), "{error}");
    assert_eq!(resolver.open, None, "no verdict from a malformed answer");
}

#[test]
fn dns_answers_with_wrong_ids() {
    let (run, queries) = hostile_resolver(Hostility::WrongId);
    let resolver = &run.report.resolvers[0];
    // Each wrong-id datagram is skipped; the query ends at its timeout.
    assert_eq!(resolver.open_query.error.as_deref(), Some("no answer within 2000 ms"));
    assert_eq!(resolver.open, None);
    assert!(queries <= 2, "{queries} queries");
}

#[test]
fn dns_truncated_answers() {
    // Truncated over UDP, so asked again over TCP, where the answer announced never comes.
    // Before the fix the truncated, empty UDP answer was taken as the resolver's whole answer:
    // `open: false`, and the check `resolver.open` passed on no evidence.
    let (run, queries) = hostile_resolver(Hostility::Truncated);
    let resolver = &run.report.resolvers[0];
    assert_eq!(resolver.open_query.error.as_deref(), Some("no answer within 2000 ms"));
    assert_eq!(resolver.open, None);
    assert_eq!(queries, 2, "one over UDP, one over TCP");
}

#[test]
fn dns_64k_txt_answer() {
    // Truncated over UDP; over TCP a 64 KB message with one TXT record of 255 strings.
    let (run, _) = hostile_resolver(Hostility::HugeTxt);
    let resolver = &run.report.resolvers[0];
    assert_eq!(resolver.open_query.error, None);
    assert_eq!(resolver.open_query.truncated, Some(false));
    assert_eq!(resolver.open_query.answers, Some(1));
}

// --- HTTP peers behind certificate URLs -----------------------------------------------------

/// Two servers whose leaf names a hostile `route` for OCSP, CRL and caIssuers: `aia.test` sends
/// the leaf alone (so the caIssuers fetch is made, and then OCSP and CRL are not: no issuer to
/// check them with), `revocation.test` sends the intermediate too (so OCSP and CRL are fetched).
/// Scanned beside the well-behaved server; the requests counted at the hostile HTTP server.
fn hostile_certificate_urls(route: Route) -> (Run, usize) {
    let good = good_server();
    let hostile = HttpServer::start();
    hostile.route("/x", route);
    let url = hostile.url("/x");
    let ca = TestCa::shared();
    let leaf = ca.issue(&LeafSpec {
        names: vec!["aia.test".into(), "revocation.test".into()],
        ocsp_url: Some(url.clone()),
        crl_url: Some(url.clone()),
        ca_issuers_url: Some(url),
        ..LeafSpec::default()
    });
    let (key, cert) = (leaf.key.display().to_string(), leaf.cert.display().to_string());
    let chain = ca.chain_file("hostile-urls", &[&ca.intermediate_cert]).display().to_string();
    let serve = |extra: &[&str]| {
        let endpoint = alloc_endpoint();
        let mut args = vec!["-cert", &cert, "-key", &key, "-tls1_3"];
        args.extend(extra);
        OpenSslServer::start_with(*endpoint.ip(), endpoint.port(), &Pki::shared().rsa, &args)
    };
    let (alone, with_issuer) = (serve(&[]), serve(&["-cert_chain", &chain]));
    let run = scan(
        &[
            Target::tls("aia.test", alone.socket_addr()),
            Target::tls("revocation.test", with_issuer.socket_addr()),
            Target::tls(GOOD_HOST, good.socket_addr()),
        ],
        &[],
    );
    run.assert_bounded_and_good_complete();
    (run, hostile.requests())
}

/// Each hostile fetch ended with `reason`.
fn assert_fetches_ended_with(run: &Run, reason: &str) {
    let aia = run.target("aia.test").certificate.clone().expect("aia.test: certificate facts");
    assert_eq!(aia.ca_issuers_fetched.len(), 1);
    assert_eq!(aia.ca_issuers_fetched[0].error.as_deref(), Some(reason), "{aia:#?}");
    assert_eq!(aia.fetches, 1);
    let revocation = run.target("revocation.test").certificate.clone().expect("revocation.test: certificate facts");
    for check in [&revocation.revocation.ocsp, &revocation.revocation.crl] {
        let check = check.as_ref().expect("checked");
        assert_eq!(check.reason.as_deref(), Some(reason), "{revocation:#?}");
    }
    assert_eq!(revocation.fetches, 2);
}

#[test]
fn redirect_loop_behind_ocsp_crl_and_aia() {
    let (run, requests) = hostile_certificate_urls(Route::RedirectLoop);
    assert_fetches_ended_with(&run, "too many redirects (limit 3)");
    // Three fetches, each the first request and three redirects.
    assert_eq!(requests, 12, "counted at the server");
}

#[test]
fn endless_body_behind_ocsp_crl_and_aia() {
    let (run, requests) = hostile_certificate_urls(Route::Huge(usize::MAX));
    assert_fetches_ended_with(&run, "body too large: over the 10485760 byte limit");
    assert_eq!(requests, 3, "counted at the server");
}

// --- Limits counted at the server -----------------------------------------------------------

#[test]
fn per_target_connection_ceiling_counted_at_the_server() {
    let good = good_server();
    let peer = HostileTlsServer::start(TlsHostility::EveryRsaSuite);
    let run = scan(
        &[Target::tls("many.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())],
        &["--max-connections", "40"],
    );
    // The well-behaved server needs fewer than 40 connections and is complete.
    run.assert_bounded_and_good_complete();
    let target = run.target("many.test");
    assert_eq!(target.error.as_deref(), Some("per-target connection ceiling reached (40 connections)"));
    assert_eq!(peer.accepted(), 40, "counted at the server");
    assert_eq!(target.connections.total, 40);
}

#[test]
fn per_address_limit_counted_at_the_server() {
    let peer = HostileTlsServer::start(TlsHostility::RefuseAll);
    // Two names on one address: the limit is per address, across targets.
    let targets = [Target::tls("one.test", peer.addr()), Target::tls("two.test", peer.addr())];
    let run = scan(&targets, &["--per-host", "1"]);
    assert_eq!(peer.0.most_at_once(), 1, "never more than one connection at once");
    for host in ["one.test", "two.test"] {
        assert_eq!(run.target(host).error, None, "{:#?}", run.target(host));
    }
    assert!(run.peak_rss_kb < MAX_PEAK_RSS_KB);

    // The count can see overlap: with three at once allowed, the two targets' lanes (every
    // answer held 300 ms by the peer) do overlap.
    let peer = HostileTlsServer::start(TlsHostility::RefuseAll);
    let targets = [Target::tls("one.test", peer.addr()), Target::tls("two.test", peer.addr())];
    scan(&targets, &["--per-host", "3"]);
    let most = peer.0.most_at_once();
    assert!((2..=3).contains(&most), "{most} at once with --per-host 3");
}

#[test]
fn certificate_with_thousands_of_names() {
    let good = good_server();
    let names: Vec<String> = (0..1500).map(|i| format!("name{i}.test")).collect();
    let leaf = TestCa::shared().issue(&LeafSpec { names: names.clone(), ..LeafSpec::default() });
    let (key, cert) = (leaf.key.display().to_string(), leaf.cert.display().to_string());
    let endpoint = alloc_endpoint();
    let server = OpenSslServer::start_with(
        *endpoint.ip(),
        endpoint.port(),
        &Pki::shared().rsa,
        &["-cert", &cert, "-key", &key, "-tls1_3"],
    );
    // The last name: matched although it is past the cap of the names listed.
    let host = &names[1499];
    let run = scan(&[Target::tls(host, server.socket_addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let certificate = run.target(host).certificate.clone().expect("certificate facts");
    assert_eq!(certificate.san_dns.len(), 1000);
    assert_eq!(certificate.san_dns[..2], names[..2]);
    assert_eq!(certificate.truncated.get("san_dns"), Some(&1500));
    assert!(certificate.hostname_match, "matching sees every name");
    assert_eq!(run.target(host).error, None);
}

#[test]
fn zone_listing_hundreds_of_nameservers_and_mx() {
    let good = good_server();
    let zone = ListingZoneServer::start("many.test", 200, 500);
    let dir = tempfile::tempdir().unwrap();
    let hints = dir.path().join("root.hints");
    std::fs::write(&hints, zone.hints()).unwrap();
    let hints = hints.display().to_string();
    let targets = [Target::zone("many.test"), Target::tls(GOOD_HOST, good.socket_addr())];
    let run = scan(&targets, &["--root-hints", &hints, "--dns-timeout", "2"]);
    run.assert_bounded_and_good_complete();
    let facts = run.report.zones.iter().find(|z| z.name == "many.test.").expect("the zone");
    // 200 NS names, all at one address: the first 32 resolved and probed.
    assert_eq!(facts.truncated.get("ns_names"), Some(&200), "{:?}", facts.truncated);
    assert_eq!(facts.nameservers.len(), 32);
    let mail = facts.mail.as_ref().expect("mail facts");
    assert_eq!(mail.truncated.get("mx"), Some(&500));
    assert_eq!(mail.mx.len(), 32);
    // The MX pass adds one STARTTLS target per MX kept, not per MX listed.
    let mx_targets = run.report.targets.iter().filter(|t| t.host.starts_with("mx")).count();
    assert!(mx_targets <= 32, "{mx_targets} MX targets");
    let queries = zone.queries.load(std::sync::atomic::Ordering::SeqCst);
    // Every query sent for the zone reached this server (it is the root too), and they are few.
    assert_eq!(queries, facts.queries, "counted at the server");
    assert!(queries < 2000, "{queries} queries");
}

#[test]
fn endless_body_behind_mta_sts() {
    let good = good_server();
    let address = alloc_addr();
    let https = EndlessHttpsServer::start(SocketAddr::from((address, 443)));
    let extra = vec![
        ("_mta-sts.sts.test".to_string(), 16, txt("v=STSv1; id=1")),
        ("mta-sts.sts.test".to_string(), 1, address.octets().to_vec()),
    ];
    let zone = ListingZoneServer::start_with(address, "sts.test", 2, 0, extra);
    let dir = tempfile::tempdir().unwrap();
    let hints = dir.path().join("root.hints");
    std::fs::write(&hints, zone.hints()).unwrap();
    let hints = hints.display().to_string();
    let targets = [Target::zone("sts.test"), Target::tls(GOOD_HOST, good.socket_addr())];
    let run = scan(&targets, &["--root-hints", &hints, "--dns-timeout", "2"]);
    run.assert_bounded_and_good_complete();
    let facts = run.report.zones.iter().find(|z| z.name == "sts.test.").expect("the zone");
    let mail = facts.mail.as_ref().expect("mail facts");
    assert_eq!(mail.mta_sts, vec!["v=STSv1; id=1"]);
    let policy = mail.mta_sts_policy.as_ref().expect("the policy fetch");
    assert_eq!(policy.error.as_deref(), Some("body too large: over the 65536 byte limit"), "{policy:#?}");
    assert_eq!(https.requests.load(std::sync::atomic::Ordering::SeqCst), 1, "counted at the server");
}

#[test]
fn accept_everything_peer_with_a_real_certificate() {
    let good = good_server();
    let peer = HostileTlsServer::start(TlsHostility::AcceptEverythingWithRealCertificate);
    let run = scan(&[Target::tls("everything.test", peer.addr()), Target::tls(GOOD_HOST, good.socket_addr())], &[]);
    run.assert_bounded_and_good_complete();
    let target = run.target("everything.test");
    let verdict = tls_of(target).implausible.clone().expect("the verdict");
    // Its RSA key cannot serve an ECDSA or anonymous suite.
    assert!(
        matches!(
            verdict.reason,
            ImplausibleReason::KeyDoesNotFitSuite | ImplausibleReason::CertificateWithoutAuthentication
        ),
        "{verdict:?}"
    );
    assert!(peer.accepted() <= 6, "{} connections at the server", peer.accepted());
}

/// The detection must not misfire on a real server with two certificates (RSA and ECDSA), each
/// sent with its own suites, and anonymous suites sent without one.
#[test]
fn real_server_with_rsa_and_ecdsa_certificates_is_plausible() {
    let pki = Pki::shared();
    let (dcert, dkey) = (pki.ecdsa.cert.display().to_string(), pki.ecdsa.key.display().to_string());
    let chain = pki.intermediate_cert.display().to_string();
    let server = OpenSslServer::start_auto(&[
        "-dcert",
        &dcert,
        "-dkey",
        &dkey,
        "-dcert_chain",
        &chain,
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let run = scan(&[Target::tls(GOOD_HOST, server.socket_addr())], &[]);
    let target = run.target(GOOD_HOST);
    assert_eq!(target.error, None, "{target:#?}");
    let tls = tls_of(target);
    assert_eq!(tls.implausible, None);
    let suites = &tls.cipher_suites[&Protocol::Tls12];
    for expected in [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
    ] {
        assert!(suites.iter().any(|s| s == expected), "{expected} in {suites:?}");
    }
    assert!(run.peak_rss_kb < MAX_PEAK_RSS_KB);
}
