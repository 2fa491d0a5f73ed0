//! SSL Labs-style grades for TLS endpoints (rating guide 2009 with its later caps, as testssl.sh
//! implements them). The numbers and caps are documented in `docs/grading.md`; every cap is a
//! value (`CapReason`: its letter and a stable id) chosen from typed facts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{Grade, GradeCap};
use crate::cert::facts::RevocationStatus;
use crate::cert::CertificateFacts;
use crate::facts::{TargetResult, TlsFacts};
use crate::tls::registry::Protocol;

/// Letters from best to worst; caps compare by position.
const LETTERS: [&str; 8] = ["A+", "A", "A-", "B", "C", "D", "E", "F"];

fn rank(letter: &str) -> usize {
    LETTERS.iter().position(|l| *l == letter).unwrap_or(LETTERS.len() - 1)
}

fn protocol_points(protocol: Protocol) -> u32 {
    match protocol {
        Protocol::Sslv2 => 0,
        Protocol::Sslv3 => 80,
        Protocol::Tls10 => 90,
        Protocol::Tls11 => 95,
        Protocol::Tls12 | Protocol::Tls13 => 100,
    }
}

/// Key-exchange points for an RSA/DH modulus size.
fn modulus_points(bits: u32) -> u32 {
    match bits {
        0 => 0,
        1..=511 => 20,
        512..=1023 => 40,
        1024..=2047 => 80,
        2048..=4095 => 90,
        _ => 100,
    }
}

/// Key-exchange points for an elliptic-curve size (SSL Labs' EC equivalents).
fn curve_points(bits: u32) -> u32 {
    match bits {
        0..=109 => 20,
        110..=122 => 40,
        123..=162 => 80,
        163..=224 => 90,
        _ => 100,
    }
}

/// Effective strength: 3DES offers 112 bits, not 168.
fn effective_bits(encryption: &str, bits: u32) -> u32 {
    if encryption.starts_with("3DES") {
        112
    } else {
        bits
    }
}

fn cipher_points(bits: u32) -> u32 {
    match bits {
        0 => 0,
        1..=127 => 20,
        128..=255 => 80,
        _ => 100,
    }
}

/// Why a grade is capped: one value per rule of `docs/grading.md`, with its letter. A cap is
/// chosen from typed facts, so a renamed fact field is a compile error here, never a silently
/// lost cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapReason {
    Sslv2,
    Sslv3Best,
    ExportSuites,
    WeakCipher,
    NullEncryption,
    Rc4Only,
    KeyUnder1024,
    Md5Signature,
    Untrusted,
    Expired,
    SelfSigned,
    Revoked,
    NameMismatch,
    IncompleteChain,
    Compression,
    Poodle,
    NoTls12,
    Rc4Or3desModern,
    Sslv3,
    Tls10Or11,
    Rc4,
    WeakKeyOrDh,
    NoForwardSecrecy,
    NoAead,
    NoTls13,
    NoSecureRenegotiation,
    Heartbleed,
    CcsInjection,
    DrownSharedKey,
    InsecureClientRenegotiation,
    Robot,
    Ticketbleed,
    DhComposite,
}

impl CapReason {
    /// The letter the grade cannot exceed (`T`: untrusted, `M`: name mismatch).
    pub const fn letter(self) -> &'static str {
        use CapReason::*;
        match self {
            Sslv2
            | Sslv3Best
            | ExportSuites
            | WeakCipher
            | NullEncryption
            | Rc4Only
            | KeyUnder1024
            | Md5Signature
            | Heartbleed
            | CcsInjection
            | DrownSharedKey
            | InsecureClientRenegotiation
            | Robot
            | Ticketbleed
            | DhComposite => "F",
            Untrusted | Expired | SelfSigned | Revoked => "T",
            NameMismatch => "M",
            Compression | Poodle | NoTls12 | Rc4Or3desModern => "C",
            IncompleteChain | Sslv3 | Tls10Or11 | Rc4 | WeakKeyOrDh | NoForwardSecrecy | NoAead => "B",
            NoTls13 | NoSecureRenegotiation => "A-",
        }
    }

    pub const fn text(self) -> &'static str {
        use CapReason::*;
        match self {
            Sslv2 => "SSLv2 accepted (DROWN)",
            Sslv3Best => "SSLv3 is the best protocol",
            ExportSuites => "export suites accepted",
            WeakCipher => "suites under 112 bits accepted",
            NullEncryption => "NULL encryption accepted",
            Rc4Only => "RC4 only",
            KeyUnder1024 => "certificate key under 1024 bits",
            Md5Signature => "MD5/MD2 certificate signature",
            Untrusted => "certificate not trusted",
            Expired => "certificate expired",
            SelfSigned => "self-signed certificate",
            Revoked => "certificate revoked",
            NameMismatch => "certificate name mismatch",
            IncompleteChain => "incomplete chain",
            Compression => "TLS compression (CRIME)",
            Poodle => "SSLv3 with CBC suites (POODLE)",
            NoTls12 => "neither TLS 1.2 nor TLS 1.3",
            Rc4Or3desModern => "RC4 or 3DES with TLS 1.1 or later",
            Sslv3 => "SSLv3 accepted",
            Tls10Or11 => "TLS 1.0 or 1.1 accepted",
            Rc4 => "RC4 accepted",
            WeakKeyOrDh => "key or DH parameters under 2048 bits",
            NoForwardSecrecy => "no forward secrecy",
            NoAead => "no AEAD suite",
            NoTls13 => "no TLS 1.3",
            NoSecureRenegotiation => "no secure renegotiation",
            Heartbleed => "vulnerable to Heartbleed",
            CcsInjection => "vulnerable to CCS injection",
            DrownSharedKey => "the key is served with SSLv2 elsewhere (DROWN)",
            InsecureClientRenegotiation => "insecure client-initiated renegotiation accepted",
            Robot => "vulnerable to ROBOT (RSA padding oracle)",
            Ticketbleed => "vulnerable to Ticketbleed (session ID echo leaks memory)",
            DhComposite => "DH modulus not prime, or generator out of range (no secrecy)",
        }
    }

    pub fn cap(self) -> GradeCap {
        GradeCap { letter: self.letter().into(), reason: self, text: self.text().into() }
    }
}

/// Grade a target from its facts; None when there is no TLS to grade.
pub fn grade(target: &TargetResult) -> Option<Grade> {
    let tls = target.tls.as_ref()?;
    if target.error.is_some() || tls.protocols.is_empty() {
        return None;
    }
    let hsts_max_age =
        target.http.as_ref().and_then(|h| h.https.as_ref()).and_then(|h| h.hsts.as_ref()).and_then(|h| h.max_age);
    Some(grade_facts(tls, target.certificate.as_ref(), hsts_max_age))
}

pub fn grade_facts(tls: &TlsFacts, certificate: Option<&CertificateFacts>, hsts_max_age: Option<u64>) -> Grade {
    let mut caps: Vec<CapReason> = Vec::new();
    let mut missing = Vec::new();
    let mut cap = |reason: CapReason| caps.push(reason);
    let accepted = |p: Protocol| tls.protocols.contains(&p);

    // Protocol.
    let best = tls.protocols.iter().map(|&p| protocol_points(p)).max().unwrap_or(0);
    let worst = tls.protocols.iter().map(|&p| protocol_points(p)).min().unwrap_or(0);
    let protocol_score = (best + worst) / 2;

    // Key exchange: the weakest of the certificate key (for RSA key transport) and the
    // ephemeral parameters.
    let mut kx_points: Vec<u32> = Vec::new();
    if tls.suites.iter().any(|s| s.anonymous) {
        kx_points.push(0);
    }
    if tls.suites.iter().any(|s| s.export) {
        kx_points.push(40);
    }
    for kx in &tls.key_exchange {
        match kx.kind.as_str() {
            "DH" | "RSA" => kx_points.push(modulus_points(kx.bits.unwrap_or(0))),
            _ => kx_points.push(curve_points(kx.bits.unwrap_or(0))),
        }
    }
    for group in &tls.group_details {
        kx_points.push(if group.kind == "FF" { modulus_points(group.bits) } else { curve_points(group.bits) });
    }
    let key = certificate.map(|c| &c.key);
    let key_type = key.map(|k| k.r#type.to_ascii_uppercase()).unwrap_or_default();
    let key_bits = key.and_then(|k| k.bits);
    let rsa_bits = key_bits.filter(|_| key_type == "RSA");
    match (key_type.as_str(), key_bits) {
        ("RSA" | "DSA", Some(bits)) => kx_points.push(modulus_points(bits)),
        (_, Some(bits)) => kx_points.push(curve_points(bits)),
        _ => missing.push("certificate key (no certificate facts)".to_string()),
    }
    let key_exchange_score = kx_points.iter().copied().min().unwrap_or(100);

    // Cipher strength.
    let strengths: Vec<u32> = tls.suites.iter().map(|s| effective_bits(&s.encryption, s.bits)).collect();
    let strongest = strengths.iter().copied().max().map_or(0, cipher_points);
    let weakest = strengths.iter().copied().min().map_or(0, cipher_points);
    let cipher_score = (strongest + weakest) / 2;

    let score = if protocol_score == 0 || key_exchange_score == 0 || cipher_score == 0 {
        0
    } else {
        (protocol_score * 3 + key_exchange_score * 3 + cipher_score * 4) / 10
    };
    let letter = match score {
        80.. => "A",
        65..=79 => "B",
        50..=64 => "C",
        35..=49 => "D",
        20..=34 => "E",
        _ => "F",
    };

    // Caps, F first.
    if accepted(Protocol::Sslv2) {
        cap(CapReason::Sslv2);
    }
    if tls.protocols.iter().max() == Some(&Protocol::Sslv3) {
        cap(CapReason::Sslv3Best);
    }
    if tls.suites.iter().any(|s| s.export) {
        cap(CapReason::ExportSuites);
    }
    if tls.suites.iter().any(|s| !s.null_encryption && effective_bits(&s.encryption, s.bits) < 112) {
        cap(CapReason::WeakCipher);
    }
    if tls.suites.iter().any(|s| s.null_encryption) {
        cap(CapReason::NullEncryption);
    }
    if !tls.suites.is_empty() && tls.suites.iter().all(|s| s.rc4) {
        cap(CapReason::Rc4Only);
    }
    if rsa_bits.is_some_and(|bits| bits < 1024) {
        cap(CapReason::KeyUnder1024);
    }
    let vulnerabilities = &tls.vulnerabilities;
    if vulnerabilities.heartbleed.vulnerable == Some(true) {
        cap(CapReason::Heartbleed);
    }
    if vulnerabilities.ccs_injection.vulnerable == Some(true) {
        cap(CapReason::CcsInjection);
    }
    if vulnerabilities.robot.vulnerable == Some(true) {
        cap(CapReason::Robot);
    }
    if vulnerabilities.ticketbleed.vulnerable == Some(true) {
        cap(CapReason::Ticketbleed);
    }
    // Not an SSL Labs rule: a composite modulus (or g = 0, 1, p−1) gives a key exchange without
    // secrecy, worse than export DH, which SSL Labs caps at F.
    if tls.dh_groups.iter().any(|g| g.prime == Some(false) || !g.generator_in_range) {
        cap(CapReason::DhComposite);
    }
    if vulnerabilities.drown.vulnerable == Some(true) && !accepted(Protocol::Sslv2) {
        cap(CapReason::DrownSharedKey);
    }
    if vulnerabilities.insecure_renegotiation.vulnerable == Some(true)
        && vulnerabilities.client_renegotiation.vulnerable == Some(true)
    {
        cap(CapReason::InsecureClientRenegotiation);
    }
    if let Some(c) = certificate {
        // Trusted by any store: Mozilla's, or a national CA bundle the country declared.
        if !(c.trusted || c.trust.values().any(|verdict| verdict.trusted)) {
            cap(CapReason::Untrusted);
        }
        if c.expired {
            cap(CapReason::Expired);
        }
        if c.self_signed {
            cap(CapReason::SelfSigned);
        }
        let revocation = &c.revocation;
        if [&revocation.stapled, &revocation.ocsp, &revocation.crl]
            .into_iter()
            .flatten()
            .any(|check| check.status == RevocationStatus::Revoked)
        {
            cap(CapReason::Revoked);
        }
        if !c.hostname_match {
            cap(CapReason::NameMismatch);
        }
        if !c.chain_complete {
            cap(CapReason::IncompleteChain);
        }
        let signature = c.signature_algorithm.as_deref().unwrap_or("").to_ascii_lowercase();
        if signature.contains("md5") || signature.contains("md2") {
            cap(CapReason::Md5Signature);
        }
    }
    if tls.extensions.compression == Some(true) {
        cap(CapReason::Compression);
    }
    if tls.suites.iter().any(|s| s.protocol == Protocol::Sslv3 && s.cbc) {
        cap(CapReason::Poodle);
    }
    if !accepted(Protocol::Tls12) && !accepted(Protocol::Tls13) {
        cap(CapReason::NoTls12);
    }
    if tls.suites.iter().any(|s| s.protocol >= Protocol::Tls11 && (s.rc4 || s.encryption.starts_with("3DES"))) {
        cap(CapReason::Rc4Or3desModern);
    }
    if accepted(Protocol::Sslv3) {
        cap(CapReason::Sslv3);
    }
    if accepted(Protocol::Tls10) || accepted(Protocol::Tls11) {
        cap(CapReason::Tls10Or11);
    }
    if tls.suites.iter().any(|s| s.rc4) {
        cap(CapReason::Rc4);
    }
    if tls.key_exchange.iter().any(|k| k.kind == "DH" && k.bits.is_some_and(|b| b < 2048))
        || rsa_bits.is_some_and(|b| b < 2048)
    {
        cap(CapReason::WeakKeyOrDh);
    }
    if !tls.suites.iter().any(|s| s.forward_secrecy) {
        cap(CapReason::NoForwardSecrecy);
    }
    if !tls.suites.iter().any(|s| s.aead) {
        cap(CapReason::NoAead);
    }
    if !accepted(Protocol::Tls13) {
        cap(CapReason::NoTls13);
    }
    let legacy_accepted = tls.protocols.iter().any(|&p| p != Protocol::Tls13 && p != Protocol::Sslv2);
    if legacy_accepted && tls.extensions.secure_renegotiation == Some(false) {
        cap(CapReason::NoSecureRenegotiation);
    }

    let capped = caps.iter().map(|c| c.letter()).filter(|l| *l != "T" && *l != "M").map(rank).max();
    let mut final_letter = LETTERS[capped.map_or(rank(letter), |c| c.max(rank(letter)))].to_string();
    let sha1 = certificate
        .and_then(|c| c.signature_algorithm.as_deref())
        .is_some_and(|s| s.to_ascii_lowercase().contains("sha1"));
    let hsts_long = hsts_max_age.is_some_and(|age| age >= 15_768_000);
    if final_letter == "A" && caps.is_empty() && hsts_long && !sha1 && tls.fallback_scsv != Some(false) {
        final_letter = "A+".into();
    }
    if caps.iter().any(|c| c.letter() == "T") {
        final_letter = "T".into();
    } else if caps.iter().any(|c| c.letter() == "M") {
        final_letter = "M".into();
    }
    let caps = caps.into_iter().map(CapReason::cap).collect();
    Grade { grade: final_letter, score, protocol_score, key_exchange_score, cipher_score, caps, missing }
}
