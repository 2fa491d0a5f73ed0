//! The certificate facts of one target (`targets[].certificate` in the scan result). Facts only:
//! what was sent, what it says, what each trust store and revocation source answered, and why.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Everything the certificate analysis found for one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CertificateFacts {
    /// Why the leaf could not be analysed (nothing parsable was sent), or null. Per-certificate
    /// parse errors are in `certificates[].parse_error`.
    pub error: Option<String>,
    /// The name the certificate was checked against (the target's host name or IP literal).
    pub checked_name: String,
    /// The analysis time, RFC 3339 UTC (facts such as `days_left` are relative to it).
    pub checked_at: String,
    /// Trusted by the default store (Mozilla's roots, `trust.mozilla`).
    pub trusted: bool,
    /// Store name (`mozilla`, or the CA file as given) → verdict.
    pub trust: BTreeMap<String, TrustVerdict>,
    pub expired: bool,
    pub not_yet_valid: bool,
    /// Whole days from the analysis time to notAfter (negative once expired).
    pub days_left: Option<i64>,
    /// Whole days from notBefore to notAfter.
    pub lifetime_days: Option<i64>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// The CA/Browser Forum maximum lifetime (days) for a certificate issued on the leaf's notBefore
    /// date: 398 before 2026-03-15, 200 from then, 100 from 2027-03-15, 47 from 2029-03-15.
    pub cab_max_lifetime_days: Option<i64>,
    /// The name (or IP) is covered by the certificate (RFC 6125).
    pub hostname_match: bool,
    /// What matched: `dns_san`, `ip_san`, `common_name` (no SAN extension: legacy CN fallback),
    /// or null.
    pub hostname_match_via: Option<String>,
    pub san_present: bool,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// Serial number, lower-case hex as encoded.
    pub serial: Option<String>,
    pub fingerprint_sha256: Option<String>,
    pub san_dns: Vec<String>,
    pub san_ip: Vec<String>,
    pub common_names: Vec<String>,
    /// The leaf is self-signed (issuer = subject and its own key verifies its signature).
    pub self_signed: bool,
    /// Every certificate needed up to a trust anchor (or a self-signed root) was sent.
    pub chain_complete: bool,
    /// Each sent certificate certifies the one before it.
    pub chain_in_order: bool,
    /// A self-signed CA (a root) was sent.
    pub anchor_sent: bool,
    /// Positions (0 = leaf) of sent certificates that are on no path from the leaf.
    pub unrelated_certificates: Vec<usize>,
    /// Positions of certificates sent more than once (later copies).
    pub duplicate_certificates: Vec<usize>,
    /// AIA caIssuers fetches made to complete the chain.
    pub ca_issuers_fetched: Vec<FetchRecord>,
    pub key: KeyFacts,
    /// Signature algorithm of the leaf (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`, …).
    pub signature_algorithm: Option<String>,
    /// Extended key usages of the leaf; null when it has no EKU extension.
    pub extended_key_usage: Option<Vec<String>>,
    /// The leaf lists serverAuth (or anyExtendedKeyUsage) in its EKU extension.
    pub eku_server_auth: bool,
    /// The leaf has the TLS Feature extension with status_request (OCSP must-staple).
    pub must_staple: bool,
    /// Signed certificate timestamps seen, from every source: embedded in the certificate, in
    /// the TLS signed_certificate_timestamp extension, in the stapled OCSP response.
    pub sct_count: usize,
    /// `sct_count` by source.
    #[serde(default)]
    pub sct_sources: SctSources,
    /// Each SCT (at most 64 per source).
    pub scts: Vec<SctFact>,
    pub revocation: RevocationFacts,
    /// The largest certificate sent, in DER bytes. Over 65 535 bytes, webpki (rustls and
    /// other Rust clients) cannot parse it.
    #[serde(default)]
    pub largest_certificate_bytes: usize,
    /// The certificates sent, in DER bytes together (the Certificate message is a little more).
    /// Over 64 KiB rustls refuses the handshake message; OpenSSL and BoringSSL clients refuse a
    /// certificate list over 100 KiB by default.
    #[serde(default)]
    pub chain_bytes: usize,
    /// Every certificate as sent (leaf first), then those fetched through AIA.
    pub certificates: Vec<CertificateEntry>,
    /// HTTP fetches made (AIA caIssuers, OCSP, CRL).
    pub fetches: u32,
    /// Lists cut at their cap (`docs/limits.md`): the field's path → how many entries the
    /// certificate had (`{"san_dns": 5000}`: the first 1000 names are kept in `san_dns`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub truncated: BTreeMap<String, usize>,
}

/// A public key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyFacts {
    /// `RSA`, `EC`, `DSA`, `Ed25519`, `Ed448`, or the algorithm OID.
    pub r#type: String,
    pub bits: Option<u32>,
    /// Named curve for EC keys (`P-256`, `P-384`, `P-521`, or the OID).
    pub curve: Option<String>,
    pub rsa_exponent: Option<u64>,
}

/// One store's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrustVerdict {
    pub trusted: bool,
    /// Why not, as a stable code: `unknown_issuer`, `expired`, `not_yet_valid`, `self_signed`,
    /// `sha1_signature`, `md5_signature`, `weak_rsa_key`, `dsa_key`, `unsupported_algorithm`,
    /// `bad_signature`, `no_server_auth_eku`, `ca_as_leaf`, `path_constraint`, `malformed`,
    /// `other`. Null when trusted.
    pub reason_code: Option<String>,
    /// The same in words, naming the certificate concerned.
    pub reason: Option<String>,
    /// Subjects from the leaf's issuer up to the anchor, when a path was built.
    pub path: Vec<String>,
}

/// One HTTP fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FetchRecord {
    pub url: String,
    /// Null on success, else why it failed (timeout, too large, redirect limit, HTTP status…).
    pub error: Option<String>,
    pub bytes: usize,
}

/// How many SCTs came from each source (RFC 6962 §3.3 allows any of the three).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SctSources {
    /// Embedded in the leaf (the precertificate SCT list extension).
    pub certificate: usize,
    /// In the TLS signed_certificate_timestamp extension of the TLS ≤ 1.2 ServerHello.
    pub tls_extension: usize,
    /// In the stapled OCSP response's single extension (1.3.6.1.4.1.11129.2.4.5).
    pub ocsp: usize,
}

/// An SCT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SctFact {
    /// `certificate` (embedded), `tls_extension` (the TLS extension), `ocsp` (in the stapled
    /// response).
    pub source: String,
    /// Log id, base64.
    pub log_id: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
}

/// Revocation sources and their answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RevocationFacts {
    /// Whether online checks (OCSP, CRL) were allowed (`--no-revocation` turns them off).
    pub online_checks: bool,
    pub ocsp_urls: Vec<String>,
    pub crl_urls: Vec<String>,
    /// The leaf has neither an OCSP URL nor a CRL distribution point.
    pub no_pointer: bool,
    /// The stapled OCSP response, validated; null when none was stapled.
    pub stapled: Option<RevocationCheck>,
    /// The AIA OCSP responder's answer; null without URL or with online checks off.
    pub ocsp: Option<RevocationCheck>,
    /// The CRL's answer; null without distribution point or with online checks off.
    pub crl: Option<RevocationCheck>,
}

/// What one revocation source said about the leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevocationCheck {
    pub status: RevocationStatus,
    /// Why the status is `unknown` or `error`, or details (revocation reason).
    pub reason: Option<String>,
    pub url: Option<String>,
    /// OCSP thisUpdate / CRL thisUpdate, RFC 3339.
    pub this_update: Option<String>,
    pub next_update: Option<String>,
    pub revocation_time: Option<String>,
    /// Who signed the answer: `issuer`, `delegated` (OCSPSigning responder), or null.
    pub signer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    Good,
    Revoked,
    /// The source answered but does not know the certificate.
    Unknown,
    /// No valid answer: fetch failure, malformed or badly signed response, stale response.
    Error,
}

/// One certificate of the chain.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CertificateEntry {
    /// `sent` or `aia` (fetched through caIssuers).
    pub source: String,
    /// Why it could not be parsed, or null.
    pub parse_error: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub fingerprint_sha256: String,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub days_left: Option<i64>,
    pub expired: bool,
    pub is_ca: bool,
    pub self_signed: bool,
    pub key: Option<KeyFacts>,
    pub signature_algorithm: Option<String>,
}
