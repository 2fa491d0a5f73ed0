//! Client certificate authentication: whether the server asks for a client certificate
//! (a CertificateRequest in its TLS ≤ 1.2 hello flight, read by the sweep at no connection),
//! which certificate types and CAs it names, and whether it insists: one TLS 1.2 handshake
//! (`tls::vuln::tls12`) answering the request with an empty Certificate, which a server that
//! requires a certificate refuses. Facts only: a mutual-TLS endpoint is not a fault in itself.
//!
//! Cost: one connection, only when a certificate was requested and TLS 1.2 is accepted with a
//! suite postura's TLS 1.2 client speaks; otherwise none. A TLS 1.3-only server encrypts its
//! CertificateRequest: the sweep decrypts it from its own TLS 1.3 hello's flight
//! (`from_tls13_flight`, no connection); only when it is there does one rustls handshake
//! (`probe_tls13`) answer it with no certificate, then read for at most `TLS13_REFUSAL_WAIT`
//! the server's certificate_required alert. When the flight could not be decrypted, that rustls
//! handshake also records the request (one connection for every such server).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::tls::codec::tls13_flight::Tls13CertificateRequest;
use crate::tls::codec::CertificateRequest;
use crate::tls::registry::Protocol;
use crate::tls::sweep::SweepTarget;
use crate::tls::vuln::tls12::{self, Handshake};

/// The most CA names kept (a server may list hundreds: every CA of a national PKI).
pub const MAX_CA_NAMES: usize = 32;
/// How long a TLS 1.3 client waits after its Finished for a server to refuse the missing
/// certificate (servers alert at once; one that accepts sends nothing until it is asked).
pub const TLS13_REFUSAL_WAIT: Duration = Duration::from_secs(3);

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

impl ClientAuthFact {
    /// From a decrypted TLS 1.3 flight: the request, if any (TLS 1.3 names no certificate
    /// types; its signature algorithms are not kept here).
    pub fn from_tls13_flight(request: Option<&Tls13CertificateRequest>) -> ClientAuthFact {
        let Some(request) = request else {
            return ClientAuthFact {
                protocol: Some(Protocol::Tls13),
                evidence: vec!["no CertificateRequest in the sweep's decrypted TLS 1.3 flight".into()],
                ..ClientAuthFact::default()
            };
        };
        ClientAuthFact {
            protocol: Some(Protocol::Tls13),
            requested: true,
            ca_names: request.authorities.iter().take(MAX_CA_NAMES).map(|der| name_text(der)).collect(),
            ca_names_sent: request.authorities.len(),
            evidence: vec!["CertificateRequest decrypted from the sweep's TLS 1.3 flight".into()],
            ..ClientAuthFact::default()
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

/// Records a TLS 1.3 CertificateRequest's CA names and offers no certificate.
#[derive(Debug, Default)]
struct RecordingResolver {
    /// (names kept, names sent) once a certificate was requested.
    asked: Mutex<Option<(Vec<Vec<u8>>, usize)>>,
}

impl rustls::client::ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        if let Ok(mut asked) = self.asked.lock() {
            let kept = root_hint_subjects.iter().take(MAX_CA_NAMES).map(|name| name.to_vec()).collect();
            *asked = Some((kept, root_hint_subjects.len()));
        }
        None
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Whether a certificate request read from the decrypted TLS 1.3 flight is a requirement: one
/// rustls handshake without a certificate. The names stay those of the flight.
pub async fn probe_tls13_required(target: &SweepTarget, fact: &mut ClientAuthFact) {
    if !fact.requested {
        return;
    }
    let handshake = probe_tls13(target).await;
    fact.required = handshake.required;
    fact.connections += handshake.connections;
    if !handshake.requested && handshake.required.is_none() {
        fact.evidence.push("the rustls handshake was not asked for a certificate this time".into());
    }
    fact.evidence.extend(handshake.evidence);
}

/// Client authentication of a server reached only over TLS 1.3: one connection.
pub async fn probe_tls13(target: &SweepTarget) -> ClientAuthFact {
    use tokio::io::AsyncReadExt as _;
    let mut fact = ClientAuthFact { protocol: Some(Protocol::Tls13), connections: 1, ..ClientAuthFact::default() };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(crate::tls::rustls_probe::RecordingVerifier::new(&provider));
    let resolver = Arc::new(RecordingResolver::default());
    let builder = match rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
    {
        Ok(builder) => builder,
        Err(error) => {
            fact.evidence.push(error.to_string());
            return fact;
        }
    };
    let config =
        builder.dangerous().with_custom_certificate_verifier(verifier).with_client_cert_resolver(resolver.clone());
    let server_name = match target.sni.as_deref().map(|name| rustls::pki_types::ServerName::try_from(name.to_string()))
    {
        Some(Ok(name)) => name,
        Some(Err(error)) => {
            fact.evidence.push(format!("bad server name: {error}"));
            return fact;
        }
        None => rustls::pki_types::ServerName::IpAddress(target.connector.address.ip().into()),
    };
    let connection = match target.connector.connect().await {
        Ok(connection) => connection,
        Err(error) => {
            fact.evidence.push(format!("TLS 1.3 handshake: {error}"));
            return fact;
        }
    };
    let (stream, expires, _deadline_bound, _permit) = connection.into_parts();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = tokio::time::timeout_at(expires, tls.connect(server_name, stream)).await;
    let asked = resolver.asked.lock().ok().and_then(|mut asked| asked.take());
    if let Some((names, sent)) = &asked {
        fact.requested = true;
        fact.ca_names = names.iter().map(|der| name_text(der)).collect();
        fact.ca_names_sent = *sent;
    }
    let mut stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) if fact.requested => {
            fact.required = Some(true);
            fact.evidence.push(format!("a TLS 1.3 handshake without a client certificate was refused ({error})"));
            return fact;
        }
        Ok(Err(error)) => {
            fact.evidence.push(format!("TLS 1.3 handshake: {error}"));
            return fact;
        }
        Err(_) => {
            fact.evidence.push("TLS 1.3 handshake: timed out".into());
            return fact;
        }
    };
    if !fact.requested {
        fact.evidence.push("a TLS 1.3 handshake: no client certificate was requested".into());
        return fact;
    }
    let until = (tokio::time::Instant::now() + TLS13_REFUSAL_WAIT).min(expires);
    let mut byte = [0u8; 1];
    match tokio::time::timeout_at(until, stream.read(&mut byte)).await {
        Ok(Err(error)) => {
            fact.required = Some(true);
            fact.evidence.push(format!("a TLS 1.3 handshake without a client certificate was refused ({error})"));
        }
        Ok(Ok(0)) => fact.evidence.push("the connection was closed after the handshake, without an alert".into()),
        Ok(Ok(_)) | Err(_) => {
            fact.required = Some(false);
            fact.evidence.push("a TLS 1.3 handshake without a client certificate was not refused".into());
        }
    }
    fact
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_names_are_capped_and_unparsable_ones_noted() {
        // SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "CA n" } } }
        let name = |n: u8| {
            vec![0x30, 0x0f, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, b'C', b'A', b' ', n]
        };
        let mut authorities: Vec<Vec<u8>> = (0..40).map(|i| name(b'A' + i)).collect();
        authorities[1] = vec![0x30, 0x01];
        let request =
            CertificateRequest { certificate_types: vec![1, 64, 99], signature_algorithms: None, authorities };
        let fact = ClientAuthFact::from_flight(Protocol::Tls11, Some(&request));
        assert!(fact.requested);
        assert_eq!((fact.ca_names.len(), fact.ca_names_sent), (MAX_CA_NAMES, 40));
        assert_eq!(fact.ca_names[0], "CN=CA A");
        assert_eq!(fact.ca_names[1], "(unparsable name of 2 bytes)");
        assert_eq!(fact.certificate_types, ["rsa_sign", "ecdsa_sign", "unknown(99)"]);
        let none = ClientAuthFact::from_flight(Protocol::Tls12, None);
        assert_eq!((none.requested, none.required, none.protocol), (false, None, Some(Protocol::Tls12)));
    }
}
