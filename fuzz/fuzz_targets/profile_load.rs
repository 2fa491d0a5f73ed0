//! Fuzz target: whatever a profile file holds, loading it ends with a profile or a diagnostic
//! (no panic, no hang), as `postura scan --profile` and `postura profile check` load it.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match postura::profile::Profile::parse(&text, Path::new("fuzz.toml")) {
        Ok(profile) => {
            // A loaded profile is within its own scope (`Profile::parse` guarantees it).
            assert!(profile.scope_violations().is_empty());
        }
        Err(error) => {
            assert!(!error.0.is_empty());
        }
    }
});
