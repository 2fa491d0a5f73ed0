//! Raw TLS/SSL wire codec: the one protocol piece postura writes itself.
//!
//! No maintained TLS library still speaks SSLv2, SSLv3 or the legacy suites a scanner must detect,
//! so the ClientHello is built here byte by byte and the server's first flight (ServerHello,
//! Certificate, ServerKeyExchange, CertificateStatus, ServerHelloDone, Alert, and the SSLv2
//! ServerHello) is parsed here, and so is a TLS 1.3 server's encrypted flight (`tls13_flight`,
//! decrypted with ring from the generator key share's secret). Pure code: no I/O, no clock, no
//! randomness — callers pass random bytes in. Every parser rejects truncated input and trailing bytes and never panics.
//!
//! CONTRACT (fixed; the sweep is written against these signatures): the public types and function
//! signatures in this file must keep their names and shapes. Bodies may move to submodules.

use thiserror::Error;

mod hello;
mod reader;
mod record;
mod server;
mod sslv2;
#[cfg(test)]
mod tests;
pub mod tls13_flight;

/// Why bytes from the network could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// More bytes are needed before this item can be decoded (not an error on a stream yet).
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The bytes can never be a valid item.
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

/// TLS record content types.
pub mod content_type {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
}

/// Handshake message types.
pub mod handshake_type {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const CERTIFICATE_STATUS: u8 = 22;
}

/// Extension type codes (IANA).
pub mod extension_type {
    pub const SERVER_NAME: u16 = 0;
    pub const STATUS_REQUEST: u16 = 5;
    /// RFC 6962 §3.3: the server's SCTs (ServerHello, or TLS 1.3 certificate entries).
    pub const SIGNED_CERTIFICATE_TIMESTAMP: u16 = 18;
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const EC_POINT_FORMATS: u16 = 11;
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    pub const HEARTBEAT: u16 = 15;
    pub const ALPN: u16 = 16;
    pub const PADDING: u16 = 21;
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const SESSION_TICKET: u16 = 35;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
    pub const KEY_SHARE: u16 = 51;
    pub const RENEGOTIATION_INFO: u16 = 0xff01;
}

/// The SHA-256 of "HelloRetryRequest": the `random` of a ServerHello that is really an HRR.
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11,
    0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// One ClientHello extension, typed where postura sends it, raw otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientExtension {
    /// host_name entry (SNI); never sent for IP literals by the caller.
    ServerName(String),
    SupportedGroups(Vec<u16>),
    EcPointFormats(Vec<u8>),
    SignatureAlgorithms(Vec<u16>),
    SupportedVersions(Vec<u16>),
    /// (group, key_exchange bytes); an empty vector asks the server for a HelloRetryRequest.
    KeyShare(Vec<(u16, Vec<u8>)>),
    PskKeyExchangeModes(Vec<u8>),
    /// renegotiated_connection bytes (empty on an initial handshake).
    RenegotiationInfo(Vec<u8>),
    /// ticket bytes (empty: "I support tickets").
    SessionTicket(Vec<u8>),
    /// status_request with type ocsp, no responder ids, no extensions.
    StatusRequest,
    /// protocol names, e.g. b"h2", b"http/1.1".
    Alpn(Vec<Vec<u8>>),
    /// heartbeat mode (1 = peer_allowed_to_send).
    Heartbeat(u8),
    ExtendedMasterSecret,
    EncryptThenMac,
    /// `n` zero bytes of padding (RFC 7685).
    Padding(usize),
    Unknown {
        extension_type: u16,
        data: Vec<u8>,
    },
}

/// A ClientHello for SSLv3 and TLS 1.0–1.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Version in the record header (0x0300 for SSLv3, 0x0301 otherwise is the common choice).
    pub record_version: u16,
    /// client_version / legacy_version in the hello body (0x0303 for TLS 1.3).
    pub client_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    pub compression_methods: Vec<u8>,
    /// `None`: no extensions block at all (classic SSLv3). `Some(vec![])`: an empty block.
    pub extensions: Option<Vec<ClientExtension>>,
}

impl ClientHello {
    /// The handshake message (4-byte header + body), without the record header.
    pub fn encode_handshake(&self) -> Vec<u8> {
        hello::encode_handshake(self)
    }

    /// The complete record(s) to write to the socket. When the handshake message would be 256–511
    /// bytes long and extensions are present but no `Padding` is, a padding extension is added so
    /// that it reaches 512 bytes (F5 / RFC 7685 workaround). A message of 508–511 bytes cannot
    /// reach exactly 512 with a non-empty padding extension (its header alone is 4 bytes, and an
    /// empty last extension breaks some servers), so it gets 1 byte of padding, as OpenSSL does.
    /// A message above 16384 bytes is split over several records.
    pub fn encode_record(&self) -> Vec<u8> {
        hello::encode_record(self)
    }

    /// Decode a handshake message body produced by `encode_handshake` (with its 4-byte header).
    /// The record header is not part of it: `record_version` comes back as 0x0300 when
    /// `client_version` is 0x0300, else 0x0301.
    pub fn decode_handshake(bytes: &[u8]) -> Result<ClientHello, CodecError> {
        hello::decode_handshake(bytes)
    }
}

/// A raw extension as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawExtension {
    pub extension_type: u16,
    pub data: Vec<u8>,
}

/// ServerHello (also a HelloRetryRequest, which shares its layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suite: u16,
    pub compression_method: u8,
    /// `None` when the message ends after compression_method (no extensions block).
    pub extensions: Option<Vec<RawExtension>>,
}

impl ServerHello {
    /// Decode a handshake body (without the 4-byte handshake header).
    /// Without a handshake header the end of a body is only known from its length, so a body of
    /// a ServerHello with extensions cut right after compression_method decodes as a ServerHello
    /// without extensions; go through `HandshakeMessage` framing to detect such a cut.
    pub fn decode(body: &[u8]) -> Result<ServerHello, CodecError> {
        server::decode_server_hello(body)
    }
    /// Encode as a handshake body (without header). Used by tests and fuzz round-trips.
    pub fn encode(&self) -> Vec<u8> {
        server::encode_server_hello(self)
    }
    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HELLO_RETRY_REQUEST_RANDOM
    }
    pub fn extension(&self, extension_type: u16) -> Option<&RawExtension> {
        self.extensions.as_ref()?.iter().find(|e| e.extension_type == extension_type)
    }
    /// The negotiated version: supported_versions (2 bytes) when present, else legacy_version.
    /// An ill-formed supported_versions extension is an error.
    pub fn selected_version(&self) -> Result<u16, CodecError> {
        server::selected_version(self)
    }
    /// The key_share group: in an HRR the extension is just the 2-byte group; in a ServerHello it
    /// is group + length-prefixed key. `Ok(None)` when absent.
    pub fn key_share_group(&self) -> Result<Option<u16>, CodecError> {
        server::key_share_group(self)
    }
    /// The ALPN protocol the server selected (`Ok(None)` when absent).
    pub fn alpn_protocol(&self) -> Result<Option<Vec<u8>>, CodecError> {
        server::alpn_protocol(self)
    }
    /// Heartbeat mode when the extension is present.
    pub fn heartbeat_mode(&self) -> Result<Option<u8>, CodecError> {
        server::heartbeat_mode(self)
    }
}

/// TLS ≤ 1.2 Certificate message: DER certificates in the order sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateMessage {
    pub certificates: Vec<Vec<u8>>,
}

impl CertificateMessage {
    /// Zero-length certificate entries are accepted and kept as sent.
    pub fn decode(body: &[u8]) -> Result<CertificateMessage, CodecError> {
        server::decode_certificate(body)
    }
    pub fn encode(&self) -> Vec<u8> {
        server::encode_certificate(self)
    }
}

/// Key-exchange parameters from a ServerKeyExchange. Which layout applies depends on the chosen
/// suite's key exchange, so the caller says which one to expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyExchangeParams {
    /// Finite-field DH (DHE/ADH): prime p, generator g, server public Ys (big-endian, as sent).
    Dh { p: Vec<u8>, g: Vec<u8>, public: Vec<u8> },
    /// ECDHE/AECDH with a named curve (curve_type 3).
    EcdhNamed { group: u16, public: Vec<u8> },
    /// ECDHE with explicit curve parameters (curve_type 1 or 2): parameters not decoded.
    EcdhExplicit { curve_type: u8 },
    /// Export RSA (RSA_EXPORT): temporary modulus and exponent.
    Rsa { modulus: Vec<u8>, exponent: Vec<u8> },
}

impl KeyExchangeParams {
    /// Size in bits of the DH prime or RSA modulus (leading zero bytes ignored); None for EC.
    pub fn modulus_bits(&self) -> Option<u32> {
        match self {
            KeyExchangeParams::Dh { p, .. } => Some(server::bit_length(p)),
            KeyExchangeParams::Rsa { modulus, .. } => Some(server::bit_length(modulus)),
            KeyExchangeParams::EcdhNamed { .. } | KeyExchangeParams::EcdhExplicit { .. } => None,
        }
    }
}

/// What kind of ServerKeyExchange to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchangeKind {
    Dh,
    Ecdh,
    Rsa,
}

/// Parse the params at the start of a ServerKeyExchange body. The signature that follows (if any)
/// is not checked or required to be well-formed: only the params are decoded, and trailing bytes
/// after them are allowed here (they are the signature). Fields RFC 5246/4492 declare non-empty
/// (p, g, Ys, the EC point, modulus, exponent) are `Invalid` when empty.
pub fn decode_server_key_exchange(body: &[u8], kind: KeyExchangeKind) -> Result<KeyExchangeParams, CodecError> {
    server::decode_server_key_exchange(body, kind)
}

/// Encode params (no signature). Used by tests and round-trips. `EcdhExplicit` is written as its
/// curve_type byte alone, since the explicit curve is not modelled.
pub fn encode_server_key_exchange(params: &KeyExchangeParams) -> Vec<u8> {
    server::encode_server_key_exchange(params)
}

/// CertificateStatus (RFC 6066): status_type 1 = ocsp, with the DER OCSPResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateStatus {
    pub status_type: u8,
    pub response: Vec<u8>,
}

impl CertificateStatus {
    /// Any status_type is decoded with the u24-length framing; the caller checks it is 1.
    pub fn decode(body: &[u8]) -> Result<CertificateStatus, CodecError> {
        server::decode_certificate_status(body)
    }
    pub fn encode(&self) -> Vec<u8> {
        server::encode_certificate_status(self)
    }
}

/// TLS ≤ 1.2 CertificateRequest (RFC 5246 §7.4.4; RFC 4346 has no signature algorithms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    /// ClientCertificateType codes (1 = rsa_sign, 2 = dss_sign, 64 = ecdsa_sign, …).
    pub certificate_types: Vec<u8>,
    /// SignatureAndHashAlgorithm codes; `None` before TLS 1.2.
    pub signature_algorithms: Option<Vec<u16>>,
    /// The DER distinguished names of the CAs the server accepts, as sent (may be empty).
    pub authorities: Vec<Vec<u8>>,
}

impl CertificateRequest {
    /// `tls12`: the layout with supported_signature_algorithms. The u16-length list of names is
    /// bounded by the body, so a peer controls at most 2^16 bytes of names.
    pub fn decode(body: &[u8], tls12: bool) -> Result<CertificateRequest, CodecError> {
        server::decode_certificate_request(body, tls12)
    }
    pub fn encode(&self) -> Vec<u8> {
        server::encode_certificate_request(self)
    }
}

/// An alert record's two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub level: u8,
    pub description: u8,
}

impl Alert {
    /// Exactly two bytes; the level is not checked (some servers send odd ones).
    pub fn decode(fragment: &[u8]) -> Result<Alert, CodecError> {
        record::decode_alert(fragment)
    }
    pub fn encode(&self) -> Vec<u8> {
        vec![self.level, self.description]
    }
    /// RFC names ("handshake_failure", "protocol_version", "inappropriate_fallback", ...), or
    /// "unknown(N)".
    pub fn description_name(&self) -> String {
        match record::alert_name(self.description) {
            Some(name) => name.to_string(),
            None => format!("unknown({})", self.description),
        }
    }
}

/// Alert description codes postura reacts to.
pub mod alert_description {
    pub const CLOSE_NOTIFY: u8 = 0;
    pub const UNEXPECTED_MESSAGE: u8 = 10;
    pub const HANDSHAKE_FAILURE: u8 = 40;
    pub const ILLEGAL_PARAMETER: u8 = 47;
    pub const DECODE_ERROR: u8 = 50;
    pub const PROTOCOL_VERSION: u8 = 70;
    pub const INSUFFICIENT_SECURITY: u8 = 71;
    pub const INTERNAL_ERROR: u8 = 80;
    pub const INAPPROPRIATE_FALLBACK: u8 = 86;
    pub const UNRECOGNIZED_NAME: u8 = 112;
    pub const BAD_RECORD_MAC: u8 = 20;
    pub const DECRYPTION_FAILED: u8 = 21;
    pub const NO_RENEGOTIATION: u8 = 100;
}

/// A TLS record: content type, version, fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub content_type: u8,
    pub version: u16,
    pub fragment: Vec<u8>,
}

/// The largest fragment accepted from a peer (2^14 plus the 2048 bytes of expansion TLS allows).
pub const MAX_RECORD_FRAGMENT: usize = 16384 + 2048;

impl Record {
    /// Try to take one record from the front of `buf`. `Ok(None)`: need more bytes.
    /// `Ok(Some((record, consumed)))` on success. An unknown content type (not 20–24), a major
    /// version other than 3, or a length above MAX_RECORD_FRAGMENT is `Invalid` (this is how a
    /// non-TLS peer is recognised early).
    /// Each header byte is checked as soon as it is in `buf`, so even a 1-byte `buf` of garbage
    /// is `Invalid`.
    pub fn decode(buf: &[u8]) -> Result<Option<(Record, usize)>, CodecError> {
        record::decode_record(buf)
    }
    /// A fragment longer than 65535 bytes (which no u16 length can describe) is written as
    /// consecutive records.
    pub fn encode(&self) -> Vec<u8> {
        record::encode_record(self)
    }
}

/// A complete handshake message: type and body (header removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeMessage {
    pub handshake_type: u8,
    pub body: Vec<u8>,
}

impl HandshakeMessage {
    /// Type, u24 length, body. A body beyond 2^24-1 bytes (which TLS cannot carry) is cut.
    pub fn encode(&self) -> Vec<u8> {
        record::encode_handshake_message(self)
    }
    /// Exactly one whole message (4-byte header + body); trailing bytes are `Invalid`.
    pub fn decode(bytes: &[u8]) -> Result<HandshakeMessage, CodecError> {
        record::decode_handshake_message(bytes)
    }
}

/// Joins handshake-record fragments into whole messages (messages may span records, and one
/// record may carry several). Refuses any message longer than `max_message_len`.
#[derive(Debug)]
pub struct HandshakeReassembler {
    max_message_len: usize,
    pending: Vec<u8>,
}

impl HandshakeReassembler {
    pub fn new(max_message_len: usize) -> Self {
        HandshakeReassembler { max_message_len, pending: Vec::new() }
    }
    /// Add the fragment of one handshake record.
    pub fn push(&mut self, fragment: &[u8]) {
        self.pending.extend_from_slice(fragment);
    }
    /// Take the next complete message, `Ok(None)` if none is complete yet; an announced length
    /// above the limit is `Invalid`.
    pub fn next_message(&mut self) -> Result<Option<HandshakeMessage>, CodecError> {
        record::reassembler_next(self)
    }
    /// Bytes received that do not yet form a whole message.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

/// SSLv2 CLIENT-HELLO in SSLv2 record framing (2-byte header, high bit set), version 0x0002,
/// with 3-byte cipher specs, no session id and the given 16-byte challenge.
/// Each spec is written as its low 24 bits; specs beyond what one record holds (10914) are dropped.
pub fn encode_sslv2_client_hello(cipher_specs: &[u32], challenge: &[u8; 16]) -> Vec<u8> {
    sslv2::encode_client_hello(cipher_specs, challenge)
}

/// Decode an SSLv2 CLIENT-HELLO record (for round-trip tests): (version, cipher specs, challenge).
/// Exactly one record (2- or 3-byte header); any session id is skipped; a challenge outside
/// 16..=32 bytes is `Invalid`.
pub fn decode_sslv2_client_hello(record: &[u8]) -> Result<(u16, Vec<u32>, Vec<u8>), CodecError> {
    sslv2::decode_client_hello(record)
}

/// SSLv2 SERVER-HELLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sslv2ServerHello {
    pub session_id_hit: u8,
    pub certificate_type: u8,
    pub version: u16,
    pub certificate: Vec<u8>,
    pub cipher_specs: Vec<u32>,
    pub connection_id: Vec<u8>,
}

impl Sslv2ServerHello {
    /// Try to take one SSLv2 record holding a SERVER-HELLO (message type 4) from the front of
    /// `buf`, 2- or 3-byte record header. `Ok(None)`: need more bytes. Another SSLv2 message type
    /// (e.g. ERROR = 0) or a TLS record header is `Invalid`.
    /// A TLS record header here means bytes 0x15 or 0x16 followed by 0x03.
    pub fn decode_record(buf: &[u8]) -> Result<Option<(Sslv2ServerHello, usize)>, CodecError> {
        sslv2::decode_server_hello(buf)
    }
    /// Encode as one SSLv2 record with a 2-byte header (tests, round-trips).
    pub fn encode_record(&self) -> Vec<u8> {
        sslv2::encode_server_hello(self)
    }
}
