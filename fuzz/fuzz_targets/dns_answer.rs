//! Fuzz target: whatever a nameserver sends back, decoding an answer ends with a value or an
//! error (no panic, no hang on compression loops), whichever id the query had.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let id = data.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])).unwrap_or(0);
    let _ = postura::dns::wire::decode_answer(data, id);
});
