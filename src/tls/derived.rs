//! Properties of the accepted suites and groups, looked up in the registry once so that checks,
//! grades and reports reason about "forward secrecy" or "64-bit block" rather than names.

use crate::facts::{GroupFact, SuiteFact, TlsFacts};
use crate::tls::registry::{group, registry, KeyExchange};

pub fn derive(facts: &mut TlsFacts) {
    let mut suites = Vec::new();
    for (protocol, names) in &facts.cipher_suites {
        for name in names {
            let Some(info) = registry().suites.iter().find(|s| &s.iana_name == name) else {
                // A code outside the registry: record what is known.
                suites.push(SuiteFact {
                    protocol: *protocol,
                    name: name.clone(),
                    key_exchange: "OTHER".into(),
                    authentication: "unknown".into(),
                    encryption: "unknown".into(),
                    bits: 0,
                    mac: "unknown".into(),
                    aead: false,
                    forward_secrecy: false,
                    export: false,
                    null_encryption: false,
                    anonymous: false,
                    rc4: false,
                    block_64bit: false,
                    cbc: false,
                });
                continue;
            };
            let kx = info.key_exchange();
            let enc = info.encryption_label.as_str();
            let aead = info.mac_label == "AEAD";
            let block_64bit = ["3DES", "DES(", "IDEA", "RC2"].iter().any(|p| enc.starts_with(p));
            let stream_or_null = enc.starts_with("RC4") || enc == "None" || enc.starts_with("ChaCha20");
            suites.push(SuiteFact {
                protocol: *protocol,
                name: name.clone(),
                key_exchange: match kx {
                    KeyExchange::Ecdhe => "ECDHE",
                    KeyExchange::Dhe => "DHE",
                    KeyExchange::Rsa => "RSA",
                    KeyExchange::RsaExport => "RSA_EXPORT",
                    KeyExchange::StaticDh => "STATIC_DH",
                    KeyExchange::Tls13 => "TLS13",
                    KeyExchange::Other => "OTHER",
                }
                .into(),
                authentication: info.auth_label.clone(),
                encryption: info.encryption_label.clone(),
                bits: info.encryption_bits(),
                mac: info.mac_label.clone(),
                aead,
                forward_secrecy: matches!(kx, KeyExchange::Ecdhe | KeyExchange::Dhe | KeyExchange::Tls13)
                    || (kx == KeyExchange::Other && info.kx_label.contains("DHE")),
                export: info.export,
                null_encryption: enc == "None",
                anonymous: info.auth_label == "None" || name.contains("_anon_"),
                rc4: enc.starts_with("RC4"),
                block_64bit,
                cbc: !aead && !stream_or_null,
            });
        }
    }
    facts.suites = suites;
    facts.group_details = facts
        .groups
        .iter()
        .map(|name| {
            let known = crate::tls::registry::NAMED_GROUPS.iter().find(|g| g.name == name).and_then(|g| group(g.code));
            let kind = match known.map(|g| g.code) {
                Some(256..=260) => "FF",
                Some(0x11EB..=0x11ED) => "HYBRID",
                _ => "EC",
            };
            GroupFact { name: name.clone(), kind: kind.into(), bits: known.map_or(0, |g| g.bits) }
        })
        .collect();
}
