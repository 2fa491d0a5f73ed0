//! Ticketbleed (CVE-2016-9244, F5 BIG-IP): a server resuming a session from an RFC 5077 ticket
//! echoes the client's session ID, and the affected stack always echoes 32 bytes, whatever the
//! client sent: the bytes past the client's are uninitialised memory (other connections' keys).
//!
//! The probe gets a real ticket from one full TLS 1.2 handshake (`tls12`, asking for a ticket),
//! then offers it in a second hello with a `SESSION_ID_BYTES`-byte session ID and reads the
//! ServerHello only. A patched server that resumes echoes the ID as sent; one that declines the
//! ticket sends a fresh ID. postura keeps the count of extra bytes, never the bytes.
//!
//! Cost: two connections, only when the sweep saw the server announce session tickets in a
//! TLS ≤ 1.2 ServerHello and TLS 1.2 is accepted with a suite postura's TLS 1.2 client speaks;
//! one when the full handshake yields no ticket; otherwise none.

use super::tls12;
use super::VulnerabilityFact;
use crate::facts::TlsFacts;
use crate::net::NetError;
use crate::tls::exchange::{exchange, Until};
use crate::tls::registry::Protocol;
use crate::tls::sweep::SweepTarget;

use super::AcceptedProtocol;

/// Shorter than the 32 the bug assumes; long enough that a fresh random session ID can never
/// start with it by chance (2^-128).
pub const SESSION_ID_BYTES: usize = 16;

pub async fn probe(target: &SweepTarget, facts: &TlsFacts, legacy: &[AcceptedProtocol]) -> VulnerabilityFact {
    if legacy.is_empty() {
        return VulnerabilityFact::no("no TLS ≤ 1.2 protocol accepted (TLS 1.3 resumption has no session ID echo)");
    }
    if facts.extensions.session_ticket != Some(true) {
        return VulnerabilityFact::no("the server does not announce session tickets (RFC 5077)");
    }
    let tls12 = legacy.iter().find(|p| p.protocol == Protocol::Tls12);
    if !tls12.is_some_and(|p| p.suites.iter().any(|&s| tls12::speaks(s))) {
        return VulnerabilityFact::unknown(
            "not tested: needs TLS 1.2 with an ECDHE or DHE AES-GCM or ChaCha20-Poly1305 suite",
        );
    }
    let mut fact = VulnerabilityFact { connections: 1, ..VulnerabilityFact::default() };
    let ticket = match tls12::establish_with(&target.connector, target.sni.as_deref(), true).await {
        Ok(session) => session.ticket.filter(|t| !t.is_empty()),
        Err(error) => {
            fact.evidence.push(format!("TLS 1.2 handshake for a ticket: {error}"));
            return fact;
        }
    };
    let Some(ticket) = ticket else {
        fact.vulnerable = Some(false);
        fact.evidence.push("a full TLS 1.2 handshake asking for a ticket was given none".into());
        return fact;
    };
    fact.connections = 2;
    match resume(target, ticket).await {
        Ok((vulnerable, line)) => {
            fact.vulnerable = Some(vulnerable);
            fact.evidence.push(line);
        }
        Err(error) => fact.evidence.push(format!("resumption with the ticket: {error}")),
    }
    fact
}

/// (vulnerable, evidence) from the ServerHello answering a hello with the ticket and a short
/// session ID.
async fn resume(target: &SweepTarget, ticket: Vec<u8>) -> Result<(bool, String), NetError> {
    let session_id: Vec<u8> = (0..SESSION_ID_BYTES).map(|_| rand::random::<u8>()).collect();
    let ticket_bytes = ticket.len();
    let (hello, _) = tls12::hello_with(target.sni.as_deref(), Some(Vec::new()), Some(ticket), session_id.clone());
    let flight = exchange(&target.connector, &hello, Until::ServerHello).await?;
    let Some(server_hello) = flight.server_hello else {
        let why = flight.alert.map_or_else(|| "the connection was closed".to_string(), |a| a.description_name());
        return Err(NetError::Protocol(format!("no ServerHello ({why})")));
    };
    let echoed = &server_hello.session_id;
    let sent = SESSION_ID_BYTES;
    Ok(if echoed == &session_id {
        (false, format!("the {ticket_bytes}-byte ticket was accepted and the {sent}-byte session ID echoed as sent"))
    } else if echoed.len() > sent && echoed.starts_with(&session_id) {
        (
            true,
            format!(
                "the {ticket_bytes}-byte ticket was accepted and the {sent}-byte session ID came back as {} bytes: {} bytes of server memory",
                echoed.len(),
                echoed.len() - sent
            ),
        )
    } else {
        (false, format!("the ticket was not used: a full handshake with a new {}-byte session ID", echoed.len()))
    })
}
