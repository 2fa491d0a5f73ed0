//! The CSV export: one row per finding (targets, zones, resolvers), for spreadsheets.
//!
//! Spreadsheet programs execute a cell that starts with `=`, `+`, `-` or `@` (and some treat a
//! leading tab or carriage return the same way) as a formula, and a host name, an operator or a
//! detail from a hostile server can start with anything. Such cells are prefixed with `'` (the
//! OWASP "CSV injection" advice) and every cell is quoted per RFC 4180.

use super::view::{Document, Lang};
use crate::checks::model::{Finding, Score, Status};

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

/// One cell, quoted, with formula triggers neutralised.
pub fn cell(text: &str) -> String {
    let mut value = String::with_capacity(text.len() + 3);
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        value.push('\'');
    }
    value.push_str(text);
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
    let mut out = String::new();
    row(&mut out, &HEADER);
    let country = document.report.country.as_ref().map_or("", |c| c.code.as_str());
    for target in &document.report.targets {
        let label = format!("{}:{}", target.host, target.port);
        let prefix = [
            country,
            target.sector.as_deref().unwrap_or(""),
            target.operator.as_deref().unwrap_or(""),
            "target",
            label.as_str(),
            target.address.as_deref().unwrap_or(""),
        ];
        let score = score_cells(target.score.as_ref());
        for finding in &target.findings {
            finding_row(&mut out, lang, prefix, &score, finding);
        }
    }
    for zone in &document.report.zones {
        let prefix = [
            country,
            zone.sector.as_deref().unwrap_or(""),
            zone.operator.as_deref().unwrap_or(""),
            "zone",
            zone.name.as_str(),
            "",
        ];
        let score = score_cells(zone.score.as_ref());
        for finding in &zone.findings {
            finding_row(&mut out, lang, prefix, &score, finding);
        }
    }
    for resolver in &document.report.resolvers {
        let prefix = [
            country,
            resolver.sector.as_deref().unwrap_or(""),
            resolver.operator.as_deref().unwrap_or(""),
            "resolver",
            resolver.address.as_str(),
            resolver.address.as_str(),
        ];
        let score = score_cells(resolver.score.as_ref());
        for finding in &resolver.findings {
            finding_row(&mut out, lang, prefix, &score, finding);
        }
    }
    out
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
}
