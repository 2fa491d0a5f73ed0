//! The `postura` binary as a user runs it: exit codes, input errors, JSON output, `--resolve`,
//! profiles and scope.

mod common;

use std::process::{Command, Output};

use common::*;

fn postura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postura")).args(args).output().expect("run postura")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_the_scan_options() {
    let output = postura(&["scan", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--profile",
        "--resolve",
        "--json",
        "--concurrency",
        "--per-host",
        "--timeout",
        "--deadline",
        "--all-addresses",
        "--ca-file",
        "--no-revocation",
        "--quiet",
        "--root-hints",
        "--dns-resolver",
        "--dns-signed-name",
        "--dns-bogus-name",
        "--dns-timeout",
        "--asn-table",
        "smtp://HOST",
        "dns://ZONE",
        "resolver://ADDRESS",
        "--policy",
        "--checks",
        "--fail-on",
        "--lang",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn usage_and_input_errors_exit_2_before_any_connection() {
    for args in [
        vec!["scan"],
        vec!["scan", "bad host"],
        vec!["scan", "example.test:0"],
        vec!["scan", "example.test", "--resolve", "example.test:443"],
        vec!["scan", "example.test", "--timeout", "-1"],
        vec!["scan", "example.test", "--per-host", "0"],
        vec!["scan", "--profile", "/nonexistent/profile.toml"],
        vec!["scan", "example.test", "--json", "/nonexistent-dir/out.json"],
        vec!["frobnicate"],
        vec!["scan", "dns://example.test:53"],
        vec!["scan", "dns://bad zone"],
        vec!["scan", "resolver://not-an-address"],
        vec!["scan", "dns://example.test", "--root-hints", "/nonexistent/hints"],
        vec!["scan", "dns://example.test", "--dns-resolver", "nope"],
        vec!["scan", "dns://example.test", "--asn-table", "/nonexistent/asn.txt"],
        vec!["scan", "smtp://example.test:0"],
    ] {
        let output = postura(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).is_empty(), "{args:?} printed no reason");
    }
}

#[test]
fn profile_check_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Uruguay\"\n[scope]\nnames = [\"example.uy\"]\n[[endpoints]]\nhost = \"www.example.uy\"\nservice = \"htps\"\nsector = \"regulator\"\n").unwrap();
    let output = postura(&["profile", "check", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains(&format!("{}:9:", path.display())), "{text}");
    assert!(text.contains("help:"), "{text}");

    let output = postura(&["profile", "check", concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/example.toml")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn scan_writes_the_json_contract_and_honours_resolve() {
    let server = OpenSslServer::start_auto(&["-no_tls1_3", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA"]);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("scan.json");
    let target = format!("{TEST_HOST}:{}", server.port);
    let pin = format!("{TEST_HOST}:{}:{}", server.port, server.addr);
    let output = postura(&["scan", &target, "--resolve", &pin, "--json", json.to_str().unwrap(), "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(output.stdout.is_empty(), "--quiet prints nothing");

    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let t = &doc["targets"][0];
    assert_eq!(t["host"], TEST_HOST);
    assert_eq!(t["address"], server.addr.to_string());
    assert_eq!(t["sni"], TEST_HOST);
    assert!(t["error"].is_null());
    assert_eq!(t["tls"]["protocols"], serde_json::json!(["TLSv1.2"]));
    assert_eq!(
        t["tls"]["cipher_suites"]["TLSv1.2"],
        serde_json::json!(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA"])
    );
    assert_eq!(t["tls"]["server_preference"]["TLSv1.2"], false);
    assert!(t["tls"]["connections"].as_u64().unwrap() > 0);
    assert_eq!(t["tls"]["chain_pem"].as_array().unwrap().len(), 2);
    assert!(t["tls"]["groups"].as_array().unwrap().iter().any(|g| g == "x25519"));

    // The human summary names the target and its suites.
    let output = postura(&["scan", &target, "--resolve", &pin]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "{text}");
    assert!(text.contains("1 target(s) scanned, 0 with errors"), "{text}");
}

#[test]
fn profile_scan_refuses_targets_outside_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("zz.toml");
    std::fs::write(
        &profile,
        "schema_version = 1\n[country]\ncode = \"ZZ\"\nname = \"Test\"\n[scope]\nnames = [\"postura.test\"]\nnetworks = [\"127.0.0.0/8\"]\n[[endpoints]]\nhost = \"postura.test\"\nport = 9\nservice = \"tls\"\naddress = \"127.0.0.1\"\nsector = \"operator\"\n",
    )
    .unwrap();
    let output = postura(&["scan", "--profile", profile.to_str().unwrap(), "outside.example:443", "--quiet"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("outside the profile's declared scope"), "{}", stderr(&output));
}

#[test]
fn profile_exceptions_apply_until_their_date() {
    let server = OpenSslServer::start_auto(&["-no_tls1_3"]);
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("zz.toml");
    let text = format!(
        "schema_version = 1\n[country]\ncode = \"ZZ\"\nname = \"Test\"\n[scope]\nnames = [\"postura.test\"]\nnetworks = [\"127.0.0.0/8\"]\n[weights]\noperator = 2\n[[endpoints]]\nhost = \"postura.test\"\nport = {}\nservice = \"tls\"\naddress = \"{}\"\nsector = \"operator\"\n[[exceptions]]\ncheck = \"tls.protocol.no_tls13\"\ntarget = \"postura.test:{}\"\nreason = \"upgrade planned\"\napproved_by = \"CISO\"\nexpires = 2030-06-30\n",
        server.port, server.addr, server.port
    );
    std::fs::write(&profile, text).unwrap();
    let run = |today: &str| {
        let json = dir.path().join(format!("{today}.json"));
        let output = Command::new(env!("CARGO_BIN_EXE_postura"))
            .args([
                "scan",
                "--quiet",
                "--profile",
                profile.to_str().unwrap(),
                "--json",
                json.to_str().unwrap(),
                "--fail-on",
                "low",
            ])
            .env("POSTURA_TODAY", today)
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let finding = doc["targets"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "tls.protocol.no_tls13")
            .cloned()
            .unwrap();
        (output.status.code(), finding, doc["assessment"].clone())
    };
    let (_, finding, assessment) = run("2030-06-30");
    assert_eq!(finding["status"], "excepted");
    assert_eq!(finding["exception"]["approved_by"], "CISO");
    assert_eq!(assessment["counts"]["excepted"], 1);
    assert_eq!(assessment["sectors"][0]["weight"], 2.0);
    let (code, finding, _) = run("2030-07-01");
    assert_eq!(finding["status"], "fail");
    assert_eq!(finding["exception"]["expired"], true);
    assert_eq!(code, Some(1), "--fail-on low: the expired exception's finding gates");
}
