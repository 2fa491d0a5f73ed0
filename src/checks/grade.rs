//! SSL Labs-style grades for TLS endpoints (rating guide 2009 with its later caps, as testssl.sh
//! implements them). The numbers and caps are documented in `docs/grading.md`; every cap
//! carries the fact that caused it.

use serde_json::Value;

use super::model::Grade;
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

/// Grade a target from its facts; None when there is no TLS to grade.
pub fn grade(target: &TargetResult) -> Option<Grade> {
    let tls = target.tls.as_ref()?;
    if target.error.is_some() || tls.protocols.is_empty() {
        return None;
    }
    let certificate = target.certificate_json();
    let hsts_max_age = target.http.as_ref().and_then(|h| h.https.as_ref()).and_then(|h| h.hsts.as_ref()).and_then(|h| h.max_age);
    Some(grade_facts(tls, certificate.as_ref(), hsts_max_age))
}

pub fn grade_facts(tls: &TlsFacts, certificate: Option<&Value>, hsts_max_age: Option<u64>) -> Grade {
    let mut caps: Vec<String> = Vec::new();
    let mut missing = Vec::new();
    let mut cap = |letter: &str, why: &str| caps.push(format!("{letter}: {why}"));
    let accepted = |p: Protocol| tls.protocols.contains(&p);

    // Protocol.
    let best = tls.protocols.iter().map(|&p| protocol_points(p)).max().unwrap_or(0);
    let worst = tls.protocols.iter().map(|&p| protocol_points(p)).min().unwrap_or(0);
    let protocol_score = (best + worst) / 2;

    // Key exchange: the weakest of the certificate key (for RSA key transport) and the
    // ephemeral parameters.
    let mut kx_points: Vec<u32> = Vec::new();
    let any_anonymous = tls.suites.iter().any(|s| s.anonymous);
    if any_anonymous {
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
    let key = certificate.and_then(|c| c.get("key"));
    let key_type = key.and_then(|k| k.get("type")).and_then(Value::as_str).unwrap_or("");
    let key_bits = key.and_then(|k| k.get("bits")).and_then(Value::as_u64).map(|b| b as u32);
    match (key_type.to_ascii_uppercase().as_str(), key_bits) {
        ("RSA" | "DSA", Some(bits)) => kx_points.push(modulus_points(bits)),
        ("EC" | "ECDSA", Some(bits)) => kx_points.push(curve_points(bits)),
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
        cap("F", "SSLv2 accepted (DROWN)");
    }
    if tls.protocols.iter().max() == Some(&Protocol::Sslv3) {
        cap("F", "SSLv3 is the best protocol");
    }
    if tls.suites.iter().any(|s| s.export) {
        cap("F", "export suites accepted");
    }
    if tls.suites.iter().any(|s| !s.null_encryption && effective_bits(&s.encryption, s.bits) < 112) {
        cap("F", "suites under 112 bits accepted");
    }
    if tls.suites.iter().any(|s| s.null_encryption) {
        cap("F", "NULL encryption accepted");
    }
    if !tls.suites.is_empty() && tls.suites.iter().all(|s| s.rc4) {
        cap("F", "RC4 only");
    }
    if let Some(bits) = key_bits.filter(|_| key_type.eq_ignore_ascii_case("RSA")) {
        if bits < 1024 {
            cap("F", "certificate key under 1024 bits");
        }
    }
    if let Some(c) = certificate {
        let flag = |name: &str| c.get(name).and_then(Value::as_bool);
        // Trusted by any store: Mozilla's, or a national CA bundle the country declared.
        let trusted_somewhere = flag("trusted") == Some(true)
            || c.get("trust").and_then(Value::as_object).is_some_and(|t| t.values().any(|v| v.get("trusted").and_then(Value::as_bool) == Some(true)));
        if flag("trusted").is_some() && !trusted_somewhere {
            cap("T", "certificate not trusted");
        }
        if flag("expired") == Some(true) {
            cap("T", "certificate expired");
        }
        if flag("self_signed") == Some(true) {
            cap("T", "self-signed certificate");
        }
        let revoked = c
            .pointer("/revocation")
            .and_then(Value::as_object)
            .is_some_and(|r| r.values().any(|v| v.get("status").and_then(Value::as_str) == Some("revoked")));
        if revoked {
            cap("T", "certificate revoked");
        }
        if flag("hostname_match") == Some(false) {
            cap("M", "certificate name mismatch");
        }
        if flag("chain_complete") == Some(false) {
            cap("B", "incomplete chain");
        }
        let signature = c.get("signature_algorithm").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
        if signature.contains("md5") || signature.contains("md2") {
            cap("F", "MD5/MD2 certificate signature");
        }
    }
    if tls.extensions.compression == Some(true) {
        cap("C", "TLS compression (CRIME)");
    }
    if tls.suites.iter().any(|s| s.protocol == Protocol::Sslv3 && s.cbc) {
        cap("C", "SSLv3 with CBC suites (POODLE)");
    }
    if !accepted(Protocol::Tls12) && !accepted(Protocol::Tls13) {
        cap("C", "neither TLS 1.2 nor TLS 1.3");
    }
    if tls.suites.iter().any(|s| s.protocol >= Protocol::Tls11 && (s.rc4 || s.encryption.starts_with("3DES"))) {
        cap("C", "RC4 or 3DES with TLS 1.1 or later");
    }
    if accepted(Protocol::Sslv3) {
        cap("B", "SSLv3 accepted");
    }
    if accepted(Protocol::Tls10) || accepted(Protocol::Tls11) {
        cap("B", "TLS 1.0 or 1.1 accepted");
    }
    if tls.suites.iter().any(|s| s.rc4) {
        cap("B", "RC4 accepted");
    }
    if tls.key_exchange.iter().any(|k| k.kind == "DH" && k.bits.is_some_and(|b| b < 2048))
        || key_bits.is_some_and(|b| key_type.eq_ignore_ascii_case("RSA") && b < 2048)
    {
        cap("B", "key or DH parameters under 2048 bits");
    }
    if !tls.suites.iter().any(|s| s.forward_secrecy) {
        cap("B", "no forward secrecy");
    }
    if !tls.suites.iter().any(|s| s.aead) {
        cap("B", "no AEAD suite");
    }
    if !accepted(Protocol::Tls13) {
        cap("A-", "no TLS 1.3");
    }
    let legacy_accepted = tls.protocols.iter().any(|&p| p != Protocol::Tls13 && p != Protocol::Sslv2);
    if legacy_accepted && tls.extensions.secure_renegotiation == Some(false) {
        cap("A-", "no secure renegotiation");
    }

    let capped = caps.iter().filter_map(|c| c.split(':').next()).filter(|l| *l != "T" && *l != "M").map(rank).max();
    let mut final_letter = LETTERS[capped.map_or(rank(letter), |c| c.max(rank(letter)))].to_string();
    let sha1 = certificate
        .and_then(|c| c.get("signature_algorithm"))
        .and_then(Value::as_str)
        .is_some_and(|s| s.to_ascii_lowercase().contains("sha1"));
    let hsts_long = hsts_max_age.is_some_and(|age| age >= 15_768_000);
    if final_letter == "A" && caps.is_empty() && hsts_long && !sha1 && tls.fallback_scsv != Some(false) {
        final_letter = "A+".into();
    }
    if caps.iter().any(|c| c.starts_with("T:")) {
        final_letter = "T".into();
    } else if caps.iter().any(|c| c.starts_with("M:")) {
        final_letter = "M".into();
    }
    Grade { grade: final_letter, score, protocol_score, key_exchange_score, cipher_score, caps, missing }
}
