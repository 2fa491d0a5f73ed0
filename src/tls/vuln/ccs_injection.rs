//! CCS injection (CVE-2014-0224): after the server's hello flight, send ChangeCipherSpec before
//! any key exchange, then a second one. A patched server refuses the first at once
//! (`unexpected_message`); a vulnerable one accepts it, switches to (null-derived) keys, and
//! fails to decrypt the second (`bad_record_mac` or `decryption_failed`). Silence or a close
//! without an alert is inconclusive (null).
//!
//! Cost: one connection, over the best accepted TLS ≤ 1.2 protocol; none when only TLS 1.3 is
//! accepted (the bug is in the TLS ≤ 1.2 state machine).

use super::wire::{Reaction, RecordReader};
use super::{AcceptedProtocol, VulnerabilityFact};
use crate::net::NetError;
use crate::tls::codec::{alert_description, content_type, Alert, Record};
use crate::tls::exchange::{exchange_open, Until};
use crate::tls::hello::{build_hello, HelloOptions, MAX_SUITES_PER_HELLO};
use crate::tls::sweep::SweepTarget;

const MAX_READ: usize = 16 * 1024;

pub async fn probe(target: &SweepTarget, legacy: &[AcceptedProtocol]) -> VulnerabilityFact {
    let Some(best) = legacy.first() else {
        return VulnerabilityFact::no("no TLS ≤ 1.2 protocol accepted");
    };
    let mut fact = match inject(target, best).await {
        Ok(Some((vulnerable, line))) => {
            VulnerabilityFact { vulnerable: Some(vulnerable), evidence: vec![line], connections: 0 }
        }
        Ok(None) => VulnerabilityFact::unknown(format!(
            "{}: no alert after an early ChangeCipherSpec (silence or close)",
            best.protocol
        )),
        Err(error) => VulnerabilityFact::unknown(format!("{}: {error}", best.protocol)),
    };
    fact.connections = 1;
    fact
}

async fn inject(target: &SweepTarget, accepted: &AcceptedProtocol) -> Result<Option<(bool, String)>, NetError> {
    let protocol = accepted.protocol;
    let suites: Vec<u16> = accepted.suites.iter().copied().take(MAX_SUITES_PER_HELLO).collect();
    let hello = build_hello(protocol, &suites, &HelloOptions::new(target.sni.clone()));
    let (mut connection, flight) = exchange_open(&target.connector, &hello, Until::HelloDone).await?;
    if !flight.hello_done || flight.closed {
        return Err(NetError::Protocol("no complete hello flight".into()));
    }
    let ccs =
        Record { content_type: content_type::CHANGE_CIPHER_SPEC, version: protocol.wire_version(), fragment: vec![1] };
    let mut bytes = ccs.encode();
    bytes.extend(ccs.encode());
    connection.send(&bytes).await?;
    let mut reader = RecordReader::default();
    let reaction = match reader.next(&mut connection, MAX_READ).await {
        Ok(reaction) => reaction,
        // A reset right after the early CCS: the server dropped the connection without a word.
        Err(NetError::Reset) => Reaction::Closed,
        Err(error) => return Err(error),
    };
    let Reaction::Record(record) = reaction else {
        return Ok(None);
    };
    if record.content_type != content_type::ALERT {
        return Ok(Some((false, format!("{protocol}: answered with a record of type {}", record.content_type))));
    }
    let alert = Alert::decode(&record.fragment).map_err(|e| NetError::Protocol(e.to_string()))?;
    let name = alert.description_name();
    Ok(Some(match alert.description {
        alert_description::BAD_RECORD_MAC | alert_description::DECRYPTION_FAILED => (
            true,
            format!(
                "{protocol}: an early ChangeCipherSpec was accepted (the next record failed to decrypt: alert:{name})"
            ),
        ),
        _ => (false, format!("{protocol}: an early ChangeCipherSpec was refused (alert:{name})")),
    }))
}
