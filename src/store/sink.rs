//! The store as a scan sink: each finished item in its own transaction, the assessed document
//! at the end. A write that fails (disk full, file gone read-only) stops the scan with an error
//! naming the file: results are never silently dropped, and what was committed stays intact.

use crate::scan::resume::{target_key, zone_key};
use crate::scan::{Collect, Item, ScanSummary, Sink, SinkError};

use super::Store;

pub struct StoreSink {
    pub store: Store,
    pub scan_id: i64,
    /// The assessed items, for the document the store keeps whole (`scans.report`): with a
    /// store, a scan's memory grows with its size.
    assessed: Collect,
}

impl StoreSink {
    pub fn new(store: Store, scan_id: i64) -> StoreSink {
        StoreSink { store, scan_id, assessed: Collect::default() }
    }

    fn put(&self, kind: &str, key: &str, facts: Result<String, serde_json::Error>) -> Result<(), SinkError> {
        let facts = facts.map_err(|e| SinkError(format!("cannot serialise {kind} {key}: {e}")))?;
        self.store.put_item(self.scan_id, kind, key, &facts).map_err(|e| SinkError(format!("{e:#}")))
    }
}

impl Sink for StoreSink {
    fn item(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        match item {
            Item::Target(t) => self.put("target", &target_key(t), serde_json::to_string(t)),
            Item::Zone(z) => self.put("zone", &zone_key(&z.name), serde_json::to_string(z)),
            Item::Resolver(r) => self.put("resolver", &r.address, serde_json::to_string(r)),
        }
    }

    fn assessed(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        self.assessed.assessed(item)
    }

    fn finished(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        let report = std::mem::take(&mut self.assessed).into_report(summary);
        self.store.finish_scan(self.scan_id, &report).map_err(|e| SinkError(format!("{e:#}")))
    }
}
