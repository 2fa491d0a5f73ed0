//! Ordinary lookups and the delegation walk: from the root hints down the referrals to the
//! servers that answer authoritatively, or (with `--dns-resolver`) one recursive query.
//!
//! Every step is bounded: at most `MAX_REFERRALS` referrals per lookup, `MAX_DEPTH` nested
//! lookups for glueless NS names, `MAX_CNAMES` aliases, and each query by the client's timeout
//! and deadline. Referrals are recorded so that the zone's delegation (the referral whose owner
//! is the zone) comes out of the same walk.
//!
//! A server that gave no answer at all (timeout, nothing listening, unreachable network) is
//! remembered as silent and not asked again by later lookups of the same zone: a zone whose
//! servers are all dead costs one round of timeouts, not one per lookup. The lookups that are
//! then not sent say so in their error.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::{RData, Record};

use crate::dns::transport::{DnsClient, QueryError, Transport};
use crate::dns::wire::{fqdn, is_subdomain, name_text, rtype, Answer, Question};

const MAX_REFERRALS: usize = 16;
const MAX_DEPTH: usize = 4;
const MAX_CNAMES: usize = 8;

/// The IANA root servers (a–m, IPv4 and IPv6), used when no `--root-hints` file is given.
const IANA_ROOTS: [&str; 26] = [
    "198.41.0.4",
    "2001:503:ba3e::2:30",
    "170.247.170.2",
    "2801:1b8:10::b",
    "192.33.4.12",
    "2001:500:2::c",
    "199.7.91.13",
    "2001:500:2d::d",
    "192.203.230.10",
    "2001:500:a8::e",
    "192.5.5.241",
    "2001:500:2f::f",
    "192.112.36.4",
    "2001:500:12::d0d",
    "198.97.190.53",
    "2001:500:1::53",
    "192.36.148.17",
    "2001:7fe::53",
    "192.58.128.30",
    "2001:503:c27::2:30",
    "193.0.14.129",
    "2001:7fd::1",
    "199.7.83.42",
    "2001:500:9f::42",
    "202.12.27.33",
    "2001:dc3::35",
];

/// Where lookups start.
#[derive(Debug, Clone)]
pub struct Roots {
    pub servers: Vec<SocketAddr>,
    /// What the root's keys are judged against (None: a private root without `--trust-anchor`:
    /// the root is not judged).
    pub anchor: Option<crate::dns::anchor::TrustAnchor>,
}

impl Roots {
    pub fn iana() -> Roots {
        Roots {
            servers: IANA_ROOTS
                .iter()
                .filter_map(|a| a.parse::<IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, 53))
                .collect(),
            anchor: Some(crate::dns::anchor::TrustAnchor::iana()),
        }
    }

    /// Read a root hints file (the `named.root` format: `NAME TTL? CLASS? TYPE DATA`); the A
    /// and AAAA records give the root servers' addresses.
    pub fn from_hints(text: &str) -> Result<Roots, String> {
        let mut servers = Vec::new();
        for line in text.lines() {
            let line = line.split(';').next().unwrap_or("").trim();
            let fields: Vec<&str> = line.split_whitespace().collect();
            if let Some(position) =
                fields.iter().position(|f| f.eq_ignore_ascii_case("A") || f.eq_ignore_ascii_case("AAAA"))
            {
                if let Some(address) = fields.get(position + 1) {
                    let ip: IpAddr =
                        address.parse().map_err(|_| format!("root hints: '{address}' is not an address"))?;
                    servers.push(SocketAddr::new(ip, 53));
                }
            }
        }
        if servers.is_empty() {
            return Err("root hints: no A or AAAA record found".into());
        }
        Ok(Roots { servers, anchor: None })
    }
}

/// A referral seen on the way down.
#[derive(Debug, Clone, Default)]
pub struct Referral {
    /// The zone of the servers that gave the referral.
    pub from_zone: String,
    /// The servers asked (the one that answered is first).
    pub asked: Vec<SocketAddr>,
    /// The delegated zone (owner of the NS records).
    pub zone: String,
    pub ns: Vec<String>,
    pub glue: Vec<(String, IpAddr)>,
}

/// The end of a walk: the answer (if any), which server gave it, and the referrals followed.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub answer: Option<Answer>,
    pub server: Option<SocketAddr>,
    /// The zone whose servers gave the final answer.
    pub zone: String,
    pub referrals: Vec<Referral>,
    pub error: Option<String>,
}

/// The outcome of an ordinary lookup.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// RCODE of the final answer (`NOERROR`, `NXDOMAIN`, …).
    pub rcode: Option<u16>,
    /// Records of the asked type at the end of any CNAME chain.
    pub records: Vec<Record>,
    /// The CNAME chain followed, in order.
    pub cnames: Vec<String>,
    pub authentic_data: bool,
    /// Why there was no final answer (then `rcode` is None).
    pub error: Option<String>,
}

/// Looks names up, from the roots or through one resolver, and caches zone cuts.
#[derive(Clone)]
pub struct Lookups {
    pub client: DnsClient,
    roots: Roots,
    resolver: Option<SocketAddr>,
    /// Zone cut → server addresses learnt from referrals.
    cuts: Arc<Mutex<HashMap<String, Vec<SocketAddr>>>>,
    /// Servers that gave no answer: not asked again.
    silent: Arc<Mutex<BTreeSet<SocketAddr>>>,
}

type BoxedFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Lookups {
    /// The anchor the root's keys are judged against, if any.
    pub fn trust_anchor(&self) -> Option<&crate::dns::anchor::TrustAnchor> {
        self.roots.anchor.as_ref()
    }

    pub fn new(client: DnsClient, roots: Roots, resolver: Option<SocketAddr>) -> Lookups {
        Lookups {
            client,
            roots,
            resolver,
            cuts: Arc::new(Mutex::new(HashMap::new())),
            silent: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// Remember that `server` gives no answer (seen by a lookup or a nameserver probe).
    pub fn mark_silent(&self, server: SocketAddr) {
        self.silent.lock().unwrap_or_else(|e| e.into_inner()).insert(server);
    }

    /// Servers that gave no answer so far, sorted.
    pub fn silent_servers(&self) -> Vec<SocketAddr> {
        self.silent.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect()
    }

    fn is_silent(&self, server: &SocketAddr) -> bool {
        self.silent.lock().unwrap_or_else(|e| e.into_inner()).contains(server)
    }

    fn cached_cut(&self, name: &str) -> Option<(String, Vec<SocketAddr>)> {
        let cuts = self.cuts.lock().unwrap_or_else(|e| e.into_inner());
        let mut best: Option<(String, Vec<SocketAddr>)> = None;
        for (zone, servers) in cuts.iter() {
            if is_subdomain(name, zone) && best.as_ref().is_none_or(|(b, _)| zone.len() > b.len()) {
                best = Some((zone.clone(), servers.clone()));
            }
        }
        best
    }

    fn remember_cut(&self, zone: &str, servers: &[SocketAddr]) {
        if !servers.is_empty() {
            let mut cuts = self.cuts.lock().unwrap_or_else(|e| e.into_inner());
            cuts.insert(zone.to_string(), servers.to_vec());
        }
    }

    /// Walk from the roots (never from the cache) for `name`/`qtype`, recording referrals.
    pub async fn walk_from_root(&self, name: &str, qtype: u16) -> Walk {
        self.walk(name, qtype, ".".into(), self.roots.servers.clone(), 0).await
    }

    fn walk<'a>(
        &'a self,
        name: &'a str,
        qtype: u16,
        zone: String,
        servers: Vec<SocketAddr>,
        depth: usize,
    ) -> BoxedFuture<'a, Walk> {
        Box::pin(async move {
            let mut walk = Walk { zone, ..Walk::default() };
            let mut servers = servers;
            for _ in 0..MAX_REFERRALS {
                let question = Question::new(name, qtype);
                let mut asked = Vec::new();
                let mut reply = None;
                let mut last_error = String::from("no server to ask");
                let mut skipped = Vec::new();
                for server in &servers {
                    if self.is_silent(server) {
                        skipped.push(server.ip().to_string());
                        continue;
                    }
                    asked.push(*server);
                    match self.client.query(*server, &question, Transport::Udp).await {
                        Ok(answer) if answer.message.metadata.truncation => {
                            match self.client.query(*server, &question, Transport::Tcp).await {
                                Ok(answer) if usable(&answer) => {
                                    reply = Some((*server, answer));
                                    break;
                                }
                                Ok(answer) => last_error = format!("{server}: {}", rcode_name(answer.rcode)),
                                Err(error) => last_error = format!("{server}: {error}"),
                            }
                        }
                        Ok(answer) if usable(&answer) => {
                            reply = Some((*server, answer));
                            break;
                        }
                        Ok(answer) => last_error = format!("{server}: {}", rcode_name(answer.rcode)),
                        Err(QueryError::Deadline) => {
                            last_error = "deadline exceeded".into();
                            break;
                        }
                        Err(error @ (QueryError::Timeout(_) | QueryError::Refused | QueryError::Io(_))) => {
                            self.mark_silent(*server);
                            last_error = format!("{server}: {error}");
                        }
                        Err(error) => last_error = format!("{server}: {error}"),
                    }
                }
                if asked.is_empty() && !skipped.is_empty() {
                    last_error = format!("not asked: {} gave no answer earlier", skipped.join(", "));
                }
                let Some((server, answer)) = reply else {
                    walk.error = Some(format!("no usable answer from the servers of {}: {last_error}", walk.zone));
                    return walk;
                };
                match referral_in(&answer, name, &walk.zone) {
                    Some(mut referral) => {
                        referral.from_zone = walk.zone.clone();
                        asked.retain(|a| *a != server);
                        asked.insert(0, server);
                        referral.asked = asked;
                        let next = self.addresses_for(&referral, depth).await;
                        self.remember_cut(&referral.zone, &next);
                        walk.zone = referral.zone.clone();
                        walk.referrals.push(referral);
                        if next.is_empty() {
                            walk.error = Some(format!("no address for any nameserver of {}", walk.zone));
                            return walk;
                        }
                        servers = next;
                    }
                    None => {
                        walk.server = Some(server);
                        walk.answer = Some(answer);
                        return walk;
                    }
                }
            }
            walk.error = Some(format!("more than {MAX_REFERRALS} referrals"));
            walk
        })
    }

    /// Server addresses for a referral: glue, else the NS names looked up (bounded depth).
    async fn addresses_for(&self, referral: &Referral, depth: usize) -> Vec<SocketAddr> {
        let mut addresses: Vec<SocketAddr> = referral.glue.iter().map(|(_, ip)| SocketAddr::new(*ip, 53)).collect();
        if addresses.is_empty() && depth < MAX_DEPTH {
            for ns in &referral.ns {
                // A glueless name inside the zone it serves cannot be resolved: skip it.
                if is_subdomain(ns, &referral.zone) {
                    continue;
                }
                for qtype in [rtype::A, rtype::AAAA] {
                    let found = self.lookup_at_depth(ns, qtype, depth + 1).await;
                    addresses.extend(found.records.iter().filter_map(record_address).map(|ip| SocketAddr::new(ip, 53)));
                }
                if !addresses.is_empty() {
                    break;
                }
            }
        }
        addresses.dedup();
        addresses
    }

    /// An ordinary lookup, following CNAMEs.
    pub async fn lookup(&self, name: &str, qtype: u16) -> Result<Lookup, String> {
        let found = self.lookup_at_depth(name, qtype, 0).await;
        match found.rcode {
            None => Err(found.error.unwrap_or_else(|| format!("lookup of {name} failed"))),
            Some(_) => Ok(found),
        }
    }

    fn lookup_at_depth<'a>(&'a self, name: &'a str, qtype: u16, depth: usize) -> BoxedFuture<'a, Lookup> {
        Box::pin(async move {
            let mut lookup = Lookup::default();
            let mut current = fqdn(name);
            for _ in 0..=MAX_CNAMES {
                let answer = match self.resolver {
                    Some(resolver) => {
                        let mut question = Question::new(&current, qtype).recursive();
                        if let Some(edns) = question.edns.as_mut() {
                            edns.dnssec_ok = true;
                        }
                        let mut reply = self.client.query(resolver, &question, Transport::Udp).await;
                        if matches!(&reply, Ok(a) if a.message.metadata.truncation) {
                            reply = self.client.query(resolver, &question, Transport::Tcp).await;
                        }
                        reply.map_err(|e| format!("resolver {resolver}: {e}"))
                    }
                    None => {
                        let (zone, servers) =
                            self.cached_cut(&current).unwrap_or_else(|| (".".into(), self.roots.servers.clone()));
                        let walk = self.walk(&current, qtype, zone, servers, depth).await;
                        match (walk.answer, walk.error) {
                            (Some(answer), _) => Ok(answer),
                            (None, error) => Err(error.unwrap_or_else(|| "no answer".into())),
                        }
                    }
                };
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(error) => {
                        lookup.rcode = None;
                        lookup.error = Some(error);
                        return lookup;
                    }
                };
                lookup.rcode = Some(answer.rcode);
                lookup.authentic_data = answer.message.metadata.authentic_data;
                let owned: Vec<&Record> =
                    answer.message.answers.iter().filter(|r| name_text(&r.name) == current).collect();
                let wanted: Vec<Record> =
                    owned.iter().filter(|r| u16::from(r.record_type()) == qtype).map(|r| (*r).clone()).collect();
                if !wanted.is_empty() || qtype == rtype::CNAME {
                    // A resolver returns the whole chain at once: collect records of the type
                    // anywhere in the answer that the chain reaches.
                    lookup.records = wanted;
                    return lookup;
                }
                let alias = owned.iter().find_map(|r| match &r.data {
                    RData::CNAME(target) => Some(name_text(&target.0)),
                    _ => None,
                });
                match alias {
                    Some(target) => {
                        lookup.cnames.push(target.clone());
                        // The target's records may be in the same answer (resolver, or same zone).
                        let inline: Vec<Record> = answer
                            .message
                            .answers
                            .iter()
                            .filter(|r| name_text(&r.name) == target && u16::from(r.record_type()) == qtype)
                            .cloned()
                            .collect();
                        if !inline.is_empty() {
                            lookup.records = inline;
                            return lookup;
                        }
                        current = target;
                    }
                    None => return lookup,
                }
            }
            lookup
        })
    }
}

/// An answer worth using: NOERROR or NXDOMAIN (REFUSED, SERVFAIL… mean "ask another server").
fn usable(answer: &Answer) -> bool {
    answer.rcode == 0 || answer.rcode == 3
}

/// The referral in an answer: no answer records, AA clear, NS records in the authority section
/// for a zone below the current one and at or above the name.
fn referral_in(answer: &Answer, name: &str, current_zone: &str) -> Option<Referral> {
    let message = &answer.message;
    if answer.rcode != 0 || !message.answers.is_empty() || message.metadata.authoritative {
        return None;
    }
    let mut referral = Referral::default();
    for record in &message.authorities {
        if let RData::NS(ns) = &record.data {
            let owner = name_text(&record.name);
            if owner != current_zone && is_subdomain(&owner, current_zone) && is_subdomain(&fqdn(name), &owner) {
                referral.zone = owner;
                let target = name_text(&ns.0);
                if !referral.ns.contains(&target) {
                    referral.ns.push(target);
                }
            }
        }
    }
    if referral.ns.is_empty() {
        return None;
    }
    for record in &message.additionals {
        let owner = name_text(&record.name);
        if referral.ns.contains(&owner) {
            if let Some(ip) = record_address(record) {
                referral.glue.push((owner, ip));
            }
        }
    }
    referral.ns.sort();
    referral.glue.sort();
    Some(referral)
}

/// The address in an A or AAAA record.
pub fn record_address(record: &Record) -> Option<IpAddr> {
    match &record.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
        _ => None,
    }
}

/// RCODE mnemonic (RFC 6895 registry) for facts.
pub fn rcode_name(rcode: u16) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        16 => "BADVERS".into(),
        other => format!("RCODE{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_hints_files_give_addresses() {
        let hints = ".  3600000 NS a.root-servers.lab.\na.root-servers.lab. 3600000 A 127.0.20.1 ; comment\nb.root-servers.lab. AAAA ::1\n";
        let roots = Roots::from_hints(hints).unwrap();
        assert_eq!(roots.servers, vec!["127.0.20.1:53".parse().unwrap(), "[::1]:53".parse().unwrap()]);
        assert!(Roots::from_hints(". NS a.\n").is_err());
        assert!(Roots::from_hints("a. A nope\n").is_err());
        assert_eq!(Roots::iana().servers.len(), 26);
    }
}
