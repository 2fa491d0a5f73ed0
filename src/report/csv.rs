//! The CSV export: one row per finding (targets, zones, resolvers), for spreadsheets.
//!
//! Spreadsheet programs execute a cell that starts with `=`, `+`, `-` or `@` (and some treat a
//! leading tab or carriage return the same way) as a formula, and a host name, an operator or a
//! detail from a hostile server can start with anything. Such cells are prefixed with `'` (the
//! OWASP "CSV injection" advice) and every cell is quoted per RFC 4180.

use serde_json::Value;

use super::view::{Document, Lang};
use crate::checks::model::{Finding, Status};

pub const HEADER: [&str; 13] = [
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

fn finding_row(out: &mut String, lang: &Lang, prefix: [&str; 6], finding: &Finding) {
    let title = lang
        .catalog
        .and_then(|c| c.get(&finding.check))
        .map_or(finding.title.clone(), |c| c.text(lang.lang).title.clone());
    let expires = finding
        .exception
        .as_ref()
        .map_or("", |e| e.expires.as_str());
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
        ],
    );
}

/// The CSV text of a scan, in the report's language for check titles.
pub fn render(document: &Document, lang: &Lang) -> String {
    let mut out = String::new();
    row(&mut out, &HEADER);
    let country = document
        .report
        .country
        .as_ref()
        .map_or("", |c| c.code.as_str());
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
        for finding in &target.findings {
            finding_row(&mut out, lang, prefix, finding);
        }
    }
    for (kind, key) in [("zone", "zones"), ("resolver", "resolvers")] {
        for item in document
            .raw
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
            let name = ["zone", "name", "host", "address"]
                .iter()
                .map(|k| text(k))
                .find(|s| !s.is_empty())
                .unwrap_or("");
            let findings: Vec<Finding> = item
                .get("findings")
                .and_then(|f| serde_json::from_value(f.clone()).ok())
                .unwrap_or_default();
            let prefix = [
                country,
                text("sector"),
                text("operator"),
                kind,
                name,
                text("address"),
            ];
            for finding in &findings {
                finding_row(&mut out, lang, prefix, finding);
            }
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
