//! A real OpenSSL 3.5.4 (`openssl` binary): its `s_server` offers the hybrid post-quantum
//! groups (X25519MLKEM768 first, by default) that Debian's OpenSSL 3.0 does not know, and its
//! `s_client` can send any client's offer including hybrid key shares (`-groups
//! '*X25519MLKEM768:*x25519:…'`, a `*` per key share).
//!
//! Built once from the crates.io package `openssl-src` 300.5.4+3.5.4 with `./Configure
//! linux-x86_64 no-shared no-tests no-module no-legacy` (the package trims the legacy provider),
//! `make -j2`, `make install_sw` — about 6 minutes on a busy 2-core machine — and cached under
//! `~/.cache/postura/openssl-3.5.4`, in the way [`super::legacy_openssl`] caches 1.1.1w (a lock
//! directory while one process builds; the source from the cargo registry, `cargo fetch` in a
//! scratch crate when absent). Run with `OPENSSL_CONF=/dev/null`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::net::alloc_endpoint;
use super::pki::{Leaf, Pki};
use super::process::ServerProcess;

const PACKAGE: &str = "openssl-src";
const VERSION: &str = "300.5.4+3.5.4";
const INSTALL: &str = "openssl-3.5.4";
const CONFIGURE: &[&str] = &["linux-x86_64", "no-shared", "no-tests", "no-module", "no-legacy"];
const BUILD_WAIT: Duration = Duration::from_secs(30 * 60);

fn cache_root() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("postura")
}

/// The `openssl` 3.5.4 binary, built on first use (see the module doc).
pub fn openssl_35() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let install = cache_root().join(INSTALL);
        let binary = install.join("bin/openssl");
        if binary.is_file() {
            return binary;
        }
        std::fs::create_dir_all(cache_root()).expect("harness: create the cache dir");
        let lock = cache_root().join(format!("{INSTALL}.lock"));
        let started = Instant::now();
        loop {
            if binary.is_file() {
                return binary;
            }
            match std::fs::create_dir(&lock) {
                Ok(()) => break,
                Err(_) if started.elapsed() < BUILD_WAIT => std::thread::sleep(Duration::from_secs(2)),
                Err(_) => panic!("harness: {} held for {BUILD_WAIT:?}; remove it if stale", lock.display()),
            }
        }
        let result = std::panic::catch_unwind(|| build(&install));
        let _ = std::fs::remove_dir(&lock);
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
        assert!(binary.is_file(), "harness: the build installed no {}", binary.display());
        binary
    })
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("harness: {what}: {e}"));
    assert!(
        output.status.success(),
        "harness: {what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout).lines().rev().take(30).collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn source_dir() -> PathBuf {
    let find = || -> Option<PathBuf> {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        for registry in std::fs::read_dir(home.join("registry/src")).ok()?.flatten() {
            let candidate = registry.path().join(format!("{PACKAGE}-{VERSION}/openssl"));
            if candidate.join("Configure").is_file() {
                return Some(candidate);
            }
        }
        None
    };
    if let Some(dir) = find() {
        return dir;
    }
    let scratch = cache_root().join("fetch-openssl-src-350");
    std::fs::create_dir_all(scratch.join("src")).expect("harness: scratch crate");
    let requirement = VERSION.split('+').next().unwrap_or(VERSION);
    std::fs::write(
        scratch.join("Cargo.toml"),
        format!("[package]\nname = \"fetch-openssl-src\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{PACKAGE} = \"={requirement}\"\n"),
    )
    .expect("harness: scratch Cargo.toml");
    std::fs::write(scratch.join("src/lib.rs"), "").expect("harness: scratch lib.rs");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).arg("fetch").current_dir(&scratch), "cargo fetch openssl-src");
    find().expect("harness: openssl-src fetched but its source was not found in the registry")
}

fn build(install: &Path) {
    let source = source_dir();
    let work = tempfile::Builder::new().prefix("postura-openssl-build-").tempdir().expect("harness: build dir");
    let tree = work.path().join("openssl");
    run(Command::new("cp").arg("-a").arg(&source).arg(&tree), "copy the OpenSSL source");
    let staging = install.with_extension("partial");
    let _ = std::fs::remove_dir_all(&staging);
    let started = Instant::now();
    run(
        Command::new("perl")
            .arg("./Configure")
            .args(CONFIGURE)
            .arg(format!("--prefix={}", staging.display()))
            .arg(format!("--openssldir={}", staging.join("ssl").display()))
            .current_dir(&tree),
        "OpenSSL Configure",
    );
    run(Command::new("make").arg("-j2").current_dir(&tree), "make");
    run(Command::new("make").arg("install_sw").current_dir(&tree), "make install_sw");
    std::fs::rename(&staging, install).expect("harness: install the OpenSSL build");
    eprintln!("harness: built OpenSSL 3.5.4 in {:?}", started.elapsed());
}

/// `openssl s_server` 3.5.4 on its own 127/8 address, with the shared RSA leaf and chain (or
/// `leaf`), `-www`, then `args`.
pub struct OpenSsl35Server {
    pub addr: SocketAddr,
    pub process: ServerProcess,
}

impl OpenSsl35Server {
    pub fn start(args: &[&str]) -> OpenSsl35Server {
        Self::start_with(&Pki::shared().rsa, args)
    }

    pub fn start_with(leaf: &Leaf, args: &[&str]) -> OpenSsl35Server {
        let binary = openssl_35();
        let endpoint = alloc_endpoint();
        let addr = SocketAddr::V4(endpoint);
        let dir = tempfile::Builder::new().prefix("postura-s_server35-").tempdir().expect("harness: server tempdir");
        let mut command = Command::new(binary);
        command
            .env("OPENSSL_CONF", "/dev/null")
            .arg("s_server")
            .arg("-accept")
            .arg(format!("{}:{}", endpoint.ip(), endpoint.port()))
            .arg("-cert")
            .arg(&leaf.cert)
            .arg("-key")
            .arg(&leaf.key)
            .arg("-cert_chain")
            .arg(&Pki::shared().intermediate_cert)
            .arg("-www")
            .args(args)
            .current_dir(dir.path());
        let mut process = ServerProcess::spawn("openssl 3.5.4 s_server", command, dir);
        process.wait_ready(addr);
        OpenSsl35Server { addr, process }
    }

    pub fn ip(&self) -> Ipv4Addr {
        match self.addr {
            SocketAddr::V4(v4) => *v4.ip(),
            SocketAddr::V6(_) => unreachable!("harness: 127/8 only"),
        }
    }
}
