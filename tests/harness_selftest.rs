//! Proves the real-server harness in `tests/common` works: every server kind starts and
//! completes a TLS handshake with `openssl s_client`, the OpenSSL oracle returns the expected
//! suites for known configurations, hostile peers misbehave as promised, and guards clean up.

mod common;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::oracle::{openssl_accepts_suite, parse_server_hello};
use common::*;

const TLS_VERSIONS: [&str; 4] = ["tls1", "tls1_1", "tls1_2", "tls1_3"];

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Oracle over all four versions, with timings on stderr.
fn oracle_all(label: &str, addr: SocketAddr) -> [BTreeSet<String>; 4] {
    let start = Instant::now();
    let sets = TLS_VERSIONS.map(|p| openssl_accepted_suites(addr.ip(), addr.port(), TEST_HOST, p));
    eprintln!(
        "[timing] oracle {label}: {:?} for 4 versions ({} suites accepted)",
        start.elapsed(),
        sets.iter().map(|s| s.len()).sum::<usize>()
    );
    sets
}

fn assert_handshake(addr: SocketAddr, args: &[&str]) -> common::oracle::Probe {
    let probe = s_client(addr.ip(), addr.port(), TEST_HOST, args);
    assert!(probe.success && probe.cipher_line.is_some(), "handshake with {addr} failed:\n{}", probe.output);
    probe
}

fn process_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

// ------------------------------------------------------------------------------------------
// PKI

#[test]
fn pki_chains_verify_and_carry_names() {
    let pki = Pki::shared();
    eprintln!("[timing] PKI (root, intermediate, RSA + ECDSA leaves): {:?}", pki.generation_time);
    for leaf in [&pki.rsa, &pki.ecdsa] {
        let out = std::process::Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(&pki.root_cert)
            .arg("-untrusted")
            .arg(&pki.intermediate_cert)
            .arg(&leaf.cert)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&leaf.cert)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("DNS:postura.test"), "{text}");
        assert!(text.contains("IP Address:127.0.0.1"), "{text}");
        match leaf.kind {
            KeyKind::Rsa2048 => assert!(text.contains("Public-Key: (2048 bit)"), "{text}"),
            KeyKind::EcdsaP256 => assert!(text.contains("prime256v1"), "{text}"),
        }
        let chain = std::fs::read_to_string(&leaf.chain).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    }
    // Extra leaves with an IP SAN.
    let ip: std::net::IpAddr = "127.0.50.7".parse().unwrap();
    let start = Instant::now();
    let leaf = pki.issue_leaf(&["mail.postura.test"], &[ip], KeyKind::Rsa2048);
    eprintln!("[timing] extra RSA leaf: {:?}", start.elapsed());
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&leaf.cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("DNS:mail.postura.test") && text.contains("IP Address:127.0.50.7"), "{text}");
}

fn dh_bits(path: &Path) -> String {
    let out =
        std::process::Command::new("openssl").args(["pkeyparam", "-text", "-noout", "-in"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dh1024_params_are_1024_bit() {
    Pki::shared();
    let start = Instant::now();
    let named = Pki::shared().dh1024();
    eprintln!("[timing] DH 1024 (RFC 5114 named group): {:?}", start.elapsed());
    let text = dh_bits(named);
    assert!(text.contains("(1024 bit)"), "{text}");
    let (safe, took) = Pki::shared().dh1024_safe_prime();
    eprintln!("[timing] DH 1024 (fresh safe prime): {took:?}");
    let text = dh_bits(safe);
    assert!(text.contains("(1024 bit)"), "{text}");
    assert!(std::fs::read_to_string(safe).unwrap().starts_with("-----BEGIN DH PARAMETERS-----"));
}

// ------------------------------------------------------------------------------------------
// openssl s_server

#[test]
fn s_server_legacy_all_ciphers_rsa() {
    let srv = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1",
        "-max_protocol",
        "TLSv1.2",
    ]);
    assert_handshake(srv.socket_addr(), &["-cipher", "ALL:@SECLEVEL=0"]);
    let [t10, t11, t12, t13] = oracle_all("s_server TLS1.0-1.2 ALL RSA", srv.socket_addr());
    eprintln!("s_server legacy tls1_2 suites ({}): {t12:?}", t12.len());

    for s in [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_NULL_SHA256",
        "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    ] {
        assert!(t12.contains(s), "{s} missing from {t12:?}");
    }
    assert!(t12.iter().all(|s| !s.contains("ECDSA") && !s.contains("DSS")), "{t12:?}");
    // TLS 1.0/1.1: CBC suites, no GCM / SHA-256 suites.
    for set in [&t10, &t11] {
        assert!(set.contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"), "{set:?}");
        assert!(set.contains("TLS_RSA_WITH_AES_256_CBC_SHA"), "{set:?}");
        assert!(set.iter().all(|s| !s.contains("GCM") && !s.ends_with("SHA256")), "{set:?}");
    }
    assert!(t10.is_subset(&t12) && t10 == t11, "{t10:?} vs {t11:?}");
    assert!(t13.is_empty(), "{t13:?}");
    assert!(openssl_accepts_protocol(srv.addr, srv.port, "tls1"));
    assert!(openssl_accepts_protocol(srv.addr, srv.port, "tls1_2"));
    assert!(!openssl_accepts_protocol(srv.addr, srv.port, "tls1_3"));
}

#[test]
fn s_server_tls13_only() {
    let srv = OpenSslServer::start_auto(&["-tls1_3"]);
    let probe = assert_handshake(srv.socket_addr(), &[]);
    assert_eq!(probe.server_hello.unwrap().version, 0x0304);
    let [t10, t11, t12, t13] = oracle_all("s_server TLS1.3 only", srv.socket_addr());
    assert!(t10.is_empty() && t11.is_empty() && t12.is_empty(), "{t10:?} {t11:?} {t12:?}");
    assert_eq!(t13, set(&["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]));
    assert!(openssl_accepts_protocol(srv.addr, srv.port, "tls1_3"));
    assert!(!openssl_accepts_protocol(srv.addr, srv.port, "tls1_2"));

    // With every TLS 1.3 suite enabled the CCM ones show up too.
    let all = OpenSslServer::start_auto(&["-tls1_3", "-ciphersuites", common::oracle::ALL_TLS13_SUITES]);
    let t13_all = openssl_accepted_suites(all.addr, all.port, TEST_HOST, "tls1_3");
    assert_eq!(t13_all.len(), 5, "{t13_all:?}");
}

#[test]
fn s_server_dhe_only_1024() {
    let pki = Pki::shared();
    let dh = pki.dh1024().to_str().unwrap().to_string();
    let srv = OpenSslServer::start_auto(&["-cipher", "DHE:@SECLEVEL=0", "-dhparam", &dh, "-no_tls1_3"]);
    let probe = assert_handshake(srv.socket_addr(), &["-cipher", "ALL:@SECLEVEL=0"]);
    assert!(probe.output.contains("Server Temp Key: DH, 1024 bits"), "{}", probe.output);
    let [t10, _t11, t12, t13] = oracle_all("s_server DHE-only 1024", srv.socket_addr());
    assert!(t12.contains("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"), "{t12:?}");
    assert!(t12.contains("TLS_DHE_RSA_WITH_AES_256_CBC_SHA"), "{t12:?}");
    assert!(t12.iter().all(|s| s.starts_with("TLS_DHE_RSA_")), "{t12:?}");
    assert!(t10.iter().all(|s| s.starts_with("TLS_DHE_RSA_")), "{t10:?}");
    assert!(t13.is_empty(), "{t13:?}");
}

#[test]
fn s_server_ecdsa_leaf() {
    let pki = Pki::shared();
    let srv = OpenSslServer::start_with(alloc_addr(), DEFAULT_PORT, &pki.ecdsa, &["-no_tls1_3"]);
    let ecdhe_ecdsa =
        candidate_suites("tls1_2").into_iter().find(|s| s.iana == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256").unwrap();
    let ecdhe_rsa =
        candidate_suites("tls1_2").into_iter().find(|s| s.iana == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").unwrap();
    assert!(openssl_accepts_suite(srv.addr, srv.port, TEST_HOST, "tls1_2", &ecdhe_ecdsa));
    assert!(!openssl_accepts_suite(srv.addr, srv.port, TEST_HOST, "tls1_2", &ecdhe_rsa));
}

#[test]
fn s_server_survives_connections_without_www() {
    // Echo mode (-rev here) reads stdin: with a closed stdin s_server would quit on the first
    // connection; the harness keeps a pipe open, so it keeps serving.
    let srv = OpenSslServer::start_auto(&["-rev"]);
    for _ in 0..3 {
        assert_handshake(srv.socket_addr(), &[]);
    }
    let mut p = srv.process;
    assert!(p.exited().is_none(), "s_server quit:\n{}", p.diagnostics());
}

// ------------------------------------------------------------------------------------------
// nginx

#[test]
fn nginx_mozilla_intermediate() {
    let start = Instant::now();
    let srv = Nginx::mozilla_intermediate();
    eprintln!("[timing] nginx start: {:?}", start.elapsed());
    assert_handshake(srv.socket_addr(), &["-CAfile", Pki::shared().root_cert.to_str().unwrap()]);
    let probe = s_client(
        srv.addr,
        srv.port,
        TEST_HOST,
        &["-CAfile", Pki::shared().root_cert.to_str().unwrap(), "-verify_return_error"],
    );
    assert!(probe.output.contains("Verify return code: 0 (ok)"), "{}", probe.output);
    let [t10, t11, t12, t13] = oracle_all("nginx Mozilla intermediate", srv.socket_addr());
    assert!(t10.is_empty() && t11.is_empty(), "{t10:?} {t11:?}");
    assert_eq!(
        t12,
        set(&[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ])
    );
    assert_eq!(t13, set(&["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]));
}

#[test]
fn nginx_bad_config_reports_error_log() {
    let result = std::panic::catch_unwind(|| Nginx::start_auto("this_is_not_a_directive on;"));
    let err = result.err().expect("nginx should not start");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("unknown directive"), "{msg}");
}

// ------------------------------------------------------------------------------------------
// gnutls-serv

#[test]
fn gnutls_normal() {
    let srv = GnutlsServer::start_auto("NORMAL");
    assert_handshake(srv.socket_addr(), &[]);
    let [t10, t11, t12, t13] = oracle_all("gnutls-serv NORMAL", srv.socket_addr());
    eprintln!("gnutls NORMAL: tls1={t10:?}\ntls1_1={t11:?}\ntls1_2={t12:?}\ntls1_3={t13:?}");
    assert!(t12.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "{t12:?}");
    assert!(t12.contains("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"), "{t12:?}");
    assert!(t12.iter().all(|s| !s.contains("ECDSA") && !s.contains("NULL") && !s.contains("anon")), "{t12:?}");
    // Debian 12's GnuTLS NORMAL still enables TLS 1.0/1.1 (CBC suites) and TLS 1.3 CCM.
    assert!(t10.contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"), "{t10:?}");
    assert_eq!(t10, t11);
    assert!(t13.contains("TLS_AES_128_CCM_SHA256"), "{t13:?}");
    assert!(t13.contains("TLS_AES_128_GCM_SHA256"), "{t13:?}");
    assert!(openssl_accepts_protocol(srv.addr(), srv.port, "tls1_3"));
}

// ------------------------------------------------------------------------------------------
// Hostile peers

const CLIENT_HELLO_START: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00];

#[test]
fn silent_server_never_answers() {
    let srv = SilentServer::start();
    let mut s = TcpStream::connect_timeout(&srv.addr(), Duration::from_secs(2)).unwrap();
    s.write_all(CLIENT_HELLO_START).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).expect_err("silent server answered");
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err}");
    assert_eq!(srv.0.accepted(), 1);
    assert_eq!(srv.0.bytes_received(), CLIENT_HELLO_START.len());
    let addr = srv.addr();
    drop(s);
    drop(srv);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn garbage_server_answers_with_http_or_random() {
    let srv = GarbageServer::http_400();
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    s.write_all(CLIENT_HELLO_START).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 400"), "{got:?}");
    // OpenSSL's client sees a non-TLS answer.
    let probe = s_client(srv.addr().ip(), srv.addr().port(), TEST_HOST, &[]);
    assert!(!probe.success && probe.server_hello.is_none(), "{}", probe.output);

    let rnd = GarbageServer::random_bytes(64);
    let mut s = TcpStream::connect(rnd.addr()).unwrap();
    s.write_all(CLIENT_HELLO_START).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), 64);
    assert!(!(0x14..=0x18).contains(&got[0]));
}

#[test]
fn trickle_server_sends_one_byte_per_second() {
    let srv = TrickleServer::start();
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    s.write_all(CLIENT_HELLO_START).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < 3 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "trickle server closed");
        got.extend_from_slice(&buf[..n]);
    }
    let took = start.elapsed();
    assert_eq!(&got[..3], &[0x16, 0x03, 0x03]);
    assert!(took >= Duration::from_millis(1800) && took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn closed_port_refuses() {
    let addr = closed_port();
    assert!(addr.ip().is_loopback());
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn allocator_gives_distinct_loopback_endpoints() {
    let eps: Vec<_> = (0..200).map(|_| alloc_endpoint()).collect();
    let addrs: BTreeSet<_> = eps.iter().map(|e| *e.ip()).collect();
    assert_eq!(addrs.len(), eps.len());
    assert!(eps.iter().all(|e| e.ip().octets()[0] == 127 && e.port() >= 4430));
    let ports: BTreeSet<_> = (0..50).map(|_| alloc_wildcard_port()).collect();
    assert_eq!(ports.len(), 50);
    assert!(ports.iter().all(|p| *p >= 4500));
}

// ------------------------------------------------------------------------------------------
// Cleanup

#[test]
fn guards_kill_servers_and_remove_files() {
    let s = OpenSslServer::start_auto(&[]);
    let n = Nginx::start_auto("");
    let g = GnutlsServer::start_auto("NORMAL");
    let procs = [
        (s.pid(), s.socket_addr(), s.process.dir().to_path_buf()),
        (n.pid(), n.socket_addr(), n.process.dir().to_path_buf()),
        (g.pid(), g.socket_addr(), g.process.dir().to_path_buf()),
    ];
    for (pid, addr, dir) in &procs {
        assert!(!process_gone(*pid) && dir.exists());
        assert!(common::net::is_listening(*addr), "{addr}");
    }
    drop((s, n, g));
    for (pid, addr, dir) in &procs {
        assert!(process_gone(*pid), "pid {pid} still exists");
        assert!(!dir.exists(), "{} left behind", dir.display());
        assert!(!common::net::is_listening(*addr), "{addr} still listening");
        let err = TcpStream::connect_timeout(addr, Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    }
}

#[test]
fn failed_start_includes_server_stderr() {
    let result = std::panic::catch_unwind(|| OpenSslServer::start_auto(&["-tls1", "-no_tls1_3"]));
    let err = result.err().expect("s_server should refuse -tls1 with -no_tls1_3");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("Cannot supply both a protocol flag"), "{msg}");
}

#[test]
fn server_hello_parser_handles_tls13_and_sessions() {
    // TLS 1.2 ServerHello with empty session id, cipher c013.
    let out = "<<< TLS 1.0, Handshake [length 0045], ServerHello\n    02 00 00 41 03 01 b9 4b df 0d 8b 69 1b 34 70 2d\n    0d 6b 6f 05 d7 9c 8f 02 62 6e ba 17 99 e1 44 4f\n    57 4e 47 52 44 00 00 c0 13 00 00 19 ff 01 00 01\n    00 00 0b 00 04 03 00 01 02 00 23 00 00 00 16 00\n    00 00 17 00 00\n<<< TLS 1.0, RecordHeader [length 0005]\n";
    let sh = parse_server_hello(out).unwrap();
    assert_eq!((sh.version, sh.cipher), (0x0301, 0xc013));
    // TLS 1.3: 32-byte session id echo, supported_versions = 0304.
    let out13 = "<<< TLS 1.3, Handshake [length 007a], ServerHello\n    02 00 00 76 03 03 f4 56 73 59 a7 34 cf bf b9 b2\n    9d 25 c7 7a 23 a3 d9 2f 06 cc 5d f5 19 49 2f 51\n    33 ed b2 e5 0e bf 20 88 01 73 40 d5 8d ef b9 62\n    95 02 3c 69 4a ff 91 62 62 54 ba c2 20 f4 24 67\n    5d c2 6e f9 9f 40 62 13 01 00 00 2e 00 2b 00 02\n    03 04 00 33 00 24 00 1d 00 20 52 40 dd 3b c4 73\n    76 55 76 7a 17 a0 03 af dc 02 6d bd 4f fa ba 26\n    e1 ac f2 d2 8b 01 e1 e8 70 3c\nNew, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256\n";
    let sh = parse_server_hello(out13).unwrap();
    assert_eq!((sh.version, sh.cipher), (0x0304, 0x1301));
    assert!(parse_server_hello(">>> TLS 1.2, Handshake [length 0010], ClientHello\n    01 00\n").is_none());
}
