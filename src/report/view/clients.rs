//! Client compatibility: for each simulated client (`targets[].tls.clients`), how many of the
//! country's TLS endpoints it reaches, how many it cannot, how many the facts leave open, and
//! with which protocols — the national view of who is left out by legacy-free configurations
//! and who still forces legacy ones to stay.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{clip, Lang};
use crate::facts::ScanReport;
use crate::tls::clients::SimulatedOutcome;
use crate::tls::registry::Protocol;

#[derive(Default)]
struct Tally {
    name: String,
    connects: usize,
    fails: usize,
    undetermined: usize,
    protocols: BTreeMap<Protocol, usize>,
}

/// Every endpoint's client verdicts counted per client, in the order first seen. Built from a
/// document in memory, or item by item while a saved scan is read (so that a report of a large
/// country keeps 26 counters, not 26 verdicts per endpoint).
#[derive(Default)]
pub struct ClientTallies {
    order: Vec<String>,
    tallies: BTreeMap<String, Tally>,
}

impl ClientTallies {
    pub fn of(report: &ScanReport) -> ClientTallies {
        let mut tallies = ClientTallies::default();
        report.targets.iter().for_each(|target| tallies.add(target));
        tallies
    }

    pub fn add(&mut self, target: &crate::facts::TargetResult) {
        for simulation in target.tls.iter().flat_map(|tls| &tls.clients) {
            let tally = self.tallies.entry(simulation.client.clone()).or_insert_with(|| {
                self.order.push(simulation.client.clone());
                Tally { name: simulation.name.clone(), ..Default::default() }
            });
            match simulation.outcome {
                SimulatedOutcome::Connects => {
                    tally.connects += 1;
                    if let Some(protocol) = simulation.protocol {
                        *tally.protocols.entry(protocol).or_default() += 1;
                    }
                }
                SimulatedOutcome::Fails => tally.fails += 1,
                SimulatedOutcome::Undetermined => tally.undetermined += 1,
            }
        }
    }
}

/// One row per client, in the order of `profiles/clients.toml`; `any` is false when no endpoint
/// carries a simulation (no TLS endpoint, or a document written before simulations existed).
pub fn view(report: &ScanReport, lang: &Lang) -> Value {
    view_of(&ClientTallies::of(report), lang)
}

pub fn view_of(tallies: &ClientTallies, lang: &Lang) -> Value {
    let ClientTallies { order, tallies } = tallies;
    // A document from elsewhere could name thousands of clients; the built-in list has 26.
    let rows: Vec<Value> = order
        .iter()
        .take(200)
        .filter_map(|id| tallies.get(id))
        .map(|tally| {
            let total = tally.connects + tally.fails + tally.undetermined;
            let protocols: Vec<String> = tally
                .protocols
                .iter()
                .rev()
                .map(|(protocol, n)| format!("{} {}", protocol.name(), lang.strings.int(*n)))
                .collect();
            json!({
                "name": clip(&tally.name, 120),
                "share": lang.strings.percent(tally.connects, total),
                "connects": lang.strings.int(tally.connects),
                "total": lang.strings.int(total),
                "fails": lang.strings.int(tally.fails),
                "undetermined": lang.strings.int(tally.undetermined),
                "protocols": protocols.join(", "),
            })
        })
        .collect();
    json!({"any": !rows.is_empty(), "rows": rows})
}
