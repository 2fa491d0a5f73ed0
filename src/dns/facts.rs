//! What the DNS probes saw, as it goes into the scan result (`zones[]`, `resolvers[]`).
//! Facts only: a check stage decides what is good. Every `error` says why a fact is missing;
//! `null` means "not observed", never "fine".

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Everything gathered about one zone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ZoneFacts {
    /// The zone, lower case with the trailing dot.
    pub name: String,
    /// Sector and operator declared for the zone in the profile (null from the command line).
    #[serde(default)]
    pub sector: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    /// Why the zone could not be (fully) assessed, or null. Partial facts are kept.
    pub error: Option<String>,
    pub delegation: Option<DelegationFacts>,
    /// One entry per nameserver name and address (parent and child NS sets together).
    pub nameservers: Vec<NameserverFacts>,
    pub soa: Option<ZoneSoa>,
    pub dnssec: Option<DnssecFacts>,
    pub mail: Option<MailFacts>,
    /// Null when the CAA lookups got no answer (nothing can be said about CAA).
    pub caa: Option<CaaFacts>,
    /// Lists cut at their cap (`docs/limits.md`): `ns_names` (NS names resolved and probed) or
    /// `nameserver_addresses` (name and address pairs probed) → how many there were.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub truncated: BTreeMap<String, usize>,
    /// Every DNS query sent for this zone.
    pub queries: u32,
    pub duration_ms: u64,
    /// Check verdicts (empty when checks were not run).
    #[serde(default)]
    pub findings: Vec<crate::checks::model::Finding>,
    /// Score from the findings.
    #[serde(default)]
    pub score: Option<crate::checks::model::Score>,
}

/// The delegation as the parent publishes it, next to what the child says.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DelegationFacts {
    /// The zone that delegates (`.` for a TLD).
    pub parent: String,
    /// Parent nameserver addresses that were asked.
    pub parent_servers: Vec<String>,
    /// NS names in the parent's referral, sorted.
    pub parent_ns: Vec<String>,
    /// NS names the child's servers answer authoritatively (union), sorted.
    pub child_ns: Vec<String>,
    /// Glue from the referral.
    pub glue: Vec<AddressRecord>,
    /// Every NS name (parent and child), with how it resolves.
    pub ns_names: Vec<NsName>,
    /// Distinct nameserver addresses (glue and authoritative), sorted.
    pub addresses: Vec<String>,
    /// Addresses used by more than one NS name.
    pub shared_addresses: Vec<String>,
    /// Distinct IPv4 /24 prefixes of the addresses (a stand-in for routing diversity).
    pub ipv4_prefixes: Vec<String>,
    /// Distinct IPv6 /48 prefixes.
    pub ipv6_prefixes: Vec<String>,
    /// Addresses in the IANA IPv4 and IPv6 special-purpose address registries (loopback,
    /// private, documentation, benchmarking…) or multicast, with the block.
    pub special_purpose: Vec<SpecialAddress>,
    /// Reverse DNS (PTR) of every address.
    pub reverse: Vec<ReverseFact>,
    /// Distinct origin ASNs of the addresses, from `--asn-table` (null: no table given).
    pub asns: Option<Vec<u32>>,
    /// Addresses the table has no prefix for.
    pub addresses_without_asn: Vec<String>,
    /// Number of NS names with at least one IPv6 address.
    pub ns_with_ipv6: usize,
    /// Number of NS names with at least one IPv4 address.
    pub ns_with_ipv4: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct AddressRecord {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReverseFact {
    pub address: String,
    /// RCODE of the PTR lookup (null: no answer).
    pub rcode: Option<String>,
    /// PTR targets, sorted.
    pub names: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpecialAddress {
    pub address: String,
    /// The special-purpose block, e.g. `127.0.0.0/8 (loopback)`.
    pub range: String,
    /// The registry's "Globally Reachable" column for the block (AS112 and anycast blocks are;
    /// loopback, private and documentation blocks are not).
    pub globally_reachable: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct NsName {
    pub name: String,
    pub in_parent: bool,
    pub in_child: bool,
    /// Glue addresses from the parent, sorted.
    pub glue: Vec<String>,
    /// Addresses from authoritative A/AAAA lookups, sorted.
    pub addresses: Vec<String>,
    /// The name is an alias (CNAME) to this target.
    pub cname: Option<String>,
    /// Why the name's addresses could not be looked up, or null.
    pub error: Option<String>,
}

/// One query's outcome: the header bits, or why there was no answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QueryFact {
    /// `NOERROR`, `REFUSED`, `BADVERS`, … (unknown codes as `RCODE<n>`); null without an answer.
    pub rcode: Option<String>,
    pub authoritative: Option<bool>,
    pub recursion_available: Option<bool>,
    pub truncated: Option<bool>,
    /// Records in the answer section.
    pub answers: Option<u32>,
    /// Whether the answer carried an OPT record.
    pub opt: Option<bool>,
    /// Why there was no (usable) answer: timeout, malformed, refused connection…
    pub error: Option<String>,
}

/// One nameserver at one address.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct NameserverFacts {
    pub name: String,
    pub address: String,
    /// SOA over UDP, RD off, EDNS(0).
    pub soa_udp: QueryFact,
    /// SOA over TCP.
    pub soa_tcp: QueryFact,
    /// Gave a usable answer to the SOA query over UDP or TCP (false: silent, unreachable or
    /// malformed every time; null: not asked, e.g. out of the profile's scope).
    pub answered: Option<bool>,
    /// Answered the SOA with AA set (null: no answer at all).
    pub authoritative: Option<bool>,
    /// Answered, but not authoritatively (AA clear, REFUSED, SERVFAIL, NOTAUTH…): a lame
    /// delegation. Null when the server gave no answer.
    pub lame: Option<bool>,
    pub soa: Option<SoaFields>,
    /// NS set this server answers for the zone, sorted.
    pub ns_set: Vec<String>,
    /// Query for `. SOA` with RD set: RA and whether an answer came back.
    pub recursion: QueryFact,
    /// RA set, or a non-authoritative answer to the RD query: the server recurses for anyone.
    pub recursion_offered: Option<bool>,
    pub axfr: AxfrFact,
    /// CHAOS TXT `version.bind`.
    pub version_bind: VersionFact,
    /// CHAOS TXT `version.server`.
    pub version_server: VersionFact,
    pub edns: EdnsFacts,
    /// AAAA at the apex (RD off): must be answered, not dropped.
    pub aaaa: QueryFact,
    /// `NS .` (RD off) answered with a referral to the root: AA clear, no answer, root NS in the
    /// authority section.
    pub upward_referral: Option<bool>,
    /// Queries to this address.
    pub queries: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SoaFields {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: i64,
    pub retry: i64,
    pub expire: i64,
    pub minimum: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct AxfrFact {
    /// The server sent the zone (NOERROR with the SOA) over TCP.
    pub open: Option<bool>,
    pub rcode: Option<String>,
    /// Records received (the transfer is read up to 64 messages).
    pub records: u32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct VersionFact {
    /// The TXT text the server disclosed, or null.
    pub text: Option<String>,
    pub rcode: Option<String>,
    /// Class of the TXT record in the answer (`CH` expected for a CHAOS query; null: no record).
    #[serde(default)]
    pub class: Option<String>,
    pub error: Option<String>,
}

/// EDNS behaviour (RFC 6891), per the ISC compliance tests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct EdnsFacts {
    /// EDNS(0) SOA query: the answer carried an OPT record.
    pub opt_returned: Option<bool>,
    /// EDNS version 1 query: the RCODE (`BADVERS` expected) and the answer's OPT version.
    pub version1_rcode: Option<String>,
    pub version1_opt_version: Option<u8>,
    /// An unknown option (code 65001) was echoed back.
    pub unknown_option_echoed: Option<bool>,
    /// An unknown EDNS flag (Z bit 0x0040) was cleared in the answer.
    pub z_flag_cleared: Option<bool>,
    /// DNSKEY with DO and a 512-byte payload: the answer was truncated (TC).
    pub small_payload_truncated: Option<bool>,
    /// That truncated answer still carried an OPT record (null when not truncated).
    pub truncated_keeps_opt: Option<bool>,
    /// Probes that got no usable answer, with why.
    pub errors: Vec<String>,
}

/// The zone's SOA as its servers publish it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ZoneSoa {
    /// Fields from the first authoritative answer (threshold checks read these).
    pub fields: Option<SoaFields>,
    /// Distinct serials across all authoritative answers, sorted.
    pub serials: Vec<u32>,
    /// Whether all authoritative answers carried the same SOA fields (serial aside).
    pub fields_consistent: Option<bool>,
}

/// DNSSEC as seen at the parent (DS) and the child (DNSKEY, signatures, denial of existence).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DnssecFacts {
    pub ds: Vec<DsFact>,
    pub dnskeys: Vec<DnskeyFact>,
    /// RRSIGs over the apex SOA, NS and DNSKEY sets.
    pub signatures: Vec<SignatureFact>,
    /// NSEC3 parameters: from NSEC3PARAM at the apex, and from the NSEC3 records of the denial
    /// of existence (opt-out is only in those). Null when the zone shows neither.
    pub nsec3: Option<Nsec3Fact>,
    /// A query for a name that does not exist: the denial records that came back.
    pub denial: Option<DenialFact>,
    /// `secure`, `insecure` (no DS), `bogus`, or `indeterminate` when the answers needed to
    /// decide (the DS at the parent, or the zone's DNSKEY set when a DS exists) never came.
    pub status: String,
    /// Why the status is what it is.
    pub reason: Option<String>,
    /// The DNSKEY set as an RFC 4034 DS would see it: some DS matches a DNSKEY that signs it.
    pub ds_matches_dnskey: Option<bool>,
    /// For a zone with a DS: each zone between the root and this one (the TLD first), judged
    /// against its own parent's DS the same way. Empty for an unsigned zone or a TLD. The root's
    /// keys are not checked against a trust anchor.
    #[serde(default)]
    pub chain: Vec<ChainLink>,
    pub errors: Vec<String>,
}

/// One zone above the assessed one in the DNSSEC chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChainLink {
    pub zone: String,
    /// `secure`, `insecure`, `bogus` or `indeterminate`, as for the zone itself.
    pub status: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DsFact {
    pub key_tag: u16,
    pub algorithm: u8,
    pub digest_type: u8,
    /// Length of the digest in bytes.
    #[serde(default)]
    pub digest_length: u32,
    /// The length is the one the digest type defines (RFC 4509, 6605, 5933; null: a digest
    /// type postura does not know).
    #[serde(default)]
    pub digest_length_valid: Option<bool>,
    /// A DNSKEY of the child has this tag, algorithm and digest.
    pub matches_dnskey: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnskeyFact {
    pub key_tag: u16,
    pub flags: u16,
    pub algorithm: u8,
    /// Secure entry point (KSK) bit.
    pub sep: bool,
    /// RSA modulus size in bits (null for other algorithms).
    pub rsa_bits: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignatureFact {
    /// `SOA`, `NS` or `DNSKEY`.
    pub covers: String,
    pub key_tag: u16,
    pub algorithm: u8,
    /// Seconds since the epoch.
    pub inception: u32,
    pub expiration: u32,
    /// Seconds from the scan to expiration (negative: expired).
    pub seconds_left: i64,
    /// The signature verifies with a DNSKEY of the zone over the RRset as served.
    pub valid: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Nsec3Fact {
    /// Hash algorithm (1: SHA-1, the only one defined, RFC 5155 §11).
    #[serde(default)]
    pub hash_algorithm: u8,
    pub iterations: u16,
    /// Salt in hex (empty: no salt).
    pub salt: String,
    /// The opt-out flag of the NSEC3 records in the denial of existence (RFC 5155 §3.1.2.1; the
    /// NSEC3PARAM flags are always 0). Null when no NSEC3 record was seen.
    pub opt_out: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DenialFact {
    pub rcode: Option<String>,
    /// `NSEC`, `NSEC3` or null (no proof).
    pub kind: Option<String>,
    /// The proof records carried RRSIGs.
    pub signed: bool,
    /// Those RRSIGs (`covers` is `NSEC` or `NSEC3`), windows and verification as for the apex.
    pub signatures: Vec<SignatureFact>,
}

/// Mail records at the zone apex.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct MailFacts {
    /// RCODE of each lookup (null: no answer), so that "no record" is told from "not known".
    #[serde(default)]
    pub rcodes: MailRcodes,
    pub mx: Vec<MxFact>,
    /// A single MX with preference 0 and target `.` (RFC 7505).
    pub null_mx: bool,
    pub spf: Option<SpfFacts>,
    pub dmarc: Option<DmarcFacts>,
    /// `_mta-sts` TXT records (`v=STSv1`).
    pub mta_sts: Vec<String>,
    /// The MTA-STS policy fetched over HTTPS (only when the TXT record exists).
    pub mta_sts_policy: Option<MtaStsPolicy>,
    /// `_smtp._tls` TXT records (`v=TLSRPTv1`).
    pub tls_rpt: Vec<String>,
    pub errors: Vec<String>,
    /// Lists cut at their cap (`docs/limits.md`): `mx` (exchanges kept, most preferred first)
    /// → how many MX records the zone has.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub truncated: BTreeMap<String, usize>,
}

/// RCODEs of the mail lookups at the zone (null: the lookup got no answer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MailRcodes {
    /// MX at the apex.
    pub mx: Option<String>,
    /// TXT at the apex (SPF).
    pub txt: Option<String>,
    /// TXT at `_dmarc`.
    pub dmarc: Option<String>,
    /// TXT at `_mta-sts`.
    pub mta_sts: Option<String>,
    /// TXT at `_smtp._tls`.
    pub tls_rpt: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MxFact {
    pub preference: u16,
    pub exchange: String,
    /// The exchange is itself an alias (CNAME).
    pub cname: bool,
    pub addresses: Vec<String>,
    /// TLSA records at `_25._tcp.<exchange>` (DANE).
    pub tlsa: Vec<TlsaFact>,
    /// The TLSA answer carried AD (meaningful through a validating `--dns-resolver` only).
    pub tlsa_authentic_data: Option<bool>,
    pub tlsa_error: Option<String>,
}

/// An MTA-STS policy file as served (RFC 8461 §3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MtaStsPolicy {
    pub url: String,
    pub http_status: Option<u16>,
    pub version: Option<String>,
    /// `enforce`, `testing` or `none`.
    pub mode: Option<String>,
    /// The policy's `mx` patterns, the first 64 (`docs/limits.md`).
    pub mx: Vec<String>,
    /// How many `mx` lines the policy has (more than `mx` holds when it was cut).
    #[serde(default)]
    pub mx_lines: usize,
    pub max_age: Option<u64>,
    /// Always false here: the probe reads the policy whatever the certificate; the certificate
    /// stage judges the chain.
    pub certificate_verified: bool,
    pub error: Option<String>,
}

/// One TLSA record (RFC 6698), and whether it matches the chain the MX served.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TlsaFact {
    pub usage: u8,
    pub selector: u8,
    /// 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// Association data, hex.
    pub data: String,
    /// Matches the chain seen by the STARTTLS sweep of the MX on port 25 (null: not swept, or no
    /// chain).
    pub matches_chain: Option<bool>,
}

/// SPF, evaluated for counting the way RFC 7208 §4.6.4 does.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct SpfFacts {
    /// Every `v=spf1` TXT record at the apex (more than one is a permerror).
    pub records: Vec<String>,
    /// Terms that cause DNS lookups (include, a, mx, ptr, exists, redirect), counted
    /// recursively through include/redirect.
    pub dns_lookups: u32,
    /// Lookups that returned no records (NXDOMAIN or NODATA).
    pub void_lookups: u32,
    /// The top-level `all` qualifier (`+`, `-`, `~`, `?`), or null.
    pub all: Option<String>,
    /// Terms that do not parse.
    pub syntax_errors: Vec<String>,
    /// Names included, in the order they were followed.
    pub includes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DmarcFacts {
    /// Every `v=DMARC1` record at `_dmarc`.
    pub records: Vec<String>,
    pub p: Option<String>,
    pub sp: Option<String>,
    pub pct: Option<u32>,
    pub rua: Vec<String>,
    pub ruf: Vec<String>,
}

/// CAA, found by climbing from the name towards the root (RFC 8659).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CaaFacts {
    /// The name whose CAA set applies (null: none on the way up).
    pub found_at: Option<String>,
    pub records: Vec<CaaRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaaRecord {
    pub critical: bool,
    pub tag: String,
    pub value: String,
}

/// A resolver a country declares.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ResolverFacts {
    /// `address:port`.
    pub address: String,
    /// Sector and operator declared for the resolver in the profile (null from the command line).
    #[serde(default)]
    pub sector: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    /// Answers a recursive query from postura (for the root's SOA) with RA set.
    pub open: Option<bool>,
    /// Sets AD for the signed name and answers SERVFAIL for the bogus one (null: not both
    /// observable).
    pub validates: Option<bool>,
    pub open_query: QueryFact,
    /// The signed name asked, and the answer (AD shown as `authentic_data`).
    pub signed_name: Option<String>,
    pub signed_query: QueryFact,
    pub authentic_data: Option<bool>,
    pub bogus_name: Option<String>,
    pub bogus_query: QueryFact,
    pub error: Option<String>,
    /// Check verdicts (empty when checks were not run).
    #[serde(default)]
    pub findings: Vec<crate::checks::model::Finding>,
    /// Score from the findings.
    #[serde(default)]
    pub score: Option<crate::checks::model::Score>,
}
