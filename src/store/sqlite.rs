//! The SQLite backend: one file (`rusqlite`, SQLite bundled), WAL mode so that reports can
//! read while a scan writes. The schema is versioned by `PRAGMA user_version` and migrated
//! forward on open; a file from a newer postura, a foreign SQLite database (another
//! `application_id`, or tables that are not ours) or a file that is not SQLite at all is refused
//! with an error naming it, and never written to.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};

use super::{Finished, ScanSummary};

/// `PRAGMA application_id` of a postura store ("PSTR"), so that another program's SQLite file is
/// recognised and left alone.
const APPLICATION_ID: i64 = 0x5053_5452;

/// The schema, one step per version: `MIGRATIONS[n]` takes a store from version n to n + 1.
const MIGRATIONS: &[&str] = &[
    "
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
",
    "
-- Version 2: facts per vantage point (distributed scans, docs/scaling.md) and the work list of
-- a distributed scan (used with PostgreSQL; kept in both backends so the versions stay one).
CREATE TABLE items_by_vantage (
    scan_id  INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    key      TEXT NOT NULL,
    -- where the item was seen from: '' for a scan without vantage points
    vantage  TEXT NOT NULL DEFAULT '',
    facts    TEXT NOT NULL,
    PRIMARY KEY (scan_id, kind, key, vantage)
);
INSERT INTO items_by_vantage (scan_id, kind, key, facts) SELECT scan_id, kind, key, facts FROM items;
DROP TABLE items;
ALTER TABLE items_by_vantage RENAME TO items;
CREATE TABLE work (
    scan_id  INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    item     TEXT NOT NULL,
    vantage  TEXT NOT NULL DEFAULT '',
    done     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (scan_id, item, vantage)
);
",
    "
-- Version 3: the occurrences of the daemon's schedules queued on a shared PostgreSQL store, one
-- row each, so that several daemons queue each occurrence once (src/daemon/queue.rs; kept in
-- both backends so the versions stay one).
CREATE TABLE daemon_runs (
    profile     TEXT NOT NULL,
    occurrence  TEXT NOT NULL,
    queued_at   TEXT NOT NULL,
    -- the scan run for it, once started (a retried job resumes it, or sees it complete)
    scan_id     BIGINT,
    done        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (profile, occurrence)
);
",
];

/// The schema version this postura writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
const _SAME_VERSIONS: () = assert!(SCHEMA_VERSION == super::postgres::SCHEMA_VERSION);

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

/// An open SQLite store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Open (or create) the store at `path`, migrating it to this version's schema.
    pub fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        let fail = |what: &str| format!("store {}: {what}", path.display());
        let conn = Connection::open(path).with_context(|| fail("cannot open"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).with_context(|| fail("cannot open"))?;
        let mut store = SqliteStore { conn, path: path.to_path_buf() };
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

    pub fn begin_scan(&self, args: &str, cwd: &str, country: Option<&str>) -> anyhow::Result<i64> {
        self.conn
            .execute(
                "INSERT INTO scans (started_at, status, country, args, cwd, tool_version) VALUES (?1, 'running', ?2, ?3, ?4, ?5)",
                params![crate::now_rfc3339(), country, args, cwd, env!("CARGO_PKG_VERSION")],
            )
            .map_err(self.error("cannot record the scan"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// (arguments JSON, directory, status)
    pub fn scan_arguments(&self, id: i64) -> anyhow::Result<Option<(String, String, String)>> {
        self.conn
            .query_row("SELECT args, cwd, status FROM scans WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(self.error("cannot read the scan"))
    }

    pub fn set_status(&self, id: i64, status: &str) -> anyhow::Result<()> {
        self.conn
            .execute("UPDATE scans SET status = ?2 WHERE id = ?1", params![id, status])
            .map_err(self.error("cannot update the scan"))?;
        Ok(())
    }

    pub fn set_started_at(&self, id: i64, started_at: &str) -> anyhow::Result<()> {
        self.conn
            .execute("UPDATE scans SET started_at = ?2 WHERE id = ?1", params![id, started_at])
            .map_err(self.error("cannot import"))?;
        Ok(())
    }

    pub fn put_item(&self, id: i64, kind: &str, key: &str, facts: &str) -> anyhow::Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO items (scan_id, kind, key, facts) VALUES (?1, ?2, ?3, ?4)",
                params![id, kind, key, facts],
            )
            .map_err(self.error(&format!("cannot store {kind} {key}")))?;
        Ok(())
    }

    /// (kind, facts) of every stored item of a scan.
    pub fn item_rows(&self, id: i64) -> anyhow::Result<Vec<(String, String)>> {
        let mut statement = self
            .conn
            .prepare("SELECT kind, facts FROM items WHERE scan_id = ?1 AND vantage = ''")
            .map_err(self.error("cannot read items"))?;
        let rows = statement
            .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.error("cannot read items"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.error("cannot read items"))
    }

    pub fn finish_scan(&mut self, id: i64, finished: &Finished) -> anyhow::Result<()> {
        let path = self.path.display().to_string();
        let fail = |e: rusqlite::Error| {
            anyhow::anyhow!("store {path}: cannot store the results of scan {id}: {:#}", explain(e))
        };
        let tx = self.conn.transaction().map_err(fail)?;
        tx.execute(
            "UPDATE scans SET status = 'complete', finished_at = ?2, report = ?3, index_value = ?4, country = coalesce(country, ?5) WHERE id = ?1",
            params![id, finished.finished_at, finished.document, finished.index, finished.country],
        )
        .map_err(fail)?;
        tx.execute("DELETE FROM findings WHERE scan_id = ?1", [id]).map_err(fail)?;
        tx.execute("DELETE FROM grades WHERE scan_id = ?1", [id]).map_err(fail)?;
        {
            let mut finding =
                tx.prepare("INSERT OR REPLACE INTO findings VALUES (?1, ?2, ?3, ?4, ?5)").map_err(fail)?;
            let mut grade = tx.prepare("INSERT OR REPLACE INTO grades VALUES (?1, ?2, ?3)").map_err(fail)?;
            for (subject, check, status, severity) in &finished.findings {
                finding.execute(params![id, subject, check, status, severity]).map_err(fail)?;
            }
            for (subject, letter) in &finished.grades {
                grade.execute(params![id, subject, letter]).map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// (document, status) of a scan.
    pub fn report(&self, id: i64) -> anyhow::Result<Option<(Option<String>, String)>> {
        self.conn
            .query_row("SELECT report, status FROM scans WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(self.error("cannot read the scan"))
    }

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

    pub fn trend(&self, id: i64, limit: usize) -> anyhow::Result<Vec<super::TrendRow>> {
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
                Ok(super::TrendRow { id: r.get(0)?, started_at: r.get(1)?, index: r.get(2)?, failing: Vec::new() })
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

    /// Keep the newest `keep` scans and/or drop those started before `cutoff` (RFC 3339).
    pub fn prune(&mut self, keep: Option<usize>, cutoff: Option<&str>) -> anyhow::Result<usize> {
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
        if let Some(cutoff) = cutoff {
            deleted += tx.execute("DELETE FROM scans WHERE started_at < ?1", [cutoff]).map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        Ok(deleted)
    }
}
