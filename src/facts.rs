//! The scan result document: facts per target, serialised to JSON. Its paths are a contract
//! (documented in `docs/json.md`, schema in `docs/scan-result.schema.json`, checked for drift by a
//! test). Facts describe what the server did; they never say whether that is good.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tls::registry::Protocol;

/// Bumped on any incompatible change of the document's shape.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScanReport {
    pub schema_version: u32,
    pub tool: ToolInfo,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: String,
    /// The country profile the scan came from, when it came from one.
    pub country: Option<CountryInfo>,
    pub targets: Vec<TargetResult>,
    /// Scores and the country index, when checks were evaluated.
    pub assessment: Option<crate::checks::model::Assessment>,
    /// Zones assessed for DNS and mail hygiene (`dns://ZONE`, profile `domains`).
    #[serde(default)]
    pub zones: Vec<crate::dns::facts::ZoneFacts>,
    /// Declared resolvers (`resolver://ADDRESS`, profile endpoints of service `dns-resolver`).
    #[serde(default)]
    pub resolvers: Vec<crate::dns::facts::ResolverFacts>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CountryInfo {
    pub code: String,
    pub name: String,
    pub policy: Option<String>,
    pub profile: String,
}

/// One endpoint at one address.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TargetResult {
    /// The name as declared or typed (may be an IP literal).
    pub host: String,
    pub port: u16,
    /// The address scanned; null when the name could not be resolved.
    pub address: Option<String>,
    /// The SNI sent (null for IP literals).
    pub sni: Option<String>,
    /// Service declared for the endpoint (`tls`, `https`, `smtp-starttls`, …).
    pub service: crate::profile::Service,
    pub sector: Option<String>,
    pub operator: Option<String>,
    /// The zones whose MX this endpoint is (found by the MX pass, declared or not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mx_of: Vec<String>,
    /// Why the target could not be assessed (fully), or null. Partial facts are kept.
    pub error: Option<String>,
    pub started_at: String,
    pub duration_ms: u64,
    /// Every connection opened for this target, by purpose (sweep, HTTP probe, certificate
    /// fetches).
    #[serde(default)]
    pub connections: crate::net::ConnectionCounts,
    /// Destinations found while assessing the target (OCSP, CRL, AIA hosts, redirects) that were
    /// not contacted because the scope does not include them (at most 16 listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_scope: Vec<crate::net::OutOfScope>,
    pub tls: Option<TlsFacts>,
    /// The certificate chain's analysis (null when no certificate was received).
    pub certificate: Option<crate::cert::CertificateFacts>,
    /// The CAA set of the scanned zone containing this host (when that zone was scanned too).
    #[serde(default)]
    pub caa: Option<crate::dns::facts::CaaFacts>,
    /// For STARTTLS services: whether the server offered the upgrade (null: not a STARTTLS
    /// service, or not known because the connection failed otherwise).
    #[serde(default)]
    pub starttls: Option<bool>,
    /// HTTP facts for `https` endpoints (HSTS, redirect from http://).
    pub http: Option<crate::web::HttpFacts>,
    /// Check verdicts (empty when checks were not run).
    #[serde(default)]
    pub findings: Vec<crate::checks::model::Finding>,
    /// SSL Labs-style grade of the TLS configuration.
    pub grade: Option<crate::checks::model::Grade>,
    /// Score from the findings.
    pub score: Option<crate::checks::model::Score>,
}

/// What the TLS sweep saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct TlsFacts {
    /// Accepted protocols, oldest first.
    pub protocols: Vec<Protocol>,
    /// Per protocol tried: accepted or not, and how the server said no.
    pub protocol_details: BTreeMap<Protocol, ProtocolDetail>,
    /// Accepted suites per accepted protocol (IANA names), in the server's order where it
    /// enforces one, else in the order postura offered them.
    pub cipher_suites: BTreeMap<Protocol, Vec<String>>,
    /// Whether the server chooses by its own order (null: fewer than two suites, not testable).
    pub server_preference: BTreeMap<Protocol, Option<bool>>,
    /// Groups the server accepts for key exchange (IANA names), in its order of preference.
    pub groups: Vec<String>,
    /// The protocol `groups` was enumerated over (TLS 1.3 when available, else TLS 1.2 ECDHE).
    pub groups_protocol: Option<Protocol>,
    /// Properties of every accepted suite, one entry per protocol and suite (derived from the
    /// registry, for checks and reports).
    #[serde(default)]
    pub suites: Vec<SuiteFact>,
    /// Properties of every accepted group.
    #[serde(default)]
    pub group_details: Vec<GroupFact>,
    /// Every distinct ephemeral key-exchange parameter seen in ServerKeyExchange (TLS ≤ 1.2).
    pub key_exchange: Vec<KeyExchangeFact>,
    pub extensions: ExtensionFacts,
    /// Whether the server refuses a downgraded handshake carrying TLS_FALLBACK_SCSV
    /// (null: fewer than two protocols, not testable).
    pub fallback_scsv: Option<bool>,
    /// The certificate chain as sent, leaf first, PEM.
    pub chain_pem: Vec<String>,
    /// The protocol whose handshake delivered `chain_pem`.
    pub chain_protocol: Option<Protocol>,
    /// How many certificates that handshake sent: more than `chain_pem` holds when the chain
    /// was cut at its cap of 16 (`docs/limits.md`).
    #[serde(default)]
    pub chain_sent: usize,
    /// A stapled OCSP response (DER, base64), if the server sent one.
    pub ocsp_staple_base64: Option<String>,
    /// The SignedCertificateTimestampList of the TLS signed_certificate_timestamp extension
    /// (RFC 6962 §3.3) in the TLS ≤ 1.2 ServerHello, else in the leaf's TLS 1.3 CertificateEntry
    /// (decrypted from the sweep's flight), base64; null when none was sent.
    #[serde(default)]
    pub sct_list_base64: Option<String>,
    /// The TLS 1.3 handshake as a client sees it: the sweep's decrypted flight, or a rustls
    /// handshake when that could not be read (`source`).
    pub tls13_handshake: Option<Tls13Handshake>,
    /// Known vulnerabilities: verdict, evidence and connections of each (`tls::vuln`).
    #[serde(default)]
    pub vulnerabilities: crate::tls::vuln::Vulnerabilities,
    /// Client certificate authentication (CertificateRequest): null when no TLS ≤ 1.2 hello
    /// flight was read.
    #[serde(default)]
    pub client_auth: Option<crate::tls::client_auth::ClientAuthFact>,
    /// Every distinct finite-field DH group seen in a ServerKeyExchange, judged (primality,
    /// safe prime, generator, well-known shared prime); at most 8.
    #[serde(default)]
    pub dh_groups: Vec<crate::tls::vuln::DhGroupFact>,
    /// Common clients (`profiles/clients.toml`) simulated against these facts (`tls::clients`):
    /// whether each connects, and with which protocol, suite and group.
    #[serde(default)]
    pub clients: Vec<crate::tls::clients::ClientSimulation>,
    /// TLS 1.3 hellos that settled a client simulation's open group choice: offered
    /// `[preferred, share]` with a key share for `share` only, the server chose `chosen` (null:
    /// no usable answer). Sent only when a simulation needs it (at most 4 questions in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_share_answers: Vec<KeyShareAnswer>,
    /// Hellos that settled a client simulation's open group order: offered supported_groups
    /// `offered` (the client's first common group, then the server's) at `protocol`, the server
    /// chose `chosen`. Sent only when a simulation needs it (at most 4 questions in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_order_answers: Vec<GroupOrderAnswer>,
    /// Set when the server's answers cannot come from a real TLS stack (it accepts whatever it
    /// is offered): the sweep stopped there, and the target's error says so (`tls::plausibility`).
    #[serde(default)]
    pub implausible: Option<ImplausibleServer>,
    /// Every TCP connection opened to the target by the sweep.
    pub connections: u32,
    /// Probes that failed without stopping the sweep (what, and why).
    pub probe_errors: Vec<String>,
}

/// One key-share question asked of a TLS 1.3 server (`tls::clients::probe_key_shares`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyShareAnswer {
    /// The server's highest-ranked group among the client's.
    pub preferred: String,
    /// The group whose key share the hello carried.
    pub share: String,
    /// The group the server chose: `share` (it takes an acceptable share) or `preferred` (it asked
    /// for it with a HelloRetryRequest); null when the answer was neither.
    pub chosen: Option<String>,
}

/// One group-order question asked of a server (`tls::clients::settle_open_questions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupOrderAnswer {
    pub protocol: Protocol,
    /// supported_groups as offered, in this order.
    pub offered: Vec<String>,
    /// The group the server chose (TLS 1.3: in its HelloRetryRequest; TLS ≤ 1.2: in its
    /// ServerKeyExchange); null when the answer was neither offered group.
    pub chosen: Option<String>,
}

/// An accepted suite with the properties checks and grades reason about.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SuiteFact {
    pub protocol: Protocol,
    pub name: String,
    /// `ECDHE`, `DHE`, `RSA`, `RSA_EXPORT`, `STATIC_DH`, `TLS13` or `OTHER` (PSK, SRP, GOST…).
    pub key_exchange: String,
    pub authentication: String,
    pub encryption: String,
    /// Symmetric key bits (0 for NULL).
    pub bits: u32,
    pub mac: String,
    pub aead: bool,
    pub forward_secrecy: bool,
    pub export: bool,
    pub null_encryption: bool,
    pub anonymous: bool,
    pub rc4: bool,
    /// A 64-bit block cipher (3DES, DES, IDEA, RC2): SWEET32.
    pub block_64bit: bool,
    pub cbc: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GroupFact {
    pub name: String,
    /// `EC`, `FF` (finite field) or `HYBRID` (post-quantum hybrid).
    pub kind: String,
    /// Classical security size in bits (curve size or modulus size).
    pub bits: u32,
}

/// Why the sweep judged a server's answers implausible and stopped enumerating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImplausibleReason {
    /// The ServerHello chose a suite the ClientHello did not offer.
    SuiteNotOffered,
    /// One certificate was sent with suites that need different kinds of key (RSA, EC, DSA,
    /// DH, GOST): no single certificate can serve them all.
    OneCertificateManyKeyTypes,
    /// A certificate was sent with a suite that authenticates without one (anonymous, PSK,
    /// SRP, Kerberos).
    CertificateWithoutAuthentication,
    /// The certificate's key cannot serve the suite it was sent with (an RSA key with an
    /// ECDSA suite, …).
    KeyDoesNotFitSuite,
    /// A HelloRetryRequest asked for a group whose key share the ClientHello already carried
    /// (RFC 8446 §4.1.4 forbids it): a peer that retries every hello, whatever it holds.
    RetryForOfferedKeyShare,
}

/// The evidence of an implausible ("accept everything") server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImplausibleServer {
    pub reason: ImplausibleReason,
    /// The protocol of the answer that gave it away.
    pub protocol: Protocol,
    /// The suites whose answers conflict (IANA names, or the hex code of an unknown suite).
    pub suites: Vec<String>,
    /// The same in words, as in the target's error.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProtocolDetail {
    pub accepted: bool,
    /// How the server answered when it refused (null when accepted): an alert with its code,
    /// another version, a closed or reset connection.
    pub refusal: Option<Refusal>,
    /// Probe failure (timeout, reset…) that left the answer unknown.
    pub error: Option<String>,
}

/// How a server said no to a protocol. Printed as `alert:protocol_version`,
/// `negotiated:TLSv1.2`, `closed`, … in text; in JSON a value with its kind (and an alert's code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// A TLS alert: its description code (RFC 8446 §6) and name.
    Alert { code: u8, name: String },
    /// The server answered with another protocol version.
    Negotiated { version: String },
    /// The connection was closed without an answer.
    Closed,
    /// The connection was reset.
    Reset,
    /// SSLv2: the server's hello had no cipher in common.
    NoCommonCipher,
    /// SSLv2: the server answered in TLS records.
    AnsweredInTls,
    /// SSLv2: the answer was neither SSLv2 nor TLS.
    NotSslv2 { detail: String },
}

impl Refusal {
    pub fn alert(description: u8) -> Refusal {
        let name = crate::tls::codec::Alert { level: 2, description }.description_name();
        Refusal::Alert { code: description, name }
    }

    /// The alert code, for an alert.
    pub fn alert_code(&self) -> Option<u8> {
        match self {
            Refusal::Alert { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Alert { name, .. } => write!(f, "alert:{name}"),
            Refusal::Negotiated { version } => write!(f, "negotiated:{version}"),
            Refusal::Closed => f.write_str("closed"),
            Refusal::Reset => f.write_str("reset"),
            Refusal::NoCommonCipher => f.write_str("no common SSLv2 cipher"),
            Refusal::AnsweredInTls => f.write_str("answered in TLS"),
            Refusal::NotSslv2 { detail } => write!(f, "no SSLv2 hello ({detail})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct KeyExchangeFact {
    pub protocol: Protocol,
    /// `DH`, `ECDH` or `RSA` (export RSA).
    pub kind: String,
    /// Named group for ECDH (and for DH when the prime is an RFC 7919 group).
    pub group: Option<String>,
    /// Size in bits: DH prime, RSA modulus, or the curve's size.
    pub bits: Option<u32>,
    /// A suite whose handshake used these parameters.
    pub cipher_suite: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionFacts {
    /// RFC 5746 renegotiation_info answered (null: no TLS ≤ 1.2 handshake).
    pub secure_renegotiation: Option<bool>,
    /// The server chose a compression method other than null (CRIME).
    pub compression: Option<bool>,
    /// The server announced session tickets (TLS ≤ 1.2 ServerHello).
    pub session_ticket: Option<bool>,
    /// The server answered status_request (OCSP stapling offered).
    pub ocsp_stapling: Option<bool>,
    /// RFC 7627 extended master secret.
    pub extended_master_secret: Option<bool>,
    /// Encrypt-then-MAC (RFC 7366).
    pub encrypt_then_mac: Option<bool>,
    /// The heartbeat extension is answered (RFC 6520).
    pub heartbeat: Option<bool>,
    /// ALPN protocols the server selected when offered (of `h2`, `http/1.1`).
    pub alpn: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Tls13Handshake {
    /// How these facts were read.
    #[serde(default)]
    pub source: Tls13HandshakeSource,
    pub completed: bool,
    pub error: Option<String>,
    pub cipher_suite: Option<String>,
    pub group: Option<String>,
    pub alpn: Option<String>,
    pub ocsp_stapled: bool,
    pub chain_length: usize,
}

/// Where `tls13_handshake` comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tls13HandshakeSource {
    /// A real rustls handshake on a connection of its own (`tls::rustls_probe`).
    #[default]
    Rustls,
    /// The sweep's own TLS 1.3 hello: the server's encrypted flight decrypted and its Finished
    /// checked against the transcript (`tls::codec::tls13_flight`), no connection of its own.
    DecryptedFlight,
}

/// The published JSON Schema of the scan result.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(ScanReport);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

impl ScanReport {
    /// Every finding of the scan: targets', zones' and resolvers'.
    pub fn findings(&self) -> impl Iterator<Item = &crate::checks::model::Finding> {
        self.targets
            .iter()
            .flat_map(|t| &t.findings)
            .chain(self.zones.iter().flat_map(|z| &z.findings))
            .chain(self.resolvers.iter().flat_map(|r| &r.findings))
    }

    /// Whether a finding fails at `threshold` or above (the `--fail-on` gate), on any target,
    /// zone or resolver.
    pub fn fails_at_or_above(&self, threshold: crate::checks::model::Severity) -> bool {
        self.findings().any(|f| f.status == crate::checks::model::Status::Fail && f.severity >= threshold)
    }
}
