//! Issue 15, part 3: signed, tamper-evident report bundles. A real scan of lab servers is
//! bundled (`postura keygen`, `postura bundle`) as a directory and as a .tar; `postura verify`
//! accepts it, and names the file when a report byte, the JSON or the manifest is changed, a file
//! is added or removed, or another key is given.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::assess::{assess, report_of, scan_lab_target};
use common::*;
use postura::facts::CountryInfo;
use postura::profile::Service;

fn postura(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(args)
        .args(paths)
        .env_remove("POSTURA_SIGNING_KEY")
        .output()
        .expect("run postura")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Verify `bundle` with `key`: (exit code, everything printed).
fn verify(bundle: &Path, key: &Path) -> (Option<i32>, String) {
    let output = postura(&["verify"], &[bundle, Path::new("--key"), key]);
    (output.status.code(), text(&output))
}

/// A scan of two lab servers run by two operators, assessed, saved in `dir`.
fn saved_scan(dir: &Path) -> PathBuf {
    let legacy = OpenSslServer::start_auto(&[
        "-cipher",
        "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "-min_protocol",
        "TLSv1.2",
        "-max_protocol",
        "TLSv1.2",
    ]);
    let modern = Nginx::mozilla_intermediate();
    let mut targets = Vec::new();
    for (server, operator) in [(legacy.socket_addr(), "Legacy Telecom"), (modern.socket_addr(), "Modern Telecom")] {
        let mut target = scan_lab_target(server, Service::Tls, "operator", Duration::from_secs(10)).targets.remove(0);
        assert!(target.error.is_none(), "{:?}", target.error);
        target.operator = Some(operator.into());
        targets.push(target);
    }
    let mut report = assess(&report_of(targets), "mozilla-intermediate", Vec::new(), "2026-06-01");
    report.country =
        Some(CountryInfo { code: "ZZ".into(), name: "Testland".into(), policy: None, profile: "zz.toml".into() });
    let path = dir.join("scan.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    path
}

#[test]
fn a_signed_bundle_verifies_and_every_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let scan = saved_scan(dir.path());
    let key = dir.path().join("signing.key");
    let output = postura(&["keygen", "--out"], &[&key]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let public = dir.path().join("signing.key.pub");
    let fingerprint = text(&output).lines().find_map(|l| l.strip_prefix("fingerprint ")).unwrap().trim().to_string();
    // A key is never overwritten.
    assert_eq!(postura(&["keygen", "--out"], &[&key]).status.code(), Some(2));

    let bundle = dir.path().join("bundle");
    let output = postura(
        &["bundle", "--per-operator", "--scan"],
        &[&scan, Path::new("--out"), &bundle, Path::new("--key"), &key],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let mut files: Vec<String> = Vec::new();
    fn walk(dir: &Path, prefix: &str, files: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), files);
            } else {
                files.push(name);
            }
        }
    }
    walk(&bundle, "", &mut files);
    files.sort();
    for expected in [
        "MANIFEST",
        "MANIFEST.sig",
        "scan.json",
        "findings.csv",
        "report.html",
        "policy/mozilla-intermediate.toml",
        "checks/built-in/tls.toml",
        "notices/notice-legacy-telecom.html",
        "notices/notice-legacy-telecom.csv",
        "notices/notice-modern-telecom.html",
    ] {
        assert!(files.contains(&expected.to_string()), "bundle lacks {expected}: {files:?}");
    }
    // The scan JSON is the file as given, byte for byte.
    assert_eq!(std::fs::read(bundle.join("scan.json")).unwrap(), std::fs::read(&scan).unwrap());

    // The report's footer shows the manifest's data digest and the signer's fingerprint; the
    // country report links the bundled notices.
    let manifest = std::fs::read_to_string(bundle.join("MANIFEST")).unwrap();
    let data = manifest.lines().find_map(|l| l.strip_prefix("data ")).unwrap().to_string();
    assert!(data.starts_with("sha256:") && data.len() == 7 + 64);
    assert!(manifest.contains(&format!("key {fingerprint}\n")));
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap();
    let footer = &html[html.rfind("<footer>").unwrap()..];
    assert!(footer.contains(&data) && footer.contains(&fingerprint), "{footer}");
    assert!(html.contains("<a href=\"notices/notice-legacy-telecom.html\">"));

    let (code, out) = verify(&bundle, &public);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("ok, {} files, signed by {fingerprint}", files.len() - 2)), "{out}");

    // Each tampering, on a fresh copy, is refused (exit 1) with the file named.
    let tampered = |name: &str, change: &dyn Fn(&Path)| -> String {
        let copy = dir.path().join(format!("copy-{name}"));
        copy_dir(&bundle, &copy);
        change(&copy);
        let (code, out) = verify(&copy, &public);
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(out.contains("verification FAILED"), "{out}");
        out
    };
    let flip_byte = |path: PathBuf, at: usize| {
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] ^= 0x20;
        std::fs::write(&path, bytes).unwrap();
    };
    let out = tampered("report-byte", &|b| flip_byte(b.join("report.html"), 2000));
    assert!(out.contains("changed: report.html") && !out.contains("changed: scan.json"), "{out}");
    let out = tampered("json", &|b| {
        let text = std::fs::read_to_string(b.join("scan.json")).unwrap();
        std::fs::write(b.join("scan.json"), text.replacen("Testland", "Testlandia", 1)).unwrap();
    });
    assert!(out.contains("changed: scan.json"), "{out}");
    let out = tampered("notice", &|b| flip_byte(b.join("notices/notice-modern-telecom.csv"), 10));
    assert!(out.contains("changed: notices/notice-modern-telecom.csv"), "{out}");
    let out = tampered("manifest", &|b| {
        // Claim another digest for the report: the signature no longer verifies.
        let text = std::fs::read_to_string(b.join("MANIFEST")).unwrap();
        let line = text.lines().find(|l| l.starts_with("report ") && l.ends_with(" report.html")).unwrap();
        let forged = format!("report {} {}", "0".repeat(64), line.splitn(3, ' ').nth(2).unwrap());
        std::fs::write(b.join("MANIFEST"), text.replace(line, &forged)).unwrap();
    });
    assert!(out.contains("MANIFEST: the signature does not verify"), "{out}");
    let out = tampered("added", &|b| std::fs::write(b.join("notices/extra.html"), "<p>added</p>").unwrap());
    assert!(out.contains("added: notices/extra.html"), "{out}");
    let out = tampered("removed", &|b| std::fs::remove_file(b.join("findings.csv")).unwrap());
    assert!(out.contains("missing: findings.csv"), "{out}");
    let out = tampered("signature", &|b| std::fs::write(b.join("MANIFEST.sig"), "AAAA\n").unwrap());
    assert!(out.contains("the signature does not verify"), "{out}");

    // Another key: refused, naming the signer's fingerprint and the key given.
    let other = dir.path().join("other.key");
    assert_eq!(postura(&["keygen", "--out"], &[&other]).status.code(), Some(0));
    let (code, out) = verify(&bundle, &dir.path().join("other.key.pub"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("MANIFEST: signed by key {fingerprint}, not by the key given")), "{out}");
    // A re-signed forgery (manifest rewritten and signed with another key) is refused the same way.
    let forged = dir.path().join("forged");
    let output = postura(&["bundle", "--scan"], &[&scan, Path::new("--out"), &forged, Path::new("--key"), &other]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let (code, out) = verify(&forged, &public);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not by the key given"), "{out}");
}

#[test]
fn a_tar_bundle_verifies_and_a_changed_member_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let scan = saved_scan(dir.path());
    let key = dir.path().join("k");
    assert_eq!(postura(&["keygen", "--out"], &[&key]).status.code(), Some(0));
    let public = dir.path().join("k.pub");
    let tar = dir.path().join("bundle.tar");
    // The key may come from $POSTURA_SIGNING_KEY.
    let output = Command::new(env!("CARGO_BIN_EXE_postura"))
        .args(["bundle", "--lang", "es", "--scan"])
        .arg(&scan)
        .arg("--out")
        .arg(&tar)
        .env("POSTURA_SIGNING_KEY", &key)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let (code, out) = verify(&tar, &public);
    assert_eq!(code, Some(0), "{out}");

    // Rewrite the archive with one member changed (same name and size: only its digest tells).
    let mut archive = tar::Archive::new(std::fs::File::open(&tar).unwrap());
    let changed = dir.path().join("changed.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&changed).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if name == "findings.csv" {
            let at = bytes.len() / 2;
            bytes[at] ^= 0x01;
        }
        let mut header = entry.header().clone();
        builder.append_data(&mut header, &name, bytes.as_slice()).unwrap();
    }
    builder.into_inner().unwrap();
    let (code, out) = verify(&changed, &public);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("changed: findings.csv") && !out.contains("changed: scan.json"), "{out}");
}
