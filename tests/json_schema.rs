//! The published JSON Schema of the scan result must be the one the code generates: a change
//! of the result types without `postura schema > docs/scan-result.schema.json` fails here.

#[test]
fn committed_schema_matches_the_generated_one() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scan-result.schema.json"))
        .expect("docs/scan-result.schema.json is missing");
    let generated = postura::facts::schema_json();
    assert!(
        committed == generated,
        "docs/scan-result.schema.json is out of date: run `cargo run -- schema > docs/scan-result.schema.json`"
    );
}

#[test]
fn schema_names_the_contract_paths() {
    let schema: serde_json::Value = serde_json::from_str(&postura::facts::schema_json()).unwrap();
    let text = schema.to_string();
    for path in
        ["schema_version", "targets", "cipher_suites", "server_preference", "groups", "connections", "chain_pem"]
    {
        assert!(text.contains(&format!("\"{path}\"")), "schema lacks {path}");
    }
    for protocol in ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"] {
        assert!(text.contains(protocol), "schema lacks protocol spelling {protocol}");
    }
}
