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

/// One row per client, in the order of `profiles/clients.toml`; `any` is false when no endpoint
/// carries a simulation (no TLS endpoint, or a document written before simulations existed).
pub fn view(report: &ScanReport, lang: &Lang) -> Value {
    let mut order: Vec<String> = Vec::new();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for simulation in report.targets.iter().filter_map(|t| t.tls.as_ref()).flat_map(|tls| &tls.clients) {
        let tally = tallies.entry(simulation.client.clone()).or_insert_with(|| {
            order.push(simulation.client.clone());
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
