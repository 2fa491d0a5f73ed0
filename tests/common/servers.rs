//! Real TLS servers: `openssl s_server`, nginx, `gnutls-serv`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::process::Command;

use super::net;
use super::pki::{Leaf, Pki, TEST_HOST};
use super::process::{find_program, ServerProcess};

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().expect("harness: create server tempdir")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("harness: UTF-8 path")
}

/// Mozilla "intermediate" server-side TLS settings for nginx 1.22 / OpenSSL 3 (guideline 5.7),
/// as `server {}` directives. Pair with `ssl_dhparam` (see [`Nginx::mozilla_intermediate`]).
pub const MOZILLA_INTERMEDIATE: &str = "\
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off;
    ssl_session_timeout 1d;
    ssl_session_cache shared:MozSSL:10m;
    ssl_session_tickets off;
";

// ---------------------------------------------------------------------------------------------
// openssl s_server

/// `openssl s_server` on one 127/8 address. Dropping it kills the server.
pub struct OpenSslServer {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub process: ServerProcess,
}

impl OpenSslServer {
    /// Starts `openssl s_server -accept ADDR:PORT` with the shared RSA leaf
    /// (`-cert/-key/-cert_chain`, unless `args` has its own `-cert`) and `-www` (unless `args`
    /// has `-www`, `-WWW`, `-HTTP` or `-rev`), followed by `args`, e.g.
    /// `["-cipher", "ALL:COMPLEMENTOFALL:@SECLEVEL=0", "-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2"]`.
    /// Note: s_server refuses a version flag (`-tls1`) together with `-no_<prot>`.
    pub fn start(addr: Ipv4Addr, port: u16, args: &[&str]) -> OpenSslServer {
        Self::start_with(addr, port, &Pki::shared().rsa, args)
    }

    /// As [`OpenSslServer::start`] with a chosen leaf.
    pub fn start_with(addr: Ipv4Addr, port: u16, leaf: &Leaf, args: &[&str]) -> OpenSslServer {
        let dir = tempdir("postura-s_server-");
        let mut cmd = Command::new("openssl");
        cmd.arg("s_server").arg("-accept").arg(format!("{addr}:{port}"));
        if !args.contains(&"-cert") {
            cmd.args(["-cert", p(&leaf.cert), "-key", p(&leaf.key)]);
            cmd.args(["-cert_chain", p(&Pki::shared().intermediate_cert)]);
        }
        if !args.iter().any(|a| matches!(*a, "-www" | "-WWW" | "-HTTP" | "-rev")) {
            cmd.arg("-www");
        }
        cmd.args(args);
        cmd.current_dir(dir.path());
        let mut process = ServerProcess::spawn("openssl s_server", cmd, dir);
        process.wait_ready(SocketAddr::from((addr, port)));
        OpenSslServer { addr, port, process }
    }

    /// As [`OpenSslServer::start`] on a freshly allocated address.
    pub fn start_auto(args: &[&str]) -> OpenSslServer {
        let ep = net::alloc_endpoint();
        Self::start(*ep.ip(), ep.port(), args)
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.addr, self.port))
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

// ---------------------------------------------------------------------------------------------
// nginx

/// nginx (single process: `daemon off; master_process off;`) with everything under a temp
/// prefix directory. Dropping it kills nginx and removes the directory.
pub struct Nginx {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub process: ServerProcess,
    /// The generated nginx.conf, for failure messages.
    pub config: String,
}

impl Nginx {
    /// Starts nginx with one `server {}` listening on `ADDR:PORT ssl` (unless the directives
    /// have their own `listen`), `server_name postura.test`, the shared RSA leaf chain/key
    /// (unless the directives have `ssl_certificate`), a `location / { return 200 ...; }`
    /// (unless they have a `location`), and `server_block_directives` inside the server block.
    pub fn start(addr: Ipv4Addr, port: u16, server_block_directives: &str) -> Nginx {
        let dir = tempdir("postura-nginx-");
        let d = dir.path().to_str().expect("harness: UTF-8 path").to_string();
        for sub in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi", "html"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("harness: nginx dirs");
        }
        let pki = Pki::shared();
        let has = |word: &str| server_block_directives.lines().any(|l| l.trim_start().starts_with(word));
        let mut server = String::new();
        if !has("listen ") {
            server.push_str(&format!("        listen {addr}:{port} ssl;\n"));
        }
        server.push_str(&format!("        server_name {TEST_HOST};\n"));
        if !has("ssl_certificate ") {
            server.push_str(&format!(
                "        ssl_certificate {};\n        ssl_certificate_key {};\n",
                p(&pki.rsa.chain),
                p(&pki.rsa.key)
            ));
        }
        if !has("location ") {
            server.push_str("        location / { return 200 \"postura test nginx\\n\"; }\n");
        }
        for line in server_block_directives.lines() {
            server.push_str("        ");
            server.push_str(line.trim());
            server.push('\n');
        }
        let config = format!(
            "daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             \x20   access_log {d}/access.log;\n\
             \x20   client_body_temp_path {d}/client_body;\n\
             \x20   proxy_temp_path {d}/proxy;\n\
             \x20   fastcgi_temp_path {d}/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/uwsgi;\n\
             \x20   scgi_temp_path {d}/scgi;\n\
             \x20   default_type text/plain;\n\
             \x20   server {{\n{server}    }}\n\
             }}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, &config).expect("harness: write nginx.conf");
        let mut cmd = Command::new(find_program("nginx"));
        cmd.arg("-p")
            .arg(format!("{d}/"))
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(format!("{d}/error.log"))
            .current_dir(dir.path());
        let mut process = ServerProcess::spawn("nginx", cmd, dir);
        process.add_log(conf_path);
        process.add_log(format!("{d}/error.log").into());
        process.wait_ready(SocketAddr::from((addr, port)));
        Nginx { addr, port, process, config }
    }

    /// As [`Nginx::start`] on a freshly allocated address.
    pub fn start_auto(server_block_directives: &str) -> Nginx {
        let ep = net::alloc_endpoint();
        Self::start(*ep.ip(), ep.port(), server_block_directives)
    }

    /// nginx with [`MOZILLA_INTERMEDIATE`] and `ssl_dhparam` = ffdhe2048, RSA leaf.
    pub fn mozilla_intermediate() -> Nginx {
        let directives = format!("{MOZILLA_INTERMEDIATE}\nssl_dhparam {};\n", p(Pki::shared().ffdhe2048()));
        Self::start_auto(&directives)
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.addr, self.port))
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

// ---------------------------------------------------------------------------------------------
// gnutls-serv

/// `gnutls-serv` (HTTP mode). It binds **every** address (0.0.0.0 and ::) on its port — there
/// is no bind-address option — so it gets a unique port from [`net::alloc_wildcard_port`]
/// (4500–4999, disjoint from the per-address servers' ports); connect to 127.0.0.1:PORT.
pub struct GnutlsServer {
    pub port: u16,
    pub process: ServerProcess,
}

impl GnutlsServer {
    /// `gnutls-serv --x509certfile CHAIN --x509keyfile KEY -p PORT --priority PRIORITY` with the
    /// shared RSA leaf.
    pub fn start(port: u16, priority: &str) -> GnutlsServer {
        Self::start_with(port, priority, &Pki::shared().rsa, &[])
    }

    /// As [`GnutlsServer::start`] with a chosen leaf and extra arguments (e.g. `--dhparams F`).
    pub fn start_with(port: u16, priority: &str, leaf: &Leaf, extra: &[&str]) -> GnutlsServer {
        let dir = tempdir("postura-gnutls-");
        let mut cmd = Command::new("gnutls-serv");
        cmd.args(["--x509certfile", p(&leaf.chain), "--x509keyfile", p(&leaf.key)])
            .arg("-p")
            .arg(port.to_string())
            .arg(format!("--priority={priority}"))
            .args(extra)
            .current_dir(dir.path());
        let mut process = ServerProcess::spawn("gnutls-serv", cmd, dir);
        process.wait_ready(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        GnutlsServer { port, process }
    }

    /// As [`GnutlsServer::start`] on a freshly allocated port.
    pub fn start_auto(priority: &str) -> GnutlsServer {
        Self::start(net::alloc_wildcard_port(), priority)
    }

    /// 127.0.0.1 — gnutls-serv listens on all addresses, tests use loopback only.
    pub fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::LOCALHOST
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
