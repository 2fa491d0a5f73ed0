//! OCSP (RFC 6960): a request for the leaf built by hand (SHA-1 CertID, as every responder
//! understands), and a response parsed and validated by hand — responder status, the
//! SingleResponse whose CertID is the leaf's, the signature (by the issuer, or by a delegated
//! responder certificate that the issuer signed and that carries the OCSPSigning EKU), and the
//! thisUpdate/nextUpdate window. Nothing here trusts the response's own claims before checking.

use base64::Engine as _;
use ring::digest;

use super::der::{self, Element};
use super::facts::{RevocationCheck, RevocationStatus, SctFact};
use super::parse::{parse_certificate, ParsedCert};
use super::sig::SignatureCheck;

const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
const OID_CT_OCSP_SCTS: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x05];

/// Clock difference tolerated between a responder and postura when checking thisUpdate.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// The DER OCSPRequest asking about `leaf` (issued by `issuer`).
pub fn build_request(leaf: &ParsedCert, issuer: &ParsedCert) -> Vec<u8> {
    let algorithm = der::sequence(&[&der::encode(der::TAG_OID, OID_SHA1), &der::encode(der::TAG_NULL, &[])]);
    let name_hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &leaf.issuer_raw);
    let key_hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &issuer.public_key);
    let cert_id = der::sequence(&[
        &algorithm,
        &der::encode(der::TAG_OCTET_STRING, name_hash.as_ref()),
        &der::encode(der::TAG_OCTET_STRING, key_hash.as_ref()),
        &der::encode(der::TAG_INTEGER, &leaf.serial),
    ]);
    let request = der::sequence(&[&cert_id]);
    let request_list = der::sequence(&[&request]);
    let tbs_request = der::sequence(&[&request_list]);
    der::sequence(&[&tbs_request])
}

/// A response's verdict on the leaf, plus SCTs found in its single extensions.
pub struct OcspOutcome {
    pub check: RevocationCheck,
    pub scts: Vec<SctFact>,
}

fn error(reason: impl Into<String>) -> OcspOutcome {
    OcspOutcome {
        check: RevocationCheck {
            status: RevocationStatus::Error,
            reason: Some(reason.into()),
            url: None,
            this_update: None,
            next_update: None,
            revocation_time: None,
            signer: None,
        },
        scts: Vec::new(),
    }
}

fn strip_zeros(integer: &[u8]) -> &[u8] {
    let start = integer.iter().position(|b| *b != 0).unwrap_or(integer.len());
    &integer[start..]
}

fn responder_status_name(code: u8) -> String {
    match code {
        1 => "malformedRequest".into(),
        2 => "internalError".into(),
        3 => "tryLater".into(),
        5 => "sigRequired".into(),
        6 => "unauthorized".into(),
        other => format!("status {other}"),
    }
}

/// Whether a CertID names `leaf` issued by `issuer`.
fn cert_id_matches(cert_id: &Element<'_>, leaf: &ParsedCert, issuer: &ParsedCert) -> Option<bool> {
    let mut fields = cert_id.reader();
    let algorithm = fields.expect(der::TAG_SEQUENCE)?;
    let oid = algorithm.reader().expect(der::TAG_OID)?;
    let name_hash = fields.expect(der::TAG_OCTET_STRING)?;
    let key_hash = fields.expect(der::TAG_OCTET_STRING)?;
    let serial = fields.expect(der::TAG_INTEGER)?;
    let hash: &'static digest::Algorithm = match oid.content {
        OID_SHA1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        OID_SHA256 => &digest::SHA256,
        _ => return Some(false),
    };
    Some(
        strip_zeros(serial.content) == strip_zeros(&leaf.serial)
            && digest::digest(hash, &leaf.issuer_raw).as_ref() == name_hash.content
            && digest::digest(hash, &issuer.public_key).as_ref() == key_hash.content,
    )
}

fn rfc3339(seconds: i64) -> String {
    super::rfc3339(seconds)
}

/// SCTs in an OCSP single extension (an OCTET STRING wrapping the TLS-encoded list).
fn ocsp_scts(extensions: &Element<'_>) -> Vec<SctFact> {
    let mut found = Vec::new();
    let Some(list) = extensions.reader().expect(der::TAG_SEQUENCE) else {
        return found;
    };
    let mut reader = list.reader();
    while let Some(extension) = reader.next() {
        let mut fields = extension.reader();
        let Some(oid) = fields.expect(der::TAG_OID) else {
            continue;
        };
        if oid.content != OID_CT_OCSP_SCTS {
            continue;
        }
        let _critical = fields.optional(0x01);
        let Some(outer) = fields.expect(der::TAG_OCTET_STRING) else {
            continue;
        };
        let Some(inner) = der::single(outer.content, der::TAG_OCTET_STRING) else {
            continue;
        };
        found.extend(tls_sct_list(inner.content, "ocsp"));
    }
    found
}

/// SCTs kept from one list (a certificate, a staple, the TLS extension): real ones carry 2–5,
/// a u16-length list could hold about 1600.
pub const MAX_SCTS_PER_SOURCE: usize = 64;

/// Parses a TLS-encoded SignedCertificateTimestampList (RFC 6962 §3.3): log ids and timestamps,
/// at most `MAX_SCTS_PER_SOURCE`.
pub fn tls_sct_list(bytes: &[u8], source: &str) -> Vec<SctFact> {
    let mut found = Vec::new();
    let Some(total) = bytes.get(..2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))) else {
        return found;
    };
    let mut rest = bytes.get(2..2 + total).unwrap_or_default();
    while rest.len() >= 2 && found.len() < MAX_SCTS_PER_SOURCE {
        let length = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let Some(sct) = rest.get(2..2 + length) else {
            break;
        };
        rest = &rest[2 + length..];
        // version (1) | log id (32) | timestamp (8) | …
        if let (Some(log_id), Some(stamp)) = (sct.get(1..33), sct.get(33..41)) {
            let mut millis = [0u8; 8];
            millis.copy_from_slice(stamp);
            let millis = u64::from_be_bytes(millis);
            found.push(SctFact {
                source: source.to_string(),
                log_id: base64::engine::general_purpose::STANDARD.encode(log_id),
                timestamp: rfc3339(i64::try_from(millis / 1000).unwrap_or(i64::MAX)),
            });
        }
    }
    found
}

/// Parses and validates an OCSPResponse about `leaf` at time `now` (Unix seconds).
pub fn validate_response(bytes: &[u8], leaf: &ParsedCert, issuer: &ParsedCert, now: i64) -> OcspOutcome {
    let Some(response) = der::single(bytes, der::TAG_SEQUENCE) else {
        return error("malformed OCSP response (not one DER SEQUENCE)");
    };
    let mut fields = response.reader();
    let Some(status) = fields.expect(der::TAG_ENUMERATED) else {
        return error("malformed OCSP response (no responseStatus)");
    };
    match status.content {
        [0] => {}
        [code] => return error(format!("responder answered {}", responder_status_name(*code))),
        _ => return error("malformed OCSP response (bad responseStatus)"),
    }
    let basic = (|| {
        let wrapper = fields.expect(der::context(0))?;
        let response_bytes = wrapper.reader().expect(der::TAG_SEQUENCE)?;
        let mut inner = response_bytes.reader();
        let kind = inner.expect(der::TAG_OID)?;
        let octets = inner.expect(der::TAG_OCTET_STRING)?;
        (kind.content == OID_OCSP_BASIC).then_some(octets.content)
    })();
    let Some(basic) = basic else {
        return error("malformed OCSP response (no basic response)");
    };
    let parsed = (|| {
        let basic = der::single(basic, der::TAG_SEQUENCE)?;
        let mut fields = basic.reader();
        let tbs = fields.expect(der::TAG_SEQUENCE)?;
        let algorithm = fields.expect(der::TAG_SEQUENCE)?;
        let algorithm_oid = algorithm.reader().expect(der::TAG_OID)?;
        let signature = fields.expect(der::TAG_BIT_STRING)?;
        let certs = fields.optional(der::context(0));
        Some((tbs, algorithm_oid, signature, certs))
    })();
    let Some((tbs, algorithm_oid, signature, certs)) = parsed else {
        return error("malformed BasicOCSPResponse");
    };
    let Some(signature_bits) = signature.content.split_first().filter(|(unused, _)| **unused == 0).map(|(_, s)| s)
    else {
        return error("malformed OCSP signature");
    };
    let algorithm_oid = match asn1_oid_text(algorithm_oid.content) {
        Some(text) => text,
        None => return error("malformed OCSP signature algorithm"),
    };

    // Who signed it: the issuer itself, or a certificate included in the response that the
    // issuer signed and that carries the OCSPSigning EKU.
    let by = |signer: &ParsedCert| {
        super::sig::verify(
            &algorithm_oid,
            &signer.key_oid,
            signer.curve_oid.as_deref(),
            &signer.public_key,
            tbs.raw,
            signature_bits,
        )
    };
    let mut signer = None;
    let mut signer_problem = None;
    match by(issuer) {
        SignatureCheck::Valid => signer = Some("issuer"),
        SignatureCheck::Unsupported(what) => {
            signer_problem = Some(format!("signature algorithm not checkable: {what}"))
        }
        SignatureCheck::Invalid => {}
    }
    if signer.is_none() {
        let included: Vec<ParsedCert> = certs
            .and_then(|wrapper| wrapper.reader().expect(der::TAG_SEQUENCE))
            .map(|list| {
                let mut reader = list.reader();
                let mut out = Vec::new();
                while let Some(cert) = reader.next() {
                    if let Ok(parsed) = parse_certificate(cert.raw) {
                        out.push(parsed);
                    }
                }
                out
            })
            .unwrap_or_default();
        for candidate in &included {
            if by(candidate) != SignatureCheck::Valid {
                continue;
            }
            if !candidate.issued_by(issuer) {
                signer_problem = Some(format!("signed by {}, which the issuer did not sign", candidate.subject));
            } else if !candidate.ocsp_signing {
                signer_problem = Some(format!("signed by {}, which lacks the OCSPSigning EKU", candidate.subject));
            } else if now < candidate.not_before || now > candidate.not_after {
                signer_problem = Some(format!("signed by {}, outside its validity", candidate.subject));
            } else {
                signer = Some("delegated");
                break;
            }
        }
    }
    let Some(signer) = signer else {
        return error(signer_problem.unwrap_or_else(|| {
            "signature verifies with neither the issuer's key nor an included responder certificate".into()
        }));
    };

    // ResponseData: [0] version?, responderID, producedAt, responses, [1] extensions?
    let mut data = tbs.reader();
    let _version = data.optional(der::context(0));
    let responder = data.next();
    let produced = data.expect(der::TAG_GENERALIZED_TIME);
    let responses = data.expect(der::TAG_SEQUENCE);
    let (Some(_responder), Some(_produced), Some(responses)) = (responder, produced, responses) else {
        return error("malformed OCSP ResponseData");
    };
    let mut list = responses.reader();
    while let Some(single) = list.next() {
        let mut fields = single.reader();
        let Some(cert_id) = fields.expect(der::TAG_SEQUENCE) else {
            continue;
        };
        if cert_id_matches(&cert_id, leaf, issuer) != Some(true) {
            continue;
        }
        let Some(cert_status) = fields.next() else {
            return error("malformed SingleResponse");
        };
        let this_update = fields.expect(der::TAG_GENERALIZED_TIME).and_then(|t| der::generalized_time(&t));
        let next_update = fields
            .optional(der::context(0))
            .and_then(|wrapper| wrapper.reader().expect(der::TAG_GENERALIZED_TIME))
            .and_then(|t| der::generalized_time(&t));
        let scts = fields.optional(der::context(1)).map(|e| ocsp_scts(&e)).unwrap_or_default();
        let Some(this_update) = this_update else {
            return error("malformed thisUpdate");
        };
        let mut check = RevocationCheck {
            status: RevocationStatus::Error,
            reason: None,
            url: None,
            this_update: Some(rfc3339(this_update)),
            next_update: next_update.map(rfc3339),
            revocation_time: None,
            signer: Some(signer.to_string()),
        };
        if this_update > now + CLOCK_SKEW_SECONDS {
            check.reason = Some("thisUpdate is in the future".into());
            return OcspOutcome { check, scts };
        }
        if next_update.is_some_and(|next| now > next) {
            check.reason = Some("stale: nextUpdate has passed".into());
            return OcspOutcome { check, scts };
        }
        match cert_status.tag {
            0x80 => check.status = RevocationStatus::Good,
            0xa1 => {
                check.status = RevocationStatus::Revoked;
                let mut info = cert_status.reader();
                check.revocation_time =
                    info.expect(der::TAG_GENERALIZED_TIME).and_then(|t| der::generalized_time(&t)).map(rfc3339);
                check.reason = info
                    .optional(der::context(0))
                    .and_then(|wrapper| wrapper.reader().expect(der::TAG_ENUMERATED))
                    .and_then(|code| code.content.first().copied())
                    .map(|code| format!("reason: {}", super::crl::reason_name(code)));
            }
            0x82 => {
                check.status = RevocationStatus::Unknown;
                check.reason = Some("the responder does not know this certificate".into());
            }
            _ => check.reason = Some("malformed certStatus".into()),
        }
        return OcspOutcome { check, scts };
    }
    error("the response has no entry for this certificate (CertID mismatch)")
}

/// Dotted text of a DER-encoded OID's content.
fn asn1_oid_text(content: &[u8]) -> Option<String> {
    let (first, rest) = content.split_first()?;
    let mut parts = vec![u64::from(*first / 40).min(2), 0];
    parts[1] = u64::from(*first) - parts[0] * 40;
    let mut value: u64 = 0;
    for byte in rest {
        value = value.checked_mul(128)? | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            parts.push(value);
            value = 0;
        }
    }
    Some(parts.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_text() {
        assert_eq!(asn1_oid_text(OID_OCSP_BASIC).as_deref(), Some("1.3.6.1.5.5.7.48.1.1"));
        assert_eq!(
            asn1_oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]).as_deref(),
            Some("1.2.840.113549.1.1.11")
        );
    }

    #[test]
    fn sct_list_parsing_is_bounded() {
        let mut sct = vec![0u8];
        sct.extend([7u8; 32]);
        sct.extend(1_700_000_000_000u64.to_be_bytes());
        sct.extend([0, 0]);
        let mut list = (sct.len() as u16).to_be_bytes().to_vec();
        list.extend(&sct);
        let mut bytes = (list.len() as u16).to_be_bytes().to_vec();
        bytes.extend(&list);
        let found = tls_sct_list(&bytes, "ocsp");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].timestamp, "2023-11-14T22:13:20Z");
        for cut in 0..bytes.len() {
            assert!(tls_sct_list(&bytes[..cut], "ocsp").len() <= 1);
        }
    }
}
