//! Heartbleed (CVE-2014-0160): after the server's hello flight, one heartbeat request whose
//! payload_length claims `CLAIMED_BYTES` while carrying none. A patched server drops it (RFC 6520
//! §4) or alerts; a vulnerable one echoes `CLAIMED_BYTES` of its memory. postura reads at most
//! `MAX_READ` bytes, keeps only their count (never the leaked bytes), and closes.
//!
//! Cost: one connection per accepted TLS ≤ 1.2 protocol whose ServerHello answered the
//! heartbeat extension (the sweep offers it in every hello), stopping at the first vulnerable
//! one: at most 4, usually 0 (no heartbeat) or 1.

use super::wire::{alert_text, Reaction, RecordReader};
use super::{AcceptedProtocol, VulnerabilityFact};
use crate::net::NetError;
use crate::tls::codec::{content_type, Record};
use crate::tls::exchange::{exchange_open, Until};
use crate::tls::hello::{build_hello, HelloOptions, MAX_SUITES_PER_HELLO};
use crate::tls::sweep::SweepTarget;

/// What the request claims to carry: small, so a vulnerable server leaks little.
const CLAIMED_BYTES: u16 = 4096;
/// The most read back: the echo, its padding and record headers.
const MAX_READ: usize = CLAIMED_BYTES as usize + 1024;
/// heartbeat_request (RFC 6520 §3).
const HEARTBEAT_REQUEST: u8 = 1;
const HEARTBEAT_RESPONSE: u8 = 2;

pub async fn probe(target: &SweepTarget, legacy: &[AcceptedProtocol]) -> VulnerabilityFact {
    let with_heartbeat: Vec<&AcceptedProtocol> = legacy.iter().filter(|p| p.heartbeat).collect();
    if legacy.is_empty() {
        return VulnerabilityFact::no("no TLS ≤ 1.2 protocol accepted (TLS 1.3 has no heartbeat here)");
    }
    if with_heartbeat.is_empty() {
        return VulnerabilityFact::no("the heartbeat extension is not negotiated");
    }
    let mut fact = VulnerabilityFact::default();
    let mut unknown = false;
    for accepted in with_heartbeat {
        fact.connections += 1;
        match probe_one(target, accepted).await {
            Ok((true, line)) => {
                fact.vulnerable = Some(true);
                fact.evidence = vec![line];
                return fact;
            }
            Ok((false, line)) => fact.evidence.push(line),
            Err(error) => {
                unknown = true;
                fact.evidence.push(format!("{}: {error}", accepted.protocol));
            }
        }
    }
    fact.vulnerable = if unknown { None } else { Some(false) };
    fact
}

/// (vulnerable, evidence) over one protocol.
async fn probe_one(target: &SweepTarget, accepted: &AcceptedProtocol) -> Result<(bool, String), NetError> {
    let protocol = accepted.protocol;
    let suites: Vec<u16> = accepted.suites.iter().copied().take(MAX_SUITES_PER_HELLO).collect();
    let hello = build_hello(protocol, &suites, &HelloOptions::new(target.sni.clone()));
    let (mut connection, flight) = exchange_open(&target.connector, &hello, Until::HelloDone).await?;
    if !flight.hello_done || flight.closed {
        return Err(NetError::Protocol("no complete hello flight".into()));
    }
    let request = Record {
        content_type: content_type::HEARTBEAT,
        version: protocol.wire_version(),
        fragment: vec![HEARTBEAT_REQUEST, (CLAIMED_BYTES >> 8) as u8, CLAIMED_BYTES as u8],
    };
    connection.send(&request.encode()).await?;
    let mut reader = RecordReader::default();
    let mut echoed = 0usize;
    loop {
        match reader.next(&mut connection, MAX_READ).await {
            Ok(Reaction::Record(record)) if record.content_type == content_type::HEARTBEAT => {
                // Only the count is kept: the bytes are the server's memory.
                let is_response = record.fragment.first() == Some(&HEARTBEAT_RESPONSE);
                echoed += record.fragment.len().saturating_sub(3);
                if is_response && echoed > 0 {
                    return Ok((
                        true,
                        format!(
                            "{protocol}: a heartbeat request claiming {CLAIMED_BYTES} bytes and carrying none was answered with {echoed} bytes"
                        ),
                    ));
                }
            }
            Ok(Reaction::Record(record)) if record.content_type == content_type::ALERT => {
                return Ok((
                    false,
                    format!("{protocol}: the over-long heartbeat was refused ({})", alert_text(&record)),
                ));
            }
            Ok(Reaction::Record(record)) => {
                return Ok((false, format!("{protocol}: answered with a record of type {}", record.content_type)));
            }
            Ok(Reaction::Closed) => return Ok((false, format!("{protocol}: the connection was closed"))),
            Ok(Reaction::Silent) => return Ok((false, format!("{protocol}: the over-long heartbeat was ignored"))),
            Err(error) => return Err(error),
        }
    }
}
