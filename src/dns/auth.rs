//! Probes of one nameserver at one address for one zone: authoritative answers over UDP and
//! TCP, SOA, NS set, recursion, AXFR, version disclosure, EDNS behaviour, AAAA handling and
//! upward referrals. Each probe is one or two bounded queries; a failure is recorded in its own
//! fact and the other probes still run.

use std::net::SocketAddr;

use hickory_proto::rr::RData;

use crate::dns::facts::{AxfrFact, EdnsFacts, NameserverFacts, QueryFact, SoaFields, VersionFact};
use crate::dns::iterate::rcode_name;
use crate::dns::transport::{DnsClient, QueryError, Transport};
use crate::dns::wire::{name_text, rtype, Answer, EdnsQuery, Question, CLASS_CH};

/// An EDNS option code from the private-use range (RFC 6891 §9), which no server knows.
pub const UNKNOWN_OPTION: u16 = 65001;
/// An EDNS flag bit no specification assigns.
pub const UNKNOWN_FLAG: u16 = 0x0040;

/// The header facts of an answer, or the error.
pub fn query_fact(result: &Result<Answer, QueryError>) -> QueryFact {
    match result {
        Ok(answer) => QueryFact {
            rcode: Some(rcode_name(answer.rcode)),
            authoritative: Some(answer.message.metadata.authoritative),
            recursion_available: Some(answer.message.metadata.recursion_available),
            truncated: Some(answer.message.metadata.truncation),
            answers: Some(answer.message.answers.len() as u32),
            opt: Some(answer.opt.is_some()),
            error: None,
        },
        Err(error) => QueryFact { error: Some(error.to_string()), ..QueryFact::default() },
    }
}

/// SOA fields of the zone's SOA in an answer.
pub fn soa_in(answer: &Answer, zone: &str) -> Option<SoaFields> {
    answer.message.answers.iter().find_map(|record| match &record.data {
        RData::SOA(soa) if name_text(&record.name) == zone => Some(SoaFields {
            mname: name_text(&soa.mname),
            rname: name_text(&soa.rname),
            serial: soa.serial,
            refresh: soa.refresh as i64,
            retry: soa.retry as i64,
            expire: soa.expire as i64,
            minimum: soa.minimum,
        }),
        _ => None,
    })
}

/// Run every probe against `address` (named `name`) for `zone`.
pub async fn probe_nameserver(client: &DnsClient, name: &str, address: SocketAddr, zone: &str) -> NameserverFacts {
    let client = &client.scope();
    let mut facts =
        NameserverFacts { name: name.to_string(), address: address.ip().to_string(), ..NameserverFacts::default() };

    let soa_udp = client.query(address, &Question::new(zone, rtype::SOA), Transport::Udp).await;
    facts.soa_udp = query_fact(&soa_udp);
    // A server that never answers, or where nothing listens (ICMP port unreachable), is not
    // asked eleven more times.
    let unreachable =
        matches!(soa_udp, Err(QueryError::Timeout(_) | QueryError::Deadline | QueryError::Refused | QueryError::Io(_)));
    let soa_tcp = client.query(address, &Question::new(zone, rtype::SOA), Transport::Tcp).await;
    facts.soa_tcp = query_fact(&soa_tcp);
    let soa_answer = soa_udp.as_ref().ok().or(soa_tcp.as_ref().ok());
    facts.answered = Some(soa_answer.is_some());
    if let Some(answer) = soa_answer {
        let aa = answer.message.metadata.authoritative && answer.rcode == 0;
        facts.authoritative = Some(aa);
        facts.lame = Some(!aa);
        facts.soa = if aa { soa_in(answer, zone) } else { None };
    }
    if unreachable && soa_tcp.is_err() {
        let skipped = "not asked: no answer to SOA over UDP or TCP".to_string();
        for fact in [&mut facts.recursion, &mut facts.aaaa] {
            fact.error = Some(skipped.clone());
        }
        facts.axfr.error = Some(skipped.clone());
        facts.version_bind.error = Some(skipped.clone());
        facts.version_server.error = Some(skipped.clone());
        facts.edns.errors.push(skipped);
        facts.queries = client.scoped_queries();
        return facts;
    }

    if let Ok(answer) = client.query(address, &Question::new(zone, rtype::NS), Transport::Udp).await {
        if answer.message.metadata.authoritative && answer.rcode == 0 {
            let mut ns: Vec<String> = answer
                .message
                .answers
                .iter()
                .filter(|r| name_text(&r.name) == zone)
                .filter_map(|r| match &r.data {
                    RData::NS(target) => Some(name_text(&target.0)),
                    _ => None,
                })
                .collect();
            ns.sort();
            ns.dedup();
            facts.ns_set = ns;
        }
    }

    // Before the recursion probe: an open resolver answers `NS .` from its cache once that
    // probe has filled it, and a cached answer is not a referral.
    facts.upward_referral = match client.query(address, &Question::new(".", rtype::NS), Transport::Udp).await {
        Ok(answer) if zone != "." => {
            let root_referral = answer.message.answers.is_empty()
                && answer
                    .message
                    .authorities
                    .iter()
                    .any(|r| matches!(r.data, RData::NS(_)) && name_text(&r.name) == ".");
            Some(!answer.message.metadata.authoritative && answer.rcode == 0 && root_referral)
        }
        _ => None,
    };

    // Recursion: a question outside the zone (the root's SOA) with RD set.
    let recursion = client.query(address, &Question::new(".", rtype::SOA).recursive(), Transport::Udp).await;
    facts.recursion = query_fact(&recursion);
    facts.recursion_offered = recursion.as_ref().ok().map(|a| {
        a.message.metadata.recursion_available || (a.rcode == 0 && !a.message.answers.is_empty() && zone != ".")
    });

    facts.axfr = axfr(client, address, zone).await;

    facts.version_bind = version(client, address, "version.bind").await;
    facts.version_server = version(client, address, "version.server").await;
    facts.edns = edns(client, address, zone).await;

    let aaaa = client.query(address, &Question::new(zone, rtype::AAAA), Transport::Udp).await;
    facts.aaaa = query_fact(&aaaa);

    facts.queries = client.scoped_queries();
    facts
}

/// AXFR over TCP: whether the zone came (NOERROR, starting with its SOA).
async fn axfr(client: &DnsClient, address: SocketAddr, zone: &str) -> AxfrFact {
    match client.transfer(address, zone).await {
        Ok(answers) => {
            let first = answers.first();
            let rcode = first.map(|a| a.rcode);
            let records: usize = answers.iter().map(|a| a.message.answers.len()).sum();
            let opens_with_soa = first
                .is_some_and(|a| a.message.answers.first().is_some_and(|r| u16::from(r.record_type()) == rtype::SOA));
            AxfrFact {
                open: Some(rcode == Some(0) && opens_with_soa),
                rcode: rcode.map(rcode_name),
                records: records as u32,
                error: None,
            }
        }
        // A server that closes or refuses the TCP connection does not transfer the zone.
        Err(QueryError::Closed) | Err(QueryError::Refused) => {
            AxfrFact { open: Some(false), error: Some("connection closed or refused".into()), ..AxfrFact::default() }
        }
        Err(error) => AxfrFact { error: Some(error.to_string()), ..AxfrFact::default() },
    }
}

async fn version(client: &DnsClient, address: SocketAddr, name: &str) -> VersionFact {
    let question = Question::new(name, rtype::TXT).class(CLASS_CH).with_edns(None);
    match client.query(address, &question, Transport::Udp).await {
        Ok(answer) => {
            let class = answer
                .message
                .answers
                .iter()
                .find(|r| matches!(r.data, RData::TXT(_)))
                .map(|r| r.dns_class.to_string());
            let text = answer.message.answers.iter().find_map(|r| match &r.data {
                RData::TXT(txt) => {
                    Some(txt.txt_data.iter().map(|part| crate::dns::printable(part)).collect::<Vec<_>>().join(""))
                }
                _ => None,
            });
            VersionFact { text, rcode: Some(rcode_name(answer.rcode)), class, error: None }
        }
        Err(error) => VersionFact { error: Some(error.to_string()), ..VersionFact::default() },
    }
}

async fn edns(client: &DnsClient, address: SocketAddr, zone: &str) -> EdnsFacts {
    let mut facts = EdnsFacts::default();
    let ask = |edns: EdnsQuery, qtype: u16| {
        let question = Question::new(zone, qtype).with_edns(Some(edns));
        async move { client.query(address, &question, Transport::Udp).await }
    };
    match ask(EdnsQuery::plain(), rtype::SOA).await {
        Ok(answer) => facts.opt_returned = Some(answer.opt.is_some()),
        Err(error) => facts.errors.push(format!("edns0: {error}")),
    }
    match ask(EdnsQuery { version: 1, ..EdnsQuery::plain() }, rtype::SOA).await {
        Ok(answer) => {
            facts.version1_rcode = Some(rcode_name(answer.rcode));
            facts.version1_opt_version = answer.opt.as_ref().map(|o| o.version);
        }
        Err(error) => facts.errors.push(format!("edns1: {error}")),
    }
    match ask(EdnsQuery { options: vec![(UNKNOWN_OPTION, vec![0xde, 0xad])], ..EdnsQuery::plain() }, rtype::SOA).await {
        Ok(answer) => {
            facts.unknown_option_echoed = answer.opt.as_ref().map(|o| o.option_codes.contains(&UNKNOWN_OPTION))
        }
        Err(error) => facts.errors.push(format!("unknown option: {error}")),
    }
    match ask(EdnsQuery { z: UNKNOWN_FLAG, ..EdnsQuery::plain() }, rtype::SOA).await {
        Ok(answer) => facts.z_flag_cleared = answer.opt.as_ref().map(|o| o.z & UNKNOWN_FLAG == 0),
        Err(error) => facts.errors.push(format!("unknown flag: {error}")),
    }
    match ask(EdnsQuery { payload: 512, dnssec_ok: true, ..EdnsQuery::plain() }, rtype::DNSKEY).await {
        Ok(answer) => {
            let truncated = answer.message.metadata.truncation;
            facts.small_payload_truncated = Some(truncated);
            facts.truncated_keeps_opt = truncated.then_some(answer.opt.is_some());
        }
        Err(error) => facts.errors.push(format!("truncation: {error}")),
    }
    facts
}
