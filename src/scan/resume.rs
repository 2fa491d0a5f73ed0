//! Resuming a scan: the results of items an interrupted run already finished (read back from the
//! store) are handed to `run` in `ScanPlan::done`, which reuses them instead of probing again.
//! Items are matched by a stable key: a target by `host|port|service|address`, a zone by its
//! name, a resolver by its address. Stored items are the facts `Sink::item` received (before the
//! joins across items and the assessment), so a resumed run ends exactly as an uninterrupted one.

use std::collections::HashMap;

use crate::dns::facts::{ResolverFacts, ZoneFacts};
use crate::facts::TargetResult;

/// Results already in hand, by item key.
#[derive(Debug, Clone, Default)]
pub struct StoredItems {
    pub targets: HashMap<String, TargetResult>,
    pub zones: HashMap<String, ZoneFacts>,
    pub resolvers: HashMap<String, ResolverFacts>,
}

impl StoredItems {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.zones.is_empty() && self.resolvers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.targets.len() + self.zones.len() + self.resolvers.len()
    }

    pub fn add_target(&mut self, result: TargetResult) {
        self.targets.insert(target_key(&result), result);
    }

    pub fn add_zone(&mut self, facts: ZoneFacts) {
        self.zones.insert(zone_key(&facts.name), facts);
    }

    pub fn add_resolver(&mut self, facts: ResolverFacts) {
        self.resolvers.insert(facts.address.clone(), facts);
    }
}

/// A target's identity across runs: `host|port|service|address` (address empty when the name
/// did not resolve).
pub fn target_key(result: &TargetResult) -> String {
    format!(
        "{}|{}|{}|{}",
        result.host.to_ascii_lowercase(),
        result.port,
        result.service,
        result.address.as_deref().unwrap_or("")
    )
}

/// A zone's identity: its name, lower case with the trailing dot.
pub fn zone_key(name: &str) -> String {
    crate::dns::wire::fqdn(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_keys_ignore_case_and_trailing_dot() {
        assert_eq!(zone_key("Mail.Test"), zone_key("mail.test."));
    }

    #[test]
    fn stored_items_are_found_by_the_key_of_their_facts() {
        let mut items = StoredItems::default();
        items.add_zone(ZoneFacts { name: "mail.test.".into(), ..ZoneFacts::default() });
        items.add_resolver(ResolverFacts { address: "127.0.30.1:53".into(), ..ResolverFacts::default() });
        assert!(items.zones.contains_key(&zone_key("MAIL.test")));
        assert!(items.resolvers.contains_key("127.0.30.1:53"));
        assert_eq!(items.len(), 2);
    }
}
