//! The scan store: every scan kept in a database, written as the scan goes so that a crash loses
//! at most the items in flight. A scan row is written when the scan starts (with the arguments
//! that rebuild its plan), each target, zone and resolver's facts as it finishes (one transaction
//! each), and the assessed document with its findings, grades and index when it ends.
//!
//! Two backends behind one `Store`: an SQLite file (`sqlite`, the default: embedded, nothing to
//! install) and a PostgreSQL database (`postgres`, `--db postgres://…`: for several machines and
//! distributed scans, docs/scaling.md). Both have the same tables and the same schema versions,
//! migrated forward on open; each refuses a database that is not a postura store, or is from a
//! newer postura, with an error naming it, and never writes to it. What is common (parsing stored
//! facts, findings and grades of a document, import) is here; the backends only run SQL.

pub mod commands;
pub mod diff;
pub mod postgres;
pub mod sink;
pub mod sqlite;

use std::path::{Path, PathBuf};

pub use sink::StoreSink;
/// The schema version this postura writes (the same on both backends).
pub use sqlite::SCHEMA_VERSION;

use crate::facts::ScanReport;
use crate::scan::resume::{target_key, zone_key};
use crate::scan::StoredItems;

/// Where the store lives when `--db` is not given: `$XDG_DATA_HOME/postura/postura.db`, else
/// `/var/lib/postura/postura.db` for root, else `~/.local/share/postura/postura.db`.
pub fn default_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("postura/postura.db");
    }
    let root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::env::var_os("HOME").is_none_or(|h| h == "/root");
    if root {
        return PathBuf::from("/var/lib/postura/postura.db");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/postura/postura.db")
}

/// Whether `--db` names a PostgreSQL database (`postgres://…` or `postgresql://…`) rather than
/// an SQLite file.
pub fn is_postgres_url(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A scan's arguments as they are stored (to rebuild its plan): a PostgreSQL URL's password is
/// not kept (a resume or a worker names its store itself).
pub fn arguments_to_store(args: Vec<String>) -> Vec<String> {
    let mut after_db = false;
    args.into_iter()
        .map(|arg| {
            let value = if after_db { Some(arg.as_str()) } else { arg.strip_prefix("--db=") };
            let redacted = value.filter(|v| is_postgres_url(v)).map(postgres::redact);
            after_db = arg == "--db";
            match redacted {
                Some(url) if arg.starts_with("--db=") => format!("--db={url}"),
                Some(url) => url,
                None => arg,
            }
        })
        .collect()
}

/// One scan as `history` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanSummary {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub country: Option<String>,
    pub index: Option<f64>,
    pub items: i64,
    pub failing: i64,
}

/// One complete scan in a trend (`Store::trend`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrendRow {
    pub id: i64,
    pub started_at: String,
    pub index: Option<f64>,
    /// (severity name, failing findings), severities without failures omitted.
    pub failing: Vec<(String, i64)>,
}

/// What `finish_scan` writes, computed once for both backends.
pub struct Finished {
    pub finished_at: String,
    pub document: String,
    pub index: Option<f64>,
    pub country: Option<String>,
    /// (subject, check, status, severity)
    pub findings: Vec<(String, String, String, &'static str)>,
    /// (subject, grade)
    pub grades: Vec<(String, String)>,
}

impl Finished {
    pub fn from_report(report: &ScanReport) -> anyhow::Result<Finished> {
        let mut findings = Vec::new();
        let mut grades = Vec::new();
        for subject in diff::subjects(report) {
            for f in subject.findings {
                findings.push((subject.key.clone(), f.check.clone(), diff::name(&f.status), f.severity.name()));
            }
            if let Some(letter) = subject.grade {
                grades.push((subject.key, letter));
            }
        }
        // The same subject and check twice would break the key: the last one wins, as before.
        findings.reverse();
        let mut seen = std::collections::HashSet::new();
        findings.retain(|(subject, check, _, _)| seen.insert((subject.clone(), check.clone())));
        findings.reverse();
        Ok(Finished {
            finished_at: report.finished_at.clone(),
            document: serde_json::to_string(report)?,
            index: report.assessment.as_ref().and_then(|a| a.index),
            country: report.country.as_ref().map(|c| c.code.clone()),
            findings,
            grades,
        })
    }
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// An open store.
pub struct Store {
    backend: Backend,
    /// What `open` was given (a file, or the URL with its password), to open it again.
    source: PathBuf,
}

impl Store {
    /// Open (or create) the store `db` names, an SQLite file or a `postgres://` URL, migrating it
    /// to this version's schema.
    pub fn open(db: &Path) -> anyhow::Result<Store> {
        let text = db.to_string_lossy();
        let backend = if is_postgres_url(&text) {
            Backend::Postgres(postgres::PgStore::open(&text)?)
        } else {
            Backend::Sqlite(sqlite::SqliteStore::open(db)?)
        };
        Ok(Store { backend, source: db.to_path_buf() })
    }

    /// What the store was opened with: `Store::open(store.source())` opens it again.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The file, or the URL without its password: for messages.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite(s) => s.path().display().to_string(),
            Backend::Postgres(p) => p.location().to_string(),
        }
    }

    /// The PostgreSQL backend, for distributed scans.
    pub fn postgres(&self) -> Option<&postgres::PgStore> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(_) => None,
        }
    }

    /// Record a new running scan; returns its id.
    pub fn begin_scan(&self, args: &[String], cwd: &Path, country: Option<&str>) -> anyhow::Result<i64> {
        let args = serde_json::to_string(args)?;
        let cwd = cwd.display().to_string();
        let id = match &self.backend {
            Backend::Sqlite(s) => s.begin_scan(&args, &cwd, country)?,
            Backend::Postgres(p) => p.begin_scan(&args, &cwd, country)?,
        };
        tracing::info!(scan = id, store = %self.location(), "scan recorded");
        Ok(id)
    }

    /// The arguments and directory a scan was started with, and its status.
    pub fn scan_arguments(&self, id: i64) -> anyhow::Result<(Vec<String>, PathBuf, String)> {
        let row = match &self.backend {
            Backend::Sqlite(s) => s.scan_arguments(id)?,
            Backend::Postgres(p) => p.scan_arguments(id)?,
        };
        let (args, cwd, status) =
            row.ok_or_else(|| anyhow::anyhow!("store {}: no scan {id} (see `postura history`)", self.location()))?;
        Ok((serde_json::from_str(&args)?, PathBuf::from(cwd), status))
    }

    pub fn set_status(&self, id: i64, status: &str) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.set_status(id, status),
            Backend::Postgres(p) => p.set_status(id, status),
        }
    }

    /// Keep one finished item (its own transaction). Storing the same item again replaces it.
    pub fn put_item(&self, id: i64, kind: &str, key: &str, facts: &str) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Sqlite(s) => s.put_item(id, kind, key, facts)?,
            Backend::Postgres(p) => p.put_item(id, kind, key, facts)?,
        }
        tracing::debug!(scan = id, kind, key, "item stored");
        Ok(())
    }

    /// The items a scan has finished, for resuming it.
    pub fn stored_items(&self, id: i64) -> anyhow::Result<StoredItems> {
        let rows = match &self.backend {
            Backend::Sqlite(s) => s.item_rows(id)?,
            Backend::Postgres(p) => p.item_rows(id)?,
        };
        items_from_rows(&self.location(), id, rows)
    }

    /// Keep the assessed document, its findings, grades and index, and mark the scan complete:
    /// one transaction.
    pub fn finish_scan(&mut self, id: i64, report: &ScanReport) -> anyhow::Result<()> {
        let finished = Finished::from_report(report)?;
        match &mut self.backend {
            Backend::Sqlite(s) => s.finish_scan(id, &finished)?,
            Backend::Postgres(p) => p.finish_scan(id, &finished)?,
        }
        tracing::info!(scan = id, index = ?finished.index, "scan complete in the store");
        Ok(())
    }

    /// A scan's assessed document (complete scans only).
    pub fn report(&self, id: i64) -> anyhow::Result<ScanReport> {
        let row = match &self.backend {
            Backend::Sqlite(s) => s.report(id)?,
            Backend::Postgres(p) => p.report(id)?,
        };
        let (text, status) =
            row.ok_or_else(|| anyhow::anyhow!("store {}: no scan {id} (see `postura history`)", self.location()))?;
        let text = text.ok_or_else(|| {
            anyhow::anyhow!("scan {id} is {status}, not complete (resume it with `postura scan --resume {id}`)")
        })?;
        serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!("store {}: scan {id}: the stored document is unreadable: {e}", self.location())
        })
    }

    /// Scans, newest first (of one country when given).
    pub fn history(&self, country: Option<&str>) -> anyhow::Result<Vec<ScanSummary>> {
        match &self.backend {
            Backend::Sqlite(s) => s.history(country),
            Backend::Postgres(p) => p.history(country),
        }
    }

    /// The newest complete scan before `id` of the same country, for `report --scan` trends.
    pub fn previous_complete(&self, id: i64) -> anyhow::Result<Option<i64>> {
        match &self.backend {
            Backend::Sqlite(s) => s.previous_complete(id),
            Backend::Postgres(p) => p.previous_complete(id),
        }
    }

    /// The last `limit` complete scans of the same country as `id`, up to and including it,
    /// oldest first: (id, started_at, index, failing findings per severity name), for the trend.
    pub fn trend(&self, id: i64, limit: usize) -> anyhow::Result<Vec<TrendRow>> {
        match &self.backend {
            Backend::Sqlite(s) => s.trend(id, limit),
            Backend::Postgres(p) => p.trend(id, limit),
        }
    }

    /// Retention: keep the newest `keep` scans and/or drop those started more than `older_than_days`
    /// ago. Returns how many were deleted.
    pub fn prune(&mut self, keep: Option<usize>, older_than_days: Option<u32>) -> anyhow::Result<usize> {
        let cutoff = older_than_days.map(|days| {
            let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(days.into());
            cutoff.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        });
        match &mut self.backend {
            Backend::Sqlite(s) => s.prune(keep, cutoff.as_deref()),
            Backend::Postgres(p) => p.prune(keep, cutoff.as_deref()),
        }
    }

    /// Import a scan document (`postura scan --json`, any earlier version this one reads) as a
    /// complete scan. Returns its id.
    pub fn import(&mut self, report: &ScanReport, source: &Path) -> anyhow::Result<i64> {
        let args = vec![format!("imported from {}", source.display())];
        let country = report.country.as_ref().map(|c| c.code.clone());
        let id = self.begin_scan(&args, Path::new("."), country.as_deref())?;
        match &self.backend {
            Backend::Sqlite(s) => s.set_started_at(id, &report.started_at)?,
            Backend::Postgres(p) => p.set_started_at(id, &report.started_at)?,
        }
        for target in &report.targets {
            self.put_item(id, "target", &target_key(target), &serde_json::to_string(target)?)?;
        }
        for zone in &report.zones {
            self.put_item(id, "zone", &zone_key(&zone.name), &serde_json::to_string(zone)?)?;
        }
        for resolver in &report.resolvers {
            self.put_item(id, "resolver", &resolver.address, &serde_json::to_string(resolver)?)?;
        }
        self.finish_scan(id, report)?;
        Ok(id)
    }
}

/// Stored (kind, facts) rows back into typed items.
pub fn items_from_rows(location: &str, id: i64, rows: Vec<(String, String)>) -> anyhow::Result<StoredItems> {
    let mut items = StoredItems::default();
    for (kind, facts) in rows {
        let bad =
            |e: serde_json::Error| anyhow::anyhow!("store {location}: scan {id}: a stored {kind} is unreadable: {e}");
        match kind.as_str() {
            "target" => items.add_target(serde_json::from_str(&facts).map_err(bad)?),
            "zone" => items.add_zone(serde_json::from_str(&facts).map_err(bad)?),
            "resolver" => items.add_resolver(serde_json::from_str(&facts).map_err(bad)?),
            _ => {}
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_arguments_keep_no_postgresql_password() {
        let args = ["a.test", "--db", "postgres://u:secret@db/p", "--db=postgresql://u:secret@db/p", "--db", "x.db"];
        let stored = arguments_to_store(args.iter().map(|s| s.to_string()).collect());
        assert_eq!(stored, ["a.test", "--db", "postgres://u:***@db/p", "--db=postgresql://u:***@db/p", "--db", "x.db"]);
    }
}
