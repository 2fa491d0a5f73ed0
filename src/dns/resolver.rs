//! Declared resolvers: do they answer anyone (open), and do they validate DNSSEC (AD set for a
//! signed name, SERVFAIL for a deliberately broken one; the names come from the profile or the
//! command line).

use std::net::SocketAddr;

use crate::dns::auth::query_fact;
use crate::dns::facts::ResolverFacts;
use crate::dns::transport::{DnsClient, Transport};
use crate::dns::wire::{rtype, Question};

/// Names that tell a validating resolver from one that does not.
#[derive(Debug, Clone, Default)]
pub struct ValidationNames {
    /// A name in a correctly signed zone.
    pub signed: Option<String>,
    /// A name in a zone whose signatures are broken.
    pub bogus: Option<String>,
}

pub async fn assess(
    client: &DnsClient,
    address: SocketAddr,
    names: &ValidationNames,
) -> ResolverFacts {
    let mut facts = ResolverFacts {
        address: address.to_string(),
        ..ResolverFacts::default()
    };
    let open = client
        .query(
            address,
            &Question::new(".", rtype::SOA).recursive(),
            Transport::Udp,
        )
        .await;
    facts.open_query = query_fact(&open);
    facts.open = match &open {
        Ok(answer) => Some(
            answer.message.metadata.recursion_available
                && answer.rcode == 0
                && !answer.message.answers.is_empty(),
        ),
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
        let answer = client
            .query(address, &question_for(name), Transport::Udp)
            .await;
        facts.signed_query = query_fact(&answer);
        facts.authentic_data = answer
            .as_ref()
            .ok()
            .map(|a| a.message.metadata.authentic_data);
        facts.signed_name = Some(name.clone());
    }
    if let Some(name) = &names.bogus {
        let answer = client
            .query(address, &question_for(name), Transport::Udp)
            .await;
        facts.bogus_query = query_fact(&answer);
        facts.bogus_name = Some(name.clone());
    }
    let bogus_failed = facts.bogus_query.rcode.as_deref().map(|r| r == "SERVFAIL");
    facts.validates = match (facts.authentic_data, bogus_failed) {
        (Some(ad), Some(servfail)) => Some(ad && servfail),
        // One name alone can only show that the resolver does not validate.
        (Some(false), None) | (None, Some(false)) => Some(false),
        _ => None,
    };
    facts
}
