//! Signed, tamper-evident report bundles (`postura keygen`, `postura bundle`, `postura verify`).
//!
//! A bundle is a directory (or a `.tar`) holding what a regulator shares and may have to defend:
//! the scan JSON, the CSV of findings, the policy and the check catalog the scan was judged
//! with (the *data*), the HTML report(s), and `MANIFEST`, a text file listing the SHA-256 digest
//! and size of every file, signed with an Ed25519 key (`MANIFEST.sig`, ring's Ed25519).
//!
//! The HTML reports show, in their footer, the digest of the manifest's data lines and the
//! signer's key fingerprint: a printed report can be matched to the bundle it came from. (They
//! cannot show the digest of the whole manifest, which lists the reports' own digests.)
//! `verify` checks the signature, every digest, that no file was added or removed, and that each
//! report's footer names the manifest's data digest; each problem names its file.
//!
//! Manifest format (UTF-8, one item per line):
//!
//! ```text
//! postura-bundle 1
//! tool postura 0.1.0
//! created 2026-12-01T10:00:00Z
//! key SHA256:<base64 of SHA-256 of the public key>
//! data sha256:<hex SHA-256 of the `file` lines, each with its newline>
//! file <hex sha256> <size> scan.json
//! …
//! report <hex sha256> <size> report.html
//! ```

pub mod command;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

/// The two files a bundle adds to what it lists.
pub const MANIFEST: &str = "MANIFEST";
pub const SIGNATURE: &str = "MANIFEST.sig";

const PRIVATE_BEGIN: &str = "-----BEGIN POSTURA ED25519 PRIVATE KEY-----";
const PRIVATE_END: &str = "-----END POSTURA ED25519 PRIVATE KEY-----";
const PUBLIC_PREFIX: &str = "postura-ed25519 ";
/// A bundle holds at most this many files, each at most this large when verified (a bundle
/// may come from anyone: reading one is bounded).
pub const MAX_FILES: usize = 100_000;
pub const MAX_FILE_BYTES: u64 = 4 << 30;
/// The manifest, signature and HTML reports are read whole; they stay under this.
const MAX_READ_BYTES: u64 = 512 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{0}")]
    Key(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io { path: path.to_path_buf(), source }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// "SHA256:<base64, no padding>" of a public key, as OpenSSH prints fingerprints.
pub fn fingerprint(public: &[u8]) -> String {
    let digest = Sha256::digest(public);
    format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A signing key (Ed25519, PKCS#8 in a PEM-like file).
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

/// A verifying key: `postura-ed25519 <base64 of the 32 bytes>`.
pub struct PublicKey {
    bytes: Vec<u8>,
}

impl SigningKey {
    /// A new key: (private key file text, public key file text).
    pub fn generate() -> Result<(String, String), BundleError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| BundleError::Key("cannot generate a key".into()))?;
        let key = SigningKey::from_pkcs8(pkcs8.as_ref())?;
        let private = format!("{PRIVATE_BEGIN}\n{}\n{PRIVATE_END}\n", b64().encode(pkcs8.as_ref()));
        Ok((private, key.public_text()))
    }

    fn from_pkcs8(der: &[u8]) -> Result<SigningKey, BundleError> {
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .map_err(|e| BundleError::Key(format!("not an Ed25519 private key: {e}")))?;
        Ok(SigningKey { pair })
    }

    pub fn parse(text: &str) -> Result<SigningKey, BundleError> {
        let body =
            text.trim().strip_prefix(PRIVATE_BEGIN).and_then(|rest| rest.strip_suffix(PRIVATE_END)).ok_or_else(
                || BundleError::Key(format!("not a postura private key (it starts with {PRIVATE_BEGIN})")),
            )?;
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = b64().decode(compact).map_err(|e| BundleError::Key(format!("private key: {e}")))?;
        SigningKey::from_pkcs8(&der)
    }

    pub fn load(path: &Path) -> Result<SigningKey, BundleError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        SigningKey::parse(&text).map_err(|e| BundleError::Key(format!("{}: {e}", path.display())))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey { bytes: self.pair.public_key().as_ref().to_vec() }
    }

    pub fn public_text(&self) -> String {
        self.public().text()
    }

    pub fn fingerprint(&self) -> String {
        self.public().fingerprint()
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

impl PublicKey {
    pub fn parse(text: &str) -> Result<PublicKey, BundleError> {
        let encoded = text.trim().strip_prefix(PUBLIC_PREFIX).ok_or_else(|| {
            BundleError::Key(format!("not a postura public key (it starts with \"{}\")", PUBLIC_PREFIX.trim()))
        })?;
        let bytes = b64().decode(encoded.trim()).map_err(|e| BundleError::Key(format!("public key: {e}")))?;
        if bytes.len() != 32 {
            return Err(BundleError::Key(format!("public key: {} bytes, an Ed25519 key has 32", bytes.len())));
        }
        Ok(PublicKey { bytes })
    }

    pub fn load(path: &Path) -> Result<PublicKey, BundleError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        PublicKey::parse(&text).map_err(|e| BundleError::Key(format!("{}: {e}", path.display())))
    }

    pub fn text(&self) -> String {
        format!("{PUBLIC_PREFIX}{}\n", b64().encode(&self.bytes))
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.bytes)
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.bytes).verify(message, signature).is_ok()
    }
}

/// One file of a bundle: its path inside the bundle (`/`-separated) and its bytes.
pub struct BundleFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl BundleFile {
    pub fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> BundleFile {
        BundleFile { path: path.into(), bytes: bytes.into() }
    }
}

/// A path a bundle may hold: relative, `/`-separated, no `.`/`..` parts, no control characters.
fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 255
        && !path.starts_with('/')
        && !path.chars().any(|c| c.is_control() || c == '\\')
        && path.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
}

fn line(kind: &str, path: &str, bytes: &[u8]) -> String {
    format!("{kind} {} {} {path}\n", hex(&Sha256::digest(bytes)), bytes.len())
}

/// The digest of the data files' manifest lines: what the HTML reports show in their footer.
pub fn data_digest(data: &[BundleFile]) -> String {
    let lines: String = data.iter().map(|f| line("file", &f.path, &f.bytes)).collect();
    format!("sha256:{}", hex(&Sha256::digest(lines.as_bytes())))
}

/// The manifest and its signature for `data` and `reports`.
fn manifest(key: &SigningKey, created: &str, data: &[BundleFile], reports: &[BundleFile]) -> (String, String) {
    let mut text = format!(
        "postura-bundle 1\ntool postura {}\ncreated {created}\nkey {}\ndata {}\n",
        env!("CARGO_PKG_VERSION"),
        key.fingerprint(),
        data_digest(data)
    );
    for file in data {
        text.push_str(&line("file", &file.path, &file.bytes));
    }
    for file in reports {
        text.push_str(&line("report", &file.path, &file.bytes));
    }
    let signature = format!("{}\n", b64().encode(key.sign(text.as_bytes())));
    (text, signature)
}

/// Write a bundle to `out`: a `.tar` file, or a directory (which must not exist yet or be empty).
pub fn write(out: &Path, key: &SigningKey, data: Vec<BundleFile>, reports: Vec<BundleFile>) -> Result<(), BundleError> {
    let mut seen = std::collections::BTreeSet::new();
    for file in data.iter().chain(&reports) {
        if !valid_path(&file.path) || file.path == MANIFEST || file.path == SIGNATURE || !seen.insert(file.path.clone())
        {
            return Err(BundleError::Invalid(format!("bundle: bad or repeated file name {:?}", file.path)));
        }
    }
    let (manifest, signature) = manifest(key, &crate::now_rfc3339(), &data, &reports);
    let mut files: Vec<BundleFile> = data.into_iter().chain(reports).collect();
    files.push(BundleFile::new(MANIFEST, manifest));
    files.push(BundleFile::new(SIGNATURE, signature));
    if out.extension().is_some_and(|e| e == "tar") {
        // Written under a temporary name and renamed: a failure leaves no half bundle.
        let temporary = out.with_extension("tar.partial");
        let file = std::fs::File::create(&temporary).map_err(io(&temporary))?;
        let mut tar = tar::Builder::new(file);
        for file in &files {
            let mut header = tar::Header::new_ustar();
            header.set_size(file.bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, &file.path, file.bytes.as_slice()).map_err(io(out))?;
        }
        tar.into_inner().and_then(|f| f.sync_all()).map_err(io(out))?;
        std::fs::rename(&temporary, out).map_err(io(out))?;
        return Ok(());
    }
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(BundleError::Invalid(format!("{}: the bundle directory is not empty", out.display())));
    }
    for file in &files {
        let path = out.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, &file.bytes).map_err(io(&path))?;
    }
    Ok(())
}

/// What one file of a bundle on disk holds: digest and size, and its bytes when they are needed
/// (manifest, signature, HTML reports).
struct Found {
    digest: String,
    size: u64,
    bytes: Option<Vec<u8>>,
}

fn keep_bytes(path: &str) -> bool {
    path == MANIFEST || path == SIGNATURE || path.ends_with(".html")
}

/// Hash a reader of at most [`MAX_FILE_BYTES`], keeping its bytes when asked.
fn hash(mut reader: impl Read, keep: bool, name: &str) -> Result<Found, BundleError> {
    let mut hasher = Sha256::new();
    let mut kept = Vec::new();
    let mut size = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buffer).map_err(io(Path::new(name)))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > MAX_FILE_BYTES || (keep && size > MAX_READ_BYTES) {
            return Err(BundleError::Invalid(format!("{name}: larger than a bundle file may be")));
        }
        hasher.update(&buffer[..n]);
        if keep {
            kept.extend_from_slice(&buffer[..n]);
        }
    }
    Ok(Found { digest: hex(&hasher.finalize()), size, bytes: keep.then_some(kept) })
}

/// Every regular file of a bundle directory or `.tar`, by path. Anything else (a link, a device)
/// is a problem of its own.
fn read_bundle(path: &Path, problems: &mut Vec<String>) -> Result<BTreeMap<String, Found>, BundleError> {
    let mut files = BTreeMap::new();
    if path.is_dir() {
        let mut pending = vec![(path.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let entry = entry.map_err(io(&dir))?;
                let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
                let kind = entry.file_type().map_err(io(&entry.path()))?;
                if kind.is_dir() {
                    pending.push((entry.path(), format!("{name}/")));
                } else if kind.is_file() {
                    let file = std::fs::File::open(entry.path()).map_err(io(&entry.path()))?;
                    files.insert(name.clone(), hash(file, keep_bytes(&name), &name)?);
                } else {
                    problems.push(format!("not a regular file: {name}"));
                }
                if files.len() > MAX_FILES {
                    return Err(BundleError::Invalid(format!("{}: more than {MAX_FILES} files", path.display())));
                }
            }
        }
        return Ok(files);
    }
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut archive = tar::Archive::new(file);
    for entry in archive.entries().map_err(io(path))? {
        let entry = entry.map_err(io(path))?;
        let name = entry.path().map_err(io(path))?.to_string_lossy().trim_start_matches("./").to_string();
        match entry.header().entry_type() {
            tar::EntryType::Directory => continue,
            tar::EntryType::Regular => {
                if files.contains_key(&name) {
                    problems.push(format!("added: {name} (a second copy)"));
                    continue;
                }
                let found = hash(entry, keep_bytes(&name), &name)?;
                files.insert(name, found);
            }
            _ => problems.push(format!("not a regular file: {name}")),
        }
        if files.len() > MAX_FILES {
            return Err(BundleError::Invalid(format!("{}: more than {MAX_FILES} files", path.display())));
        }
    }
    Ok(files)
}

/// One listed file of a manifest.
struct Listed {
    kind: String,
    digest: String,
    size: u64,
}

/// A manifest as read: its header values (`key`, `data`, …), its listed files by path, and the
/// digest of its `file` lines as they are.
struct ParsedManifest {
    header: BTreeMap<String, String>,
    listed: BTreeMap<String, Listed>,
    data: String,
}

/// The manifest's header values and listed files, or why it cannot be read.
fn parse_manifest(text: &str) -> Result<ParsedManifest, String> {
    let mut header = BTreeMap::new();
    let mut listed = BTreeMap::new();
    let mut data_lines = String::new();
    let mut lines = text.lines();
    if lines.next() != Some("postura-bundle 1") {
        return Err("MANIFEST: not a postura bundle manifest (version 1)".into());
    }
    for line in lines {
        let (kind, rest) = line.split_once(' ').ok_or_else(|| format!("MANIFEST: unreadable line {line:?}"))?;
        match kind {
            "file" | "report" => {
                let mut parts = rest.splitn(3, ' ');
                let (Some(digest), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                    return Err(format!("MANIFEST: unreadable line {line:?}"));
                };
                let size = size.parse().map_err(|_| format!("MANIFEST: unreadable size in {line:?}"))?;
                if !valid_path(path) || listed.contains_key(path) {
                    return Err(format!("MANIFEST: bad or repeated path {path:?}"));
                }
                if kind == "file" {
                    data_lines.push_str(line);
                    data_lines.push('\n');
                }
                listed.insert(path.to_string(), Listed { kind: kind.into(), digest: digest.into(), size });
            }
            _ => {
                header.insert(kind.to_string(), rest.to_string());
            }
        }
    }
    let data = format!("sha256:{}", hex(&Sha256::digest(data_lines.as_bytes())));
    Ok(ParsedManifest { header, listed, data })
}

/// The outcome of verifying a bundle: the signer's fingerprint, and every problem found (empty
/// when the bundle is intact and signed by the expected key).
pub struct Verification {
    pub fingerprint: String,
    pub files: usize,
    pub problems: Vec<String>,
}

/// Check a bundle (directory or `.tar`) against the signer's public key: the signature over
/// the manifest, every listed file's digest and size, files added or missing, and each HTML
/// report's footer.
pub fn verify(path: &Path, key: &PublicKey) -> Result<Verification, BundleError> {
    let mut problems = Vec::new();
    let mut files = read_bundle(path, &mut problems)?;
    let manifest = files.remove(MANIFEST).and_then(|f| f.bytes);
    let signature = files.remove(SIGNATURE).and_then(|f| f.bytes);
    let (Some(manifest), Some(signature)) = (manifest, signature) else {
        return Err(BundleError::Invalid(format!(
            "{}: no {MANIFEST} and {SIGNATURE}: not a postura bundle",
            path.display()
        )));
    };
    let text = String::from_utf8(manifest.clone()).map_err(|_| BundleError::Invalid("MANIFEST: not UTF-8".into()))?;
    let ParsedManifest { header, listed, data } = parse_manifest(&text).map_err(BundleError::Invalid)?;
    let signer = header.get("key").cloned().unwrap_or_default();
    let signature = b64().decode(String::from_utf8_lossy(&signature).trim()).unwrap_or_default();
    if signer != key.fingerprint() {
        problems.push(format!("MANIFEST: signed by key {signer}, not by the key given ({})", key.fingerprint()));
    } else if !key.verifies(&manifest, &signature) {
        problems.push(format!("MANIFEST: the signature does not verify ({MANIFEST} or {SIGNATURE} was changed)"));
    }
    if header.get("data") != Some(&data) {
        problems.push("MANIFEST: its data digest does not match its file lines".into());
    }
    for (name, entry) in &listed {
        match files.get(name) {
            None => problems.push(format!("missing: {name}")),
            Some(found) if found.digest != entry.digest || found.size != entry.size => {
                problems.push(format!("changed: {name}"));
            }
            Some(found) => {
                // A report must show the data digest and signer it was stamped with.
                let stamped = |bytes: &Vec<u8>| {
                    let html = String::from_utf8_lossy(bytes);
                    html.contains(&data) && html.contains(&signer)
                };
                if entry.kind == "report" && name.ends_with(".html") && !found.bytes.as_ref().is_some_and(stamped) {
                    problems.push(format!("{name}: its footer does not show the manifest's data digest and key"));
                }
            }
        }
    }
    for name in files.keys().filter(|name| !listed.contains_key(*name)) {
        problems.push(format!("added: {name}"));
    }
    Ok(Verification { fingerprint: signer, files: listed.len(), problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_paths_are_checked() {
        let (private, public) = SigningKey::generate().unwrap();
        let key = SigningKey::parse(&private).unwrap();
        let public = PublicKey::parse(&public).unwrap();
        assert_eq!(key.fingerprint(), public.fingerprint());
        assert!(key.fingerprint().starts_with("SHA256:") && key.fingerprint().len() == 7 + 43);
        let signature = key.sign(b"message");
        assert!(public.verifies(b"message", &signature));
        assert!(!public.verifies(b"messagE", &signature));
        assert!(PublicKey::parse("postura-ed25519 AAAA").is_err());
        assert!(SigningKey::parse("garbage").is_err());
        for bad in ["", "/etc/passwd", "a/../b", "./a", "a//b", "a\nb", "a\\b"] {
            assert!(!valid_path(bad), "{bad:?}");
        }
        assert!(valid_path("notices/notice-antel.html"));
    }
}
