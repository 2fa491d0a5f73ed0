//! Client simulation: which common clients (`profiles/clients.toml`) would connect to a target,
//! and with which protocol, cipher suite and group — computed from the sweep's facts, without a
//! connection.
//!
//! The model is the one OpenSSL-, nginx- and most other servers follow, and is tested against
//! `openssl s_client` sending each client's offer (`tests/client_sim.rs`):
//! - protocol: the highest the server accepts at or below the client's highest; a client that
//!   does not speak it gives up;
//! - cipher suite: among the client's suites the server accepts at that protocol (ECDHE ones only
//!   with a common curve), the server's first when it enforces its order, else the client's first;
//! - group (TLS 1.3): the first key share the client sent for a group the server accepts, when the
//!   server ranks no other group of the client's above it (else it may ask for that one: OpenSSL
//!   3.5's preference tiers); without one, a HelloRetryRequest for the server's or the client's
//!   first common group; (TLS ≤ 1.2
//!   ECDHE) the server's or the client's first common curve; DHE: the server's DH parameters;
//! - the certificate: the client must offer a signature scheme for the leaf's key type.
//!
//! Where the facts leave a choice open (the server's order was not measured and the client's
//! first and the server's first differ) the part is reported undetermined rather than guessed.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::{GroupOrderAnswer, KeyShareAnswer, TlsFacts};
use crate::net::Connector;
use crate::tls::codec::{decode_server_key_exchange, KeyExchangeKind, KeyExchangeParams};
use crate::tls::exchange::{exchange, Until};
use crate::tls::hello::{build_hello, classify, Answer, HelloOptions, MAX_SUITES_PER_HELLO};
use crate::tls::registry::{
    generator_key_share, group_name, is_tls12_ec_group, registry, KeyExchange, Protocol, NAMED_GROUPS,
};

/// The built-in client profiles.
const BUILTIN: &str = include_str!("../../profiles/clients.toml");

/// What one client offers in its ClientHello.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientProfile {
    pub id: String,
    pub name: String,
    pub category: String,
    pub protocols: Vec<Protocol>,
    /// IANA code points, in the client's order.
    pub cipher_suites: Vec<u16>,
    /// supported_groups (registry names), in the client's order.
    #[serde(default)]
    pub groups: Vec<String>,
    /// TLS 1.3 groups whose key share the first hello carries.
    #[serde(default)]
    pub key_shares: Vec<String>,
    /// signature_algorithms (IANA code points); empty: the extension is not sent.
    #[serde(default)]
    pub signature_algorithms: Vec<u16>,
    #[serde(default)]
    pub sni: bool,
    #[serde(default)]
    pub alpn: Vec<String>,
    pub min_dh_bits: Option<u32>,
    pub max_dh_bits: Option<u32>,
    /// Sizes of the server's RSA or ECDSA key the client accepts, where known.
    pub min_rsa_bits: Option<u32>,
    pub max_rsa_bits: Option<u32>,
    pub min_ecdsa_bits: Option<u32>,
    /// The client refuses a chain with a certificate signed with SHA-1.
    #[serde(default)]
    pub requires_sha2: bool,
    pub source: String,
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    client: Vec<ClientProfile>,
}

/// Parse and validate a client profile file: known protocols (SSLv3 to TLS 1.3), known groups,
/// key shares among the groups, unique ids, at least one suite.
pub fn parse_profiles(text: &str) -> Result<Vec<ClientProfile>, String> {
    let file: ProfileFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut ids = BTreeSet::new();
    for client in &file.client {
        let fail = |what: String| Err(format!("client {}: {what}", client.id));
        if !ids.insert(client.id.clone()) {
            return fail("duplicate id".into());
        }
        if client.protocols.is_empty() || client.protocols.contains(&Protocol::Sslv2) {
            return fail("protocols must be SSLv3 to TLSv1.3, at least one".into());
        }
        if client.cipher_suites.is_empty() {
            return fail("no cipher suite".into());
        }
        if let Some(unknown) = client.groups.iter().find(|g| !NAMED_GROUPS.iter().any(|n| n.name == g.as_str())) {
            return fail(format!("unknown group {unknown}"));
        }
        if let Some(stray) = client.key_shares.iter().find(|k| !client.groups.contains(k)) {
            return fail(format!("key share {stray} is not among its groups"));
        }
    }
    Ok(file.client)
}

/// The built-in profiles (empty if the embedded file were invalid, which a unit test rules out).
pub fn builtin_profiles() -> &'static [ClientProfile] {
    static PROFILES: OnceLock<Vec<ClientProfile>> = OnceLock::new();
    PROFILES.get_or_init(|| match parse_profiles(BUILTIN) {
        Ok(profiles) => profiles,
        Err(error) => {
            tracing::error!("built-in client profiles are invalid: {error}");
            Vec::new()
        }
    })
}

/// Whether a simulated client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SimulatedOutcome {
    Connects,
    Fails,
    /// The facts do not say (see `reason`).
    Undetermined,
}

/// One client's simulated handshake with the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientSimulation {
    /// The profile's id (`profiles/clients.toml`).
    pub client: String,
    pub name: String,
    /// `browser`, `mobile`, `library`, `mail` or `legacy`.
    pub category: String,
    pub outcome: SimulatedOutcome,
    /// The protocol that would be negotiated (also when the handshake then fails for want of a
    /// suite, group or signature scheme).
    pub protocol: Option<Protocol>,
    /// IANA name of the suite the server would choose (null: fails, or undetermined).
    pub cipher_suite: Option<String>,
    /// The key-exchange group (`x25519`, `X25519MLKEM768`, `ffdhe2048`, `DH-1024`; null for RSA
    /// key transport, a failure, or undetermined).
    pub group: Option<String>,
    /// Parts the facts leave open (`cipher_suite`, `group`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undetermined: Vec<String>,
    /// Why the client cannot connect, or why a part is undetermined.
    pub reason: Option<String>,
}

/// The leaf key's type, which decides which signature schemes a client must offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafKey {
    Rsa,
    Ec,
    Ed25519,
    Ed448,
}

/// What a client checks of the server's chain beyond the signature scheme: the leaf's key type
/// and size, and whether a certificate it must verify is signed with SHA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    pub key: LeafKey,
    /// The key's size in bits (null when it does not parse).
    pub bits: Option<u32>,
    /// A certificate of the chain as sent, self-signed roots aside, is signed with SHA-1.
    pub sha1_signed: bool,
}

/// The leaf's key and the chain's SHA-1 signatures, from the chain as sent (null when there is
/// no chain or its leaf does not parse).
pub fn leaf_key(facts: &TlsFacts) -> Option<Leaf> {
    let pem = facts.chain_pem.first()?;
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = parsed.parse_x509().ok()?;
    let oid = cert.public_key().algorithm.algorithm.to_id_string();
    let key = match oid.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => LeafKey::Rsa,
        "1.2.840.10045.2.1" => LeafKey::Ec,
        "1.3.101.112" => LeafKey::Ed25519,
        "1.3.101.113" => LeafKey::Ed448,
        _ => return None,
    };
    let bits = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => u32::try_from(rsa.key_size()).ok(),
        Ok(x509_parser::public_key::PublicKey::EC(point)) => u32::try_from(point.key_size()).ok(),
        _ => None,
    };
    Some(Leaf { key, bits, sha1_signed: chain_signed_with_sha1(&facts.chain_pem) })
}

/// sha1WithRSAEncryption, ecdsa-with-SHA1, dsa-with-sha1.
const SHA1_SIGNATURES: [&str; 3] = ["1.2.840.113549.1.1.5", "1.2.840.10045.4.1", "1.2.840.10040.4.3"];

fn chain_signed_with_sha1(chain_pem: &[String]) -> bool {
    chain_pem.iter().any(|pem| {
        let Ok((_, parsed)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else { return false };
        let Ok(cert) = parsed.parse_x509() else { return false };
        // A root's own signature is not verified by clients.
        let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
        !self_signed && SHA1_SIGNATURES.contains(&cert.signature_algorithm.algorithm.to_id_string().as_str())
    })
}

/// Why the client refuses the server's key or chain (its size limits, SHA-1), if it does.
fn leaf_refused(client: &ClientProfile, leaf: Leaf) -> Option<String> {
    if client.requires_sha2 && leaf.sha1_signed {
        return Some("the chain has a certificate signed with SHA-1, which this client refuses".into());
    }
    let bits = leaf.bits?;
    let (name, min, max) = match leaf.key {
        LeafKey::Rsa => ("RSA", client.min_rsa_bits, client.max_rsa_bits),
        LeafKey::Ec => ("ECDSA", client.min_ecdsa_bits, None),
        LeafKey::Ed25519 | LeafKey::Ed448 => return None,
    };
    if let Some(min) = min.filter(|&min| bits < min) {
        return Some(format!("the server's {name} key has {bits} bits, under this client's minimum of {min}"));
    }
    if let Some(max) = max.filter(|&max| bits > max) {
        return Some(format!("the server's {name} key has {bits} bits, over this client's maximum of {max}"));
    }
    None
}

/// Every built-in client against the target's facts (empty when no protocol was accepted).
pub fn simulate_all(facts: &TlsFacts) -> Vec<ClientSimulation> {
    if !facts.protocols.iter().any(|&p| p != Protocol::Sslv2) {
        return Vec::new();
    }
    let key = leaf_key(facts);
    builtin_profiles().iter().map(|client| simulate(client, facts, key)).collect()
}

/// One client against the target's facts.
pub fn simulate(client: &ClientProfile, facts: &TlsFacts, key: Option<Leaf>) -> ClientSimulation {
    simulate_with_question(client, facts, key).0
}

/// A question one hello can answer where the facts leave a client's group open.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Question {
    /// TLS 1.3: does the server take an acceptable key share for `share` when it ranks
    /// `preferred` higher, or ask for `preferred`?
    KeyShare { preferred: String, share: String },
    /// With supported_groups `[client_first, server_first]` (the client's order), which does the
    /// server pick at `protocol`: the client's first or its own?
    GroupOrder { protocol: Protocol, client_first: String, server_first: String },
}

/// [`simulate`], and the question that would settle an undetermined group.
fn simulate_with_question(
    client: &ClientProfile,
    facts: &TlsFacts,
    leaf: Option<Leaf>,
) -> (ClientSimulation, Option<Question>) {
    let mut result = ClientSimulation {
        client: client.id.clone(),
        name: client.name.clone(),
        category: client.category.clone(),
        outcome: SimulatedOutcome::Fails,
        protocol: None,
        cipher_suite: None,
        group: None,
        undetermined: Vec::new(),
        reason: None,
    };
    let fail = |mut result: ClientSimulation, reason: String| {
        result.outcome = SimulatedOutcome::Fails;
        result.reason = Some(reason);
        (result, None)
    };

    // Protocol: the server answers with its highest version the client's hello allows.
    let Some(&client_max) = client.protocols.iter().max() else {
        return fail(result, "the profile offers no protocol".into());
    };
    let Some(protocol) = facts.protocols.iter().copied().filter(|&p| p != Protocol::Sslv2 && p <= client_max).max()
    else {
        let server: Vec<&str> = facts.protocols.iter().map(|p| p.name()).collect();
        return fail(result, format!("no common protocol (server: {})", server.join(", ")));
    };
    result.protocol = Some(protocol);
    if !client.protocols.contains(&protocol) {
        return fail(result, format!("the server's best protocol for this client, {protocol}, is one it refuses"));
    }

    // The certificate: the client must be able to verify the server's signature.
    if let Some(leaf) = leaf {
        if !signature_scheme_for(client, protocol, leaf.key) {
            return fail(result, format!("no signature scheme for the server's {:?} key at {protocol}", leaf.key));
        }
        if let Some(reason) = leaf_refused(client, leaf) {
            return fail(result, reason);
        }
    }

    // Suite.
    let server_suites = facts.cipher_suites.get(&protocol).cloned().unwrap_or_default();
    let server_ec: Vec<&String> =
        facts.groups.iter().filter(|g| group_code(g).is_some_and(is_tls12_ec_group)).collect();
    let ec_common: Vec<&String> = if client.groups.is_empty() {
        // No supported_groups extension: the server may take any curve (RFC 8422 §4).
        server_ec.clone()
    } else {
        client.groups.iter().filter(|g| server_ec.contains(g)).collect()
    };
    let usable = |name: &String| -> bool {
        let Some(info) = registry().suites.iter().find(|s| &s.iana_name == name) else {
            return true;
        };
        protocol == Protocol::Tls13 || info.key_exchange() != KeyExchange::Ecdhe || !ec_common.is_empty()
    };
    let client_names: Vec<String> = client.cipher_suites.iter().map(|&c| registry().name(u32::from(c))).collect();
    let common_client_order: Vec<&String> =
        client_names.iter().filter(|n| server_suites.contains(n) && usable(n)).collect();
    let common_server_order: Vec<&String> =
        server_suites.iter().filter(|n| client_names.contains(n) && usable(n)).collect();
    let (Some(&client_first), Some(&server_first)) = (common_client_order.first(), common_server_order.first()) else {
        return fail(result, format!("no cipher suite in common at {protocol}"));
    };
    let suite = match facts.server_preference.get(&protocol).copied().flatten() {
        Some(true) => Some(server_first),
        Some(false) => Some(client_first),
        None if client_first == server_first => Some(client_first),
        None => None,
    };
    result.outcome = SimulatedOutcome::Connects;
    let Some(suite) = suite else {
        result.undetermined = vec!["cipher_suite".into(), "group".into()];
        result.reason = Some(format!("the server's order at {protocol} was not measured"));
        return (result, None);
    };
    result.cipher_suite = Some(suite.clone());

    // Group.
    let kx = registry().suites.iter().find(|s| &s.iana_name == suite).map(|s| s.key_exchange());
    let group = match (protocol, kx) {
        (Protocol::Tls13, _) => tls13_group(client, facts),
        (_, Some(KeyExchange::Ecdhe)) => {
            let server_order: Vec<&String> = server_ec.iter().copied().filter(|g| ec_common.contains(g)).collect();
            // A group order seen over TLS 1.3 (HelloRetryRequest) says how the server picks a
            // curve at TLS 1.2 only when it also enforces its suite order there (one switch in
            // OpenSSL, nginx and SChannel); an order seen over TLS 1.2 itself always does.
            let order_applies = facts.groups_protocol == Some(protocol)
                || facts.server_preference.get(&protocol).copied().flatten() == Some(true);
            choose(&ec_common, &server_order, facts, protocol, order_applies)
        }
        (_, Some(KeyExchange::Dhe)) => dh_group(client, facts, protocol),
        _ => GroupChoice::None,
    };
    let mut question = None;
    match group {
        GroupChoice::Chosen(name) => result.group = Some(name),
        GroupChoice::None => {}
        GroupChoice::Undetermined(reason, open) => {
            result.undetermined.push("group".into());
            result.reason = Some(reason);
            question = open;
        }
        GroupChoice::Fails(reason) => return fail(result, reason),
    }
    (result, question)
}

/// At most this many questions are asked of one server (each costs one connection).
pub const MAX_QUESTIONS: usize = 4;

/// Ask the server, one hello each, the questions that would settle the built-in clients' open
/// group choices (`tls.key_share_answers`, `tls.group_order_answers`), then simulate again.
/// Nothing is asked when no simulation needs it; at most [`MAX_QUESTIONS`] hellos, only
/// questions postura can put (a key share it can send: x25519 or secp256r1; ECDHE suites the
/// server accepts at that protocol).
pub async fn settle_open_questions(connector: &Connector, sni: Option<&str>, facts: &mut TlsFacts) {
    let key = leaf_key(facts);
    let mut questions: Vec<Question> = Vec::new();
    for client in builtin_profiles() {
        if let (_, Some(question)) = simulate_with_question(client, facts, key) {
            if !questions.contains(&question) && askable(&question, facts) {
                questions.push(question);
            }
        }
    }
    for question in questions.into_iter().take(MAX_QUESTIONS) {
        if connector.deadline_passed() {
            break;
        }
        match question {
            Question::KeyShare { preferred, share } => {
                let chosen = ask_key_share(connector, sni, facts, &preferred, &share).await;
                facts.key_share_answers.push(KeyShareAnswer { preferred, share, chosen });
            }
            Question::GroupOrder { protocol, client_first, server_first } => {
                let offered = vec![client_first, server_first];
                let chosen = ask_group_order(connector, sni, facts, protocol, &offered).await;
                facts.group_order_answers.push(GroupOrderAnswer { protocol, offered, chosen });
            }
        }
    }
}

fn askable(question: &Question, facts: &TlsFacts) -> bool {
    match question {
        Question::KeyShare { share, .. } => group_code(share).and_then(generator_key_share).is_some(),
        Question::GroupOrder { protocol: Protocol::Tls13, .. } => true,
        Question::GroupOrder { protocol, .. } => !ecdhe_suites(facts, *protocol).is_empty(),
    }
}

fn suite_codes(facts: &TlsFacts, protocol: Protocol) -> Vec<u16> {
    facts
        .cipher_suites
        .get(&protocol)
        .into_iter()
        .flatten()
        .filter_map(|name| registry().suites.iter().find(|s| &s.iana_name == name))
        .filter_map(|s| u16::try_from(s.code).ok())
        .take(MAX_SUITES_PER_HELLO)
        .collect()
}

fn ecdhe_suites(facts: &TlsFacts, protocol: Protocol) -> Vec<u16> {
    suite_codes(facts, protocol)
        .into_iter()
        .filter(|&c| registry().get(u32::from(c)).is_some_and(|s| s.key_exchange() == KeyExchange::Ecdhe))
        .collect()
}

/// One TLS 1.3 hello with supported_groups [preferred, share] and a key share for `share` only:
/// the group of the ServerHello (the share taken) or of the HelloRetryRequest (asked for).
async fn ask_key_share(
    connector: &Connector,
    sni: Option<&str>,
    facts: &TlsFacts,
    preferred: &str,
    share: &str,
) -> Option<String> {
    let (preferred, share) = (group_code(preferred)?, group_code(share)?);
    let suites = suite_codes(facts, Protocol::Tls13);
    let mut options = HelloOptions::new(sni.map(str::to_string));
    options.groups = Some(vec![preferred, share]);
    options.key_shares = vec![share];
    options.alpn = Vec::new();
    let hello = build_hello(Protocol::Tls13, &suites, &options);
    match classify(Protocol::Tls13, &suites, exchange(connector, &hello, Until::ServerHello).await) {
        Ok(Answer::Chose { flight, .. }) => flight
            .server_hello
            .as_ref()
            .and_then(|h| h.key_share_group().ok().flatten())
            .filter(|&code| code == preferred || code == share)
            .map(group_name),
        _ => None,
    }
}

/// One hello offering `offered` as supported_groups, in that order (TLS 1.3: no key share, so the
/// HelloRetryRequest names the choice; TLS ≤ 1.2: ECDHE suites, the ServerKeyExchange's curve).
async fn ask_group_order(
    connector: &Connector,
    sni: Option<&str>,
    facts: &TlsFacts,
    protocol: Protocol,
    offered: &[String],
) -> Option<String> {
    let codes: Vec<u16> = offered.iter().filter_map(|g| group_code(g)).collect();
    let mut options = HelloOptions::new(sni.map(str::to_string));
    options.groups = Some(codes.clone());
    options.alpn = Vec::new();
    let chosen = if protocol == Protocol::Tls13 {
        let suites = suite_codes(facts, protocol);
        options.key_shares = Vec::new();
        let hello = build_hello(protocol, &suites, &options);
        match classify(protocol, &suites, exchange(connector, &hello, Until::ServerHello).await) {
            Ok(Answer::Chose { flight, .. }) => {
                flight.server_hello.as_ref().and_then(|h| h.key_share_group().ok().flatten())
            }
            _ => None,
        }
    } else {
        let suites = ecdhe_suites(facts, protocol);
        let hello = build_hello(protocol, &suites, &options);
        match classify(protocol, &suites, exchange(connector, &hello, Until::HelloDone).await) {
            Ok(Answer::Chose { flight, .. }) => {
                match flight.server_key_exchange.as_ref().map(|b| decode_server_key_exchange(b, KeyExchangeKind::Ecdh))
                {
                    Some(Ok(KeyExchangeParams::EcdhNamed { group, .. })) => Some(group),
                    _ => None,
                }
            }
            _ => None,
        }
    };
    chosen.filter(|code| codes.contains(code)).map(group_name)
}

enum GroupChoice {
    Chosen(String),
    /// No group in this key exchange (RSA key transport).
    None,
    /// Open, with the question that would settle it (when one hello can).
    Undetermined(String, Option<Question>),
    Fails(String),
}

fn group_code(name: &str) -> Option<u16> {
    NAMED_GROUPS.iter().find(|g| g.name == name).map(|g| g.code)
}

/// The TLS 1.3 group: a key share the server accepts, else the HelloRetryRequest's group.
fn tls13_group(client: &ClientProfile, facts: &TlsFacts) -> GroupChoice {
    if facts.groups_protocol != Some(Protocol::Tls13) {
        return GroupChoice::Undetermined("the server's TLS 1.3 groups were not enumerated".into(), None);
    }
    if let Some(share) = client.key_shares.iter().find(|k| facts.groups.contains(k)) {
        // Most servers take an acceptable key share rather than pay a round trip, but one that
        // keeps its groups in preference tiers (OpenSSL 3.5's default: hybrid first) asks for a
        // group of a higher tier with a HelloRetryRequest. The facts' order cannot tell the two
        // apart, so a share the server does not rank first among the client's groups is open.
        let server_first = facts.groups.iter().find(|g| client.groups.contains(g));
        let answer = server_first
            .and_then(|first| facts.key_share_answers.iter().find(|a| &a.preferred == first && &a.share == share));
        if let Some(chosen) = answer.and_then(|a| a.chosen.as_ref()) {
            return GroupChoice::Chosen(chosen.clone());
        }
        return match server_first {
            Some(first) if first != share => GroupChoice::Undetermined(
                format!(
                    "the server ranks {first} above the client's key share {share}; a server with preference \
                     tiers (OpenSSL 3.5) asks for {first}, others take {share}"
                ),
                Some(Question::KeyShare { preferred: first.clone(), share: share.clone() }),
            ),
            _ => GroupChoice::Chosen(share.clone()),
        };
    }
    let common: Vec<&String> = client.groups.iter().filter(|g| facts.groups.contains(g)).collect();
    if common.is_empty() {
        return GroupChoice::Fails("no key-exchange group in common at TLSv1.3".into());
    }
    let server_order: Vec<&String> = facts.groups.iter().filter(|g| common.contains(g)).collect();
    choose(&common, &server_order, facts, Protocol::Tls13, true)
}

/// The server's or the client's first common group: the same one, or the server's when the
/// enumeration proved it chooses by its own order (it did not answer in the order postura
/// offered), else undetermined.
fn choose(
    client_order: &[&String],
    server_order: &[&String],
    facts: &TlsFacts,
    protocol: Protocol,
    order_applies: bool,
) -> GroupChoice {
    let what = if protocol == Protocol::Tls13 { "group" } else { "curve" };
    let (Some(client_first), Some(server_first)) = (client_order.first(), server_order.first()) else {
        return GroupChoice::Fails(format!("no {what} in common"));
    };
    if client_first == server_first || (order_applies && server_orders_groups(facts)) {
        return GroupChoice::Chosen((*server_first).clone());
    }
    let offered = [(*client_first).clone(), (*server_first).clone()];
    let answer = facts.group_order_answers.iter().find(|a| a.protocol == protocol && a.offered == offered);
    if let Some(chosen) = answer.and_then(|a| a.chosen.as_ref()) {
        return GroupChoice::Chosen(chosen.clone());
    }
    GroupChoice::Undetermined(
        format!(
            "whether the server picks its own first {what} ({server_first}) or the client's ({client_first}) was not measured"
        ),
        Some(Question::GroupOrder {
            protocol,
            client_first: (*client_first).clone(),
            server_first: (*server_first).clone(),
        }),
    )
}

/// True when the server's group list is not in the order postura offered the groups, which
/// means the server chose by its own preference.
fn server_orders_groups(facts: &TlsFacts) -> bool {
    let offered: Vec<&str> =
        NAMED_GROUPS.iter().map(|g| g.name).filter(|n| facts.groups.iter().any(|g| g == n)).collect();
    let found: Vec<&str> = facts.groups.iter().map(String::as_str).collect();
    offered != found
}

/// DHE: the server's parameters at this protocol, and whether the client takes their size.
fn dh_group(client: &ClientProfile, facts: &TlsFacts, protocol: Protocol) -> GroupChoice {
    let params: Vec<_> = facts.key_exchange.iter().filter(|k| k.protocol == protocol && k.kind == "DH").collect();
    let [one] = params.as_slice() else {
        return GroupChoice::Undetermined(format!("{} DH parameter sets seen at {protocol}", params.len()), None);
    };
    if let Some(bits) = one.bits {
        if client.min_dh_bits.is_some_and(|min| bits < min) || client.max_dh_bits.is_some_and(|max| bits > max) {
            return GroupChoice::Fails(format!("the client refuses {bits}-bit DH parameters"));
        }
    }
    match (&one.group, one.bits) {
        (Some(name), _) if name.starts_with("ffdhe") => GroupChoice::Chosen(name.clone()),
        (_, Some(bits)) => GroupChoice::Chosen(format!("DH-{bits}")),
        (Some(name), None) => GroupChoice::Chosen(name.clone()),
        (None, None) => GroupChoice::Undetermined("DH parameters of unknown size".into(), None),
    }
}

/// Whether the client offers a signature scheme the server can sign with, for its key type.
/// Before TLS 1.2 there is no negotiation; a TLS 1.2 client without the extension implies SHA-1
/// with every key type (RFC 5246 §7.4.1.4.1).
fn signature_scheme_for(client: &ClientProfile, protocol: Protocol, key: LeafKey) -> bool {
    if protocol < Protocol::Tls12 || (protocol == Protocol::Tls12 && client.signature_algorithms.is_empty()) {
        return true;
    }
    let tls13 = protocol == Protocol::Tls13;
    client.signature_algorithms.iter().any(|&scheme| match key {
        LeafKey::Rsa => {
            matches!(scheme, 0x0804..=0x0806)
                || (!tls13 && matches!(scheme, 0x0201 | 0x0301 | 0x0401 | 0x0501 | 0x0601))
        }
        LeafKey::Ec => matches!(scheme, 0x0403 | 0x0503 | 0x0603) || (!tls13 && matches!(scheme, 0x0203 | 0x0303)),
        LeafKey::Ed25519 => scheme == 0x0807,
        LeafKey::Ed448 => scheme == 0x0808,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse_and_cover_the_brief() {
        let profiles = parse_profiles(BUILTIN).expect("profiles/clients.toml is valid");
        assert!(profiles.len() >= 20, "{} profiles", profiles.len());
        let pqc = profiles.iter().filter(|p| p.key_shares.iter().any(|k| k.contains("MLKEM"))).count();
        assert!(pqc >= 1, "at least one client sends a hybrid ML-KEM key share");
        for profile in &profiles {
            assert!(!profile.source.is_empty(), "{} names its source", profile.id);
        }
    }

    fn client(protocols: &[Protocol], suites: &[u16]) -> ClientProfile {
        ClientProfile {
            id: "c".into(),
            name: "C".into(),
            category: "library".into(),
            protocols: protocols.to_vec(),
            cipher_suites: suites.to_vec(),
            groups: vec!["x25519".into(), "secp256r1".into()],
            key_shares: vec!["x25519".into()],
            signature_algorithms: vec![0x0804, 0x0401],
            sni: true,
            alpn: Vec::new(),
            min_dh_bits: None,
            max_dh_bits: None,
            min_rsa_bits: None,
            max_rsa_bits: None,
            min_ecdsa_bits: None,
            requires_sha2: false,
            source: "test".into(),
            note: None,
        }
    }

    fn leaf(key: LeafKey, bits: u32) -> Leaf {
        Leaf { key, bits: Some(bits), sha1_signed: false }
    }

    #[test]
    fn a_client_refuses_keys_outside_its_sizes_and_sha1_chains_when_it_requires_sha2() {
        let facts = tls12_facts(&[ECDHE_GCM], Some(true));
        let mut strict = client(&[Protocol::Tls12], &[0xC02F]);
        strict.min_rsa_bits = Some(2048);
        strict.max_rsa_bits = Some(16384);
        strict.min_ecdsa_bits = Some(224);
        strict.requires_sha2 = true;
        assert_eq!(simulate(&strict, &facts, Some(leaf(LeafKey::Rsa, 2048))).outcome, SimulatedOutcome::Connects);
        let small = simulate(&strict, &facts, Some(leaf(LeafKey::Rsa, 1024)));
        assert_eq!(small.outcome, SimulatedOutcome::Fails);
        assert_eq!(
            small.reason.as_deref(),
            Some("the server's RSA key has 1024 bits, under this client's minimum of 2048")
        );
        let huge = simulate(&strict, &facts, Some(leaf(LeafKey::Rsa, 32768)));
        assert!(huge.reason.unwrap().contains("over this client's maximum of 16384"));
        let mut facts_ec = facts.clone();
        facts_ec.cipher_suites.insert(Protocol::Tls12, vec![ECDHE_GCM.to_string()]);
        strict.signature_algorithms = vec![0x0403, 0x0804];
        let p192 = simulate(&strict, &facts_ec, Some(leaf(LeafKey::Ec, 192)));
        assert!(p192.reason.unwrap().contains("ECDSA key has 192 bits"));
        let sha1 = Leaf { sha1_signed: true, ..leaf(LeafKey::Rsa, 2048) };
        let refused = simulate(&strict, &facts, Some(sha1));
        assert_eq!(refused.outcome, SimulatedOutcome::Fails);
        assert!(refused.reason.unwrap().contains("SHA-1"));
        strict.requires_sha2 = false;
        assert_eq!(simulate(&strict, &facts, Some(sha1)).outcome, SimulatedOutcome::Connects);
    }

    fn tls12_facts(suites: &[&str], preference: Option<bool>) -> TlsFacts {
        let mut facts = TlsFacts { protocols: vec![Protocol::Tls12], ..Default::default() };
        facts.cipher_suites.insert(Protocol::Tls12, suites.iter().map(|s| s.to_string()).collect());
        facts.server_preference.insert(Protocol::Tls12, preference);
        facts.groups = vec!["x25519".into(), "secp256r1".into()];
        facts.groups_protocol = Some(Protocol::Tls12);
        facts
    }

    const DHE_GCM: &str = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256";
    const ECDHE_GCM: &str = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";

    #[test]
    fn a_client_refuses_dh_parameters_below_its_minimum() {
        let mut facts = tls12_facts(&[DHE_GCM], None);
        facts.key_exchange.push(crate::facts::KeyExchangeFact {
            protocol: Protocol::Tls12,
            kind: "DH".into(),
            group: None,
            bits: Some(1024),
            cipher_suite: DHE_GCM.into(),
        });
        let mut strict = client(&[Protocol::Tls12], &[0x009E]);
        strict.min_dh_bits = Some(2048);
        let result = simulate(&strict, &facts, Some(leaf(LeafKey::Rsa, 2048)));
        assert_eq!(result.outcome, SimulatedOutcome::Fails);
        assert!(result.reason.as_deref().unwrap_or_default().contains("1024-bit DH"), "{result:?}");
        strict.min_dh_bits = Some(1024);
        let result = simulate(&strict, &facts, Some(leaf(LeafKey::Rsa, 2048)));
        assert_eq!((result.outcome, result.group.as_deref()), (SimulatedOutcome::Connects, Some("DH-1024")));
    }

    #[test]
    fn an_unmeasured_order_leaves_the_suite_open_unless_both_firsts_agree() {
        // The server's order was not measured (null) and it accepts both suites.
        let facts = tls12_facts(&[ECDHE_GCM, DHE_GCM], None);
        let dhe_first = client(&[Protocol::Tls12], &[0x009E, 0xC02F]);
        let result = simulate(&dhe_first, &facts, Some(leaf(LeafKey::Rsa, 2048)));
        assert_eq!(result.outcome, SimulatedOutcome::Connects);
        assert_eq!(result.cipher_suite, None);
        assert_eq!(result.undetermined, ["cipher_suite", "group"]);
        let ecdhe_first = client(&[Protocol::Tls12], &[0xC02F, 0x009E]);
        let result = simulate(&ecdhe_first, &facts, Some(leaf(LeafKey::Rsa, 2048)));
        assert_eq!(result.cipher_suite.as_deref(), Some(ECDHE_GCM));
        // Measured: the server's order, or the client's.
        let result =
            simulate(&dhe_first, &tls12_facts(&[ECDHE_GCM, DHE_GCM], Some(true)), Some(leaf(LeafKey::Rsa, 2048)));
        assert_eq!(result.cipher_suite.as_deref(), Some(ECDHE_GCM));
        let result =
            simulate(&dhe_first, &tls12_facts(&[ECDHE_GCM, DHE_GCM], Some(false)), Some(leaf(LeafKey::Rsa, 2048)));
        assert_eq!(result.cipher_suite.as_deref(), Some(DHE_GCM));
    }

    #[test]
    fn an_ecdsa_leaf_needs_an_ecdsa_signature_scheme_at_tls13() {
        let mut facts = TlsFacts { protocols: vec![Protocol::Tls13], ..Default::default() };
        facts.cipher_suites.insert(Protocol::Tls13, vec!["TLS_AES_128_GCM_SHA256".into()]);
        facts.groups = vec!["x25519".into()];
        facts.groups_protocol = Some(Protocol::Tls13);
        let rsa_only = client(&[Protocol::Tls13], &[0x1301]);
        let result = simulate(&rsa_only, &facts, Some(leaf(LeafKey::Ec, 2048)));
        assert_eq!(result.outcome, SimulatedOutcome::Fails);
        assert_eq!(result.protocol, Some(Protocol::Tls13));
        let result = simulate(&rsa_only, &facts, Some(leaf(LeafKey::Rsa, 2048)));
        assert_eq!((result.outcome, result.group.as_deref()), (SimulatedOutcome::Connects, Some("x25519")));
    }

    #[test]
    fn a_client_below_the_servers_protocols_fails_with_the_reason() {
        let facts = tls12_facts(&[ECDHE_GCM], Some(true));
        let old = client(&[Protocol::Sslv3, Protocol::Tls10], &[0x002F]);
        let result = simulate(&old, &facts, Some(leaf(LeafKey::Rsa, 2048)));
        assert_eq!(result.outcome, SimulatedOutcome::Fails);
        assert_eq!(result.protocol, None);
        assert!(result.reason.as_deref().unwrap_or_default().contains("no common protocol"), "{result:?}");
    }

    #[test]
    fn invalid_profiles_are_refused_with_the_client_named() {
        let text = "[[client]]\nid = \"x\"\nname = \"X\"\ncategory = \"library\"\nprotocols = [\"TLSv1.3\"]\n\
                    cipher_suites = [0x1301]\ngroups = [\"x25519\"]\nkey_shares = [\"secp256r1\"]\nsource = \"s\"\n";
        let error = parse_profiles(text).unwrap_err();
        assert!(error.contains("client x") && error.contains("secp256r1"), "{error}");
    }
}
