//! ClientHello encoding (what postura sends) and decoding (for round-trip tests and fuzzing).
//!
//! The decoder is strict on extensions postura knows: a known extension type whose data does not
//! have the layout postura itself would write is `Invalid` rather than silently `Unknown`, so that
//! decode∘encode is the identity and encode∘decode reproduces the input bytes exactly.

use super::reader::{invalid, put_u16, put_u16_list, put_vec_u16, put_vec_u8, u16_list, Reader};
use super::{
    content_type, extension_type as ext, handshake_type, ClientExtension, ClientHello, CodecError, HandshakeMessage,
    Record,
};

/// Largest record fragment postura writes (RFC 8446 §5.1: 2^14).
const MAX_PLAINTEXT: usize = 16384;

/// F5 BIG-IP (and a few others) hang on a ClientHello whose handshake message is 256–511 bytes.
const F5_MIN: usize = 256;
const F5_TARGET: usize = 512;
/// type(2) + length(2) of the padding extension.
const EXT_HEADER: usize = 4;

impl ClientExtension {
    /// The IANA extension type this value is sent as.
    pub fn extension_type(&self) -> u16 {
        match self {
            ClientExtension::ServerName(_) => ext::SERVER_NAME,
            ClientExtension::SupportedGroups(_) => ext::SUPPORTED_GROUPS,
            ClientExtension::EcPointFormats(_) => ext::EC_POINT_FORMATS,
            ClientExtension::SignatureAlgorithms(_) => ext::SIGNATURE_ALGORITHMS,
            ClientExtension::SupportedVersions(_) => ext::SUPPORTED_VERSIONS,
            ClientExtension::KeyShare(_) => ext::KEY_SHARE,
            ClientExtension::PskKeyExchangeModes(_) => ext::PSK_KEY_EXCHANGE_MODES,
            ClientExtension::RenegotiationInfo(_) => ext::RENEGOTIATION_INFO,
            ClientExtension::SessionTicket(_) => ext::SESSION_TICKET,
            ClientExtension::StatusRequest => ext::STATUS_REQUEST,
            ClientExtension::Alpn(_) => ext::ALPN,
            ClientExtension::Heartbeat(_) => ext::HEARTBEAT,
            ClientExtension::ExtendedMasterSecret => ext::EXTENDED_MASTER_SECRET,
            ClientExtension::EncryptThenMac => ext::ENCRYPT_THEN_MAC,
            ClientExtension::Padding(_) => ext::PADDING,
            ClientExtension::Unknown { extension_type, .. } => *extension_type,
        }
    }

    /// The extension_data bytes (without the type and length header).
    fn encode_data(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            ClientExtension::ServerName(name) => {
                let mut list = vec![0u8]; // name_type host_name
                put_vec_u16(&mut list, name.as_bytes());
                put_vec_u16(&mut out, &list);
            }
            ClientExtension::SupportedGroups(v) | ClientExtension::SignatureAlgorithms(v) => {
                put_u16_list(&mut out, 2, v)
            }
            ClientExtension::SupportedVersions(v) => put_u16_list(&mut out, 1, v),
            ClientExtension::EcPointFormats(v)
            | ClientExtension::PskKeyExchangeModes(v)
            | ClientExtension::RenegotiationInfo(v) => put_vec_u8(&mut out, v),
            ClientExtension::KeyShare(shares) => {
                let mut list = Vec::new();
                for (group, key) in shares {
                    put_u16(&mut list, *group);
                    put_vec_u16(&mut list, key);
                }
                put_vec_u16(&mut out, &list);
            }
            ClientExtension::SessionTicket(data) | ClientExtension::Unknown { data, .. } => out.extend_from_slice(data),
            // status_type ocsp, responder_id_list<0>, request_extensions<0>.
            ClientExtension::StatusRequest => out.extend_from_slice(&[1, 0, 0, 0, 0]),
            ClientExtension::Alpn(names) => {
                let mut list = Vec::new();
                for name in names {
                    put_vec_u8(&mut list, name);
                }
                put_vec_u16(&mut out, &list);
            }
            ClientExtension::Heartbeat(mode) => out.push(*mode),
            ClientExtension::ExtendedMasterSecret | ClientExtension::EncryptThenMac => {}
            ClientExtension::Padding(n) => out.resize((*n).min(usize::from(u16::MAX)), 0),
        }
        out
    }

    fn decode(extension_type: u16, data: &[u8]) -> Result<ClientExtension, CodecError> {
        const W: &str = "ClientHello extension";
        let mut r = Reader::bounded(data, W);
        let value = match extension_type {
            ext::SERVER_NAME => {
                let mut list = Reader::bounded(r.vec_u16()?, W);
                let name_type = list.u8()?;
                if name_type != 0 {
                    return Err(invalid(W, format!("server_name type {name_type} is not host_name")));
                }
                let name = list.vec_u16()?;
                list.finish()?;
                let name = String::from_utf8(name.to_vec()).map_err(|_| invalid(W, "host_name is not UTF-8"))?;
                ClientExtension::ServerName(name)
            }
            ext::SUPPORTED_GROUPS => ClientExtension::SupportedGroups(u16_list(r.vec_u16()?, W)?),
            ext::SIGNATURE_ALGORITHMS => ClientExtension::SignatureAlgorithms(u16_list(r.vec_u16()?, W)?),
            ext::SUPPORTED_VERSIONS => ClientExtension::SupportedVersions(u16_list(r.vec_u8()?, W)?),
            ext::EC_POINT_FORMATS => ClientExtension::EcPointFormats(r.vec_u8()?.to_vec()),
            ext::PSK_KEY_EXCHANGE_MODES => ClientExtension::PskKeyExchangeModes(r.vec_u8()?.to_vec()),
            ext::RENEGOTIATION_INFO => ClientExtension::RenegotiationInfo(r.vec_u8()?.to_vec()),
            ext::KEY_SHARE => {
                let mut list = Reader::bounded(r.vec_u16()?, W);
                let mut shares = Vec::new();
                while !list.is_empty() {
                    let group = list.u16()?;
                    shares.push((group, list.vec_u16()?.to_vec()));
                }
                ClientExtension::KeyShare(shares)
            }
            ext::SESSION_TICKET => ClientExtension::SessionTicket(r.rest().to_vec()),
            ext::STATUS_REQUEST => {
                if r.rest() != [1, 0, 0, 0, 0] {
                    return Err(invalid(W, "status_request other than plain ocsp"));
                }
                ClientExtension::StatusRequest
            }
            ext::ALPN => {
                let mut list = Reader::bounded(r.vec_u16()?, W);
                let mut names = Vec::new();
                while !list.is_empty() {
                    names.push(list.vec_u8()?.to_vec());
                }
                ClientExtension::Alpn(names)
            }
            ext::HEARTBEAT => ClientExtension::Heartbeat(r.u8()?),
            ext::EXTENDED_MASTER_SECRET => ClientExtension::ExtendedMasterSecret,
            ext::ENCRYPT_THEN_MAC => ClientExtension::EncryptThenMac,
            ext::PADDING => {
                let pad = r.rest();
                if pad.iter().any(|&b| b != 0) {
                    return Err(invalid(W, "padding with non-zero bytes"));
                }
                ClientExtension::Padding(pad.len())
            }
            _ => ClientExtension::Unknown { extension_type, data: r.rest().to_vec() },
        };
        r.finish()?;
        Ok(value)
    }
}

fn encode_body(hello: &ClientHello, extensions: Option<&[ClientExtension]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(512);
    put_u16(&mut body, hello.client_version);
    body.extend_from_slice(&hello.random);
    put_vec_u8(&mut body, &hello.session_id);
    put_u16_list(&mut body, 2, &hello.cipher_suites);
    put_vec_u8(&mut body, &hello.compression_methods);
    if let Some(extensions) = extensions {
        let mut block = Vec::new();
        for e in extensions {
            put_u16(&mut block, e.extension_type());
            put_vec_u16(&mut block, &e.encode_data());
        }
        put_vec_u16(&mut body, &block);
    }
    body
}

fn handshake(body: Vec<u8>) -> Vec<u8> {
    HandshakeMessage { handshake_type: handshake_type::CLIENT_HELLO, body }.encode()
}

pub(super) fn encode_handshake(hello: &ClientHello) -> Vec<u8> {
    handshake(encode_body(hello, hello.extensions.as_deref()))
}

pub(super) fn encode_record(hello: &ClientHello) -> Vec<u8> {
    let mut message = encode_handshake(hello);
    if let Some(extensions) = &hello.extensions {
        let padded = extensions.iter().any(|e| matches!(e, ClientExtension::Padding(_)));
        if !padded && (F5_MIN..F5_TARGET).contains(&message.len()) {
            // From 508 on, 512 is out of reach without an empty last extension (WebSphere rejects
            // those) or a negative one: one byte, as OpenSSL adds, still lifts the message past
            // the range.
            let pad = F5_TARGET.checked_sub(message.len() + EXT_HEADER).filter(|&n| n > 0).unwrap_or(1);
            let mut with_padding = extensions.clone();
            with_padding.push(ClientExtension::Padding(pad));
            message = handshake(encode_body(hello, Some(&with_padding)));
        }
    }
    let mut out = Vec::with_capacity(message.len() + 5 * (1 + message.len() / MAX_PLAINTEXT));
    for chunk in message.chunks(MAX_PLAINTEXT) {
        let record =
            Record { content_type: content_type::HANDSHAKE, version: hello.record_version, fragment: chunk.to_vec() };
        out.extend_from_slice(&record.encode());
    }
    out
}

pub(super) fn decode_handshake(bytes: &[u8]) -> Result<ClientHello, CodecError> {
    const W: &str = "ClientHello";
    let message = HandshakeMessage::decode(bytes)?;
    if message.handshake_type != handshake_type::CLIENT_HELLO {
        return Err(invalid(W, format!("handshake type {} is not client_hello", message.handshake_type)));
    }
    let mut r = Reader::bounded(&message.body, W);
    let client_version = r.u16()?;
    let random = r.array::<32>()?;
    let session_id = r.vec_u8()?.to_vec();
    if session_id.len() > 32 {
        return Err(invalid(W, format!("session_id of {} bytes", session_id.len())));
    }
    let suites = r.vec_u16()?;
    if suites.is_empty() {
        return Err(invalid(W, "no cipher suites"));
    }
    let cipher_suites = u16_list(suites, W)?;
    let compression_methods = r.vec_u8()?.to_vec();
    if compression_methods.is_empty() {
        return Err(invalid(W, "no compression methods"));
    }
    let extensions = if r.is_empty() {
        None
    } else {
        let mut block = Reader::bounded(r.vec_u16()?, W);
        let mut extensions = Vec::new();
        while !block.is_empty() {
            let extension_type = block.u16()?;
            let data = block.vec_u16()?;
            extensions.push(ClientExtension::decode(extension_type, data)?);
        }
        Some(extensions)
    };
    r.finish()?;
    Ok(ClientHello {
        // The record header is not part of the handshake message: report the usual choice.
        record_version: if client_version == 0x0300 { 0x0300 } else { 0x0301 },
        client_version,
        random,
        session_id,
        cipher_suites,
        compression_methods,
        extensions,
    })
}
