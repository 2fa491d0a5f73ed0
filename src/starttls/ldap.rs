//! LDAP StartTLS (RFC 4511 §4.14, RFC 4513 §3): one ExtendedRequest with the StartTLS OID,
//! answered by an ExtendedResponse whose resultCode 0 upgrades; any other resultCode is a
//! refusal (slapd without a TLS certificate answers 2, `protocolError`, "unsupported extended
//! operation"). The BER is read with asn1-rs; the response is read whole (its length is in
//! its header) within the dialogue's byte cap.

use asn1_rs::{Any, Class, FromBer};

use super::reader::PeerReader;
use super::{not_offered, Starttls};
use crate::net::{Connection, NetError};

/// LDAPMessage { messageID 1, extendedReq [APPLICATION 23] { requestName [0]
/// "1.3.6.1.4.1.1466.20037" } }.
pub const START_TLS_REQUEST: [u8; 31] = *b"\x30\x1d\x02\x01\x01\x77\x18\x80\x161.3.6.1.4.1.1466.20037";

/// The message ID of postura's request.
const MESSAGE_ID: i64 = 1;

/// The fields of an ExtendedResponse postura reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedResponse {
    pub message_id: i64,
    pub result_code: u32,
    /// diagnosticMessage, lossily decoded.
    pub diagnostic: String,
}

pub(super) async fn upgrade(reader: &mut PeerReader, connection: &mut Connection) -> Result<(), NetError> {
    connection.send(&START_TLS_REQUEST).await?;
    let response = loop {
        match extended_response(&reader.buffer).map_err(|e| NetError::Protocol(format!("LDAP {e}")))? {
            Some((response, used)) => {
                reader.consume(used);
                break response;
            }
            None => reader.fill(connection).await?,
        }
    };
    if response.message_id != MESSAGE_ID {
        // messageID 0 is an unsolicited notification (RFC 4511 §4.4), e.g. a notice of disconnection.
        return Err(NetError::Protocol(format!(
            "LDAP message {} instead of the StartTLS response: resultCode {} {}",
            response.message_id,
            response.result_code,
            super::printable(&response.diagnostic)
        )));
    }
    if response.result_code != 0 {
        reader.buffer.clear();
        let name = result_name(response.result_code);
        let diagnostic = super::printable(&response.diagnostic);
        return Err(not_offered(
            Starttls::Ldap,
            &format!("resultCode {} ({name}) \"{diagnostic}\"", response.result_code),
        ));
    }
    Ok(())
}

fn result_name(code: u32) -> &'static str {
    match code {
        1 => "operationsError",
        2 => "protocolError",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        13 => "confidentialityRequired",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "other code",
    }
}

/// One LDAPMessage holding an ExtendedResponse: `Ok(None)` while incomplete, else its fields
/// and its length in bytes. Pure, so that it can be fuzzed.
pub fn extended_response(bytes: &[u8]) -> Result<Option<(ExtendedResponse, usize)>, String> {
    let (rest, message) = match Any::from_ber(bytes) {
        Ok(parsed) => parsed,
        Err(asn1_rs::Err::Incomplete(_)) => return Ok(None),
        Err(error) => return Err(format!("answer is not BER: {error}")),
    };
    let used = bytes.len() - rest.len();
    if message.header.class() != Class::Universal || message.header.tag().0 != 16 {
        return Err("answer is not an LDAPMessage".into());
    }
    let (rest, id) = element(message.data, "messageID")?;
    if id.header.class() != Class::Universal || id.header.tag().0 != 2 {
        return Err("LDAPMessage without a messageID".into());
    }
    let message_id = small_integer(id.data).ok_or("LDAPMessage with a messageID out of range")?;
    let (_, operation) = element(rest, "protocolOp")?;
    if operation.header.class() != Class::Application || operation.header.tag().0 != 24 {
        return Err(format!(
            "answer is not an ExtendedResponse (protocolOp [APPLICATION {}])",
            operation.header.tag().0
        ));
    }
    let (rest, code) = element(operation.data, "resultCode")?;
    if code.header.class() != Class::Universal || code.header.tag().0 != 10 {
        return Err("ExtendedResponse without a resultCode".into());
    }
    let result_code = small_integer(code.data)
        .and_then(|code| u32::try_from(code).ok())
        .ok_or("ExtendedResponse with a resultCode out of range")?;
    let (rest, _matched_dn) = element(rest, "matchedDN")?;
    let (_, diagnostic) = element(rest, "diagnosticMessage")?;
    let diagnostic = String::from_utf8_lossy(diagnostic.data).into_owned();
    Ok(Some((ExtendedResponse { message_id, result_code, diagnostic }, used)))
}

/// The next element inside an element already read whole (so incomplete means malformed).
fn element<'a>(bytes: &'a [u8], what: &str) -> Result<(&'a [u8], Any<'a>), String> {
    Any::from_ber(bytes).map_err(|_| format!("ExtendedResponse with a malformed {what}"))
}

/// A BER INTEGER or ENUMERATED of at most four content bytes.
fn small_integer(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 4 {
        return None;
    }
    let sign = if content[0] & 0x80 != 0 { -1i64 } else { 0 };
    Some(content.iter().fold(sign, |value, byte| (value << 8) | i64::from(*byte)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// slapd 2.5 without a TLS certificate, as captured here.
    const REFUSAL: &[u8] = b"\x30\x2a\x02\x01\x01\x78\x25\x0a\x01\x02\x04\x00\x04\x1eunsupported extended operation";

    #[test]
    fn the_request_is_the_start_tls_extended_operation() {
        let (rest, message) = Any::from_ber(&START_TLS_REQUEST).unwrap();
        assert!(rest.is_empty());
        let (_, operation) = element(&message.data[3..], "op").unwrap();
        assert_eq!((operation.header.class(), operation.header.tag().0), (Class::Application, 23));
        assert_eq!(&operation.data[2..], b"1.3.6.1.4.1.1466.20037");
    }

    #[test]
    fn responses_parse_and_every_prefix_is_incomplete() {
        let ok = b"\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert_eq!(
            extended_response(ok).unwrap(),
            Some((ExtendedResponse { message_id: 1, result_code: 0, diagnostic: String::new() }, ok.len()))
        );
        let (refusal, used) = extended_response(REFUSAL).unwrap().unwrap();
        assert_eq!((refusal.result_code, refusal.diagnostic.as_str(), used), (2, "unsupported extended operation", 44));
        for message in [&ok[..], REFUSAL] {
            for cut in 0..message.len() {
                assert_eq!(extended_response(&message[..cut]), Ok(None), "prefix of {cut} bytes");
            }
        }
        assert!(extended_response(b"\x04\x00").is_err());
        assert!(extended_response(b"\x30\x03\x02\x01\x01").is_err());
    }
}
