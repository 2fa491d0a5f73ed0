//! Fuzz target: whatever a server sends back to a ClientHello, every codec decoder must survive
//! it, and every success must re-encode to the bytes it came from.
//!
//! The checks live in `tests/codec_oracle/mod.rs`, shared with the proptests, so the fuzzer and
//! `cargo test` enforce the same properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/codec_oracle/mod.rs"]
mod codec_oracle;

fuzz_target!(|data: &[u8]| codec_oracle::exercise(data));
