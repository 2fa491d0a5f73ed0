//! Client certificate authentication: whether the server asks for a client certificate
//! (a CertificateRequest in its TLS ≤ 1.2 hello flight, read by the sweep at no connection),
//! which certificate types and CAs it names, and whether it insists: one TLS 1.2 handshake
//! (`tls::vuln::tls12`) answering the request with an empty Certificate, which a server that
//! requires a certificate refuses. Facts only: a mutual-TLS endpoint is not a fault in itself.
//!
//! Cost: one connection, only when a certificate was requested and TLS 1.2 is accepted with a
//! suite postura's TLS 1.2 client speaks; otherwise none. TLS 1.3 sends its CertificateRequest
//! encrypted, so a TLS 1.3-only server's answer is null.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tls::codec::CertificateRequest;
use crate::tls::registry::Protocol;
use crate::tls::sweep::SweepTarget;
use crate::tls::vuln::tls12::{self, Handshake};

/// The most CA names kept (a server may list hundreds: every CA of a national PKI).
pub const MAX_CA_NAMES: usize = 32;

/// What the server says about client certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientAuthFact {
    /// The protocol whose hello flight was read.
    pub protocol: Option<Protocol>,
    /// The flight carried a CertificateRequest.
    pub requested: bool,
    /// A handshake with an empty client Certificate was refused (true) or completed (false);
    /// null when not requested or not tested.
    pub required: Option<bool>,
    /// ClientCertificateType names (`rsa_sign`, `ecdsa_sign`, …, or the code).
    pub certificate_types: Vec<String>,
    /// Distinguished names of the CAs the server accepts, as text, at most `MAX_CA_NAMES`.
    pub ca_names: Vec<String>,
    /// How many CA names the server sent (may exceed `ca_names`).
    pub ca_names_sent: usize,
    /// What `required` rests on.
    pub evidence: Vec<String>,
    /// Connections the `required` test opened.
    pub connections: u32,
}

impl ClientAuthFact {
    /// From the hello flight of `protocol`: the request, if any.
    pub fn from_flight(protocol: Protocol, request: Option<&CertificateRequest>) -> ClientAuthFact {
        let Some(request) = request else {
            return ClientAuthFact { protocol: Some(protocol), ..ClientAuthFact::default() };
        };
        ClientAuthFact {
            protocol: Some(protocol),
            requested: true,
            required: None,
            certificate_types: request.certificate_types.iter().map(|&code| certificate_type_name(code)).collect(),
            ca_names: request.authorities.iter().take(MAX_CA_NAMES).map(|der| name_text(der)).collect(),
            ca_names_sent: request.authorities.len(),
            evidence: Vec::new(),
            connections: 0,
        }
    }
}

fn certificate_type_name(code: u8) -> String {
    match code {
        1 => "rsa_sign".into(),
        2 => "dss_sign".into(),
        3 => "rsa_fixed_dh".into(),
        4 => "dss_fixed_dh".into(),
        64 => "ecdsa_sign".into(),
        65 => "rsa_fixed_ecdh".into(),
        66 => "ecdsa_fixed_ecdh".into(),
        other => format!("unknown({other})"),
    }
}

/// RFC 4514-style text of a DER Name, or a note when it does not parse.
fn name_text(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer;
    match x509_parser::x509::X509Name::from_der(der) {
        Ok(([], name)) => name.to_string(),
        _ => format!("(unparsable name of {} bytes)", der.len()),
    }
}

/// Whether a requested certificate is required: one handshake without one.
pub async fn probe(target: &SweepTarget, fact: &mut ClientAuthFact, tls12_suites: &[u16]) {
    if !fact.requested {
        return;
    }
    if !tls12_suites.iter().any(|&s| tls12::speaks(s)) {
        fact.evidence.push("not tested: needs TLS 1.2 with an ECDHE or DHE AES-GCM or ChaCha20-Poly1305 suite".into());
        return;
    }
    fact.connections = 1;
    match tls12::handshake(&target.connector, target.sni.as_deref(), false).await {
        Ok(Handshake::Established(_)) => {
            fact.required = Some(false);
            fact.evidence.push("a TLS 1.2 handshake with an empty client Certificate was completed".into());
        }
        Ok(Handshake::Refused { alert, certificate_requested: true }) => {
            fact.required = Some(true);
            fact.evidence.push(format!("a TLS 1.2 handshake with an empty client Certificate was refused ({alert})"));
        }
        Ok(Handshake::Refused { alert, certificate_requested: false }) => {
            fact.evidence
                .push(format!("the TLS 1.2 handshake asked for no certificate this time and was refused ({alert})"));
        }
        Err(error) => fact.evidence.push(format!("TLS 1.2 handshake: {error}")),
    }
}
