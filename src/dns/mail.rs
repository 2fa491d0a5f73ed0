//! Mail records of a zone: MX (and Null MX), SPF with the RFC 7208 §4.6.4 lookup counts done
//! recursively through include/redirect, DMARC tags, MTA-STS (TXT and the policy over HTTPS)
//! and TLS-RPT TXT records.

use hickory_proto::rr::RData;

use crate::dns::facts::{DmarcFacts, MailFacts, MxFact, SpfFacts};
use crate::dns::iterate::{rcode_name, record_address, Lookups};
use crate::dns::wire::{fqdn, name_text, rtype};

/// Lookups postura performs for one SPF evaluation at most (the RFC limit is 10; going on a
/// little further shows by how much a record exceeds it, and stops loops).
const SPF_LOOKUP_BUDGET: u32 = 40;

/// TXT strings at `name`, each record's strings joined.
pub async fn txt(lookups: &Lookups, name: &str) -> Result<Vec<String>, String> {
    txt_answer(lookups, name).await.map(|(_, texts)| texts)
}

/// The RCODE of the TXT lookup at `name` and its strings.
async fn txt_answer(lookups: &Lookups, name: &str) -> Result<(String, Vec<String>), String> {
    let found = lookups.lookup(name, rtype::TXT).await?;
    let rcode = conclusive_rcode(found.rcode)
        .ok_or_else(|| format!("{name}: {}", found.rcode.map(rcode_name).unwrap_or_default()))?;
    Ok((
        rcode,
        found
            .records
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(txt.txt_data.iter().map(|p| crate::dns::printable(p)).collect::<String>()),
                _ => None,
            })
            .collect(),
    ))
}

/// MX exchanges looked up and kept, most preferred first: each costs address and TLSA lookups
/// here and a STARTTLS target in the scan's MX pass, so a zone listing thousands must not cost
/// thousands. Real zones list a handful.
pub const MAX_MX: usize = 32;

pub async fn assess(lookups: &Lookups, zone: &str) -> MailFacts {
    let mut facts = MailFacts::default();
    match lookups.lookup(zone, rtype::MX).await {
        Ok(found) => {
            facts.rcodes.mx = conclusive_rcode(found.rcode);
            let mut exchanges: Vec<(u16, String)> = found
                .records
                .iter()
                .filter_map(|record| match &record.data {
                    RData::MX(mx) => Some((mx.preference, name_text(&mx.exchange))),
                    _ => None,
                })
                .collect();
            exchanges.sort();
            if exchanges.len() > MAX_MX {
                facts.truncated.insert("mx".into(), exchanges.len());
                exchanges.truncate(MAX_MX);
            }
            for (preference, exchange) in exchanges {
                let mut fact = MxFact { preference, exchange: exchange.clone(), ..MxFact::default() };
                if exchange != "." {
                    for qtype in [rtype::A, rtype::AAAA] {
                        if let Ok(addresses) = lookups.lookup(&exchange, qtype).await {
                            fact.cname |= !addresses.cnames.is_empty();
                            fact.addresses
                                .extend(addresses.records.iter().filter_map(record_address).map(|a| a.to_string()));
                        }
                    }
                    match crate::dns::dane::tlsa(lookups, &exchange).await {
                        Ok((records, authentic)) => {
                            fact.tlsa = records;
                            fact.tlsa_authentic_data = Some(authentic);
                        }
                        Err(error) => fact.tlsa_error = Some(error),
                    }
                }
                facts.mx.push(fact);
            }
            facts.mx.sort_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)));
            facts.null_mx = facts.mx.len() == 1 && facts.mx[0].exchange == "." && facts.mx[0].preference == 0;
        }
        Err(error) => facts.errors.push(format!("MX: {error}")),
    }
    match txt_answer(lookups, zone).await {
        Ok((rcode, records)) => {
            facts.rcodes.txt = Some(rcode);
            let spf: Vec<String> = records.into_iter().filter(|t| is_spf(t)).collect();
            if !spf.is_empty() {
                facts.spf = Some(evaluate_spf(lookups, spf).await);
            }
        }
        Err(error) => facts.errors.push(format!("SPF: {error}")),
    }
    match txt_answer(lookups, &format!("_dmarc.{zone}")).await {
        Ok((rcode, records)) => {
            facts.rcodes.dmarc = Some(rcode);
            let dmarc: Vec<String> =
                records.into_iter().filter(|t| t.to_ascii_lowercase().starts_with("v=dmarc1")).collect();
            if !dmarc.is_empty() {
                facts.dmarc = Some(parse_dmarc(dmarc));
            }
        }
        Err(error) => facts.errors.push(format!("DMARC: {error}")),
    }
    match txt_answer(lookups, &format!("_mta-sts.{zone}")).await {
        Ok((rcode, records)) => {
            facts.rcodes.mta_sts = Some(rcode);
            facts.mta_sts = records.into_iter().filter(|t| t.to_ascii_lowercase().starts_with("v=stsv1")).collect()
        }
        Err(error) => facts.errors.push(format!("MTA-STS: {error}")),
    }
    if !facts.mta_sts.is_empty() {
        facts.mta_sts_policy = Some(crate::dns::mta_sts::fetch(lookups, zone, lookups.client.timeout * 3).await);
    }
    match txt_answer(lookups, &format!("_smtp._tls.{zone}")).await {
        Ok((rcode, records)) => {
            facts.rcodes.tls_rpt = Some(rcode);
            facts.tls_rpt = records.into_iter().filter(|t| t.to_ascii_lowercase().starts_with("v=tlsrptv1")).collect()
        }
        Err(error) => facts.errors.push(format!("TLS-RPT: {error}")),
    }
    facts
}

/// An RCODE that tells whether records exist (NOERROR, NXDOMAIN); SERVFAIL, REFUSED… say
/// nothing about the zone's records.
fn conclusive_rcode(rcode: Option<u16>) -> Option<String> {
    rcode.filter(|r| *r == 0 || *r == 3).map(rcode_name)
}

fn is_spf(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

/// A term of an SPF record that matters for counting.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SpfTerm {
    /// include, a, mx, ptr, exists, redirect: the mechanism and its domain (None: the current one).
    Lookup {
        kind: String,
        domain: Option<String>,
    },
    All {
        qualifier: char,
    },
    Other,
}

fn parse_term(term: &str) -> Result<SpfTerm, String> {
    let lower = term.to_ascii_lowercase();
    let (qualifier, body) = match lower.chars().next() {
        Some(q @ ('+' | '-' | '~' | '?')) => (q, &lower[1..]),
        _ => ('+', lower.as_str()),
    };
    if let Some(domain) = body.strip_prefix("redirect=") {
        return Ok(SpfTerm::Lookup { kind: "redirect".into(), domain: Some(domain.to_string()) });
    }
    if body.contains('=') {
        return Ok(SpfTerm::Other);
    }
    let (name, argument) = match body.split_once(':') {
        Some((name, argument)) => (name, Some(argument)),
        None => match body.split_once('/') {
            Some((name, _)) => (name, None),
            None => (body, None),
        },
    };
    let domain = argument.map(|a| a.split('/').next().unwrap_or("").to_string()).filter(|d| !d.is_empty());
    match name {
        "all" if argument.is_none() => Ok(SpfTerm::All { qualifier }),
        "include" | "exists" if domain.is_none() => Err(format!("'{term}' needs a domain")),
        "include" | "a" | "mx" | "ptr" | "exists" => Ok(SpfTerm::Lookup { kind: name.into(), domain }),
        "ip4" | "ip6" if argument.is_some() => Ok(SpfTerm::Other),
        _ => Err(format!("unknown term '{term}'")),
    }
}

/// Count the lookups of an SPF record set the way an evaluator following every branch would.
pub async fn evaluate_spf(lookups: &Lookups, records: Vec<String>) -> SpfFacts {
    let mut facts = SpfFacts { records: records.clone(), ..SpfFacts::default() };
    let Some(top) = records.first() else {
        return facts;
    };
    // Depth-first over (record, domain) pairs, like the evaluation order.
    let mut stack: Vec<(String, bool)> = vec![(top.clone(), true)];
    let mut performed = 0u32;
    while let Some((record, top_level)) = stack.pop() {
        let mut nested = Vec::new();
        for term in record.split_whitespace().skip(1) {
            match parse_term(term) {
                Ok(SpfTerm::All { qualifier }) if top_level => facts.all = Some(qualifier.to_string()),
                Ok(SpfTerm::Lookup { kind, domain }) => {
                    facts.dns_lookups += 1;
                    let Some(domain) = domain.filter(|d| !d.contains('%')) else {
                        continue;
                    };
                    if performed >= SPF_LOOKUP_BUDGET {
                        continue;
                    }
                    performed += 1;
                    match kind.as_str() {
                        "include" | "redirect" => {
                            facts.includes.push(fqdn(&domain));
                            match txt(lookups, &domain).await {
                                Ok(texts) => match texts.into_iter().find(|t| is_spf(t)) {
                                    Some(next) => nested.push((next, false)),
                                    None => facts.void_lookups += 1,
                                },
                                Err(_) => facts.void_lookups += 1,
                            }
                        }
                        "a" | "exists" | "mx" => {
                            let qtype = if kind == "mx" { rtype::MX } else { rtype::A };
                            match lookups.lookup(&domain, qtype).await {
                                Ok(found) if !found.records.is_empty() => {}
                                _ => facts.void_lookups += 1,
                            }
                        }
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(error) => facts.syntax_errors.push(error),
            }
        }
        // Keep the evaluation order: the first include is followed first.
        stack.extend(nested.into_iter().rev());
    }
    facts
}

pub fn parse_dmarc(records: Vec<String>) -> DmarcFacts {
    let mut facts = DmarcFacts { records: records.clone(), ..DmarcFacts::default() };
    let Some(first) = records.first() else {
        return facts;
    };
    for tag in first.split(';') {
        let Some((key, value)) = tag.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "p" => facts.p = Some(value.to_ascii_lowercase()),
            "sp" => facts.sp = Some(value.to_ascii_lowercase()),
            "pct" => facts.pct = value.parse().ok(),
            "rua" => facts.rua = value.split(',').map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect(),
            "ruf" => facts.ruf = value.split(',').map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect(),
            _ => {}
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_terms_parse() {
        assert_eq!(parse_term("-all"), Ok(SpfTerm::All { qualifier: '-' }));
        assert_eq!(
            parse_term("include:_spf.example"),
            Ok(SpfTerm::Lookup { kind: "include".into(), domain: Some("_spf.example".into()) })
        );
        assert_eq!(parse_term("a"), Ok(SpfTerm::Lookup { kind: "a".into(), domain: None }));
        assert_eq!(parse_term("mx/24"), Ok(SpfTerm::Lookup { kind: "mx".into(), domain: None }));
        assert_eq!(
            parse_term("a:mail.example/24"),
            Ok(SpfTerm::Lookup { kind: "a".into(), domain: Some("mail.example".into()) })
        );
        assert_eq!(
            parse_term("redirect=_spf.example"),
            Ok(SpfTerm::Lookup { kind: "redirect".into(), domain: Some("_spf.example".into()) })
        );
        assert_eq!(parse_term("ip4:192.0.2.0/24"), Ok(SpfTerm::Other));
        assert!(parse_term("include").is_err());
        assert!(parse_term("bogus:thing").is_err());
    }

    #[test]
    fn dmarc_tags_are_read() {
        let facts =
            parse_dmarc(vec!["v=DMARC1; p=none; sp=reject; pct=50; rua=mailto:a@x.test,mailto:b@y.test".into()]);
        assert_eq!(facts.p.as_deref(), Some("none"));
        assert_eq!(facts.sp.as_deref(), Some("reject"));
        assert_eq!(facts.pct, Some(50));
        assert_eq!(facts.rua.len(), 2);
    }
}
