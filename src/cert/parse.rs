//! One certificate, parsed with x509-parser into an owned summary: what the chain, name, trust
//! and revocation analyses need, with nothing borrowed from the input. Malformed DER gives an
//! error string, never a panic.

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use super::der;
use super::facts::KeyFacts;

pub const CURVE_P256: &str = "1.2.840.10045.3.1.7";
pub const CURVE_P384: &str = "1.3.132.0.34";
pub const CURVE_P521: &str = "1.3.132.0.35";
const OID_TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
const OID_AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const OID_AD_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";
/// TLS Feature value of status_request (RFC 7633): the certificate requires a stapled OCSP response.
const TLS_FEATURE_STATUS_REQUEST: u8 = 5;

/// An owned summary of one parsed certificate.
#[derive(Debug, Clone)]
pub struct ParsedCert {
    pub der: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
    /// Serial number as encoded (big-endian, possibly with a leading zero).
    pub serial: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub key: KeyFacts,
    pub key_oid: String,
    pub curve_oid: Option<String>,
    /// subjectPublicKey bits (RSAPublicKey DER, EC point, …): what signatures are checked with.
    pub public_key: Vec<u8>,
    pub signature_oid: String,
    pub tbs: Vec<u8>,
    pub signature: Vec<u8>,
    pub is_ca: bool,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
    pub san_present: bool,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub common_names: Vec<String>,
    /// Extended key usages by name (`serverAuth`, …, or dotted OIDs); None without the extension.
    pub extended_key_usage: Option<Vec<String>>,
    pub ocsp_signing: bool,
    pub ocsp_urls: Vec<String>,
    pub ca_issuers_urls: Vec<String>,
    pub crl_urls: Vec<String>,
    /// Embedded SCTs: log id and timestamp (ms since the epoch).
    pub scts: Vec<(Vec<u8>, u64)>,
    pub must_staple: bool,
}

/// The SHA-256 of bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The name of a public key algorithm OID.
pub fn key_type_name(oid: &str) -> String {
    match oid {
        super::sig::KEY_RSA => "RSA".into(),
        super::sig::KEY_EC => "EC".into(),
        super::sig::KEY_DSA => "DSA".into(),
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS".into(),
        other => other.to_string(),
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        CURVE_P256 => "P-256".into(),
        CURVE_P384 => "P-384".into(),
        CURVE_P521 => "P-521".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1".into(),
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1".into(),
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1".into(),
        other => other.to_string(),
    }
}

/// Bits of a big-endian unsigned integer (leading zeros stripped).
fn integer_bits(bytes: &[u8]) -> u32 {
    let significant: &[u8] = match bytes.iter().position(|b| *b != 0) {
        Some(start) => &bytes[start..],
        None => return 0,
    };
    (significant.len() as u32) * 8 - significant[0].leading_zeros()
}

fn eku_name(oid: &str) -> String {
    match oid {
        "1.3.6.1.5.5.7.3.1" => "serverAuth".into(),
        "1.3.6.1.5.5.7.3.2" => "clientAuth".into(),
        "1.3.6.1.5.5.7.3.3" => "codeSigning".into(),
        "1.3.6.1.5.5.7.3.4" => "emailProtection".into(),
        "1.3.6.1.5.5.7.3.8" => "timeStamping".into(),
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning".into(),
        "2.5.29.37.0" => "anyExtendedKeyUsage".into(),
        other => other.to_string(),
    }
}

/// Whether a TLS Feature extension value (SEQUENCE OF INTEGER) lists status_request.
fn tls_feature_has_status_request(value: &[u8]) -> bool {
    let Some(sequence) = der::single(value, der::TAG_SEQUENCE) else {
        return false;
    };
    let mut reader = sequence.reader();
    while let Some(item) = reader.next() {
        if item.tag == der::TAG_INTEGER && item.content == [TLS_FEATURE_STATUS_REQUEST] {
            return true;
        }
    }
    false
}

fn uri_of(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::URI(uri) => Some(uri.to_string()),
        _ => None,
    }
}

/// Parses one DER certificate. Trailing bytes after the certificate are an error.
pub fn parse_certificate(der_bytes: &[u8]) -> Result<ParsedCert, String> {
    let (rest, cert) = x509_parser::certificate::X509Certificate::from_der(der_bytes)
        .map_err(|error| format!("malformed certificate DER: {error}"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes of trailing data after the certificate", rest.len()));
    }
    let spki = cert.public_key();
    let key_oid = spki.algorithm.algorithm.to_id_string();
    let curve_oid = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
    let mut key = KeyFacts { r#type: key_type_name(&key_oid), bits: None, curve: None, rsa_exponent: None };
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            key.bits = Some(integer_bits(rsa.modulus));
            key.rsa_exponent = rsa.try_exponent().ok();
        }
        Ok(PublicKey::EC(point)) => {
            key.curve = curve_oid.as_deref().map(curve_name);
            key.bits = match curve_oid.as_deref() {
                Some(CURVE_P256) => Some(256),
                Some(CURVE_P384) => Some(384),
                Some(CURVE_P521) => Some(521),
                _ => u32::try_from(point.key_size()).ok().filter(|b| *b > 0),
            };
        }
        Ok(PublicKey::DSA(y)) => key.bits = Some(integer_bits(y)),
        _ if key_oid == "1.3.101.112" => key.bits = Some(256),
        _ if key_oid == "1.3.101.113" => key.bits = Some(456),
        _ => {}
    }

    let mut parsed = ParsedCert {
        der: der_bytes.to_vec(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        subject_raw: cert.subject().as_raw().to_vec(),
        issuer_raw: cert.issuer().as_raw().to_vec(),
        serial: cert.raw_serial().to_vec(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key,
        key_oid,
        curve_oid,
        public_key: spki.subject_public_key.data.to_vec(),
        signature_oid: cert.signature_algorithm.algorithm.to_id_string(),
        tbs: cert.tbs_certificate.as_ref().to_vec(),
        signature: cert.signature_value.data.to_vec(),
        is_ca: cert.is_ca(),
        subject_key_id: None,
        authority_key_id: None,
        san_present: false,
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        common_names: cert.subject().iter_common_name().filter_map(|cn| cn.as_str().ok()).map(str::to_string).collect(),
        extended_key_usage: None,
        ocsp_signing: false,
        ocsp_urls: Vec::new(),
        ca_issuers_urls: Vec::new(),
        crl_urls: Vec::new(),
        scts: Vec::new(),
        must_staple: false,
    };
    for extension in cert.extensions() {
        if extension.oid.to_id_string() == OID_TLS_FEATURE {
            parsed.must_staple |= tls_feature_has_status_request(extension.value);
            continue;
        }
        match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => parsed.subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                parsed.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                parsed.san_present = true;
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(dns) => parsed.dns_names.push(dns.to_string()),
                        GeneralName::IPAddress(bytes) => match bytes.len() {
                            4 => {
                                parsed.ip_addresses.push(IpAddr::from(<[u8; 4]>::try_from(*bytes).unwrap_or_default()))
                            }
                            16 => {
                                parsed.ip_addresses.push(IpAddr::from(<[u8; 16]>::try_from(*bytes).unwrap_or_default()))
                            }
                            _ => {}
                        },
                        _ => {}
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let mut names = Vec::new();
                if eku.any {
                    names.push("anyExtendedKeyUsage".to_string());
                }
                for (present, name) in [
                    (eku.server_auth, "serverAuth"),
                    (eku.client_auth, "clientAuth"),
                    (eku.code_signing, "codeSigning"),
                    (eku.email_protection, "emailProtection"),
                    (eku.time_stamping, "timeStamping"),
                    (eku.ocsp_signing, "OCSPSigning"),
                ] {
                    if present {
                        names.push(name.to_string());
                    }
                }
                names.extend(eku.other.iter().map(|oid| eku_name(&oid.to_id_string())));
                parsed.ocsp_signing = eku.ocsp_signing;
                parsed.extended_key_usage = Some(names);
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for access in &aia.accessdescs {
                    let method = access.access_method.to_id_string();
                    let Some(uri) = uri_of(&access.access_location) else {
                        continue;
                    };
                    match method.as_str() {
                        OID_AD_OCSP => parsed.ocsp_urls.push(uri),
                        OID_AD_CA_ISSUERS => parsed.ca_issuers_urls.push(uri),
                        _ => {}
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in &points.points {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                        parsed.crl_urls.extend(names.iter().filter_map(uri_of));
                    }
                }
            }
            ParsedExtension::SCT(list) => {
                parsed.scts.extend(list.iter().map(|sct| (sct.id.key_id.to_vec(), sct.timestamp)));
            }
            _ => {}
        }
    }
    Ok(parsed)
}

impl ParsedCert {
    /// Subject and issuer names are equal (byte for byte, as RFC 5280 path building compares).
    pub fn self_issued(&self) -> bool {
        self.subject_raw == self.issuer_raw
    }

    /// Whether `issuer` plausibly issued this certificate: names chain and, when both key
    /// identifiers are present, they match.
    pub fn names_issuer(&self, issuer: &ParsedCert) -> bool {
        if self.issuer_raw != issuer.subject_raw {
            return false;
        }
        match (&self.authority_key_id, &issuer.subject_key_id) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        }
    }

    /// Checks this certificate's signature with `issuer`'s key (legacy algorithms included).
    pub fn signature_by(&self, issuer: &ParsedCert) -> super::sig::SignatureCheck {
        super::sig::verify(
            &self.signature_oid,
            &issuer.key_oid,
            issuer.curve_oid.as_deref(),
            &issuer.public_key,
            &self.tbs,
            &self.signature,
        )
    }

    /// `issuer` names and signed this certificate (a signature that cannot be checked here
    /// counts when the names and key identifiers chain).
    pub fn issued_by(&self, issuer: &ParsedCert) -> bool {
        self.names_issuer(issuer) && self.signature_by(issuer) != super::sig::SignatureCheck::Invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bits_ignores_leading_zeros() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x01, 0x00, 0x01]), 17);
        assert_eq!(integer_bits(&[0, 0]), 0);
    }

    #[test]
    fn tls_feature_status_request_is_found() {
        assert!(tls_feature_has_status_request(&[0x30, 0x03, 0x02, 0x01, 0x05]));
        assert!(!tls_feature_has_status_request(&[0x30, 0x03, 0x02, 0x01, 0x11]));
        assert!(!tls_feature_has_status_request(&[0x30, 0x05, 0x02, 0x01]));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_certificate(&[]).is_err());
        assert!(parse_certificate(&[0x30, 0x82, 0xff, 0xff, 0x30]).is_err());
        assert!(parse_certificate(&[0x30; 200]).is_err());
    }
}
