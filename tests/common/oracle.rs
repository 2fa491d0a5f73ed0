//! Ground truth from OpenSSL's own client: which protocol versions and cipher suites a server
//! accepts, probed one suite per `openssl s_client` run.
//!
//! A suite counts as accepted when the server answered the ClientHello (offering only that
//! suite, only that version) with a ServerHello selecting it at that version. The ServerHello is
//! read from `s_client -msg`'s hex dump, so a handshake that fails *after* the ServerHello (e.g.
//! a certificate or key-exchange problem on the client side) still counts as accepted; s_client's
//! "Cipher is X" line is only a fallback.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::pki::TEST_HOST;
use super::process::run_with_timeout;

/// Cipher string that enables every suite Debian's OpenSSL 3 has, at security level 0.
pub const ALL_CIPHERS: &str = "ALL:COMPLEMENTOFALL:@SECLEVEL=0";
/// Every TLS 1.3 suite OpenSSL implements (the default list has only the first three).
pub const ALL_TLS13_SUITES: &str = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:\
TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256";
/// Per-`s_client` time limit.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Parallel `s_client` runs per oracle call.
pub const PROBE_THREADS: usize = 8;

/// A cipher suite as OpenSSL lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suite {
    pub code: u16,
    /// IANA (RFC) name, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`.
    pub iana: String,
    /// OpenSSL name, e.g. `ECDHE-RSA-AES128-GCM-SHA256` (same as IANA for TLS 1.3).
    pub openssl: String,
}

/// Wire version for "tls1" | "tls1_1" | "tls1_2" | "tls1_3".
pub fn protocol_version(protocol: &str) -> u16 {
    match protocol {
        "tls1" => 0x0301,
        "tls1_1" => 0x0302,
        "tls1_2" => 0x0303,
        "tls1_3" => 0x0304,
        other => panic!("harness: unknown protocol {other:?} (want tls1, tls1_1, tls1_2, tls1_3)"),
    }
}

/// The suites OpenSSL can offer for `protocol` (from
/// `openssl ciphers -V -stdname -s -<proto> 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'`, plus all five
/// TLS 1.3 suites for tls1_3). No PSK/SRP suites (the client cannot offer them without
/// credentials), and Debian's OpenSSL has no RC4/3DES/EXPORT/SSLv2 suites. Cached.
pub fn candidate_suites(protocol: &str) -> Vec<Suite> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Vec<Suite>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(protocol) {
        return v.clone();
    }
    let version = protocol_version(protocol);
    let flag = format!("-{protocol}");
    let mut args = vec!["ciphers", "-V", "-stdname", "-s", flag.as_str()];
    if version == 0x0304 {
        args.extend(["-ciphersuites", ALL_TLS13_SUITES]);
    }
    args.push(ALL_CIPHERS);
    let out = run_with_timeout("openssl", &args, PROBE_TIMEOUT).expect("harness: run openssl ciphers");
    assert!(out.status.success(), "harness: openssl ciphers failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut suites = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "0xC0,0x2C - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 - ECDHE-ECDSA-AES256-GCM-SHA384 TLSv1.2 Kx=..."
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 6 || t[1] != "-" || t[3] != "-" {
            continue;
        }
        let Some(code) = parse_code(t[0]) else {
            continue;
        };
        let is13 = t[5] == "TLSv1.3";
        if is13 != (version == 0x0304) {
            continue;
        }
        let iana = if t[2].starts_with("TLS_") { t[2] } else { t[4] };
        suites.push(Suite { code, iana: iana.to_string(), openssl: t[4].to_string() });
    }
    assert!(!suites.is_empty(), "harness: openssl lists no suites for {protocol}");
    cache.lock().unwrap().insert(protocol.to_string(), suites.clone());
    suites
}

fn parse_code(s: &str) -> Option<u16> {
    let (a, b) = s.split_once(',')?;
    let a = u8::from_str_radix(a.trim_start_matches("0x"), 16).ok()?;
    let b = u8::from_str_radix(b.trim_start_matches("0x"), 16).ok()?;
    Some(u16::from_be_bytes([a, b]))
}

/// What the server's (first) ServerHello said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerHelloInfo {
    /// Negotiated version: supported_versions (TLS 1.3) or legacy_version.
    pub version: u16,
    pub cipher: u16,
}

/// The result of one `openssl s_client` run.
#[derive(Clone, Debug)]
pub struct Probe {
    pub server_hello: Option<ServerHelloInfo>,
    /// The name from s_client's "New, TLSv1.x, Cipher is NAME" line, if not "(NONE)".
    pub cipher_line: Option<String>,
    /// s_client exited 0 (handshake completed, then stdin EOF closed it).
    pub success: bool,
    pub timed_out: bool,
    /// stdout + stderr, for assertions and failure messages.
    pub output: String,
}

fn connect_arg(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Runs `openssl s_client -connect ADDR:PORT (-servername N | -noservername) -msg
/// -legacy_server_connect -no-CAfile -no-CApath -no-CAstore ARGS </dev/null` with [`PROBE_TIMEOUT`] and parses the outcome.
pub fn s_client(addr: impl Into<IpAddr>, port: u16, servername: &str, args: &[&str]) -> Probe {
    let connect = connect_arg(addr.into(), port);
    let mut full: Vec<&str> = vec!["s_client", "-connect", &connect];
    if servername.is_empty() {
        full.push("-noservername");
    } else {
        full.extend(["-servername", servername]);
    }
    // Not loading the default CA bundle makes a run ≈11 ms instead of ≈80 ms; an explicit
    // -CAfile in `args` still works.
    full.extend(["-msg", "-legacy_server_connect", "-no-CAfile", "-no-CApath", "-no-CAstore"]);
    full.extend(args);
    let out = run_with_timeout("openssl", &full, PROBE_TIMEOUT).expect("harness: run openssl s_client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `timeout` exits 124 when it had to stop the command (137 after SIGKILL).
    let timed_out = matches!(out.status.code(), Some(124) | Some(137));
    let cipher_line = stdout.lines().find_map(|l| {
        let (_, name) = l.split_once(", Cipher is ")?;
        let name = name.trim();
        (name != "(NONE)").then(|| name.to_string())
    });
    Probe {
        server_hello: parse_server_hello(&stdout),
        cipher_line,
        success: out.status.success(),
        timed_out,
        output: format!("{stdout}{stderr}"),
    }
}

/// Finds the first received ServerHello in `s_client -msg` output and decodes version/cipher.
pub fn parse_server_hello(msg_output: &str) -> Option<ServerHelloInfo> {
    let mut lines = msg_output.lines();
    while let Some(line) = lines.next() {
        if !(line.starts_with("<<<") && line.contains(", ServerHello")) {
            continue;
        }
        let mut bytes = Vec::new();
        for hex in lines.by_ref() {
            if !hex.starts_with(' ') {
                break;
            }
            let mut ok = true;
            for tok in hex.split_whitespace() {
                match u8::from_str_radix(tok, 16) {
                    Ok(b) if tok.len() == 2 => bytes.push(b),
                    _ => ok = false,
                }
            }
            if !ok {
                break;
            }
        }
        return decode_server_hello(&bytes);
    }
    None
}

/// Decodes a handshake message `02 LLLLLL version random sid cipher comp [extensions]`.
pub fn decode_server_hello(b: &[u8]) -> Option<ServerHelloInfo> {
    if b.len() < 4 + 2 + 32 + 1 || b[0] != 2 {
        return None;
    }
    let legacy = u16::from_be_bytes([b[4], b[5]]);
    let mut i = 4 + 2 + 32;
    let sid_len = *b.get(i)? as usize;
    i += 1 + sid_len;
    let cipher = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]);
    i += 2 + 1; // cipher, compression
    let mut version = legacy;
    if let (Some(&h), Some(&l)) = (b.get(i), b.get(i + 1)) {
        let ext_end = (i + 2 + u16::from_be_bytes([h, l]) as usize).min(b.len());
        i += 2;
        while i + 4 <= ext_end {
            let ty = u16::from_be_bytes([b[i], b[i + 1]]);
            let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
            if ty == 0x002b && len == 2 && i + 6 <= ext_end {
                version = u16::from_be_bytes([b[i + 4], b[i + 5]]);
            }
            i += 4 + len;
        }
    }
    Some(ServerHelloInfo { version, cipher })
}

fn suite_args<'a>(protocol: &'a str, suite: &'a Suite, flag: &'a str) -> Vec<&'a str> {
    if protocol_version(protocol) == 0x0304 {
        // -cipher only sets the client's security level here (no TLS ≤1.2 suite is offered
        // when the minimum version is 1.3).
        vec![flag, "-ciphersuites", &suite.iana, "-cipher", "ALL:@SECLEVEL=0"]
    } else {
        vec![flag, "-cipher", &suite.openssl]
    }
}

/// Whether the server accepted `suite` at `protocol`, judged from one s_client run.
pub fn openssl_accepts_suite(
    addr: impl Into<IpAddr>,
    port: u16,
    servername: &str,
    protocol: &str,
    suite: &Suite,
) -> bool {
    let version = protocol_version(protocol);
    let flag = format!("-{protocol}");
    let openssl_name = format!("{}:@SECLEVEL=0", suite.openssl);
    let mut s = suite.clone();
    s.openssl = openssl_name;
    let probe = s_client(addr, port, servername, &suite_args(protocol, &s, &flag));
    accepted(&probe, version, suite)
}

fn accepted(probe: &Probe, version: u16, suite: &Suite) -> bool {
    match probe.server_hello {
        Some(sh) => sh.version == version && sh.cipher == suite.code,
        None => probe.cipher_line.as_deref().is_some_and(|c| c == suite.openssl || c == suite.iana),
    }
}

/// The IANA names of the suites the server accepts at `protocol` ("tls1", "tls1_1", "tls1_2",
/// "tls1_3"), probing each candidate (see [`candidate_suites`]) in its own `s_client` run,
/// [`PROBE_THREADS`] at a time. An empty `servername` sends no SNI.
pub fn openssl_accepted_suites(
    addr: impl Into<IpAddr>,
    port: u16,
    servername: &str,
    protocol: &str,
) -> BTreeSet<String> {
    openssl_accepted_suites_with(addr, port, servername, protocol, &[])
}

/// As [`openssl_accepted_suites`], with more `s_client` arguments on every run, e.g.
/// `["-starttls", "ldap"]` to probe a STARTTLS server (`-xmpphost DOMAIN` for XMPP).
pub fn openssl_accepted_suites_with(
    addr: impl Into<IpAddr>,
    port: u16,
    servername: &str,
    protocol: &str,
    extra: &[&str],
) -> BTreeSet<String> {
    let addr = addr.into();
    let version = protocol_version(protocol);
    let flag = format!("-{protocol}");
    let suites = candidate_suites(protocol);
    let next = AtomicUsize::new(0);
    let found = Mutex::new(BTreeSet::new());
    let timeouts = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PROBE_THREADS.min(suites.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(suite) = suites.get(i) else { break };
                let mut s = suite.clone();
                s.openssl = format!("{}:@SECLEVEL=0", suite.openssl);
                let mut args = extra.to_vec();
                args.extend(suite_args(protocol, &s, &flag));
                let probe = s_client(addr, port, servername, &args);
                if probe.timed_out {
                    timeouts.lock().unwrap().push(suite.iana.clone());
                }
                if accepted(&probe, version, suite) {
                    found.lock().unwrap().insert(suite.iana.clone());
                }
            });
        }
    });
    let timeouts = timeouts.into_inner().unwrap();
    assert!(timeouts.is_empty(), "harness: oracle probes of {addr}:{port} ({protocol}) timed out for {timeouts:?}");
    found.into_inner().unwrap()
}

/// Whether the server negotiates `protocol` with OpenSSL's client offering every suite (SNI
/// [`TEST_HOST`]).
pub fn openssl_accepts_protocol(addr: impl Into<IpAddr>, port: u16, protocol: &str) -> bool {
    let version = protocol_version(protocol);
    let flag = format!("-{protocol}");
    let mut args = vec![flag.as_str(), "-cipher", ALL_CIPHERS];
    if version == 0x0304 {
        args.extend(["-ciphersuites", ALL_TLS13_SUITES]);
    }
    let probe = s_client(addr, port, TEST_HOST, &args);
    assert!(!probe.timed_out, "harness: s_client timed out:\n{}", probe.output);
    probe.server_hello.is_some_and(|sh| sh.version == version)
}
