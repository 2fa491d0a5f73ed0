//! Where a scan's results go as they arrive. `run` hands each target, zone and resolver to the
//! sink the moment it finishes (facts only: findings need the joins across items), then the
//! whole assessed document once. The JSON file, the terminal's progress and summary, the tests'
//! recorders and (next) the store are sinks.

use std::io::Write;
use std::path::PathBuf;

use crate::dns::facts::{ResolverFacts, ZoneFacts};
use crate::facts::{ScanReport, TargetResult};

/// One finished item.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    Target(&'a TargetResult),
    Zone(&'a ZoneFacts),
    Resolver(&'a ResolverFacts),
}

/// A sink that cannot keep what it was given stops the scan with this error (a store on a full
/// disk, an unwritable file): results must not be silently lost.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Receives a scan's results as they come. Called from the scan's collector only, one call at a
/// time, in finishing order.
pub trait Sink: Send {
    /// `count` more items will be handed on (called as targets resolve and MX hosts are found).
    fn planned(&mut self, _count: usize) {}
    /// One target, zone or resolver finished (its facts; findings come with `finished`).
    fn item(&mut self, item: Item<'_>) -> Result<(), SinkError>;
    /// Everything is in and judged.
    fn finished(&mut self, report: &ScanReport) -> Result<(), SinkError>;
}

/// Discards everything: for callers that only want `run`'s return value.
pub struct NoSink;

impl Sink for NoSink {
    fn item(&mut self, _item: Item<'_>) -> Result<(), SinkError> {
        Ok(())
    }
    fn finished(&mut self, _report: &ScanReport) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Several sinks fed in turn.
pub struct Fanout<'a>(pub Vec<Box<dyn Sink + 'a>>);

impl Sink for Fanout<'_> {
    fn planned(&mut self, count: usize) {
        self.0.iter_mut().for_each(|sink| sink.planned(count));
    }
    fn item(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|sink| sink.item(item))
    }
    fn finished(&mut self, report: &ScanReport) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|sink| sink.finished(report))
    }
}

/// The scan document as JSON, to a file (written to a temporary name beside it, then renamed,
/// so a failed scan never truncates an earlier result) or to standard output.
pub struct JsonSink {
    pub path: Option<PathBuf>,
}

impl Sink for JsonSink {
    fn item(&mut self, _item: Item<'_>) -> Result<(), SinkError> {
        Ok(())
    }

    fn finished(&mut self, report: &ScanReport) -> Result<(), SinkError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| SinkError(format!("{what}: {e}"));
        let mut text = serde_json::to_vec_pretty(report).map_err(|e| failed("cannot serialise the scan", &e))?;
        text.push(b'\n');
        match &self.path {
            None => std::io::stdout().write_all(&text).map_err(|e| failed("cannot write to standard output", &e)),
            Some(path) => {
                write_atomically(path, &text).map_err(|e| failed(&format!("cannot write {}", path.display()), &e))
            }
        }
    }
}

/// Write `bytes` to a temporary file beside `path`, then rename it over `path`.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
    let temporary = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let written = std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
