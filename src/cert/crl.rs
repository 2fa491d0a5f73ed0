//! CRLs (RFC 5280 §5): a fetched CRL is parsed (DER, or PEM as some CAs serve it), its issuer
//! name and signature checked against the leaf's issuer, its thisUpdate/nextUpdate window
//! against now, and then searched for the leaf's serial.

use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::facts::{RevocationCheck, RevocationStatus};
use super::parse::ParsedCert;
use super::sig::SignatureCheck;

/// RFC 5280 CRLReason names.
pub fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unknown reason code",
    }
}

fn check(status: RevocationStatus, reason: Option<String>) -> RevocationCheck {
    RevocationCheck {
        status,
        reason,
        url: None,
        this_update: None,
        next_update: None,
        revocation_time: None,
        signer: None,
    }
}

fn strip_zeros(integer: &[u8]) -> &[u8] {
    let start = integer.iter().position(|b| *b != 0).unwrap_or(integer.len());
    &integer[start..]
}

/// Decodes a PEM "X509 CRL" body when the bytes are PEM; otherwise returns them unchanged.
fn der_of(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(b"-----BEGIN") {
        return Some(bytes.to_vec());
    }
    super::pem_blocks(bytes).into_iter().next()
}

/// What the CRL in `bytes` says about `leaf` (issued by `issuer`) at `now`.
pub fn check_crl(bytes: &[u8], leaf: &ParsedCert, issuer: &ParsedCert, now: i64) -> RevocationCheck {
    let Some(der_bytes) = der_of(bytes) else {
        return check(RevocationStatus::Error, Some("malformed PEM CRL".into()));
    };
    let crl = match CertificateRevocationList::from_der(&der_bytes) {
        Ok((_, crl)) => crl,
        Err(error) => return check(RevocationStatus::Error, Some(format!("malformed CRL: {error}"))),
    };
    if crl.issuer().as_raw() != issuer.subject_raw.as_slice() {
        return check(
            RevocationStatus::Error,
            Some(format!("CRL issued by {}, not by the leaf's issuer", crl.issuer())),
        );
    }
    let signature = super::sig::verify(
        &crl.signature_algorithm.algorithm.to_id_string(),
        &issuer.key_oid,
        issuer.curve_oid.as_deref(),
        &issuer.public_key,
        crl.tbs_cert_list.as_ref(),
        &crl.signature_value.data,
    );
    match signature {
        SignatureCheck::Valid => {}
        SignatureCheck::Invalid => {
            return check(RevocationStatus::Error, Some("CRL signature does not verify with the issuer's key".into()))
        }
        SignatureCheck::Unsupported(what) => {
            return check(RevocationStatus::Error, Some(format!("CRL signature not checkable: {what}")))
        }
    }
    let this_update = crl.last_update().timestamp();
    let next_update = crl.next_update().map(|t| t.timestamp());
    let mut result = check(RevocationStatus::Good, None);
    result.this_update = Some(super::rfc3339(this_update));
    result.next_update = next_update.map(super::rfc3339);
    result.signer = Some("issuer".into());
    if this_update > now + super::ocsp::CLOCK_SKEW_SECONDS {
        result.status = RevocationStatus::Error;
        result.reason = Some("thisUpdate is in the future".into());
        return result;
    }
    if next_update.is_some_and(|next| now > next) {
        result.status = RevocationStatus::Error;
        result.reason = Some("stale: nextUpdate has passed".into());
        return result;
    }
    let serial = strip_zeros(&leaf.serial);
    if let Some(entry) = crl.iter_revoked_certificates().find(|entry| strip_zeros(entry.raw_serial()) == serial) {
        result.status = RevocationStatus::Revoked;
        result.revocation_time = Some(super::rfc3339(entry.revocation_date.timestamp()));
        result.reason = entry.reason_code().map(|(_, code)| format!("reason: {}", reason_name(code.0)));
    }
    result
}
