//! The operational command-line surface: shell completions and the man page generated from the
//! CLI definition, and `-v` / `--log-format json` on any command (here a store command that logs).

mod common;

use std::process::{Command, Output};

use common::servers::OpenSslServer;

fn postura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postura")).args(args).output().unwrap()
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let bash = postura(&["completions", "bash"]);
    assert!(bash.status.success());
    let text = String::from_utf8_lossy(&bash.stdout);
    assert!(
        text.contains("_postura()") && text.contains("--resume") && text.contains("history"),
        "{}",
        &text[..text.len().min(300)]
    );
    let zsh = String::from_utf8_lossy(&postura(&["completions", "zsh"]).stdout).into_owned();
    assert!(zsh.starts_with("#compdef postura"), "{}", &zsh[..zsh.len().min(100)]);
    let man = postura(&["man"]);
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.contains(".TH postura 1") && page.contains("history") && page.contains("diff"),
        "{}",
        &page[..page.len().min(300)]
    );
    let unknown = postura(&["completions", "cmd.exe"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn verbose_json_logs_are_one_object_per_line_on_standard_error() {
    let server = OpenSslServer::start_auto(&[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("postura.db");
    let target = server.socket_addr().to_string();
    let output = postura(&[
        "scan",
        &target,
        "--no-revocation",
        "--quiet",
        "--db",
        db.to_str().unwrap(),
        "-vv",
        "--log-format",
        "json",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let events: Vec<serde_json::Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let messages: Vec<&str> = events.iter().filter_map(|e| e["fields"]["message"].as_str()).collect();
    assert!(
        messages.contains(&"scan recorded")
            && messages.contains(&"item stored")
            && messages.contains(&"scan complete in the store"),
        "{messages:?}"
    );
    // Without -v: nothing but warnings, so this scan logs nothing.
    let quiet = postura(&["scan", &target, "--no-revocation", "--quiet", "--db", db.to_str().unwrap()]);
    assert!(quiet.status.success());
    assert!(quiet.stderr.is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));
}
