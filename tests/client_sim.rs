//! Client simulation (`tls::clients`) against real servers: for every lab server, postura scans
//! it once, simulates every client of `profiles/clients.toml` from the facts, and each verdict
//! (connects or not; protocol, cipher suite and group) must equal what `openssl s_client`
//! negotiates when it sends that client's offer (`-min/-max_protocol`, `-cipher`,
//! `-ciphersuites`, `-groups` with a `*` per key share, `-sigalgs`).
//!
//! The oracle client is OpenSSL 3.5.4 (it can send hybrid ML-KEM key shares), or OpenSSL 1.1.1w
//! against the legacy server (it still has SSLv3, RC4 and 3DES). Where that OpenSSL cannot send
//! part of a client's offer (a suite or curve it lacks), the offer is trimmed to what it can send;
//! a client is left out of the comparison only when the trimmed offer would change the simulated
//! outcome, and the test prints which and why. Parts the simulation reports as undetermined are
//! not compared (their count is printed).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::legacy_openssl::{openssl_111, LegacyOpenSslServer};
use common::openssl35::{openssl_35, OpenSsl35Server};
use common::*;
use postura::engine::{run, ScanOptions};
use postura::facts::{TargetResult, TlsFacts};
use postura::target::TargetSpec;
use postura::tls::clients::{builtin_profiles, leaf_key, simulate, ClientProfile, ClientSimulation, SimulatedOutcome};
use postura::tls::registry::{group_name, Protocol};

fn scan(address: SocketAddr) -> TargetResult {
    let spec = TargetSpec {
        host: TEST_HOST.to_string(),
        port: address.port(),
        service: postura::profile::Service::Tls,
        pinned: vec![address.ip()],
        sector: None,
        operator: None,
        xmpp_domain: None,
    };
    let options =
        ScanOptions { timeout: Duration::from_secs(10), deadline: Duration::from_secs(180), ..Default::default() };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut results = runtime.block_on(run(vec![spec], &options, None, |_| {}));
    let result = results.remove(0);
    assert_eq!(result.error, None, "scan of {address} failed: {result:#?}");
    result
}

/// Which OpenSSL plays the client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Oracle {
    V111,
    V35,
}

impl Oracle {
    fn binary(self) -> &'static Path {
        match self {
            Oracle::V111 => openssl_111(),
            Oracle::V35 => openssl_35(),
        }
    }

    fn command(self) -> Command {
        let mut command = Command::new("timeout");
        command.args(["-k", "2", "15"]).arg(self.binary()).env("OPENSSL_CONF", "/dev/null");
        command
    }

    /// IANA code → OpenSSL name of every suite this OpenSSL has.
    fn suite_names(self) -> BTreeMap<u16, String> {
        let output = self
            .command()
            .args(["ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"])
            .output()
            .expect("run openssl ciphers");
        let mut names = BTreeMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let t: Vec<&str> = line.split_whitespace().collect();
            if t.len() < 6 || t[1] != "-" || t[3] != "-" {
                continue;
            }
            let Some((a, b)) = t[0].split_once(',') else { continue };
            let (Ok(a), Ok(b)) = (
                u8::from_str_radix(a.trim_start_matches("0x"), 16),
                u8::from_str_radix(b.trim_start_matches("0x"), 16),
            ) else {
                continue;
            };
            names.insert(u16::from_be_bytes([a, b]), t[4].to_string());
        }
        assert!(!names.is_empty(), "openssl ciphers listed nothing");
        names
    }

    fn group_name(self, name: &str) -> Option<&'static str> {
        let both = match name {
            "x25519" => "X25519",
            "secp256r1" => "P-256",
            "secp384r1" => "P-384",
            "secp521r1" => "P-521",
            "x448" => "X448",
            "brainpoolP256r1" => "brainpoolP256r1",
            "brainpoolP384r1" => "brainpoolP384r1",
            "brainpoolP512r1" => "brainpoolP512r1",
            _ => "",
        };
        if !both.is_empty() {
            return Some(both);
        }
        if self == Oracle::V35 {
            return match name {
                "ffdhe2048" => Some("ffdhe2048"),
                "ffdhe3072" => Some("ffdhe3072"),
                "ffdhe4096" => Some("ffdhe4096"),
                "ffdhe6144" => Some("ffdhe6144"),
                "ffdhe8192" => Some("ffdhe8192"),
                "X25519MLKEM768" => Some("X25519MLKEM768"),
                "SecP256r1MLKEM768" => Some("SecP256r1MLKEM768"),
                "SecP384r1MLKEM1024" => Some("SecP384r1MLKEM1024"),
                _ => None,
            };
        }
        None
    }
}

fn sigalg_name(code: u16) -> Option<&'static str> {
    Some(match code {
        0x0401 => "rsa_pkcs1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0201 => "RSA+SHA1",
        0x0203 => "ECDSA+SHA1",
        0x0301 => "RSA+SHA224",
        0x0303 => "ECDSA+SHA224",
        _ => return None,
    })
}

fn protocol_flag(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Sslv2 | Protocol::Sslv3 => "SSLv3",
        Protocol::Tls10 => "TLSv1",
        Protocol::Tls11 => "TLSv1.1",
        Protocol::Tls12 => "TLSv1.2",
        Protocol::Tls13 => "TLSv1.3",
    }
}

/// The part of `client`'s offer this OpenSSL can send, and the s_client arguments that send it.
fn express(client: &ClientProfile, oracle: Oracle, suites: &BTreeMap<u16, String>) -> (ClientProfile, Vec<String>) {
    let mut trimmed = client.clone();
    trimmed.protocols.retain(|&p| p != Protocol::Sslv3 || oracle == Oracle::V111);
    trimmed.cipher_suites.retain(|code| suites.contains_key(code));
    trimmed.groups.retain(|g| oracle.group_name(g).is_some());
    trimmed.key_shares.retain(|g| trimmed.groups.contains(g));
    if trimmed.protocols.contains(&Protocol::Tls13) && (oracle == Oracle::V111 || trimmed.key_shares.is_empty()) {
        // OpenSSL 1.1.1 sends one key share, for its first group; 3.5 does so when none is marked.
        trimmed.key_shares = trimmed.groups.first().cloned().into_iter().collect();
    }
    trimmed.signature_algorithms.retain(|&s| sigalg_name(s).is_some());
    if !trimmed.cipher_suites.iter().any(|c| c >> 8 != 0x13) {
        // Without a TLS ≤ 1.2 suite this OpenSSL can send, only TLS 1.3 is left of the offer.
        trimmed.protocols.retain(|&p| p == Protocol::Tls13);
    }
    // Safari lists one scheme twice; OpenSSL 1.1.1 refuses a repeated entry.
    let mut seen = std::collections::BTreeSet::new();
    trimmed.signature_algorithms.retain(|&s| seen.insert(s));

    let mut args = Vec::new();
    if let (Some(min), Some(max)) = (trimmed.protocols.iter().min(), trimmed.protocols.iter().max()) {
        args.extend([
            "-min_protocol".into(),
            protocol_flag(*min).into(),
            "-max_protocol".into(),
            protocol_flag(*max).into(),
        ]);
    }
    let legacy: Vec<&str> =
        trimmed.cipher_suites.iter().filter(|c| **c >> 8 != 0x13).map(|c| suites[c].as_str()).collect();
    let tls13: Vec<&str> =
        trimmed.cipher_suites.iter().filter(|c| **c >> 8 == 0x13).map(|c| suites[c].as_str()).collect();
    if legacy.is_empty() {
        // A TLS 1.3-only offer: -cipher then only sets the security level.
        args.extend(["-cipher".into(), "ALL:@SECLEVEL=0".into()]);
    } else {
        args.extend(["-cipher".into(), format!("{}:@SECLEVEL=0", legacy.join(":"))]);
    }
    args.extend(["-ciphersuites".into(), tls13.join(":")]);
    if !trimmed.groups.is_empty() {
        let groups: Vec<String> = trimmed
            .groups
            .iter()
            .map(|g| {
                let name = oracle.group_name(g).unwrap_or_default();
                let share = oracle == Oracle::V35 && trimmed.key_shares.contains(g);
                format!("{}{name}", if share { "*" } else { "" })
            })
            .collect();
        args.extend(["-groups".into(), groups.join(":")]);
    }
    if !trimmed.signature_algorithms.is_empty() {
        let names: Vec<&str> = trimmed.signature_algorithms.iter().filter_map(|&s| sigalg_name(s)).collect();
        args.extend(["-sigalgs".into(), names.join(":")]);
    }
    if trimmed.sni {
        args.extend(["-servername".into(), TEST_HOST.into()]);
    } else {
        args.push("-noservername".into());
    }
    (trimmed, args)
}

/// What s_client negotiated.
#[derive(Debug, Default)]
struct Negotiated {
    connected: bool,
    protocol: Option<Protocol>,
    suite: Option<u16>,
    /// Registry name of the ECDHE/TLS 1.3 group, or `DH-<bits>` for DHE.
    group: Option<String>,
    output: String,
}

/// Received handshake messages from `-msg` output: (name, bytes), in order.
fn received_messages(output: &str) -> Vec<(String, Vec<u8>)> {
    let mut messages = Vec::new();
    let mut lines = output.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with("<<<") || !line.contains("Handshake") {
            continue;
        }
        let name = line.rsplit(", ").next().unwrap_or_default().trim().to_string();
        let mut bytes = Vec::new();
        while let Some(hex) = lines.peek() {
            if !hex.starts_with(' ') {
                break;
            }
            bytes.extend(hex.split_whitespace().filter_map(|t| u8::from_str_radix(t, 16).ok()));
            lines.next();
        }
        messages.push((name, bytes));
    }
    messages
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Version, suite and key_share group of a ServerHello handshake message.
fn decode_server_hello(b: &[u8]) -> Option<(u16, u16, Option<u16>)> {
    let mut version = u16_at(b, 4)?;
    let mut i = 4 + 2 + 32;
    i += 1 + usize::from(*b.get(i)?);
    let suite = u16_at(b, i)?;
    i += 3;
    let mut share = None;
    if let Some(len) = u16_at(b, i) {
        let end = (i + 2 + usize::from(len)).min(b.len());
        i += 2;
        while i + 4 <= end {
            let (kind, len) = (u16_at(b, i)?, usize::from(u16_at(b, i + 2)?));
            match kind {
                0x002b => version = u16_at(b, i + 4)?,
                0x0033 => share = u16_at(b, i + 4),
                _ => {}
            }
            i += 4 + len;
        }
    }
    Some((version, suite, share))
}

fn s_client(oracle: Oracle, address: SocketAddr, args: &[String]) -> Negotiated {
    let output = oracle
        .command()
        .args(["s_client", "-connect", &address.to_string(), "-msg", "-no-CAfile", "-no-CApath"])
        // 1.1.1 connects to servers without secure renegotiation by default and lacks the flag.
        .args(if oracle == Oracle::V35 { &["-legacy_server_connect"][..] } else { &[] })
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run s_client");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let messages = received_messages(&text);
    let mut negotiated = Negotiated::default();
    if let Some((_, hello)) = messages.iter().rev().find(|(name, _)| name == "ServerHello") {
        if let Some((version, suite, share)) = decode_server_hello(hello) {
            negotiated.protocol = Protocol::from_wire(version);
            negotiated.suite = Some(suite);
            negotiated.group = share.map(group_name);
        }
    }
    if let Some((_, kx)) = messages.iter().find(|(name, _)| name == "ServerKeyExchange") {
        if kx.get(4) == Some(&3) {
            negotiated.group = u16_at(kx, 5).map(group_name);
        } else if let Some(len) = u16_at(kx, 4) {
            let p = kx.get(6..6 + usize::from(len)).unwrap_or_default();
            let skip = p.iter().take_while(|&&b| b == 0).count();
            let bits = p.get(skip).map_or(0, |&first| (p.len() - skip) * 8 - first.leading_zeros() as usize);
            negotiated.group = Some(format!("DH-{bits}"));
        }
    }
    let cipher_line = text.lines().any(|l| l.contains(", Cipher is ") && !l.contains("(NONE)"));
    negotiated.connected = output.status.success() && cipher_line;
    negotiated.output = text;
    negotiated
}

fn dh_bits(group: &str) -> Option<&str> {
    group.strip_prefix("DH-").or_else(|| group.strip_prefix("ffdhe"))
}

/// Differences between the simulation and what s_client negotiated (empty: they agree).
fn compare(sim: &ClientSimulation, real: &Negotiated) -> Vec<String> {
    let mut differences = Vec::new();
    let sim_connects = sim.outcome == SimulatedOutcome::Connects;
    if sim_connects != real.connected {
        differences.push(format!("connects: simulated {:?}, s_client {}", sim.outcome, real.connected));
        return differences;
    }
    if !sim_connects {
        return differences;
    }
    if sim.protocol != real.protocol {
        differences.push(format!("protocol: simulated {:?}, s_client {:?}", sim.protocol, real.protocol));
    }
    if let Some(suite) = &sim.cipher_suite {
        let real_suite = real.suite.map(|c| postura::tls::registry::registry().name(u32::from(c)));
        if Some(suite) != real_suite.as_ref() {
            differences.push(format!("suite: simulated {suite}, s_client {real_suite:?}"));
        }
    }
    if !sim.undetermined.iter().any(|p| p == "group") {
        let same = match (&sim.group, &real.group) {
            (Some(a), Some(b)) if dh_bits(a).is_some() => dh_bits(a) == dh_bits(b),
            (a, b) => a == b,
        };
        if !same {
            differences.push(format!("group: simulated {:?}, s_client {:?}", sim.group, real.group));
        }
    }
    differences
}

/// Scan the server, simulate every client, compare each with s_client; returns the facts (with
/// the simulations). On these lab servers every part is determined (from the facts, or by the
/// questions postura asks: `key_share_answers`, `group_order_answers`), so all is compared.
fn assert_simulation_matches_s_client(label: &str, address: SocketAddr, oracle: Oracle) -> TlsFacts {
    let result = scan(address);
    let facts: &TlsFacts = result.tls.as_ref().expect("tls facts");
    assert_eq!(facts.clients.len(), builtin_profiles().len(), "every client is simulated in the facts");
    let key = leaf_key(facts);
    assert!(key.is_some(), "the leaf key type is read from the chain");
    let suites = oracle.suite_names();
    let (mut compared, mut undetermined_parts, mut failures) = (0, 0, Vec::new());
    let mut excluded = Vec::new();
    println!("{label} ({address}): protocols {:?}", facts.protocols);
    for (client, sim) in builtin_profiles().iter().zip(&facts.clients) {
        assert_eq!(client.id, sim.client);
        assert_eq!(&simulate(client, facts, key), sim, "the facts' simulation is the library's");
        let (trimmed, args) = express(client, oracle, &suites);
        let trimmed_sim = simulate(&trimmed, facts, key);
        if !same_verdict(&trimmed_sim, sim) {
            excluded.push(format!("{}: the offer this OpenSSL can send changes the verdict", client.id));
            continue;
        }
        if sim.outcome == SimulatedOutcome::Undetermined {
            undetermined_parts += 1;
            continue;
        }
        undetermined_parts += sim.undetermined.len();
        let real = s_client(oracle, address, &args);
        compared += 1;
        let differences = compare(sim, &real);
        println!(
            "  {:16} {:?} {:?} {:?} {:?} | s_client {} {:?} {:?}",
            client.id,
            sim.outcome,
            sim.protocol,
            sim.cipher_suite,
            sim.group,
            real.connected,
            real.protocol,
            real.group
        );
        if !differences.is_empty() {
            failures.push(format!(
                "{}: {}\n  args: {}\n{}",
                client.id,
                differences.join("; "),
                args.join(" "),
                tail(&real.output)
            ));
        }
    }
    println!("  compared {compared}, undetermined parts {undetermined_parts}, excluded {excluded:?}");
    assert!(failures.is_empty(), "{label}: simulation differs from s_client:\n{}", failures.join("\n"));
    assert!(compared >= builtin_profiles().len() * 2 / 3, "{label}: too few clients compared ({compared})");
    assert_eq!(undetermined_parts, 0, "{label}: every part is determined on the lab servers");
    assert!(facts.key_share_answers.len() + facts.group_order_answers.len() <= 4, "at most 4 questions");
    facts.clone()
}

fn same_verdict(a: &ClientSimulation, b: &ClientSimulation) -> bool {
    (a.outcome, &a.protocol, &a.cipher_suite, &a.group, &a.undetermined)
        == (b.outcome, &b.protocol, &b.cipher_suite, &b.group, &b.undetermined)
}

fn tail(output: &str) -> String {
    output
        .lines()
        .filter(|l| !l.starts_with(' '))
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n")
}

fn outcome<'a>(sims: &'a [ClientSimulation], id: &str) -> &'a ClientSimulation {
    sims.iter().find(|s| s.client == id).unwrap_or_else(|| panic!("no simulation for {id}"))
}

#[test]
fn nginx_mozilla_intermediate_client_order() {
    let server = Nginx::mozilla_intermediate();
    let facts = assert_simulation_matches_s_client("nginx intermediate", server.socket_addr(), Oracle::V35);
    let sims = &facts.clients;
    assert_eq!(outcome(sims, "ie-8-win7").outcome, SimulatedOutcome::Fails);
    // Old Android's first curve is not the server's first: one question, answered by the client's
    // order (nginx without ssl_prefer_server_ciphers); no key-share question.
    let asked: Vec<(Protocol, Vec<String>, Option<String>)> =
        facts.group_order_answers.iter().map(|a| (a.protocol, a.offered.clone(), a.chosen.clone())).collect();
    let offered = vec!["secp384r1".to_string(), "secp256r1".to_string()];
    assert_eq!(asked, [(Protocol::Tls12, offered, Some("secp384r1".to_string()))]);
    assert!(facts.key_share_answers.is_empty());
    assert_eq!(outcome(sims, "chrome-137").group.as_deref(), Some("x25519"));
    assert_eq!(outcome(sims, "ie-11-win7").protocol, Some(Protocol::Tls12));
}

#[test]
fn openssl_server_order_tls12_tls13() {
    let server = OpenSslServer::start_auto(&[
        "-serverpref",
        "-min_protocol",
        "TLSv1.2",
        "-cipher",
        "ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:AES128-SHA",
        "-ciphersuites",
        "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
        "-groups",
        "secp384r1:x25519:secp256r1",
    ]);
    let facts = assert_simulation_matches_s_client("s_server server order", server.socket_addr(), Oracle::V35);
    let chrome = outcome(&facts.clients, "chrome-137");
    assert_eq!(chrome.cipher_suite.as_deref(), Some("TLS_CHACHA20_POLY1305_SHA256"));
}

#[test]
fn openssl_tls13_only() {
    let server = OpenSslServer::start_auto(&["-tls1_3"]);
    let sims = &assert_simulation_matches_s_client("s_server TLS 1.3 only", server.socket_addr(), Oracle::V35).clients;
    assert_eq!(outcome(sims, "java-8u31").outcome, SimulatedOutcome::Fails);
    assert_eq!(outcome(sims, "firefox-137").protocol, Some(Protocol::Tls13));
}

#[test]
fn openssl_111_legacy_everything() {
    let server = LegacyOpenSslServer::start(&["-min_protocol", "SSLv3", "-cipher", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"]);
    let sims = &assert_simulation_matches_s_client("OpenSSL 1.1.1w legacy", server.addr, Oracle::V111).clients;
    assert_eq!(outcome(sims, "ie-6-xp").protocol, Some(Protocol::Sslv3));
    assert_eq!(outcome(sims, "ie-6-xp").outcome, SimulatedOutcome::Connects);
}

#[test]
fn openssl_35_hybrid_group_default() {
    let server = OpenSsl35Server::start(&[]);
    let sims = &assert_simulation_matches_s_client("OpenSSL 3.5.4 default", server.addr, Oracle::V35).clients;
    assert_eq!(outcome(sims, "chrome-137").group.as_deref(), Some("X25519MLKEM768"));
    assert_eq!(outcome(sims, "java-21").group.as_deref(), Some("x25519"));
}

#[test]
fn ecdsa_leaf_needs_an_ecdsa_client() {
    let server = OpenSslServer::start_with(
        alloc_addr(),
        DEFAULT_PORT,
        &Pki::shared().ecdsa,
        &["-min_protocol", "TLSv1", "-cipher", "ALL:@SECLEVEL=0", "-serverpref"],
    );
    let sims = &assert_simulation_matches_s_client("s_server ECDSA leaf", server.socket_addr(), Oracle::V35).clients;
    assert_eq!(outcome(sims, "ie-6-xp").outcome, SimulatedOutcome::Fails);
}

/// A key share the server does not rank first: OpenSSL 3.0 with its own order takes the share,
/// OpenSSL 3.5 (groups in preference tiers, hybrid first) asks for its first group with a
/// HelloRetryRequest. The facts' group order cannot tell them apart, so postura asks the server
/// once per (preferred group, share) pair a built-in client needs (`tls.key_share_answers`), and
/// leaves the group undetermined where it cannot ask (here: no built-in client needs the pair).
#[test]
fn key_share_below_the_servers_first_group_is_asked_or_left_undetermined() {
    let base = builtin_profiles().iter().find(|c| c.id == "java-21").expect("java-21").clone();
    let with_groups = |groups: &[&str]| ClientProfile {
        id: "synthetic".into(),
        protocols: vec![Protocol::Tls13],
        cipher_suites: vec![0x1301, 0x1302],
        groups: groups.iter().map(|g| g.to_string()).collect(),
        key_shares: vec!["x25519".into()],
        ..base.clone()
    };
    let suites = Oracle::V35.suite_names();

    let debian = OpenSslServer::start_auto(&["-tls1_3", "-serverpref", "-groups", "secp384r1:x25519"]);
    let result = scan(debian.socket_addr());
    let facts = result.tls.expect("tls facts");
    assert_eq!(facts.groups, ["secp384r1", "x25519"], "the server's own order is seen");
    let asked: Vec<(&str, &str, Option<&str>)> =
        facts.key_share_answers.iter().map(|a| (a.preferred.as_str(), a.share.as_str(), a.chosen.as_deref())).collect();
    assert_eq!(asked, [("secp384r1", "x25519", Some("x25519"))], "one question, answered: it takes the share");
    let client = with_groups(&["x25519", "secp384r1"]);
    let sim = simulate(&client, &facts, leaf_key(&facts));
    assert_eq!((sim.outcome, sim.group.as_deref()), (SimulatedOutcome::Connects, Some("x25519")));
    let (_, args) = express(&client, Oracle::V35, &suites);
    let real = s_client(Oracle::V35, debian.socket_addr(), &args);
    assert_eq!(real.group.as_deref(), Some("x25519"), "took the share:\n{}", real.output);

    let tiered = OpenSsl35Server::start(&["-tls1_3"]);
    let facts = scan(tiered.addr).tls.expect("tls facts");
    let client = with_groups(&["x25519", "X25519MLKEM768"]);
    let sim = simulate(&client, &facts, leaf_key(&facts));
    assert_eq!((sim.outcome, sim.undetermined.as_slice()), (SimulatedOutcome::Connects, &["group".to_string()][..]));
    let (_, args) = express(&client, Oracle::V35, &suites);
    let real = s_client(Oracle::V35, tiered.addr, &args);
    assert_eq!(real.group.as_deref(), Some("X25519MLKEM768"), "asked for its first tier:\n{}", real.output);
}

#[test]
fn gnutls_normal_priority() {
    let server = GnutlsServer::start_auto("NORMAL");
    let address = SocketAddr::from((server.addr(), server.port));
    assert_simulation_matches_s_client("gnutls-serv NORMAL", address, Oracle::V35);
}

/// Whether `openssl s_client` (`oracle`), verifying the chain against `root` as a real client
/// does, completes the handshake; and its verification message.
fn verified_handshake(oracle: Oracle, address: SocketAddr, root: &Path) -> (bool, String) {
    verified_with(oracle.command(), address, root)
}

fn verified_with(mut command: Command, address: SocketAddr, root: &Path) -> (bool, String) {
    let output = command
        .args(["s_client", "-connect", &address.to_string(), "-servername", TEST_HOST, "-verify_return_error"])
        .arg("-CAfile")
        .arg(root)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run s_client");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let connected =
        output.status.success() && text.lines().any(|l| l.contains(", Cipher is ") && !l.contains("(NONE)"));
    let verification = text.lines().find(|l| l.starts_with("Verification")).unwrap_or_default().to_string();
    (connected, verification)
}

/// Client-side limits on the server's chain, on real nginx servers and real verifying clients: an
/// RSA-1024 leaf is refused by the clients with a 2048-bit minimum (OpenSSL 3.5, Debian's 3.0 at
/// security level 2: "EE certificate key too weak") and taken by OpenSSL 1.1.1w at its default
/// level; a SHA-1-signed leaf is refused by the clients that require SHA-2 (OpenSSL 3.x: "CA
/// signature digest algorithm too weak") and taken by 1.1.1w. The simulation says the same, with
/// the reason.
#[test]
fn small_keys_and_sha1_chains_are_refused_by_the_clients_that_refuse_them() {
    use common::ca::{LeafSpec, TestCa};
    let ca = TestCa::shared();
    let serve = |name: &str, spec: LeafSpec| {
        let leaf = ca.issue(&spec);
        let chain = ca.chain_file(name, &[&leaf.cert, &ca.intermediate_cert]);
        Nginx::start_auto(&format!(
            "ssl_certificate {};\nssl_certificate_key {};\nssl_protocols TLSv1.2 TLSv1.3;\nssl_ciphers DEFAULT:@SECLEVEL=0;\n",
            chain.display(),
            leaf.key.display()
        ))
    };
    let small = serve("sim-rsa1024", LeafSpec { key: "rsa:1024".into(), ..LeafSpec::default() });
    let sha1 = serve("sim-sha1", LeafSpec { digest: "sha1".into(), ..LeafSpec::default() });
    let sims = scan(small.socket_addr()).tls.unwrap().clients;
    for id in ["openssl-3.5", "openssl-3.0", "curl-7.88"] {
        let sim = outcome(&sims, id);
        assert_eq!(sim.outcome, SimulatedOutcome::Fails, "{sim:?}");
        assert_eq!(
            sim.reason.as_deref(),
            Some("the server's RSA key has 1024 bits, under this client's minimum of 2048")
        );
    }
    assert_eq!(outcome(&sims, "openssl-1.0.2").outcome, SimulatedOutcome::Connects);
    let (connected, why) = verified_handshake(Oracle::V35, small.socket_addr(), &ca.root_cert);
    assert!(!connected && why.contains("EE certificate key too weak"), "OpenSSL 3.5: {why}");
    let (connected, why) = debian_verified_handshake(small.socket_addr(), &ca.root_cert);
    assert!(!connected && why.contains("EE certificate key too weak"), "Debian's OpenSSL 3.0: {why}");
    let (connected, why) = verified_handshake(Oracle::V111, small.socket_addr(), &ca.root_cert);
    assert!(connected, "OpenSSL 1.1.1w takes an RSA-1024 leaf at its default level: {why}");

    let sims = scan(sha1.socket_addr()).tls.unwrap().clients;
    for id in ["openssl-3.5", "openssl-3.0", "curl-7.88", "chrome-137", "java-8"] {
        let sim = outcome(&sims, id);
        assert_eq!(sim.outcome, SimulatedOutcome::Fails, "{sim:?}");
        assert!(sim.reason.as_deref().unwrap().contains("signed with SHA-1"), "{sim:?}");
    }
    assert_eq!(outcome(&sims, "openssl-1.0.2").outcome, SimulatedOutcome::Connects);
    let (connected, why) = verified_handshake(Oracle::V35, sha1.socket_addr(), &ca.root_cert);
    assert!(!connected && why.contains("digest algorithm too weak"), "OpenSSL 3.5: {why}");
    let (connected, why) = debian_verified_handshake(sha1.socket_addr(), &ca.root_cert);
    assert!(!connected && why.contains("digest algorithm too weak"), "Debian's OpenSSL 3.0: {why}");
    let (connected, why) = verified_handshake(Oracle::V111, sha1.socket_addr(), &ca.root_cert);
    assert!(connected, "OpenSSL 1.1.1w takes a SHA-1 leaf at its default level: {why}");
}

/// [`verified_handshake`] with Debian's own `openssl` (3.0, security level 2 by Debian's default).
fn debian_verified_handshake(address: SocketAddr, root: &Path) -> (bool, String) {
    let mut command = Command::new("timeout");
    command.args(["-k", "2", "15", "openssl"]);
    verified_with(command, address, root)
}
