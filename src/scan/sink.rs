//! Where a scan's results go as they arrive. `run` hands each target, zone and resolver to the
//! sink the moment it finishes (`item`: facts only, findings need the joins across items). Once
//! every item is in, the assessment pass: `begin` with the document's head, each item again
//! after the joins and checks (`assessed`, in document order: targets, zones, resolvers), then
//! `finished` with the country assessment. No sink is given the whole document at once: a scan
//! of ten thousand endpoints is handed on one item at a time and never held in memory.
//!
//! The JSON file, the terminal's progress and summary, the store, the reports and the tests'
//! recorders are sinks; [`Collect`] keeps the whole document for callers that want it.

use std::io::Write;
use std::path::PathBuf;

use crate::checks::model::{Assessment, Severity};
use crate::dns::facts::{ResolverFacts, ZoneFacts};
use crate::facts::{CountryInfo, ScanReport, TargetResult, ToolInfo};

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

/// The assessed scan without its items: the document's head, how many items of each kind are
/// (`begin`) or were (`finished`) handed to [`Sink::assessed`], and the country assessment
/// (`finished` only, when checks ran).
#[derive(Debug, Clone)]
pub struct ScanSummary {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub started_at: String,
    pub finished_at: String,
    pub country: Option<CountryInfo>,
    pub assessment: Option<Assessment>,
    pub targets: usize,
    pub zones: usize,
    pub resolvers: usize,
}

impl ScanSummary {
    /// The document with no items (its head and assessment).
    pub fn to_report(&self) -> ScanReport {
        ScanReport {
            schema_version: self.schema_version,
            tool: self.tool.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            country: self.country.clone(),
            targets: Vec::new(),
            assessment: self.assessment.clone(),
            zones: Vec::new(),
            resolvers: Vec::new(),
        }
    }

    /// Whether a finding fails at `threshold` or above (the `--fail-on` gate), on any item.
    pub fn fails_at_or_above(&self, threshold: Severity) -> bool {
        self.assessment
            .as_ref()
            .is_some_and(|a| a.counts.fail_by_severity.iter().any(|(severity, n)| *severity >= threshold && *n > 0))
    }
}

/// Receives a scan's results as they come. Called from the scan's collector only, one call at a
/// time: `item` in finishing order, then `begin`, `assessed` in document order, `finished`.
pub trait Sink: Send {
    /// `count` more items will be handed on (called as targets resolve and MX hosts are found).
    fn planned(&mut self, _count: usize) {}
    /// One target, zone or resolver finished (its facts; findings come with `assessed`).
    fn item(&mut self, item: Item<'_>) -> Result<(), SinkError>;
    /// Every item is in; the assessment pass starts (`summary.assessment` is still none).
    fn begin(&mut self, _summary: &ScanSummary) -> Result<(), SinkError> {
        Ok(())
    }
    /// One item after the joins across items and the checks (findings, grade, score), in
    /// document order. The item is dropped after the call: keep what you need.
    fn assessed(&mut self, _item: Item<'_>) -> Result<(), SinkError> {
        Ok(())
    }
    /// Everything is judged: the head and the country assessment (the items came by `assessed`).
    fn finished(&mut self, summary: &ScanSummary) -> Result<(), SinkError>;
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn planned(&mut self, count: usize) {
        (**self).planned(count)
    }
    fn item(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        (**self).item(item)
    }
    fn begin(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        (**self).begin(summary)
    }
    fn assessed(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        (**self).assessed(item)
    }
    fn finished(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        (**self).finished(summary)
    }
}

/// Discards everything: for callers that only want `run`'s summary.
pub struct NoSink;

impl Sink for NoSink {
    fn item(&mut self, _item: Item<'_>) -> Result<(), SinkError> {
        Ok(())
    }
    fn finished(&mut self, _summary: &ScanSummary) -> Result<(), SinkError> {
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
    fn begin(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|sink| sink.begin(summary))
    }
    fn assessed(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|sink| sink.assessed(item))
    }
    fn finished(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|sink| sink.finished(summary))
    }
}

/// Keeps the whole assessed document (memory grows with the scan): for tests, small scans and
/// callers that want a `ScanReport` (see [`crate::scan::run_to_report`]).
#[derive(Default)]
pub struct Collect {
    targets: Vec<TargetResult>,
    zones: Vec<ZoneFacts>,
    resolvers: Vec<ResolverFacts>,
}

impl Collect {
    /// The document: `summary`'s head and assessment with the items collected.
    pub fn into_report(self, summary: &ScanSummary) -> ScanReport {
        ScanReport { targets: self.targets, zones: self.zones, resolvers: self.resolvers, ..summary.to_report() }
    }
}

impl Sink for Collect {
    fn item(&mut self, _item: Item<'_>) -> Result<(), SinkError> {
        Ok(())
    }
    fn assessed(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        match item {
            Item::Target(t) => self.targets.push(t.clone()),
            Item::Zone(z) => self.zones.push(z.clone()),
            Item::Resolver(r) => self.resolvers.push(r.clone()),
        }
        Ok(())
    }
    fn finished(&mut self, _summary: &ScanSummary) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Writes the scan document (the same JSON as `serde_json::to_writer_pretty` of a
/// `ScanReport`, keys in another order: the assessment comes last) one item at a time.
pub struct DocumentWriter<W: Write> {
    out: W,
    /// The array being written (0 targets, 1 zones, 2 resolvers), and whether it has an item.
    section: usize,
    open: bool,
    any: bool,
}

const SECTIONS: [&str; 3] = ["targets", "zones", "resolvers"];

impl<W: Write> DocumentWriter<W> {
    /// Start the document with its head.
    pub fn begin(mut out: W, summary: &ScanSummary) -> std::io::Result<DocumentWriter<W>> {
        let field = |name: &str, value: serde_json::Result<String>| -> std::io::Result<String> {
            Ok(format!("  \"{name}\": {},\n", value.map_err(std::io::Error::other)?))
        };
        let mut head = String::from("{\n");
        head += &field("schema_version", serde_json::to_string(&summary.schema_version))?;
        head += &field("tool", serde_json::to_string(&summary.tool))?;
        head += &field("started_at", serde_json::to_string(&summary.started_at))?;
        head += &field("finished_at", serde_json::to_string(&summary.finished_at))?;
        head += &field("country", serde_json::to_string(&summary.country))?;
        out.write_all(head.as_bytes())?;
        Ok(DocumentWriter { out, section: 0, open: false, any: false })
    }

    fn open_section(&mut self, section: usize) -> std::io::Result<()> {
        while self.section < section || !self.open {
            if self.open {
                self.close_section()?;
                self.section += 1;
            }
            write!(self.out, "  \"{}\": [", SECTIONS[self.section])?;
            self.open = true;
            self.any = false;
        }
        Ok(())
    }

    fn close_section(&mut self) -> std::io::Result<()> {
        self.out.write_all(if self.any { b"\n  ],\n" } else { b"],\n" })?;
        self.open = false;
        Ok(())
    }

    /// One assessed item (items of a kind after those of the kinds before it).
    pub fn item(&mut self, item: Item<'_>) -> std::io::Result<()> {
        let (section, text) = match item {
            Item::Target(t) => (0, serde_json::to_vec_pretty(t)),
            Item::Zone(z) => (1, serde_json::to_vec_pretty(z)),
            Item::Resolver(r) => (2, serde_json::to_vec_pretty(r)),
        };
        let text = text.map_err(std::io::Error::other)?;
        if section < self.section {
            return Err(std::io::Error::other("scan document: items out of order"));
        }
        self.open_section(section)?;
        self.out.write_all(if self.any { b",\n    " } else { b"\n    " })?;
        self.any = true;
        // Indent the item's own lines under the array (JSON strings hold no raw newline).
        for (n, line) in text.split(|b| *b == b'\n').enumerate() {
            if n > 0 {
                self.out.write_all(b"\n    ")?;
            }
            self.out.write_all(line)?;
        }
        self.out.flush()
    }

    /// End the document with the assessment; returns the writer.
    pub fn finish(mut self, summary: &ScanSummary) -> std::io::Result<W> {
        for section in self.section..SECTIONS.len() {
            if !self.open || self.section < section {
                self.open_section(section)?;
            }
        }
        self.close_section()?;
        let assessment = serde_json::to_string_pretty(&summary.assessment).map_err(std::io::Error::other)?;
        write!(self.out, "  \"assessment\": {}\n}}\n", assessment.replace('\n', "\n  "))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The scan document as JSON, to a file or to standard output, written item by item as the
/// assessment pass hands them on. A file is written under a temporary name beside it and
/// renamed when complete, so a failed scan never truncates an earlier result.
pub struct JsonSink {
    pub path: Option<PathBuf>,
    writer: Option<DocumentWriter<Box<dyn Write + Send>>>,
    partial: Option<PathBuf>,
}

impl JsonSink {
    /// To `path`, or standard output when `None`.
    pub fn new(path: Option<PathBuf>) -> JsonSink {
        JsonSink { path, writer: None, partial: None }
    }

    fn failed(&self, e: &dyn std::fmt::Display) -> SinkError {
        match &self.path {
            Some(path) => SinkError(format!("cannot write {}: {e}", path.display())),
            None => SinkError(format!("cannot write to standard output: {e}")),
        }
    }
}

impl Drop for JsonSink {
    fn drop(&mut self) {
        if let Some(partial) = self.partial.take() {
            let _ = std::fs::remove_file(partial);
        }
    }
}

impl Sink for JsonSink {
    fn item(&mut self, _item: Item<'_>) -> Result<(), SinkError> {
        Ok(())
    }

    fn begin(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        let out: Box<dyn Write + Send> = match &self.path {
            None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            Some(path) => {
                let partial = partial_path(path);
                let file = std::fs::File::create(&partial).map_err(|e| self.failed(&e))?;
                self.partial = Some(partial);
                Box::new(std::io::BufWriter::with_capacity(256 * 1024, file))
            }
        };
        self.writer = Some(DocumentWriter::begin(out, summary).map_err(|e| self.failed(&e))?);
        Ok(())
    }

    fn assessed(&mut self, item: Item<'_>) -> Result<(), SinkError> {
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        writer.item(item).map_err(|e| self.failed(&e))
    }

    fn finished(&mut self, summary: &ScanSummary) -> Result<(), SinkError> {
        let Some(writer) = self.writer.take() else { return Ok(()) };
        writer.finish(summary).map_err(|e| self.failed(&e))?;
        if let (Some(path), Some(partial)) = (&self.path, &self.partial) {
            std::fs::rename(partial, path).map_err(|e| self.failed(&e))?;
            self.partial = None;
        }
        Ok(())
    }
}

/// The temporary name a file is written under before it is renamed over `path`.
pub fn partial_path(path: &std::path::Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Write `bytes` to a temporary file beside `path`, then rename it over `path`.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = partial_path(path);
    let written = std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> ScanSummary {
        ScanSummary {
            schema_version: 1,
            tool: ToolInfo { name: "postura".into(), version: "test".into() },
            started_at: "2026-12-01T00:00:00Z".into(),
            finished_at: "2026-12-01T00:00:01Z".into(),
            country: None,
            assessment: None,
            targets: 0,
            zones: 0,
            resolvers: 0,
        }
    }

    fn zone(name: &str) -> ZoneFacts {
        ZoneFacts { name: name.into(), ..ZoneFacts::default() }
    }

    fn resolver(address: &str) -> ResolverFacts {
        ResolverFacts { address: address.into(), ..ResolverFacts::default() }
    }

    /// The document written item by item is the scan document whatever kinds are missing.
    #[test]
    fn documents_written_item_by_item_parse_whatever_kinds_they_hold() {
        let zones = [zone("a.test."), zone("b.test.")];
        let resolvers = [resolver("127.0.0.1:53")];
        let cases: [(&[ZoneFacts], &[ResolverFacts]); 4] =
            [(&[], &[]), (&zones, &[]), (&[], &resolvers), (&zones, &resolvers)];
        for (zones, resolvers) in cases {
            let mut writer = DocumentWriter::begin(Vec::new(), &summary()).unwrap();
            zones.iter().for_each(|z| writer.item(Item::Zone(z)).unwrap());
            resolvers.iter().for_each(|r| writer.item(Item::Resolver(r)).unwrap());
            let text = writer.finish(&summary()).unwrap();
            let report: ScanReport = serde_json::from_slice(&text).unwrap();
            assert!(report.targets.is_empty());
            assert_eq!(report.zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>(), {
                zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>()
            });
            assert_eq!(report.resolvers.len(), resolvers.len());
        }
    }

    #[test]
    fn an_item_after_a_later_kind_is_refused() {
        let mut writer = DocumentWriter::begin(Vec::new(), &summary()).unwrap();
        writer.item(Item::Resolver(&resolver("127.0.0.1:53"))).unwrap();
        assert!(writer.item(Item::Zone(&zone("a.test."))).is_err());
    }

    #[test]
    fn the_fail_on_gate_reads_the_counts_by_severity() {
        let mut counts = crate::checks::model::FindingCounts::default();
        counts.fail_by_severity.insert(Severity::Medium, 2);
        let assessment = Assessment {
            policy: "p".into(),
            index: None,
            formula: String::new(),
            sectors: Vec::new(),
            counts,
            checks_version: String::new(),
            headline: None,
            score_caps: Default::default(),
            vantage: None,
            vantage_differences: Vec::new(),
        };
        let summary = ScanSummary { assessment: Some(assessment), ..summary() };
        assert!(summary.fails_at_or_above(Severity::Low));
        assert!(summary.fails_at_or_above(Severity::Medium));
        assert!(!summary.fails_at_or_above(Severity::High));
    }
}
