//! Post-quantum readiness: the share of TLS endpoints whose key exchange offers a hybrid
//! post-quantum group (ML-KEM, e.g. X25519MLKEM768) — the national exposure to "harvest now,
//! decrypt later" in one figure, for the country report and each country of the regional one.

use serde_json::{json, Value};

use super::Lang;
use crate::facts::ScanReport;
use crate::report::svg::Bar;

/// Endpoints with TLS facts (at least one protocol accepted) and how many offer a hybrid group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HybridShare {
    pub hybrid: usize,
    pub tested: usize,
}

pub fn hybrid_share(report: &ScanReport) -> HybridShare {
    let tested: Vec<_> =
        report.targets.iter().filter_map(|t| t.tls.as_ref()).filter(|tls| !tls.protocols.is_empty()).collect();
    let hybrid = tested.iter().filter(|tls| tls.group_details.iter().any(|g| g.kind == "HYBRID")).count();
    HybridShare { hybrid, tested: tested.len() }
}

/// One bar per country: its share of TLS endpoints offering a hybrid group.
pub fn bars(lang: &Lang, countries: &[(String, HybridShare)]) -> Vec<Bar> {
    countries
        .iter()
        .map(|(name, share)| {
            let value = if share.tested > 0 { 100.0 * share.hybrid as f64 / share.tested as f64 } else { 0.0 };
            Bar {
                label: name.clone(),
                value,
                text: if share.tested > 0 {
                    format!(
                        "{} (n={})",
                        lang.strings.percent(share.hybrid, share.tested),
                        lang.strings.int(share.tested)
                    )
                } else {
                    "–".into()
                },
                colour: if share.tested > 0 { "#0f766e" } else { "#94a3b8" },
            }
        })
        .collect()
}

pub fn view(lang: &Lang, share: HybridShare) -> Value {
    json!({
        "any": share.tested > 0,
        "share": lang.strings.percent(share.hybrid, share.tested),
        "hybrid": lang.strings.int(share.hybrid),
        "tested": lang.strings.int(share.tested),
    })
}
