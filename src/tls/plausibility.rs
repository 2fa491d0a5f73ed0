//! Telling a real TLS server from one that "accepts" whatever it is offered.
//!
//! A peer that echoes a ServerHello for any suite it is sent (a tarpit, a honeypot, a broken
//! middlebox) would make the sweep enumerate every suite of the registry, one connection each:
//! over 700 connections for facts that mean nothing. Two things a real server cannot do give it
//! away within a few answers:
//! - choose a suite that was not offered;
//! - serve, with one and the same certificate, suites that need different kinds of key (RSA,
//!   EC, DSA, DH, GOST), or send a certificate with a suite that authenticates without one
//!   (anonymous, PSK, SRP, Kerberos), or send a certificate whose key cannot serve the suite.
//!
//! - answer a TLS 1.3 hello with a HelloRetryRequest for a group whose key share it already
//!   carries (a peer retrying every hello: RFC 8446 §4.1.4).
//!
//! A server with an RSA and an ECDSA certificate sends each with its own suites: the check is
//! per certificate, so such a server is plausible. The verdict is shared by the sweep's lanes
//! (one `Plausibility` per sweep), so the first lane to see it stops the others.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::facts::{ImplausibleReason, ImplausibleServer};
use crate::tls::exchange::ServerFlight;
use crate::tls::registry::{registry, CipherSuite, Protocol};

/// The kind of key a suite needs in the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    /// ECDSA, static ECDH, and EdDSA keys (RFC 8422 lets Ed25519/Ed448 sign ECDSA suites).
    Ec,
    Dsa,
    /// Static DH (`DH_RSA`, `DH_DSS`): a certificate with a DH key.
    Dh,
    Gost2001,
    Gost94,
}

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            KeyKind::Rsa => "RSA",
            KeyKind::Ec => "EC",
            KeyKind::Dsa => "DSA",
            KeyKind::Dh => "DH",
            KeyKind::Gost2001 => "GOST R 34.10-2001",
            KeyKind::Gost94 => "GOST R 34.10-94",
        }
    }
}

/// What a suite needs from the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Key(KeyKind),
    /// It authenticates without a certificate (anonymous, PSK, SRP, Kerberos).
    NoCertificate,
    /// Not judged (TLS 1.3 suites, which say nothing of the key; labels not known here).
    Unknown,
}

fn needs(suite: &CipherSuite) -> Needs {
    match (suite.kx_label.as_str(), suite.auth_label.as_str()) {
        ("any", _) => Needs::Unknown,
        ("DH/DSS" | "DH/RSA", _) => Needs::Key(KeyKind::Dh),
        ("ECDH/ECDSA" | "ECDH/RSA", _) => Needs::Key(KeyKind::Ec),
        (_, "RSA") => Needs::Key(KeyKind::Rsa),
        (_, "ECDSA") => Needs::Key(KeyKind::Ec),
        (_, "DSS") => Needs::Key(KeyKind::Dsa),
        (_, "GOST01") => Needs::Key(KeyKind::Gost2001),
        (_, "GOST94") => Needs::Key(KeyKind::Gost94),
        (_, "None" | "PSK" | "SRP" | "KRB5") => Needs::NoCertificate,
        _ => Needs::Unknown,
    }
}

/// The kind of a certificate's public key, when it parses and the algorithm is known.
fn key_kind(der: &[u8]) -> Option<KeyKind> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let oid = certificate.public_key().algorithm.algorithm.to_id_string();
    Some(match oid.as_str() {
        // rsaEncryption, RSASSA-PSS
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => KeyKind::Rsa,
        // id-ecPublicKey, Ed25519, Ed448
        "1.2.840.10045.2.1" | "1.3.101.112" | "1.3.101.113" => KeyKind::Ec,
        "1.2.840.10040.4.1" => KeyKind::Dsa,
        // dhpublicnumber, dhKeyAgreement
        "1.2.840.10046.2.1" | "1.2.840.113549.1.3.1" => KeyKind::Dh,
        // GOST R 34.10-2001 and its 2012 successors
        "1.2.643.2.2.19" | "1.2.643.7.1.1.1.1" | "1.2.643.7.1.1.1.2" => KeyKind::Gost2001,
        "1.2.643.2.2.20" => KeyKind::Gost94,
        _ => return None,
    })
}

/// The sweep's shared view of whether the server is plausible.
#[derive(Debug, Default)]
pub struct Plausibility {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Per leaf certificate (DER): the key kind its first suite needed, and that suite's name.
    served: HashMap<Vec<u8>, (KeyKind, String)>,
    verdict: Option<ImplausibleServer>,
}

impl Plausibility {
    pub fn new() -> Plausibility {
        Plausibility::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The verdict, once the server has given itself away.
    pub fn verdict(&self) -> Option<ImplausibleServer> {
        self.state().verdict.clone()
    }

    pub fn tripped(&self) -> bool {
        self.state().verdict.is_some()
    }

    /// The server chose `suite`, which the hello did not offer.
    pub fn not_offered(&self, protocol: Protocol, suite: u16) -> ImplausibleServer {
        let name = registry().name(u32::from(suite));
        self.settle(ImplausibleServer {
            reason: ImplausibleReason::SuiteNotOffered,
            protocol,
            detail: format!("it chose {name} over {protocol}, which was not offered"),
            suites: vec![name],
        })
    }

    /// Judge one accepted suite and the flight it came with (`key_shares`: the groups whose
    /// shares the hello carried); the verdict when the server is now known to be implausible
    /// (the first verdict stands).
    pub fn observe(
        &self,
        protocol: Protocol,
        suite: u16,
        flight: &ServerFlight,
        key_shares: &[u16],
    ) -> Option<ImplausibleServer> {
        if let Some(hello) = flight.server_hello.as_ref().filter(|h| h.is_hello_retry_request()) {
            let group = hello.key_share_group().ok().flatten()?;
            if !key_shares.contains(&group) {
                return None;
            }
            let name = registry().name(u32::from(suite));
            return Some(self.settle(ImplausibleServer {
                reason: ImplausibleReason::RetryForOfferedKeyShare,
                protocol,
                detail: format!(
                    "its HelloRetryRequest ({name}) asks for {}, whose key share the hello carried",
                    crate::tls::registry::group_name(group)
                ),
                suites: vec![name],
            }));
        }
        let info = registry().get(u32::from(suite))?;
        let leaf = flight.certificates.as_ref().and_then(|chain| chain.first())?;
        let name = info.iana_name.clone();
        let verdict = match needs(info) {
            Needs::Unknown => return None,
            Needs::NoCertificate => ImplausibleServer {
                reason: ImplausibleReason::CertificateWithoutAuthentication,
                protocol,
                detail: format!("it sent a certificate with {name}, which authenticates without one"),
                suites: vec![name],
            },
            Needs::Key(needed) => match key_kind(leaf) {
                Some(actual) if actual != needed => ImplausibleServer {
                    reason: ImplausibleReason::KeyDoesNotFitSuite,
                    protocol,
                    detail: format!(
                        "it chose {name} (needs an {} key) with a certificate holding an {} key",
                        needed.name(),
                        actual.name()
                    ),
                    suites: vec![name],
                },
                _ => {
                    let mut state = self.state();
                    let (first_kind, first_suite) =
                        state.served.entry(leaf.clone()).or_insert_with(|| (needed, name.clone())).clone();
                    drop(state);
                    if first_kind == needed {
                        return None;
                    }
                    ImplausibleServer {
                        reason: ImplausibleReason::OneCertificateManyKeyTypes,
                        protocol,
                        detail: format!(
                            "one certificate served {first_suite} (an {} key) and {name} (an {} key)",
                            first_kind.name(),
                            needed.name()
                        ),
                        suites: vec![first_suite, name],
                    }
                }
            },
        };
        Some(self.settle(verdict))
    }

    fn settle(&self, verdict: ImplausibleServer) -> ImplausibleServer {
        self.state().verdict.get_or_insert(verdict).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(name: &str) -> u16 {
        let found =
            registry().legacy_candidates(Protocol::Tls12).into_iter().find(|&c| registry().name(u32::from(c)) == name);
        found.unwrap_or_else(|| panic!("{name} in the registry"))
    }

    fn flight(leaf: &[u8]) -> ServerFlight {
        ServerFlight { certificates: Some(vec![leaf.to_vec()]), ..ServerFlight::default() }
    }

    #[test]
    fn one_certificate_for_rsa_and_ecdsa_suites_is_implausible() {
        let plausibility = Plausibility::new();
        let garbage = b"not a certificate".to_vec();
        let rsa = code("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        let ecdsa = code("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(plausibility.observe(Protocol::Tls12, rsa, &flight(&garbage), &[]), None);
        assert_eq!(
            plausibility.observe(Protocol::Tls12, code("TLS_RSA_WITH_AES_128_CBC_SHA"), &flight(&garbage), &[]),
            None
        );
        let verdict = plausibility.observe(Protocol::Tls12, ecdsa, &flight(&garbage), &[]).expect("a verdict");
        assert_eq!(verdict.reason, ImplausibleReason::OneCertificateManyKeyTypes);
        assert_eq!(
            verdict.suites,
            vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
        );
        assert!(plausibility.tripped());
    }

    #[test]
    fn a_certificate_per_key_type_is_plausible() {
        // A server with an RSA and an ECDSA certificate, each sent with its own suites.
        let plausibility = Plausibility::new();
        let rsa = code("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        let ecdsa = code("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(plausibility.observe(Protocol::Tls12, rsa, &flight(b"rsa leaf"), &[]), None);
        assert_eq!(plausibility.observe(Protocol::Tls12, ecdsa, &flight(b"ecdsa leaf"), &[]), None);
        // Anonymous and PSK suites come without a certificate.
        let anonymous = code("TLS_DH_anon_WITH_AES_128_CBC_SHA");
        assert_eq!(plausibility.observe(Protocol::Tls12, anonymous, &ServerFlight::default(), &[]), None);
        assert!(!plausibility.tripped());
    }

    #[test]
    fn a_certificate_with_an_anonymous_suite_is_implausible() {
        let plausibility = Plausibility::new();
        let anonymous = code("TLS_DH_anon_WITH_AES_128_CBC_SHA");
        let verdict = plausibility.observe(Protocol::Tls10, anonymous, &flight(b"x"), &[]).expect("a verdict");
        assert_eq!(verdict.reason, ImplausibleReason::CertificateWithoutAuthentication);
        assert_eq!(verdict.protocol, Protocol::Tls10);
    }

    #[test]
    fn the_first_verdict_stands() {
        let plausibility = Plausibility::new();
        let first = plausibility.not_offered(Protocol::Tls11, 0x1234);
        assert_eq!(first.suites, vec!["UNKNOWN_0x1234"]);
        let anonymous = code("TLS_DH_anon_WITH_AES_128_CBC_SHA");
        assert_eq!(plausibility.observe(Protocol::Tls12, anonymous, &flight(b"x"), &[]), Some(first.clone()));
        assert_eq!(plausibility.verdict(), Some(first));
    }
}
