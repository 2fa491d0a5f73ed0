//! The report's fixed strings in English, Spanish, Portuguese and French
//! (`reports/i18n/<lang>.toml`), and numbers and dates written the way each language writes them.
//!
//! A language file has a `[format]` table (decimal and thousands separators, month names, the
//! date pattern) and a `[text]` table of fixed strings. Every language must have exactly the
//! keys English has: a test compares the key sets, so a string added in one language and
//! forgotten in another fails the build's tests rather than showing up blank to a regulator.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The report languages.
pub const LANGUAGES: [&str; 4] = ["en", "es", "pt", "fr"];

/// The language files shipped in the binary (overridable with `--templates DIR`, which may hold
/// `i18n/<lang>.toml`).
pub const BUILTIN: [(&str, &str); 4] = [
    ("en", include_str!("../../reports/i18n/en.toml")),
    ("es", include_str!("../../reports/i18n/es.toml")),
    ("pt", include_str!("../../reports/i18n/pt.toml")),
    ("fr", include_str!("../../reports/i18n/fr.toml")),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Format {
    pub decimal: String,
    pub thousands: String,
    pub months: Vec<String>,
    /// `{day}`, `{month}`, `{year}` (e.g. "{day} de {month} de {year}").
    pub date: String,
}

/// One language's strings and number/date conventions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strings {
    pub format: Format,
    pub text: BTreeMap<String, String>,
}

impl Strings {
    pub fn parse(lang: &str, source: &str) -> Result<Strings, String> {
        let strings: Strings = toml::from_str(source).map_err(|e| format!("i18n/{lang}.toml: {e}"))?;
        if strings.format.months.len() != 12 {
            return Err(format!("i18n/{lang}.toml: format.months must name 12 months"));
        }
        Ok(strings)
    }

    /// A fixed string; an unknown key is a bug in a template or in this crate, shown loudly.
    pub fn get(&self, key: &str) -> String {
        self.text.get(key).cloned().unwrap_or_else(|| format!("[missing text: {key}]"))
    }

    /// A fixed string with `{name}` placeholders filled in.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.get(key);
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// An integer with the language's thousands separator (12,345 / 12.345 / 12 345).
    pub fn int(&self, value: usize) -> String {
        let digits = value.to_string();
        let mut out = String::with_capacity(digits.len() + 4);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push_str(&self.format.thousands);
            }
            out.push(c);
        }
        out
    }

    /// A number with `decimals` decimals and the language's separators.
    pub fn number(&self, value: f64, decimals: usize) -> String {
        let text = format!("{:.*}", decimals, value.abs());
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let whole = self.int(whole.parse().unwrap_or(0));
        let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') { "−" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}{}{fraction}", self.format.decimal)
        }
    }

    /// A signed difference (+3,5 / −2.0 / ±0).
    pub fn delta(&self, value: f64) -> String {
        if (value * 10.0).round() == 0.0 {
            "±0".into()
        } else if value > 0.0 {
            format!("+{}", self.number(value, 1))
        } else {
            self.number(value, 1)
        }
    }

    /// A percentage of `part` in `whole` ("87,5 %"), or "–" when `whole` is 0.
    pub fn percent(&self, part: usize, whole: usize) -> String {
        if whole == 0 {
            return "–".into();
        }
        let value = 100.0 * part as f64 / whole as f64;
        let space = if self.format.decimal == "." { "" } else { "\u{a0}" };
        format!("{}{space}%", self.number(value, if value.fract() == 0.0 { 0 } else { 1 }))
    }

    /// An RFC 3339 UTC timestamp as a date and time in this language ("28 de noviembre de
    /// 2026, 13:40 UTC"); text that is not RFC 3339 is returned unchanged.
    pub fn datetime(&self, rfc3339: &str) -> String {
        let Some(date) = self.date(rfc3339) else {
            return rfc3339.to_string();
        };
        match rfc3339.get(11..16).filter(|t| t.as_bytes().get(2) == Some(&b':')) {
            Some(time) => format!("{date}, {time} UTC"),
            None => date,
        }
    }

    /// The date part of an RFC 3339 timestamp or a YYYY-MM-DD date, in this language.
    pub fn date(&self, text: &str) -> Option<String> {
        let year: u32 = text.get(0..4)?.parse().ok()?;
        let month: usize = text.get(5..7)?.parse().ok()?;
        let day: u32 = text.get(8..10)?.parse().ok()?;
        if text.get(4..5) != Some("-") || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        Some(
            self.format
                .date
                .replace("{day}", &day.to_string())
                .replace("{month}", &self.format.months[month - 1])
                .replace("{year}", &year.to_string()),
        )
    }
}

/// The strings of `lang`: from `dir/i18n/<lang>.toml` when `dir` has one, else built in.
pub fn load(lang: &str, dir: Option<&std::path::Path>) -> Result<Strings, String> {
    if let Some(path) = dir.map(|d| d.join("i18n").join(format!("{lang}.toml"))).filter(|p| p.is_file()) {
        let source = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Strings::parse(lang, &source);
    }
    let (_, source) = BUILTIN
        .iter()
        .find(|(l, _)| *l == lang)
        .ok_or_else(|| format!("unknown language '{lang}': use en, es, pt or fr"))?;
    Strings::parse(lang, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_follow_the_language() {
        let en = load("en", None).unwrap();
        let es = load("es", None).unwrap();
        let fr = load("fr", None).unwrap();
        assert_eq!(en.number(12345.67, 1), "12,345.7");
        assert_eq!(es.number(12345.67, 1), "12.345,7");
        assert_eq!(fr.number(12345.67, 1), "12\u{202f}345,7");
        assert_eq!(en.delta(-2.04), "−2.0");
        assert_eq!(es.delta(3.5), "+3,5");
        assert_eq!(en.delta(0.01), "±0");
        assert_eq!(en.percent(7, 8), "87.5%");
        assert_eq!(fr.percent(1, 2), "50\u{a0}%");
        assert_eq!(es.datetime("2026-11-28T13:40:05Z"), "28 de noviembre de 2026, 13:40 UTC");
        assert_eq!(en.datetime("2026-03-01T00:00:00Z"), "1 March 2026, 00:00 UTC");
        assert_eq!(en.datetime("garbage"), "garbage");
    }

    #[test]
    fn every_language_has_every_string() {
        let en = load("en", None).unwrap();
        for lang in LANGUAGES {
            let strings = load(lang, None).unwrap();
            let missing: Vec<&String> = en.text.keys().filter(|k| !strings.text.contains_key(*k)).collect();
            let extra: Vec<&String> = strings.text.keys().filter(|k| !en.text.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert!(extra.is_empty(), "{lang} has strings English lacks: {extra:?}");
            let empty: Vec<&String> =
                strings.text.iter().filter(|(_, v)| v.trim().is_empty()).map(|(k, _)| k).collect();
            assert!(empty.is_empty(), "{lang} has empty strings {empty:?}");
        }
    }
}
