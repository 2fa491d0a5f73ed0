//! The scan store: every scan kept in one SQLite file (`rusqlite`, SQLite bundled), written as
//! the scan goes so that a crash loses at most the items in flight. A scan row is written when
//! the scan starts (with the arguments that rebuild its plan), each target, zone and resolver's
//! facts as it finishes (one transaction each), and the assessed document with its findings,
//! grades and index when it ends. WAL mode: reports can read while a scan writes.
//!
//! The schema is versioned by `PRAGMA user_version` and migrated forward on open; a file from a
//! newer postura, a foreign SQLite database (another `application_id`, or tables that are not
//! ours) or a file that is not SQLite at all is refused with an error naming it, and never
//! written to.

pub mod commands;
pub mod diff;
pub mod sink;

use std::path::{Path, PathBuf};

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};

pub use sink::StoreSink;

use crate::facts::ScanReport;
use crate::scan::resume::{target_key, zone_key};
use crate::scan::StoredItems;

/// `PRAGMA application_id` of a postura store ("PSTR"), so that another program's SQLite file is
/// recognised and left alone.
const APPLICATION_ID: i64 = 0x5053_5452;

/// The schema, one step per version: `MIGRATIONS[n]` takes a store from version n to n + 1.
const MIGRATIONS: &[&str] = &["
CREATE TABLE scans (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    -- running, interrupted, complete
    status        TEXT NOT NULL,
    country       TEXT,
    -- the `postura scan` arguments (JSON array) and the directory they were given in
    args          TEXT NOT NULL,
    cwd           TEXT NOT NULL,
    tool_version  TEXT NOT NULL,
    index_value   REAL,
    -- the assessed document (JSON), once complete
    report        TEXT
);
CREATE TABLE items (
    scan_id  INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    -- target, zone, resolver
    kind     TEXT NOT NULL,
    key      TEXT NOT NULL,
    facts    TEXT NOT NULL,
    PRIMARY KEY (scan_id, kind, key)
);
CREATE TABLE findings (
    scan_id   INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    subject   TEXT NOT NULL,
    check_id  TEXT NOT NULL,
    status    TEXT NOT NULL,
    severity  TEXT NOT NULL,
    PRIMARY KEY (scan_id, subject, check_id)
);
CREATE TABLE grades (
    scan_id  INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    subject  TEXT NOT NULL,
    grade    TEXT NOT NULL,
    PRIMARY KEY (scan_id, subject)
);
"];

/// The schema version this postura writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

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

/// An SQLite error in words an operator can act on.
fn explain(error: rusqlite::Error) -> anyhow::Error {
    use rusqlite::ErrorCode;
    let hint = match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => "not an SQLite database",
        Some(ErrorCode::DiskFull) => "the disk is full",
        Some(ErrorCode::SystemIoFailure) => "disk I/O error (is the disk full, or the device failing?)",
        Some(ErrorCode::ReadOnly) => "the file or its directory is read-only",
        Some(ErrorCode::CannotOpen) => "cannot open the file (does its directory exist and is it writable?)",
        _ => return anyhow::anyhow!("{error}"),
    };
    anyhow::anyhow!("{hint} ({error})")
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

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (or create) the store at `path`, migrating it to this version's schema.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let fail = |what: &str| format!("store {}: {what}", path.display());
        let conn = Connection::open(path).with_context(|| fail("cannot open"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).with_context(|| fail("cannot open"))?;
        let mut store = Store { conn, path: path.to_path_buf() };
        store.check_and_migrate().map_err(|e| anyhow::anyhow!("{}: {e:#}", fail("unusable")))?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_and_migrate(&mut self) -> anyhow::Result<()> {
        // Reading the header first: a file that is not SQLite fails here, before anything is written.
        let application_id: i64 = self.conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(explain)?;
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(explain)?;
        let tables: i64 =
            self.conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).map_err(explain)?;
        if application_id != APPLICATION_ID && (application_id != 0 || tables != 0) {
            anyhow::bail!("not a postura store (another program's SQLite database); give --db a new file");
        }
        if version > SCHEMA_VERSION {
            anyhow::bail!("written by a newer postura (schema version {version}, this one knows up to {SCHEMA_VERSION}); upgrade postura");
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(explain)
            .context("cannot switch to WAL mode")?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("cannot switch to WAL mode (journal mode stays {mode})");
        }
        self.conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        // Migrate under the write lock, reading the version again inside it: two processes
        // opening a new store at once (a scan and a report) migrate it once.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .context("cannot lock the store to migrate it")?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (step, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).with_context(|| format!("migration to schema version {}", step + 1))?;
        }
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        tx.commit().context("cannot commit the migration")
    }

    fn error(&self, what: &str) -> impl Fn(rusqlite::Error) -> anyhow::Error + '_ {
        let what = what.to_string();
        move |e| anyhow::anyhow!("store {}: {what}: {:#}", self.path.display(), explain(e))
    }

    /// Record a new running scan; returns its id.
    pub fn begin_scan(&self, args: &[String], cwd: &Path, country: Option<&str>) -> anyhow::Result<i64> {
        let args = serde_json::to_string(args)?;
        self.conn
            .execute(
                "INSERT INTO scans (started_at, status, country, args, cwd, tool_version) VALUES (?1, 'running', ?2, ?3, ?4, ?5)",
                params![crate::now_rfc3339(), country, args, cwd.display().to_string(), env!("CARGO_PKG_VERSION")],
            )
            .map_err(self.error("cannot record the scan"))?;
        let id = self.conn.last_insert_rowid();
        tracing::info!(scan = id, store = %self.path.display(), "scan recorded");
        Ok(id)
    }

    /// The arguments and directory a scan was started with, and its status.
    pub fn scan_arguments(&self, id: i64) -> anyhow::Result<(Vec<String>, PathBuf, String)> {
        let row: Option<(String, String, String)> = self
            .conn
            .query_row("SELECT args, cwd, status FROM scans WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(self.error("cannot read the scan"))?;
        let (args, cwd, status) =
            row.ok_or_else(|| anyhow::anyhow!("store {}: no scan {id} (see `postura history`)", self.path.display()))?;
        Ok((serde_json::from_str(&args)?, PathBuf::from(cwd), status))
    }

    pub fn set_status(&self, id: i64, status: &str) -> anyhow::Result<()> {
        self.conn
            .execute("UPDATE scans SET status = ?2 WHERE id = ?1", params![id, status])
            .map_err(self.error("cannot update the scan"))?;
        Ok(())
    }

    /// Keep one finished item (its own transaction). Storing the same item again replaces it.
    pub fn put_item(&self, id: i64, kind: &str, key: &str, facts: &str) -> anyhow::Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO items (scan_id, kind, key, facts) VALUES (?1, ?2, ?3, ?4)",
                params![id, kind, key, facts],
            )
            .map_err(self.error(&format!("cannot store {kind} {key}")))?;
        tracing::debug!(scan = id, kind, key, "item stored");
        Ok(())
    }

    /// The items a scan has finished, for resuming it.
    pub fn stored_items(&self, id: i64) -> anyhow::Result<StoredItems> {
        let mut items = StoredItems::default();
        let mut statement = self
            .conn
            .prepare("SELECT kind, facts FROM items WHERE scan_id = ?1")
            .map_err(self.error("cannot read items"))?;
        let rows = statement
            .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.error("cannot read items"))?;
        for row in rows {
            let (kind, facts) = row.map_err(self.error("cannot read items"))?;
            let bad = |e: serde_json::Error| {
                anyhow::anyhow!("store {}: scan {id}: a stored {kind} is unreadable: {e}", self.path.display())
            };
            match kind.as_str() {
                "target" => items.add_target(serde_json::from_str(&facts).map_err(bad)?),
                "zone" => items.add_zone(serde_json::from_str(&facts).map_err(bad)?),
                "resolver" => items.add_resolver(serde_json::from_str(&facts).map_err(bad)?),
                _ => {}
            }
        }
        Ok(items)
    }

    /// Keep the assessed document, its findings, grades and index, and mark the scan complete:
    /// one transaction.
    pub fn finish_scan(&mut self, id: i64, report: &ScanReport) -> anyhow::Result<()> {
        let path = self.path.display().to_string();
        let fail = |e: rusqlite::Error| {
            anyhow::anyhow!("store {path}: cannot store the results of scan {id}: {:#}", explain(e))
        };
        let text = serde_json::to_string(report)?;
        let index = report.assessment.as_ref().and_then(|a| a.index);
        let country = report.country.as_ref().map(|c| c.code.clone());
        let tx = self.conn.transaction().map_err(fail)?;
        tx.execute(
            "UPDATE scans SET status = 'complete', finished_at = ?2, report = ?3, index_value = ?4, country = coalesce(country, ?5) WHERE id = ?1",
            params![id, report.finished_at, text, index, country],
        )
        .map_err(fail)?;
        tx.execute("DELETE FROM findings WHERE scan_id = ?1", [id]).map_err(fail)?;
        tx.execute("DELETE FROM grades WHERE scan_id = ?1", [id]).map_err(fail)?;
        {
            let mut finding =
                tx.prepare("INSERT OR REPLACE INTO findings VALUES (?1, ?2, ?3, ?4, ?5)").map_err(fail)?;
            let mut grade = tx.prepare("INSERT OR REPLACE INTO grades VALUES (?1, ?2, ?3)").map_err(fail)?;
            for subject in diff::subjects(report) {
                for f in subject.findings {
                    finding
                        .execute(params![id, subject.key, f.check, diff::name(&f.status), f.severity.name()])
                        .map_err(fail)?;
                }
                if let Some(letter) = subject.grade {
                    grade.execute(params![id, subject.key, letter]).map_err(fail)?;
                }
            }
        }
        tx.commit().map_err(fail)?;
        tracing::info!(scan = id, index = ?index, "scan complete in the store");
        Ok(())
    }

    /// A scan's assessed document (complete scans only).
    pub fn report(&self, id: i64) -> anyhow::Result<ScanReport> {
        let row: Option<(Option<String>, String)> = self
            .conn
            .query_row("SELECT report, status FROM scans WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(self.error("cannot read the scan"))?;
        let (text, status) =
            row.ok_or_else(|| anyhow::anyhow!("store {}: no scan {id} (see `postura history`)", self.path.display()))?;
        let text = text.ok_or_else(|| {
            anyhow::anyhow!("scan {id} is {status}, not complete (resume it with `postura scan --resume {id}`)")
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("store {}: scan {id}: the stored document is unreadable", self.path.display()))
    }

    /// Scans, newest first (of one country when given).
    pub fn history(&self, country: Option<&str>) -> anyhow::Result<Vec<ScanSummary>> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT s.id, s.started_at, s.finished_at, s.status, s.country, s.index_value,
                        (SELECT count(*) FROM items i WHERE i.scan_id = s.id),
                        (SELECT count(*) FROM findings f WHERE f.scan_id = s.id AND f.status = 'fail')
                 FROM scans s WHERE ?1 IS NULL OR upper(s.country) = upper(?1) ORDER BY s.id DESC",
            )
            .map_err(self.error("cannot read the history"))?;
        let rows = statement
            .query_map([country], |r| {
                Ok(ScanSummary {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    finished_at: r.get(2)?,
                    status: r.get(3)?,
                    country: r.get(4)?,
                    index: r.get(5)?,
                    items: r.get(6)?,
                    failing: r.get(7)?,
                })
            })
            .map_err(self.error("cannot read the history"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.error("cannot read the history"))
    }

    /// The newest complete scan before `id` of the same country, for `report --scan` trends.
    pub fn previous_complete(&self, id: i64) -> anyhow::Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT p.id FROM scans p, scans s WHERE s.id = ?1 AND p.id < s.id AND p.status = 'complete'
                   AND coalesce(p.country, '') = coalesce(s.country, '') ORDER BY p.id DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.error("cannot read the history"))
    }

    /// The last `limit` complete scans of the same country as `id`, up to and including it,
    /// oldest first: (id, started_at, index, failing findings per severity name), for the trend.
    pub fn trend(&self, id: i64, limit: usize) -> anyhow::Result<Vec<TrendRow>> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT p.id, p.started_at, p.index_value FROM scans p, scans s
                 WHERE s.id = ?1 AND p.id <= s.id AND p.status = 'complete'
                   AND coalesce(p.country, '') = coalesce(s.country, '') ORDER BY p.id DESC LIMIT ?2",
            )
            .map_err(self.error("cannot read the history"))?;
        let rows = statement
            .query_map(params![id, limit as i64], |r| {
                Ok(TrendRow { id: r.get(0)?, started_at: r.get(1)?, index: r.get(2)?, failing: Vec::new() })
            })
            .map_err(self.error("cannot read the history"))?;
        let mut trend = rows.collect::<Result<Vec<_>, _>>().map_err(self.error("cannot read the history"))?;
        trend.reverse();
        let mut counts = self
            .conn
            .prepare("SELECT severity, count(*) FROM findings WHERE scan_id = ?1 AND status = 'fail' GROUP BY severity")
            .map_err(self.error("cannot read the findings"))?;
        for row in &mut trend {
            row.failing = counts
                .query_map([row.id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(self.error("cannot read the findings"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.error("cannot read the findings"))?;
        }
        Ok(trend)
    }

    /// Retention: keep the newest `keep` scans and/or drop those started more than `older_than_days`
    /// ago. Returns how many were deleted.
    pub fn prune(&mut self, keep: Option<usize>, older_than_days: Option<u32>) -> anyhow::Result<usize> {
        let path = self.path.display().to_string();
        let fail = |e: rusqlite::Error| anyhow::anyhow!("store {path}: cannot prune: {e}");
        let tx = self.conn.transaction().map_err(fail)?;
        let mut deleted = 0;
        if let Some(keep) = keep {
            deleted += tx
                .execute(
                    "DELETE FROM scans WHERE id NOT IN (SELECT id FROM scans ORDER BY id DESC LIMIT ?1)",
                    [keep as i64],
                )
                .map_err(fail)?;
        }
        if let Some(days) = older_than_days {
            let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(days.into());
            let cutoff = cutoff.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            deleted += tx.execute("DELETE FROM scans WHERE started_at < ?1", [cutoff]).map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        Ok(deleted)
    }

    /// Import a scan document (`postura scan --json`, any earlier version this one reads) as a
    /// complete scan. Returns its id.
    pub fn import(&mut self, report: &ScanReport, source: &Path) -> anyhow::Result<i64> {
        let args = vec![format!("imported from {}", source.display())];
        let country = report.country.as_ref().map(|c| c.code.clone());
        let id = self.begin_scan(&args, Path::new("."), country.as_deref())?;
        self.conn
            .execute("UPDATE scans SET started_at = ?2 WHERE id = ?1", params![id, report.started_at])
            .map_err(self.error("cannot import"))?;
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
