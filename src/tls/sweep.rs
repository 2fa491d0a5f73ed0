//! The TLS sweep: which protocols, suites, groups and extensions a server accepts, found with as
//! few connections as the facts allow.
//!
//! Suites are enumerated per protocol by offering a window of up to 128 candidates, removing the
//! one the server chose, and offering again; a refusal removes the whole window. That costs one
//! connection per accepted suite plus one per refused window (2 for SSLv3–TLS 1.1, whose 179
//! candidates fit in two windows, 2–3 for TLS 1.2's 352, 1 for TLS 1.3's 5). Extensions are read
//! from the same ServerHellos. The extra connections are listed in `docs/connections.md`.
//! A TLS 1.3 hello's encrypted flight (EncryptedExtensions, CertificateRequest, Certificate
//! with its entries' SCTs and OCSP staple) is read and decrypted on the enumeration's own
//! connection (`codec::tls13_flight`); a rustls handshake is opened only when that fails.
//! Last, the known-vulnerability verdicts are derived from these facts and the few active
//! vulnerability probes run (`tls::vuln`), through the same connector.
//!
//! A server whose answers no real TLS stack could give (a suite that was not offered, one
//! certificate for suites needing different keys: `tls::plausibility`) stops the sweep at once
//! with that reason instead of costing a connection per registry suite.

use std::collections::BTreeMap;

use crate::facts::{
    ExtensionFacts, KeyExchangeFact, ProtocolDetail, Refusal, Tls13Handshake, Tls13HandshakeSource, TlsFacts,
};
use crate::net::{Connector, NetError};
use crate::tls::client_auth::ClientAuthFact;
use crate::tls::codec::tls13_flight::Tls13Flight;
use crate::tls::codec::CertificateStatus;
use crate::tls::codec::{
    alert_description, decode_server_key_exchange, encode_sslv2_client_hello, extension_type, KeyExchangeKind,
    KeyExchangeParams,
};
use crate::tls::exchange::{exchange, exchange_sslv2, ServerFlight, Sslv2Answer, Tls13FlightRead, Until};
use crate::tls::hello::{
    build_hello, classify, is_inappropriate_fallback, version_name, Answer, HelloOptions, ALPN_H2, ALPN_HTTP11,
    MAX_SUITES_PER_HELLO,
};
use crate::tls::plausibility::Plausibility;
use crate::tls::registry::{group, group_name, is_tls12_ec_group, registry, KeyExchange, Protocol, NAMED_GROUPS};
use crate::tls::rustls_probe;
use base64::Engine as _;

/// Everything the sweep needs to know about its target.
#[derive(Debug, Clone)]
pub struct SweepTarget {
    pub connector: Connector,
    /// SNI to send (None for IP literals).
    pub sni: Option<String>,
}

/// The sweep's result: facts, plus the error that stopped it early (if any).
pub struct SweepOutcome {
    pub facts: TlsFacts,
    pub fatal: Option<NetError>,
}

/// What enumerating one protocol found.
#[derive(Debug, Default)]
struct ProtocolScan {
    /// Chosen suites in the order the server chose them.
    chosen: Vec<u16>,
    /// For each choice, the suites offered in that hello (to know which orderings are proven).
    windows: Vec<Vec<u16>>,
    /// The first complete flight of the protocol (extensions, chain, staple).
    first_flight: Option<ServerFlight>,
    key_exchange: Vec<KeyExchangeFact>,
    /// Every finite-field DH (p, g) seen, for `tls::vuln::judge_dh_groups`.
    dh_params: Vec<(Vec<u8>, Vec<u8>)>,
    alpn_selected: Vec<String>,
    /// TLS 1.3: the decrypted flight of the first hello whose flight could be read (or the last
    /// failure to read one).
    tls13_flight: Option<Tls13FlightRead>,
    refusal: Option<Refusal>,
    error: Option<NetError>,
}

impl ProtocolScan {
    fn accepted(&self) -> bool {
        !self.chosen.is_empty()
    }
}

/// Run the whole sweep against one address.
pub async fn sweep(target: &SweepTarget) -> SweepOutcome {
    let mut facts = TlsFacts::default();

    // First contact doubles as the first TLS 1.2 hello: a target that refuses, never answers,
    // resets the connection or does not speak TLS is given up at once instead of being probed
    // six more times. (Later in the sweep a reset is one hello's refusal, as some servers answer
    // a hello they dislike that way; at first contact nothing says the peer speaks TLS at all.)
    let tls12_candidates = registry().legacy_candidates(Protocol::Tls12);
    let first_window: Vec<u16> = tls12_candidates.iter().copied().take(MAX_SUITES_PER_HELLO).collect();
    let options = HelloOptions::new(target.sni.clone());
    let first =
        exchange(&target.connector, &build_hello(Protocol::Tls12, &first_window, &options), Until::HelloDone).await;
    if let Err(NetError::Reset) = first {
        facts.connections = target.connector.connections();
        return SweepOutcome { facts, fatal: Some(NetError::Reset) };
    }
    let plausibility = Plausibility::new();
    let first = match classify(Protocol::Tls12, &first_window, first) {
        Ok(answer) => answer,
        Err(error) => {
            let error = judged(&plausibility, Protocol::Tls12, error);
            facts.implausible = plausibility.verdict();
            facts.connections = target.connector.connections();
            return SweepOutcome { facts, fatal: Some(error) };
        }
    };

    let tls12_lane = enumerate_suites(target, &plausibility, Protocol::Tls12, tls12_candidates, Some(first));
    let other_lane = async {
        let mut scans = BTreeMap::new();
        for protocol in [Protocol::Tls13, Protocol::Tls11, Protocol::Tls10, Protocol::Sslv3] {
            if plausibility.tripped() {
                return (scans, None);
            }
            let candidates = if protocol == Protocol::Tls13 {
                registry().tls13_candidates()
            } else {
                registry().legacy_candidates(protocol)
            };
            let scan = enumerate_suites(target, &plausibility, protocol, candidates, None).await;
            let stop = scan.error.as_ref().is_some_and(NetError::is_fatal_for_target);
            scans.insert(protocol, scan);
            if stop {
                return (scans, None);
            }
        }
        let sslv2 = scan_sslv2(target).await;
        (scans, Some(sslv2))
    };
    let (tls12, (mut scans, sslv2)) = tokio::join!(tls12_lane, other_lane);
    scans.insert(Protocol::Tls12, tls12);

    // Protocol verdicts and suites.
    if let Some(sslv2) = &sslv2 {
        record_sslv2(&mut facts, sslv2);
    }
    for (&protocol, scan) in &scans {
        facts.protocol_details.insert(
            protocol,
            ProtocolDetail {
                accepted: scan.accepted(),
                refusal: if scan.accepted() { None } else { scan.refusal.clone() },
                error: scan.error.as_ref().map(|e| e.to_string()),
            },
        );
        if let Some(error) = &scan.error {
            facts.probe_errors.push(format!("{protocol} suites: {error}"));
        }
    }
    // An implausible server's suites mean nothing: no second phase, no vulnerability probes.
    if let Some(verdict) = plausibility.verdict() {
        facts.connections = target.connector.connections();
        let fatal = NetError::Implausible(verdict.detail.clone());
        facts.implausible = Some(verdict);
        return SweepOutcome { facts, fatal: Some(fatal) };
    }

    // Second phase: order, groups, fallback, and the TLS 1.3 chain, using what the first found.
    let accepted: Vec<Protocol> = scans.iter().filter(|(_, s)| s.accepted()).map(|(&p, _)| p).collect();
    let tls13_flight = scans.get(&Protocol::Tls13).and_then(|s| s.tls13_flight.clone());
    let flight_complete = tls13_flight.as_ref().is_some_and(Tls13FlightRead::complete);
    let order_lane = async {
        let mut orders = BTreeMap::new();
        for &protocol in &accepted {
            if let Some(scan) = scans.get(&protocol) {
                orders.insert(protocol, server_order(target, protocol, scan).await);
            }
        }
        orders
    };
    let extras_lane = async {
        let groups = enumerate_groups(target, &scans).await;
        let fallback = fallback_scsv(target, &scans).await;
        // The decrypted flight already holds what this handshake would show.
        let tls13 = if accepted.contains(&Protocol::Tls13) && !flight_complete {
            Some(rustls_probe::handshake(&target.connector, target.sni.as_deref()).await)
        } else {
            None
        };
        (groups, fallback, tls13)
    };
    let (orders, (groups, fallback, tls13)) = tokio::join!(order_lane, extras_lane);

    for (protocol, (order, preference, alpn, error)) in orders {
        let names = order.iter().map(|&c| registry().name(u32::from(c))).collect();
        facts.cipher_suites.insert(protocol, names);
        facts.server_preference.insert(protocol, preference);
        facts.extensions.alpn.extend(alpn);
        if let Some(error) = error {
            facts.probe_errors.push(format!("{protocol} order: {error}"));
        }
    }
    record_extensions(&mut facts, &scans);
    let (group_list, groups_protocol, group_error) = groups;
    facts.groups = group_list;
    facts.groups_protocol = groups_protocol;
    if let Some(error) = group_error {
        facts.probe_errors.push(format!("groups: {error}"));
    }
    let (fallback_result, fallback_error) = fallback;
    facts.fallback_scsv = fallback_result;
    if let Some(error) = fallback_error {
        facts.probe_errors.push(format!("fallback SCSV: {error}"));
    }
    if let Some(read) = &tls13_flight {
        record_tls13_flight(&mut facts, read);
    }
    if let Some(probe) = tls13 {
        if facts.chain_pem.is_empty() && !probe.chain.is_empty() {
            facts.chain_pem = chain_as_pem(&probe.chain, &mut facts.probe_errors);
            facts.chain_protocol = Some(Protocol::Tls13);
            facts.chain_sent = probe.chain.len();
        }
        if facts.ocsp_staple_base64.is_none() {
            if let Some(staple) = &probe.ocsp {
                facts.ocsp_staple_base64 = Some(base64::engine::general_purpose::STANDARD.encode(staple));
            }
        }
        // Without a TLS ≤ 1.2 ServerHello to read it from, a staple in the TLS 1.3 handshake
        // is the only sign of OCSP stapling.
        if facts.extensions.ocsp_stapling.is_none() && probe.summary.completed {
            facts.extensions.ocsp_stapling = Some(probe.summary.ocsp_stapled);
        }
        if let Some(alpn) = &probe.summary.alpn {
            facts.extensions.alpn.push(alpn.clone());
        }
        if let Some(error) = &probe.summary.error {
            facts.probe_errors.push(format!("TLS 1.3 handshake: {error}"));
        }
        facts.tls13_handshake = Some(probe.summary);
    }
    facts.extensions.alpn.sort();
    facts.extensions.alpn.dedup();
    facts.protocols = facts.protocol_details.iter().filter(|(_, d)| d.accepted).map(|(&p, _)| p).collect();
    crate::tls::derived::derive(&mut facts);
    crate::tls::vuln::derive(&mut facts);
    let dh_params =
        scans.iter().flat_map(|(&p, s)| s.dh_params.iter().map(move |(dp, dg)| (p, dp.clone(), dg.clone())));
    facts.dh_groups = crate::tls::vuln::judge_dh_groups(dh_params.collect()).await;
    crate::tls::clients::settle_open_questions(&target.connector, target.sni.as_deref(), &mut facts).await;
    facts.clients = crate::tls::clients::simulate_all(&facts);
    if !facts.protocols.is_empty() && !target.connector.deadline_passed() {
        crate::tls::vuln::probe(target, &mut facts, &accepted_legacy(&scans)).await;
        if let Some(client_auth) = facts.client_auth.as_mut().filter(|c| c.protocol == Some(Protocol::Tls13)) {
            crate::tls::client_auth::probe_tls13_required(target, client_auth).await;
        } else if let Some(client_auth) = facts.client_auth.as_mut() {
            let tls12_suites = scans.get(&Protocol::Tls12).map(|s| s.chosen.as_slice()).unwrap_or_default();
            crate::tls::client_auth::probe(target, client_auth, tls12_suites).await;
        } else if facts.protocols.contains(&Protocol::Tls13) {
            facts.client_auth = Some(crate::tls::client_auth::probe_tls13(target).await);
        }
    }
    facts.connections = target.connector.connections();

    let fatal = scans.values().find_map(|s| s.error.clone().filter(NetError::is_fatal_for_target));
    SweepOutcome { facts, fatal }
}

/// A well-known shared DH prime's name (`ffdhe2048` for the RFC 7919 groups, else the name in
/// the common-primes list, e.g. `RFC2409/Oakley Group 2`).
fn dh_group_name(params: &KeyExchangeParams) -> Option<String> {
    let KeyExchangeParams::Dh { p, .. } = params else {
        return None;
    };
    let name = crate::tls::vuln::common_dh_prime(p)?;
    Some(name.strip_prefix("RFC7919/").unwrap_or(name).to_string())
}

/// The accepted TLS ≤ 1.2 protocols, best first, with what the vulnerability probes need.
fn accepted_legacy(scans: &BTreeMap<Protocol, ProtocolScan>) -> Vec<crate::tls::vuln::AcceptedProtocol> {
    [Protocol::Tls12, Protocol::Tls11, Protocol::Tls10, Protocol::Sslv3]
        .into_iter()
        .filter_map(|protocol| {
            let scan = scans.get(&protocol).filter(|s| s.accepted())?;
            let heartbeat = scan
                .first_flight
                .as_ref()
                .and_then(|f| f.server_hello.as_ref())
                .is_some_and(|h| h.extension(extension_type::HEARTBEAT).is_some());
            Some(crate::tls::vuln::AcceptedProtocol { protocol, suites: scan.chosen.clone(), heartbeat })
        })
        .collect()
}

/// A suite the server chose without it being offered is the plausibility verdict; other errors
/// stay as they are.
fn judged(plausibility: &Plausibility, protocol: Protocol, error: NetError) -> NetError {
    match error {
        NetError::SuiteNotOffered(suite) => NetError::Implausible(plausibility.not_offered(protocol, suite).detail),
        other => other,
    }
}

/// "Offer a window, remove the chosen suite, repeat" for one protocol; stops as soon as the
/// server is known to be implausible (seen here or by another lane).
async fn enumerate_suites(
    target: &SweepTarget,
    plausibility: &Plausibility,
    protocol: Protocol,
    candidates: Vec<u16>,
    first_answer: Option<Answer>,
) -> ProtocolScan {
    let mut scan = ProtocolScan::default();
    let mut pool = candidates;
    let mut pending_answer = first_answer;
    let mut options = HelloOptions::new(target.sni.clone());
    let window_size = MAX_SUITES_PER_HELLO - usize::from(protocol == Protocol::Sslv3);
    // Bounded by construction: every round removes at least one suite from the pool.
    while !pool.is_empty() {
        if let Some(verdict) = plausibility.verdict() {
            scan.error = Some(NetError::Implausible(verdict.detail));
            break;
        }
        let window: Vec<u16> = pool.iter().copied().take(window_size).collect();
        let answer = match pending_answer.take() {
            Some(answer) => answer,
            None => {
                let hello = build_hello(protocol, &window, &options);
                let until = match protocol {
                    Protocol::Tls13 if wants_tls13_flight(&scan) => Until::Tls13Flight,
                    Protocol::Tls13 => Until::ServerHello,
                    _ => Until::HelloDone,
                };
                match classify(protocol, &window, exchange(&target.connector, &hello, until).await) {
                    Ok(answer) => answer,
                    Err(error) => {
                        scan.error = Some(judged(plausibility, protocol, error));
                        break;
                    }
                }
            }
        };
        match answer {
            Answer::Chose { suite, mut flight } => {
                if let Some(verdict) = plausibility.observe(protocol, suite, &flight, &options.sent_key_shares()) {
                    scan.error = Some(NetError::Implausible(verdict.detail));
                    break;
                }
                note_flight(&mut scan, protocol, suite, &flight);
                if let Some(read) = flight.tls13.take() {
                    if wants_tls13_flight(&scan) {
                        scan.tls13_flight = Some(read);
                    }
                }
                // Once h2 is known, offer only http/1.1 so that later hellos tell whether it is
                // spoken too, at no extra connection.
                if scan.alpn_selected.iter().any(|p| p == "h2") {
                    options.alpn = vec![ALPN_HTTP11];
                }
                // Keep the first flight that carries a chain (an anonymous suite's has none).
                let has_chain = |f: &ServerFlight| f.certificates.as_ref().is_some_and(|c| !c.is_empty());
                if scan.first_flight.as_ref().is_none_or(|f| !has_chain(f) && has_chain(&flight)) {
                    scan.first_flight = Some(*flight);
                }
                scan.chosen.push(suite);
                scan.windows.push(window);
                pool.retain(|&c| c != suite);
            }
            Answer::Negotiated(version) => {
                if scan.chosen.is_empty() {
                    scan.refusal = Some(Refusal::Negotiated { version: version_name(version) });
                } else {
                    scan.error = Some(NetError::Protocol(format!(
                        "server switched to {} during enumeration",
                        version_name(version)
                    )));
                }
                break;
            }
            Answer::Refused(reason) => {
                let protocol_refused =
                    scan.chosen.is_empty() && reason.alert_code() == Some(alert_description::PROTOCOL_VERSION);
                if scan.chosen.is_empty() && scan.refusal.is_none() {
                    scan.refusal = Some(reason);
                }
                if protocol_refused {
                    break;
                }
                pool.drain(..window.len().min(pool.len()));
            }
        }
        if target.connector.deadline_passed() {
            scan.error = Some(NetError::Deadline);
            break;
        }
    }
    scan
}

/// Whether the next TLS 1.3 hello should read the encrypted flight: until one was read, or
/// again when the last one chose a CCM suite (the next hello does not offer it). A flight that
/// failed otherwise (a stall, a bad record) is not asked for again: that could cost a timeout
/// per hello.
fn wants_tls13_flight(scan: &ProtocolScan) -> bool {
    match &scan.tls13_flight {
        None => true,
        Some(read) => !read.complete() && matches!(read.flight.cipher_suite, 0x1304 | 0x1305),
    }
}

/// Facts from the decrypted TLS 1.3 flight: the chain (when no TLS ≤ 1.2 handshake gave one),
/// the leaf entry's SCTs and OCSP staple (when that leaf is the recorded one), ALPN, and the
/// client-certificate request of a server without TLS ≤ 1.2.
fn record_tls13_flight(facts: &mut TlsFacts, read: &Tls13FlightRead) {
    if let Some(error) = &read.error {
        facts.probe_errors.push(format!("TLS 1.3 flight: {error}"));
    }
    if !read.complete() {
        return;
    }
    let flight = &read.flight;
    let chain: Vec<Vec<u8>> = flight.certificate.iter().flat_map(|c| c.entries.iter().map(|e| e.der.clone())).collect();
    let sent = flight.certificate.as_ref().map_or(0, |c| c.entries_sent);
    if facts.chain_pem.is_empty() && !chain.is_empty() {
        if sent > chain.len() {
            facts.probe_errors.push(format!("certificate chain of {sent} entries: the first {} kept", chain.len()));
        }
        facts.chain_pem = chain.iter().map(|der| pem("CERTIFICATE", der)).collect();
        facts.chain_protocol = Some(Protocol::Tls13);
        facts.chain_sent = sent;
    }
    let leaf = flight.leaf();
    let staple = leaf
        .and_then(|entry| entry.extension(extension_type::STATUS_REQUEST))
        .and_then(|e| CertificateStatus::decode(&e.data).ok())
        .filter(|status| status.status_type == 1 && !status.response.is_empty());
    let same_leaf = leaf.is_some_and(|entry| facts.chain_pem.first() == Some(&pem("CERTIFICATE", &entry.der)));
    if same_leaf {
        let scts = leaf.and_then(|entry| entry.extension(extension_type::SIGNED_CERTIFICATE_TIMESTAMP));
        if let Some(scts) = scts.filter(|e| !e.data.is_empty()) {
            if facts.sct_list_base64.is_none() {
                facts.sct_list_base64 = Some(base64::engine::general_purpose::STANDARD.encode(&scts.data));
            }
        }
        if let Some(status) = &staple {
            if facts.ocsp_staple_base64.is_none() {
                facts.ocsp_staple_base64 = Some(base64::engine::general_purpose::STANDARD.encode(&status.response));
            }
        }
    }
    if facts.extensions.ocsp_stapling.is_none() {
        facts.extensions.ocsp_stapling = Some(staple.is_some());
    }
    let alpn = flight.alpn().map(|name| String::from_utf8_lossy(&name).into_owned());
    if let Some(alpn) = &alpn {
        facts.extensions.alpn.push(alpn.clone());
    }
    if facts.client_auth.is_none() {
        facts.client_auth = Some(ClientAuthFact::from_tls13_flight(flight.certificate_request.as_ref()));
    }
    facts.tls13_handshake = Some(flight_summary(flight, alpn, staple.is_some(), sent));
}

fn flight_summary(
    flight: &Tls13Flight,
    alpn: Option<String>,
    ocsp_stapled: bool,
    chain_length: usize,
) -> Tls13Handshake {
    Tls13Handshake {
        source: Tls13HandshakeSource::DecryptedFlight,
        completed: true,
        error: None,
        cipher_suite: Some(registry().name(u32::from(flight.cipher_suite))),
        group: Some(group_name(flight.group)),
        alpn,
        ocsp_stapled,
        chain_length,
    }
}

/// Take the facts a ServerHello flight carries besides the suite.
fn note_flight(scan: &mut ProtocolScan, protocol: Protocol, suite: u16, flight: &ServerFlight) {
    if let Some(hello) = &flight.server_hello {
        if let Ok(Some(alpn)) = hello.alpn_protocol() {
            let name = String::from_utf8_lossy(&alpn).into_owned();
            if !scan.alpn_selected.contains(&name) {
                scan.alpn_selected.push(name);
            }
        }
    }
    let (Some(body), Some(info)) = (&flight.server_key_exchange, registry().get(u32::from(suite))) else {
        return;
    };
    let kind = match info.key_exchange() {
        KeyExchange::Dhe => KeyExchangeKind::Dh,
        KeyExchange::Ecdhe => KeyExchangeKind::Ecdh,
        KeyExchange::RsaExport => KeyExchangeKind::Rsa,
        _ => return,
    };
    let decoded = decode_server_key_exchange(body, kind);
    if let Ok(KeyExchangeParams::Dh { p, g, .. }) = &decoded {
        if !scan.dh_params.iter().any(|(sp, sg)| sp == p && sg == g) {
            scan.dh_params.push((p.clone(), g.clone()));
        }
    }
    let fact = match decoded {
        Ok(KeyExchangeParams::EcdhNamed { group: code, .. }) => KeyExchangeFact {
            protocol,
            kind: "ECDH".into(),
            group: Some(group_name(code)),
            bits: group(code).map(|g| g.bits),
            cipher_suite: info.iana_name.clone(),
        },
        Ok(KeyExchangeParams::EcdhExplicit { curve_type }) => KeyExchangeFact {
            protocol,
            kind: "ECDH".into(),
            group: Some(format!("explicit_curve_type_{curve_type}")),
            bits: None,
            cipher_suite: info.iana_name.clone(),
        },
        Ok(params @ KeyExchangeParams::Dh { .. }) => KeyExchangeFact {
            protocol,
            kind: "DH".into(),
            group: dh_group_name(&params),
            bits: params.modulus_bits(),
            cipher_suite: info.iana_name.clone(),
        },
        Ok(params @ KeyExchangeParams::Rsa { .. }) => KeyExchangeFact {
            protocol,
            kind: "RSA".into(),
            group: None,
            bits: params.modulus_bits(),
            cipher_suite: info.iana_name.clone(),
        },
        Err(_) => return,
    };
    let duplicate =
        scan.key_exchange.iter().any(|f| f.kind == fact.kind && f.group == fact.group && f.bits == fact.bits);
    if !duplicate {
        scan.key_exchange.push(fact);
    }
}

/// Whether the server picks by its own order, and the order of its accepted suites.
///
/// One hello offers the accepted suites with the server's first choice last: a server that
/// still picks it enforces its order. The choices made during enumeration already are the
/// server's order whenever every later choice was offered alongside each earlier one; only
/// when that is not proven (choices came from different windows) are the suites re-ranked.
async fn server_order(
    target: &SweepTarget,
    protocol: Protocol,
    scan: &ProtocolScan,
) -> (Vec<u16>, Option<bool>, Vec<String>, Option<NetError>) {
    let chosen = scan.chosen.clone();
    let mut alpn = scan.alpn_selected.clone();
    if chosen.len() < 2 {
        return (chosen, None, alpn, None);
    }
    let first = chosen[0];
    let mut offer: Vec<u16> = chosen.iter().rev().copied().filter(|&c| c != first).collect();
    offer.push(first);
    offer.truncate(MAX_SUITES_PER_HELLO);
    let mut options = HelloOptions::new(target.sni.clone());
    if protocol != Protocol::Tls13 && alpn.iter().any(|p| p == "h2") && !alpn.iter().any(|p| p == ALPN_HTTP11_STR) {
        options.alpn = vec![ALPN_HTTP11];
    } else if protocol != Protocol::Tls13 {
        options.alpn = vec![ALPN_H2, ALPN_HTTP11];
    }
    let answer = classify(
        protocol,
        &offer,
        exchange(&target.connector, &build_hello(protocol, &offer, &options), Until::ServerHello).await,
    );
    let preference = match answer {
        Ok(Answer::Chose { suite, flight }) => {
            if let Some(Ok(Some(name))) = flight.server_hello.as_ref().map(|h| h.alpn_protocol()) {
                let name = String::from_utf8_lossy(&name).into_owned();
                if !alpn.contains(&name) {
                    alpn.push(name);
                }
            }
            suite != offer[0]
        }
        Ok(other) => return (chosen, None, alpn, Some(NetError::Protocol(format!("unexpected answer {other:?}")))),
        Err(error) => return (chosen, None, alpn, Some(error)),
    };
    if !preference || order_is_proven(scan) {
        return (chosen, Some(preference), alpn, None);
    }
    // Re-rank: offer all remaining accepted suites, take the server's pick, repeat.
    let mut remaining = chosen.clone();
    let mut order = Vec::new();
    while remaining.len() > 1 {
        let window: Vec<u16> = remaining.iter().copied().take(MAX_SUITES_PER_HELLO).collect();
        let hello = build_hello(protocol, &window, &HelloOptions::new(target.sni.clone()));
        match classify(protocol, &window, exchange(&target.connector, &hello, Until::ServerHello).await) {
            Ok(Answer::Chose { suite, .. }) => {
                order.push(suite);
                remaining.retain(|&c| c != suite);
            }
            Ok(other) => {
                return (chosen, Some(true), alpn, Some(NetError::Protocol(format!("re-ranking: {other:?}"))));
            }
            Err(error) => return (chosen, Some(true), alpn, Some(error)),
        }
    }
    order.extend(remaining);
    (order, Some(true), alpn, None)
}

const ALPN_HTTP11_STR: &str = "http/1.1";

/// True when each choice was offered together with every later choice, so the choice sequence
/// is the server's preference order.
fn order_is_proven(scan: &ProtocolScan) -> bool {
    scan.chosen
        .iter()
        .enumerate()
        .all(|(i, _)| scan.chosen[i + 1..].iter().all(|later| scan.windows[i].contains(later)))
}

/// The groups the server accepts: over TLS 1.3 (HelloRetryRequest names the server's choice
/// when no key share is sent), else over the highest TLS ≤ 1.2 with ECDHE suites
/// (ServerKeyExchange names the curve). One connection per group, plus one.
async fn enumerate_groups(
    target: &SweepTarget,
    scans: &BTreeMap<Protocol, ProtocolScan>,
) -> (Vec<String>, Option<Protocol>, Option<NetError>) {
    let mut found = Vec::new();
    if let Some(tls13) = scans.get(&Protocol::Tls13).filter(|s| s.accepted()) {
        let mut remaining: Vec<u16> = NAMED_GROUPS.iter().map(|g| g.code).collect();
        while !remaining.is_empty() {
            let mut options = HelloOptions::new(target.sni.clone());
            options.groups = Some(remaining.clone());
            options.key_shares = Vec::new();
            let hello = build_hello(Protocol::Tls13, &tls13.chosen, &options);
            let answer =
                classify(Protocol::Tls13, &tls13.chosen, exchange(&target.connector, &hello, Until::ServerHello).await);
            match answer {
                Ok(Answer::Chose { flight, .. }) => {
                    let chosen = flight.server_hello.as_ref().and_then(|h| h.key_share_group().ok().flatten());
                    match chosen {
                        Some(code) if remaining.contains(&code) => {
                            found.push(group_name(code));
                            remaining.retain(|&c| c != code);
                        }
                        other => {
                            let error =
                                NetError::Protocol(format!("server selected group {other:?} outside the offer"));
                            return (found, Some(Protocol::Tls13), Some(error));
                        }
                    }
                }
                Ok(_) => break,
                Err(error) => return (found, Some(Protocol::Tls13), Some(error)),
            }
        }
        return (found, Some(Protocol::Tls13), None);
    }

    let legacy = [Protocol::Tls12, Protocol::Tls11, Protocol::Tls10, Protocol::Sslv3];
    let Some((protocol, ecdhe_suites)) = legacy.iter().find_map(|p| {
        let scan = scans.get(p)?;
        let ecdhe: Vec<u16> = scan
            .chosen
            .iter()
            .copied()
            .filter(|&c| registry().get(u32::from(c)).is_some_and(|s| s.key_exchange() == KeyExchange::Ecdhe))
            .collect();
        (!ecdhe.is_empty()).then_some((*p, ecdhe))
    }) else {
        return (found, None, None);
    };
    if protocol == Protocol::Sslv3 {
        // SSLv3 hellos carry no extensions, so there is no group list to vary.
        return (found, None, None);
    }
    let mut remaining: Vec<u16> = NAMED_GROUPS.iter().map(|g| g.code).filter(|&c| is_tls12_ec_group(c)).collect();
    while !remaining.is_empty() {
        let mut options = HelloOptions::new(target.sni.clone());
        options.groups = Some(remaining.clone());
        let hello = build_hello(protocol, &ecdhe_suites, &options);
        match classify(protocol, &ecdhe_suites, exchange(&target.connector, &hello, Until::HelloDone).await) {
            Ok(Answer::Chose { flight, .. }) => {
                let params = flight
                    .server_key_exchange
                    .as_ref()
                    .and_then(|body| decode_server_key_exchange(body, KeyExchangeKind::Ecdh).ok());
                match params {
                    Some(KeyExchangeParams::EcdhNamed { group: code, .. }) if remaining.contains(&code) => {
                        found.push(group_name(code));
                        remaining.retain(|&c| c != code);
                    }
                    _ => break,
                }
            }
            Ok(_) => break,
            Err(error) => return (found, Some(protocol), Some(error)),
        }
    }
    (found, Some(protocol), None)
}

/// RFC 7507: offer the version just below the best one with TLS_FALLBACK_SCSV; a server that
/// knows the signal answers inappropriate_fallback. Servers check the signal before the version,
/// so this works even when the lower version is not accepted (a TLS 1.3-only server); when it
/// is refused for another reason, the answer is unknown (null).
async fn fallback_scsv(
    target: &SweepTarget,
    scans: &BTreeMap<Protocol, ProtocolScan>,
) -> (Option<bool>, Option<NetError>) {
    let Some(best) = scans.iter().filter(|(_, s)| s.accepted()).map(|(&p, _)| p).max() else {
        return (None, None);
    };
    let below = match best {
        Protocol::Tls13 => Protocol::Tls12,
        Protocol::Tls12 => Protocol::Tls11,
        Protocol::Tls11 => Protocol::Tls10,
        Protocol::Tls10 => Protocol::Sslv3,
        Protocol::Sslv3 | Protocol::Sslv2 => return (None, None),
    };
    let below_accepted = scans.get(&below).is_some_and(ProtocolScan::accepted);
    let suites: Vec<u16> = match scans.get(&below).filter(|s| s.accepted()) {
        Some(scan) => scan.chosen.iter().copied().take(MAX_SUITES_PER_HELLO - 2).collect(),
        None => registry().legacy_candidates(below).into_iter().take(MAX_SUITES_PER_HELLO - 2).collect(),
    };
    let mut options = HelloOptions::new(target.sni.clone());
    options.fallback_scsv = true;
    let hello = build_hello(below, &suites, &options);
    match classify(below, &suites, exchange(&target.connector, &hello, Until::ServerHello).await) {
        Ok(answer) if is_inappropriate_fallback(&answer) => (Some(true), None),
        Ok(Answer::Chose { .. }) => (Some(false), None),
        Ok(_) if !below_accepted => (None, None),
        Ok(other) => (None, Some(NetError::Protocol(format!("inconclusive answer {other:?}")))),
        Err(error) => (None, Some(error)),
    }
}

async fn scan_sslv2(target: &SweepTarget) -> Result<Sslv2Answer, NetError> {
    let specs = registry().sslv2_candidates();
    let challenge: [u8; 16] = rand::random();
    exchange_sslv2(&target.connector, &encode_sslv2_client_hello(&specs, &challenge)).await
}

fn record_sslv2(facts: &mut TlsFacts, answer: &Result<Sslv2Answer, NetError>) {
    let detail = match answer {
        Ok(Sslv2Answer::Hello(hello)) if !hello.cipher_specs.is_empty() => {
            let names = hello.cipher_specs.iter().map(|&c| registry().sslv2_name(c)).collect();
            facts.cipher_suites.insert(Protocol::Sslv2, names);
            if !hello.certificate.is_empty() && facts.chain_pem.is_empty() {
                facts.chain_pem = vec![pem("CERTIFICATE", &hello.certificate)];
                facts.chain_protocol = Some(Protocol::Sslv2);
                facts.chain_sent = 1;
            }
            ProtocolDetail { accepted: true, refusal: None, error: None }
        }
        Ok(Sslv2Answer::Hello(_)) => {
            ProtocolDetail { accepted: false, refusal: Some(Refusal::NoCommonCipher), error: None }
        }
        Ok(Sslv2Answer::Refused(reason)) => {
            ProtocolDetail { accepted: false, refusal: Some(reason.clone()), error: None }
        }
        Err(error) => {
            facts.probe_errors.push(format!("SSLv2: {error}"));
            ProtocolDetail { accepted: false, refusal: None, error: Some(error.to_string()) }
        }
    };
    facts.protocol_details.insert(Protocol::Sslv2, detail);
}

/// Extensions, chain and staple from the best TLS ≤ 1.2 flight (the highest protocol accepted).
fn record_extensions(facts: &mut TlsFacts, scans: &BTreeMap<Protocol, ProtocolScan>) {
    let mut key_exchange: Vec<KeyExchangeFact> = scans.values().flat_map(|s| s.key_exchange.clone()).collect();
    key_exchange.sort();
    facts.key_exchange = key_exchange;

    let best = [Protocol::Tls12, Protocol::Tls11, Protocol::Tls10, Protocol::Sslv3]
        .into_iter()
        .find_map(|p| scans.get(&p).and_then(|s| s.first_flight.as_ref().map(|f| (p, f))));
    let Some((protocol, flight)) = best else {
        return;
    };
    let Some(hello) = &flight.server_hello else {
        return;
    };
    let has = |code: u16| hello.extension(code).is_some();
    facts.extensions = ExtensionFacts {
        secure_renegotiation: Some(has(extension_type::RENEGOTIATION_INFO)),
        compression: Some(hello.compression_method != 0),
        session_ticket: Some(has(extension_type::SESSION_TICKET)),
        ocsp_stapling: Some(has(extension_type::STATUS_REQUEST) || flight.certificate_status.is_some()),
        extended_master_secret: Some(has(extension_type::EXTENDED_MASTER_SECRET)),
        encrypt_then_mac: Some(has(extension_type::ENCRYPT_THEN_MAC)),
        heartbeat: Some(has(extension_type::HEARTBEAT)),
        alpn: std::mem::take(&mut facts.extensions.alpn),
    };
    if let Some(chain) = &flight.certificates {
        if !chain.is_empty() {
            facts.chain_pem = chain_as_pem(chain, &mut facts.probe_errors);
            facts.chain_protocol = Some(protocol);
            facts.chain_sent = chain.len();
        }
    }
    if let Some(status) = &flight.certificate_status {
        facts.ocsp_staple_base64 = Some(base64::engine::general_purpose::STANDARD.encode(&status.response));
    }
    if let Some(scts) = hello.extension(extension_type::SIGNED_CERTIFICATE_TIMESTAMP) {
        facts.sct_list_base64 = Some(base64::engine::general_purpose::STANDARD.encode(&scts.data));
    }
    facts.client_auth = Some(ClientAuthFact::from_flight(protocol, flight.certificate_request.as_ref()));
}

/// Certificates kept from one chain: real chains have two to five; a peer sending thousands
/// must not make every later stage (analysis, checks, reports) pay for them.
pub const MAX_CHAIN_ENTRIES: usize = 16;

/// The chain as sent, in PEM, cut at `MAX_CHAIN_ENTRIES` (with a note when it was).
fn chain_as_pem(chain: &[Vec<u8>], notes: &mut Vec<String>) -> Vec<String> {
    if chain.len() > MAX_CHAIN_ENTRIES {
        notes.push(format!("certificate chain of {} entries: the first {MAX_CHAIN_ENTRIES} kept", chain.len()));
    }
    chain.iter().take(MAX_CHAIN_ENTRIES).map(|der| pem("CERTIFICATE", der)).collect()
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}
