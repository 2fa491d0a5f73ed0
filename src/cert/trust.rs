//! Trust stores and the per-store verdict. Path building and verification are rustls-webpki's
//! (the same code rustls clients run); where webpki refuses a chain for reasons of its own
//! (SHA-1 or MD5 signatures, RSA keys under 2048 bits, DSA), the refusal is named precisely from
//! the chain itself instead of being reported as a bad signature.

use std::path::Path;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use x509_parser::prelude::FromDer;

use super::der;
use super::facts::TrustVerdict;
use super::parse::{parse_certificate, ParsedCert};

/// A named set of trust anchors.
#[derive(Debug, Clone)]
pub struct TrustStore {
    /// `mozilla`, or the CA file as given.
    pub name: String,
    pub anchors: Vec<TrustAnchor<'static>>,
    /// The anchors as certificates when the store came from a file (webpki-roots has only the
    /// subject and key): used to find the leaf's issuer for revocation checks.
    pub certificates: Vec<ParsedCert>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("CA file {path}: {reason}")]
    File { path: String, reason: String },
}

impl TrustStore {
    /// Mozilla's root program, as shipped by webpki-roots.
    pub fn mozilla() -> TrustStore {
        TrustStore {
            name: "mozilla".into(),
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            certificates: Vec::new(),
        }
    }

    /// Every certificate of a PEM bundle as an anchor.
    pub fn from_pem_file(path: &Path) -> Result<TrustStore, StoreError> {
        let name = path.display().to_string();
        let failure = |reason: String| StoreError::File { path: name.clone(), reason };
        let bytes = std::fs::read(path).map_err(|e| failure(e.to_string()))?;
        let blocks = super::pem_blocks(&bytes);
        if blocks.is_empty() {
            return Err(failure("no PEM CERTIFICATE block".into()));
        }
        let mut store = TrustStore { name: name.clone(), anchors: Vec::new(), certificates: Vec::new() };
        for (index, block) in blocks.iter().enumerate() {
            let certificate = CertificateDer::from(block.as_slice());
            let anchor = webpki::anchor_from_trusted_cert(&certificate)
                .map_err(|e| failure(format!("certificate {}: {e:?}", index + 1)))?
                .to_owned();
            store.anchors.push(anchor);
            if let Ok(parsed) = parse_certificate(block) {
                store.certificates.push(parsed);
            }
        }
        Ok(store)
    }

    /// Whether one of the anchors has `name` (a full DER Name, as in a certificate's issuer).
    pub fn has_subject(&self, name: &[u8]) -> bool {
        let Some(content) = der::single(name, der::TAG_SEQUENCE).map(|e| e.content) else {
            return false;
        };
        self.anchors.iter().any(|anchor| anchor.subject.as_ref() == content)
    }

    /// Whether `cert` is one of the anchors (same subject and key).
    pub fn contains(&self, cert: &ParsedCert) -> bool {
        let Some(subject) = der::single(&cert.subject_raw, der::TAG_SEQUENCE).map(|e| e.content) else {
            return false;
        };
        let spki = spki_content(&cert.der);
        self.anchors.iter().any(|anchor| {
            anchor.subject.as_ref() == subject && spki.as_deref() == Some(anchor.subject_public_key_info.as_ref())
        })
    }
}

/// The SubjectPublicKeyInfo content (without its SEQUENCE header) of a certificate.
fn spki_content(der_bytes: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der_bytes).ok()?;
    der::single(cert.public_key().raw, der::TAG_SEQUENCE).map(|e| e.content.to_vec())
}

fn name_text(content: &[u8]) -> String {
    let wrapped = der::encode(der::TAG_SEQUENCE, content);
    match x509_parser::x509::X509Name::from_der(&wrapped) {
        Ok((_, name)) => name.to_string(),
        Err(_) => "(unparsable name)".into(),
    }
}

fn verdict(code: &str, reason: String) -> TrustVerdict {
    TrustVerdict { trusted: false, reason_code: Some(code.into()), reason: Some(reason), path: Vec::new() }
}

/// What, on the certificates of `path` (leaf first, each issued by the next), makes webpki refuse
/// a signature: a broken hash, a short RSA key or DSA. Self-signed roots' own signatures are
/// exempt (nobody checks them).
pub fn name_weakness(path: &[&ParsedCert]) -> Option<(&'static str, String)> {
    for (position, cert) in path.iter().enumerate() {
        let role = if position == 0 { "leaf" } else { "intermediate" };
        let self_signed = cert.self_issued() && position + 1 == path.len();
        if !self_signed {
            if let Some(hash) = super::sig::weak_hash(&cert.signature_oid) {
                let code = if hash == "SHA-1" { "sha1_signature" } else { "md5_signature" };
                return Some((
                    code,
                    format!(
                        "{role} certificate {} is signed with {} ({hash})",
                        cert.subject,
                        super::sig::signature_name(&cert.signature_oid)
                    ),
                ));
            }
            if super::sig::is_dsa(&cert.signature_oid) {
                return Some(("dsa_key", format!("{role} certificate {} is signed with DSA", cert.subject)));
            }
        }
        // Keys that sign something on the path.
        if position > 0 {
            if cert.key.r#type == "RSA" && cert.key.bits.is_some_and(|bits| bits < 2048) {
                return Some((
                    "weak_rsa_key",
                    format!("issuer {} has an RSA key of {} bits", cert.subject, cert.key.bits.unwrap_or(0)),
                ));
            }
            if cert.key.r#type == "DSA" {
                return Some(("dsa_key", format!("issuer {} has a DSA key", cert.subject)));
            }
        }
    }
    None
}

/// The verdict of `store` on `leaf` with the `intermediates` available (sent and fetched),
/// at `now`. `legacy_path` is the path postura built itself (leaf first), used to name refusals.
pub fn verify(
    store: &TrustStore,
    leaf: &ParsedCert,
    intermediates: &[Vec<u8>],
    now: i64,
    legacy_path: &[&ParsedCert],
    leaf_self_signed: bool,
) -> TrustVerdict {
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let end_entity = match webpki::EndEntityCert::try_from(&leaf_der) {
        Ok(end_entity) => end_entity,
        // webpki reads DER lengths of at most two bytes: a well-formed certificate over 64 KiB
        // (thousands of SANs) is refused for its size, which is a compatibility fact
        // (`certificate.largest_certificate_bytes`), not a trust verdict. Its path is judged here.
        Err(_) if leaf.der.len() > WEBPKI_MAX_DER_BYTES => return verify_oversized(store, leaf, now, legacy_path),
        Err(error) => return verdict("malformed", format!("webpki cannot use the leaf: {error:?}")),
    };
    let intermediates: Vec<CertificateDer<'_>> =
        intermediates.iter().map(|der_bytes| CertificateDer::from(der_bytes.as_slice())).collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    let result = end_entity.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &store.anchors,
        &intermediates,
        time,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    );
    match result {
        Ok(path) => {
            let mut subjects: Vec<String> = path
                .intermediate_certificates()
                .map(|cert| parse_certificate(cert.der().as_ref()).map(|c| c.subject).unwrap_or_else(|e| e))
                .collect();
            subjects.push(name_text(path.anchor().subject.as_ref()));
            TrustVerdict { trusted: true, reason_code: None, reason: None, path: subjects }
        }
        Err(error) => explain(error, leaf, now, legacy_path, leaf_self_signed, store),
    }
}

/// The largest DER item webpki parses (its length fields have at most two bytes): 64 KiB.
pub const WEBPKI_MAX_DER_BYTES: usize = 0xFFFF;

/// The verdict on a leaf too large for webpki, from postura's own path (leaf first, each
/// certificate named and signed by the next): every signature must verify (postura's `sig`, on
/// `ring`), every certificate be within its validity, the issuers be CAs, the leaf not be a CA
/// and allow serverAuth, and the top be an anchor of the store or signed by one. Name
/// constraints and policies are not evaluated (webpki would; the test PKIs and public CAs'
/// paths to such leaves have none).
fn verify_oversized(store: &TrustStore, leaf: &ParsedCert, now: i64, path: &[&ParsedCert]) -> TrustVerdict {
    use super::sig::SignatureCheck;
    let path: Vec<&ParsedCert> = if path.is_empty() { vec![leaf] } else { path.to_vec() };
    if let Some(cert) = path.iter().find(|cert| now > cert.not_after) {
        return verdict("expired", format!("{} expired", cert.subject));
    }
    if let Some(cert) = path.iter().find(|cert| now < cert.not_before) {
        return verdict("not_yet_valid", format!("{} is not valid yet", cert.subject));
    }
    if leaf.is_ca {
        return verdict("ca_as_leaf", format!("the leaf {} is a CA certificate", leaf.subject));
    }
    if leaf
        .extended_key_usage
        .as_ref()
        .is_some_and(|ekus| !ekus.iter().any(|e| e == "serverAuth" || e == "anyExtendedKeyUsage"))
    {
        return verdict("no_server_auth_eku", "a certificate on the path does not allow serverAuth".into());
    }
    for pair in path.windows(2) {
        if !pair[1].is_ca {
            return verdict("path_constraint", format!("{} is not a CA", pair[1].subject));
        }
        if pair[0].signature_by(pair[1]) != SignatureCheck::Valid {
            return verdict("bad_signature", format!("the signature of {} does not verify", pair[0].subject));
        }
    }
    let top = path[path.len() - 1];
    let mut subjects: Vec<String> = path.iter().skip(1).map(|cert| cert.subject.clone()).collect();
    if path.len() > 1 && store.contains(top) {
        return TrustVerdict { trusted: true, reason_code: None, reason: None, path: subjects };
    }
    let issuer_name = der::single(&top.issuer_raw, der::TAG_SEQUENCE).map(|e| e.content.to_vec()).unwrap_or_default();
    let signed_by_anchor =
        store.anchors.iter().filter(|anchor| anchor.subject.as_ref() == issuer_name).find(|anchor| {
            anchor_key(anchor).is_some_and(|(key_oid, curve_oid, key)| {
                super::sig::verify(&top.signature_oid, &key_oid, curve_oid.as_deref(), &key, &top.tbs, &top.signature)
                    == SignatureCheck::Valid
            })
        });
    match signed_by_anchor {
        Some(anchor) => {
            subjects.push(name_text(anchor.subject.as_ref()));
            TrustVerdict { trusted: true, reason_code: None, reason: None, path: subjects }
        }
        None => verdict(
            "unknown_issuer",
            format!(
                "no path to an anchor of this store: {} is issued by {}, which is not in it",
                top.subject, top.issuer
            ),
        ),
    }
}

/// An anchor's key: algorithm OID, curve OID, key bits.
fn anchor_key(anchor: &TrustAnchor<'_>) -> Option<(String, Option<String>, Vec<u8>)> {
    let spki = der::encode(der::TAG_SEQUENCE, anchor.subject_public_key_info.as_ref());
    let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki).ok()?;
    let key_oid = info.algorithm.algorithm.to_id_string();
    let curve_oid = info.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
    Some((key_oid, curve_oid, info.subject_public_key.data.to_vec()))
}

#[allow(deprecated)] // the unit variants are still returned by webpki 0.103
fn explain(
    error: webpki::Error,
    leaf: &ParsedCert,
    now: i64,
    legacy_path: &[&ParsedCert],
    leaf_self_signed: bool,
    store: &TrustStore,
) -> TrustVerdict {
    use webpki::Error as E;
    let expired = legacy_path.iter().find(|cert| now > cert.not_after);
    let early = legacy_path.iter().find(|cert| now < cert.not_before);
    match error {
        E::UnknownIssuer | E::CaUsedAsEndEntity if leaf_self_signed && !store.contains(leaf) => {
            verdict("self_signed", format!("the leaf {} is self-signed", leaf.subject))
        }
        E::UnknownIssuer => {
            let last = legacy_path.last().map_or(leaf, |cert| *cert);
            verdict(
                "unknown_issuer",
                format!(
                    "no path to an anchor of this store: {} is issued by {}, which is not in it",
                    last.subject, last.issuer
                ),
            )
        }
        E::CertExpired { .. } => verdict(
            "expired",
            format!("{} expired", expired.map_or_else(|| leaf.subject.clone(), |cert| cert.subject.clone())),
        ),
        E::CertNotValidYet { .. } => verdict(
            "not_yet_valid",
            format!("{} is not valid yet", early.map_or_else(|| leaf.subject.clone(), |cert| cert.subject.clone())),
        ),
        E::CaUsedAsEndEntity => verdict("ca_as_leaf", format!("the leaf {} is a CA certificate", leaf.subject)),
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) => {
            verdict("no_server_auth_eku", "a certificate on the path does not allow serverAuth".into())
        }
        E::PathLenConstraintViolated | E::NameConstraintViolation | E::EndEntityUsedAsCa => {
            verdict("path_constraint", format!("{error:?}"))
        }
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => match name_weakness(legacy_path) {
            Some((code, reason)) => verdict(code, reason),
            None if matches!(error, E::InvalidSignatureForPublicKey) => {
                verdict("bad_signature", "a signature on the path does not verify".into())
            }
            None => verdict("unsupported_algorithm", format!("{error:?}")),
        },
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::MalformedExtensions | E::UnsupportedCertVersion => {
            verdict("malformed", format!("{error:?}"))
        }
        other => verdict("other", format!("{other:?}")),
    }
}
