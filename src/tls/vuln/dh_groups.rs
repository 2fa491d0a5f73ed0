//! The finite-field DH groups a server uses, judged beyond their size: is the modulus prime at
//! all, is it a safe prime (p = 2q + 1 with q prime, so every element but ±1 generates a
//! subgroup of order q or 2q and no small subgroup exists), is the generator in range, and is it
//! a well-known shared prime (LOGJAM's precomputation pays off against those). Primality is
//! glass_pumpkin's (trial division, Miller–Rabin rounds for the size, and a Lucas test), not
//! postura's. Facts only: `checks/tls.toml` (`tls.dh.*`) judge them.

use num_bigint::BigUint;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tls::registry::Protocol;

/// Moduli above this size are not tested (null): a 4096-bit safe-prime test takes about 3 s
/// of CPU, an 8192-bit one about 20 s, and a hostile server could send 500 000 bits.
pub const MAX_TESTED_BITS: u64 = 4096;
/// Distinct groups kept per target (servers use one or two).
pub const MAX_GROUPS: usize = 4;
/// Primes remembered across the scan (most servers share a handful of groups).
const CACHE_ENTRIES: usize = 256;

/// Whether p is prime, and a safe prime (null: not tested).
type Primality = (Option<bool>, Option<bool>);

/// (prime, safe prime) by the SHA-256 of p: a country's servers mostly use the same few groups.
fn primality(modulus: &BigUint, digest: &str) -> Primality {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Primality>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(known) = cache.lock().ok().and_then(|c| c.get(digest).copied()) {
        return known;
    }
    let verdict = if modulus.bits() > MAX_TESTED_BITS || modulus.bits() < 2 {
        (None, None)
    } else if !glass_pumpkin::prime::check(modulus) {
        (Some(false), Some(false))
    } else {
        (Some(true), Some(glass_pumpkin::prime::check(&(modulus >> 1usize))))
    };
    if let Ok(mut cache) = cache.lock() {
        if cache.len() < CACHE_ENTRIES {
            cache.insert(digest.to_string(), verdict);
        }
    }
    verdict
}

/// One DH group seen in a ServerKeyExchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DhGroupFact {
    /// Size of the modulus p.
    pub bits: u32,
    /// SHA-256 of p (big-endian, leading zeros stripped), hex: the group's identity across servers.
    pub prime_sha256: String,
    /// The generator g, in decimal when it fits 64 bits, else its size (`<N bits>`).
    pub generator: String,
    /// The name of a well-known shared prime (RFC 7919, RFC 3526, RFC 2409, RFC 5114, server
    /// defaults), or null.
    pub known_group: Option<String>,
    /// p passed the primality tests (false: p is composite; null: larger than
    /// `MAX_TESTED_BITS`, not tested).
    pub prime: Option<bool>,
    /// (p − 1) / 2 is prime too (null: not tested).
    pub safe_prime: Option<bool>,
    /// 1 < g < p − 1.
    pub generator_in_range: bool,
    /// The protocols whose handshakes used it.
    pub protocols: Vec<Protocol>,
}

/// Judge `p` and `g` as sent. CPU-bound (a few Miller–Rabin rounds on up to 8192 bits): call it
/// off the async threads.
pub fn judge(p: &[u8], g: &[u8], protocol: Protocol) -> DhGroupFact {
    use sha2::Digest as _;
    let start = p.iter().position(|&b| b != 0).unwrap_or(p.len());
    let prime_sha256: String = sha2::Sha256::digest(&p[start..]).iter().map(|b| format!("{b:02x}")).collect();
    let modulus = BigUint::from_bytes_be(p);
    let generator_value = BigUint::from_bytes_be(g);
    let one = BigUint::from(1u8);
    let generator_in_range = generator_value > one && modulus > one && generator_value < &modulus - &one;
    let generator = match u64::try_from(&generator_value) {
        Ok(small) => small.to_string(),
        Err(_) => format!("<{} bits>", generator_value.bits()),
    };
    let bits = u32::try_from(modulus.bits()).unwrap_or(u32::MAX);
    let (prime, safe_prime) = primality(&modulus, &prime_sha256);
    DhGroupFact {
        bits,
        prime_sha256,
        generator,
        known_group: super::common_dh_prime(p).map(str::to_string),
        prime,
        safe_prime,
        generator_in_range,
        protocols: vec![protocol],
    }
}

/// Judge every distinct (p, g) seen, per protocol, at most `MAX_GROUPS`.
pub async fn judge_all(seen: Vec<(Protocol, Vec<u8>, Vec<u8>)>) -> Vec<DhGroupFact> {
    let work = move || {
        let mut groups: Vec<(Vec<u8>, Vec<u8>, DhGroupFact)> = Vec::new();
        for (protocol, p, g) in seen {
            if let Some((_, _, fact)) = groups.iter_mut().find(|(gp, gg, _)| *gp == p && *gg == g) {
                if !fact.protocols.contains(&protocol) {
                    fact.protocols.push(protocol);
                    fact.protocols.sort();
                }
                continue;
            }
            if groups.len() >= MAX_GROUPS {
                break;
            }
            let fact = judge(&p, &g, protocol);
            groups.push((p, g, fact));
        }
        groups.into_iter().map(|(_, _, fact)| fact).collect::<Vec<_>>()
    };
    tokio::task::spawn_blocking(work).await.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: u64) -> Vec<u8> {
        n.to_be_bytes().to_vec()
    }

    #[test]
    fn safe_prime_composite_and_plain_prime_are_told_apart() {
        // 2^61 - 1 is prime, (2^61 - 2)/2 = 2^60 - 1 is not: a prime that is not safe.
        let plain = judge(&bytes((1 << 61) - 1), &bytes(2), Protocol::Tls12);
        assert_eq!((plain.prime, plain.safe_prime), (Some(true), Some(false)));
        // 1019 = 2·509 + 1, both prime.
        let safe = judge(&bytes(1019), &bytes(2), Protocol::Tls12);
        assert_eq!((safe.prime, safe.safe_prime), (Some(true), Some(true)));
        assert_eq!(safe.bits, 10);
        // 1019 · 1021.
        let composite = judge(&bytes(1019 * 1021), &bytes(2), Protocol::Tls12);
        assert_eq!((composite.prime, composite.safe_prime), (Some(false), Some(false)));
        assert!(composite.generator_in_range);
        assert_eq!(composite.known_group, None);
    }

    #[test]
    fn generator_out_of_range_and_oversized_moduli() {
        let fact = judge(&bytes(1019), &bytes(1018), Protocol::Tls12);
        assert!(!fact.generator_in_range);
        assert!(!judge(&bytes(1019), &bytes(1), Protocol::Tls12).generator_in_range);
        let mut huge = vec![0xff; 1024];
        huge[1023] = 0xfd;
        let fact = judge(&huge, &bytes(2), Protocol::Tls12);
        assert_eq!((fact.bits, fact.prime, fact.safe_prime), (8192, None, None));
        assert_eq!(judge(&[], &[], Protocol::Tls12).prime, None);
    }

    #[tokio::test]
    async fn duplicates_merge_their_protocols() {
        let seen = vec![
            (Protocol::Tls12, bytes(1019), bytes(2)),
            (Protocol::Tls10, bytes(1019), bytes(2)),
            (Protocol::Tls12, bytes(1019), bytes(2)),
        ];
        let groups = judge_all(seen).await;
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].protocols, [Protocol::Tls10, Protocol::Tls12]);
    }
}
