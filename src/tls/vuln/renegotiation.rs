//! Client-initiated renegotiation: complete one TLS 1.2 handshake (`tls12`), then send a new
//! ClientHello inside the session. A server that answers with a ServerHello accepts it (each
//! renegotiation costs the server a full handshake: a denial-of-service lever; without RFC 5746
//! it is also CVE-2009-3555); one that answers `no_renegotiation`, another alert, closes or
//! ignores the hello refuses it. postura never completes the second handshake and renegotiates
//! once: no flood.
//!
//! Cost: one connection, only when TLS 1.2 is accepted with a suite postura's TLS 1.2 client
//! speaks (ECDHE or DHE with AES-GCM or ChaCha20-Poly1305); otherwise the verdict is null, or false
//! when no TLS ≤ 1.2 protocol is accepted at all.

use super::tls12::{self, client_hello};
use super::{AcceptedProtocol, VulnerabilityFact};
use crate::net::NetError;
use crate::tls::codec::{alert_description, content_type, handshake_type, Alert};
use crate::tls::registry::Protocol;
use crate::tls::sweep::SweepTarget;

const MAX_READ: usize = 64 * 1024;

pub async fn probe(target: &SweepTarget, legacy: &[AcceptedProtocol]) -> VulnerabilityFact {
    if legacy.is_empty() {
        return VulnerabilityFact::no("no TLS ≤ 1.2 protocol accepted (TLS 1.3 has no renegotiation)");
    }
    let tls12 = legacy.iter().find(|p| p.protocol == Protocol::Tls12);
    if !tls12.is_some_and(|p| p.suites.iter().any(|&s| tls12::speaks(s))) {
        return VulnerabilityFact::unknown(
            "not tested: needs TLS 1.2 with an ECDHE or DHE AES-GCM or ChaCha20-Poly1305 suite",
        );
    }
    let mut fact = match renegotiate(target).await {
        Ok((accepted, line)) => VulnerabilityFact { vulnerable: Some(accepted), evidence: vec![line], connections: 0 },
        Err(error) => VulnerabilityFact::unknown(format!("TLS 1.2 handshake: {error}")),
    };
    fact.connections = 1;
    fact
}

async fn renegotiate(target: &SweepTarget) -> Result<(bool, String), NetError> {
    let mut session = tls12::establish(&target.connector, target.sni.as_deref()).await?;
    // RFC 5746: a renegotiating hello carries our Finished verify_data when the server
    // supports the extension; without it, the hello is sent bare (the insecure kind).
    let info = session.secure_renegotiation.then(|| session.client_verify_data.clone());
    let (record, _) = client_hello(target.sni.as_deref(), info);
    let hello = record.get(5..).unwrap_or_default().to_vec();
    session.send(content_type::HANDSHAKE, &hello).await?;
    let kind = if session.secure_renegotiation { "secure" } else { "insecure (no RFC 5746)" };
    let suite = crate::tls::registry::registry().name(u32::from(session.suite));
    match session.receive(MAX_READ).await? {
        Some((content_type::HANDSHAKE, plaintext)) if plaintext.first() == Some(&handshake_type::SERVER_HELLO) => {
            Ok((true, format!("a client-initiated {kind} renegotiation was accepted (ServerHello; TLSv1.2 {suite})")))
        }
        Some((content_type::ALERT, plaintext)) => {
            let alert = Alert::decode(&plaintext).map_err(|e| NetError::Protocol(e.to_string()))?;
            let named = if alert.description == alert_description::NO_RENEGOTIATION {
                "no_renegotiation".to_string()
            } else {
                alert.description_name()
            };
            Ok((false, format!("a client-initiated renegotiation was refused (alert:{named}; TLSv1.2 {suite})")))
        }
        Some((kind, _)) => {
            Ok((false, format!("a client-initiated renegotiation was answered with a record of type {kind}")))
        }
        None => Ok((false, "a client-initiated renegotiation was ignored or the connection closed".into())),
    }
}
