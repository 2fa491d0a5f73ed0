//! The registries a TLS scanner needs: protocol versions, every cipher suite (compiled in from the
//! reference CSV, `cipher-suites.csv` beside this file), named groups and signature schemes.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The protocol versions postura detects, spelled as in the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Protocol {
    #[serde(rename = "SSLv2")]
    Sslv2,
    #[serde(rename = "SSLv3")]
    Sslv3,
    #[serde(rename = "TLSv1.0")]
    Tls10,
    #[serde(rename = "TLSv1.1")]
    Tls11,
    #[serde(rename = "TLSv1.2")]
    Tls12,
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

impl Protocol {
    pub const ALL: [Protocol; 6] =
        [Protocol::Sslv2, Protocol::Sslv3, Protocol::Tls10, Protocol::Tls11, Protocol::Tls12, Protocol::Tls13];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Sslv2 => "SSLv2",
            Protocol::Sslv3 => "SSLv3",
            Protocol::Tls10 => "TLSv1.0",
            Protocol::Tls11 => "TLSv1.1",
            Protocol::Tls12 => "TLSv1.2",
            Protocol::Tls13 => "TLSv1.3",
        }
    }

    /// The version number on the wire (SSLv2's is 0x0002).
    pub fn wire_version(self) -> u16 {
        match self {
            Protocol::Sslv2 => 0x0002,
            Protocol::Sslv3 => 0x0300,
            Protocol::Tls10 => 0x0301,
            Protocol::Tls11 => 0x0302,
            Protocol::Tls12 => 0x0303,
            Protocol::Tls13 => 0x0304,
        }
    }

    pub fn from_wire(version: u16) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.wire_version() == version)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a suite agrees on keys, as far as a scanner cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchange {
    /// Static RSA key transport (no forward secrecy).
    Rsa,
    /// RSA_EXPORT: a temporary RSA key in ServerKeyExchange.
    RsaExport,
    /// Ephemeral finite-field DH (DHE, ADH, export DHE).
    Dhe,
    /// Ephemeral elliptic-curve DH (ECDHE, AECDH).
    Ecdhe,
    /// Static DH or ECDH from the certificate.
    StaticDh,
    /// PSK, SRP, Kerberos, GOST, CECPQ1: suites needing a setup a scan does not have.
    Other,
    /// TLS 1.3: negotiated separately through key_share.
    Tls13,
}

/// One entry of the cipher-suite registry.
#[derive(Debug, Clone)]
pub struct CipherSuite {
    /// Two-byte code for SSLv3/TLS, three-byte code for SSLv2.
    pub code: u32,
    pub iana_name: String,
    pub openssl_name: Option<String>,
    pub min_protocol: Protocol,
    pub kx_label: String,
    pub auth_label: String,
    pub encryption_label: String,
    pub mac_label: String,
    pub export: bool,
}

impl CipherSuite {
    pub fn is_sslv2(&self) -> bool {
        self.min_protocol == Protocol::Sslv2
    }

    pub fn key_exchange(&self) -> KeyExchange {
        let kx = self.kx_label.as_str();
        match kx {
            "any" => KeyExchange::Tls13,
            "RSA" => KeyExchange::Rsa,
            "RSA(512)" | "RSA(1024)" => KeyExchange::RsaExport,
            "DH" | "DH(512)" | "DH(1024)" => KeyExchange::Dhe,
            "ECDH" => KeyExchange::Ecdhe,
            "DH/DSS" | "DH/RSA" | "ECDH/ECDSA" | "ECDH/RSA" => KeyExchange::StaticDh,
            _ => KeyExchange::Other,
        }
    }

    /// Encryption key bits from the label ("AESGCM(128)" → 128, "None" → 0).
    pub fn encryption_bits(&self) -> u32 {
        let label = &self.encryption_label;
        label.split_once('(').and_then(|(_, rest)| rest.trim_end_matches(')').parse().ok()).unwrap_or(0)
    }

    pub fn is_chacha20(&self) -> bool {
        self.encryption_label.starts_with("ChaCha20")
    }
}

#[derive(Debug)]
pub struct Registry {
    pub suites: Vec<CipherSuite>,
    /// SSLv3/TLS suites by their two-byte code.
    by_code: HashMap<u32, usize>,
    /// SSLv2 cipher specs by their three-byte code (0x000000, SSL_CK_NULL_WITH_MD5, would
    /// otherwise shadow TLS_NULL_WITH_NULL_NULL, 0x0000).
    sslv2_by_code: HashMap<u32, usize>,
}

const CIPHER_SUITES_CSV: &str = include_str!("cipher-suites.csv");

fn parse_protocol_label(label: &str) -> Option<Protocol> {
    match label {
        "SSLv2" => Some(Protocol::Sslv2),
        "SSLv3" => Some(Protocol::Sslv3),
        "TLSv1" => Some(Protocol::Tls10),
        "TLSv1.2" => Some(Protocol::Tls12),
        "TLSv1.3" => Some(Protocol::Tls13),
        _ => None,
    }
}

fn parse_registry(csv: &str) -> Result<Registry, String> {
    let mut suites = Vec::new();
    let mut by_code = HashMap::new();
    let mut sslv2_by_code = HashMap::new();
    for (index, line) in csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let [code, _bytes, iana, openssl, min_protocol, kx, au, enc, mac, export] = fields[..] else {
            return Err(format!("cipher-suites.csv:{}: expected 10 fields", index + 1));
        };
        let code = u32::from_str_radix(code.trim_start_matches("0x"), 16)
            .map_err(|e| format!("cipher-suites.csv:{}: bad code: {e}", index + 1))?;
        let min_protocol = parse_protocol_label(min_protocol)
            .ok_or_else(|| format!("cipher-suites.csv:{}: unknown protocol {min_protocol}", index + 1))?;
        let index_by_code = if min_protocol == Protocol::Sslv2 { &mut sslv2_by_code } else { &mut by_code };
        index_by_code.insert(code, suites.len());
        suites.push(CipherSuite {
            code,
            iana_name: iana.to_string(),
            openssl_name: (!openssl.is_empty()).then(|| openssl.to_string()),
            min_protocol,
            kx_label: kx.to_string(),
            auth_label: au.to_string(),
            encryption_label: enc.to_string(),
            mac_label: mac.to_string(),
            export: export == "yes",
        });
    }
    Ok(Registry { suites, by_code, sslv2_by_code })
}

/// The compiled-in registry. The CSV ships inside the binary and is checked by a unit test, so
/// parsing cannot fail at run time.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| match parse_registry(CIPHER_SUITES_CSV) {
        Ok(registry) => registry,
        Err(message) => panic!("built-in cipher-suite registry is corrupt: {message}"),
    })
}

impl Registry {
    /// The SSLv3/TLS suite of a two-byte code, or the SSLv2 cipher spec of a three-byte one.
    pub fn get(&self, code: u32) -> Option<&CipherSuite> {
        let index = if code > 0xFFFF { self.sslv2_by_code.get(&code) } else { self.by_code.get(&code) };
        index.map(|&i| &self.suites[i])
    }

    /// The name of an SSLv2 cipher spec (whatever its value).
    pub fn sslv2_name(&self, code: u32) -> String {
        match self.sslv2_by_code.get(&code) {
            Some(&i) => self.suites[i].iana_name.clone(),
            None => format!("UNKNOWN_0x{code:06X}"),
        }
    }

    /// Name for a code, or a hex placeholder for a code the registry lacks (servers may pick one).
    pub fn name(&self, code: u32) -> String {
        match self.get(code) {
            Some(suite) => suite.iana_name.clone(),
            None if code > 0xFFFF => format!("UNKNOWN_0x{code:06X}"),
            None => format!("UNKNOWN_0x{code:04X}"),
        }
    }

    /// SSLv3/TLS ≤ 1.2 suites to offer for `protocol`, likeliest first so that the server's
    /// accepted suites usually fall in the first hello (which keeps the observed server order
    /// exact without extra connections). For SSLv3–TLS 1.1 only suites defined before TLS 1.2 are
    /// offered: a compliant server cannot pick the others.
    pub fn legacy_candidates(&self, protocol: Protocol) -> Vec<u16> {
        let mut chosen: Vec<&CipherSuite> = self
            .suites
            .iter()
            .filter(|s| !s.is_sslv2() && s.min_protocol != Protocol::Tls13)
            .filter(|s| protocol == Protocol::Tls12 || s.min_protocol < Protocol::Tls12)
            .collect();
        chosen.sort_by_key(|s| likelihood_rank(s));
        chosen.into_iter().map(|s| s.code as u16).collect()
    }

    /// TLS 1.3 suites, ChaCha20 last (see `likelihood_rank`).
    pub fn tls13_candidates(&self) -> Vec<u16> {
        let mut chosen: Vec<&CipherSuite> = self.suites.iter().filter(|s| s.min_protocol == Protocol::Tls13).collect();
        chosen.sort_by_key(|s| (s.is_chacha20(), s.code));
        chosen.into_iter().map(|s| s.code as u16).collect()
    }

    pub fn sslv2_candidates(&self) -> Vec<u32> {
        self.suites.iter().filter(|s| s.is_sslv2()).map(|s| s.code).collect()
    }
}

/// Lower ranks go first. Suites common servers enable come first; suites needing a PSK, SRP,
/// Kerberos or GOST setup last. ChaCha20 goes after AES within a rank so that a server's
/// "prioritize ChaCha" rule does not distort the observed order.
fn likelihood_rank(suite: &CipherSuite) -> (u8, u8) {
    let kx_rank = match suite.key_exchange() {
        KeyExchange::Ecdhe => 0,
        KeyExchange::Dhe => 1,
        KeyExchange::Rsa => 2,
        KeyExchange::RsaExport => 3,
        KeyExchange::StaticDh => 4,
        KeyExchange::Tls13 => 5,
        KeyExchange::Other => 6,
    };
    let known_to_openssl = if suite.openssl_name.is_some() { 0 } else { 10 };
    (known_to_openssl + kx_rank, u8::from(suite.is_chacha20()))
}

/// A named group (supported_groups / key_share) with its IANA name.
#[derive(Debug, Clone, Copy)]
pub struct NamedGroup {
    pub code: u16,
    pub name: &'static str,
    /// Security in bits of the key exchange (for grading: EC size, FF modulus, hybrid classical).
    pub bits: u32,
}

/// Every group worth offering: the current ones first, then legacy curves.
pub const NAMED_GROUPS: &[NamedGroup] = &[
    NamedGroup { code: 0x11EC, name: "X25519MLKEM768", bits: 253 },
    NamedGroup { code: 0x11EB, name: "SecP256r1MLKEM768", bits: 256 },
    NamedGroup { code: 0x11ED, name: "SecP384r1MLKEM1024", bits: 384 },
    NamedGroup { code: 29, name: "x25519", bits: 253 },
    NamedGroup { code: 23, name: "secp256r1", bits: 256 },
    NamedGroup { code: 24, name: "secp384r1", bits: 384 },
    NamedGroup { code: 25, name: "secp521r1", bits: 521 },
    NamedGroup { code: 30, name: "x448", bits: 448 },
    NamedGroup { code: 256, name: "ffdhe2048", bits: 2048 },
    NamedGroup { code: 257, name: "ffdhe3072", bits: 3072 },
    NamedGroup { code: 258, name: "ffdhe4096", bits: 4096 },
    NamedGroup { code: 259, name: "ffdhe6144", bits: 6144 },
    NamedGroup { code: 260, name: "ffdhe8192", bits: 8192 },
    NamedGroup { code: 26, name: "brainpoolP256r1", bits: 256 },
    NamedGroup { code: 27, name: "brainpoolP384r1", bits: 384 },
    NamedGroup { code: 28, name: "brainpoolP512r1", bits: 512 },
    NamedGroup { code: 31, name: "brainpoolP256r1tls13", bits: 256 },
    NamedGroup { code: 32, name: "brainpoolP384r1tls13", bits: 384 },
    NamedGroup { code: 33, name: "brainpoolP512r1tls13", bits: 512 },
    NamedGroup { code: 22, name: "secp256k1", bits: 256 },
    NamedGroup { code: 21, name: "secp224r1", bits: 224 },
    NamedGroup { code: 20, name: "secp224k1", bits: 224 },
    NamedGroup { code: 19, name: "secp192r1", bits: 192 },
    NamedGroup { code: 18, name: "secp192k1", bits: 192 },
    NamedGroup { code: 17, name: "secp160r2", bits: 160 },
    NamedGroup { code: 16, name: "secp160r1", bits: 160 },
    NamedGroup { code: 15, name: "secp160k1", bits: 160 },
    NamedGroup { code: 14, name: "sect571r1", bits: 571 },
    NamedGroup { code: 13, name: "sect571k1", bits: 571 },
    NamedGroup { code: 12, name: "sect409r1", bits: 409 },
    NamedGroup { code: 11, name: "sect409k1", bits: 409 },
    NamedGroup { code: 10, name: "sect283r1", bits: 283 },
    NamedGroup { code: 9, name: "sect283k1", bits: 283 },
    NamedGroup { code: 8, name: "sect239k1", bits: 239 },
    NamedGroup { code: 7, name: "sect233r1", bits: 233 },
    NamedGroup { code: 6, name: "sect233k1", bits: 233 },
    NamedGroup { code: 5, name: "sect193r2", bits: 193 },
    NamedGroup { code: 4, name: "sect193r1", bits: 193 },
    NamedGroup { code: 3, name: "sect163r2", bits: 163 },
    NamedGroup { code: 2, name: "sect163r1", bits: 163 },
    NamedGroup { code: 1, name: "sect163k1", bits: 163 },
];

pub fn group(code: u16) -> Option<&'static NamedGroup> {
    NAMED_GROUPS.iter().find(|g| g.code == code)
}

pub fn group_name(code: u16) -> String {
    group(code).map(|g| g.name.to_string()).unwrap_or_else(|| format!("unknown_0x{code:04x}"))
}

/// Groups valid for ECDHE in TLS ≤ 1.2 (no FFDHE, no hybrids, no TLS 1.3-only brainpool codes).
pub fn is_tls12_ec_group(code: u16) -> bool {
    matches!(code, 1..=30)
}

/// Signature schemes offered in TLS 1.2/1.3 hellos: modern first, then legacy ones so that old
/// servers with SHA-1-only keys still answer.
pub const SIGNATURE_SCHEMES: &[u16] = &[
    0x0403, 0x0503, 0x0603, // ecdsa_secp256r1_sha256 .. secp521r1_sha512
    0x0807, 0x0808, // ed25519, ed448
    0x0804, 0x0805, 0x0806, // rsa_pss_rsae_*
    0x0809, 0x080a, 0x080b, // rsa_pss_pss_*
    0x0401, 0x0501, 0x0601, // rsa_pkcs1_*
    0x081a, 0x081b, 0x081c, // ecdsa_brainpool*tls13
    0x0303, 0x0301, 0x0302, // sha224 ecdsa/rsa/dsa
    0x0203, 0x0201, 0x0202, // sha1 ecdsa/rsa/dsa
    0x0402, 0x0502, 0x0602, // dsa sha256..sha512
];

/// A key_share entry that a server will accept without postura doing any key agreement: the
/// group's generator (the public key of private key 1). The handshake is abandoned after the
/// ServerHello, so no secret is ever derived from it.
pub fn generator_key_share(code: u16) -> Option<Vec<u8>> {
    match code {
        // x25519: u = 9.
        29 => {
            let mut key = vec![0u8; 32];
            key[0] = 9;
            Some(key)
        }
        // secp256r1: uncompressed generator point.
        23 => Some(hex_bytes(concat!(
            "04",
            "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296",
            "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5"
        ))),
        _ => None,
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).filter_map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_csv_parses_completely() {
        let registry = parse_registry(CIPHER_SUITES_CSV).expect("registry");
        assert_eq!(registry.suites.len(), 370);
        assert_eq!(registry.sslv2_candidates().len(), 13);
        let mut tls13 = registry.tls13_candidates();
        tls13.sort_unstable();
        assert_eq!(tls13, vec![0x1301, 0x1302, 0x1303, 0x1304, 0x1305]);
        assert_eq!(registry.name(0xC02F), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        // Regression: SSLv2's 0x000000 shadowed TLS's 0x0000 (a server choosing 0x0000 over TLS
        // was reported as having chosen SSL_CK_NULL_WITH_MD5).
        assert_eq!(registry.name(0x0000), "TLS_NULL_WITH_NULL_NULL");
        assert_eq!(registry.sslv2_name(0x000000), "SSL_CK_NULL_WITH_MD5");
        assert_eq!(registry.sslv2_name(0x010080), "SSL_CK_RC4_128_WITH_MD5");
        assert_eq!(registry.name(0xFEFE), "SSL_RSA_FIPS_WITH_DES_CBC_SHA");
        assert_eq!(registry.name(0x0A0A), "UNKNOWN_0x0A0A");
    }

    #[test]
    fn candidates_respect_protocol_and_are_unique() {
        let registry = registry();
        let tls12 = registry.legacy_candidates(Protocol::Tls12);
        let tls10 = registry.legacy_candidates(Protocol::Tls10);
        assert_eq!(tls12.len(), 352);
        assert_eq!(tls10.len(), 179);
        let unique: std::collections::HashSet<_> = tls12.iter().collect();
        assert_eq!(unique.len(), tls12.len());
        assert!(!tls10.contains(&0xC02F), "GCM suites are TLS 1.2 only");
        // The commonest suites must be in the first hello of 128.
        for code in [0xC02F, 0xC030, 0xC02B, 0x009E, 0x002F, 0xCCA8] {
            assert!(tls12[..128].contains(&code), "{code:04x} not in the first hello");
        }
    }

    #[test]
    fn suite_properties() {
        let registry = registry();
        let suite = registry.get(0x0033).expect("DHE-RSA-AES128-SHA");
        assert_eq!(suite.key_exchange(), KeyExchange::Dhe);
        assert_eq!(suite.encryption_bits(), 128);
        assert_eq!(registry.get(0x0004).map(|s| s.key_exchange()), Some(KeyExchange::Rsa));
    }

    #[test]
    fn generator_shares_have_the_right_length() {
        assert_eq!(generator_key_share(29).map(|k| k.len()), Some(32));
        assert_eq!(generator_key_share(23).map(|k| k.len()), Some(65));
    }
}
