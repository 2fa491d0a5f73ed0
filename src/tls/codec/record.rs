//! Record layer framing, alerts, and handshake-message framing and reassembly.

use super::reader::{invalid, put_u16, put_u24, Reader, U24_MAX};
use super::{Alert, CodecError, HandshakeMessage, HandshakeReassembler, Record, MAX_RECORD_FRAGMENT};

const RECORD_HEADER: usize = 5;
const HANDSHAKE_HEADER: usize = 4;

pub(super) fn decode_alert(fragment: &[u8]) -> Result<Alert, CodecError> {
    let mut r = Reader::new(fragment, "Alert");
    let level = r.u8()?;
    let description = r.u8()?;
    r.finish()?;
    Ok(Alert { level, description })
}

/// RFC 5246/8446 alert names, plus the SSLv3 and later-RFC codes still seen in the wild.
pub(super) fn alert_name(description: u8) -> Option<&'static str> {
    Some(match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => return None,
    })
}

pub(super) fn decode_record(buf: &[u8]) -> Result<Option<(Record, usize)>, CodecError> {
    const W: &str = "TLS record";
    // Judge each header byte as soon as it arrives, so a peer speaking something else (HTTP,
    // SSH, an SSLv2 reply...) is recognised on its first bytes instead of after a long wait.
    if let Some(&content_type) = buf.first() {
        if !(20..=24).contains(&content_type) {
            return Err(invalid(W, format!("content type {content_type}")));
        }
    }
    if let Some(&major) = buf.get(1) {
        if major != 3 {
            return Err(invalid(W, format!("major version {major}")));
        }
    }
    let mut r = Reader::new(buf, W);
    let (Ok(content_type), Ok(version), Ok(length)) = (r.u8(), r.u16(), r.u16()) else {
        return Ok(None);
    };
    let length = usize::from(length);
    if length > MAX_RECORD_FRAGMENT {
        return Err(invalid(W, format!("length {length} above {MAX_RECORD_FRAGMENT}")));
    }
    match r.take(length) {
        Ok(fragment) => {
            let record = Record { content_type, version, fragment: fragment.to_vec() };
            Ok(Some((record, RECORD_HEADER + length)))
        }
        Err(_) => Ok(None),
    }
}

pub(super) fn encode_record(record: &Record) -> Vec<u8> {
    let max = usize::from(u16::MAX);
    let mut out = Vec::with_capacity(record.fragment.len() + RECORD_HEADER);
    // One u16 length cannot describe more; such a fragment goes out as consecutive records.
    let mut chunks = record.fragment.chunks(max).peekable();
    if chunks.peek().is_none() {
        out.push(record.content_type);
        put_u16(&mut out, record.version);
        put_u16(&mut out, 0);
    }
    for chunk in chunks {
        out.push(record.content_type);
        put_u16(&mut out, record.version);
        put_u16(&mut out, u16::try_from(chunk.len()).unwrap_or(u16::MAX));
        out.extend_from_slice(chunk);
    }
    out
}

pub(super) fn encode_handshake_message(message: &HandshakeMessage) -> Vec<u8> {
    // A u24 length cannot describe a longer body (and TLS could never carry one): cut it.
    let body = message.body.get(..message.body.len().min(U24_MAX)).unwrap_or_default();
    let mut out = Vec::with_capacity(body.len() + HANDSHAKE_HEADER);
    out.push(message.handshake_type);
    put_u24(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

pub(super) fn decode_handshake_message(bytes: &[u8]) -> Result<HandshakeMessage, CodecError> {
    let mut r = Reader::new(bytes, "handshake message");
    let handshake_type = r.u8()?;
    let body = r.vec_u24()?.to_vec();
    r.finish()?;
    Ok(HandshakeMessage { handshake_type, body })
}

pub(super) fn reassembler_next(re: &mut HandshakeReassembler) -> Result<Option<HandshakeMessage>, CodecError> {
    let mut r = Reader::new(&re.pending, "handshake message");
    let (Ok(handshake_type), Ok(length)) = (r.u8(), r.u24()) else {
        return Ok(None);
    };
    if length > re.max_message_len {
        return Err(invalid(
            "handshake message",
            format!("type {handshake_type} announces {length} bytes, above the limit of {}", re.max_message_len),
        ));
    }
    let Ok(body) = r.take(length) else {
        return Ok(None);
    };
    let message = HandshakeMessage { handshake_type, body: body.to_vec() };
    re.pending.drain(..HANDSHAKE_HEADER + length);
    Ok(Some(message))
}
