//! The CSV export: one row per finding (targets, zones, resolvers), for spreadsheets.
//!
//! Spreadsheet programs execute a cell that starts with `=`, `+`, `-` or `@` (and some treat a
//! leading tab or carriage return the same way) as a formula, and a host name, an operator or a
//! detail from a hostile server can start with anything. Such cells are prefixed with `'` (the
//! OWASP "CSV injection" advice) and every cell is quoted per RFC 4180.
//!
//! The CSV is written row by row as the items are read ([`write`]), and no cell is longer than
//! [`MAX_CELL_CHARS`] characters (a longer value is cut and ends with `…`): one enormous host
//! name must not become gigabytes of rows.

use std::io::Write;

use super::stream::{ItemSource, Kind};
use super::view::{Document, Lang};
use super::ReportError;
use crate::checks::model::{Finding, Score, Status};
use crate::scan::Item;

pub const HEADER: [&str; 15] = [
    "country",
    "sector",
    "operator",
    "kind",
    "target",
    "address",
    "check",
    "category",
    "status",
    "severity",
    "title",
    "detail",
    "exception_expires",
    // The item's score (after its cap) and the cap's reason, on each of its rows.
    "item_score",
    "item_score_cap",
];

/// The longest cell, in characters (the `…` marking a cut excluded).
pub const MAX_CELL_CHARS: usize = 1000;

/// One cell, quoted, with formula triggers neutralised, at most [`MAX_CELL_CHARS`] characters.
pub fn cell(text: &str) -> String {
    let mut value = String::with_capacity(text.len().min(4 * MAX_CELL_CHARS) + 3);
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        value.push('\'');
    }
    match text.char_indices().nth(MAX_CELL_CHARS) {
        Some((at, _)) => {
            value.push_str(&text[..at]);
            value.push('…');
        }
        None => value.push_str(text),
    }
    format!("\"{}\"", value.replace('"', "\"\""))
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Inconclusive => "inconclusive",
        Status::Excepted => "excepted",
    }
}

fn row(out: &mut String, fields: &[&str]) {
    let cells: Vec<String> = fields.iter().map(|f| cell(f)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// An item's score and the reason of its cap, as two cells.
fn score_cells(score: Option<&Score>) -> [String; 2] {
    [
        score.and_then(|s| s.value).map_or_else(String::new, |v| format!("{v:.1}")),
        score.and_then(|s| s.cap.as_ref()).map_or_else(String::new, |c| c.reason()),
    ]
}

fn finding_row(out: &mut String, lang: &Lang, prefix: [&str; 6], score: &[String; 2], finding: &Finding) {
    let title = lang
        .catalog
        .and_then(|c| c.get(&finding.check))
        .map_or(finding.title.clone(), |c| c.text(lang.lang).title.clone());
    let expires = finding.exception.as_ref().map_or("", |e| e.expires.as_str());
    let [country, sector, operator, kind, target, address] = prefix;
    row(
        out,
        &[
            country,
            sector,
            operator,
            kind,
            target,
            address,
            &finding.check,
            &finding.category,
            status(finding.status),
            finding.severity.name(),
            &title,
            &super::view::detail_line(finding),
            expires,
            &score[0],
            &score[1],
        ],
    );
}

/// The CSV text of a scan, in the report's language for check titles.
pub fn render(document: &Document, lang: &Lang) -> String {
    let mut out = Vec::new();
    let country = document.report.country.as_ref().map_or("", |c| c.code.as_str());
    // Writing to memory fails only if an item cannot be rendered, which never happens here.
    let _ = write(&mut out, document, country, lang);
    String::from_utf8_lossy(&out).into_owned()
}

/// Write the CSV of the items of `source` to `out`, one item's rows at a time.
pub fn write(out: &mut dyn Write, source: &dyn ItemSource, country: &str, lang: &Lang) -> Result<(), ReportError> {
    let mut text = String::new();
    row(&mut text, &HEADER);
    out.write_all(text.as_bytes())?;
    for kind in [Kind::Target, Kind::Zone, Kind::Resolver] {
        source.each(kind, &mut |item| {
            let mut text = String::new();
            item_rows(&mut text, country, lang, item);
            out.write_all(text.as_bytes())?;
            Ok(())
        })?;
    }
    Ok(())
}

/// The header line.
pub fn header() -> String {
    let mut text = String::new();
    row(&mut text, &HEADER);
    text
}

/// One item's rows: one per finding.
pub fn item_rows(out: &mut String, country: &str, lang: &Lang, item: Item<'_>) {
    let (sector, operator, kind, label, address, score, findings) = match item {
        Item::Target(t) => (
            &t.sector,
            &t.operator,
            "target",
            format!("{}:{}", t.host, t.port),
            t.address.as_deref().unwrap_or(""),
            &t.score,
            &t.findings,
        ),
        Item::Zone(z) => (&z.sector, &z.operator, "zone", z.name.clone(), "", &z.score, &z.findings),
        Item::Resolver(r) => {
            (&r.sector, &r.operator, "resolver", r.address.clone(), r.address.as_str(), &r.score, &r.findings)
        }
    };
    let prefix =
        [country, sector.as_deref().unwrap_or(""), operator.as_deref().unwrap_or(""), kind, label.as_str(), address];
    let score = score_cells(score.as_ref());
    for finding in findings {
        finding_row(out, lang, prefix, &score, finding);
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formula_triggers_are_neutralised_and_quotes_doubled() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for start in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(start).starts_with("\"'"), "{start}");
        }
        assert_eq!(cell("example.org"), "\"example.org\"");
    }

    #[test]
    fn cells_are_cut_at_the_documented_length() {
        let long = "é".repeat(super::MAX_CELL_CHARS + 10);
        let cut = cell(&long);
        assert_eq!(cut.chars().count(), super::MAX_CELL_CHARS + 3, "quotes and the mark");
        assert!(cut.ends_with("…\""));
        assert_eq!(cell(&"x".repeat(super::MAX_CELL_CHARS)).len(), super::MAX_CELL_CHARS + 2);
    }
}
