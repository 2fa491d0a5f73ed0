//! The server's first flight: ServerHello/HelloRetryRequest, Certificate, ServerKeyExchange
//! params and CertificateStatus.
//!
//! These decoders take a handshake body whose end the caller does not vouch for, so running out
//! of bytes at the top level is `Truncated`; inside a length-prefixed block it is `Invalid`.

use super::reader::{invalid, put_u16, put_vec_u16, put_vec_u24, put_vec_u8, Reader, U24_MAX};
use super::{
    extension_type as ext, CertificateMessage, CertificateRequest, CertificateStatus, CodecError, KeyExchangeKind,
    KeyExchangeParams, RawExtension, ServerHello,
};

pub(super) fn decode_server_hello(body: &[u8]) -> Result<ServerHello, CodecError> {
    const W: &str = "ServerHello";
    let mut r = Reader::new(body, W);
    let legacy_version = r.u16()?;
    let random = r.array::<32>()?;
    let session_id = r.vec_u8()?.to_vec();
    if session_id.len() > 32 {
        return Err(invalid(W, format!("session_id of {} bytes", session_id.len())));
    }
    let cipher_suite = r.u16()?;
    let compression_method = r.u8()?;
    let extensions = if r.is_empty() {
        None
    } else {
        let mut block = Reader::bounded(r.vec_u16()?, W);
        let mut extensions = Vec::new();
        while !block.is_empty() {
            let extension_type = block.u16()?;
            let data = block.vec_u16()?.to_vec();
            extensions.push(RawExtension { extension_type, data });
        }
        Some(extensions)
    };
    r.finish()?;
    Ok(ServerHello { legacy_version, random, session_id, cipher_suite, compression_method, extensions })
}

pub(super) fn encode_server_hello(hello: &ServerHello) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    put_u16(&mut out, hello.legacy_version);
    out.extend_from_slice(&hello.random);
    put_vec_u8(&mut out, &hello.session_id);
    put_u16(&mut out, hello.cipher_suite);
    out.push(hello.compression_method);
    if let Some(extensions) = &hello.extensions {
        let mut block = Vec::new();
        for e in extensions {
            put_u16(&mut block, e.extension_type);
            put_vec_u16(&mut block, &e.data);
        }
        put_vec_u16(&mut out, &block);
    }
    out
}

/// A reader over one extension's data, which is complete by construction.
fn ext_reader<'a>(hello: &'a ServerHello, extension_type: u16, what: &'static str) -> Option<Reader<'a>> {
    hello.extension(extension_type).map(|e| Reader::bounded(&e.data, what))
}

pub(super) fn selected_version(hello: &ServerHello) -> Result<u16, CodecError> {
    match ext_reader(hello, ext::SUPPORTED_VERSIONS, "ServerHello supported_versions") {
        None => Ok(hello.legacy_version),
        Some(mut r) => {
            let version = r.u16()?;
            r.finish()?;
            Ok(version)
        }
    }
}

pub(super) fn key_share_group(hello: &ServerHello) -> Result<Option<u16>, CodecError> {
    let Some(mut r) = ext_reader(hello, ext::KEY_SHARE, "ServerHello key_share") else {
        return Ok(None);
    };
    let group = r.u16()?;
    if !hello.is_hello_retry_request() {
        let key = r.vec_u16()?;
        if key.is_empty() {
            return Err(invalid("ServerHello key_share", "empty key_exchange"));
        }
    }
    r.finish()?;
    Ok(Some(group))
}

pub(super) fn alpn_protocol(hello: &ServerHello) -> Result<Option<Vec<u8>>, CodecError> {
    const W: &str = "ServerHello ALPN";
    let Some(mut r) = ext_reader(hello, ext::ALPN, W) else {
        return Ok(None);
    };
    let mut list = Reader::bounded(r.vec_u16()?, W);
    r.finish()?;
    let name = list.vec_u8()?.to_vec();
    if name.is_empty() {
        return Err(invalid(W, "empty protocol name"));
    }
    // Exactly one name: anything after it is a second name or garbage.
    list.finish().map_err(|_| invalid(W, "more than one protocol selected"))?;
    Ok(Some(name))
}

pub(super) fn heartbeat_mode(hello: &ServerHello) -> Result<Option<u8>, CodecError> {
    let Some(mut r) = ext_reader(hello, ext::HEARTBEAT, "ServerHello heartbeat") else {
        return Ok(None);
    };
    let mode = r.u8()?;
    r.finish()?;
    Ok(Some(mode))
}

pub(super) fn decode_certificate(body: &[u8]) -> Result<CertificateMessage, CodecError> {
    const W: &str = "Certificate";
    let mut r = Reader::new(body, W);
    let mut list = Reader::bounded(r.vec_u24()?, W);
    r.finish()?;
    // Zero-length entries are kept as sent: judging them is the caller's business.
    let mut certificates = Vec::new();
    while !list.is_empty() {
        certificates.push(list.vec_u24()?.to_vec());
    }
    Ok(CertificateMessage { certificates })
}

pub(super) fn encode_certificate(message: &CertificateMessage) -> Vec<u8> {
    let mut list = Vec::new();
    for der in &message.certificates {
        if list.len() >= U24_MAX {
            break;
        }
        put_vec_u24(&mut list, der);
    }
    let mut out = Vec::with_capacity(list.len().min(U24_MAX) + 3);
    put_vec_u24(&mut out, &list);
    out
}

/// A u16-length field that RFC 5246/4492 declare `<1..2^16-1>` (or `<1..2^8-1>`).
fn non_empty<'a>(bytes: &'a [u8], field: &str) -> Result<&'a [u8], CodecError> {
    if bytes.is_empty() {
        return Err(invalid("ServerKeyExchange", format!("empty {field}")));
    }
    Ok(bytes)
}

pub(super) fn decode_server_key_exchange(body: &[u8], kind: KeyExchangeKind) -> Result<KeyExchangeParams, CodecError> {
    const W: &str = "ServerKeyExchange";
    let mut r = Reader::new(body, W);
    // What follows the params is the signature: deliberately left unread.
    Ok(match kind {
        KeyExchangeKind::Dh => KeyExchangeParams::Dh {
            p: non_empty(r.vec_u16()?, "dh_p")?.to_vec(),
            g: non_empty(r.vec_u16()?, "dh_g")?.to_vec(),
            public: non_empty(r.vec_u16()?, "dh_Ys")?.to_vec(),
        },
        KeyExchangeKind::Ecdh => match r.u8()? {
            3 => {
                let group = r.u16()?;
                let public = non_empty(r.vec_u8()?, "EC point")?.to_vec();
                KeyExchangeParams::EcdhNamed { group, public }
            }
            curve_type @ (1 | 2) => KeyExchangeParams::EcdhExplicit { curve_type },
            other => return Err(invalid(W, format!("ECCurveType {other}"))),
        },
        KeyExchangeKind::Rsa => KeyExchangeParams::Rsa {
            modulus: non_empty(r.vec_u16()?, "rsa_modulus")?.to_vec(),
            exponent: non_empty(r.vec_u16()?, "rsa_exponent")?.to_vec(),
        },
    })
}

pub(super) fn encode_server_key_exchange(params: &KeyExchangeParams) -> Vec<u8> {
    let mut out = Vec::new();
    match params {
        KeyExchangeParams::Dh { p, g, public } => {
            put_vec_u16(&mut out, p);
            put_vec_u16(&mut out, g);
            put_vec_u16(&mut out, public);
        }
        KeyExchangeParams::EcdhNamed { group, public } => {
            out.push(3);
            put_u16(&mut out, *group);
            put_vec_u8(&mut out, public);
        }
        // The explicit curve parameters are not modelled, so only the curve type is written.
        KeyExchangeParams::EcdhExplicit { curve_type } => out.push(*curve_type),
        KeyExchangeParams::Rsa { modulus, exponent } => {
            put_vec_u16(&mut out, modulus);
            put_vec_u16(&mut out, exponent);
        }
    }
    out
}

/// Bits in a big-endian unsigned number, leading zeros ignored.
pub(super) fn bit_length(number: &[u8]) -> u32 {
    let mut digits = number.iter().skip_while(|&&b| b == 0);
    match digits.next() {
        None => 0,
        Some(&top) => {
            let rest = u32::try_from(digits.count()).unwrap_or(u32::MAX / 8);
            rest.saturating_mul(8).saturating_add(8 - top.leading_zeros())
        }
    }
}

pub(super) fn decode_certificate_status(body: &[u8]) -> Result<CertificateStatus, CodecError> {
    let mut r = Reader::new(body, "CertificateStatus");
    // Any status_type is passed through (1 = ocsp; RFC 6961's ocsp_multi = 2 has the same u24
    // framing): the caller decides what it accepts.
    let status_type = r.u8()?;
    let response = r.vec_u24()?.to_vec();
    r.finish()?;
    Ok(CertificateStatus { status_type, response })
}

pub(super) fn encode_certificate_status(status: &CertificateStatus) -> Vec<u8> {
    let mut out = Vec::with_capacity(status.response.len().min(U24_MAX) + 4);
    out.push(status.status_type);
    put_vec_u24(&mut out, &status.response);
    out
}

pub(super) fn decode_certificate_request(body: &[u8], tls12: bool) -> Result<CertificateRequest, CodecError> {
    const W: &str = "CertificateRequest";
    let mut r = Reader::new(body, W);
    let certificate_types = r.vec_u8()?.to_vec();
    if certificate_types.is_empty() {
        return Err(invalid(W, "no certificate type"));
    }
    let signature_algorithms = if tls12 {
        let mut list = Reader::bounded(r.vec_u16()?, W);
        let mut codes = Vec::new();
        while !list.is_empty() {
            codes.push(list.u16()?);
        }
        Some(codes)
    } else {
        None
    };
    let mut names = Reader::bounded(r.vec_u16()?, W);
    r.finish()?;
    let mut authorities = Vec::new();
    while !names.is_empty() {
        let name = names.vec_u16()?;
        if name.is_empty() {
            return Err(invalid(W, "empty distinguished name"));
        }
        authorities.push(name.to_vec());
    }
    Ok(CertificateRequest { certificate_types, signature_algorithms, authorities })
}

pub(super) fn encode_certificate_request(request: &CertificateRequest) -> Vec<u8> {
    let mut out = Vec::new();
    put_vec_u8(&mut out, &request.certificate_types);
    if let Some(codes) = &request.signature_algorithms {
        let mut list = Vec::new();
        for code in codes {
            put_u16(&mut list, *code);
        }
        put_vec_u16(&mut out, &list);
    }
    let mut names = Vec::new();
    for name in &request.authorities {
        put_vec_u16(&mut names, name);
    }
    put_vec_u16(&mut out, &names);
    out
}
