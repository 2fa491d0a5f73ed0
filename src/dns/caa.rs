//! CAA (RFC 8659 §3): the relevant record set is the first one found climbing from the name
//! towards the root; it is recorded for the certificate checks. A lookup on the way that gets
//! no answer ends the climb with nothing known (null), never with "no CAA".

use hickory_proto::rr::RData;

use crate::dns::facts::{CaaFacts, CaaRecord};
use crate::dns::iterate::Lookups;
use crate::dns::wire::{fqdn, parent, rtype};

pub async fn climb(lookups: &Lookups, name: &str) -> Option<CaaFacts> {
    let mut current = fqdn(name);
    // A name has at most 127 labels; the climb stops at the root.
    for _ in 0..128 {
        if current == "." {
            break;
        }
        let Ok(found) = lookups.lookup(&current, rtype::CAA).await else {
            return None;
        };
        {
            let records: Vec<CaaRecord> = found
                .records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::CAA(caa) => Some(CaaRecord {
                        critical: caa.issuer_critical,
                        tag: crate::dns::printable(caa.tag.as_bytes()),
                        value: crate::dns::printable(&caa.value),
                    }),
                    _ => None,
                })
                .collect();
            if !records.is_empty() {
                return Some(CaaFacts { found_at: Some(current), records });
            }
        }
        current = parent(&current);
    }
    Some(CaaFacts::default())
}
