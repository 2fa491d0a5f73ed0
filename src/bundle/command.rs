//! The `keygen`, `bundle` and `verify` commands: flags, and the assembly of a bundle from a
//! saved scan (its JSON, CSV, policy, check catalog, HTML report and notices).

use std::path::PathBuf;

use anyhow::Context as _;

use super::{BundleFile, PublicKey, SigningKey};
use crate::checks::catalog::Catalog;
use crate::report::view::Document;

/// The environment variable naming the signing key file when `--key` is not given.
pub const KEY_VARIABLE: &str = "POSTURA_SIGNING_KEY";

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Write the private key to FILE (created, never overwritten) and the public key to
    /// FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct BundleArgs {
    /// The scan document (`postura scan --json`).
    #[arg(long, value_name = "FILE")]
    pub scan: PathBuf,
    /// Where to write the bundle: a new (or empty) directory, or FILE.tar.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The private key (`postura keygen`); default: the file named by $POSTURA_SIGNING_KEY.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The previous scan of the same profile (changes in the report; its JSON is bundled).
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Language of the report.
    #[arg(long, default_value = "en", value_parser = ["en", "es", "pt", "fr"])]
    pub lang: String,
    /// Also bundle one notice per operator (HTML and CSV).
    #[arg(long)]
    pub per_operator: bool,
    /// The country profile (operators' contacts, due dates and languages for the notices).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The policy file the scan was judged with, when it is not a built-in one.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Checks added to the built-in catalog for the scan (repeatable), bundled too.
    #[arg(long, value_name = "DIR")]
    pub checks: Vec<PathBuf>,
    /// Override the built-in templates with those of DIR.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle: a directory or a .tar written by `postura bundle`.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// The signer's public key (FILE.pub from `postura keygen`).
    #[arg(long, value_name = "PUB")]
    pub key: PathBuf,
}

/// `postura keygen`.
pub fn keygen(args: &KeygenArgs) -> anyhow::Result<()> {
    let (private, public) = SigningKey::generate()?;
    let public_path = PathBuf::from(format!("{}.pub", args.out.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&args.out)
        .with_context(|| format!("--out: cannot create {} (it must not exist)", args.out.display()))?;
    std::io::Write::write_all(&mut file, private.as_bytes())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    std::fs::write(&public_path, &public).with_context(|| format!("cannot write {}", public_path.display()))?;
    println!("private key {} (keep it secret), public key {}", args.out.display(), public_path.display());
    println!("fingerprint {}", PublicKey::parse(&public)?.fingerprint());
    Ok(())
}

/// The check files of a catalog, as bundled: the built-in ones as embedded, then each added
/// directory's `*.toml` under `checks/added-N/`.
fn catalog_files(dirs: &[PathBuf]) -> anyhow::Result<Vec<BundleFile>> {
    let mut files: Vec<BundleFile> = crate::checks::catalog::builtin_files()
        .iter()
        .map(|(path, text)| {
            BundleFile::new(format!("checks/built-in/{}", path.trim_start_matches("checks/")), text.as_bytes())
        })
        .collect();
    for (i, dir) in dirs.iter().enumerate() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("--checks {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            files.push(BundleFile::new(format!("checks/added-{}/{name}", i + 1), bytes));
        }
    }
    Ok(files)
}

/// The policy file the scan was judged with: `--policy FILE`, or the built-in one it names.
fn policy_file(args: &BundleArgs, document: &Document) -> anyhow::Result<BundleFile> {
    let name = document.report.assessment.as_ref().map(|a| a.policy.clone()).ok_or_else(|| {
        anyhow::anyhow!("{}: the scan was not assessed (no checks were run): nothing to bundle", args.scan.display())
    })?;
    let bytes = match &args.policy {
        Some(path) => std::fs::read(path).with_context(|| format!("--policy: cannot read {}", path.display()))?,
        None => crate::checks::policy::builtin_text(&name)
            .ok_or_else(|| anyhow::anyhow!("policy '{name}' is not built in: give its file with --policy FILE"))?
            .as_bytes()
            .to_vec(),
    };
    let stem = crate::report::notices::file_stem(&name);
    Ok(BundleFile::new(format!("policy/{stem}.toml"), bytes))
}

/// `postura bundle`: the data files, then the reports stamped with their digest, then the
/// signed manifest.
pub fn bundle(args: &BundleArgs) -> anyhow::Result<()> {
    let key_path = args.key.clone().or_else(|| std::env::var_os(KEY_VARIABLE).map(PathBuf::from)).ok_or_else(|| {
        anyhow::anyhow!("give the signing key with --key FILE or ${KEY_VARIABLE} (see `postura keygen`)")
    })?;
    let key = SigningKey::load(&key_path)?;
    let scan_bytes = std::fs::read(&args.scan).with_context(|| format!("cannot read {}", args.scan.display()))?;
    let document = Document::from_json(&String::from_utf8_lossy(&scan_bytes))
        .with_context(|| format!("{}: not a postura scan document", args.scan.display()))?;
    let previous = match &args.previous {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let parsed = Document::from_json(&String::from_utf8_lossy(&bytes))
                .with_context(|| format!("{}: not a postura scan document", path.display()))?;
            Some((bytes, parsed))
        }
        None => None,
    };
    let catalog: Catalog = crate::cli::load_catalog(&args.checks)?;
    let contacts = match &args.profile {
        Some(path) => crate::profile::Profile::load(path).map_err(|e| anyhow::anyhow!("{e}"))?.operators,
        None => Vec::new(),
    };
    let mut renderer = crate::report::Renderer::new(&args.lang, args.templates.as_deref())?;

    let mut data = vec![
        BundleFile::new("scan.json", scan_bytes),
        BundleFile::new("findings.csv", renderer.csv(&document, Some(&catalog))),
        policy_file(args, &document)?,
    ];
    if let Some((bytes, _)) = &previous {
        data.push(BundleFile::new("previous.json", bytes.clone()));
    }
    data.extend(catalog_files(&args.checks)?);
    let notice_options = |stamp| crate::report::notices::NoticeOptions {
        lang: &args.lang,
        templates: args.templates.as_deref(),
        contacts: &contacts,
        catalog: Some(&catalog),
        stamp,
    };
    // The notices' CSVs are data; their HTML, like the report's, is stamped with the data's
    // digest, so they are rendered twice (unstamped CSV first, then stamped HTML).
    if args.per_operator {
        for notice in crate::report::notices::render_notices(&document, &notice_options(None))? {
            data.push(BundleFile::new(format!("notices/{}.csv", notice.stem), notice.csv));
        }
    }
    let digest = super::data_digest(&data);
    let fingerprint = key.fingerprint();
    renderer.stamp(&digest, &fingerprint);
    let mut reports = Vec::new();
    let mut links = std::collections::BTreeMap::new();
    if args.per_operator {
        for notice in crate::report::notices::render_notices(&document, &notice_options(Some((&digest, &fingerprint))))?
        {
            let path = format!("notices/{}.html", notice.stem);
            links.insert(notice.operator, path.clone());
            reports.push(BundleFile::new(path, notice.html));
        }
    }
    let mut html = Vec::new();
    renderer.country_linking_to(&mut html, &document, previous.as_ref().map(|(_, d)| d), Some(&catalog), &links)?;
    reports.insert(0, BundleFile::new("report.html", html));
    let count = data.len() + reports.len();
    super::write(&args.out, &key, data, reports)?;
    println!("{}: {count} files and the signed manifest; data {digest}; key {fingerprint}", args.out.display());
    Ok(())
}

/// `postura verify`: true when the bundle is intact and signed by the key.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let key = PublicKey::load(&args.key)?;
    let outcome = super::verify(&args.bundle, &key)?;
    if outcome.problems.is_empty() {
        println!("{}: ok, {} files, signed by {}", args.bundle.display(), outcome.files, outcome.fingerprint);
        return Ok(true);
    }
    for problem in &outcome.problems {
        eprintln!("{}: {problem}", args.bundle.display());
    }
    eprintln!("{}: verification FAILED ({} problems)", args.bundle.display(), outcome.problems.len());
    Ok(false)
}
