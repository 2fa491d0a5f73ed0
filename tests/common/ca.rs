//! A revocation-capable test PKI built with `openssl ca` at test time: root → intermediate (with
//! an `openssl ca` database, so leaves can be revoked), a weak RSA-1024 intermediate, a delegated
//! OCSP signer (OCSPSigning EKU), an HTTP server for AIA caIssuers (`/intermediate.der`, and as
//! PKCS#7 `/intermediate.p7c`) and the
//! CRL (`/intermediate.crl`), and real `openssl ocsp` responders over the intermediate's database
//! (one per test that needs one: `responder_endpoint` before issuing, `start_responder` after).
//!
//! Leaves are issued from a [`LeafSpec`]: names, key (`rsa:2048`, `rsa:1024`, `ec`), digest
//! (`sha256`, `sha1`), validity (days from now, or explicit start/end dates), must-staple, and the
//! URLs put in AIA/CRLDP (the CA's own by default, anything for hostile-fetch tests).
//!
//! Facts found here (OpenSSL 3.0):
//! - `openssl ocsp -port N` listens on every address, so it gets a wildcard port.
//! - A client that connects and closes without a request wedges it (every later request hangs),
//!   so readiness is its stderr banner, not a TCP probe.
//! - It notices database changes by whole-second mtime (a change in the second it loaded the
//!   database can be missed: start it after issuing and revoking), and it reloads with unique
//!   subjects enforced whatever `index.txt.attr` says, so two valid leaves with one subject make
//!   every reload fail ("Error creating name index"): each leaf gets its own `OU=leaf N`.
//! - `openssl ca` keeps only the subject fields its policy names (`OU` must be listed), and
//!   `-startdate/-enddate` take `YYYYMMDDHHMMSSZ`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

use super::http::{HttpServer, Route};
use super::net::alloc_wildcard_port;
use super::pki::openssl;
use super::process::ServerProcess;

fn s(path: &Path) -> &str {
    path.to_str().expect("harness: UTF-8 path")
}

/// Which CA signs a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Issuer {
    /// The RSA-2048 intermediate with the database, OCSP responder and CRL.
    Intermediate,
    /// An RSA-1024 intermediate (webpki refuses signatures by keys under 2048 bits).
    WeakIntermediate,
    /// The leaf signs itself.
    SelfSigned,
}

/// Validity of a leaf.
#[derive(Clone, Debug)]
pub enum Validity {
    /// From now for this many days.
    Days(u32),
    /// From `now + start` to `now + end` seconds (negative: in the past).
    Offsets { start: i64, end: i64 },
}

/// What leaf to issue.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    pub names: Vec<String>,
    pub ips: Vec<String>,
    /// `openssl req -newkey` argument: `rsa:2048`, `rsa:1024`, or `ec` (P-256).
    pub key: String,
    pub digest: String,
    pub validity: Validity,
    pub must_staple: bool,
    /// Put the names in a subjectAltName (false: only in the subject CN, as legacy leaves do).
    pub san: bool,
    /// Extra lines for the leaf's extension section, e.g. a raw
    /// `1.3.6.1.4.1.11129.2.4.2 = DER:…` (embedded SCT list).
    pub extra_extensions: Vec<String>,
    pub issuer: Issuer,
    /// OCSP responder URL (none by default: see [`TestCa::responder_endpoint`]).
    pub ocsp_url: Option<String>,
    /// None: the CA's own URL; Some(empty): no such extension.
    pub crl_url: Option<String>,
    pub ca_issuers_url: Option<String>,
}

impl Default for LeafSpec {
    fn default() -> Self {
        LeafSpec {
            names: vec![super::pki::TEST_HOST.to_string()],
            ips: Vec::new(),
            key: "rsa:2048".into(),
            digest: "sha256".into(),
            validity: Validity::Days(90),
            must_staple: false,
            san: true,
            extra_extensions: Vec::new(),
            issuer: Issuer::Intermediate,
            ocsp_url: None,
            crl_url: None,
            ca_issuers_url: None,
        }
    }
}

/// An issued leaf: certificate and key files (PEM).
#[derive(Clone, Debug)]
pub struct IssuedLeaf {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub dir: PathBuf,
}

pub struct TestCa {
    dir: TempDir,
    pub root_cert: PathBuf,
    pub intermediate_cert: PathBuf,
    pub weak_intermediate_cert: PathBuf,
    cnf: PathBuf,
    ocsp_cert: PathBuf,
    ocsp_key: PathBuf,
    pub http: HttpServer,
    /// `openssl ca` databases are not safe for concurrent writers.
    lock: Mutex<u32>,
}

const CA_CNF: &str = "\
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
[ocsp_signer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[policy_any]
organizationalUnitName = optional
commonName = supplied
[ca_inter]
dir = DIR/inter
database = $dir/index.txt
new_certs_dir = $dir/new
certificate = DIR/intermediate.pem
private_key = DIR/intermediate.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 90
default_crl_days = 7
policy = policy_any
unique_subject = no
copy_extensions = none
[ca_weak]
dir = DIR/weak
database = $dir/index.txt
new_certs_dir = $dir/new
certificate = DIR/weak.pem
private_key = DIR/weak.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 90
policy = policy_any
unique_subject = no
copy_extensions = none
";

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

/// `YYYYMMDDHHMMSSZ` for `openssl ca -startdate/-enddate`.
fn openssl_date(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).expect("valid time");
    format!("{:04}{:02}{:02}{:02}{:02}{:02}Z", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

static SHARED: OnceLock<TestCa> = OnceLock::new();

extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::ffi::c_int;
}

extern "C" fn remove_ca_dirs() {
    if let Some(ca) = SHARED.get() {
        let _ = std::fs::remove_dir_all(ca.dir.path());
    }
}

impl TestCa {
    /// The process-wide CA (≈2 s to build on first use).
    pub fn shared() -> &'static TestCa {
        SHARED.get_or_init(|| {
            let ca = TestCa::generate();
            // Statics are never dropped: remove the directories when the process exits.
            unsafe {
                atexit(remove_ca_dirs);
            }
            ca
        })
    }

    fn generate() -> TestCa {
        let dir = tempfile::Builder::new().prefix("postura-ca-").tempdir().expect("harness: CA tempdir");
        let d = dir.path().to_path_buf();
        let cnf = d.join("ca.cnf");
        std::fs::write(&cnf, CA_CNF.replace("DIR", s(&d))).expect("harness: write ca.cnf");
        for sub in ["inter", "weak"] {
            std::fs::create_dir_all(d.join(sub).join("new")).expect("harness: CA dirs");
            std::fs::write(d.join(sub).join("index.txt"), "").expect("harness: index");
            std::fs::write(d.join(sub).join("serial"), "1000\n").expect("harness: serial");
            std::fs::write(d.join(sub).join("crlnumber"), "1000\n").expect("harness: crlnumber");
        }
        let root_cert = d.join("root.pem");
        let root_key = d.join("root.key");
        openssl(
            &d,
            &[
                "req",
                "-x509",
                "-config",
                s(&cnf),
                "-extensions",
                "root",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                s(&root_key),
                "-out",
                s(&root_cert),
                "-subj",
                "/O=Postura Test/CN=Postura Revocation Root CA",
                "-days",
                "3650",
                "-sha256",
            ],
        );
        let sign_ca = |name: &str, key_spec: &str, subject: &str| -> PathBuf {
            let key = d.join(format!("{name}.key"));
            let csr = d.join(format!("{name}.csr"));
            let cert = d.join(format!("{name}.pem"));
            openssl(
                &d,
                &[
                    "req",
                    "-new",
                    "-config",
                    s(&cnf),
                    "-newkey",
                    key_spec,
                    "-nodes",
                    "-keyout",
                    s(&key),
                    "-out",
                    s(&csr),
                    "-subj",
                    subject,
                ],
            );
            openssl(
                &d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    s(&csr),
                    "-CA",
                    s(&root_cert),
                    "-CAkey",
                    s(&root_key),
                    "-set_serial",
                    &format!("{}", rand::random::<u32>() | 1),
                    "-days",
                    "3650",
                    "-sha256",
                    "-extfile",
                    s(&cnf),
                    "-extensions",
                    "inter",
                    "-out",
                    s(&cert),
                ],
            );
            cert
        };
        let intermediate_cert =
            sign_ca("intermediate", "rsa:2048", "/O=Postura Test/CN=Postura Revocation Intermediate CA");
        let weak_intermediate_cert =
            sign_ca("weak", "rsa:1024", "/O=Postura Test/CN=Postura Weak 1024 Intermediate CA");
        // The delegated OCSP signer, issued by the intermediate through its database.
        let ocsp_key = d.join("ocsp.key");
        let ocsp_csr = d.join("ocsp.csr");
        let ocsp_cert = d.join("ocsp.pem");
        openssl(
            &d,
            &[
                "req",
                "-new",
                "-config",
                s(&cnf),
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                s(&ocsp_key),
                "-out",
                s(&ocsp_csr),
                "-subj",
                "/O=Postura Test/CN=Postura OCSP Responder",
            ],
        );
        openssl(
            &d,
            &[
                "ca",
                "-config",
                s(&cnf),
                "-name",
                "ca_inter",
                "-batch",
                "-notext",
                "-in",
                s(&ocsp_csr),
                "-out",
                s(&ocsp_cert),
                "-extfile",
                s(&cnf),
                "-extensions",
                "ocsp_signer",
                "-days",
                "3650",
            ],
        );
        let http = HttpServer::start();
        let der = openssl(&d, &["x509", "-in", s(&intermediate_cert), "-outform", "DER"]);
        http.route("/intermediate.der", Route::Body(der));
        // The same certificate as a PKCS#7 certs-only bundle, as many CAs publish it (.p7c).
        let p7c = openssl(&d, &["crl2pkcs7", "-nocrl", "-certfile", s(&intermediate_cert), "-outform", "DER"]);
        http.route("/intermediate.p7c", Route::Body(p7c));
        let ca = TestCa {
            dir,
            root_cert,
            intermediate_cert,
            weak_intermediate_cert,
            cnf,
            ocsp_cert,
            ocsp_key,
            http,
            lock: Mutex::new(0),
        };
        ca.publish_crl();
        ca
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn crl_url(&self) -> String {
        self.http.url("/intermediate.crl")
    }

    pub fn ca_issuers_url(&self) -> String {
        self.http.url("/intermediate.der")
    }

    /// Regenerates the intermediate's CRL and serves it (DER).
    fn publish_crl(&self) {
        let d = self.dir();
        let pem = d.join("intermediate.crl.pem");
        openssl(d, &["ca", "-config", s(&self.cnf), "-name", "ca_inter", "-gencrl", "-out", s(&pem)]);
        let der = openssl(d, &["crl", "-in", s(&pem), "-outform", "DER"]);
        self.http.route("/intermediate.crl", Route::Body(der));
    }

    /// A port for an OCSP responder and its URL, to put in a leaf before starting the responder
    /// with [`TestCa::start_responder`].
    pub fn responder_endpoint(&self) -> (u16, String) {
        let port = alloc_wildcard_port();
        (port, format!("http://127.0.0.1:{port}"))
    }

    /// Starts an `openssl ocsp` responder over the intermediate's database on `port`. Start it
    /// after the issuing and revoking it must see: it notices database changes by mtime in whole
    /// seconds, so a change in the second it loaded the database can be missed.
    pub fn start_responder(&self, port: u16) -> ServerProcess {
        let _guard = self.lock.lock().unwrap();
        let dir = tempfile::Builder::new().prefix("postura-ocsp-").tempdir().expect("harness: ocsp tempdir");
        let mut cmd = Command::new("openssl");
        cmd.args([
            "ocsp",
            "-index",
            s(&self.dir().join("inter").join("index.txt")),
            "-CA",
            s(&self.intermediate_cert),
            "-rsigner",
            s(&self.ocsp_cert),
            "-rkey",
            s(&self.ocsp_key),
            "-ndays",
            "1",
            "-ignore_err",
            "-port",
            &port.to_string(),
        ])
        .current_dir(dir.path());
        let mut process = ServerProcess::spawn("openssl ocsp", cmd, dir);
        // Not `wait_ready`: a TCP connect-and-close probe wedges `openssl ocsp` 3.0 for good
        // (every later request times out). Wait for its banner instead.
        let started = std::time::Instant::now();
        while !process.stderr().contains("waiting for OCSP client connections") {
            if let Some(status) = process.exited() {
                panic!("harness: openssl ocsp exited with {status}\n{}", process.diagnostics());
            }
            if started.elapsed() > super::process::READY_LIMIT {
                panic!("harness: openssl ocsp not ready\n{}", process.diagnostics());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// Issues a leaf.
    pub fn issue(&self, spec: &LeafSpec) -> IssuedLeaf {
        let mut counter = self.lock.lock().unwrap();
        *counter += 1;
        let sub = self.dir().join(format!("leaf-{}", *counter));
        std::fs::create_dir_all(&sub).expect("harness: leaf dir");
        let key = sub.join("key.pem");
        let csr = sub.join("leaf.csr");
        let cert = sub.join("cert.pem");
        let ext = sub.join("ext.cnf");
        let mut san: Vec<String> = spec.names.iter().map(|n| format!("DNS:{n}")).collect();
        san.extend(spec.ips.iter().map(|ip| format!("IP:{ip}")));
        let key_usage = if spec.key.starts_with("rsa") {
            "critical,digitalSignature,keyEncipherment"
        } else {
            "critical,digitalSignature"
        };
        let mut extensions = format!(
            "[leaf]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = {key_usage}\n\
             extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\n"
        );
        if spec.san && !san.is_empty() {
            extensions.push_str(&format!("subjectAltName = {}\n", san.join(",")));
        }
        if spec.issuer != Issuer::SelfSigned {
            extensions.push_str("authorityKeyIdentifier = keyid:always\n");
            let pick = |given: &Option<String>, own: String| given.clone().unwrap_or(own);
            let (ocsp, issuers, crl) = if spec.issuer == Issuer::Intermediate {
                (
                    spec.ocsp_url.clone().unwrap_or_default(),
                    pick(&spec.ca_issuers_url, self.ca_issuers_url()),
                    pick(&spec.crl_url, self.crl_url()),
                )
            } else {
                (
                    spec.ocsp_url.clone().unwrap_or_default(),
                    spec.ca_issuers_url.clone().unwrap_or_default(),
                    spec.crl_url.clone().unwrap_or_default(),
                )
            };
            let mut aia = Vec::new();
            if !ocsp.is_empty() {
                aia.push(format!("OCSP;URI:{ocsp}"));
            }
            if !issuers.is_empty() {
                aia.push(format!("caIssuers;URI:{issuers}"));
            }
            if !aia.is_empty() {
                extensions.push_str(&format!("authorityInfoAccess = {}\n", aia.join(",")));
            }
            if !crl.is_empty() {
                extensions.push_str(&format!("crlDistributionPoints = URI:{crl}\n"));
            }
        }
        if spec.must_staple {
            extensions.push_str("tlsfeature = status_request\n");
        }
        for line in &spec.extra_extensions {
            extensions.push_str(line);
            extensions.push('\n');
        }
        std::fs::write(&ext, extensions).expect("harness: write ext");
        let cnf = s(&self.cnf);
        // Subjects are unique per leaf: `openssl ocsp` reloads the database with unique
        // subjects enforced whatever index.txt.attr says, and fails on duplicates.
        let subject =
            format!("/OU=leaf {}/CN={}", *counter, spec.names.first().map(String::as_str).unwrap_or("postura leaf"));
        let mut req: Vec<String> = ["req", "-new", "-config", cnf, "-nodes"].map(String::from).to_vec();
        if spec.key == "ec" {
            req.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"].map(String::from));
        } else {
            req.extend(["-newkey".to_string(), spec.key.clone()]);
        }
        req.extend(["-keyout", s(&key), "-subj", &subject].map(String::from));
        let now = unix_now();
        let validity: Vec<String> = match spec.validity {
            Validity::Days(days) => vec!["-days".into(), days.to_string()],
            Validity::Offsets { start, end } => {
                vec!["-startdate".into(), openssl_date(now + start), "-enddate".into(), openssl_date(now + end)]
            }
        };
        let digest = format!("-{}", spec.digest);
        if spec.issuer == Issuer::SelfSigned {
            let mut args = req.clone();
            args.extend(["-x509", "-out", s(&cert), "-extensions", "leaf", "-config"].map(String::from));
            // req -x509 takes its extensions from a config: the leaf section lives in ext.cnf,
            // appended to a copy of the CA config.
            let combined = sub.join("req.cnf");
            let mut text = std::fs::read_to_string(&self.cnf).expect("harness: read cnf");
            text.push_str(&std::fs::read_to_string(&ext).expect("harness: read ext"));
            std::fs::write(&combined, text).expect("harness: write req.cnf");
            args.push(s(&combined).to_string());
            // Drop the earlier "-config cnf" pair: the combined config replaces it.
            args.drain(2..4);
            args.push(digest);
            match spec.validity {
                Validity::Days(days) => args.extend(["-days".to_string(), days.to_string()]),
                Validity::Offsets { .. } => {
                    panic!("harness: self-signed leaves take Validity::Days")
                }
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            openssl(&sub, &refs);
        } else {
            req.extend(["-out", s(&csr)].map(String::from));
            let refs: Vec<&str> = req.iter().map(String::as_str).collect();
            openssl(&sub, &refs);
            let section = if spec.issuer == Issuer::Intermediate { "ca_inter" } else { "ca_weak" };
            let mut args: Vec<String> = [
                "ca",
                "-config",
                cnf,
                "-name",
                section,
                "-batch",
                "-notext",
                "-in",
                s(&csr),
                "-out",
                s(&cert),
                "-extfile",
                s(&ext),
                "-extensions",
                "leaf",
                "-md",
                &spec.digest,
            ]
            .map(String::from)
            .to_vec();
            args.extend(validity);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            openssl(&sub, &refs);
        }
        IssuedLeaf { cert, key, dir: sub }
    }

    /// Revokes a leaf of the intermediate (keyCompromise) and republishes the CRL.
    pub fn revoke(&self, leaf: &IssuedLeaf) {
        {
            let _guard = self.lock.lock().unwrap();
            openssl(
                self.dir(),
                &[
                    "ca",
                    "-config",
                    s(&self.cnf),
                    "-name",
                    "ca_inter",
                    "-revoke",
                    s(&leaf.cert),
                    "-crl_reason",
                    "keyCompromise",
                ],
            );
            self.publish_crl();
        }
    }

    /// A DER OCSP response about `leaf` from the database, signed by the delegated responder, as a
    /// server would staple it (`s_server -status_file`).
    pub fn ocsp_response(&self, leaf: &IssuedLeaf) -> PathBuf {
        self.ocsp_response_signed_by(leaf, &self.ocsp_cert, &self.ocsp_key)
    }

    /// As [`TestCa::ocsp_response`], signed by `signer` with `signer_key` (the signer's
    /// certificate is included in the response, as `openssl ocsp` does).
    pub fn ocsp_response_signed_by(&self, leaf: &IssuedLeaf, signer: &Path, signer_key: &Path) -> PathBuf {
        let request = leaf.dir.join("ocsp-request.der");
        let response = leaf.dir.join(format!("ocsp-response-{}.der", rand::random::<u32>()));
        openssl(
            &leaf.dir,
            &[
                "ocsp",
                "-issuer",
                s(&self.intermediate_cert),
                "-cert",
                s(&leaf.cert),
                "-no_nonce",
                "-reqout",
                s(&request),
            ],
        );
        let _guard = self.lock.lock().unwrap();
        openssl(
            &leaf.dir,
            &[
                "ocsp",
                "-index",
                s(&self.dir().join("inter").join("index.txt")),
                "-CA",
                s(&self.intermediate_cert),
                "-rsigner",
                s(signer),
                "-rkey",
                s(signer_key),
                "-ndays",
                "1",
                "-reqin",
                s(&request),
                "-respout",
                s(&response),
            ],
        );
        response
    }

    /// The intermediate's private key (to sign OCSP responses as the issuer itself).
    pub fn intermediate_key(&self) -> PathBuf {
        self.dir().join("intermediate.key")
    }

    /// Concatenates PEM files into one chain file next to the first.
    pub fn chain_file(&self, name: &str, parts: &[&Path]) -> PathBuf {
        let path = self.dir().join(format!("{name}-{}.pem", rand::random::<u32>()));
        let mut text = Vec::new();
        for part in parts {
            text.extend(std::fs::read(part).expect("harness: read chain part"));
        }
        std::fs::write(&path, text).expect("harness: write chain");
        path
    }
}

/// Seconds in a day, for validity offsets.
pub const DAY: i64 = 86_400;
