//! A minimal TLS 1.2 client, just enough to complete one handshake and send records after it
//! (the client-initiated renegotiation probe needs an established session; rustls deliberately
//! cannot renegotiate). ECDHE (X25519, P-256, P-384, on `ring`) or finite-field DHE (plain
//! modular arithmetic) with AES-GCM or ChaCha20-Poly1305 only; the server's signature and
//! certificate are not checked (the probe reads behaviour, the certificate stage judges the
//! chain). Every read is bounded like the sweep's.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use ring::{digest, hmac, rand::SystemRandom};

use super::wire::{alert_text, Reaction, RecordReader};
use crate::net::{Connection, Connector, NetError};
use crate::tls::codec::{
    content_type, decode_server_key_exchange, extension_type, handshake_type, ClientExtension, ClientHello,
    HandshakeMessage, HandshakeReassembler, KeyExchangeKind, KeyExchangeParams, Record, ServerHello,
};
use crate::tls::registry::SIGNATURE_SCHEMES;

/// The suites this client speaks: (code, AEAD, PRF hash).
const SUITES: [(u16, Aead, Hash); 9] = [
    (0xC02F, Aead::Aes128Gcm, Hash::Sha256), // ECDHE_RSA_WITH_AES_128_GCM_SHA256
    (0xC030, Aead::Aes256Gcm, Hash::Sha384), // ECDHE_RSA_WITH_AES_256_GCM_SHA384
    (0xC02B, Aead::Aes128Gcm, Hash::Sha256), // ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    (0xC02C, Aead::Aes256Gcm, Hash::Sha384), // ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    (0xCCA8, Aead::Chacha20, Hash::Sha256),  // ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    (0xCCA9, Aead::Chacha20, Hash::Sha256),  // ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    (0x009E, Aead::Aes128Gcm, Hash::Sha256), // DHE_RSA_WITH_AES_128_GCM_SHA256
    (0x009F, Aead::Aes256Gcm, Hash::Sha384), // DHE_RSA_WITH_AES_256_GCM_SHA384
    (0xCCAA, Aead::Chacha20, Hash::Sha256),  // DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
];
/// The largest DH prime postura computes with (a server's 8192-bit group is fine).
const MAX_DH_BITS: u64 = 8192;
/// x25519, secp256r1, secp384r1.
const GROUPS: [u16; 3] = [29, 23, 24];
/// The most read during one handshake (a long chain fits).
const MAX_HANDSHAKE_READ: usize = 512 * 1024;
const TLS12: u16 = 0x0303;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aead {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
}

impl Aead {
    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            Aead::Aes128Gcm => &aead::AES_128_GCM,
            Aead::Aes256Gcm => &aead::AES_256_GCM,
            Aead::Chacha20 => &aead::CHACHA20_POLY1305,
        }
    }
    /// Fixed IV bytes from the key block (RFC 5288: 4; RFC 7905: 12).
    fn iv_len(self) -> usize {
        if self == Aead::Chacha20 {
            12
        } else {
            4
        }
    }
}

impl Hash {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }
    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
        }
    }
}

/// The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed), `length` bytes.
fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], length: usize) -> Vec<u8> {
    let key = hmac::Key::new(hash.hmac(), secret);
    let label_seed = [label, seed].concat();
    let mut a = hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(length);
    while out.len() < length {
        out.extend_from_slice(hmac::sign(&key, &[a.as_slice(), &label_seed].concat()).as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(length);
    out
}

/// One direction's record protection.
struct Direction {
    key: LessSafeKey,
    iv: Vec<u8>,
    sequence: u64,
}

impl Direction {
    fn new(aead: Aead, key: &[u8], iv: &[u8]) -> Result<Direction, NetError> {
        let unbound = UnboundKey::new(aead.algorithm(), key).map_err(|_| internal("AEAD key"))?;
        Ok(Direction { key: LessSafeKey::new(unbound), iv: iv.to_vec(), sequence: 0 })
    }

    /// The nonce and, for GCM, the explicit part sent in the record.
    fn nonce(&self) -> ([u8; 12], Option<[u8; 8]>) {
        let explicit = self.sequence.to_be_bytes();
        let mut nonce = [0u8; 12];
        if self.iv.len() == 12 {
            nonce.copy_from_slice(&self.iv);
            for (n, s) in nonce[4..].iter_mut().zip(explicit) {
                *n ^= s;
            }
            (nonce, None)
        } else {
            nonce[..4].copy_from_slice(&self.iv);
            nonce[4..].copy_from_slice(&explicit);
            (nonce, Some(explicit))
        }
    }

    fn aad(&self, kind: u8, length: usize) -> [u8; 13] {
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.sequence.to_be_bytes());
        aad[8] = kind;
        aad[9..11].copy_from_slice(&TLS12.to_be_bytes());
        aad[11..].copy_from_slice(&(length as u16).to_be_bytes());
        aad
    }

    fn seal(&mut self, kind: u8, plaintext: &[u8]) -> Result<Record, NetError> {
        let (nonce, explicit) = self.nonce();
        let aad = self.aad(kind, plaintext.len());
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body)
            .map_err(|_| internal("seal"))?;
        self.sequence += 1;
        let fragment = match explicit {
            Some(explicit) => [explicit.as_slice(), &body].concat(),
            None => body,
        };
        Ok(Record { content_type: kind, version: TLS12, fragment })
    }

    fn open(&mut self, record: &Record) -> Result<Vec<u8>, NetError> {
        let (mut nonce, explicit) = self.nonce();
        let body = match explicit {
            Some(_) => {
                let explicit = record.fragment.get(..8).ok_or_else(|| NetError::Protocol("short record".into()))?;
                nonce[4..].copy_from_slice(explicit);
                &record.fragment[8..]
            }
            None => &record.fragment[..],
        };
        let tag = self.key.algorithm().tag_len();
        let length = body.len().checked_sub(tag).ok_or_else(|| NetError::Protocol("short record".into()))?;
        let aad = self.aad(record.content_type, length);
        let mut in_out = body.to_vec();
        let plaintext = self
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .map_err(|_| NetError::Protocol("a record postura could not decrypt".into()))?;
        self.sequence += 1;
        Ok(plaintext.to_vec())
    }
}

/// An established TLS 1.2 session.
pub struct Session {
    pub connection: Connection,
    pub reader: RecordReader,
    write: Direction,
    read: Direction,
    /// Our Finished verify_data (what a renegotiating hello's renegotiation_info carries).
    pub client_verify_data: Vec<u8>,
    /// The server answered renegotiation_info in its ServerHello (RFC 5746).
    pub secure_renegotiation: bool,
    /// IANA code of the negotiated suite.
    pub suite: u16,
    /// The RFC 5077 ticket of a NewSessionTicket, when one was asked for and issued.
    pub ticket: Option<Vec<u8>>,
}

impl Session {
    pub async fn send(&mut self, kind: u8, plaintext: &[u8]) -> Result<(), NetError> {
        let record = self.write.seal(kind, plaintext)?;
        self.connection.send(&record.encode()).await
    }

    /// The next record, decrypted when it is not a plaintext alert the peer sent in clear.
    pub async fn receive(&mut self, cap: usize) -> Result<Option<(u8, Vec<u8>)>, NetError> {
        match self.reader.next(&mut self.connection, cap).await? {
            Reaction::Record(record) => {
                let plaintext = self.read.open(&record)?;
                Ok(Some((record.content_type, plaintext)))
            }
            Reaction::Closed | Reaction::Silent => Ok(None),
        }
    }
}

/// The suites this client can negotiate, of those offered.
pub fn speaks(suite: u16) -> bool {
    SUITES.iter().any(|(code, _, _)| *code == suite)
}

/// A ClientHello record and its handshake bytes (for the transcript).
pub fn client_hello(sni: Option<&str>, renegotiation_info: Option<Vec<u8>>) -> (Vec<u8>, [u8; 32]) {
    hello_with(sni, renegotiation_info, None, Vec::new())
}

/// A ClientHello record offering this client's suites, with a session ID and a session_ticket
/// extension carrying `ticket` when given (`Some(vec![])` asks for a new ticket).
pub fn hello_with(
    sni: Option<&str>,
    renegotiation_info: Option<Vec<u8>>,
    ticket: Option<Vec<u8>>,
    session_id: Vec<u8>,
) -> (Vec<u8>, [u8; 32]) {
    let random: [u8; 32] = rand::random();
    let mut extensions = Vec::new();
    if let Some(name) = sni {
        extensions.push(ClientExtension::ServerName(name.to_string()));
    }
    extensions.push(ClientExtension::SupportedGroups(GROUPS.to_vec()));
    extensions.push(ClientExtension::EcPointFormats(vec![0]));
    extensions.push(ClientExtension::SignatureAlgorithms(SIGNATURE_SCHEMES.to_vec()));
    if let Some(info) = renegotiation_info {
        extensions.push(ClientExtension::RenegotiationInfo(info));
    }
    if let Some(ticket) = ticket {
        extensions.push(ClientExtension::SessionTicket(ticket));
    }
    let hello = ClientHello {
        record_version: 0x0301,
        client_version: TLS12,
        random,
        session_id,
        cipher_suites: SUITES.iter().map(|(code, _, _)| *code).collect(),
        compression_methods: vec![0],
        extensions: Some(extensions),
    };
    (hello.encode_record(), random)
}

fn internal(what: &str) -> NetError {
    NetError::Io(format!("TLS 1.2 client: {what}"))
}

/// The server's ephemeral key-exchange share.
enum Share {
    Ecdh { group: u16, public: Vec<u8> },
    Dh { p: Vec<u8>, g: Vec<u8>, public: Vec<u8> },
}

/// What the server's first flight carried that the key schedule needs.
struct ServerFlight {
    hello: ServerHello,
    share: Share,
    /// A CertificateRequest came: the client answers with an empty Certificate (RFC 5246 §7.4.6).
    certificate_requested: bool,
}

/// How a handshake ended.
pub enum Handshake {
    Established(Box<Session>),
    /// The server answered the client's flight (ClientKeyExchange … Finished) with an alert.
    Refused {
        alert: String,
        certificate_requested: bool,
    },
}

/// Our ClientKeyExchange body and the premaster secret, for the server's share.
fn key_agreement(share: &Share) -> Result<(Vec<u8>, Vec<u8>), NetError> {
    match share {
        Share::Ecdh { group, public } => {
            let algorithm = match group {
                29 => &agreement::X25519,
                23 => &agreement::ECDH_P256,
                24 => &agreement::ECDH_P384,
                other => return Err(NetError::Protocol(format!("group {other} not offered"))),
            };
            let rng = SystemRandom::new();
            let private = EphemeralPrivateKey::generate(algorithm, &rng).map_err(|_| internal("key generation"))?;
            let ours = private.compute_public_key().map_err(|_| internal("public key"))?.as_ref().to_vec();
            let premaster =
                agreement::agree_ephemeral(private, &UnparsedPublicKey::new(algorithm, public), |s| s.to_vec())
                    .map_err(|_| NetError::Protocol("the server's ECDH share is invalid".into()))?;
            let mut body = vec![ours.len() as u8];
            body.extend_from_slice(&ours);
            Ok((body, premaster))
        }
        Share::Dh { p, g, public } => {
            use num_bigint::BigUint;
            let (p, g, theirs) = (BigUint::from_bytes_be(p), BigUint::from_bytes_be(g), BigUint::from_bytes_be(public));
            let one = BigUint::from(1u8);
            if p.bits() < 512 || p.bits() > MAX_DH_BITS || theirs <= one || theirs >= &p - &one {
                return Err(NetError::Protocol("the server's DH parameters are unusable".into()));
            }
            let secret = BigUint::from_bytes_be(&rand::random::<[u8; 32]>());
            let ours = g.modpow(&secret, &p).to_bytes_be();
            // RFC 5246 §8.1.2: leading zero bytes of Z are stripped (to_bytes_be has none).
            let premaster = theirs.modpow(&secret, &p).to_bytes_be();
            let mut body = (ours.len() as u16).to_be_bytes().to_vec();
            body.extend_from_slice(&ours);
            Ok((body, premaster))
        }
    }
}

/// Connect and complete a TLS 1.2 handshake.
pub async fn establish(connector: &Connector, sni: Option<&str>) -> Result<Session, NetError> {
    establish_with(connector, sni, false).await
}

/// As `establish`; with `want_ticket`, the hello asks for an RFC 5077 session ticket and the
/// server's NewSessionTicket (sent in clear before its ChangeCipherSpec) is kept.
pub async fn establish_with(connector: &Connector, sni: Option<&str>, want_ticket: bool) -> Result<Session, NetError> {
    match handshake(connector, sni, want_ticket).await? {
        Handshake::Established(session) => Ok(*session),
        Handshake::Refused { alert, .. } => Err(NetError::Protocol(format!("handshake refused: {alert}"))),
    }
}

/// As `establish_with`, telling a refusal of the client's flight apart (a server that requires
/// a client certificate refuses the empty one postura sends).
pub async fn handshake(connector: &Connector, sni: Option<&str>, want_ticket: bool) -> Result<Handshake, NetError> {
    let mut connection = connector.connect().await?;
    let (hello_record, client_random) = hello_with(sni, Some(Vec::new()), want_ticket.then(Vec::new), Vec::new());
    connection.send(&hello_record).await?;
    // One record (the hello is far below 16 KiB): its fragment is the handshake message.
    let mut transcript = hello_record.get(5..).unwrap_or_default().to_vec();
    let mut reader = RecordReader::default();
    let flight = read_server_flight(&mut connection, &mut reader, &mut transcript).await?;
    let &(suite, aead, hash) = SUITES
        .iter()
        .find(|(code, _, _)| *code == flight.hello.cipher_suite)
        .ok_or_else(|| NetError::Protocol(format!("suite 0x{:04X} not offered", flight.hello.cipher_suite)))?;

    let (key_exchange_body, premaster) = key_agreement(&flight.share)?;
    let mut client_flight = Vec::new();
    if flight.certificate_requested {
        client_flight = HandshakeMessage { handshake_type: handshake_type::CERTIFICATE, body: vec![0, 0, 0] }.encode();
    }
    client_flight.extend(
        HandshakeMessage { handshake_type: handshake_type::CLIENT_KEY_EXCHANGE, body: key_exchange_body }.encode(),
    );
    transcript.extend_from_slice(&client_flight);

    let randoms = [client_random.as_slice(), &flight.hello.random].concat();
    let master = prf(hash, &premaster, b"master secret", &randoms, 48);
    let server_client = [flight.hello.random.as_slice(), &client_random].concat();
    let key_len = aead.algorithm().key_len();
    let iv_len = aead.iv_len();
    let block = prf(hash, &master, b"key expansion", &server_client, 2 * key_len + 2 * iv_len);
    let (client_key, rest) = block.split_at(key_len);
    let (server_key, rest) = rest.split_at(key_len);
    let (client_iv, server_iv) = rest.split_at(iv_len);
    let mut write = Direction::new(aead, client_key, client_iv)?;
    let read = Direction::new(aead, server_key, server_iv)?;

    let transcript_hash = digest::digest(hash.digest(), &transcript);
    let client_verify_data = prf(hash, &master, b"client finished", transcript_hash.as_ref(), 12);
    let finished =
        HandshakeMessage { handshake_type: handshake_type::FINISHED, body: client_verify_data.clone() }.encode();

    let mut out = Record { content_type: content_type::HANDSHAKE, version: TLS12, fragment: client_flight }.encode();
    out.extend(Record { content_type: content_type::CHANGE_CIPHER_SPEC, version: TLS12, fragment: vec![1] }.encode());
    out.extend(write.seal(content_type::HANDSHAKE, &finished)?.encode());
    connection.send(&out).await?;

    let secure_renegotiation = flight.hello.extension(extension_type::RENEGOTIATION_INFO).is_some();
    let mut session =
        Session { connection, reader, write, read, client_verify_data, secure_renegotiation, suite, ticket: None };
    // A NewSessionTicket (clear, when a ticket was asked for), the server's ChangeCipherSpec
    // (clear), then its Finished (protected).
    let mut tickets = HandshakeReassembler::new(MAX_HANDSHAKE_READ);
    loop {
        match session.reader.next(&mut session.connection, MAX_HANDSHAKE_READ).await? {
            Reaction::Record(record) if record.content_type == content_type::CHANGE_CIPHER_SPEC => break,
            Reaction::Record(record) if record.content_type == content_type::HANDSHAKE && want_ticket => {
                tickets.push(&record.fragment);
                while let Some(message) = tickets.next_message().map_err(|e| NetError::Protocol(e.to_string()))? {
                    if message.handshake_type == handshake_type::NEW_SESSION_TICKET {
                        session.ticket = Some(new_session_ticket(&message.body)?);
                    }
                }
            }
            Reaction::Record(record) if record.content_type == content_type::ALERT => {
                let certificate_requested = flight.certificate_requested;
                return Ok(Handshake::Refused { alert: alert_text(&record), certificate_requested });
            }
            other => return Err(NetError::Protocol(format!("no ChangeCipherSpec from the server: {other:?}"))),
        }
    }
    match session.receive(MAX_HANDSHAKE_READ).await? {
        Some((content_type::HANDSHAKE, plaintext)) if plaintext.first() == Some(&handshake_type::FINISHED) => {
            Ok(Handshake::Established(Box::new(session)))
        }
        other => Err(NetError::Protocol(format!("no Finished from the server: {other:?}"))),
    }
}

/// The ticket of a NewSessionTicket body (RFC 5077 §3.3: lifetime hint u32, ticket<0..2^16-1>);
/// an empty ticket means the server will not issue one after all.
fn new_session_ticket(body: &[u8]) -> Result<Vec<u8>, NetError> {
    let bad = || NetError::Protocol("an ill-formed NewSessionTicket".into());
    let length = body.get(4..6).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))).ok_or_else(bad)?;
    let ticket = body.get(6..).filter(|t| t.len() == length).ok_or_else(bad)?;
    Ok(ticket.to_vec())
}

/// Read ServerHello … ServerHelloDone, adding each message to the transcript.
async fn read_server_flight(
    connection: &mut Connection,
    reader: &mut RecordReader,
    transcript: &mut Vec<u8>,
) -> Result<ServerFlight, NetError> {
    let mut reassembler = HandshakeReassembler::new(MAX_HANDSHAKE_READ);
    let mut hello: Option<ServerHello> = None;
    let mut share = None;
    let mut certificate_requested = false;
    loop {
        let record = match reader.next(connection, MAX_HANDSHAKE_READ).await? {
            Reaction::Record(record) => record,
            Reaction::Closed => return Err(NetError::Closed),
            Reaction::Silent => return Err(NetError::Timeout),
        };
        match record.content_type {
            content_type::HANDSHAKE => reassembler.push(&record.fragment),
            content_type::ALERT => {
                return Err(NetError::Protocol(format!("handshake refused: {}", alert_text(&record))))
            }
            other => return Err(NetError::Protocol(format!("unexpected record type {other}"))),
        }
        while let Some(message) = reassembler.next_message().map_err(|e| NetError::Protocol(e.to_string()))? {
            transcript.extend_from_slice(&message.encode());
            match message.handshake_type {
                handshake_type::SERVER_HELLO => {
                    let decoded = ServerHello::decode(&message.body).map_err(|e| NetError::Protocol(e.to_string()))?;
                    if decoded.legacy_version != TLS12 {
                        return Err(NetError::Protocol("the server did not answer in TLS 1.2".into()));
                    }
                    hello = Some(decoded);
                }
                handshake_type::SERVER_KEY_EXCHANGE => {
                    let dhe = hello.as_ref().is_some_and(|h| matches!(h.cipher_suite, 0x009E | 0x009F | 0xCCAA));
                    let kind = if dhe { KeyExchangeKind::Dh } else { KeyExchangeKind::Ecdh };
                    share = Some(match decode_server_key_exchange(&message.body, kind) {
                        Ok(KeyExchangeParams::EcdhNamed { group, public }) => Share::Ecdh { group, public },
                        Ok(KeyExchangeParams::Dh { p, g, public }) => Share::Dh { p, g, public },
                        _ => return Err(NetError::Protocol("a ServerKeyExchange postura cannot use".into())),
                    });
                }
                handshake_type::CERTIFICATE_REQUEST => certificate_requested = true,
                handshake_type::SERVER_HELLO_DONE => {
                    let hello = hello.ok_or_else(|| NetError::Protocol("ServerHelloDone before ServerHello".into()))?;
                    let share = share.ok_or_else(|| NetError::Protocol("no ServerKeyExchange".into()))?;
                    return Ok(ServerFlight { hello, share, certificate_requested });
                }
                // Certificate, CertificateStatus: in the transcript, otherwise not needed.
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5246 PRF test vector (SHA-256), as published by the IETF TLS working group mailing list
    /// and used by many implementations' unit tests.
    #[test]
    fn prf_sha256_matches_the_published_vector() {
        let secret = hex("9bbe436ba940f017b17652849a71db35");
        let seed = hex("a0ba9f936cda311827a6f796ffd5198c");
        let out = prf(Hash::Sha256, &secret, b"test label", &seed, 100);
        assert_eq!(
            out,
            hex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66")
        );
    }

    #[test]
    fn new_session_ticket_bodies_are_bounded() {
        assert_eq!(new_session_ticket(&[0, 0, 1, 0, 0, 3, 7, 8, 9]).unwrap(), [7, 8, 9]);
        assert_eq!(new_session_ticket(&[0, 0, 1, 0, 0, 0]).unwrap(), Vec::<u8>::new());
        for bad in [&[0u8, 0, 1, 0, 0, 4, 7, 8, 9][..], &[0, 0, 1, 0, 0, 1, 7, 8], &[0, 0, 1], &[]] {
            assert!(new_session_ticket(bad).is_err(), "{bad:?}");
        }
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }
}
