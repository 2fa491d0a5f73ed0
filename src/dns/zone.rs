//! One zone, end to end: the delegation walk, every nameserver's probes, the SOA across
//! servers, DNSSEC, mail records and CAA. Parts that fail leave their reason and the rest of
//! the zone's facts are still gathered.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::dns::asn::AsnTable;
use crate::dns::auth::probe_nameserver;
use crate::dns::facts::QueryFact;
use crate::dns::facts::{
    AddressRecord, DelegationFacts, NameserverFacts, NsName, ReverseFact, SpecialAddress, ZoneFacts, ZoneSoa,
};
use crate::dns::iterate::rcode_name;
use crate::dns::iterate::{record_address, Lookups, Referral};
use crate::dns::special::special_range;
use crate::dns::wire::{fqdn, name_text, reverse_name, rtype};
use crate::dns::{caa, dnssec, mail};
use crate::profile::Scope;

/// Nameserver addresses probed at once within one zone.
const PARALLEL_SERVERS: usize = 4;
/// NS names resolved and probed per zone (parent and child sets together). Real delegations
/// have two to thirteen; each name costs address lookups and each address a probe of several
/// queries, so an NS set of thousands must not cost thousands.
pub const MAX_NS_NAMES: usize = 32;
/// (name, address) pairs probed per zone, and nameserver addresses reverse-resolved.
pub const MAX_NAMESERVER_ADDRESSES: usize = 64;

/// Keep the first `cap` entries of `map`; the number there were when it was cut.
fn keep_first<K: Ord + Clone, V>(map: &mut BTreeMap<K, V>, cap: usize) -> Option<usize> {
    let total = map.len();
    if total <= cap {
        return None;
    }
    let beyond: Vec<K> = map.keys().skip(cap).cloned().collect();
    for key in beyond {
        map.remove(&key);
    }
    Some(total)
}

/// Assess one zone.
pub async fn assess_zone(
    lookups: &Lookups,
    zone: &str,
    asn_table: Option<&AsnTable>,
    scope: Option<&Scope>,
) -> ZoneFacts {
    let started = Instant::now();
    let before = lookups.client.queries_sent();
    let zone = fqdn(zone);
    let mut facts = ZoneFacts { name: zone.clone(), ..ZoneFacts::default() };

    let walk = lookups.walk_from_root(&zone, rtype::NS).await;
    let referral = walk.referrals.iter().find(|r| r.zone == zone).cloned();
    let Some(referral) = referral else {
        facts.error = Some(match (&walk.error, &walk.answer) {
            (Some(error), _) => format!("no delegation found for {zone}: {error}"),
            (None, Some(answer)) if answer.rcode == 3 => {
                format!("{zone} does not exist (NXDOMAIN from {})", walk.zone)
            }
            _ => format!("{zone} is not delegated from {} (no referral)", walk.zone),
        });
        facts.queries = lookups.client.queries_sent() - before;
        facts.duration_ms = started.elapsed().as_millis() as u64;
        return facts;
    };

    let mut names: BTreeMap<String, NsName> = BTreeMap::new();
    for ns in &referral.ns {
        names.insert(ns.clone(), NsName { name: ns.clone(), in_parent: true, ..NsName::default() });
    }
    for (name, ip) in &referral.glue {
        if let Some(entry) = names.get_mut(name) {
            entry.glue.push(ip.to_string());
        }
    }
    let mut all_names = names.len();
    keep_first(&mut names, MAX_NS_NAMES);
    resolve_names(lookups, &mut names).await;
    let mut probed: BTreeSet<(String, IpAddr)> = BTreeSet::new();
    let mut pairs = 0usize;
    let mut nameservers = probe_all(lookups, &zone, &names, &mut probed, &mut pairs, scope).await;

    // The child's own NS set may name servers the parent does not: probe those too.
    let child_ns: BTreeSet<String> = nameservers.iter().flat_map(|n| n.ns_set.iter().cloned()).collect();
    let mut extra: Vec<String> = child_ns.iter().filter(|n| !names.contains_key(*n)).cloned().collect();
    all_names += extra.len();
    extra.truncate(MAX_NS_NAMES.saturating_sub(names.len()));
    for name in &child_ns {
        if let Some(entry) = names.get_mut(name) {
            entry.in_child = true;
        } else if extra.contains(name) {
            names.insert(name.clone(), NsName { name: name.clone(), in_child: true, ..NsName::default() });
        }
    }
    if !extra.is_empty() {
        let mut new_names: BTreeMap<String, NsName> =
            names.iter().filter(|(k, _)| extra.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        resolve_names(lookups, &mut new_names).await;
        nameservers.extend(probe_all(lookups, &zone, &new_names, &mut probed, &mut pairs, scope).await);
        names.extend(new_names);
    }
    if all_names > names.len() {
        facts.truncated.insert("ns_names".into(), all_names);
    }
    if pairs > MAX_NAMESERVER_ADDRESSES {
        facts.truncated.insert("nameserver_addresses".into(), pairs);
    }
    nameservers.sort_by(|a, b| (&a.name, &a.address).cmp(&(&b.name, &b.address)));
    // Servers that answered nothing are not asked again by the lookups below.
    for silent in nameservers.iter().filter(|n| n.answered == Some(false)) {
        if let Ok(ip) = silent.address.parse::<IpAddr>() {
            lookups.mark_silent(SocketAddr::new(ip, 53));
        }
    }

    let mut delegation = delegation_facts(&referral, &names, &child_ns, asn_table);
    let reversed = &delegation.addresses[..delegation.addresses.len().min(MAX_NAMESERVER_ADDRESSES)];
    delegation.reverse = reverse(lookups, reversed).await;
    facts.delegation = Some(delegation);
    facts.soa = Some(zone_soa(&nameservers));
    let authoritative: Vec<SocketAddr> = nameservers
        .iter()
        .filter(|n| n.authoritative == Some(true))
        .filter_map(|n| n.address.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    let asked: Vec<&NameserverFacts> = nameservers.iter().filter(|n| n.answered.is_some()).collect();
    if !asked.is_empty() && asked.iter().all(|n| n.answered == Some(false)) {
        let silent: Vec<&str> = asked.iter().map(|n| n.address.as_str()).collect();
        facts.error = Some(format!(
            "no nameserver of {zone} answered ({} gave no usable answer over UDP or TCP); lookups only they could answer were not sent again",
            silent.join(", ")
        ));
    } else if authoritative.is_empty() && facts.error.is_none() {
        facts.error = Some(format!("no nameserver of {zone} answered authoritatively"));
    }
    facts.nameservers = nameservers;
    facts.dnssec = Some(dnssec::assess(&lookups.client, &zone, &referral.asked, &authoritative).await);
    if let Some(dnssec) = facts.dnssec.as_mut().filter(|d| !d.ds.is_empty()) {
        dnssec.chain = dnssec::chain(&lookups.client, &walk.referrals, &zone, lookups.trust_anchor()).await;
    }
    facts.mail = Some(mail::assess(lookups, &zone).await);
    facts.caa = caa::climb(lookups, &zone).await;
    facts.queries = lookups.client.queries_sent() - before;
    facts.duration_ms = started.elapsed().as_millis() as u64;
    facts
}

/// PTR of every nameserver address.
async fn reverse(lookups: &Lookups, addresses: &[String]) -> Vec<ReverseFact> {
    let mut out = Vec::new();
    for address in addresses {
        let Ok(ip) = address.parse::<IpAddr>() else {
            continue;
        };
        let mut fact = ReverseFact { address: address.clone(), ..ReverseFact::default() };
        match lookups.lookup(&reverse_name(ip), rtype::PTR).await {
            Ok(found) => {
                fact.rcode = found.rcode.map(rcode_name);
                fact.names = found
                    .records
                    .iter()
                    .filter_map(|r| match &r.data {
                        hickory_proto::rr::RData::PTR(target) => Some(name_text(&target.0)),
                        _ => None,
                    })
                    .collect();
                fact.names.sort();
            }
            Err(error) => fact.error = Some(error),
        }
        out.push(fact);
    }
    out
}

/// Authoritative A/AAAA for every NS name (CNAMEs and failures recorded).
async fn resolve_names(lookups: &Lookups, names: &mut BTreeMap<String, NsName>) {
    for entry in names.values_mut() {
        let mut errors = Vec::new();
        for qtype in [rtype::A, rtype::AAAA] {
            match lookups.lookup(&entry.name, qtype).await {
                Ok(found) => {
                    if let Some(target) = found.cnames.first() {
                        entry.cname = Some(target.clone());
                    }
                    entry.addresses.extend(found.records.iter().filter_map(record_address).map(|ip| ip.to_string()));
                }
                Err(error) => errors.push(error),
            }
        }
        entry.addresses.sort();
        entry.addresses.dedup();
        entry.glue.sort();
        entry.glue.dedup();
        if entry.addresses.is_empty() {
            entry.error = Some(errors.first().cloned().unwrap_or_else(|| "no A or AAAA record".into()));
        }
    }
}

/// Probe every (name, address) not probed yet, a few at a time, up to
/// `MAX_NAMESERVER_ADDRESSES` per zone (`pairs` counts them all).
/// Addresses outside a profile's declared networks are not probed (as for TLS targets): their
/// entry says so, and ordinary lookups may still use them.
async fn probe_all(
    lookups: &Lookups,
    zone: &str,
    names: &BTreeMap<String, NsName>,
    probed: &mut BTreeSet<(String, IpAddr)>,
    pairs: &mut usize,
    scope: Option<&Scope>,
) -> Vec<NameserverFacts> {
    let mut out = Vec::new();
    let gate = Arc::new(Semaphore::new(PARALLEL_SERVERS));
    let mut tasks = tokio::task::JoinSet::new();
    for entry in names.values() {
        let addresses: BTreeSet<IpAddr> =
            entry.glue.iter().chain(entry.addresses.iter()).filter_map(|a| a.parse().ok()).collect();
        for ip in addresses {
            if probed.contains(&(entry.name.clone(), ip)) {
                continue;
            }
            *pairs += 1;
            if probed.len() >= MAX_NAMESERVER_ADDRESSES {
                continue;
            }
            probed.insert((entry.name.clone(), ip));
            if scope.is_some_and(|scope| !scope.allows_address(ip)) {
                let reason = format!("out of scope: {ip} is not in the profile's declared networks; not probed");
                out.push(NameserverFacts {
                    name: entry.name.clone(),
                    address: ip.to_string(),
                    soa_udp: QueryFact { error: Some(reason.clone()), ..QueryFact::default() },
                    soa_tcp: QueryFact { error: Some(reason), ..QueryFact::default() },
                    ..NameserverFacts::default()
                });
                continue;
            }
            let (client, gate, name, zone) =
                (lookups.client.clone(), gate.clone(), entry.name.clone(), zone.to_string());
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                probe_nameserver(&client, &name, SocketAddr::new(ip, 53), &zone).await
            });
        }
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok(facts) = joined {
            out.push(facts);
        }
    }
    out
}

fn delegation_facts(
    referral: &Referral,
    names: &BTreeMap<String, NsName>,
    child_ns: &BTreeSet<String>,
    asn_table: Option<&AsnTable>,
) -> DelegationFacts {
    let mut users: BTreeMap<IpAddr, BTreeSet<&str>> = BTreeMap::new();
    for entry in names.values() {
        for address in entry.glue.iter().chain(entry.addresses.iter()) {
            if let Ok(ip) = address.parse::<IpAddr>() {
                users.entry(ip).or_default().insert(&entry.name);
            }
        }
    }
    let addresses: Vec<IpAddr> = users.keys().copied().collect();
    let mut v4_prefixes = BTreeSet::new();
    let mut v6_prefixes = BTreeSet::new();
    for ip in &addresses {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                v4_prefixes.insert(format!("{}.{}.{}.0/24", o[0], o[1], o[2]));
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                v6_prefixes.insert(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]));
            }
        }
    }
    let has = |entry: &NsName, v6: bool| {
        entry
            .glue
            .iter()
            .chain(entry.addresses.iter())
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .any(|ip| ip.is_ipv6() == v6)
    };
    DelegationFacts {
        parent: referral.from_zone.clone(),
        parent_servers: referral.asked.iter().map(|a| a.ip().to_string()).collect(),
        parent_ns: referral.ns.clone(),
        child_ns: child_ns.iter().cloned().collect(),
        glue: referral
            .glue
            .iter()
            .map(|(name, ip)| AddressRecord { name: name.clone(), address: ip.to_string() })
            .collect(),
        ns_names: names.values().cloned().collect(),
        addresses: addresses.iter().map(|a| a.to_string()).collect(),
        shared_addresses: users.iter().filter(|(_, u)| u.len() > 1).map(|(a, _)| a.to_string()).collect(),
        ipv4_prefixes: v4_prefixes.into_iter().collect(),
        ipv6_prefixes: v6_prefixes.into_iter().collect(),
        special_purpose: addresses
            .iter()
            .filter_map(|ip| {
                special_range(*ip).map(|(range, global)| SpecialAddress {
                    address: ip.to_string(),
                    range: range.into(),
                    globally_reachable: global,
                })
            })
            .collect(),
        asns: asn_table.map(|table| {
            let found: BTreeSet<u32> = addresses.iter().filter_map(|ip| table.lookup(*ip)).collect();
            found.into_iter().collect()
        }),
        reverse: Vec::new(),
        addresses_without_asn: asn_table
            .map(|table| addresses.iter().filter(|ip| table.lookup(**ip).is_none()).map(|ip| ip.to_string()).collect())
            .unwrap_or_default(),
        ns_with_ipv6: names.values().filter(|e| has(e, true)).count(),
        ns_with_ipv4: names.values().filter(|e| has(e, false)).count(),
    }
}

fn zone_soa(nameservers: &[NameserverFacts]) -> ZoneSoa {
    let soas: Vec<_> = nameservers.iter().filter_map(|n| n.soa.as_ref()).collect();
    let serials: BTreeSet<u32> = soas.iter().map(|s| s.serial).collect();
    let fields_consistent = soas.first().map(|first| {
        soas.iter().all(|s| {
            (&s.mname, &s.rname, s.refresh, s.retry, s.expire, s.minimum)
                == (&first.mname, &first.rname, first.refresh, first.retry, first.expire, first.minimum)
        })
    });
    ZoneSoa { fields: soas.first().map(|s| (*s).clone()), serials: serials.into_iter().collect(), fields_consistent }
}

#[cfg(test)]
mod tests {
    use super::keep_first;
    use std::collections::BTreeMap;

    #[test]
    fn keep_first_cuts_at_the_cap_and_says_how_many_there_were() {
        let mut map: BTreeMap<u32, ()> = (0..100).map(|i| (i, ())).collect();
        assert_eq!(keep_first(&mut map, 32), Some(100));
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), (0..32).collect::<Vec<_>>());
        assert_eq!(keep_first(&mut map, 32), None);
    }
}
