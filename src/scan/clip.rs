//! The length cap of strings in facts (docs/json.md, "String lengths"): every string of a
//! finished item longer than [`MAX_FACT_CHARS`] characters is cut there and ends with `…`, so that
//! a host name, a banner, a header or an error message of any size costs at most that much in the
//! JSON, the store and every report. Evidence kept whole for re-checking is exempt: certificate
//! chains and stapled OCSP responses (`*_pem`, `*_base64`: bounded by the TLS record caps) and
//! TLSA association data (`data`: bounded by the DNS message size).

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

/// The longest string a fact may hold, in characters (the `…` that marks a cut excluded).
pub const MAX_FACT_CHARS: usize = 4096;

fn exempt(key: &str) -> bool {
    key.ends_with("pem") || key.ends_with("base64") || key == "data"
}

/// Cut `text` to `max` characters, marking the cut with `…`; true when it was cut.
pub fn clip_in_place(text: &mut String, max: usize) -> bool {
    // A string of at most `max` bytes has at most `max` characters: no count needed.
    if text.len() <= max {
        return false;
    }
    match text.char_indices().nth(max) {
        Some((at, _)) => {
            text.truncate(at);
            text.push('…');
            true
        }
        None => false,
    }
}

/// Clip every string of `value` (not map keys) except under exempt keys; true when any was cut.
pub fn clip_value(value: &mut Value, max: usize) -> bool {
    match value {
        Value::String(text) => clip_in_place(text, max),
        Value::Array(items) => items.iter_mut().fold(false, |cut, item| clip_value(item, max) | cut),
        Value::Object(map) => {
            map.iter_mut().filter(|(key, _)| !exempt(key)).fold(false, |cut, (_, item)| clip_value(item, max) | cut)
        }
        _ => false,
    }
}

/// The item with its strings clipped, and its compact JSON (for the scan's spill file). The
/// item is rebuilt only when a string was cut.
pub fn clip_item<T: Serialize + DeserializeOwned>(item: &mut T) -> serde_json::Result<Vec<u8>> {
    let mut value = serde_json::to_value(&*item)?;
    if clip_value(&mut value, MAX_FACT_CHARS) {
        *item = serde_json::from_value(value.clone())?;
    }
    serde_json::to_vec(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_strings_are_cut_on_a_character_boundary() {
        let mut text = "é".repeat(10);
        assert!(clip_in_place(&mut text, 4));
        assert_eq!(text, "éééé…");
        let mut short = "abc".to_string();
        assert!(!clip_in_place(&mut short, 3));
        assert_eq!(short, "abc");
    }

    #[test]
    fn evidence_is_kept_whole() {
        let mut value = serde_json::json!({"chain_pem": ["x".repeat(10)], "error": "y".repeat(10),
            "tlsa": [{"data": "z".repeat(10)}], "ocsp_staple_base64": "w".repeat(10)});
        assert!(clip_value(&mut value, 5));
        assert_eq!(value["chain_pem"][0].as_str().map(str::len), Some(10));
        assert_eq!(value["tlsa"][0]["data"].as_str().map(str::len), Some(10));
        assert_eq!(value["ocsp_staple_base64"].as_str().map(str::len), Some(10));
        assert_eq!(value["error"], "yyyyy…");
    }
}
