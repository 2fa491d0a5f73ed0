//! Reports from a saved scan without holding it: the scan document is read from its file one
//! item at a time ([`ScanFile`]). The figures of the report (summary, sectors, operators, top
//! checks, changes, methodology) are computed from a slim copy of the document — every item
//! without its TLS, certificate and HTTP evidence, its passing findings without their texts —
//! and each item's details, the CSV rows and the operators' notices from a second read of the
//! file, rendered and dropped one item at a time. Memory grows by a few kilobytes per item,
//! not by the item.
//!
//! Every item read is clipped as the scan clips facts ([`crate::scan::clip`]): a document from
//! an older postura or from elsewhere with a string of any size costs at most that much.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::view::{Document, UNSPECIFIED};
use super::ReportError;
use crate::checks::catalog::Catalog;
use crate::checks::model::Status;
use crate::dns::facts::{ResolverFacts, ZoneFacts};
use crate::facts::{ScanReport, TargetResult, ToolInfo};
use crate::scan::Item;

/// The kinds of items in a document, in document order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Target,
    Zone,
    Resolver,
}

impl Kind {
    pub fn of(item: Item<'_>) -> Kind {
        match item {
            Item::Target(_) => Kind::Target,
            Item::Zone(_) => Kind::Zone,
            Item::Resolver(_) => Kind::Resolver,
        }
    }

    /// The view's name of the kind (`target`, `zone`, `resolver`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Target => "target",
            Kind::Zone => "zone",
            Kind::Resolver => "resolver",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::Target, Kind::Zone, Kind::Resolver].into_iter().find(|k| k.name() == name)
    }
}

/// Where a report's item details come from: a document in memory, or a file read one item at a
/// time.
pub trait ItemSource {
    /// Call `each` with every item of `kind`, in document order.
    fn each(&self, kind: Kind, each: &mut dyn FnMut(Item<'_>) -> Result<(), ReportError>) -> Result<(), ReportError>;
}

impl ItemSource for Document {
    fn each(&self, kind: Kind, each: &mut dyn FnMut(Item<'_>) -> Result<(), ReportError>) -> Result<(), ReportError> {
        let report = &self.report;
        match kind {
            Kind::Target => report.targets.iter().try_for_each(|t| each(Item::Target(t))),
            Kind::Zone => report.zones.iter().try_for_each(|z| each(Item::Zone(z))),
            Kind::Resolver => report.resolvers.iter().try_for_each(|r| each(Item::Resolver(r))),
        }
    }
}

/// The items of one operator (as declared; "unspecified" for none) of another source.
pub struct OperatorItems<'a> {
    pub source: &'a dyn ItemSource,
    pub operator: &'a str,
}

/// The operator an item declares ("unspecified" for none).
pub fn operator_of(item: Item<'_>) -> &str {
    let declared = match item {
        Item::Target(t) => &t.operator,
        Item::Zone(z) => &z.operator,
        Item::Resolver(r) => &r.operator,
    };
    declared.as_deref().unwrap_or(UNSPECIFIED)
}

impl ItemSource for OperatorItems<'_> {
    fn each(&self, kind: Kind, each: &mut dyn FnMut(Item<'_>) -> Result<(), ReportError>) -> Result<(), ReportError> {
        self.source.each(kind, &mut |item| if operator_of(item) == self.operator { each(item) } else { Ok(()) })
    }
}

/// A scan document in a file (`postura scan --json`, any version this postura reads).
pub struct ScanFile {
    path: PathBuf,
}

impl ScanFile {
    pub fn open(path: &Path) -> Result<ScanFile, ReportError> {
        std::fs::File::open(path).map_err(|e| ReportError::Input(format!("cannot read {}: {e}", path.display())))?;
        Ok(ScanFile { path: path.to_path_buf() })
    }

    /// Read the document: each item of the kinds `wanted` to `each` as it is parsed (clipped),
    /// the others skipped; returns the document's head and assessment (with no items).
    pub fn read(
        &self,
        wanted: &[Kind],
        each: &mut dyn FnMut(Item<'_>) -> Result<(), ReportError>,
    ) -> Result<ScanReport, ReportError> {
        let file = std::fs::File::open(&self.path)
            .map_err(|e| ReportError::Input(format!("cannot read {}: {e}", self.path.display())))?;
        let mut reader = serde_json::Deserializer::from_reader(BufReader::with_capacity(256 * 1024, file));
        let mut failure = None;
        let head = DocumentSeed { wanted, each, failure: &mut failure }.deserialize(&mut reader);
        if let Some(error) = failure {
            return Err(error);
        }
        let head = head.and_then(|head| reader.end().map(|()| head));
        head.map_err(|e| ReportError::Input(format!("{}: not a postura scan document: {e}", self.path.display())))
    }

    /// The document for the report's figures: head, assessment, and every item without its
    /// evidence (see the module doc). `catalog` gives the check texts dropped from findings.
    pub fn summary(&self, catalog: Option<&Catalog>) -> Result<Document, ReportError> {
        let mut targets = Vec::new();
        let mut zones = Vec::new();
        let mut resolvers = Vec::new();
        let mut clients = crate::report::view::clients::ClientTallies::default();
        let mut head = self.read(&[Kind::Target, Kind::Zone, Kind::Resolver], &mut |item| {
            match item {
                Item::Target(t) => {
                    clients.add(t);
                    targets.push(slim_target(t, catalog));
                }
                Item::Zone(z) => zones.push(slim_zone(z, catalog)),
                Item::Resolver(r) => resolvers.push(r.clone()),
            }
            Ok(())
        })?;
        head.targets = targets;
        head.zones = zones;
        head.resolvers = resolvers;
        Ok(Document { report: head, clients: Some(clients) })
    }
}

impl ItemSource for ScanFile {
    fn each(&self, kind: Kind, each: &mut dyn FnMut(Item<'_>) -> Result<(), ReportError>) -> Result<(), ReportError> {
        self.read(&[kind], each).map(|_| ())
    }
}

/// A finding as the report's figures need it: a passing or inconclusive finding keeps its
/// check, category, status and severity, not its texts (the catalog has them).
fn slim_findings(
    findings: &[crate::checks::model::Finding],
    catalog: Option<&Catalog>,
) -> Vec<crate::checks::model::Finding> {
    findings
        .iter()
        .map(|finding| {
            let mut finding = finding.clone();
            let known = catalog.is_some_and(|c| c.get(&finding.check).is_some());
            if matches!(finding.status, Status::Pass | Status::Inconclusive) && finding.exception.is_none() && known {
                finding.title = String::new();
                finding.remediation = String::new();
                finding.references = Vec::new();
                finding.detail = Default::default();
            }
            finding
        })
        .collect()
}

fn slim_target(target: &TargetResult, catalog: Option<&Catalog>) -> TargetResult {
    TargetResult {
        host: target.host.clone(),
        port: target.port,
        address: target.address.clone(),
        sni: target.sni.clone(),
        service: target.service,
        sector: target.sector.clone(),
        operator: target.operator.clone(),
        mx_of: target.mx_of.clone(),
        error: target.error.clone(),
        started_at: String::new(),
        duration_ms: target.duration_ms,
        connections: target.connections,
        out_of_scope: Vec::new(),
        // The hybrid post-quantum share reads these from each endpoint (protocols, groups).
        tls: target.tls.as_ref().map(|tls| crate::facts::TlsFacts {
            protocols: tls.protocols.clone(),
            group_details: tls.group_details.clone(),
            // Client verdicts are counted as the file is read (`ClientTallies`), not kept.
            ..Default::default()
        }),
        certificate: None,
        caa: None,
        starttls: target.starttls,
        http: None,
        findings: slim_findings(&target.findings, catalog),
        grade: target.grade.clone(),
        score: target.score.clone(),
    }
}

fn slim_zone(zone: &ZoneFacts, catalog: Option<&Catalog>) -> ZoneFacts {
    ZoneFacts { findings: slim_findings(&zone.findings, catalog), ..zone.clone() }
}

/// The top-level object: items handed on as their arrays are read, the rest kept.
struct DocumentSeed<'a, 'f> {
    wanted: &'a [Kind],
    each: &'a mut dyn FnMut(Item<'_>) -> Result<(), ReportError>,
    failure: &'f mut Option<ReportError>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_> {
    type Value = ScanReport;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<ScanReport, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_> {
    type Value = ScanReport;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a postura scan document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ScanReport, A::Error> {
        let mut head = ScanReport {
            schema_version: 0,
            tool: ToolInfo { name: String::new(), version: String::new() },
            started_at: String::new(),
            finished_at: String::new(),
            country: None,
            targets: Vec::new(),
            assessment: None,
            zones: Vec::new(),
            resolvers: Vec::new(),
        };
        let (mut version, mut tool) = (false, false);
        while let Some(key) = map.next_key::<String>()? {
            let kind = match key.as_str() {
                "schema_version" => {
                    head.schema_version = map.next_value()?;
                    version = true;
                    continue;
                }
                "tool" => {
                    head.tool = map.next_value()?;
                    tool = true;
                    continue;
                }
                "started_at" => {
                    head.started_at = map.next_value()?;
                    continue;
                }
                "finished_at" => {
                    head.finished_at = map.next_value()?;
                    continue;
                }
                "country" => {
                    head.country = map.next_value()?;
                    continue;
                }
                "assessment" => {
                    head.assessment = map.next_value()?;
                    continue;
                }
                "targets" => Kind::Target,
                "zones" => Kind::Zone,
                "resolvers" => Kind::Resolver,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if self.wanted.contains(&kind) {
                map.next_value_seed(ItemsSeed { kind, each: &mut *self.each, failure: &mut *self.failure })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !version {
            return Err(A::Error::missing_field("schema_version"));
        }
        if !tool {
            return Err(A::Error::missing_field("tool"));
        }
        Ok(head)
    }
}

/// One array of items, each parsed, clipped and handed on, then dropped.
struct ItemsSeed<'a, 'f> {
    kind: Kind,
    each: &'a mut dyn FnMut(Item<'_>) -> Result<(), ReportError>,
    failure: &'f mut Option<ReportError>,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(mut value) = seq.next_element::<serde_json::Value>()? {
            crate::scan::clip::clip_value(&mut value, crate::scan::clip::MAX_FACT_CHARS);
            let handed = match self.kind {
                Kind::Target => {
                    let item: TargetResult = serde_json::from_value(value).map_err(A::Error::custom)?;
                    (self.each)(Item::Target(&item))
                }
                Kind::Zone => {
                    let item: ZoneFacts = serde_json::from_value(value).map_err(A::Error::custom)?;
                    (self.each)(Item::Zone(&item))
                }
                Kind::Resolver => {
                    let item: ResolverFacts = serde_json::from_value(value).map_err(A::Error::custom)?;
                    (self.each)(Item::Resolver(&item))
                }
            };
            if let Err(error) = handed {
                *self.failure = Some(error);
                return Err(A::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}
