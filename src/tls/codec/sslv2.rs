//! SSLv2 (draft-hickman-netscape-ssl-00) CLIENT-HELLO and SERVER-HELLO, in SSLv2 record framing.
//!
//! Only the unencrypted hello exchange is needed to learn whether a server still speaks SSLv2 and
//! which cipher kinds it offers.

use super::reader::{invalid, put_u16, Reader};
use super::{CodecError, Sslv2ServerHello};

const MSG_ERROR: u8 = 0;
const MSG_CLIENT_HELLO: u8 = 1;
const MSG_SERVER_HELLO: u8 = 4;
const SSL2_VERSION: u16 = 0x0002;
/// Largest record a 2-byte header can describe.
const MAX_RECORD_2: usize = 0x7fff;
const CLIENT_HELLO_FIXED: usize = 9;
const SPEC_LEN: usize = 3;

/// Take one SSLv2 record from the front of `buf`: `Ok(None)` when incomplete, otherwise the
/// message bytes (padding removed) and the number of bytes consumed.
fn split_record<'a>(buf: &'a [u8], what: &'static str) -> Result<Option<(&'a [u8], usize)>, CodecError> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    // An alert or handshake record header: the peer answered in SSLv3/TLS.
    if (b0 == 0x15 || b0 == 0x16) && b1 == 0x03 {
        return Err(invalid(what, format!("peer answered with a TLS record (type {b0})")));
    }
    let (header, length, padding) = if b0 & 0x80 != 0 {
        (2, usize::from(b0 & 0x7f) << 8 | usize::from(b1), 0)
    } else {
        // 3-byte header: the 0x40 bit is IS-ESCAPE, irrelevant to an unencrypted hello.
        let Some(&padding) = buf.get(2) else {
            return Ok(None);
        };
        (3, usize::from(b0 & 0x3f) << 8 | usize::from(b1), usize::from(padding))
    };
    let mut r = Reader::new(buf, what);
    let (Ok(_), Ok(data)) = (r.take(header), r.take(length)) else {
        return Ok(None);
    };
    let message = length
        .checked_sub(padding)
        .and_then(|n| data.get(..n))
        .ok_or_else(|| invalid(what, format!("padding {padding} longer than the record ({length})")))?;
    Ok(Some((message, header + length)))
}

/// A 2-byte-header record around `message`, cut to what the header can describe.
fn record(message: &[u8]) -> Vec<u8> {
    let message = message.get(..message.len().min(MAX_RECORD_2)).unwrap_or_default();
    let mut out = Vec::with_capacity(message.len() + 2);
    out.push(0x80 | (message.len() >> 8) as u8);
    out.push(message.len() as u8);
    out.extend_from_slice(message);
    out
}

/// Each spec is written as its low 24 bits (SSLv2 cipher kinds are 3 bytes).
fn put_specs(out: &mut Vec<u8>, specs: &[u32]) {
    for spec in specs {
        let [_, a, b, c] = spec.to_be_bytes();
        out.extend_from_slice(&[a, b, c]);
    }
}

fn read_specs(bytes: &[u8], what: &'static str) -> Result<Vec<u32>, CodecError> {
    if bytes.len() % SPEC_LEN != 0 {
        return Err(invalid(what, format!("cipher_specs length {} not a multiple of 3", bytes.len())));
    }
    let mut r = Reader::bounded(bytes, what);
    let mut specs = Vec::with_capacity(bytes.len() / SPEC_LEN);
    while !r.is_empty() {
        let [a, b, c] = r.array::<3>()?;
        specs.push(u32::from_be_bytes([0, a, b, c]));
    }
    Ok(specs)
}

pub(super) fn encode_client_hello(cipher_specs: &[u32], challenge: &[u8; 16]) -> Vec<u8> {
    // Specs beyond what one record can carry are dropped.
    let room = (MAX_RECORD_2 - CLIENT_HELLO_FIXED - challenge.len()) / SPEC_LEN;
    let specs = cipher_specs.get(..cipher_specs.len().min(room)).unwrap_or_default();
    let mut msg = Vec::with_capacity(CLIENT_HELLO_FIXED + specs.len() * SPEC_LEN + challenge.len());
    msg.push(MSG_CLIENT_HELLO);
    put_u16(&mut msg, SSL2_VERSION);
    put_u16(&mut msg, (specs.len() * SPEC_LEN) as u16);
    put_u16(&mut msg, 0); // session_id_length
    put_u16(&mut msg, challenge.len() as u16);
    put_specs(&mut msg, specs);
    msg.extend_from_slice(challenge);
    record(&msg)
}

pub(super) fn decode_client_hello(bytes: &[u8]) -> Result<(u16, Vec<u32>, Vec<u8>), CodecError> {
    const W: &str = "SSLv2 CLIENT-HELLO";
    let Some((message, consumed)) = split_record(bytes, W)? else {
        return Err(CodecError::Truncated(W));
    };
    if consumed != bytes.len() {
        return Err(invalid(W, format!("{} trailing bytes", bytes.len().saturating_sub(consumed))));
    }
    let mut r = Reader::bounded(message, W);
    let msg_type = r.u8()?;
    if msg_type != MSG_CLIENT_HELLO {
        return Err(invalid(W, format!("message type {msg_type}")));
    }
    let version = r.u16()?;
    let specs_len = usize::from(r.u16()?);
    let session_id_len = usize::from(r.u16()?);
    let challenge_len = usize::from(r.u16()?);
    if !(16..=32).contains(&challenge_len) {
        return Err(invalid(W, format!("challenge of {challenge_len} bytes")));
    }
    let specs = read_specs(r.take(specs_len)?, W)?;
    r.take(session_id_len)?;
    let challenge = r.take(challenge_len)?.to_vec();
    r.finish()?;
    Ok((version, specs, challenge))
}

pub(super) fn decode_server_hello(buf: &[u8]) -> Result<Option<(Sslv2ServerHello, usize)>, CodecError> {
    const W: &str = "SSLv2 SERVER-HELLO";
    let Some((message, consumed)) = split_record(buf, W)? else {
        return Ok(None);
    };
    let mut r = Reader::bounded(message, W);
    match r.u8()? {
        MSG_SERVER_HELLO => {}
        MSG_ERROR => {
            let code = r.u16().map(|c| c.to_string()).unwrap_or_else(|_| "missing".into());
            return Err(invalid(W, format!("server sent SSLv2 ERROR (code {code})")));
        }
        other => return Err(invalid(W, format!("message type {other}"))),
    }
    let session_id_hit = r.u8()?;
    let certificate_type = r.u8()?;
    let version = r.u16()?;
    let certificate_len = usize::from(r.u16()?);
    let specs_len = usize::from(r.u16()?);
    let connection_id_len = usize::from(r.u16()?);
    let certificate = r.take(certificate_len)?.to_vec();
    let cipher_specs = read_specs(r.take(specs_len)?, W)?;
    let connection_id = r.take(connection_id_len)?.to_vec();
    r.finish()?;
    let hello =
        Sslv2ServerHello { session_id_hit, certificate_type, version, certificate, cipher_specs, connection_id };
    Ok(Some((hello, consumed)))
}

pub(super) fn encode_server_hello(hello: &Sslv2ServerHello) -> Vec<u8> {
    let max = usize::from(u16::MAX);
    let certificate = hello.certificate.get(..hello.certificate.len().min(max)).unwrap_or_default();
    let specs = hello.cipher_specs.get(..hello.cipher_specs.len().min(max / SPEC_LEN)).unwrap_or_default();
    let connection_id = hello.connection_id.get(..hello.connection_id.len().min(max)).unwrap_or_default();
    let mut msg = Vec::new();
    msg.push(MSG_SERVER_HELLO);
    msg.push(hello.session_id_hit);
    msg.push(hello.certificate_type);
    put_u16(&mut msg, hello.version);
    put_u16(&mut msg, certificate.len() as u16);
    put_u16(&mut msg, (specs.len() * SPEC_LEN) as u16);
    put_u16(&mut msg, connection_id.len() as u16);
    msg.extend_from_slice(certificate);
    put_specs(&mut msg, specs);
    msg.extend_from_slice(connection_id);
    record(&msg)
}
