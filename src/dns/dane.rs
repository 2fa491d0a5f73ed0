//! DANE (RFC 6698, RFC 7672): the TLSA records of each MX (`_25._tcp.<exchange>`), and once the
//! MX has been swept over STARTTLS, whether each record matches the chain the server sent.
//! Matching reads the certificate's SubjectPublicKeyInfo with a small bounded DER walker; a
//! certificate that does not parse simply matches nothing.

use base64::Engine as _;
use hickory_proto::rr::RData;

use crate::dns::facts::{TlsaFact, ZoneFacts};
use crate::dns::iterate::Lookups;
use crate::dns::wire::rtype;
use crate::facts::TargetResult;

/// TLSA records at `_25._tcp.<exchange>`, and whether the lookup came back authenticated (AD,
/// meaningful through a validating `--dns-resolver` only).
pub async fn tlsa(lookups: &Lookups, exchange: &str) -> Result<(Vec<TlsaFact>, bool), String> {
    let found = lookups.lookup(&format!("_25._tcp.{exchange}"), rtype::TLSA).await?;
    let records = found
        .records
        .iter()
        .filter_map(|r| match &r.data {
            RData::TLSA(tlsa) => Some(TlsaFact {
                usage: u8::from(tlsa.cert_usage),
                selector: u8::from(tlsa.selector),
                matching: u8::from(tlsa.matching),
                data: tlsa.cert_data.iter().map(|b| format!("{b:02x}")).collect(),
                matches_chain: None,
            }),
            _ => None,
        })
        .collect();
    Ok((records, found.authentic_data))
}

/// One DER element at the start of `bytes`: (tag, the whole element, its content).
fn element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *bytes.first()?;
    let first = *bytes.get(1)?;
    let (length, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let octets = (first & 0x7f) as usize;
        if octets == 0 || octets > 4 {
            return None;
        }
        let mut length = 0usize;
        for i in 0..octets {
            length = (length << 8) | *bytes.get(2 + i)? as usize;
        }
        (length, 2 + octets)
    };
    let end = header.checked_add(length)?;
    Some((tag, bytes.get(..end)?, bytes.get(header..end)?))
}

/// The SubjectPublicKeyInfo (whole DER element) of a certificate.
pub fn spki(certificate: &[u8]) -> Option<&[u8]> {
    let (_, _, certificate) = element(certificate)?;
    let (_, _, tbs) = element(certificate)?;
    let mut rest = tbs;
    // [0] version (optional), serial, signature, issuer, validity, subject, then the SPKI.
    if rest.first() == Some(&0xa0) {
        let (_, whole, _) = element(rest)?;
        rest = rest.get(whole.len()..)?;
    }
    for _ in 0..5 {
        let (_, whole, _) = element(rest)?;
        rest = rest.get(whole.len()..)?;
    }
    let (tag, whole, _) = element(rest)?;
    (tag == 0x30).then_some(whole)
}

/// Whether a TLSA record's data matches a certificate (DER).
pub fn matches(record: &TlsaFact, certificate: &[u8]) -> bool {
    let selected = match record.selector {
        0 => certificate,
        1 => match spki(certificate) {
            Some(spki) => spki,
            None => return false,
        },
        _ => return false,
    };
    let digest: Vec<u8> = match record.matching {
        0 => selected.to_vec(),
        1 => ring::digest::digest(&ring::digest::SHA256, selected).as_ref().to_vec(),
        2 => ring::digest::digest(&ring::digest::SHA512, selected).as_ref().to_vec(),
        _ => return false,
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex == record.data
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Fill `matches_chain` of every MX's TLSA records from the chain its STARTTLS sweep saw: usages
/// 1 and 3 (end entity) against the leaf, 0 and 2 (trust anchor, CA) against the rest. A record
/// of an MX that was not swept, or sent no chain, stays null.
pub fn match_served_chains(zones: &mut [ZoneFacts], targets: &[TargetResult]) {
    for zone in zones {
        match_zone_chains(zone, |host| {
            targets
                .iter()
                .find(|t| t.host == host && t.port == 25)
                .and_then(|t| t.tls.as_ref())
                .map(|tls| tls.chain_pem.as_slice())
        });
    }
}

/// The DANE match of one zone's MX hosts, `chain_of(host)` giving the chain (PEM) the sweep of
/// `host`'s port 25 saw: for a scan that keeps only the mail hosts' chains, not every target.
pub fn match_zone_chains<'c>(zone: &mut ZoneFacts, chain_of: impl Fn(&str) -> Option<&'c [String]>) {
    let Some(mail) = zone.mail.as_mut() else {
        return;
    };
    for mx in &mut mail.mx {
        let host = mx.exchange.trim_end_matches('.');
        let chain: Option<Vec<Vec<u8>>> = chain_of(host)
            .filter(|pems| !pems.is_empty())
            .map(|pems| pems.iter().filter_map(|p| pem_to_der(p)).collect());
        let Some(chain) = chain else { continue };
        for record in &mut mx.tlsa {
            let candidates: Vec<&Vec<u8>> = match record.usage {
                1 | 3 => chain.iter().take(1).collect(),
                _ => chain.iter().skip(1).collect(),
            };
            record.matches_chain = Some(candidates.iter().any(|c| matches(record, c)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_walker_is_bounded() {
        assert_eq!(element(&[0x30, 0x03, 1, 2, 3]).map(|(t, w, c)| (t, w.len(), c.len())), Some((0x30, 5, 3)));
        assert_eq!(element(&[0x30, 0x05, 1]), None);
        assert_eq!(element(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(element(&[0x30, 0x82, 0xff]), None);
        assert_eq!(spki(&[0x30, 0x00]), None);
        assert_eq!(spki(&[]), None);
        let record = TlsaFact { usage: 3, selector: 0, matching: 0, data: "3000".into(), matches_chain: None };
        assert!(matches(&record, &[0x30, 0x00]));
        assert!(!matches(&TlsaFact { selector: 1, ..record.clone() }, &[0x30, 0x00]));
        assert!(!matches(&TlsaFact { matching: 9, ..record }, &[0x30, 0x00]));
    }
}
