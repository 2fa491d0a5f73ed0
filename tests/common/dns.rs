//! The DNS lab: a private root and `test.` TLD, BIND 9 and Knot authoritative servers, an
//! Unbound validating resolver and hostile nameservers, all in a network namespace the lab
//! creates (BIND only listens on addresses configured on an interface, and the default
//! namespace's `lo` has only 127.0.0.1). Every server listens on its own 127.0.x.y, port 53.
//!
//! Layout (addresses are fixed: they live only inside the lab's own namespace):
//! - 127.0.20.1 Knot: the root zone `.` (signed, NSEC), hints `a.root-servers.lab.`
//! - 127.0.20.2 BIND "tld": `test.` (signed), delegating the zones below, with DS for the signed ones
//! - 127.0.21.1 BIND "a": healthy, expired, inconsistent (serial 1), mail, hostile, optout;
//!   recursion off, version.bind a single space (discloses nothing), transfers refused
//! - 127.0.22.1 Knot "b": healthy, expired, inconsistent (serial 2, another SOA RNAME), mail,
//!   optout; not lame.test
//! - 127.0.23.1 BIND "open": open.test, single NS; recursion for anyone, AXFR open, version shown
//! - alias.test (Knot "b" only): ns2.alias.test is a CNAME to ns1 (same address twice); Null MX;
//!   an SPF record with a syntax error and `?all`; it delegates baddigest.alias.test with a DS
//!   whose SHA-256 digest is 8 bytes long (Knot serves it; BIND refuses to load such a zone)
//! - optout.test (BIND "a", Knot "b"): signed with NSEC3 opt-out, 5 iterations and a salt
//! - dead.test: four NS names whose glue (127.0.27.1–4) points at servers that never answer
//! - v6only.test: three NS names with IPv6 glue only, in special-purpose blocks (2001:db8::/32,
//!   3fff::/20, 2001:2::/48) that the namespace cannot reach
//! - 127.0.24.1 nothing (ns3.inconsistent.test, only in the child's NS set)
//! - 127.0.22.2 nothing (ns2.inconsistent.test's address in the child; its glue is 127.0.22.1)
//! - 127.0.26.1/2/3 hostile: silent, garbage, compression loop (hostile.test's other servers)
//! - 127.0.30.1 Unbound, validating with the lab root's DS as trust anchor
//! - 127.0.28.1 Unbound, authoritative only: nsec3alg.test, signed with NSEC3 whose hash
//!   algorithm was then rewritten to 2 (unassigned). BIND and Knot refuse to load such a zone;
//!   Unbound's auth-zone serves the records as they are. Delegated without DS.
//! - 127.0.25.3:443 mta-sts.mail.test, `openssl s_server -WWW` serving the MTA-STS policy
//! - 21.0.127.in-addr.arpa (delegated from the root, on BIND "a"): PTR for 127.0.21.1 only
//! - mail.test has TLSA `3 1 1` (matching the served leaf) and `3 0 1` (zeros) for mx1, and
//!   `3 1 1` for mx2
//! - 127.0.25.1:25 mx1.mail.test, SMTP with STARTTLS; 127.0.25.2:25 mx2.mail.test, without
//!   (scripted shims from `super::mail`, relaying to an `openssl s_server` on 127.0.25.1:4433)
//!
//! Zones are signed at start with `dnssec-keygen`/`dnssec-signzone` (ECDSA P-256 unless said otherwise): healthy.test
//! with RSA-2048 keys and NSEC3 (0 iterations, no salt), expired.test with inception/expiration in 2020.
//!
//! Facts found here (Debian 12: BIND 9.18.49, Knot 3.2.6, Unbound 1.17.1):
//! - `ip netns add` + `ip -n NS addr add 127.0.x.y/8 dev lo` works as root in this container;
//!   Knot and Unbound bind any 127/8 address, BIND only the added ones.
//! - Unbound refuses to query 127/8 unless `do-not-query-localhost: no`, and needs
//!   `local-zone: "test." nodefault` to recurse into a `test.` TLD.
//! - Readiness is checked from inside the namespace (a thread that `setns`es into it).

use std::ffi::c_int;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::process::{find_program, ServerProcess};

extern "C" {
    fn setns(fd: c_int, nstype: c_int) -> c_int;
}
const CLONE_NEWNET: c_int = 0x4000_0000;

pub const ROOT: &str = "127.0.20.1";
pub const TLD: &str = "127.0.20.2";
pub const BIND_A: &str = "127.0.21.1";
pub const KNOT_B: &str = "127.0.22.1";
pub const BIND_OPEN: &str = "127.0.23.1";
pub const NOTHING: &str = "127.0.24.1";
/// What inconsistent.test's own zone says ns2 is (the parent's glue says 127.0.22.1); nothing
/// listens there.
pub const GLUE_ELSEWHERE: &str = "127.0.22.2";
pub const SILENT: &str = "127.0.26.1";
/// dead.test's four nameservers: silent (read queries, never answer).
pub const DEAD: [&str; 4] = ["127.0.27.1", "127.0.27.2", "127.0.27.3", "127.0.27.4"];
/// v6only.test's nameservers (IPv6 glue only, unreachable in the namespace).
pub const V6_ONLY: [&str; 3] = ["2001:db8::53", "3fff::53", "2001:2::53"];
pub const GARBAGE: &str = "127.0.26.2";
pub const LOOPING: &str = "127.0.26.3";
pub const UNBOUND: &str = "127.0.30.1";
/// Unbound as an authoritative server for nsec3alg.test (NSEC3 hash algorithm 2).
pub const NSEC3_UNASSIGNED: &str = "127.0.28.1";
/// mx1.mail.test: SMTP with STARTTLS (scripted shim on port 25, relaying to `openssl s_server`
/// on port 4433 of the same address).
pub const MX_STARTTLS: &str = "127.0.25.1";
/// mta-sts.mail.test: HTTPS (`openssl s_server -WWW`) serving the MTA-STS policy.
pub const MTA_STS: &str = "127.0.25.3";
/// The policy it serves.
pub const MTA_STS_POLICY: &str = "version: STSv1\nmode: testing\nmx: mx1.mail.test\nmax_age: 86400\n";
/// mx2.mail.test: SMTP without STARTTLS.
pub const MX_PLAIN: &str = "127.0.25.2";

/// A network namespace, deleted on Drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(addresses: &[&str]) -> Netns {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!("postura-dns-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        run("ip", &["netns", "add", &name]);
        let netns = Netns { name };
        run("ip", &["-n", &netns.name, "link", "set", "lo", "up"]);
        for address in addresses {
            run("ip", &["-n", &netns.name, "addr", "add", &format!("{address}/8"), "dev", "lo"]);
        }
        netns
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Run `f` on a thread that has entered the namespace (threads it spawns stay inside).
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = fs::File::open(&path).expect("harness: open the namespace");
            // SAFETY: setns on this thread only; the fd is valid for the call.
            let rc = unsafe { setns(file.as_raw_fd(), CLONE_NEWNET) };
            assert_eq!(rc, 0, "harness: setns failed: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("harness: namespace thread panicked")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let output =
        Command::new(find_program(program)).args(args).output().unwrap_or_else(|e| panic!("harness: {program}: {e}"));
    assert!(output.status.success(), "harness: {program} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn run_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let output = Command::new(find_program(program))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("harness: {program}: {e}"));
    assert!(
        output.status.success(),
        "harness: {program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const SOA_TIMERS: &str = "14400 3600 1209600 3600";

fn soa(zone: &str, mname: &str, serial: u32) -> String {
    format!("$TTL 3600\n{zone}. IN SOA {mname}. hostmaster.{zone}. {serial} {SOA_TIMERS}\n")
}

/// Zone files (unsigned) of the lab.
fn zone_texts(serial_b: u32, spki_sha256: &str) -> Vec<(&'static str, String)> {
    let healthy = format!(
        "{}healthy.test. NS ns1.healthy.test.\nhealthy.test. NS ns2.healthy.test.\nns1.healthy.test. A {BIND_A}\nns2.healthy.test. A {KNOT_B}\nwww.healthy.test. A 127.0.21.80\n",
        soa("healthy.test", "ns1.healthy.test", 2024010101)
    );
    let expired = format!(
        "{}expired.test. NS ns1.expired.test.\nexpired.test. NS ns2.expired.test.\nns1.expired.test. A {BIND_A}\nns2.expired.test. A {KNOT_B}\nwww.expired.test. A 127.0.21.81\n",
        soa("expired.test", "ns1.expired.test", 1)
    );
    let inconsistent = |serial: u32, rname: &str| {
        format!(
            "{}inconsistent.test. NS ns1.inconsistent.test.\ninconsistent.test. NS ns3.inconsistent.test.\nns1.inconsistent.test. A {BIND_A}\nns2.inconsistent.test. A {GLUE_ELSEWHERE}\nns3.inconsistent.test. A {NOTHING}\n",
            soa("inconsistent.test", "ns1.inconsistent.test", serial).replace("hostmaster.", rname)
        )
    };
    let mail = format!(
        "{}mail.test. NS ns1.mail.test.\nmail.test. NS ns2.mail.test.\nns1.mail.test. A {BIND_A}\nns2.mail.test. A {KNOT_B}\n\
mail.test. A 127.0.25.1\nmail.test. MX 10 mx1.mail.test.\nmail.test. MX 20 mx2.mail.test.\nmx1.mail.test. A 127.0.25.1\nmx2.mail.test. A 127.0.25.2\n\
mail.test. TXT \"v=spf1 include:_s1.mail.test include:_s2.mail.test a mx -all\"\n\
_s1.mail.test. TXT \"v=spf1 a:h1.mail.test a:h2.mail.test a:h3.mail.test -all\"\n\
_s2.mail.test. TXT \"v=spf1 a:h4.mail.test exists:x.mail.test include:_s3.mail.test ?all\"\n\
_s3.mail.test. TXT \"v=spf1 a:h5.mail.test -all\"\n\
h1.mail.test. A 127.0.25.11\nh2.mail.test. A 127.0.25.12\nh3.mail.test. A 127.0.25.13\nh4.mail.test. A 127.0.25.14\nh5.mail.test. A 127.0.25.15\n\
_dmarc.mail.test. TXT \"v=DMARC1; p=none; rua=mailto:dmarc@mail.test\"\n\
_mta-sts.mail.test. TXT \"v=STSv1; id=20240101\"\n\
_smtp._tls.mail.test. TXT \"v=TLSRPTv1; rua=mailto:tls@mail.test\"\n\
mail.test. CAA 0 issue \"ca.test\"\n\
_25._tcp.mx1.mail.test. TLSA 3 1 1 {spki_sha256}\n_25._tcp.mx1.mail.test. TLSA 3 0 1 {zeros}\n\
_25._tcp.mx2.mail.test. TLSA 3 1 1 {spki_sha256}\n\
mta-sts.mail.test. A {MTA_STS}\n",
        soa("mail.test", "ns1.mail.test", 7),
        zeros = "0".repeat(64),
    );
    let open = format!(
        "{}open.test. NS ns.open.test.\nns.open.test. A {BIND_OPEN}\nwww.open.test. A 127.0.23.80\n",
        soa("open.test", "ns.open.test", 3)
    );
    let hostile = format!(
        "{}hostile.test. NS ns1.hostile.test.\nhostile.test. NS silent.hostile.test.\nhostile.test. NS garbage.hostile.test.\nhostile.test. NS loop.hostile.test.\n\
ns1.hostile.test. A {BIND_A}\nsilent.hostile.test. A {SILENT}\ngarbage.hostile.test. A {GARBAGE}\nloop.hostile.test. A {LOOPING}\n",
        soa("hostile.test", "ns1.hostile.test", 5)
    );
    // Served by Knot only (BIND refuses to load a zone whose NS target is a CNAME).
    let alias = format!(
        "{}alias.test. NS ns1.alias.test.\nalias.test. NS ns2.alias.test.\nns1.alias.test. A {KNOT_B}\nns2.alias.test. CNAME ns1.alias.test.\nalias.test. MX 0 .\nalias.test. TXT \"v=spf1 ip4:192.0.2.1 foo:bar ?all\"\n\
baddigest.alias.test. NS ns1.alias.test.\nbaddigest.alias.test. DS 12345 13 2 0011223344556677\n",
        soa("alias.test", "ns1.alias.test", 9)
    );
    let optout = format!(
        "{}optout.test. NS ns1.optout.test.\noptout.test. NS ns2.optout.test.\nns1.optout.test. A {BIND_A}\nns2.optout.test. A {KNOT_B}\nwww.optout.test. A 127.0.21.82\ninsecure.optout.test. NS ns.elsewhere.test.\n",
        soa("optout.test", "ns1.optout.test", 11)
    );
    let nsec3alg = format!(
        "{}nsec3alg.test. NS ns1.nsec3alg.test.\nns1.nsec3alg.test. A {NSEC3_UNASSIGNED}\nwww.nsec3alg.test. A 127.0.28.80\n",
        soa("nsec3alg.test", "ns1.nsec3alg.test", 12)
    );
    vec![
        ("nsec3alg.test", nsec3alg),
        ("alias.test", alias),
        ("optout.test", optout),
        ("healthy.test", healthy),
        ("expired.test", expired),
        ("inconsistent.test", inconsistent(1, "hostmaster.")),
        ("inconsistent.test.b", inconsistent(serial_b, "dnsadmin.")),
        ("mail.test", mail),
        ("open.test", open),
        ("hostile.test", hostile),
    ]
}

fn tld_text() -> String {
    let mut text = soa("test", "ns.nic.test", 1);
    text.push_str(&format!("test. NS ns.nic.test.\nns.nic.test. A {TLD}\n"));
    let delegations: [(&str, &[(&str, &str)]); 12] = [
        ("nsec3alg", &[("ns1.nsec3alg.test", NSEC3_UNASSIGNED)]),
        ("optout", &[("ns1.optout.test", BIND_A), ("ns2.optout.test", KNOT_B)]),
        (
            "dead",
            &[
                ("ns1.dead.test", DEAD[0]),
                ("ns2.dead.test", DEAD[1]),
                ("ns3.dead.test", DEAD[2]),
                ("ns4.dead.test", DEAD[3]),
            ],
        ),
        (
            "v6only",
            &[("ns1.v6only.test", V6_ONLY[0]), ("ns2.v6only.test", V6_ONLY[1]), ("ns3.v6only.test", V6_ONLY[2])],
        ),
        ("alias", &[("ns1.alias.test", KNOT_B), ("ns2.alias.test", KNOT_B)]),
        ("healthy", &[("ns1.healthy.test", BIND_A), ("ns2.healthy.test", KNOT_B)]),
        ("expired", &[("ns1.expired.test", BIND_A), ("ns2.expired.test", KNOT_B)]),
        ("inconsistent", &[("ns1.inconsistent.test", BIND_A), ("ns2.inconsistent.test", KNOT_B)]),
        ("mail", &[("ns1.mail.test", BIND_A), ("ns2.mail.test", KNOT_B)]),
        ("open", &[("ns.open.test", BIND_OPEN)]),
        ("lame", &[("ns.lame.test", KNOT_B)]),
        (
            "hostile",
            &[
                ("ns1.hostile.test", BIND_A),
                ("silent.hostile.test", SILENT),
                ("garbage.hostile.test", GARBAGE),
                ("loop.hostile.test", LOOPING),
            ],
        ),
    ];
    for (zone, servers) in delegations {
        for (name, address) in servers {
            let kind = if address.contains(':') { "AAAA" } else { "A" };
            text.push_str(&format!("{zone}.test. NS {name}.\n{name}. {kind} {address}\n"));
        }
    }
    text
}

fn root_text() -> String {
    format!(
        "$TTL 86400\n. IN SOA a.root-servers.lab. hostmaster.root-servers.lab. 1 1800 900 604800 86400\n. NS a.root-servers.lab.\na.root-servers.lab. A {ROOT}\ntest. NS ns.nic.test.\nns.nic.test. A {TLD}\n\
         21.0.127.in-addr.arpa. NS ns1.healthy.test.\n"
    )
}

/// Sign `file` for `zone` in `dir` (keys generated there); returns the signed file's name.
fn sign(dir: &Path, zone: &str, file: &str, algorithm: &[&str], extra: &[&str]) -> String {
    let origin = if zone == "." { ".".to_string() } else { format!("{zone}.") };
    let mut ksk = vec!["-q", "-K", ".", "-f", "KSK"];
    ksk.extend_from_slice(algorithm);
    ksk.push(&origin);
    run_in(dir, "dnssec-keygen", &ksk);
    let mut zsk = vec!["-q", "-K", "."];
    zsk.extend_from_slice(algorithm);
    zsk.push(&origin);
    run_in(dir, "dnssec-keygen", &zsk);
    let signed = format!("{file}.signed");
    let mut args = vec!["-q", "-S", "-K", ".", "-d", ".", "-o", &origin, "-f", &signed];
    args.extend_from_slice(extra);
    args.push(file);
    run_in(dir, "dnssec-signzone", &args);
    signed
}

fn append(path: &Path, text: &str) {
    let mut file = fs::OpenOptions::new().append(true).open(path).expect("harness: append");
    file.write_all(text.as_bytes()).expect("harness: append");
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (a DANE `3 1 1` association), in hex.
pub fn spki_sha256(certificate: &Path) -> String {
    let dir = tempfile::tempdir().expect("harness: temp dir");
    let public = dir.path().join("public.pem");
    let der = dir.path().join("public.der");
    let pem = run("openssl", &["x509", "-in", &certificate.display().to_string(), "-noout", "-pubkey"]);
    fs::write(&public, pem).expect("harness: public key");
    run(
        "openssl",
        &[
            "pkey",
            "-pubin",
            "-in",
            &public.display().to_string(),
            "-outform",
            "DER",
            "-out",
            &der.display().to_string(),
        ],
    );
    let digest = run("openssl", &["dgst", "-sha256", "-r", &der.display().to_string()]);
    digest.split_whitespace().next().expect("harness: digest").to_string()
}

const ECDSA: &[&str] = &["-a", "ECDSAP256SHA256"];
/// RSA keys make healthy.test's DNSKEY answer larger than 512 bytes (the truncation probe).
const RSA_2048: &[&str] = &["-a", "RSASHA256", "-b", "2048"];

/// Build and sign every zone in `dir`; returns the root's DS set.
fn build_zones(dir: &Path) -> String {
    for (name, text) in zone_texts(2, &spki_sha256(&super::pki::Pki::shared().rsa.cert)) {
        fs::write(dir.join(format!("{name}.zone")), text).expect("harness: write zone");
    }
    sign(dir, "healthy.test", "healthy.test.zone", RSA_2048, &["-3", "-", "-H", "0"]);
    // NSEC3 with opt-out (-A), 5 extra iterations and a salt: RFC 9276 says neither.
    sign(dir, "optout.test", "optout.test.zone", ECDSA, &["-3", "abcdef", "-H", "5", "-A"]);
    sign(dir, "nsec3alg.test", "nsec3alg.test.zone", ECDSA, &["-3", "-", "-H", "0"]);
    let signed = fs::read_to_string(dir.join("nsec3alg.test.zone.signed")).expect("harness: nsec3alg");
    let rewritten: String = signed
        .lines()
        .map(|line| {
            let line = if line.contains("RRSIG") {
                line.to_string()
            } else {
                line.replacen("NSEC3PARAM 1 ", "NSEC3PARAM 2 ", 1)
            };
            let line = if line.contains("RRSIG") { line } else { line.replacen("NSEC3 1 ", "NSEC3 2 ", 1) };
            line + "\n"
        })
        .collect();
    assert!(rewritten.contains("NSEC3PARAM 2 ") && rewritten.contains("\tNSEC3 2 "), "harness: NSEC3 rewrite");
    fs::write(dir.join("nsec3alg.test.zone.signed"), rewritten).expect("harness: nsec3alg");
    sign(dir, "expired.test", "expired.test.zone", ECDSA, &["-P", "-s", "20200101000000", "-e", "20200201000000"]);
    fs::write(
        dir.join("reverse.zone"),
        format!(
            "{}21.0.127.in-addr.arpa. NS ns1.healthy.test.\n1.21.0.127.in-addr.arpa. PTR ns1.healthy.test.\n",
            soa("21.0.127.in-addr.arpa", "ns1.healthy.test", 1)
        ),
    )
    .expect("harness: write zone");
    fs::write(dir.join("test.zone"), tld_text()).expect("harness: write zone");
    for child in ["healthy.test.", "expired.test.", "optout.test."] {
        let ds = fs::read_to_string(dir.join(format!("dsset-{child}"))).expect("harness: dsset");
        append(&dir.join("test.zone"), &ds);
    }
    sign(dir, "test", "test.zone", ECDSA, &[]);
    fs::write(dir.join("root.zone"), root_text()).expect("harness: write zone");
    append(&dir.join("root.zone"), &fs::read_to_string(dir.join("dsset-test.")).expect("harness: dsset"));
    sign(dir, ".", "root.zone", ECDSA, &[]);
    fs::write(
        dir.join("root.hints"),
        format!(". 3600000 NS a.root-servers.lab.\na.root-servers.lab. 3600000 A {ROOT}\n"),
    )
    .expect("harness: hints");
    fs::read_to_string(dir.join("dsset-.")).expect("harness: root dsset")
}

fn bind_conf(dir: &Path, address: &str, open: bool, zones: &[(&str, &str)]) -> String {
    let mut conf = format!(
        "options {{\n directory \"{d}\";\n pid-file \"{d}/named.pid\";\n session-keyfile \"{d}/session.key\";\n listen-on port 53 {{ {address}; }};\n listen-on-v6 {{ none; }};\n dnssec-validation no;\n notify no;\n",
        d = dir.display()
    );
    if open {
        conf.push_str(
            " recursion yes;\n allow-recursion { any; };\n allow-query-cache { any; };\n allow-transfer { any; };\n",
        );
    } else {
        // A version that is only white space discloses nothing (issue 16).
        conf.push_str(
            " recursion no;\n allow-transfer { none; };\n version \" \";\n hostname none;\n server-id none;\n",
        );
    }
    conf.push_str("};\ncontrols { };\n");
    // BIND's built-in CHAOS view rate-limits its answers (3 a second, dropped beyond): the same
    // view without the limit, so that version answers do not depend on how many tests run.
    conf.push_str("view \"chaos\" chaos {\n recursion no;\n zone \"version.bind\" chaos { type primary; database \"_builtin version\"; };\n zone \"hostname.bind\" chaos { type primary; database \"_builtin hostname\"; };\n zone \"authors.bind\" chaos { type primary; database \"_builtin authors\"; };\n zone \"id.server\" chaos { type primary; database \"_builtin id\"; };\n};\nview \"default\" in {\n");
    if open {
        conf.push_str(&format!("zone \".\" {{ type hint; file \"{}/root.hints\"; }};\n", dir.display()));
    }
    for (zone, file) in zones {
        conf.push_str(&format!("zone \"{zone}\" {{ type primary; file \"{file}\"; }};\n"));
    }
    conf.push_str("};\n");
    conf
}

fn knot_conf(dir: &Path, address: &str, zones: &[(&str, &str)]) -> String {
    let mut conf = format!(
        "server:\n  rundir: \"{d}\"\n  listen: {address}@53\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\ndatabase:\n  storage: \"{d}/db\"\nlog:\n  - target: stderr\n    any: info\ntemplate:\n  - id: default\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\nzone:\n",
        d = dir.display()
    );
    for (zone, file) in zones {
        conf.push_str(&format!("  - domain: \"{zone}\"\n    file: \"{file}\"\n"));
    }
    conf
}

/// A hostile nameserver's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostility {
    /// Reads queries and never answers (UDP and TCP).
    Silent,
    /// Answers with the query's id, QR set, then bytes that are not a DNS message.
    Garbage,
    /// Answers with a record whose owner name is a compression pointer to itself.
    CompressionLoop,
    /// Answers every query at once, always with the wrong message id.
    WrongId,
    /// Over UDP, an empty answer with TC set; over TCP, a length prefix announcing more bytes than
    /// it sends, then silence with the connection open.
    Truncated,
    /// Over UDP, an empty answer with TC set; over TCP, a 64 KB answer: one TXT record of 255
    /// strings of 250 bytes, whatever was asked.
    HugeTxt,
}

/// The question section of `query` (name, type, class), if it parses that far.
fn question(query: &[u8]) -> Option<&[u8]> {
    let end = 12 + query.get(12..)?.iter().position(|b| *b == 0)? + 1 + 4;
    query.get(12..end)
}

/// A header answering `query` (QR, RD copied, RA), with `tc` and the given section counts,
/// followed by the question.
fn answer_header(query: &[u8], tc: bool, answers: u16) -> Option<Vec<u8>> {
    let flags = 0x80 | (query[2] & 0x01) | if tc { 0x02 } else { 0 };
    let mut out = vec![query[0], query[1], flags, 0x80, 0, 1];
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question(query)?);
    Some(out)
}

/// What a hostile server sends to `query` over UDP (where it differs from TCP).
pub fn hostile_udp_answer(kind: Hostility, query: &[u8]) -> Option<Vec<u8>> {
    match kind {
        Hostility::Truncated | Hostility::HugeTxt if query.len() >= 12 => answer_header(query, true, 0),
        _ => hostile_answer(kind, query),
    }
}

/// The answer a hostile server sends to `query`, if any.
pub fn hostile_answer(kind: Hostility, query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    match kind {
        Hostility::Silent => None,
        Hostility::Garbage => {
            let mut out = vec![query[0], query[1], 0x84, 0x00, 0xff, 0xff, 0xff, 0xff];
            out.extend_from_slice(b"<html>not dns</html>\x00\x01\x02");
            Some(out)
        }
        Hostility::WrongId => {
            let mut out = answer_header(query, false, 0)?;
            let wrong = u16::from_be_bytes([query[0], query[1]]) ^ 0x5a5a;
            out[..2].copy_from_slice(&wrong.to_be_bytes());
            Some(out)
        }
        Hostility::Truncated => answer_header(query, false, 0),
        Hostility::HugeTxt => {
            let mut out = answer_header(query, false, 1)?;
            out.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
            let strings = 255usize;
            let rdata_len = strings * 251;
            out.extend_from_slice(&(rdata_len as u16).to_be_bytes());
            for _ in 0..strings {
                out.push(250);
                out.extend(std::iter::repeat_n(b'v', 250));
            }
            Some(out)
        }
        Hostility::CompressionLoop => {
            // Header with one question (copied) and one answer whose name points to itself.
            let question_end = 12 + query[12..].iter().position(|b| *b == 0)? + 1 + 4;
            let mut out = vec![query[0], query[1], 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
            out.extend_from_slice(query.get(12..question_end)?);
            let at = out.len() as u16;
            out.extend_from_slice(&(0xc000 | at).to_be_bytes());
            out.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
            Some(out)
        }
    }
}

/// A hostile nameserver on UDP and TCP port 53 of `address`, inside a namespace (or not).
pub struct HostileDns {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub queries: Arc<AtomicU32>,
}

impl HostileDns {
    /// Bind now (on the calling thread's namespace) and serve until dropped.
    pub fn serve(address: SocketAddr, kind: Hostility) -> HostileDns {
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicU32::new(0));
        let udp = UdpSocket::bind(address).expect("harness: hostile UDP bind");
        udp.set_read_timeout(Some(Duration::from_millis(20))).expect("harness: timeout");
        let tcp = TcpListener::bind(address).expect("harness: hostile TCP bind");
        tcp.set_nonblocking(true).expect("harness: nonblocking");
        let (s1, q1) = (stop.clone(), queries.clone());
        let udp_thread = std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while !s1.load(Ordering::SeqCst) {
                if let Ok((n, peer)) = udp.recv_from(&mut buffer) {
                    q1.fetch_add(1, Ordering::SeqCst);
                    if let Some(answer) = hostile_udp_answer(kind, &buffer[..n]) {
                        let _ = udp.send_to(&answer, peer);
                    }
                }
            }
        });
        let (s2, q2) = (stop.clone(), queries.clone());
        let tcp_thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !s2.load(Ordering::SeqCst) {
                match tcp.accept() {
                    Ok((mut stream, _)) => {
                        q2.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                        let mut prefix = [0u8; 2];
                        if stream.read_exact(&mut prefix).is_ok() {
                            let mut query = vec![0u8; u16::from_be_bytes(prefix) as usize];
                            if stream.read_exact(&mut query).is_ok() {
                                if let Some(answer) = hostile_answer(kind, &query) {
                                    // A truncating server announces more than it sends.
                                    let announced = if kind == Hostility::Truncated { 4096 } else { answer.len() };
                                    let _ = stream.write_all(&(announced as u16).to_be_bytes());
                                    let _ = stream.write_all(&answer);
                                }
                            }
                        }
                        // Keep the connection open: the client must end it by its own timeout.
                        held.push(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        HostileDns { stop, threads: vec![udp_thread, tcp_thread], queries }
    }
}

impl Drop for HostileDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The whole lab. Drop stops the servers, then deletes the namespace.
pub struct DnsLab {
    servers: Vec<ServerProcess>,
    hostile: Vec<HostileDns>,
    mail: Vec<super::mail::StarttlsShim>,
    pub hints: PathBuf,
    pub root_ds: String,
    pub dir: TempDir,
    pub netns: Netns,
}

static SHARED_LAB: std::sync::OnceLock<DnsLab> = std::sync::OnceLock::new();

extern "C" {
    fn atexit(callback: extern "C" fn()) -> c_int;
}

/// Statics are never dropped: at exit, delete the shared lab's namespace and files (its server
/// processes die with the test process, by PDEATHSIG).
extern "C" fn remove_shared_lab() {
    if let Some(lab) = SHARED_LAB.get() {
        let _ = Command::new("ip").args(["netns", "del", &lab.netns.name]).status();
        let _ = fs::remove_dir_all(lab.dir.path());
    }
}

impl DnsLab {
    /// The lab of this test process, started on first use (≈15 s) and shared by every test
    /// of the binary, so that each zone's case is its own test.
    pub fn shared() -> &'static DnsLab {
        SHARED_LAB.get_or_init(|| {
            let lab = DnsLab::start();
            // SAFETY: registers a plain function; it runs once at process exit.
            unsafe {
                atexit(remove_shared_lab);
            }
            lab
        })
    }

    pub fn start() -> DnsLab {
        let netns = Netns::create(&[
            ROOT,
            TLD,
            BIND_A,
            KNOT_B,
            BIND_OPEN,
            SILENT,
            GARBAGE,
            LOOPING,
            UNBOUND,
            NSEC3_UNASSIGNED,
            DEAD[0],
            DEAD[1],
            DEAD[2],
            DEAD[3],
        ]);
        let dir = tempfile::Builder::new().prefix("postura-dnslab-").tempdir().expect("harness: temp dir");
        let root_ds = build_zones(dir.path());
        let base = dir.path().to_path_buf();
        let z = |name: &str| base.join(name).display().to_string();
        let mut lab = DnsLab {
            servers: Vec::new(),
            hostile: Vec::new(),
            mail: Vec::new(),
            hints: dir.path().join("root.hints"),
            root_ds,
            dir,
            netns,
        };

        let (root_signed, tld_signed) = (z("root.zone.signed"), z("test.zone.signed"));
        let (healthy, expired) = (z("healthy.test.zone.signed"), z("expired.test.zone.signed"));
        let (inconsistent_a, inconsistent_b) = (z("inconsistent.test.zone"), z("inconsistent.test.b.zone"));
        let (mail, open, hostile) = (z("mail.test.zone"), z("open.test.zone"), z("hostile.test.zone"));
        let alias = z("alias.test.zone");
        let optout = z("optout.test.zone.signed");
        let reverse = z("reverse.zone");

        lab.start_knot("knot-root", ROOT, &[(".", &root_signed)]);
        lab.start_bind("bind-tld", TLD, false, &[("test", &tld_signed)]);
        lab.start_bind(
            "bind-a",
            BIND_A,
            false,
            &[
                ("healthy.test", &healthy),
                ("expired.test", &expired),
                ("inconsistent.test", &inconsistent_a),
                ("mail.test", &mail),
                ("hostile.test", &hostile),
                ("optout.test", &optout),
                ("21.0.127.in-addr.arpa", &reverse),
            ],
        );
        lab.start_knot(
            "knot-b",
            KNOT_B,
            &[
                ("healthy.test", &healthy),
                ("expired.test", &expired),
                ("inconsistent.test", &inconsistent_b),
                ("mail.test", &mail),
                ("alias.test", &alias),
                ("optout.test", &optout),
            ],
        );
        lab.start_bind("bind-open", BIND_OPEN, true, &[("open.test", &open)]);
        lab.start_unbound();
        lab.start_unbound_authority(&z("nsec3alg.test.zone.signed"));
        lab.start_mail();
        lab.hostile = lab.netns.enter(|| {
            let mut servers: Vec<HostileDns> =
                DEAD.iter().map(|a| HostileDns::serve(format!("{a}:53").parse().unwrap(), Hostility::Silent)).collect();
            servers.extend([
                HostileDns::serve(format!("{SILENT}:53").parse().unwrap(), Hostility::Silent),
                HostileDns::serve(format!("{GARBAGE}:53").parse().unwrap(), Hostility::Garbage),
                HostileDns::serve(format!("{LOOPING}:53").parse().unwrap(), Hostility::CompressionLoop),
            ]);
            servers
        });
        lab
    }

    fn server_dir(&self, name: &str) -> TempDir {
        tempfile::Builder::new().prefix(&format!("postura-{name}-")).tempdir().expect("harness: temp dir")
    }

    fn wait_ready(&mut self, server: ServerProcess, address: &str) {
        self.wait_ready_at(server, format!("{address}:53").parse().unwrap());
    }

    fn wait_ready_at(&mut self, mut server: ServerProcess, addr: SocketAddr) {
        let address = addr.ip();
        let start = Instant::now();
        loop {
            if let Some(status) = server.exited() {
                panic!("harness: server on {address} exited with {status}\n{}", server.diagnostics());
            }
            if self.netns.enter(move || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()) {
                break;
            }
            if start.elapsed() > Duration::from_secs(15) {
                panic!("harness: server on {address} not ready\n{}", server.diagnostics());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.servers.push(server);
    }

    fn start_bind(&mut self, name: &str, address: &str, open: bool, zones: &[(&str, &str)]) {
        let dir = self.server_dir(name);
        let conf = bind_conf(dir.path(), address, open, zones);
        if open {
            fs::copy(&self.hints, dir.path().join("root.hints")).expect("harness: hints");
        }
        let conf_path = dir.path().join("named.conf");
        fs::write(&conf_path, conf).expect("harness: named.conf");
        let mut command = self.netns.command(&find_program("named"));
        command.args(["-g", "-4", "-n", "1", "-c"]).arg(&conf_path);
        let server = ServerProcess::spawn(name, command, dir);
        self.wait_ready(server, address);
    }

    fn start_knot(&mut self, name: &str, address: &str, zones: &[(&str, &str)]) {
        let dir = self.server_dir(name);
        let conf_path = dir.path().join("knot.conf");
        fs::write(&conf_path, knot_conf(dir.path(), address, zones)).expect("harness: knot.conf");
        let mut command = self.netns.command(&find_program("knotd"));
        command.arg("-c").arg(&conf_path);
        let server = ServerProcess::spawn(name, command, dir);
        self.wait_ready(server, address);
    }

    fn start_unbound(&mut self) {
        let dir = self.server_dir("unbound");
        let d = dir.path();
        fs::write(d.join("root.ds"), &self.root_ds).expect("harness: root.ds");
        fs::copy(&self.hints, d.join("root.hints")).expect("harness: hints");
        let conf = format!(
            "server:\n  interface: {UNBOUND}\n  port: 53\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n  root-hints: \"{d}/root.hints\"\n  trust-anchor-file: \"{d}/root.ds\"\n  local-zone: \"test.\" nodefault\n  module-config: \"validator iterator\"\n  num-threads: 1\n  verbosity: 1\nremote-control:\n  control-enable: no\n",
            d = d.display()
        );
        let conf_path = d.join("unbound.conf");
        fs::write(&conf_path, conf).expect("harness: unbound.conf");
        let mut command = self.netns.command(&find_program("unbound"));
        command.arg("-d").arg("-c").arg(&conf_path);
        let server = ServerProcess::spawn("unbound", command, dir);
        self.wait_ready(server, UNBOUND);
    }

    /// Unbound serving one zone file as it is (no recursion, no validation).
    fn start_unbound_authority(&mut self, zone_file: &str) {
        let dir = self.server_dir("unbound-auth");
        let d = dir.path();
        let conf = format!(
            "server:\n  interface: {NSEC3_UNASSIGNED}\n  port: 53\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  local-zone: \"test.\" nodefault\n  module-config: \"iterator\"\n  num-threads: 1\n  verbosity: 1\nauth-zone:\n  name: \"nsec3alg.test\"\n  zonefile: \"{zone_file}\"\n  for-downstream: yes\n  for-upstream: no\nremote-control:\n  control-enable: no\n",
            d = d.display()
        );
        let conf_path = d.join("unbound.conf");
        fs::write(&conf_path, conf).expect("harness: unbound.conf");
        let mut command = self.netns.command(&find_program("unbound"));
        command.arg("-d").arg("-c").arg(&conf_path);
        let server = ServerProcess::spawn("unbound-auth", command, dir);
        self.wait_ready(server, NSEC3_UNASSIGNED);
    }

    fn start_mail(&mut self) {
        let pki = super::pki::Pki::shared();
        let dir = self.server_dir("s_server");
        let mut command = self.netns.command(&find_program("openssl"));
        command
            .args(["s_server", "-accept", &format!("{MX_STARTTLS}:4433"), "-rev", "-cert"])
            .arg(&pki.rsa.cert)
            .arg("-key")
            .arg(&pki.rsa.key)
            .arg("-cert_chain")
            .arg(&pki.intermediate_cert);
        command.current_dir(dir.path());
        let server = ServerProcess::spawn("openssl s_server", command, dir);
        let backend: SocketAddr = format!("{MX_STARTTLS}:4433").parse().unwrap();
        self.wait_ready_at(server, backend);
        let web = self.server_dir("mta-sts");
        fs::create_dir_all(web.path().join(".well-known")).expect("harness: web dir");
        fs::write(web.path().join(".well-known/mta-sts.txt"), MTA_STS_POLICY).expect("harness: policy");
        let mut command = self.netns.command(&find_program("openssl"));
        command
            .args(["s_server", "-accept", &format!("{MTA_STS}:443"), "-WWW", "-cert"])
            .arg(&pki.rsa.cert)
            .arg("-key")
            .arg(&pki.rsa.key);
        command.current_dir(web.path());
        let server = ServerProcess::spawn("openssl s_server -WWW", command, web);
        self.wait_ready_at(server, format!("{MTA_STS}:443").parse().unwrap());
        self.mail = self.netns.enter(move || {
            use super::mail::{MailProtocol, StarttlsShim};
            vec![
                StarttlsShim::start_at(format!("{MX_STARTTLS}:25").parse().unwrap(), MailProtocol::Smtp, true, backend),
                StarttlsShim::start_at(format!("{MX_PLAIN}:25").parse().unwrap(), MailProtocol::Smtp, false, backend),
            ]
        });
    }

    /// Run `postura ARGS` inside the lab's namespace; returns (exit status, stdout, stderr).
    pub fn postura(&self, args: &[&str]) -> (std::process::ExitStatus, String, String) {
        let mut command = self.netns.command(Path::new(env!("CARGO_BIN_EXE_postura")));
        command.args(args);
        let output = command.output().expect("harness: run postura");
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Diagnostics of every server, for failure messages.
    pub fn diagnostics(&self) -> String {
        self.servers.iter().map(|s| s.diagnostics()).collect::<Vec<_>>().join("\n")
    }
}
