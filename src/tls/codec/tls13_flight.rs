//! The TLS 1.3 server flight after the ServerHello, decrypted: EncryptedExtensions,
//! CertificateRequest, Certificate (with each entry's extensions), CertificateVerify and Finished.
//!
//! postura's ClientHello offers the groups' generators as key shares (`registry::
//! generator_key_share`), so the ECDHE shared secret is the server's own public value: the 32
//! bytes of its x25519 share, or the X coordinate of its secp256r1 point. From that secret the
//! RFC 8446 §7.1 key schedule gives the server handshake traffic keys, and the records after the
//! ServerHello open with the negotiated AEAD (ring). The server's Finished is checked against the
//! transcript, so a decrypted flight is the flight the server really sent. Pure code: the caller
//! feeds records and never sends anything after its ClientHello.
//!
//! Caps on what the peer controls (`docs/limits.md`): `MAX_FLIGHT_RECORDS` records,
//! `MAX_FLIGHT_MESSAGES` handshake messages of at most `MAX_FLIGHT_MESSAGE_BYTES` each,
//! `MAX_CERTIFICATE_ENTRIES` certificate entries kept (all counted), `MAX_ENTRY_EXTENSIONS`
//! extensions kept per entry and in EncryptedExtensions and CertificateRequest.

use ring::{aead, digest, hkdf, hmac};

use super::reader::{invalid, put_u16, put_vec_u16, put_vec_u24, put_vec_u8, Reader};
use super::{
    content_type, extension_type, handshake_type, Alert, CodecError, HandshakeMessage, HandshakeReassembler,
    RawExtension, Record, ServerHello,
};

/// Records read after the ServerHello before giving up (a 200 KB chain in 16 KB records is 13;
/// some stacks write each message in its own record).
pub const MAX_FLIGHT_RECORDS: usize = 256;
/// Handshake messages decrypted (EncryptedExtensions to Finished are five).
pub const MAX_FLIGHT_MESSAGES: usize = 16;
/// The largest handshake message accepted: a 10,000-name leaf (about 210 KB) with its issuers fits.
pub const MAX_FLIGHT_MESSAGE_BYTES: usize = 256 * 1024;
/// Certificate entries kept from one Certificate message (every entry is counted).
pub const MAX_CERTIFICATE_ENTRIES: usize = 16;
/// Extensions kept per certificate entry, EncryptedExtensions and CertificateRequest.
pub const MAX_ENTRY_EXTENSIONS: usize = 32;

/// certificate_authorities (RFC 8446 §4.2.4).
const CERTIFICATE_AUTHORITIES: u16 = 47;

/// Why the encrypted flight could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlightError {
    /// The suite's AEAD is not one ring offers (TLS_AES_128_CCM_SHA256, _8_SHA256).
    #[error("not decrypted ({0})")]
    UnsupportedSuite(String),
    /// The server's key share is not one whose secret postura knows.
    #[error("not decrypted: {0}")]
    KeyShare(String),
    #[error("record {record} did not decrypt (bad_record_mac)")]
    Decrypt { record: usize },
    #[error("the server's Finished does not match the transcript")]
    FinishedMismatch,
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("{0}")]
    Protocol(String),
    #[error("cap reached: {0}")]
    Cap(String),
}

/// One TLS 1.3 cipher suite's hash and AEAD.
#[derive(Clone, Copy)]
struct Suite {
    digest: &'static digest::Algorithm,
    hkdf: hkdf::Algorithm,
    hmac: hmac::Algorithm,
    aead: &'static aead::Algorithm,
}

fn suite(code: u16) -> Result<Suite, FlightError> {
    match code {
        0x1301 => Ok(Suite {
            digest: &digest::SHA256,
            hkdf: hkdf::HKDF_SHA256,
            hmac: hmac::HMAC_SHA256,
            aead: &aead::AES_128_GCM,
        }),
        0x1302 => Ok(Suite {
            digest: &digest::SHA384,
            hkdf: hkdf::HKDF_SHA384,
            hmac: hmac::HMAC_SHA384,
            aead: &aead::AES_256_GCM,
        }),
        0x1303 => Ok(Suite {
            digest: &digest::SHA256,
            hkdf: hkdf::HKDF_SHA256,
            hmac: hmac::HMAC_SHA256,
            aead: &aead::CHACHA20_POLY1305,
        }),
        0x1304 | 0x1305 => Err(FlightError::UnsupportedSuite("CCM".into())),
        other => Err(FlightError::UnsupportedSuite(format!("suite 0x{other:04x}"))),
    }
}

/// An HKDF output length, as ring wants it.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1).
fn expand_label(algorithm: hkdf::Algorithm, secret: &[u8], label: &str, context: &[u8], len: usize) -> Vec<u8> {
    let prk = hkdf::Prk::new_less_safe(algorithm, secret);
    let mut info = Vec::with_capacity(10 + label.len() + context.len());
    put_u16(&mut info, len as u16);
    put_vec_u8(&mut info, format!("tls13 {label}").as_bytes());
    put_vec_u8(&mut info, context);
    let mut out = vec![0u8; len];
    // ring refuses only lengths above 255 hash blocks; every length here is at most 48 bytes.
    if let Ok(okm) = prk.expand(&[&info], Len(len)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// HKDF-Extract(salt, ikm) = HMAC-Hash(salt, ikm) (RFC 5869 §2.2): ring keeps its PRKs opaque,
/// and the key schedule needs them as bytes.
fn extract(algorithm: hmac::Algorithm, salt: &[u8], ikm: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(algorithm, salt), ikm).as_ref().to_vec()
}

/// The secrets of the key schedule up to the server handshake traffic keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeSecrets {
    pub early_secret: Vec<u8>,
    pub handshake_secret: Vec<u8>,
    pub server_handshake_traffic_secret: Vec<u8>,
    pub server_key: Vec<u8>,
    pub server_iv: Vec<u8>,
}

/// RFC 8446 §7.1 from the (EC)DHE shared secret and Transcript-Hash(ClientHello..ServerHello),
/// without PSK.
pub fn handshake_secrets(
    suite_code: u16,
    shared_secret: &[u8],
    hello_hash: &[u8],
) -> Result<HandshakeSecrets, FlightError> {
    let suite = suite(suite_code)?;
    let hash_len = suite.digest.output_len();
    let zeros = vec![0u8; hash_len];
    let early_secret = extract(suite.hmac, &zeros, &zeros);
    let empty_hash = digest::digest(suite.digest, b"");
    let derived = expand_label(suite.hkdf, &early_secret, "derived", empty_hash.as_ref(), hash_len);
    let handshake_secret = extract(suite.hmac, &derived, shared_secret);
    let server_handshake_traffic_secret =
        expand_label(suite.hkdf, &handshake_secret, "s hs traffic", hello_hash, hash_len);
    let server_key = expand_label(suite.hkdf, &server_handshake_traffic_secret, "key", b"", suite.aead.key_len());
    let server_iv = expand_label(suite.hkdf, &server_handshake_traffic_secret, "iv", b"", aead::NONCE_LEN);
    Ok(HandshakeSecrets { early_secret, handshake_secret, server_handshake_traffic_secret, server_key, server_iv })
}

/// The ECDHE secret of a hello whose key share was the group's generator: the server's public
/// value itself (x25519: its 32 bytes; secp256r1: the X coordinate of its uncompressed point).
pub fn generator_shared_secret(server_hello: &ServerHello) -> Result<Vec<u8>, FlightError> {
    let share = server_hello
        .extension(extension_type::KEY_SHARE)
        .ok_or_else(|| FlightError::KeyShare("no key_share in the ServerHello".into()))?;
    let mut r = Reader::bounded(&share.data, "ServerHello key_share");
    let group = r.u16()?;
    let key = r.vec_u16()?;
    r.finish()?;
    match (group, key) {
        (29, key) if key.len() == 32 => Ok(key.to_vec()),
        (23, [0x04, point @ ..]) if point.len() == 64 => Ok(point.get(..32).unwrap_or_default().to_vec()),
        (29 | 23, key) => Err(FlightError::KeyShare(format!("group {group} key of {} bytes", key.len()))),
        (other, _) => Err(FlightError::KeyShare(format!("server chose group {other}, no generator share sent"))),
    }
}

/// One CertificateEntry of a TLS 1.3 Certificate message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateEntry {
    pub der: Vec<u8>,
    /// At most `MAX_ENTRY_EXTENSIONS`.
    pub extensions: Vec<RawExtension>,
}

impl CertificateEntry {
    pub fn extension(&self, code: u16) -> Option<&RawExtension> {
        self.extensions.iter().find(|e| e.extension_type == code)
    }
}

/// A TLS 1.3 Certificate message (RFC 8446 §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls13Certificate {
    pub request_context: Vec<u8>,
    /// The first `MAX_CERTIFICATE_ENTRIES` entries.
    pub entries: Vec<CertificateEntry>,
    /// Every entry the server sent.
    pub entries_sent: usize,
}

/// A TLS 1.3 CertificateRequest (RFC 8446 §4.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls13CertificateRequest {
    pub request_context: Vec<u8>,
    /// At most `MAX_ENTRY_EXTENSIONS`.
    pub extensions: Vec<RawExtension>,
    /// signature_algorithms (13), when sent and well formed.
    pub signature_algorithms: Option<Vec<u16>>,
    /// certificate_authorities (47): the DER names, as sent.
    pub authorities: Vec<Vec<u8>>,
}

/// What the decrypted flight held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls13Flight {
    /// The negotiated suite (from the ServerHello).
    pub cipher_suite: u16,
    /// The key share's group (from the ServerHello).
    pub group: u16,
    pub encrypted_extensions: Option<Vec<RawExtension>>,
    pub certificate_request: Option<Tls13CertificateRequest>,
    pub certificate: Option<Tls13Certificate>,
    /// The CertificateVerify's signature scheme.
    pub certificate_verify_scheme: Option<u16>,
    /// The server's Finished was received and matches the transcript.
    pub finished_verified: bool,
    /// An alert sent (encrypted or not) instead of the rest of the flight.
    pub alert: Option<Alert>,
    pub records: usize,
}

impl Tls13Flight {
    /// The ALPN protocol named in EncryptedExtensions.
    pub fn alpn(&self) -> Option<Vec<u8>> {
        let extension =
            self.encrypted_extensions.as_ref()?.iter().find(|e| e.extension_type == extension_type::ALPN)?;
        let mut r = Reader::bounded(&extension.data, "EncryptedExtensions ALPN");
        let mut list = Reader::bounded(r.vec_u16().ok()?, "EncryptedExtensions ALPN");
        let name = list.vec_u8().ok()?;
        (list.finish().is_ok() && r.finish().is_ok()).then(|| name.to_vec())
    }

    /// The leaf's entry, when a Certificate message came.
    pub fn leaf(&self) -> Option<&CertificateEntry> {
        self.certificate.as_ref()?.entries.first()
    }
}

/// What feeding one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Read on.
    More,
    /// The flight ended (Finished, or an alert).
    Done,
}

/// Opens the records after a TLS 1.3 ServerHello.
pub struct FlightDecryptor {
    suite: Suite,
    key: aead::LessSafeKey,
    iv: [u8; aead::NONCE_LEN],
    finished_key: Vec<u8>,
    transcript: digest::Context,
    sequence: u64,
    reassembler: HandshakeReassembler,
    messages: usize,
    change_cipher_spec_seen: bool,
    flight: Tls13Flight,
}

impl FlightDecryptor {
    /// From the ClientHello and ServerHello handshake messages as they went over the wire (4-byte
    /// header included) and the ECDHE shared secret.
    pub fn new(client_hello: &[u8], server_hello: &[u8], shared_secret: &[u8]) -> Result<Self, FlightError> {
        let hello = HandshakeMessage::decode(server_hello)?;
        if hello.handshake_type != handshake_type::SERVER_HELLO {
            return Err(FlightError::Protocol(format!("handshake type {} is not a ServerHello", hello.handshake_type)));
        }
        let decoded = ServerHello::decode(&hello.body)?;
        let suite_code = decoded.cipher_suite;
        let suite = suite(suite_code)?;
        let group = decoded.key_share_group()?.unwrap_or_default();
        let mut transcript = digest::Context::new(suite.digest);
        transcript.update(client_hello);
        transcript.update(server_hello);
        let hello_hash = transcript.clone().finish();
        let secrets = handshake_secrets(suite_code, shared_secret, hello_hash.as_ref())?;
        let key = aead::UnboundKey::new(suite.aead, &secrets.server_key)
            .map_err(|_| FlightError::Protocol("AEAD key of the wrong length".into()))?;
        let mut iv = [0u8; aead::NONCE_LEN];
        iv.copy_from_slice(&secrets.server_iv);
        let finished_key = expand_label(
            suite.hkdf,
            &secrets.server_handshake_traffic_secret,
            "finished",
            b"",
            suite.digest.output_len(),
        );
        Ok(FlightDecryptor {
            suite,
            key: aead::LessSafeKey::new(key),
            iv,
            finished_key,
            transcript,
            sequence: 0,
            reassembler: HandshakeReassembler::new(MAX_FLIGHT_MESSAGE_BYTES),
            messages: 0,
            change_cipher_spec_seen: false,
            flight: Tls13Flight { cipher_suite: suite_code, group, ..Tls13Flight::default() },
        })
    }

    /// Feed the next record read after the ServerHello.
    pub fn push(&mut self, record: &Record) -> Result<Progress, FlightError> {
        self.flight.records += 1;
        if self.flight.records > MAX_FLIGHT_RECORDS {
            return Err(FlightError::Cap(format!("more than {MAX_FLIGHT_RECORDS} records")));
        }
        match record.content_type {
            // RFC 8446 §5: one middlebox-compatibility ChangeCipherSpec, never encrypted.
            content_type::CHANGE_CIPHER_SPEC if !self.change_cipher_spec_seen && record.fragment == [1] => {
                self.change_cipher_spec_seen = true;
                Ok(Progress::More)
            }
            content_type::ALERT => {
                self.flight.alert = Some(Alert::decode(&record.fragment)?);
                Ok(Progress::Done)
            }
            content_type::APPLICATION_DATA => {
                let (inner_type, plaintext) = self.open(record)?;
                match inner_type {
                    content_type::HANDSHAKE => self.take_handshake(&plaintext),
                    content_type::ALERT => {
                        self.flight.alert = Some(Alert::decode(&plaintext)?);
                        Ok(Progress::Done)
                    }
                    other => Err(FlightError::Protocol(format!("inner content type {other} before Finished"))),
                }
            }
            other => Err(FlightError::Protocol(format!("record type {other} in plaintext after the ServerHello"))),
        }
    }

    /// What was read so far.
    pub fn flight(&self) -> &Tls13Flight {
        &self.flight
    }

    pub fn into_flight(self) -> Tls13Flight {
        self.flight
    }

    fn open(&mut self, record: &Record) -> Result<(u8, Vec<u8>), FlightError> {
        let mut nonce = self.iv;
        for (byte, sequence_byte) in nonce.iter_mut().skip(4).zip(self.sequence.to_be_bytes()) {
            *byte ^= sequence_byte;
        }
        self.sequence += 1;
        let length = u16::try_from(record.fragment.len()).unwrap_or(u16::MAX);
        let mut header = vec![record.content_type];
        put_u16(&mut header, record.version);
        put_u16(&mut header, length);
        let mut in_out = record.fragment.clone();
        let plaintext = self
            .key
            .open_in_place(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(header), &mut in_out)
            .map_err(|_| FlightError::Decrypt { record: self.flight.records })?;
        // TLSInnerPlaintext: content, the real type, then zero padding.
        let end = plaintext
            .iter()
            .rposition(|&b| b != 0)
            .ok_or_else(|| FlightError::Protocol(format!("record {} is all padding", self.flight.records)))?;
        let inner_type = plaintext.get(end).copied().unwrap_or_default();
        Ok((inner_type, plaintext.get(..end).unwrap_or_default().to_vec()))
    }

    fn take_handshake(&mut self, fragment: &[u8]) -> Result<Progress, FlightError> {
        self.reassembler.push(fragment);
        while let Some(message) = self.reassembler.next_message()? {
            self.messages += 1;
            if self.messages > MAX_FLIGHT_MESSAGES {
                return Err(FlightError::Cap(format!("more than {MAX_FLIGHT_MESSAGES} handshake messages")));
            }
            if message.handshake_type == handshake_type::FINISHED {
                let expected = self.transcript.clone().finish();
                let key = hmac::Key::new(self.suite.hmac, &self.finished_key);
                hmac::verify(&key, expected.as_ref(), &message.body).map_err(|_| FlightError::FinishedMismatch)?;
                self.flight.finished_verified = true;
                return Ok(Progress::Done);
            }
            self.transcript.update(&message.encode());
            match message.handshake_type {
                handshake_type::ENCRYPTED_EXTENSIONS => {
                    self.flight.encrypted_extensions = Some(decode_encrypted_extensions(&message.body)?);
                }
                handshake_type::CERTIFICATE_REQUEST => {
                    self.flight.certificate_request = Some(decode_tls13_certificate_request(&message.body)?);
                }
                handshake_type::CERTIFICATE => {
                    self.flight.certificate = Some(decode_tls13_certificate(&message.body)?);
                }
                CERTIFICATE_VERIFY => {
                    let mut r = Reader::new(&message.body, "CertificateVerify");
                    self.flight.certificate_verify_scheme = Some(r.u16()?);
                }
                // Anything else (compressed_certificate, an unknown type) is kept in the transcript only.
                _ => {}
            }
        }
        Ok(Progress::More)
    }
}

const CERTIFICATE_VERIFY: u8 = 15;

/// An extension block: a u16-length list of (type, u16-length data), the first
/// `MAX_ENTRY_EXTENSIONS` kept.
fn decode_extensions(block: &[u8], what: &'static str) -> Result<Vec<RawExtension>, CodecError> {
    let mut r = Reader::bounded(block, what);
    let mut extensions = Vec::new();
    while !r.is_empty() {
        let extension_type = r.u16()?;
        let data = r.vec_u16()?;
        if extensions.len() < MAX_ENTRY_EXTENSIONS {
            extensions.push(RawExtension { extension_type, data: data.to_vec() });
        }
    }
    Ok(extensions)
}

/// EncryptedExtensions body: one extension block.
pub fn decode_encrypted_extensions(body: &[u8]) -> Result<Vec<RawExtension>, CodecError> {
    let mut r = Reader::new(body, "EncryptedExtensions");
    let extensions = decode_extensions(r.vec_u16()?, "EncryptedExtensions")?;
    r.finish()?;
    Ok(extensions)
}

/// CertificateRequest body: context, extensions (signature_algorithms and
/// certificate_authorities decoded).
pub fn decode_tls13_certificate_request(body: &[u8]) -> Result<Tls13CertificateRequest, CodecError> {
    const W: &str = "TLS 1.3 CertificateRequest";
    let mut r = Reader::new(body, W);
    let request_context = r.vec_u8()?.to_vec();
    let block = r.vec_u16()?;
    r.finish()?;
    // Read every extension for the two decoded ones, whatever the cap on those kept.
    let mut all = Reader::bounded(block, W);
    let mut signature_algorithms = None;
    let mut authorities = Vec::new();
    while !all.is_empty() {
        let code = all.u16()?;
        let data = all.vec_u16()?;
        match code {
            extension_type::SIGNATURE_ALGORITHMS => {
                let mut e = Reader::bounded(data, W);
                let list = e.vec_u16()?;
                e.finish()?;
                signature_algorithms = Some(super::reader::u16_list(list, W)?);
            }
            CERTIFICATE_AUTHORITIES => {
                let mut e = Reader::bounded(data, W);
                let mut names = Reader::bounded(e.vec_u16()?, W);
                e.finish()?;
                while !names.is_empty() {
                    let name = names.vec_u16()?;
                    if name.is_empty() {
                        return Err(invalid(W, "empty distinguished name"));
                    }
                    authorities.push(name.to_vec());
                }
            }
            _ => {}
        }
    }
    let extensions = decode_extensions(block, W)?;
    Ok(Tls13CertificateRequest { request_context, extensions, signature_algorithms, authorities })
}

/// Certificate body (RFC 8446 §4.4.2): context, then entries of (u24 DER, extensions).
pub fn decode_tls13_certificate(body: &[u8]) -> Result<Tls13Certificate, CodecError> {
    const W: &str = "TLS 1.3 Certificate";
    let mut r = Reader::new(body, W);
    let request_context = r.vec_u8()?.to_vec();
    let mut list = Reader::bounded(r.vec_u24()?, W);
    r.finish()?;
    let mut entries = Vec::new();
    let mut entries_sent = 0usize;
    while !list.is_empty() {
        let der = list.vec_u24()?;
        let extensions = decode_extensions(list.vec_u16()?, W)?;
        entries_sent += 1;
        if entries.len() < MAX_CERTIFICATE_ENTRIES {
            entries.push(CertificateEntry { der: der.to_vec(), extensions });
        }
    }
    Ok(Tls13Certificate { request_context, entries, entries_sent })
}

/// Encode a Certificate body (tests and fuzz round-trips).
pub fn encode_tls13_certificate(certificate: &Tls13Certificate) -> Vec<u8> {
    let mut list = Vec::new();
    for entry in &certificate.entries {
        put_vec_u24(&mut list, &entry.der);
        put_vec_u16(&mut list, &encode_extensions(&entry.extensions));
    }
    let mut out = Vec::new();
    put_vec_u8(&mut out, &certificate.request_context);
    put_vec_u24(&mut out, &list);
    out
}

/// An extension block's bytes (without its own length prefix).
pub fn encode_extensions(extensions: &[RawExtension]) -> Vec<u8> {
    let mut block = Vec::new();
    for extension in extensions {
        put_u16(&mut block, extension.extension_type);
        put_vec_u16(&mut block, &extension.data);
    }
    block
}

/// The handshake bytes of a ClientHello given as the record bytes that carried it.
pub fn client_hello_from_records(mut records: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut handshake = Vec::new();
    while !records.is_empty() {
        let Some((record, consumed)) = Record::decode(records)? else {
            return Err(CodecError::Truncated("ClientHello record"));
        };
        if record.content_type != content_type::HANDSHAKE {
            return Err(invalid("ClientHello record", format!("content type {}", record.content_type)));
        }
        handshake.extend_from_slice(&record.fragment);
        records = records.get(consumed..).unwrap_or_default();
    }
    Ok(handshake)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
    }

    // RFC 8448 §3, "Simple 1-RTT Handshake".
    const CLIENT_HELLO: &str = "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001";
    const SERVER_HELLO: &str = "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304";
    const SHARED_SECRET: &str = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d";
    const SERVER_FLIGHT_RECORD: &str = "17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13bd9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd610928d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b3684596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d461e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e750edc53370d2b";
    // The leaf certificate inside that flight (from the plaintext Certificate message of §3).
    const LEAF_PREFIX: &str = "308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a";

    #[test]
    fn rfc8448_key_schedule_byte_for_byte() {
        let hello_hash = digest::digest(&digest::SHA256, &[hex(CLIENT_HELLO), hex(SERVER_HELLO)].concat());
        assert_eq!(hello_hash.as_ref(), hex("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8"));
        let secrets = handshake_secrets(0x1301, &hex(SHARED_SECRET), hello_hash.as_ref()).expect("AES-128-GCM");
        assert_eq!(secrets.early_secret, hex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"));
        assert_eq!(secrets.handshake_secret, hex("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac"));
        assert_eq!(
            secrets.server_handshake_traffic_secret,
            hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
        );
        assert_eq!(secrets.server_key, hex("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(secrets.server_iv, hex("5d313eb2671276ee13000b30"));
    }

    fn rfc8448_decryptor() -> FlightDecryptor {
        FlightDecryptor::new(&hex(CLIENT_HELLO), &hex(SERVER_HELLO), &hex(SHARED_SECRET)).expect("decryptor")
    }

    fn rfc8448_record() -> Record {
        let bytes = hex(SERVER_FLIGHT_RECORD);
        assert_eq!(bytes.len(), 679, "RFC 8448: complete record (679 octets)");
        let (record, consumed) = Record::decode(&bytes).expect("record").expect("whole");
        assert_eq!(consumed, 679);
        record
    }

    #[test]
    fn rfc8448_server_flight_decrypts_and_its_finished_verifies() {
        let mut decryptor = rfc8448_decryptor();
        // The middlebox ChangeCipherSpec some servers send first is skipped.
        let ccs = Record { content_type: content_type::CHANGE_CIPHER_SPEC, version: 0x0303, fragment: vec![1] };
        assert_eq!(decryptor.push(&ccs), Ok(Progress::More));
        assert_eq!(decryptor.push(&rfc8448_record()), Ok(Progress::Done));
        let flight = decryptor.into_flight();
        assert!(flight.finished_verified);
        assert_eq!((flight.cipher_suite, flight.group, flight.records), (0x1301, 29, 2));
        // EncryptedExtensions: supported_groups, record_size_limit, server_name (empty).
        let codes: Vec<u16> =
            flight.encrypted_extensions.as_ref().expect("EE").iter().map(|e| e.extension_type).collect();
        assert_eq!(codes, [10, 28, 0]);
        let certificate = flight.certificate.as_ref().expect("Certificate");
        assert_eq!((certificate.entries_sent, certificate.request_context.len()), (1, 0));
        assert_eq!(certificate.entries[0].der.len(), 432);
        assert!(certificate.entries[0].der.starts_with(&hex(LEAF_PREFIX)));
        assert!(certificate.entries[0].extensions.is_empty());
        assert_eq!(flight.certificate_verify_scheme, Some(0x0804));
        assert_eq!(flight.certificate_request, None);
        assert_eq!(flight.alpn(), None);
    }

    #[test]
    fn a_changed_byte_or_a_wrong_secret_is_a_reason_not_a_panic() {
        let mut record = rfc8448_record();
        record.fragment[100] ^= 1;
        assert_eq!(rfc8448_decryptor().push(&record), Err(FlightError::Decrypt { record: 1 }));
        let mut wrong = FlightDecryptor::new(&hex(CLIENT_HELLO), &hex(SERVER_HELLO), &[9; 32]).expect("decryptor");
        assert_eq!(wrong.push(&rfc8448_record()), Err(FlightError::Decrypt { record: 1 }));
        // Every truncation of the record fails to open, never panics.
        let whole = rfc8448_record();
        for len in 0..whole.fragment.len() {
            let cut = Record { fragment: whole.fragment[..len].to_vec(), ..whole.clone() };
            assert!(rfc8448_decryptor().push(&cut).is_err(), "length {len}");
        }
        let plain = Record { content_type: content_type::HANDSHAKE, version: 0x0303, fragment: vec![8, 0, 0, 0] };
        assert!(matches!(rfc8448_decryptor().push(&plain), Err(FlightError::Protocol(_))));
        let alert = Record { content_type: content_type::ALERT, version: 0x0303, fragment: vec![2, 40] };
        let mut decryptor = rfc8448_decryptor();
        assert_eq!(decryptor.push(&alert), Ok(Progress::Done));
        assert_eq!(decryptor.flight().alert.map(|a| a.description), Some(40));
    }

    /// A record as the RFC 8448 server would seal `inner` (content then type) at `sequence`.
    fn sealed(sequence: u64, inner: &[u8]) -> Record {
        let hello_hash = digest::digest(&digest::SHA256, &[hex(CLIENT_HELLO), hex(SERVER_HELLO)].concat());
        let secrets = handshake_secrets(0x1301, &hex(SHARED_SECRET), hello_hash.as_ref()).expect("secrets");
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &secrets.server_key).expect("key"));
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&secrets.server_iv);
        for (byte, s) in nonce.iter_mut().skip(4).zip(sequence.to_be_bytes()) {
            *byte ^= s;
        }
        let mut fragment = inner.to_vec();
        let length = (fragment.len() + 16) as u16;
        let header = [23, 3, 3, (length >> 8) as u8, length as u8];
        key.seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(header), &mut fragment)
            .expect("seal");
        Record { content_type: 23, version: 0x0303, fragment }
    }

    #[test]
    fn records_and_messages_are_capped() {
        // A long message trickled one byte per record: the 257th record is refused.
        let mut decryptor = rfc8448_decryptor();
        let mut outcome = decryptor.push(&sealed(0, &[99, 0x03, 0xff, 0xff, 22]));
        for sequence in 1..=MAX_FLIGHT_RECORDS as u64 {
            outcome = decryptor.push(&sealed(sequence, &[0x5a, 22]));
            if outcome != Ok(Progress::More) {
                break;
            }
        }
        assert_eq!(outcome, Err(FlightError::Cap(format!("more than {MAX_FLIGHT_RECORDS} records"))));
        // Seventeen empty messages of an unknown type in one record.
        let mut inner: Vec<u8> = (0..=MAX_FLIGHT_MESSAGES).flat_map(|_| [99, 0, 0, 0]).collect();
        inner.push(22);
        assert_eq!(
            rfc8448_decryptor().push(&sealed(0, &inner)),
            Err(FlightError::Cap(format!("more than {MAX_FLIGHT_MESSAGES} handshake messages")))
        );
        // A message announcing more than the cap is refused before it is read.
        let mut decryptor = rfc8448_decryptor();
        assert!(matches!(decryptor.push(&sealed(0, &[11, 0x04, 0x00, 0x01, 22])), Err(FlightError::Codec(_))));
        // Padding only, or an inner type other than handshake and alert.
        assert!(matches!(rfc8448_decryptor().push(&sealed(0, &[0, 0, 0])), Err(FlightError::Protocol(_))));
        assert!(matches!(rfc8448_decryptor().push(&sealed(0, &[1, 2, 23])), Err(FlightError::Protocol(_))));
        let mut decryptor = rfc8448_decryptor();
        assert_eq!(decryptor.push(&sealed(0, &[2, 80, 21, 0, 0])), Ok(Progress::Done));
        assert_eq!(decryptor.flight().alert.map(|a| a.description), Some(80));
    }

    #[test]
    fn ccm_suites_are_recorded_not_decrypted() {
        assert_eq!(handshake_secrets(0x1304, &[0; 32], &[0; 32]), Err(FlightError::UnsupportedSuite("CCM".into())));
        assert_eq!(FlightError::UnsupportedSuite("CCM".into()).to_string(), "not decrypted (CCM)");
    }

    #[test]
    fn generator_shares_give_the_server_public_value() {
        let hello = ServerHello::decode(&hex(SERVER_HELLO)[4..]).expect("ServerHello");
        assert_eq!(
            generator_shared_secret(&hello).expect("x25519"),
            hex(&SERVER_HELLO[SERVER_HELLO.len() - 76..][..64])
        );
        let mut p256 = hello.clone();
        let mut point = vec![0x04];
        point.extend((0u8..64).collect::<Vec<u8>>());
        let mut data = vec![0, 23];
        put_vec_u16(&mut data, &point);
        p256.extensions = Some(vec![RawExtension { extension_type: extension_type::KEY_SHARE, data }]);
        assert_eq!(generator_shared_secret(&p256).expect("P-256"), (0u8..32).collect::<Vec<u8>>());
        let mut other = hello;
        other.extensions = Some(vec![RawExtension { extension_type: 51, data: vec![0, 24, 0, 1, 4] }]);
        assert!(matches!(generator_shared_secret(&other), Err(FlightError::KeyShare(_))));
    }

    #[test]
    fn certificate_entries_keep_their_extensions_and_caps_hold() {
        let sct = RawExtension { extension_type: 18, data: vec![0, 3, 0, 1, 7] };
        let entry = |n: u8| CertificateEntry { der: vec![0x30, n], extensions: vec![sct.clone()] };
        let certificate =
            Tls13Certificate { request_context: vec![], entries: (0..20).map(entry).collect(), entries_sent: 20 };
        let body = encode_tls13_certificate(&certificate);
        let decoded = decode_tls13_certificate(&body).expect("Certificate");
        assert_eq!((decoded.entries.len(), decoded.entries_sent), (MAX_CERTIFICATE_ENTRIES, 20));
        assert_eq!(decoded.entries[3].extension(18), Some(&sct));
        for len in 0..body.len() {
            assert!(decode_tls13_certificate(&body[..len]).is_err(), "prefix of {len} bytes");
        }
        let many: Vec<RawExtension> = (0..40).map(|code| RawExtension { extension_type: code, data: vec![] }).collect();
        let mut ee = Vec::new();
        put_vec_u16(&mut ee, &encode_extensions(&many));
        assert_eq!(decode_encrypted_extensions(&ee).expect("EE").len(), MAX_ENTRY_EXTENSIONS);
    }

    #[test]
    fn certificate_request_names_and_algorithms() {
        // SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "CA" } } }
        let name = vec![0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'C', b'A'];
        let mut names = Vec::new();
        put_vec_u16(&mut names, &name);
        let mut authorities = Vec::new();
        put_vec_u16(&mut authorities, &names);
        let mut algorithms = Vec::new();
        put_vec_u16(&mut algorithms, &[0x08, 0x04, 0x04, 0x03]);
        let extensions = [
            RawExtension { extension_type: 13, data: algorithms },
            RawExtension { extension_type: 47, data: authorities },
        ];
        let mut body = vec![0];
        put_vec_u16(&mut body, &encode_extensions(&extensions));
        let request = decode_tls13_certificate_request(&body).expect("CertificateRequest");
        assert_eq!(request.signature_algorithms, Some(vec![0x0804, 0x0403]));
        assert_eq!(request.authorities, vec![name]);
        for len in 0..body.len() {
            assert!(decode_tls13_certificate_request(&body[..len]).is_err(), "prefix of {len} bytes");
        }
    }
}
