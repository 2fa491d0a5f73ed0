//! DROWN across a scan: an endpoint is exposed when any endpoint of the scan that serves a
//! certificate with the same public key accepts SSLv2 (the attacker decrypts this endpoint's
//! RSA handshakes through the other one's SSLv2 oracle). The per-endpoint verdict (SSLv2 here) is
//! derived during the sweep; this join runs once every target is in, like the DANE and CAA joins.

use std::collections::BTreeMap;

use base64::Engine as _;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::facts::{TargetResult, TlsFacts};
use crate::tls::registry::Protocol;

/// SHA-256 of the leaf certificate's SubjectPublicKeyInfo, hex: the key's identity.
pub fn leaf_key_id(tls: &TlsFacts) -> Option<String> {
    let pem = tls.chain_pem.first()?;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let (_, certificate) = X509Certificate::from_der(&der).ok()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, certificate.public_key().raw);
    Some(digest.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Mark every target whose leaf key is also served by an SSLv2 endpoint of the scan (another
/// one: this endpoint's own SSLv2 is already its verdict).
pub fn across_scan(targets: &mut [TargetResult]) {
    let mut keys = Sslv2Keys::default();
    targets.iter().for_each(|target| keys.observe(target));
    targets.iter_mut().for_each(|target| keys.apply(target));
}

/// The leaf keys served with SSLv2 in a scan, and by which endpoints: gathered as each target
/// finishes ([`Sslv2Keys::observe`]), applied to each target afterwards ([`Sslv2Keys::apply`]).
/// Only SSLv2 endpoints are kept, so a scan need not hold every target for this join.
#[derive(Debug, Default)]
pub struct Sslv2Keys(BTreeMap<String, Vec<String>>);

impl Sslv2Keys {
    pub fn observe(&mut self, target: &TargetResult) {
        let Some(tls) = target.tls.as_ref().filter(|t| t.protocols.contains(&Protocol::Sslv2)) else {
            return;
        };
        if let Some(key) = leaf_key_id(tls) {
            self.0.entry(key).or_default().push(endpoint_name(target));
        }
    }

    /// Mark `target` when its leaf key is also served by another SSLv2 endpoint of the scan.
    pub fn apply(&self, target: &mut TargetResult) {
        if self.0.is_empty() {
            return;
        }
        let name = endpoint_name(target);
        let Some(tls) = target.tls.as_mut() else { return };
        let Some(key) = leaf_key_id(tls) else { return };
        let Some(others) = self.0.get(&key) else { return };
        let mut others: Vec<&String> = others.iter().filter(|other| **other != name).collect();
        if others.is_empty() {
            return;
        }
        // Targets finish in any order: list the others the same way every time.
        others.sort();
        let drown = &mut tls.vulnerabilities.drown;
        if drown.vulnerable != Some(true) {
            drown.evidence.clear();
        }
        drown.vulnerable = Some(true);
        for other in others {
            drown.evidence.push(format!("the certificate's key is also served with SSLv2 by {other}"));
        }
    }
}

fn endpoint_name(target: &TargetResult) -> String {
    match &target.address {
        Some(address) => format!("{}:{} ({address})", target.host, target.port),
        None => format!("{}:{}", target.host, target.port),
    }
}
