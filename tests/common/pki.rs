//! Test PKI generated at test time with the `openssl` CLI: root CA → intermediate CA → leaves.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// DNS name of the default leaves (they also carry `localhost` and IP 127.0.0.1).
pub const TEST_HOST: &str = "postura.test";

/// Key type of a leaf certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA 2048, keyUsage digitalSignature+keyEncipherment (serves RSA-kx and ECDHE/DHE-RSA).
    Rsa2048,
    /// ECDSA P-256, keyUsage digitalSignature.
    EcdsaP256,
}

/// A leaf certificate issued by the intermediate CA. All files are PEM.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub kind: KeyKind,
    /// Subject CN (the first DNS name).
    pub name: String,
    /// The leaf certificate alone.
    pub cert: PathBuf,
    /// Unencrypted PKCS#8 private key.
    pub key: PathBuf,
    /// Leaf followed by the intermediate: what a server sends (nginx `ssl_certificate`,
    /// gnutls-serv `--x509certfile`).
    pub chain: PathBuf,
}

/// The shared test PKI. Get it with [`Pki::shared`]; it lives (in a temporary directory) until
/// the test process exits, when an `atexit` hook removes the directory.
pub struct Pki {
    dir: TempDir,
    /// Root CA certificate (RSA 2048, self-signed, 10 years from now): the trust anchor.
    pub root_cert: PathBuf,
    pub root_key: PathBuf,
    /// Intermediate CA (RSA 2048, pathlen 0) that issues every leaf.
    pub intermediate_cert: PathBuf,
    pub intermediate_key: PathBuf,
    /// openssl config with the extension sections used (`root`, `inter`).
    pub openssl_cnf: PathBuf,
    /// RSA 2048 leaf for [`TEST_HOST`], `localhost`, IP 127.0.0.1.
    pub rsa: Leaf,
    /// ECDSA P-256 leaf for [`TEST_HOST`], `localhost`, IP 127.0.0.1.
    pub ecdsa: Leaf,
    /// Wall time the CA + two default leaves took to generate.
    pub generation_time: Duration,
    counter: AtomicU32,
    dh1024: OnceLock<PathBuf>,
    dh1024_safe: OnceLock<(PathBuf, Duration)>,
    ffdhe2048: OnceLock<PathBuf>,
}

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
";

/// Runs `openssl ARGS` in `dir`, panicking with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("harness: cannot run openssl ({e}); run scripts/install-test-deps"));
    if !out.status.success() {
        panic!(
            "harness: `openssl {}` failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

fn random_serial() -> String {
    // Positive, 63-bit, never zero.
    format!("0x{:016x}", (rand::random::<u64>() >> 1) | 1)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("harness: temp paths are UTF-8")
}

extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::ffi::c_int;
}

static SHARED: OnceLock<Pki> = OnceLock::new();

extern "C" fn remove_shared_dir() {
    if let Some(pki) = SHARED.get() {
        let _ = std::fs::remove_dir_all(pki.dir.path());
    }
}

impl Pki {
    /// The process-wide PKI, generated on first use (≈1 s) and shared by every test.
    pub fn shared() -> &'static Pki {
        SHARED.get_or_init(|| {
            let pki = Pki::generate();
            // Statics are never dropped: remove the directory when the process exits.
            unsafe {
                atexit(remove_shared_dir);
            }
            pki
        })
    }

    /// Generates a fresh PKI in a new temporary directory (prefer [`Pki::shared`]).
    pub fn generate() -> Pki {
        let start = Instant::now();
        let dir = tempfile::Builder::new().prefix("postura-pki-").tempdir().expect("harness: create PKI tempdir");
        let d = dir.path();
        let cnf = d.join("openssl.cnf");
        std::fs::write(&cnf, OPENSSL_CNF).expect("harness: write openssl.cnf");
        let cnf_s = path_str(&cnf).to_string();

        let root_cert = d.join("root.pem");
        let root_key = d.join("root.key");
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-config",
                &cnf_s,
                "-extensions",
                "root",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                path_str(&root_key),
                "-out",
                path_str(&root_cert),
                "-subj",
                "/O=Postura Test/CN=Postura Test Root CA",
                "-days",
                "3650",
                "-sha256",
                "-set_serial",
                &random_serial(),
            ],
        );
        let inter_cert = d.join("intermediate.pem");
        let inter_key = d.join("intermediate.key");
        let inter_csr = d.join("intermediate.csr");
        openssl(
            d,
            &[
                "req",
                "-new",
                "-config",
                &cnf_s,
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                path_str(&inter_key),
                "-out",
                path_str(&inter_csr),
                "-subj",
                "/O=Postura Test/CN=Postura Test Intermediate CA",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                path_str(&inter_csr),
                "-CA",
                path_str(&root_cert),
                "-CAkey",
                path_str(&root_key),
                "-set_serial",
                &random_serial(),
                "-days",
                "3650",
                "-sha256",
                "-extfile",
                &cnf_s,
                "-extensions",
                "inter",
                "-out",
                path_str(&inter_cert),
            ],
        );

        let placeholder = Leaf {
            kind: KeyKind::Rsa2048,
            name: String::new(),
            cert: PathBuf::new(),
            key: PathBuf::new(),
            chain: PathBuf::new(),
        };
        let mut pki = Pki {
            dir,
            root_cert,
            root_key,
            intermediate_cert: inter_cert,
            intermediate_key: inter_key,
            openssl_cnf: cnf,
            rsa: placeholder.clone(),
            ecdsa: placeholder,
            generation_time: Duration::ZERO,
            counter: AtomicU32::new(0),
            dh1024: OnceLock::new(),
            dh1024_safe: OnceLock::new(),
            ffdhe2048: OnceLock::new(),
        };
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        pki.rsa = pki.issue_leaf(&[TEST_HOST, "localhost"], &[loopback], KeyKind::Rsa2048);
        pki.ecdsa = pki.issue_leaf(&[TEST_HOST, "localhost"], &[loopback], KeyKind::EcdsaP256);
        pki.generation_time = start.elapsed();
        pki
    }

    /// The directory holding every PKI file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Issues a new leaf from the intermediate CA, valid from now for 397 days, with the DNS
    /// names (first one also the CN) and IP addresses as subjectAltName. ≈0.1–0.3 s for RSA.
    /// An RSA leaf for `TEST_HOST` and 9,999 more names (about 210 KB): well formed, but past
    /// webpki's and rustls's 64 KiB.
    pub fn ten_thousand_name_leaf(&self) -> Leaf {
        let mut names = vec![TEST_HOST.to_string()];
        names.extend((1..10_000).map(|i| format!("n{i:05}.postura.test")));
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.issue_leaf(&refs, &[], KeyKind::Rsa2048)
    }

    pub fn issue_leaf(&self, dns_names: &[&str], ips: &[IpAddr], kind: KeyKind) -> Leaf {
        assert!(!dns_names.is_empty(), "harness: a leaf needs at least one DNS name");
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tag = match kind {
            KeyKind::Rsa2048 => "rsa",
            KeyKind::EcdsaP256 => "ecdsa",
        };
        let sub = self.dir().join(format!("leaf-{n:03}-{tag}"));
        std::fs::create_dir_all(&sub).expect("harness: create leaf dir");
        let mut san: Vec<String> = dns_names.iter().map(|n| format!("DNS:{n}")).collect();
        san.extend(ips.iter().map(|ip| format!("IP:{ip}")));
        let key_usage = match kind {
            KeyKind::Rsa2048 => "critical,digitalSignature,keyEncipherment",
            KeyKind::EcdsaP256 => "critical,digitalSignature",
        };
        let ext = sub.join("ext.cnf");
        std::fs::write(
            &ext,
            format!(
                "[leaf]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = {key_usage}\n\
                 extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\n\
                 authorityKeyIdentifier = keyid:always\nsubjectAltName = {}\n",
                san.join(",")
            ),
        )
        .expect("harness: write leaf ext");
        let key = sub.join("key.pem");
        let csr = sub.join("leaf.csr");
        let cert = sub.join("cert.pem");
        let chain = sub.join("chain.pem");
        let subj = format!("/CN={}", dns_names[0]);
        let cnf = path_str(&self.openssl_cnf);
        let mut req: Vec<&str> = vec!["req", "-new", "-config", cnf, "-nodes"];
        match kind {
            KeyKind::Rsa2048 => req.extend(["-newkey", "rsa:2048"]),
            KeyKind::EcdsaP256 => req.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        }
        req.extend(["-keyout", path_str(&key), "-out", path_str(&csr), "-subj", &subj]);
        openssl(&sub, &req);
        openssl(
            &sub,
            &[
                "x509",
                "-req",
                "-in",
                path_str(&csr),
                "-CA",
                path_str(&self.intermediate_cert),
                "-CAkey",
                path_str(&self.intermediate_key),
                "-set_serial",
                &random_serial(),
                "-days",
                "397",
                "-sha256",
                "-extfile",
                path_str(&ext),
                "-extensions",
                "leaf",
                "-out",
                path_str(&cert),
            ],
        );
        let mut pem = std::fs::read(&cert).expect("harness: read leaf");
        pem.extend(std::fs::read(&self.intermediate_cert).expect("harness: read intermediate"));
        std::fs::write(&chain, pem).expect("harness: write chain");
        Leaf { kind, name: dns_names[0].to_string(), cert, key, chain }
    }

    /// A 1024-bit DH group file (PKCS#3 "DH PARAMETERS" PEM) for LOGJAM-class (weak DH)
    /// servers: the RFC 5114 §2.1 group (1024-bit p, 160-bit prime-order subgroup), written by
    /// `openssl genpkey -genparam -algorithm DH -pkeyopt group:dh_1024_160` — a named group, so
    /// instant (≈10 ms). It is a well-known ("common") prime; use [`Pki::dh1024_safe_prime`]
    /// when a test needs a never-seen group.
    pub fn dh1024(&self) -> &Path {
        self.dh1024.get_or_init(|| {
            let p = self.dir().join("dh1024-rfc5114.pem");
            openssl(
                self.dir(),
                &["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:dh_1024_160", "-out", path_str(&p)],
            );
            p
        })
    }

    /// A freshly generated 1024-bit safe-prime DH group (PKCS#3 PEM), made on first use with
    /// `openssl genpkey -genparam -algorithm DH -pkeyopt dh_paramgen_prime_len:1024`: 0.2–3 s on
    /// an idle core here, 17 s seen with the other core busy. Returns the path and how long the
    /// generation took (zero-cost after the first call).
    pub fn dh1024_safe_prime(&self) -> &(PathBuf, Duration) {
        self.dh1024_safe.get_or_init(|| {
            let start = Instant::now();
            let p = self.dir().join("dh1024-safe.pem");
            openssl(
                self.dir(),
                &[
                    "genpkey",
                    "-genparam",
                    "-algorithm",
                    "DH",
                    "-pkeyopt",
                    "dh_paramgen_prime_len:1024",
                    "-out",
                    path_str(&p),
                ],
            );
            (p, start.elapsed())
        })
    }

    /// The RFC 7919 ffdhe2048 group as a PEM DH-parameters file (instant: a named group), as
    /// Mozilla's nginx configurations recommend for `ssl_dhparam`.
    pub fn ffdhe2048(&self) -> &Path {
        self.ffdhe2048.get_or_init(|| {
            let p = self.dir().join("ffdhe2048.pem");
            openssl(
                self.dir(),
                &["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", path_str(&p)],
            );
            p
        })
    }
}
