//! A real PostgreSQL server for a test: Debian's `postgresql` package (scripts/install-test-deps),
//! a new cluster made by `initdb` in a temporary directory, run as the unprivileged `postgres`
//! user (PostgreSQL refuses to run as root) on a fresh 127.a.b.c address and port, with trust
//! authentication on loopback only. `stop`/`start` restart it on the same address and data (for
//! the "database restarts mid-scan" tests); Drop kills it and removes the cluster.
//!
//! Facts found here: `initdb` with `--no-sync` takes ≈1–3 s on the shared 2-core machine;
//! `fsync=off` is safe for a throw-away cluster and makes commits cheap; PostgreSQL 15 writes
//! its Unix socket to `-k DIR`, which must be writable by `postgres`, so it goes in the cluster's
//! own directory.

use std::net::{SocketAddr, SocketAddrV4};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::ServerProcess;

/// Where Debian puts the server programs (one directory per major version).
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("postgres").is_file()).collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("harness: no /usr/lib/postgresql/*/bin/postgres (run scripts/install-test-deps)"))
}

/// The uid and gid of the `postgres` user the package creates.
fn postgres_user() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "postgres"]).output().expect("harness: run id");
        assert!(out.status.success(), "harness: no postgres user (run scripts/install-test-deps)");
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("harness: id output")
    };
    (id("-u"), id("-g"))
}

pub struct PgServer {
    process: Option<ServerProcess>,
    data: PathBuf,
    /// Holds the cluster; removed on drop.
    cluster: tempfile::TempDir,
    endpoint: SocketAddrV4,
    user: (u32, u32),
    /// The network namespace it runs in (`ip netns`), for tests whose scanner runs in one.
    netns: Option<String>,
}

impl PgServer {
    /// A new cluster, started; the database `postura` is created in it.
    pub fn start() -> PgServer {
        PgServer::start_in(None)
    }

    /// The same, inside the network namespace `netns` (made by `common::dns::Netns`): only
    /// processes in that namespace reach it.
    pub fn start_in(netns: Option<&str>) -> PgServer {
        let user = postgres_user();
        let cluster = tempfile::Builder::new().prefix("postura-pg-").tempdir().expect("harness: temp dir");
        std::os::unix::fs::chown(cluster.path(), Some(user.0), Some(user.1)).expect("harness: chown the cluster dir");
        let data = cluster.path().join("data");
        let out = Command::new(bin_dir().join("initdb"))
            .args(["--no-sync", "--auth=trust", "--encoding=UTF8", "--locale=C", "--username=postgres", "-D"])
            .arg(&data)
            .uid(user.0)
            .gid(user.1)
            .current_dir(cluster.path())
            .output()
            .expect("harness: run initdb");
        assert!(out.status.success(), "harness: initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let endpoint = super::net::alloc_endpoint();
        let netns = netns.map(str::to_string);
        let mut server = PgServer { process: None, data, cluster, endpoint, user, netns };
        server.start_again();
        server.psql("postgres", "CREATE DATABASE postura");
        server
    }

    /// `postgres://postgres@ADDR:PORT/postura`
    pub fn url(&self) -> String {
        format!("postgres://postgres@{}:{}/postura", self.endpoint.ip(), self.endpoint.port())
    }

    pub fn endpoint(&self) -> SocketAddr {
        SocketAddr::V4(self.endpoint)
    }

    /// Start the server on its data (after `stop`, or the first time).
    pub fn start_again(&mut self) {
        assert!(self.process.is_none(), "harness: PostgreSQL already running");
        let log_dir = tempfile::tempdir().expect("harness: temp dir");
        std::os::unix::fs::chown(log_dir.path(), Some(self.user.0), Some(self.user.1)).expect("harness: chown");
        let mut cmd = self.command(&bin_dir().join("postgres"), true);
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-c", &format!("listen_addresses={}", self.endpoint.ip())])
            .args(["-p", &self.endpoint.port().to_string()])
            .args(["-c", &format!("unix_socket_directories={}", self.cluster.path().display())])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=300", "-c", "log_min_messages=warning"])
            .current_dir(self.cluster.path());
        let mut process = ServerProcess::spawn("postgres", cmd, log_dir);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = process.exited() {
                panic!("harness: PostgreSQL exited with {status}\n{}", process.diagnostics());
            }
            let ready = self
                .command(&bin_dir().join("pg_isready"), false)
                .args([
                    "-h",
                    &self.endpoint.ip().to_string(),
                    "-p",
                    &self.endpoint.port().to_string(),
                    "-U",
                    "postgres",
                ])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "harness: PostgreSQL not ready\n{}", process.diagnostics());
            std::thread::sleep(Duration::from_millis(100));
        }
        self.process = Some(process);
    }

    /// Stop the server as an administrator's restart does (fast shutdown: sessions are ended,
    /// committed data kept).
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            // SIGINT to the postmaster is PostgreSQL's "fast" shutdown.
            let _ = Command::new("kill").args(["-INT", &process.pid().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while process.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            process.stop();
        }
    }

    /// Run SQL with `psql` as the superuser; returns the unaligned, tuples-only output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.try_psql(database, sql).unwrap_or_else(|why| panic!("harness: psql {sql}: {why}"))
    }

    pub fn try_psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = self
            .command(&bin_dir().join("psql"), false)
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres"])
            .args(["-h", &self.endpoint.ip().to_string(), "-p", &self.endpoint.port().to_string(), "-d", database])
            .args(["-c", sql])
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `program` in the server's namespace; as the `postgres` user when `as_postgres`.
    fn command(&self, program: &Path, as_postgres: bool) -> Command {
        let (uid, gid) = self.user;
        match &self.netns {
            None => {
                let mut command = Command::new(program);
                if as_postgres {
                    command.uid(uid).gid(gid);
                }
                command
            }
            // `ip netns exec` needs root; setpriv then drops to `postgres` and execs (no fork).
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]);
                if as_postgres {
                    command.args(["setpriv", &format!("--reuid={uid}"), &format!("--regid={gid}"), "--clear-groups"]);
                }
                command.arg(program);
                command
            }
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }
}

/// The store a test runs against: an SQLite file or a database on a real PostgreSQL server, so
/// that one test body runs on both backends.
pub struct TestStores {
    pub dir: tempfile::TempDir,
    pub server: Option<PgServer>,
}

impl TestStores {
    pub fn sqlite() -> TestStores {
        TestStores { dir: tempfile::tempdir().expect("harness: temp dir"), server: None }
    }

    pub fn postgres() -> TestStores {
        TestStores::postgres_in(None)
    }

    /// PostgreSQL inside a network namespace (for tests whose scanner runs in one).
    pub fn postgres_in(netns: Option<&str>) -> TestStores {
        TestStores { dir: tempfile::tempdir().expect("harness: temp dir"), server: Some(PgServer::start_in(netns)) }
    }

    /// Items stored so far in the store `db` (0 while it is being created).
    pub fn count_items(&self, db: &str) -> i64 {
        match &self.server {
            None => rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| c.query_row("SELECT count(*) FROM items", [], |r| r.get(0)))
                .unwrap_or(0),
            Some(server) => {
                let database = db.rsplit('/').next().unwrap_or("postura");
                server
                    .try_psql(database, "SELECT count(*) FROM postura.items")
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            }
        }
    }

    /// A new, empty store named `name`: a file in the test's directory, or a new database.
    pub fn db(&self, name: &str) -> String {
        match &self.server {
            None => self.dir.path().join(format!("{name}.db")).display().to_string(),
            Some(server) => {
                if name != "postura" {
                    server.psql("postgres", &format!("CREATE DATABASE {name}"));
                }
                server.url().replace("/postura", &format!("/{name}"))
            }
        }
    }
}
