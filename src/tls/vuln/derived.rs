//! Vulnerability verdicts read from the sweep's facts, at no connection. A verdict is `true`
//! when the facts show the weakness, `false` when every protocol it depends on was answered
//! without it, and `null` when one of those protocols' probes failed.

use super::{dh_primes, VulnerabilityFact};
use crate::facts::{SuiteFact, TlsFacts};
use crate::tls::registry::Protocol;

const LEGACY: [Protocol; 4] = [Protocol::Sslv3, Protocol::Tls10, Protocol::Tls11, Protocol::Tls12];
/// SSLv2 too: its specs include RC4 and 3DES.
const WITH_SSLV2: [Protocol; 5] = [Protocol::Sslv2, Protocol::Sslv3, Protocol::Tls10, Protocol::Tls11, Protocol::Tls12];

/// Fill the derived verdicts of `facts.vulnerabilities` (the active probes' are left alone).
pub fn derive(facts: &mut TlsFacts) {
    let v = Verdicts { facts };
    let poodle = v.suites(&[Protocol::Sslv3], |s| s.cbc, "no CBC suite over SSLv3");
    let sweet32 = v.suites(&WITH_SSLV2, |s| s.block_64bit, "no 64-bit block cipher suite");
    let freak = v.suites(&LEGACY, |s| s.export && s.key_exchange == "RSA_EXPORT", "no export RSA suite");
    let beast = v.suites(&[Protocol::Sslv3, Protocol::Tls10], |s| s.cbc, "no CBC suite over SSLv3 or TLS 1.0");
    let rc4 = v.suites(&WITH_SSLV2, |s| s.rc4, "no RC4 suite");
    let lucky13 = v.suites(&LEGACY, |s| s.cbc, "no CBC suite");
    let logjam = v.logjam();
    let drown = v.drown();
    let crime = v.crime();
    let insecure_renegotiation = v.insecure_renegotiation();
    let no_fallback_scsv = v.no_fallback_scsv();
    let vulnerabilities = &mut facts.vulnerabilities;
    vulnerabilities.poodle = poodle;
    vulnerabilities.sweet32 = sweet32;
    vulnerabilities.freak = freak;
    vulnerabilities.beast = beast;
    vulnerabilities.rc4 = rc4;
    vulnerabilities.lucky13 = lucky13;
    vulnerabilities.logjam = logjam;
    vulnerabilities.drown = drown;
    vulnerabilities.crime = crime;
    vulnerabilities.insecure_renegotiation = insecure_renegotiation;
    vulnerabilities.no_fallback_scsv = no_fallback_scsv;
}

/// The name of a well-known shared DH prime (big-endian bytes, as in ServerKeyExchange).
pub fn common_dh_prime(p: &[u8]) -> Option<&'static str> {
    use sha2::Digest as _;
    let start = p.iter().position(|&b| b != 0).unwrap_or(p.len());
    let digest = sha2::Sha256::digest(&p[start..]);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    dh_primes::COMMON_DH_PRIMES.iter().find(|(sha, _, _)| *sha == hex).map(|(_, _, name)| *name)
}

struct Verdicts<'a> {
    facts: &'a TlsFacts,
}

impl Verdicts<'_> {
    /// Why `protocol`'s verdict is not known, if it is not (never probed, or its probe failed).
    fn unknown(&self, protocol: Protocol) -> Option<String> {
        match self.facts.protocol_details.get(&protocol) {
            None => Some(format!("{protocol} not probed")),
            Some(detail) => detail.error.as_ref().map(|error| format!("{protocol} probe failed: {error}")),
        }
    }

    fn accepted(&self, protocol: Protocol) -> bool {
        self.facts.protocols.contains(&protocol)
    }

    /// Vulnerable when a suite of `protocols` has the property; not vulnerable when none has and
    /// every one of `protocols` was answered.
    fn suites(&self, protocols: &[Protocol], property: impl Fn(&SuiteFact) -> bool, none: &str) -> VulnerabilityFact {
        let found: Vec<String> = self
            .facts
            .suites
            .iter()
            .filter(|s| protocols.contains(&s.protocol) && property(s))
            .map(|s| format!("{} {}", s.protocol, s.name))
            .collect();
        if !found.is_empty() {
            return VulnerabilityFact::yes(found);
        }
        let unknown: Vec<String> = protocols.iter().filter_map(|&p| self.unknown(p)).collect();
        if unknown.is_empty() {
            VulnerabilityFact::no(none)
        } else {
            VulnerabilityFact { vulnerable: None, evidence: unknown, connections: 0 }
        }
    }

    /// Export DH suites, or any DH group of 1024 bits or less; shared primes are named whatever
    /// their size.
    fn logjam(&self) -> VulnerabilityFact {
        let export_dh: Vec<String> = self
            .facts
            .suites
            .iter()
            .filter(|s| s.export && s.key_exchange == "DHE")
            .map(|s| format!("{} {} (export DH)", s.protocol, s.name))
            .collect();
        let mut weak = Vec::new();
        let mut strong = Vec::new();
        for kx in self.facts.key_exchange.iter().filter(|k| k.kind == "DH") {
            let bits = kx.bits.map_or("unknown size".into(), |b| format!("{b} bits"));
            let shared = kx.group.as_ref().map(|g| format!(", common prime {g}")).unwrap_or_default();
            let line = format!("DH {bits}{shared} ({} {})", kx.protocol, kx.cipher_suite);
            if kx.bits.is_some_and(|b| b <= 1024) {
                weak.push(line);
            } else {
                strong.push(line);
            }
        }
        if !export_dh.is_empty() || !weak.is_empty() {
            return VulnerabilityFact::yes(export_dh.into_iter().chain(weak).chain(strong).collect());
        }
        let dhe_accepted = self.facts.suites.iter().any(|s| s.key_exchange == "DHE");
        if dhe_accepted && strong.is_empty() {
            return VulnerabilityFact::unknown("DHE suites accepted but no DH parameters seen");
        }
        let unknown: Vec<String> = LEGACY.iter().filter_map(|&p| self.unknown(p)).collect();
        if !unknown.is_empty() && !dhe_accepted {
            return VulnerabilityFact { vulnerable: None, evidence: unknown, connections: 0 };
        }
        if strong.is_empty() {
            VulnerabilityFact::no("no DHE suite")
        } else {
            VulnerabilityFact { vulnerable: Some(false), evidence: strong, connections: 0 }
        }
    }

    /// SSLv2 on this endpoint. The scan-wide join adds endpoints sharing the key.
    fn drown(&self) -> VulnerabilityFact {
        if self.accepted(Protocol::Sslv2) {
            let specs = self.facts.cipher_suites.get(&Protocol::Sslv2).cloned().unwrap_or_default();
            let mut evidence = vec!["SSLv2 accepted on this endpoint".to_string()];
            evidence.extend(specs.into_iter().map(|s| format!("SSLv2 {s}")));
            return VulnerabilityFact::yes(evidence);
        }
        match self.unknown(Protocol::Sslv2) {
            Some(why) => VulnerabilityFact::unknown(why),
            None => VulnerabilityFact::no("SSLv2 refused on this endpoint"),
        }
    }

    fn crime(&self) -> VulnerabilityFact {
        match self.facts.extensions.compression {
            Some(true) => VulnerabilityFact::yes(vec!["the server chose DEFLATE compression".into()]),
            Some(false) => VulnerabilityFact::no("the server chose no compression"),
            None if self.only_tls13() => VulnerabilityFact::no("TLS 1.3 only (no compression in TLS 1.3)"),
            None => VulnerabilityFact::unknown("no TLS ≤ 1.2 ServerHello seen"),
        }
    }

    fn insecure_renegotiation(&self) -> VulnerabilityFact {
        match self.facts.extensions.secure_renegotiation {
            _ if self.only_tls13() => VulnerabilityFact::no("TLS 1.3 only (no renegotiation in TLS 1.3)"),
            Some(false) => VulnerabilityFact::yes(vec!["no renegotiation_info in the ServerHello (RFC 5746)".into()]),
            Some(true) => VulnerabilityFact::no("renegotiation_info answered (RFC 5746)"),
            None => VulnerabilityFact::unknown("no TLS ≤ 1.2 ServerHello seen"),
        }
    }

    fn no_fallback_scsv(&self) -> VulnerabilityFact {
        match self.facts.fallback_scsv {
            Some(true) => VulnerabilityFact::no("inappropriate_fallback answered to a downgraded hello"),
            Some(false) => {
                VulnerabilityFact::yes(vec!["a downgraded hello with TLS_FALLBACK_SCSV was accepted".into()])
            }
            None if self.facts.protocols.len() == 1 => VulnerabilityFact::no(format!(
                "only {} accepted: no lower version to fall back to",
                self.facts.protocols[0]
            )),
            None => VulnerabilityFact::unknown("the fallback test was inconclusive"),
        }
    }

    fn only_tls13(&self) -> bool {
        !self.facts.protocols.is_empty() && self.facts.protocols.iter().all(|&p| p == Protocol::Tls13)
    }
}
