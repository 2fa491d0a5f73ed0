//! The trust anchor the root's keys are judged against: what a validating resolver is
//! configured with. For the IANA root servers it is IANA's published root KSKs; for a private
//! root (`--root-hints`) it must be given (`--trust-anchor`), or the root is not judged.
//!
//! A file holds DS or DNSKEY records for `.` in zone-file form (`. [TTL] [IN] DS tag alg type
//! hex` or `. [TTL] [IN] DNSKEY flags 3 alg base64`): the formats of BIND's `dsset-.`,
//! Unbound's `trust-anchor-file` and Debian's `/usr/share/dns/root.ds` / `root.key`.

use base64::Engine;
use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKey};
use hickory_proto::rr::Name;

/// At most this many records are read from an anchor file (IANA publishes two).
const MAX_ANCHORS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorRecord {
    Ds { key_tag: u16, algorithm: u8, digest_type: u8, digest: Vec<u8> },
    Dnskey { flags: u16, algorithm: u8, public_key: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchor {
    /// Where it came from ("IANA root KSK-2017 and KSK-2024", or the file's path), for reasons.
    pub source: String,
    pub records: Vec<AnchorRecord>,
}

/// IANA's root zone KSKs (https://data.iana.org/root-anchors/root-anchors.xml): KSK-2017
/// (key tag 20326) and KSK-2024 (key tag 38696), both RSA/SHA-256, SHA-256 digests.
const IANA_ROOT_DS: [(u16, &str); 2] = [
    (20326, "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"),
    (38696, "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16"),
];

impl TrustAnchor {
    pub fn iana() -> TrustAnchor {
        TrustAnchor {
            source: "IANA root KSK-2017 and KSK-2024".into(),
            records: IANA_ROOT_DS
                .iter()
                .map(|(key_tag, hex)| AnchorRecord::Ds {
                    key_tag: *key_tag,
                    algorithm: 8,
                    digest_type: 2,
                    digest: decode_hex(hex).unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Read DS and DNSKEY records for `.`; an error names the line and what is wrong.
    pub fn parse(text: &str, source: &str) -> Result<TrustAnchor, String> {
        let mut records = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.split(';').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('$') {
                continue;
            }
            let at = |why: String| format!("line {}: {why}", index + 1);
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields[0] != "." {
                return Err(at(format!("owner '{}' is not the root '.'; a root trust anchor is expected", fields[0])));
            }
            let Some(kind) =
                fields.iter().position(|f| f.eq_ignore_ascii_case("DS") || f.eq_ignore_ascii_case("DNSKEY"))
            else {
                return Err(at("neither a DS nor a DNSKEY record".into()));
            };
            let data = &fields[kind + 1..];
            let number = |i: usize, what: &str| -> Result<u32, String> {
                data.get(i).and_then(|f| f.parse::<u32>().ok()).ok_or_else(|| at(format!("{what} is not a number")))
            };
            let record = if fields[kind].eq_ignore_ascii_case("DS") {
                let key_tag =
                    u16::try_from(number(0, "the key tag")?).map_err(|_| at("key tag out of range".into()))?;
                let algorithm =
                    u8::try_from(number(1, "the algorithm")?).map_err(|_| at("algorithm out of range".into()))?;
                let digest_type =
                    u8::try_from(number(2, "the digest type")?).map_err(|_| at("digest type out of range".into()))?;
                let digest = decode_hex(&data.get(3..).unwrap_or_default().concat())
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| at("the digest is not hexadecimal".into()))?;
                AnchorRecord::Ds { key_tag, algorithm, digest_type, digest }
            } else {
                let flags = u16::try_from(number(0, "the flags")?).map_err(|_| at("flags out of range".into()))?;
                let algorithm =
                    u8::try_from(number(2, "the algorithm")?).map_err(|_| at("algorithm out of range".into()))?;
                let public_key = base64::engine::general_purpose::STANDARD
                    .decode(data.get(3..).unwrap_or_default().concat())
                    .map_err(|_| at("the public key is not base64".into()))?;
                AnchorRecord::Dnskey { flags, algorithm, public_key }
            };
            if records.len() == MAX_ANCHORS {
                return Err(at(format!("more than {MAX_ANCHORS} anchor records")));
            }
            records.push(record);
        }
        if records.is_empty() {
            return Err("no DS or DNSKEY record for '.'".into());
        }
        Ok(TrustAnchor { source: source.into(), records })
    }

    /// Whether `key` (a DNSKEY of the root, with its tag) is one this anchor trusts.
    pub fn trusts(&self, key: &DNSKEY, key_tag: u16) -> bool {
        let algorithm = u8::from(key.public_key().algorithm());
        self.records.iter().any(|anchor| match anchor {
            AnchorRecord::Ds { key_tag: tag, algorithm: alg, digest_type, digest } => {
                *tag == key_tag
                    && *alg == algorithm
                    && DS::new(*tag, Algorithm::from_u8(*alg), DigestType::from(*digest_type), digest.clone())
                        .covers(&Name::root(), key)
                        .unwrap_or(false)
            }
            AnchorRecord::Dnskey { flags, algorithm: alg, public_key } => {
                *flags == key.flags() && *alg == algorithm && public_key.as_slice() == key.public_key().public_bytes()
            }
        })
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_files_in_the_usual_forms_are_read() {
        let text = ".\t\t\tIN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
                    . 172800 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n";
        let anchor = TrustAnchor::parse(text, "root.ds").unwrap();
        assert_eq!(anchor.records.len(), 2);
        assert_eq!(anchor.records[0], TrustAnchor::iana().records[0]);
        assert!(
            matches!(&anchor.records[1], AnchorRecord::Dnskey { flags: 257, algorithm: 13, public_key } if public_key.len() == 64)
        );
    }

    #[test]
    fn anchor_file_errors_name_the_line() {
        assert_eq!(TrustAnchor::parse("; only a comment\n", "f").unwrap_err(), "no DS or DNSKEY record for '.'");
        let error = TrustAnchor::parse("\nexample. IN DS 1 8 2 AB\n", "f").unwrap_err();
        assert!(error.starts_with("line 2: owner 'example.'"), "{error}");
        let error = TrustAnchor::parse(". IN DS 1 8 2 XYZ\n", "f").unwrap_err();
        assert_eq!(error, "line 1: the digest is not hexadecimal");
        let error = TrustAnchor::parse(". IN DS nope 8 2 AB\n", "f").unwrap_err();
        assert_eq!(error, "line 1: the key tag is not a number");
    }
}
