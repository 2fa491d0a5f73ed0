//! A real OpenSSL 1.1.1w `s_server` that serves what Debian's OpenSSL 3 cannot: SSLv3, RC4,
//! 3DES, TLS compression (CRIME), client-initiated renegotiation on request. Built once from the
//! crates.io package `openssl-src` 111.28.2+1.1.1w (its full OpenSSL source) and cached under
//! `~/.cache/postura/openssl-1.1.1w-weak` (shared by every checkout on the machine).
//!
//! Build: `./Configure linux-x86_64 no-shared no-tests enable-ssl3 enable-ssl3-method
//! enable-weak-ssl-ciphers zlib`, `make -j2`, `make install_sw` — about 80 s on an idle 2-core
//! machine, several minutes while other builds run. Concurrent test processes take a lock
//! directory; the one holding it builds, the others wait for the installed binary. The source
//! comes from the cargo registry (`cargo fetch` in a scratch crate if it is not there yet), so
//! only crates.io is needed. Needs `make`, `perl`, a C compiler and `zlib1g-dev`
//! (`scripts/install-test-deps`).
//!
//! Facts seen here: `s_server -min_protocol SSLv3 -cipher 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'`
//! serves SSLv3 to TLS 1.2 with RC4, 3DES, NULL and anonymous suites; 1.1.1 has no heartbeat
//! and no EXPORT or SSLv2 suites. Runs with `OPENSSL_CONF=/dev/null` so Debian's configuration
//! (which raises the security level) is not read.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::net::alloc_endpoint;
use super::pki::Pki;
use super::process::ServerProcess;

const PACKAGE: &str = "openssl-src";
const VERSION: &str = "111.28.2+1.1.1w";
const CONFIGURE: &[&str] =
    &["linux-x86_64", "no-shared", "no-tests", "enable-ssl3", "enable-ssl3-method", "enable-weak-ssl-ciphers", "zlib"];
/// The longest a process waits for another one's build.
const BUILD_WAIT: Duration = Duration::from_secs(20 * 60);

fn cache_root() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("postura")
}

/// The `openssl` 1.1.1w binary, built on first use (see the module doc).
pub fn openssl_111() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let install = cache_root().join("openssl-1.1.1w-weak");
        let binary = install.join("bin/openssl");
        if binary.is_file() {
            return binary;
        }
        std::fs::create_dir_all(cache_root()).expect("harness: create the cache dir");
        let lock = cache_root().join("openssl-1.1.1w-weak.lock");
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

/// The OpenSSL source tree inside the cargo registry, fetched if absent.
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
    let scratch = cache_root().join("fetch-openssl-src-111");
    std::fs::create_dir_all(scratch.join("src")).expect("harness: scratch crate");
    std::fs::write(
        scratch.join("Cargo.toml"),
        format!("[package]\nname = \"fetch-openssl-src\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{PACKAGE} = \"={}\"\n", VERSION.split('+').next().unwrap_or(VERSION)),
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
    eprintln!("harness: built OpenSSL 1.1.1w in {:?}", started.elapsed());
}

/// `openssl s_server` 1.1.1w on its own 127/8 address with the shared RSA leaf and chain,
/// `-www` unless `args` has `-rev`/`-www`, then `args`.
pub struct LegacyOpenSslServer {
    pub addr: SocketAddr,
    pub process: ServerProcess,
}

impl LegacyOpenSslServer {
    pub fn start(args: &[&str]) -> LegacyOpenSslServer {
        let binary = openssl_111();
        let endpoint = alloc_endpoint();
        let addr = SocketAddr::V4(endpoint);
        let dir = tempfile::Builder::new().prefix("postura-s_server111-").tempdir().expect("harness: server tempdir");
        let rsa = &Pki::shared().rsa;
        let mut command = Command::new(binary);
        command
            .env("OPENSSL_CONF", "/dev/null")
            .arg("s_server")
            .arg("-accept")
            .arg(format!("{}:{}", endpoint.ip(), endpoint.port()))
            .arg("-cert")
            .arg(&rsa.cert)
            .arg("-key")
            .arg(&rsa.key)
            .arg("-cert_chain")
            .arg(&Pki::shared().intermediate_cert);
        if !args.iter().any(|a| matches!(*a, "-www" | "-WWW" | "-HTTP" | "-rev")) {
            command.arg("-www");
        }
        command.args(args).current_dir(dir.path());
        let mut process = ServerProcess::spawn("openssl 1.1.1w s_server", command, dir);
        process.wait_ready(addr);
        LegacyOpenSslServer { addr, process }
    }

    pub fn ip(&self) -> Ipv4Addr {
        match self.addr {
            SocketAddr::V4(v4) => *v4.ip(),
            SocketAddr::V6(_) => unreachable!("harness: 127/8 only"),
        }
    }
}
