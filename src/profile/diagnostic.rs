//! Diagnostics for profile files: a byte offset plus a message and a suggested change, rendered
//! as `FILE:LINE:COLUMN: error: MESSAGE` / `  help: CHANGE`, and the translation of `toml`/serde
//! errors into that form (their raw wording talks about Rust types, not about the profile).

use std::fmt::Write as _;
use std::path::Path;

use super::raw::{self, KeyInfo, Table};
use crate::output::escaped_line;

/// One problem in a profile, located by a byte offset into the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    pub offset: usize,
    pub message: String,
    pub help: String,
}

impl Diagnostic {
    pub fn new(offset: usize, message: impl Into<String>, help: impl Into<String>) -> Self {
        Diagnostic { offset, message: message.into(), help: help.into() }
    }
}

/// Renders diagnostics in file order, one two-line block each.
pub(crate) fn render(mut diagnostics: Vec<Diagnostic>, text: &str, source: &Path) -> String {
    // Stable sort: problems found at the same place keep the order they were found in.
    diagnostics.sort_by_key(|d| d.offset);
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let (line, column) = line_column(text, d.offset);
        // What the profile says is quoted in messages: a control character in it is shown
        // escaped, never sent to the terminal. Writing into a String cannot fail.
        let _ = write!(
            out,
            "{}:{line}:{column}: error: {}\n  help: {}",
            escaped_line(&source.display().to_string()),
            escaped_line(&d.message),
            escaped_line(&d.help)
        );
    }
    out
}

/// 1-based line and column (in characters, as editors count them) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let mut line_text = &before[line_start..];
    if line_start == 0 {
        // A byte-order mark is invisible in editors, so it must not shift column numbers.
        line_text = line_text.strip_prefix('\u{feff}').unwrap_or(line_text);
    }
    (line, line_text.chars().count() + 1)
}

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, because
/// swapped letters ("hots" for "host") are the commonest typo in hand-written keys.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best =
                (d[(i - 1) * width + j] + 1).min(d[i * width + j - 1] + 1).min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo (about one
/// edit per three characters, the threshold rustc uses for its suggestions).
pub(crate) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let limit = lower.chars().count().max(3) / 3;
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Translates a `toml` deserialization error (syntax or serde) into a diagnostic.
pub(super) fn from_toml(error: &toml::de::Error, text: &str) -> Diagnostic {
    let span = error.span().unwrap_or(0..0);
    let mut start = span.start.min(text.len());
    // The text around the span is sliced below; never split a character.
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let message = error.message();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return unknown_key(start, rest);
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return missing_key(start, span.is_empty(), rest, text);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        return wrong_type(start, rest, text);
    }
    if message.starts_with("invalid value: ")
        || message.starts_with("invalid length ")
        || message.starts_with("number too large")
    {
        return bad_value(start, message, text);
    }
    syntax(start, message, text)
}

fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

fn unknown_key(offset: usize, rest: &str) -> Diagnostic {
    let quoted = backticked(rest);
    let Some((&raw_key, expected)) = quoted.split_first() else {
        return Diagnostic::new(
            offset,
            format!("unknown key {}", rest.escape_debug()),
            "remove it; see profiles/example.toml for the keys a profile may contain",
        );
    };
    // A quoted key may hold any character; keep each diagnostic on its own two lines.
    let key = &raw_key.escape_debug().to_string();
    // serde lists the struct's fields, which identifies the table the key was found in.
    let table = raw::table_with_keys(expected);
    let (place, allowed): (String, Vec<&str>) = match table {
        Some(t) => (t.describe(), t.keys.iter().map(|k| k.name).collect()),
        None => ("in this table".to_string(), expected.to_vec()),
    };
    let list = allowed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
    let help = match closest(key, allowed.iter().copied()) {
        Some(near) => format!("did you mean `{near}`? keys allowed {place}: {list}"),
        None => format!("remove `{key}`; keys allowed {place}: {list}"),
    };
    Diagnostic::new(offset, format!("unknown key `{key}` {place}"), help)
}

fn missing_key(offset: usize, empty_span: bool, rest: &str, text: &str) -> Diagnostic {
    let key = backticked(rest).first().copied().unwrap_or(rest);
    // The span covers the table that lacks the key; an empty span at 0 is the document root.
    let table = if empty_span && offset == 0 {
        Some(&raw::ROOT)
    } else {
        table_at(text, offset).or_else(|| raw::table_of_key(key))
    };
    let place = table.map_or_else(|| "in this table".to_string(), Table::describe);
    let help = match table.and_then(|t| t.key(key)) {
        // Tables are described by their example alone; values also say what they hold.
        Some(info) if info.expects.contains("table") => format!("add {}", info.example),
        Some(info) => format!("add {} ({})", info.example, info.expects),
        None => format!("add `{key}`; see profiles/example.toml"),
    };
    Diagnostic::new(offset, format!("missing required key `{key}` {place}"), help)
}

/// The table whose header or inline value starts at `offset`, when that can be seen in the text.
fn table_at(text: &str, offset: usize) -> Option<&'static Table> {
    key_at(text, offset).and_then(|k| raw::TABLES.iter().find(|t| t.name == k))
}

/// The key whose value (or `[table]` header) starts at `offset`. Best effort: it reads the text
/// around the span because serde errors carry a position but not the key path.
fn key_at(text: &str, offset: usize) -> Option<&str> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let at = &text[offset..];
    if text[line_start..offset].trim().is_empty() && at.starts_with('[') {
        let inner = at.trim_start_matches('[');
        let end = inner.find(']')?;
        let header = inner[..end].trim();
        return header.rsplit('.').next().map(str::trim);
    }
    let before = &text[..offset];
    let eq = before.rfind('=')?;
    let key_text = before[..eq].trim_end();
    // Past the character before the key, whatever its width (a BOM, a non-ASCII letter).
    let key_start = key_text
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let key = &key_text[key_start..];
    (!key.is_empty()).then_some(key)
}

fn key_info(text: &str, offset: usize) -> Option<(&'static KeyInfo, &str)> {
    let key = key_at(text, offset)?;
    // `name`, `sector` and `operator` exist in several tables: prefer the enclosing one.
    let info = enclosing_table(text, offset).and_then(|t| t.key(key)).or_else(|| raw::key_info(key))?;
    Some((info, key))
}

/// The table named by the last `[header]` line before `offset` (the root if there is none).
fn enclosing_table(text: &str, offset: usize) -> Option<&'static Table> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let header = text[..line_start].lines().rev().map(str::trim_start).find(|line| line.starts_with('['));
    let Some(header) = header else {
        return Some(&raw::ROOT);
    };
    let inner = header.trim_start_matches('[');
    let name = inner[..inner.find(']')?].trim();
    raw::TABLES.iter().find(|t| t.name == name)
}

fn wrong_type(offset: usize, rest: &str, text: &str) -> Diagnostic {
    let found_raw = rest.split(", expected ").next().unwrap_or(rest);
    let found = describe_found(found_raw, &text[offset..]);
    match key_info(text, offset) {
        Some((info, key)) => {
            let help = if found_raw.starts_with("string") && info.expects.starts_with("an integer") {
                format!("remove the quotes: {}", info.example)
            } else if info.expects.starts_with("a string") && !found_raw.starts_with("map") {
                format!("quote the value: {}", info.example)
            } else {
                format!("write it as {}", info.example)
            };
            Diagnostic::new(offset, format!("`{key}` must be {}, found {found}", info.expects), help)
        }
        None => Diagnostic::new(
            offset,
            format!("wrong type: found {found}, expected {}", expected_of(rest)),
            "see profiles/example.toml for the type of each key",
        ),
    }
}

/// Rewords serde's Rust-flavoured type names in TOML terms.
fn describe_found(found: &str, value_text: &str) -> String {
    if found == "map" {
        // toml hands dates to serde as a one-entry map; the text tells them apart.
        return if value_text.starts_with('{') || value_text.starts_with('[') {
            "a table".to_string()
        } else {
            "a date/time".to_string()
        };
    }
    if found == "sequence" {
        return "an array".to_string();
    }
    let found = found.replace('`', "");
    let found = found.strip_prefix("floating point ").map_or(found.clone(), |v| format!("float {v}"));
    found
}

fn expected_of(rest: &str) -> String {
    let expected = rest.split(", expected ").nth(1).unwrap_or("another type");
    match expected {
        "i64" | "u16" | "u32" | "u64" => "an integer".to_string(),
        "a sequence" => "an array".to_string(),
        "a map" | "struct" => "a table".to_string(),
        other => other.to_string(),
    }
}

fn bad_value(offset: usize, message: &str, text: &str) -> Diagnostic {
    let message = message.replace('\n', "; ");
    match key_info(text, offset) {
        Some((info, key)) => Diagnostic::new(
            offset,
            format!("`{key}` must be {}: {message}", info.expects),
            format!("write it as {}", info.example),
        ),
        None => Diagnostic::new(offset, message, "see profiles/example.toml for valid values"),
    }
}

fn syntax(offset: usize, message: &str, text: &str) -> Diagnostic {
    let first = message.lines().next().unwrap_or(message);
    let summary = format!("invalid TOML: {}", message.replace('\n', "; "));
    let at = &text[offset..];
    let help = if let Some(key) =
        backticked(message).first().filter(|_| message.contains("duplicate key")).map(|k| k.escape_debug().to_string())
    {
        if first.starts_with("invalid table header") {
            format!(
                "a [table] may appear only once: merge the two [{key}] sections, or use [[{key}]] for every entry if it is a list"
            )
        } else {
            format!("a key may appear only once per table: remove one of the `{key}` lines")
        }
    } else if first == "invalid string" {
        let word: String = at.chars().take_while(|c| !c.is_whitespace() && *c != '#' && *c != ',').collect();
        let key = key_at(text, offset);
        let info = key_info(text, offset).map(|(info, _)| info);
        match (key, info, word.is_empty()) {
            (Some(key), Some(info), _) if info.expects.contains("integer") => {
                format!("`{key}` takes {}, e.g. {}", info.expects, info.example)
            }
            (Some(key), _, false) => {
                format!("text values must be quoted: write {key} = \"{word}\"")
            }
            (Some(key), Some(info), true) => {
                format!("give `{key}` a value after `=`, e.g. {}", info.example)
            }
            (_, _, false) => format!("text values must be quoted: write \"{word}\""),
            (_, _, true) => "write a value after `=`".to_string(),
        }
    } else if first == "invalid basic string" || first == "invalid literal string" {
        "close the string with a matching quote before the end of the line (use \"\"\" for multi-line text)".to_string()
    } else if first == "invalid escape sequence" {
        "escape a backslash as \\\\, or use a 'literal string' in single quotes".to_string()
    } else if first == "invalid array" {
        "close the array with `]`, separating its values with commas".to_string()
    } else if first == "invalid inline table" {
        "an inline table must be closed with `}` on the same line; or use a [table] section".to_string()
    } else if first == "invalid table header" {
        "a table header is [name] or [[name]] alone on its line".to_string()
    } else if first.starts_with("expected newline") {
        "each `key = value` goes on its own line; anything after the value must be a # comment".to_string()
    } else if first.starts_with("expected `.`, `=`") {
        "write `key = value`".to_string()
    } else {
        "fix the TOML syntax here; see profiles/example.toml for the layout".to_string()
    };
    Diagnostic::new(offset, summary, help)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/fuzz_targets/profile_load.rs`: a key preceded by a multi-byte character
    /// (here the file's BOM) in a file with a syntax error sliced inside that character, and
    /// `postura profile check` exited 101.
    #[test]
    fn key_after_a_multibyte_character_does_not_panic() {
        let text = "\u{feff}dB =r# vice\n";
        assert_eq!(key_at(text, text.find('r').unwrap()), Some("dB"));
        let text = "\u{a0}ñame = x\n";
        assert_eq!(key_at(text, text.find('x').unwrap()), Some("ame"));
        let error = toml::from_str::<toml::Table>("\u{feff}dB =r# vice\n").unwrap_err();
        let diagnostic = from_toml(&error, "\u{feff}dB =r# vice\n");
        assert!(diagnostic.message.starts_with("invalid TOML"), "{}", diagnostic.message);
    }

    #[test]
    fn line_column_counts_characters_and_skips_bom() {
        let text = "a = 1\nñb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 999), (3, 1));
        assert_eq!(line_column("\u{feff}x = 1", 3), (1, 1));
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("hots", "host"), 1);
        assert_eq!(edit_distance("adress", "address"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest("prot", ["host", "port"]), Some("port"));
        assert_eq!(closest("zzzz", ["host", "port"]), None);
    }
}
