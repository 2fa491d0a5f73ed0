//! DNSSEC facts for one zone: DS at the parent, the DNSKEY set, RRSIG windows over the apex
//! SOA, NS and DNSKEY sets (each signature verified with hickory-proto's ring verifier), the
//! NSEC3 parameters, the denial of existence for a name that does not exist, and a verdict
//! (`secure`, `insecure`, `bogus`) for the zone itself given its parent's DS.

use std::net::SocketAddr;

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{PublicKey, Verifier};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

use crate::dns::anchor::TrustAnchor;
use crate::dns::facts::{ChainLink, DenialFact, DnskeyFact, DnssecFacts, DsFact, Nsec3Fact, SignatureFact};
use crate::dns::iterate::rcode_name;
use crate::dns::transport::{DnsClient, QueryError, Transport};
use crate::dns::wire::{name_text, rtype, Answer, EdnsQuery, Question};

async fn ask(client: &DnsClient, servers: &[SocketAddr], name: &str, qtype: u16) -> Result<Answer, String> {
    let question = Question::new(name, qtype).with_edns(Some(EdnsQuery { payload: 4096, ..EdnsQuery::dnssec() }));
    let mut last = String::from("no server to ask");
    for server in servers {
        let mut reply = client.query(*server, &question, Transport::Udp).await;
        if matches!(&reply, Ok(a) if a.message.metadata.truncation) {
            reply = client.query(*server, &question, Transport::Tcp).await;
        }
        match reply {
            Ok(answer) if answer.rcode == 0 || answer.rcode == 3 => return Ok(answer),
            Ok(answer) => last = format!("{server}: {}", rcode_name(answer.rcode)),
            Err(QueryError::Deadline) => return Err("deadline exceeded".into()),
            Err(error) => last = format!("{server}: {error}"),
        }
    }
    Err(last)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// RSA modulus size from an RFC 3110 public key (exponent length, exponent, modulus).
fn rsa_bits(key: &[u8]) -> Option<u32> {
    let (exponent_length, rest) = match key.first()? {
        0 => (u16::from_be_bytes([*key.get(1)?, *key.get(2)?]) as usize, key.get(3..)?),
        n => (*n as usize, key.get(1..)?),
    };
    let modulus = rest.get(exponent_length..)?;
    let leading_zeros = modulus.iter().take_while(|b| **b == 0).count();
    let significant = modulus.get(leading_zeros..)?;
    let first = *significant.first()?;
    Some((significant.len() as u32 - 1) * 8 + (8 - first.leading_zeros()))
}

pub async fn assess(
    client: &DnsClient,
    zone: &str,
    parent_servers: &[SocketAddr],
    servers: &[SocketAddr],
) -> DnssecFacts {
    let mut facts = DnssecFacts::default();
    let zone_name = match hickory_proto::rr::Name::from_ascii(zone) {
        Ok(name) => name,
        Err(error) => {
            facts.status = "bogus".into();
            facts.reason = Some(format!("zone name does not parse: {error}"));
            return facts;
        }
    };

    let mut answered = Answered::default();
    let ds_records: Vec<hickory_proto::dnssec::rdata::DS> = match ask(client, parent_servers, zone, rtype::DS).await {
        Ok(answer) => {
            answered.ds = true;
            answer
                .message
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DS(ds)) if name_text(&r.name) == zone => Some(ds.clone()),
                    _ => None,
                })
                .collect()
        }
        Err(error) => {
            facts.errors.push(format!("DS at parent: {error}"));
            Vec::new()
        }
    };

    let (keys, signatures_by_set) = apex_sets(client, servers, zone, &mut answered, &mut facts.errors).await;

    facts.dnskeys = keys
        .iter()
        .map(|(key, tag)| {
            let algorithm = u8::from(key.public_key().algorithm());
            DnskeyFact {
                key_tag: *tag,
                flags: key.flags(),
                algorithm,
                sep: key.secure_entry_point(),
                rsa_bits: matches!(algorithm, 1 | 5 | 7 | 8 | 10)
                    .then(|| rsa_bits(key.public_key().public_bytes()))
                    .flatten(),
            }
        })
        .collect();

    facts.ds = ds_records
        .iter()
        .map(|ds| DsFact {
            key_tag: ds.key_tag(),
            algorithm: u8::from(ds.algorithm()),
            digest_type: u8::from(ds.digest_type()),
            digest_length: ds.digest().len() as u32,
            digest_length_valid: digest_length(u8::from(ds.digest_type()))
                .map(|expected| expected == ds.digest().len()),
            matches_dnskey: keys
                .iter()
                .any(|(key, tag)| *tag == ds.key_tag() && ds.covers(&zone_name, key).unwrap_or(false)),
        })
        .collect();

    let current = now();
    for (record_type, set, sigs) in &signatures_by_set {
        for sig in sigs {
            facts.signatures.push(signature_fact(&keys, &zone_name, *record_type, set, sig, current));
        }
    }

    if let Ok(answer) = ask(client, servers, zone, rtype::NSEC3PARAM).await {
        let unknown_algorithm = answer.unknown_nsec3_algorithms.first().copied();
        facts.nsec3 = answer.message.answers.iter().find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC3PARAM(param)) => Some(Nsec3Fact {
                hash_algorithm: unknown_algorithm.unwrap_or(u8::from(param.hash_algorithm())),
                iterations: param.iterations(),
                salt: hex(param.salt()),
                // NSEC3PARAM flags are 0 by definition (RFC 5155 §4.1.2): opt-out is read from
                // the NSEC3 records below.
                opt_out: None,
            }),
            _ => None,
        });
    }

    match denial_of_existence(client, servers, zone, &keys, current, &mut facts.nsec3).await {
        Ok(denial) => facts.denial = Some(denial),
        Err(error) => facts.errors.push(format!("denial of existence: {error}")),
    }

    // A DS that matches a DNSKEY which itself signs the DNSKEY set: the chain into the zone
    // (time windows are judged separately, so that an expired chain says so).
    let dnskey_signers: Vec<u16> =
        facts.signatures.iter().filter(|s| s.covers == "DNSKEY" && s.valid).map(|s| s.key_tag).collect();
    facts.ds_matches_dnskey = (!facts.ds.is_empty())
        .then(|| facts.ds.iter().any(|d| d.matches_dnskey && dnskey_signers.contains(&d.key_tag)));

    let (status, reason) = verdict(&facts, &answered, current);
    facts.status = status.into();
    facts.reason = reason;
    facts
}

/// The DNSSEC chain above `zone`: every zone the delegation walk passed between the root and
/// `zone`, judged against its own parent's DS (the servers that gave each referral are that
/// zone's servers). `referrals` come from the walk, root first.
pub async fn chain(
    client: &DnsClient,
    referrals: &[crate::dns::iterate::Referral],
    zone: &str,
    anchor: Option<&TrustAnchor>,
) -> Vec<ChainLink> {
    let mut links = Vec::new();
    if let (Some(anchor), Some(first)) = (anchor, referrals.first().filter(|r| r.from_zone == ".")) {
        links.push(root_link(client, &first.asked, anchor).await);
    }
    for pair in referrals.windows(2) {
        let (above, below) = (&pair[0], &pair[1]);
        if above.zone == zone {
            break;
        }
        let facts = assess(client, &above.zone, &above.asked, &below.asked).await;
        links.push(ChainLink { zone: above.zone.clone(), status: facts.status, reason: facts.reason });
    }
    links
}

/// The root's own link: a DNSKEY that the trust anchor names must sign the root's DNSKEY set
/// with a signature that verifies and is current (as a validating resolver starts).
async fn root_link(client: &DnsClient, root_servers: &[SocketAddr], anchor: &TrustAnchor) -> ChainLink {
    let link = |status: &str, reason: Option<String>| ChainLink { zone: ".".into(), status: status.into(), reason };
    let mut answered = Answered::default();
    let mut errors = Vec::new();
    let (keys, sets) = apex_sets(client, root_servers, ".", &mut answered, &mut errors).await;
    if !answered.dnskey {
        return link("indeterminate", Some("no root server answered the DNSKEY query".into()));
    }
    let current = now();
    let root = hickory_proto::rr::Name::root();
    let signers: Vec<u16> = sets
        .iter()
        .filter(|(record_type, _, _)| *record_type == RecordType::DNSKEY)
        .flat_map(|(record_type, set, sigs)| {
            sigs.iter().map(|sig| signature_fact(&keys, &root, *record_type, set, sig, current)).collect::<Vec<_>>()
        })
        .filter(|s| s.valid && (s.inception as i64) <= current && current <= s.expiration as i64)
        .map(|s| s.key_tag)
        .collect();
    let anchored: Vec<u16> = keys.iter().filter(|(key, tag)| anchor.trusts(key, *tag)).map(|(_, tag)| *tag).collect();
    if anchored.iter().any(|tag| signers.contains(tag)) {
        link("secure", None)
    } else if anchored.is_empty() {
        link("bogus", Some(format!("no root DNSKEY matches the trust anchor ({})", anchor.source)))
    } else {
        link(
            "bogus",
            Some(format!(
                "the root key the trust anchor ({}) names gives no valid, current signature over the DNSKEY set",
                anchor.source
            )),
        )
    }
}

/// An apex RRset (SOA, NS or DNSKEY) as served, with the RRSIGs over it.
type SignedSet = (RecordType, Vec<Record>, Vec<RRSIG>);

/// The DNSKEY, SOA and NS sets at the apex with their RRSIGs, and the zone's keys with their
/// tags; failures go to `errors`.
async fn apex_sets(
    client: &DnsClient,
    servers: &[SocketAddr],
    zone: &str,
    answered: &mut Answered,
    errors: &mut Vec<String>,
) -> (Vec<(DNSKEY, u16)>, Vec<SignedSet>) {
    let mut keys: Vec<(DNSKEY, u16)> = Vec::new();
    let mut signatures_by_set: Vec<SignedSet> = Vec::new();
    for (qtype, record_type) in
        [(rtype::DNSKEY, RecordType::DNSKEY), (rtype::SOA, RecordType::SOA), (rtype::NS, RecordType::NS)]
    {
        match ask(client, servers, zone, qtype).await {
            Ok(answer) => {
                let set: Vec<Record> = answer
                    .message
                    .answers
                    .iter()
                    .filter(|r| r.record_type() == record_type && name_text(&r.name) == zone)
                    .cloned()
                    .collect();
                let sigs: Vec<RRSIG> = answer
                    .message
                    .answers
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == record_type => {
                            Some(sig.clone())
                        }
                        _ => None,
                    })
                    .collect();
                if record_type == RecordType::DNSKEY {
                    answered.dnskey = true;
                    for record in &set {
                        if let RData::DNSSEC(DNSSECRData::DNSKEY(key)) = &record.data {
                            if let Ok(tag) = key.calculate_key_tag() {
                                keys.push((key.clone(), tag));
                            }
                        }
                    }
                }
                signatures_by_set.push((record_type, set, sigs));
            }
            Err(error) => errors.push(format!("{record_type} at child: {error}")),
        }
    }
    (keys, signatures_by_set)
}

/// Ask for a name that does not exist and record the proof that came back: NSEC or NSEC3,
/// its signatures (verified under each proof's owner name), and the NSEC3 parameters and
/// opt-out flag of the NSEC3 records (filling `nsec3` when NSEC3PARAM gave none).
async fn denial_of_existence(
    client: &DnsClient,
    servers: &[SocketAddr],
    zone: &str,
    keys: &[(DNSKEY, u16)],
    current: i64,
    nsec3_fact: &mut Option<Nsec3Fact>,
) -> Result<DenialFact, String> {
    let missing = format!("postura-nx-{:08x}.{}", rand::random::<u32>(), zone.trim_start_matches('.'));
    let answer = ask(client, servers, &missing, rtype::A).await?;
    let mut denial = DenialFact { rcode: Some(rcode_name(answer.rcode)), ..DenialFact::default() };
    // NSEC3 records with an unassigned hash algorithm prove nothing to a validator (RFC 5155
    // §8.1): the algorithm is recorded, the records are not judged as a proof.
    if let Some(&algorithm) = answer.unknown_nsec3_algorithms.first() {
        denial.kind = Some("NSEC3".into());
        nsec3_fact
            .get_or_insert_with(|| Nsec3Fact { hash_algorithm: algorithm, ..Nsec3Fact::default() })
            .hash_algorithm = algorithm;
        return Ok(denial);
    }
    for record in &answer.message.authorities {
        match &record.data {
            RData::DNSSEC(DNSSECRData::NSEC(_)) => denial.kind = Some("NSEC".into()),
            RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) => {
                denial.kind = Some("NSEC3".into());
                let seen = nsec3_fact.get_or_insert_with(|| Nsec3Fact {
                    hash_algorithm: u8::from(nsec3.hash_algorithm()),
                    iterations: nsec3.iterations(),
                    salt: hex(nsec3.salt()),
                    opt_out: None,
                });
                // Any record of the proof with the flag: the zone uses opt-out.
                seen.opt_out = Some(seen.opt_out.unwrap_or(false) || nsec3.opt_out());
            }
            RData::DNSSEC(DNSSECRData::RRSIG(sig))
                if matches!(sig.input().type_covered, RecordType::NSEC | RecordType::NSEC3) =>
            {
                denial.signed = true;
                // Each proof RRset is verified under its own owner name.
                let covered = sig.input().type_covered;
                let set: Vec<Record> = answer
                    .message
                    .authorities
                    .iter()
                    .filter(|r| r.record_type() == covered && r.name == record.name)
                    .cloned()
                    .collect();
                denial.signatures.push(signature_fact(keys, &record.name, covered, &set, sig, current));
            }
            _ => {}
        }
    }
    Ok(denial)
}

/// One RRSIG over `set` (owned by `owner`): its window, and whether a DNSKEY of the zone with
/// its tag and algorithm verifies it.
fn signature_fact(
    keys: &[(DNSKEY, u16)],
    owner: &hickory_proto::rr::Name,
    covers: RecordType,
    set: &[Record],
    sig: &RRSIG,
    now: i64,
) -> SignatureFact {
    let input = sig.input();
    let expiration = input.sig_expiration.get();
    let verified: Vec<_> = keys
        .iter()
        .filter(|(key, tag)| *tag == input.key_tag && key.public_key().algorithm() == input.algorithm)
        .map(|(key, _)| key.verify_rrsig(owner, DNSClass::IN, sig, set.iter()))
        .collect();
    let valid = verified.iter().any(|r| r.is_ok());
    let error = if valid {
        None
    } else if verified.is_empty() {
        Some(format!("no DNSKEY with tag {}", input.key_tag))
    } else {
        verified.iter().find_map(|r| r.as_ref().err().map(|e| e.to_string()))
    };
    SignatureFact {
        covers: covers.to_string(),
        key_tag: input.key_tag,
        algorithm: u8::from(input.algorithm),
        inception: input.sig_inception.get(),
        expiration,
        seconds_left: expiration as i64 - now,
        valid,
        error,
    }
}

/// Which of the answers a verdict rests on came back.
#[derive(Debug, Default)]
struct Answered {
    /// The parent answered the DS query (with or without records).
    ds: bool,
    /// Some server of the zone answered the DNSKEY query.
    dnskey: bool,
}

/// Digest length in bytes of a DS digest type (IANA "DS RR Type Digest Algorithms").
fn digest_length(digest_type: u8) -> Option<usize> {
    match digest_type {
        1 => Some(20), // SHA-1
        2 => Some(32), // SHA-256
        3 => Some(32), // GOST R 34.11-94
        4 => Some(48), // SHA-384
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Secure, insecure, bogus or indeterminate, and why, from the facts already gathered. A
/// verdict only rests on answers that came: no DS answer, or a DS and no DNSKEY answer, is
/// `indeterminate`, never "no DNSKEY".
fn verdict(facts: &DnssecFacts, answered: &Answered, now: i64) -> (&'static str, Option<String>) {
    if !answered.ds {
        return ("indeterminate", Some("the parent's servers did not answer the DS query".into()));
    }
    if facts.ds.is_empty() {
        return (
            "insecure",
            Some(if !answered.dnskey {
                "no DS at the parent (the zone's DNSKEY set was not observed: no answer)".into()
            } else if facts.dnskeys.is_empty() {
                "no DS at the parent, no DNSKEY".into()
            } else {
                "DNSKEY published but no DS at the parent".into()
            }),
        );
    }
    if !answered.dnskey {
        return ("indeterminate", Some("DS at the parent, but no server of the zone answered the DNSKEY query".into()));
    }
    if facts.dnskeys.is_empty() {
        return ("bogus", Some("DS at the parent but no DNSKEY at the child".into()));
    }
    if facts.ds_matches_dnskey != Some(true) {
        return ("bogus", Some("no DS matches a DNSKEY that validly signs the DNSKEY set".into()));
    }
    for covers in ["DNSKEY", "SOA", "NS"] {
        let sigs: Vec<&SignatureFact> = facts.signatures.iter().filter(|s| s.covers == covers).collect();
        if sigs.is_empty() {
            return ("bogus", Some(format!("no RRSIG over {covers}")));
        }
        let in_window = |s: &&SignatureFact| (s.inception as i64) <= now && now <= s.expiration as i64;
        if !sigs.iter().any(|s| s.valid && in_window(s)) {
            let reason = if sigs.iter().all(|s| (s.expiration as i64) < now) {
                format!("every RRSIG over {covers} has expired")
            } else if sigs.iter().all(|s| (s.inception as i64) > now) {
                format!("every RRSIG over {covers} is not yet valid")
            } else {
                format!("no RRSIG over {covers} verifies")
            };
            return ("bogus", Some(reason));
        }
    }
    ("secure", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_modulus_sizes_are_read_from_rfc3110_keys() {
        let mut key = vec![3, 1, 0, 1];
        key.extend(std::iter::once(0x80).chain(std::iter::repeat_n(0u8, 255)));
        assert_eq!(rsa_bits(&key), Some(2048));
        let mut long_exponent = vec![0, 0, 3, 1, 0, 1, 0x01];
        long_exponent.extend([0u8; 127]);
        assert_eq!(rsa_bits(&long_exponent), Some(1017));
        assert_eq!(rsa_bits(&[]), None);
        assert_eq!(rsa_bits(&[5, 1]), None);
    }

    #[test]
    fn a_verdict_needs_the_answers_it_rests_on() {
        let facts = DnssecFacts::default();
        let none = Answered::default();
        assert_eq!(verdict(&facts, &none, 0).0, "indeterminate");
        let ds_only = Answered { ds: true, dnskey: false };
        let (status, reason) = verdict(&facts, &ds_only, 0);
        assert_eq!(status, "insecure");
        assert!(!reason.unwrap().contains("no DNSKEY"));
        let with_ds = DnssecFacts {
            ds: vec![DsFact {
                key_tag: 1,
                algorithm: 13,
                digest_type: 2,
                digest_length: 32,
                digest_length_valid: Some(true),
                matches_dnskey: false,
            }],
            ..DnssecFacts::default()
        };
        assert_eq!(verdict(&with_ds, &ds_only, 0).0, "indeterminate");
        let both = Answered { ds: true, dnskey: true };
        assert_eq!(verdict(&with_ds, &both, 0).0, "bogus");
    }

    #[test]
    fn ds_digest_lengths_by_type() {
        assert_eq!(digest_length(1), Some(20));
        assert_eq!(digest_length(2), Some(32));
        assert_eq!(digest_length(4), Some(48));
        assert_eq!(digest_length(9), None);
    }
}
