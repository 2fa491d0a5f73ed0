//! Fuzz target: whatever a check file (or policy file) holds, loading it ends with checks or
//! errors naming file:line:column (no panic, no stack overflow), and the checks it yields are
//! evaluated over the facts of a real server (`fuzz/documents/target.json`, a scan of
//! `openssl s_server`) within their budget: a rule may be inconclusive, never crash the scan.
//! Panics inside the CEL interpreter are caught at run time; the load-time checks are meant to
//! refuse every rule known to cause one, so a caught panic fails this target too, to find the
//! next kind.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use postura::checks::catalog::{parse_file, AppliesTo, Catalog};
use postura::checks::evaluate::{plain_document, target_document, Judge};
use postura::checks::policy::Policy;
use postura::checks::schema_paths::FactSchema;
use postura::facts::ScanReport;

struct Fixture {
    schemas: FactSchema,
    catalog: Catalog,
    policy: Policy,
    documents: Vec<(AppliesTo, serde_json::Value)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let catalog = Catalog::builtin().expect("built-in catalog");
        let policy = Policy::load("mozilla-intermediate", &catalog).expect("policy");
        let report: ScanReport =
            serde_json::from_str(include_str!("../documents/target.json")).expect("fixture scan");
        let mut documents: Vec<(AppliesTo, serde_json::Value)> = report
            .targets
            .iter()
            .map(|t| (AppliesTo::Target, target_document(t)))
            .collect();
        documents.extend(report.zones.iter().map(|z| (AppliesTo::Zone, plain_document(z))));
        documents.extend(report.resolvers.iter().map(|r| (AppliesTo::Resolver, plain_document(r))));
        Fixture { schemas: FactSchema::new(), catalog, policy, documents }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let text = String::from_utf8_lossy(data);
    // The same text as a policy file: the other TOML file a country writes.
    let _ = Policy::parse(&text, Path::new("fuzz-policy.toml"), &fixture.catalog);
    let checks = match parse_file(&text, Path::new("fuzz.toml"), &fixture.schemas, false) {
        Ok(checks) => checks,
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in errors {
                assert!(error.line >= 1 && error.column >= 1, "{error}");
            }
            return;
        }
    };
    let judge = Judge {
        checks: &checks,
        policy: &fixture.policy,
        lang: "en",
        exceptions: &[],
        today: "2026-12-01",
    };
    for (scope, document) in &fixture.documents {
        for finding in judge.findings(*scope, document, "postura.test", Some(443)) {
            let reason = finding.detail.get("inconclusive").and_then(|v| v.as_str()).unwrap_or("");
            assert!(!reason.contains("the CEL interpreter failed"), "{reason}");
        }
    }
});
