//! Report templates as a user overrides them (issue 9 item 6, issue 12 item 3): the built-in
//! templates are the embedded ones; `--templates DIR` must exist; templates that include each
//! other are refused with a clear error instead of overflowing the stack; and the report prints
//! no path of the machine postura was built on.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::assess::{assess, scan_lab_target};
use common::*;
use postura::profile::Service;

fn postura(args: &[&str], extra: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postura")).args(args).args(extra).output().expect("run postura")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A real scan of an OpenSSL server, assessed with the built-in catalog, saved as JSON in `dir`.
fn saved_scan(dir: &Path) -> std::path::PathBuf {
    let server = OpenSslServer::start_auto(&["-min_protocol", "TLSv1.2"]);
    let scanned = scan_lab_target(server.socket_addr(), Service::Tls, "operator", Duration::from_secs(10));
    let report = assess(&scanned, "mozilla-intermediate", Vec::new(), "2026-06-01");
    assert!(report.targets[0].error.is_none(), "{:?}", report.targets[0].error);
    let checks_version = &report.assessment.as_ref().unwrap().checks_version;
    assert!(checks_version.ends_with(" checks, built-in"), "{checks_version}");
    let path = dir.join("scan.json");
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    path
}

#[test]
fn templates_overrides_must_exist_and_must_not_include_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let scan = saved_scan(dir.path());
    let html = dir.path().join("report.html");

    // Built in: the report renders from the embedded templates, and says where the checks came
    // from as the assessment wrote it, with no path of the build machine.
    let output = postura(&["report", "--input"], &[&scan, Path::new("--html"), &html]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(" checks, built-in</dd>"), "the methodology names the checks' source");
    let build_tree = env!("CARGO_MANIFEST_DIR");
    assert!(!page.contains(build_tree), "the report names the build tree {build_tree}");

    // A missing override directory is an error naming it (exit 2), not a silent fallback.
    let missing = dir.path().join("no-such-templates");
    let output =
        postura(&["report", "--input"], &[&scan, Path::new("--html"), &html, Path::new("--templates"), &missing]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains(&missing.display().to_string()), "{}", stderr(&output));
    // The same on `scan`, before any connection is made.
    let output = postura(&["scan", "-q", "127.0.0.1:1", "--html"], &[&html, Path::new("--templates"), &missing]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no such directory"), "{}", stderr(&output));

    // Partials that include each other: refused at load with the chain, exit 2 (not a stack
    // overflow, exit 134).
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(templates.join("partials")).unwrap();
    std::fs::write(templates.join("partials/findings.hbs"), "{{> facts}}").unwrap();
    std::fs::write(templates.join("partials/facts.hbs"), "{{#each this}}{{> findings}}{{/each}}").unwrap();
    let output =
        postura(&["report", "--input"], &[&scan, Path::new("--html"), &html, Path::new("--templates"), &templates]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("templates include each other") && message.contains("findings → facts"), "{message}");

    // A template that includes itself, through a block.
    std::fs::remove_file(templates.join("partials/facts.hbs")).unwrap();
    std::fs::write(templates.join("partials/findings.hbs"), "{{#if findings}}{{> findings}}{{/if}}").unwrap();
    let output =
        postura(&["report", "--input"], &[&scan, Path::new("--html"), &html, Path::new("--templates"), &templates]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("findings → findings"), "{}", stderr(&output));

    // A good override is used; the language files are still the embedded ones.
    std::fs::write(templates.join("partials/findings.hbs"), "<p>custom findings</p>").unwrap();
    let output = postura(
        &["report", "--lang", "es", "--input"],
        &[&scan, Path::new("--html"), &html, Path::new("--templates"), &templates],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<p>custom findings</p>") && page.contains("Resumen ejecutivo"));
}
