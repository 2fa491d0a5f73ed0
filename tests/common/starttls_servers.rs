//! Real servers for the STARTTLS protocols beyond mail (tests/starttls_more.rs), each from
//! Debian's packages, started from its own temporary directory on its own 127/8 address and
//! the protocol's usual port, in the foreground, as the harness's other servers. With
//! `tls: true` each serves the shared test PKI's RSA leaf and chain; with `tls: false` it has
//! no certificate, so it refuses the upgrade in its own way.
//!
//! Facts found here (Debian 12, as root, no network):
//! - **vsftpd 3.0.3**: `listen=YES` + `background=NO` runs in the foreground; it refuses to
//!   start with both local and anonymous logins off ("500 OOPS"), so `local_enable=YES` (no
//!   one logs in). `seccomp_sandbox=NO` because the sandbox kills it under gVisor. Without
//!   `ssl_enable` it answers `AUTH TLS` with `530 Please login with USER and PASS.`
//! - **Prosody 0.12**: runs as root only with `run_as_root = true`; `-F` keeps it in the
//!   foreground. c2s (5222) and s2s (5269) both offer STARTTLS with a certificate in the
//!   global `ssl` setting. Without a certificate it still lists `starttls` (`required`) and then
//!   fails every handshake, so the refusing server is one without `mod_tls`.
//! - **slapd 2.5** (linked with GnuTLS): `slapd -d 0 -h ldap://ADDR:PORT/ -f slapd.conf`
//!   stays in the foreground; no database is needed to answer StartTLS. Without
//!   `TLSCertificateFile` the operation is unknown: resultCode 2 "unsupported extended operation".
//! - **PostgreSQL 15**: root cannot run it, so `initdb` (≈2.5 s) and `postgres` run as
//!   `nobody` (`runuser`), in a directory it owns, with the certificate and a 0600 key copied
//!   there (postgres refuses a key others can read). `ssl=off` answers the SSLRequest with `N`.
//! - **MariaDB 10.11**: `mariadbd --skip-grant-tables` starts on an empty data directory in
//!   about a second (no `mariadb-install-db`); `--user=root` lets it run as root. Without
//!   `--ssl-cert` its greeting lacks CLIENT_SSL.
//! - **INN 2.7 nnrpd** (the reader daemon, which is what speaks STARTTLS; innd does not):
//!   `nnrpd -D -f -b ADDR -p PORT` with `INNCONF` pointing at a temporary inn.conf. It answers
//!   `400 NNTP server unavailable` until the tradindexed overview exists: `makehistory -O -x`
//!   creates it (and needs `mta` set). It refuses readers with `400 load at 19.25, try later`
//!   when the load average passes 16 (seen here): `nnrpdloadlimit: 0`. It runs as `news`, so the directory, certificate and key belong to news.
//!   Without `tlscertfile` STARTTLS is answered `580 Error initializing TLS`. Debian's inn2
//!   package fails to configure when the host name has no domain: install-test-deps sets
//!   `domain` in /etc/news/inn.conf and configures it again.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::net::{alloc_addr, wait_for_tcp};
use super::pki::{Pki, TEST_HOST};
use super::process::{find_program, run_with_timeout, ServerProcess};

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().expect("harness: create server tempdir")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("harness: UTF-8 path")
}

/// How long a server may take to listen (a database creating its files on a loaded machine).
const START_LIMIT: Duration = Duration::from_secs(60);

fn wait_listening(process: &mut ServerProcess, addr: SocketAddr) {
    let result = wait_for_tcp(addr, START_LIMIT, || match process.exited() {
        Some(status) => Err(format!("exited with {status} before listening")),
        None => Ok(()),
    });
    if let Err(why) = result {
        panic!("harness: server on {addr} not ready: {why}\n{}", process.diagnostics());
    }
}

/// Copy the shared RSA chain and key into `dir` (for servers that run as another user).
fn copy_leaf(dir: &Path) -> (PathBuf, PathBuf) {
    let rsa = &Pki::shared().rsa;
    let (chain, key) = (dir.join("chain.pem"), dir.join("key.pem"));
    std::fs::copy(&rsa.chain, &chain).expect("harness: copy chain");
    std::fs::copy(&rsa.key, &key).expect("harness: copy key");
    set_mode(&key, 0o600);
    (chain, key)
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("harness: chmod");
}

fn chown_all(path: &Path, owner: &str) {
    let out = Command::new("chown").arg("-R").arg(owner).arg(path).output().expect("harness: run chown");
    assert!(out.status.success(), "harness: chown {owner}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A running server: where it listens, and its process (dropping it kills the server).
pub struct RealServer {
    pub addr: SocketAddr,
    pub process: ServerProcess,
}

impl RealServer {
    pub fn ip(&self) -> Ipv4Addr {
        match self.addr {
            SocketAddr::V4(v4) => *v4.ip(),
            SocketAddr::V6(_) => unreachable!("harness: servers listen on 127/8"),
        }
    }
}

/// vsftpd on port 21: `AUTH TLS` with `ssl_enable=YES`.
pub fn vsftpd(tls: bool) -> RealServer {
    let addr = SocketAddr::from((alloc_addr(), 21));
    let dir = tempdir("postura-vsftpd-");
    let root = dir.path().to_path_buf();
    let empty = root.join("empty");
    std::fs::create_dir(&empty).expect("harness: vsftpd chroot dir");
    set_mode(&empty, 0o755);
    let rsa = &Pki::shared().rsa;
    let ssl = if tls {
        format!("ssl_enable=YES\nrsa_cert_file={}\nrsa_private_key_file={}\n", p(&rsa.chain), p(&rsa.key))
    } else {
        "ssl_enable=NO\n".to_string()
    };
    let config = format!(
        "listen=YES\nlisten_address={}\nlisten_port={}\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\n\
         secure_chroot_dir={}\nseccomp_sandbox=NO\nxferlog_enable=NO\nvsftpd_log_file={}/vsftpd.log\n{ssl}",
        addr.ip(),
        addr.port(),
        p(&empty),
        p(&root)
    );
    let config_path = root.join("vsftpd.conf");
    std::fs::write(&config_path, config).expect("harness: write vsftpd.conf");
    let mut command = Command::new(find_program("vsftpd"));
    command.arg(&config_path);
    let mut process = ServerProcess::spawn("vsftpd", command, dir);
    wait_listening(&mut process, addr);
    RealServer { addr, process }
}

/// Prosody, c2s on 5222 and s2s on 5269 of one address, serving the domain [`TEST_HOST`].
pub struct Prosody {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub process: ServerProcess,
}

pub fn prosody(tls: bool) -> Prosody {
    let ip = alloc_addr();
    let (client, server) = (SocketAddr::from((ip, 5222)), SocketAddr::from((ip, 5269)));
    let dir = tempdir("postura-prosody-");
    let root = dir.path().to_path_buf();
    std::fs::create_dir(root.join("data")).expect("harness: prosody data dir");
    let rsa = &Pki::shared().rsa;
    let (tls_module, ssl) = if tls {
        ("\"tls\", ", format!("ssl = {{ certificate = \"{}\", key = \"{}\" }}\n", p(&rsa.chain), p(&rsa.key)))
    } else {
        // Prosody closes a stream it cannot encrypt unless told encryption is optional.
        ("", "c2s_require_encryption = false\ns2s_require_encryption = false\n".to_string())
    };
    let root_text = p(&root);
    let config = format!(
        "run_as_root = true
pidfile = \"{root_text}/prosody.pid\"
data_path = \"{root_text}/data\"
certificates = \"{root_text}\"
log = {{ info = \"{root_text}/prosody.log\" }}
interfaces = {{ \"{ip}\" }}
c2s_ports = {{ 5222 }}
s2s_ports = {{ 5269 }}
c2s_direct_tls_ports = {{ }}
s2s_direct_tls_ports = {{ }}
modules_enabled = {{ {tls_module}\"saslauth\", \"dialback\", \"disco\" }}
{ssl}VirtualHost \"{TEST_HOST}\"
"
    );
    let config_path = root.join("prosody.cfg.lua");
    std::fs::write(&config_path, config).expect("harness: write prosody.cfg.lua");
    let mut command = Command::new(find_program("prosody"));
    command.arg("--config").arg(&config_path).arg("-F");
    let mut process = ServerProcess::spawn("prosody", command, dir);
    process.add_log(root.join("prosody.log"));
    wait_listening(&mut process, client);
    wait_listening(&mut process, server);
    Prosody { client, server, process }
}

/// slapd on port 389, answering the StartTLS extended operation.
pub fn slapd(tls: bool) -> RealServer {
    let addr = SocketAddr::from((alloc_addr(), 389));
    let dir = tempdir("postura-slapd-");
    let root = dir.path().to_path_buf();
    let rsa = &Pki::shared().rsa;
    let mut config =
        format!("include /etc/ldap/schema/core.schema\npidfile {0}/slapd.pid\nargsfile {0}/slapd.args\n", p(&root));
    if tls {
        config.push_str(&format!("TLSCertificateFile {}\nTLSCertificateKeyFile {}\n", p(&rsa.chain), p(&rsa.key)));
        // Without explicit parameters GnuTLS offers DHE only to clients that list an RFC 7919
        // group for TLS ≤ 1.2, which OpenSSL 3.0 (the oracle) never does.
        config.push_str(&format!("TLSDHParamFile {}\n", p(Pki::shared().ffdhe2048())));
    }
    let config_path = root.join("slapd.conf");
    std::fs::write(&config_path, config).expect("harness: write slapd.conf");
    let mut command = Command::new(find_program("slapd"));
    command.args(["-d", "0", "-h", &format!("ldap://{addr}/"), "-f", p(&config_path)]);
    let mut process = ServerProcess::spawn("slapd", command, dir);
    wait_listening(&mut process, addr);
    RealServer { addr, process }
}

/// The PostgreSQL server programs (`initdb`, `postgres`) of the newest installed version.
fn postgres_bin(program: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path().join("bin").join(program)).collect())
        .unwrap_or_default();
    versions.retain(|path| path.is_file());
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("harness: no {program} under /usr/lib/postgresql (run scripts/install-test-deps)"))
}

/// PostgreSQL on port 5432, run as `nobody` (root cannot run it).
pub fn postgres(tls: bool) -> RealServer {
    let addr = SocketAddr::from((alloc_addr(), 5432));
    let dir = tempdir("postura-postgres-");
    let root = dir.path().to_path_buf();
    let (chain, key) = copy_leaf(&root);
    chown_all(&root, "nobody:nogroup");
    let data = root.join("data");
    let initdb = postgres_bin("initdb");
    let out = run_with_timeout(
        "runuser",
        &["-u", "nobody", "--", p(&initdb), "-D", p(&data), "-A", "trust", "-U", "postgres", "--no-sync"],
        START_LIMIT,
    )
    .expect("harness: run initdb");
    assert!(out.status.success(), "harness: initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut command = Command::new("runuser");
    command.args(["-u", "nobody", "--"]).arg(postgres_bin("postgres")).arg("-D").arg(&data);
    for setting in [
        format!("listen_addresses={}", addr.ip()),
        format!("port={}", addr.port()),
        format!("unix_socket_directories={}", p(&root)),
        format!("ssl={}", if tls { "on" } else { "off" }),
        format!("ssl_cert_file={}", p(&chain)),
        format!("ssl_key_file={}", p(&key)),
        "fsync=off".to_string(),
    ] {
        command.arg("-c").arg(setting);
    }
    let mut process = ServerProcess::spawn("postgres", command, dir);
    wait_listening(&mut process, addr);
    RealServer { addr, process }
}

/// MariaDB on port 3306 (an empty data directory, no grant tables: nobody logs in).
pub fn mariadb(tls: bool) -> RealServer {
    let addr = SocketAddr::from((alloc_addr(), 3306));
    let dir = tempdir("postura-mariadb-");
    let root = dir.path().to_path_buf();
    let data = root.join("data");
    std::fs::create_dir(&data).expect("harness: mariadb data dir");
    let rsa = &Pki::shared().rsa;
    let mut command = Command::new(find_program("mariadbd"));
    command.args([
        "--no-defaults",
        &format!("--datadir={}", p(&data)),
        &format!("--socket={}/mysqld.sock", p(&root)),
        &format!("--pid-file={}/mysqld.pid", p(&root)),
        &format!("--bind-address={}", addr.ip()),
        &format!("--port={}", addr.port()),
        "--user=root",
        "--skip-grant-tables",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=8M",
    ]);
    if tls {
        command.arg(format!("--ssl-cert={}", p(&rsa.chain))).arg(format!("--ssl-key={}", p(&rsa.key)));
    } else {
        command.arg("--skip-ssl");
    }
    let mut process = ServerProcess::spawn("mariadbd", command, dir);
    wait_listening(&mut process, addr);
    RealServer { addr, process }
}

/// INN's nnrpd on port 119, run as `news` from a temporary INN tree.
pub fn nnrpd(tls: bool) -> RealServer {
    let addr = SocketAddr::from((alloc_addr(), 119));
    let dir = tempdir("postura-inn-");
    let root = dir.path().to_path_buf();
    set_mode(&root, 0o755);
    for sub in ["etc", "run", "log", "db", "tmp", "spool", "spool/overview", "spool/articles", "spool/incoming"] {
        std::fs::create_dir_all(root.join(sub)).expect("harness: INN directories");
    }
    let (chain, key) = copy_leaf(&root);
    let r = p(&root);
    let mut config = format!(
        "domain: postura.test
mta: \"/usr/sbin/sendmail -oi -oem %s\"
pathhost: {TEST_HOST}
pathnews: /usr/lib/news
pathetc: {r}/etc
pathrun: {r}/run
pathlog: {r}/log
pathdb: {r}/db
pathtmp: {r}/tmp
pathspool: {r}/spool
pathoverview: {r}/spool/overview
patharticles: {r}/spool/articles
pathincoming: {r}/spool/incoming
ovmethod: tradindexed
hismethod: hisv6
enableoverview: true
readerswhenstopped: true
nnrpdloadlimit: 0
port: {}
",
        addr.port()
    );
    if tls {
        config.push_str(&format!("tlscertfile: {}\ntlskeyfile: {}\n", p(&chain), p(&key)));
    }
    let inn_conf = root.join("inn.conf");
    std::fs::write(&inn_conf, config).expect("harness: write inn.conf");
    std::fs::write(
        root.join("etc/readers.conf"),
        "auth \"all\" {\n  hosts: \"*\"\n  default: \"<all>\"\n}\naccess \"all\" {\n  users: \"*\"\n  newsgroups: \"*\"\n  access: R\n}\n",
    )
    .expect("harness: write readers.conf");
    std::fs::copy("/etc/news/storage.conf", root.join("etc/storage.conf")).expect("harness: copy storage.conf");
    std::fs::write(root.join("db/active"), "").expect("harness: write active");
    std::fs::write(root.join("db/newsgroups"), "").expect("harness: write newsgroups");
    chown_all(&root, "news:news");
    // Creates the (empty) tradindexed overview without which nnrpd answers 400.
    let out = Command::new("timeout")
        .args(["60", "/usr/lib/news/bin/makehistory", "-O", "-x"])
        .env("INNCONF", &inn_conf)
        .output()
        .expect("harness: run makehistory");
    assert!(
        root.join("spool/overview/group.index").exists(),
        "harness: makehistory made no overview: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut command = Command::new("/usr/lib/news/bin/nnrpd");
    command.env("INNCONF", &inn_conf).args(["-D", "-f", "-b", &addr.ip().to_string(), "-p", &addr.port().to_string()]);
    let mut process = ServerProcess::spawn("nnrpd", command, dir);
    wait_listening(&mut process, addr);
    RealServer { addr, process }
}
