//! Declared resolvers: do they answer anyone (open), and do they validate DNSSEC (AD set for a
//! signed name, SERVFAIL for a deliberately broken one; the names come from the command line,
//! else the profile, else the public-Internet defaults below).
//!
//! Only answers that can tell are used: the signed name must resolve (NOERROR with records) for
//! its AD bit to count, and the broken name must either fail (SERVFAIL: validating) or resolve
//! (records: not validating). NXDOMAIN or an empty answer (the name does not exist where the
//! resolver looks, e.g. a lab with a private root) leaves the verdict open.

use std::net::SocketAddr;

use crate::dns::auth::query_fact;
use crate::dns::facts::ResolverFacts;
use crate::dns::transport::{DnsClient, Transport};
use crate::dns::wire::{rtype, Question};

/// A correctly signed name on the public Internet: the IETF's zone (signed since 2010, A records at
/// the apex, no CNAME out of the signed zone).
pub const DEFAULT_SIGNED_NAME: &str = "ietf.org";
/// A deliberately broken name on the public Internet: Comcast's long-standing DNSSEC test zone,
/// whose signatures do not validate.
pub const DEFAULT_BOGUS_NAME: &str = "www.dnssec-failed.org";

/// Names that tell a validating resolver from one that does not (default: the public-Internet
/// names above).
#[derive(Debug, Clone)]
pub struct ValidationNames {
    /// A name in a correctly signed zone.
    pub signed: Option<String>,
    /// A name in a zone whose signatures are broken.
    pub bogus: Option<String>,
}

impl Default for ValidationNames {
    fn default() -> Self {
        ValidationNames { signed: Some(DEFAULT_SIGNED_NAME.into()), bogus: Some(DEFAULT_BOGUS_NAME.into()) }
    }
}

/// One query over UDP, asked again over TCP when the answer is truncated (RFC 7766 §5): a
/// truncated answer is not the resolver's whole answer, and its empty answer section says
/// nothing about what the resolver would answer.
async fn ask(
    client: &DnsClient,
    address: SocketAddr,
    question: &Question,
) -> Result<crate::dns::wire::Answer, crate::dns::transport::QueryError> {
    let answer = client.query(address, question, Transport::Udp).await;
    match answer {
        Ok(truncated) if truncated.message.metadata.truncation => client.query(address, question, Transport::Tcp).await,
        other => other,
    }
}

pub async fn assess(client: &DnsClient, address: SocketAddr, names: &ValidationNames) -> ResolverFacts {
    let mut facts = ResolverFacts { address: address.to_string(), ..ResolverFacts::default() };
    let open = ask(client, address, &Question::new(".", rtype::SOA).recursive()).await;
    facts.open_query = query_fact(&open);
    facts.open = match &open {
        Ok(answer) => {
            Some(answer.message.metadata.recursion_available && answer.rcode == 0 && !answer.message.answers.is_empty())
        }
        Err(error) => {
            facts.error = Some(error.to_string());
            None
        }
    };
    if facts.open != Some(true) {
        return facts;
    }
    let question_for = |name: &str| {
        let mut question = Question::new(name, rtype::A).recursive();
        if let Some(edns) = question.edns.as_mut() {
            edns.dnssec_ok = true;
        }
        question
    };
    if let Some(name) = &names.signed {
        let answer = ask(client, address, &question_for(name)).await;
        facts.signed_query = query_fact(&answer);
        facts.authentic_data = answer
            .as_ref()
            .ok()
            .filter(|a| a.rcode == 0 && !a.message.answers.is_empty())
            .map(|a| a.message.metadata.authentic_data);
        facts.signed_name = Some(name.clone());
    }
    if let Some(name) = &names.bogus {
        let answer = ask(client, address, &question_for(name)).await;
        facts.bogus_query = query_fact(&answer);
        facts.bogus_name = Some(name.clone());
    }
    let bogus_failed = match (facts.bogus_query.rcode.as_deref(), facts.bogus_query.answers) {
        (Some("SERVFAIL"), _) => Some(true),
        (Some("NOERROR"), Some(n)) if n > 0 => Some(false),
        _ => None,
    };
    facts.validates = match (facts.authentic_data, bogus_failed) {
        (Some(ad), Some(servfail)) => Some(ad && servfail),
        // One name alone can only show that the resolver does not validate.
        (Some(false), None) | (None, Some(false)) => Some(false),
        _ => None,
    };
    facts
}
