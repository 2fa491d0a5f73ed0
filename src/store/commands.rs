//! The store's commands (`history`, `diff`, `export`, `prune`, `import`, `report --scan`) and
//! the wiring of `scan --db/--store/--resume`: the CLI stays a thin adapter over these.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;

use super::{Store, StoreSink};
use crate::cli::{Command, DbArg, ScanArgs, EXIT_OK};
use crate::report::view::Document;
use crate::scan::ScanPlan;

/// A scan that goes to the store: a new one (with the arguments that rebuild its plan) or one
/// being resumed.
pub struct ScanStore {
    store: Store,
    resume: Option<i64>,
    args: Vec<String>,
}

/// For `postura scan`: which store (if any) the scan goes to. When resuming, the arguments the
/// scan was started with replace the command line's, read in the directory they were given in.
pub fn scan_store(args: ScanArgs) -> anyhow::Result<(ScanArgs, Option<ScanStore>)> {
    let db = DbArg { db: args.db.clone() };
    if let Some(id) = args.resume {
        let store = db.open()?;
        let (stored, cwd, status) = store.scan_arguments(id)?;
        if status == "complete" {
            anyhow::bail!("store {}: scan {id} is already complete", store.location());
        }
        std::env::set_current_dir(&cwd)
            .with_context(|| format!("scan {id} was started in {}, which is gone", cwd.display()))?;
        let mut full = vec!["postura".to_string(), "scan".to_string()];
        full.extend(stored.iter().cloned());
        let cli = crate::cli::Cli::try_parse_from(full)
            .with_context(|| format!("scan {id}: its stored arguments no longer parse"))?;
        let Command::Scan(mut rebuilt) = cli.command else { anyhow::bail!("scan {id}: not a scan's arguments") };
        // Output is for whoever resumes: their --quiet, not the original one.
        rebuilt.quiet = args.quiet;
        return Ok((rebuilt, Some(ScanStore { store, resume: Some(id), args: stored })));
    }
    if args.db.is_none() && !args.store {
        return Ok((args, None));
    }
    let store = db.open()?;
    // The scan's own arguments as typed (everything after `scan`), to rebuild its plan on resume.
    let raw: Vec<String> = super::arguments_to_store(std::env::args().skip_while(|a| a != "scan").skip(1).collect());
    Ok((args, Some(ScanStore { store, resume: None, args: raw })))
}

impl ScanStore {
    /// Record the scan (or load what a resumed one finished into the plan) and make its sink.
    pub fn into_sink(self, plan: &mut ScanPlan, quiet: bool) -> anyhow::Result<StoreSink> {
        let scan_id = match self.resume {
            Some(id) => {
                plan.done = self.store.stored_items(id)?;
                self.store.set_status(id, "running")?;
                if !quiet {
                    eprintln!(
                        "postura: resuming scan {id} of {} ({} items already done)",
                        self.store.location(),
                        plan.done.len()
                    );
                }
                id
            }
            None => {
                let cwd = std::env::current_dir().context("cannot read the current directory")?;
                let country = plan.country.as_ref().map(|c| c.code.as_str());
                let id = self.store.begin_scan(&self.args, &cwd, country)?;
                if !quiet {
                    eprintln!("postura: scan {id} in {}", self.store.location());
                }
                id
            }
        };
        Ok(StoreSink::new(self.store, scan_id))
    }
}

/// `report --scan ID [--previous ID]`: the documents from the store.
pub fn documents(db: &DbArg, id: i64, previous: Option<&Path>) -> anyhow::Result<(Document, Option<Document>)> {
    let store = db.open()?;
    let document = Document::from_report(store.report(id)?);
    let previous = match previous {
        Some(text) => {
            let text = text.to_string_lossy();
            Some(text.parse::<i64>().map_err(|_| anyhow::anyhow!("--previous {text}: with --scan, give a scan ID"))?)
        }
        None => None,
    };
    let previous = previous.map(|p| store.report(p).map(Document::from_report)).transpose()?;
    Ok((document, previous))
}

/// `history`, `diff`, `export`, `prune`, `import`.
pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::History { country, json, db } => {
            let scans = db.open()?.history(country.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&scans)?);
            } else {
                println!(
                    "{:>5}  {:<31} {:<11} {:<7} {:>7} {:>6} {:>8}",
                    "scan", "started", "status", "country", "index", "items", "failing"
                );
                for s in scans {
                    let index = s.index.map(|i| format!("{i:.1}")).unwrap_or_else(|| "-".into());
                    let country = s.country.unwrap_or_else(|| "-".into());
                    println!(
                        "{:>5}  {:<31} {:<11} {:<7} {:>7} {:>6} {:>8}",
                        s.id, s.started_at, s.status, country, index, s.items, s.failing
                    );
                }
            }
        }
        Command::Diff { a, b, json, db } => {
            let store = db.open()?;
            let diff = super::diff::diff(&store.report(a)?, &store.report(b)?);
            if json {
                println!("{}", serde_json::to_string_pretty(&diff)?);
            } else {
                print!("{diff}");
            }
        }
        Command::Export { scan, json, csv, lang, db } => {
            if json.is_none() && csv.is_none() {
                anyhow::bail!("nothing to write: give --json FILE and/or --csv FILE");
            }
            let report = db.open()?.report(scan)?;
            if let Some(path) = &json {
                let mut text = serde_json::to_vec_pretty(&report)?;
                text.push(b'\n');
                crate::scan::sink::write_atomically(path, &text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if let Some(path) = &csv {
                let catalog = crate::cli::load_catalog(&[])?;
                let renderer = crate::report::Renderer::new(&lang, None)?;
                let document = Document::from_report(report);
                crate::cli::write_reports(&renderer, &document, &document, None, Some(&catalog), (None, Some(path)))?;
            }
        }
        Command::Prune { keep, older_than, db } => {
            let deleted = db.open()?.prune(keep, older_than)?;
            println!("deleted {deleted} scans");
        }
        Command::Import { files, db } => {
            let mut store = db.open()?;
            for file in files {
                let report = read_report(&file)?;
                let id = store.import(&report, &file)?;
                println!("{}: scan {id}", file.display());
            }
        }
        _ => anyhow::bail!("not a store command"),
    }
    Ok(EXIT_OK)
}

fn read_report(path: &PathBuf) -> anyhow::Result<crate::facts::ScanReport> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a postura scan document", path.display()))
}

/// The first SIGINT or SIGTERM, by name.
pub async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        // Without signal handlers the scan runs to its end (the default disposition still applies).
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}
