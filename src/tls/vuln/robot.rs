//! ROBOT (Return Of Bleichenbacher's Oracle Threat, CVE-2017-13099 and vendors' CVEs): does the
//! server answer RSA key-exchange messages with valid and invalid PKCS#1 v1.5 padding
//! differently? The five payloads of the ROBOT paper's `robot-detect` are encrypted with the
//! server's RSA key (plain modular exponentiation: no private key is involved), each sent in its
//! own handshake as ClientKeyExchange — first followed by ChangeCipherSpec and a garbage
//! Finished, then (if every answer was the same silence or close, not an alert) alone. Differing
//! answers are an oracle; they are confirmed by repeating the round once, so a flaky server is
//! `null`, not a false alarm.
//!
//! Cost: only when an RSA key-transport suite is accepted (TLS ≤ 1.2) and the leaf key is RSA:
//! 5 connections per round, at most 3 rounds (15); a patched server that alerts alike costs 5,
//! one that stays silent 10 (both rounds), a vulnerable one 10 (a differing round and its
//! confirmation). The handshakes run one after another; each answer is awaited at most
//! `ANSWER_WAIT`.

use std::time::Duration;

use base64::Engine as _;
use num_bigint::BigUint;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::wire::{alert_text, Reaction, RecordReader};
use super::{AcceptedProtocol, VulnerabilityFact};
use crate::facts::TlsFacts;
use crate::net::NetError;
use crate::tls::codec::{content_type, handshake_type, HandshakeMessage, Record};
use crate::tls::exchange::{exchange_open, Until};
use crate::tls::hello::{build_hello, HelloOptions};
use crate::tls::registry::{registry, KeyExchange};
use crate::tls::sweep::SweepTarget;

/// How long one handshake's answer is awaited: a server that waits for more (the round without
/// ChangeCipherSpec) is "silent" after this, which is itself an answer.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
const MAX_READ: usize = 16 * 1024;

/// The five payloads, as named in the ROBOT paper's test script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// 00 02, padding, 00, the right TLS version, 46 random bytes.
    Correct,
    /// 41 17 instead of 00 02.
    WrongFirstBytes,
    /// The 00 separator missing from its place, present near the end.
    ZeroInWrongPlace,
    /// No 00 separator at all.
    NoZero,
    /// A wrong TLS version (02 02) in the premaster secret.
    WrongVersion,
}

const PAYLOADS: [Payload; 5] =
    [Payload::Correct, Payload::WrongFirstBytes, Payload::ZeroInWrongPlace, Payload::NoZero, Payload::WrongVersion];

impl Payload {
    fn name(self) -> &'static str {
        match self {
            Payload::Correct => "correct padding",
            Payload::WrongFirstBytes => "wrong first bytes",
            Payload::ZeroInWrongPlace => "0x00 in a wrong place",
            Payload::NoZero => "no 0x00 separator",
            Payload::WrongVersion => "wrong TLS version",
        }
    }

    /// The k-byte plaintext (k = modulus length; at least 64, checked by the caller).
    fn plaintext(self, k: usize, version: u16) -> Vec<u8> {
        let padding: Vec<u8> = (0..k - 51).map(|_| rand::random::<u8>().max(1)).collect();
        let secret: Vec<u8> = (0..46).map(|_| rand::random::<u8>()).collect();
        let version = version.to_be_bytes();
        let mut out = Vec::with_capacity(k);
        match self {
            Payload::Correct => out.extend([0x00, 0x02]),
            Payload::WrongFirstBytes => out.extend([0x41, 0x17]),
            _ => out.extend([0x00, 0x02]),
        }
        out.extend(&padding);
        match self {
            Payload::Correct | Payload::WrongFirstBytes => {
                out.push(0x00);
                out.extend(version);
                out.extend(&secret);
            }
            Payload::ZeroInWrongPlace => {
                out.push(0x11);
                out.extend(&secret);
                out.extend([0x00, 0x11]);
            }
            Payload::NoZero => {
                out.push(0x11);
                out.extend([0x11, 0x11]);
                out.extend(&secret);
            }
            Payload::WrongVersion => {
                out.push(0x00);
                out.extend([0x02, 0x02]);
                out.extend(&secret);
            }
        }
        out
    }
}

/// The leaf's RSA public key (modulus, exponent), if the chain has an RSA leaf.
fn rsa_key(facts: &TlsFacts) -> Option<(BigUint, BigUint)> {
    let pem = facts.chain_pem.first()?;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let (_, certificate) = X509Certificate::from_der(&der).ok()?;
    match certificate.public_key().parsed().ok()? {
        PublicKey::RSA(key) => Some((BigUint::from_bytes_be(key.modulus), BigUint::from_bytes_be(key.exponent))),
        _ => None,
    }
}

pub async fn probe(target: &SweepTarget, facts: &TlsFacts, legacy: &[AcceptedProtocol]) -> VulnerabilityFact {
    let is_rsa = |&suite: &u16| registry().get(u32::from(suite)).is_some_and(|s| s.key_exchange() == KeyExchange::Rsa);
    let Some((accepted, suites)) = legacy.iter().find_map(|p| {
        let rsa: Vec<u16> = p.suites.iter().copied().filter(is_rsa).collect();
        (!rsa.is_empty()).then_some((p, rsa))
    }) else {
        return VulnerabilityFact::no("no RSA key-exchange suite accepted");
    };
    let Some((modulus, exponent)) = rsa_key(facts) else {
        return VulnerabilityFact::unknown("RSA key exchange accepted but no RSA leaf key seen");
    };
    let k = usize::try_from(modulus.bits().div_ceil(8)).unwrap_or(0);
    if !(64..=2048).contains(&k) {
        return VulnerabilityFact::unknown(format!("RSA modulus of {k} bytes not tested"));
    }
    let round = Round {
        target,
        protocol: accepted.protocol.wire_version(),
        suites: &suites,
        modulus: &modulus,
        exponent: &exponent,
        k,
    };
    let mut fact = VulnerabilityFact::default();
    for with_finished in [true, false] {
        fact.connections += PAYLOADS.len() as u32;
        let answers = match round.run(with_finished).await {
            Ok(answers) => answers,
            Err(error) => {
                return VulnerabilityFact {
                    connections: fact.connections,
                    ..VulnerabilityFact::unknown(error.to_string())
                }
            }
        };
        let variant =
            if with_finished { "ClientKeyExchange, ChangeCipherSpec, Finished" } else { "ClientKeyExchange alone" };
        if answers.iter().all(|a| *a == answers[0]) {
            fact.evidence.push(format!("{variant}: every payload answered {}", answers[0]));
            // The same alert to every complete flight: the server decided on each payload and
            // said so alike. Only a server that stayed silent or closed gets the second round
            // (without ChangeCipherSpec and Finished), where some oracles show.
            if answers[0].starts_with("alert:") {
                break;
            }
            continue;
        }
        fact.connections += PAYLOADS.len() as u32;
        let again = match round.run(with_finished).await {
            Ok(again) => again,
            Err(error) => {
                return VulnerabilityFact {
                    connections: fact.connections,
                    ..VulnerabilityFact::unknown(error.to_string())
                }
            }
        };
        let described: Vec<String> = PAYLOADS
            .iter()
            .zip(&answers)
            .map(|(payload, answer)| format!("{variant}, {}: {answer}", payload.name()))
            .collect();
        fact.evidence = described;
        fact.vulnerable = if again == answers {
            Some(true)
        } else {
            fact.evidence.push("a second round answered differently: the oracle is not consistent".into());
            None
        };
        return fact;
    }
    fact.vulnerable = Some(false);
    fact
}

struct Round<'a> {
    target: &'a SweepTarget,
    protocol: u16,
    suites: &'a [u16],
    modulus: &'a BigUint,
    exponent: &'a BigUint,
    k: usize,
}

impl Round<'_> {
    /// One handshake per payload, one after another: each takes its turn at the per-address
    /// limit, so other work on the same address (another target's sweep, a certificate fetch)
    /// never waits behind a whole round.
    async fn run(&self, with_finished: bool) -> Result<Vec<String>, NetError> {
        let mut answers = Vec::with_capacity(PAYLOADS.len());
        for &payload in &PAYLOADS {
            answers.push(self.one(payload, with_finished).await?);
        }
        Ok(answers)
    }

    async fn one(&self, payload: Payload, with_finished: bool) -> Result<String, NetError> {
        let plaintext = BigUint::from_bytes_be(&payload.plaintext(self.k, self.protocol));
        let encrypted = plaintext.modpow(self.exponent, self.modulus).to_bytes_be();
        let mut ciphertext = vec![0u8; self.k.saturating_sub(encrypted.len())];
        ciphertext.extend(encrypted);
        let mut body = (ciphertext.len() as u16).to_be_bytes().to_vec();
        body.extend(ciphertext);

        let hello = build_hello(
            crate::tls::registry::Protocol::from_wire(self.protocol).unwrap_or(crate::tls::registry::Protocol::Tls12),
            self.suites,
            &HelloOptions::new(self.target.sni.clone()),
        );
        let (mut connection, flight) = exchange_open(&self.target.connector, &hello, Until::HelloDone).await?;
        if !flight.hello_done {
            return Err(NetError::Protocol("no complete hello flight for an RSA suite".into()));
        }
        let key_exchange = HandshakeMessage { handshake_type: handshake_type::CLIENT_KEY_EXCHANGE, body }.encode();
        let mut bytes =
            Record { content_type: content_type::HANDSHAKE, version: self.protocol, fragment: key_exchange }.encode();
        if with_finished {
            bytes.extend(
                Record { content_type: content_type::CHANGE_CIPHER_SPEC, version: self.protocol, fragment: vec![1] }
                    .encode(),
            );
            bytes.extend(
                Record { content_type: content_type::HANDSHAKE, version: self.protocol, fragment: vec![0; 64] }
                    .encode(),
            );
        }
        connection.send(&bytes).await?;
        let mut reader = RecordReader::default();
        let answer = tokio::time::timeout(ANSWER_WAIT, reader.next(&mut connection, MAX_READ)).await;
        Ok(match answer {
            Err(_) | Ok(Ok(Reaction::Silent)) => "silence".to_string(),
            Ok(Ok(Reaction::Closed)) => "close".to_string(),
            Ok(Ok(Reaction::Record(record))) if record.content_type == content_type::ALERT => alert_text(&record),
            Ok(Ok(Reaction::Record(record))) => format!("a record of type {}", record.content_type),
            Ok(Err(NetError::Reset)) => "reset".to_string(),
            Ok(Err(error)) => return Err(error),
        })
    }
}
