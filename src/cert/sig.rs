//! Signature algorithms by OID: their names, their weaknesses, and a verification with ring that
//! also accepts the legacy algorithms webpki refuses (SHA-1, RSA 1024–2047 bits), so that a chain
//! webpki rejects can still be followed and the rejection named precisely.

use ring::signature;

/// What checking one signature gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    Valid,
    Invalid,
    /// The algorithm (or its combination with the key) cannot be checked here: named.
    Unsupported(String),
}

const RSA_PKCS1_SHA1: &str = "1.2.840.113549.1.1.5";
const RSA_PKCS1_MD5: &str = "1.2.840.113549.1.1.4";
const RSA_PKCS1_MD2: &str = "1.2.840.113549.1.1.2";
const RSA_PKCS1_SHA256: &str = "1.2.840.113549.1.1.11";
const RSA_PKCS1_SHA384: &str = "1.2.840.113549.1.1.12";
const RSA_PKCS1_SHA512: &str = "1.2.840.113549.1.1.13";
const RSA_PSS: &str = "1.2.840.113549.1.1.10";
const ECDSA_SHA1: &str = "1.2.840.10045.4.1";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const DSA_SHA1: &str = "1.2.840.10040.4.3";
const DSA_SHA256: &str = "2.16.840.1.101.3.4.3.2";
const ED25519: &str = "1.3.101.112";
const ED448: &str = "1.3.101.113";

pub const KEY_RSA: &str = "1.2.840.113549.1.1.1";
pub const KEY_EC: &str = "1.2.840.10045.2.1";
pub const KEY_DSA: &str = "1.2.840.10040.4.1";

/// The conventional name of a signature algorithm OID (the dotted OID when unknown).
pub fn signature_name(oid: &str) -> String {
    let name = match oid {
        RSA_PKCS1_SHA1 => "sha1WithRSAEncryption",
        RSA_PKCS1_MD5 => "md5WithRSAEncryption",
        RSA_PKCS1_MD2 => "md2WithRSAEncryption",
        RSA_PKCS1_SHA256 => "sha256WithRSAEncryption",
        RSA_PKCS1_SHA384 => "sha384WithRSAEncryption",
        RSA_PKCS1_SHA512 => "sha512WithRSAEncryption",
        RSA_PSS => "rsassaPss",
        ECDSA_SHA1 => "ecdsa-with-SHA1",
        ECDSA_SHA256 => "ecdsa-with-SHA256",
        ECDSA_SHA384 => "ecdsa-with-SHA384",
        ECDSA_SHA512 => "ecdsa-with-SHA512",
        DSA_SHA1 => "dsa-with-SHA1",
        DSA_SHA256 => "dsa-with-SHA256",
        ED25519 => "Ed25519",
        ED448 => "Ed448",
        other => return other.to_string(),
    };
    name.to_string()
}

/// The hash a signature algorithm uses when it is one that is broken for signatures.
pub fn weak_hash(oid: &str) -> Option<&'static str> {
    match oid {
        RSA_PKCS1_SHA1 | ECDSA_SHA1 | DSA_SHA1 => Some("SHA-1"),
        RSA_PKCS1_MD5 => Some("MD5"),
        RSA_PKCS1_MD2 => Some("MD2"),
        _ => None,
    }
}

/// Whether the algorithm is a DSA signature.
pub fn is_dsa(oid: &str) -> bool {
    matches!(oid, DSA_SHA1 | DSA_SHA256)
}

/// Verifies `signature` over `message` with the key in `spki` (its algorithm OID, curve OID and
/// subjectPublicKey bits), for the algorithm `algorithm_oid`.
pub fn verify(
    algorithm_oid: &str,
    key_oid: &str,
    curve_oid: Option<&str>,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> SignatureCheck {
    let p256 = curve_oid == Some(super::parse::CURVE_P256);
    let p384 = curve_oid == Some(super::parse::CURVE_P384);
    let algorithm: &dyn signature::VerificationAlgorithm = match (algorithm_oid, key_oid) {
        (RSA_PKCS1_SHA1, KEY_RSA) => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        (RSA_PKCS1_SHA256, KEY_RSA) => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        (RSA_PKCS1_SHA384, KEY_RSA) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (RSA_PKCS1_SHA512, KEY_RSA) => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        (ECDSA_SHA256, KEY_EC) if p256 => &signature::ECDSA_P256_SHA256_ASN1,
        (ECDSA_SHA256, KEY_EC) if p384 => &signature::ECDSA_P384_SHA256_ASN1,
        (ECDSA_SHA384, KEY_EC) if p256 => &signature::ECDSA_P256_SHA384_ASN1,
        (ECDSA_SHA384, KEY_EC) if p384 => &signature::ECDSA_P384_SHA384_ASN1,
        (ED25519, ED25519) => &signature::ED25519,
        (algorithm, key) => {
            return SignatureCheck::Unsupported(format!(
                "{} with a {} key",
                signature_name(algorithm),
                super::parse::key_type_name(key)
            ))
        }
    };
    match signature::UnparsedPublicKey::new(algorithm, public_key).verify(message, signature) {
        Ok(()) => SignatureCheck::Valid,
        Err(_) => SignatureCheck::Invalid,
    }
}
