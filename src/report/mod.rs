//! Reports for regulators: the country report and the regional comparison as one
//! self-contained HTML file each (handlebars templates in `reports/`, inline CSS and SVG, no
//! script), and the CSV export. JSON stays the scan document itself.
//!
//! The numbers are computed in [`view`]; templates only lay them out. Handlebars runs in strict
//! mode (a template naming a field the view lacks is an error, not a blank) and escapes every
//! `{{value}}`: all text that came from the network goes through that escaping. The only
//! unescaped insertions are postura's own SVG charts (labels escaped in [`svg`]) and its CSS.
//!
//! Templates and language files are built in (embedded in the binary: nothing is read from the
//! directory postura was built in); `--templates DIR` overrides any of them by the same relative
//! name (`DIR/country.hbs`, `DIR/partials/style.hbs`, `DIR/i18n/es.toml`, …). A `DIR` that does
//! not exist is an error, and so are templates that include each other ([`include`]).

pub mod csv;
pub mod i18n;
pub mod include;
pub mod notices;
pub mod stream;
pub mod svg;
pub mod trend;
pub mod view;

pub use stream::{ItemSource, ScanFile};

use std::path::Path;

use handlebars::Handlebars;

use crate::checks::catalog::Catalog;
use view::{Document, Lang};

/// The templates shipped in the binary: (name, file under `reports/`, text).
pub const TEMPLATES: [(&str, &str, &str); 11] = [
    ("country", "country.hbs", include_str!("../../reports/country.hbs")),
    ("regional", "regional.hbs", include_str!("../../reports/regional.hbs")),
    ("notice", "notice.hbs", include_str!("../../reports/notice.hbs")),
    ("style", "partials/style.hbs", include_str!("../../reports/partials/style.hbs")),
    ("findings", "partials/findings.hbs", include_str!("../../reports/partials/findings.hbs")),
    ("item", "partials/item.hbs", include_str!("../../reports/partials/item.hbs")),
    ("evidence-tls", "partials/evidence-tls.hbs", include_str!("../../reports/partials/evidence-tls.hbs")),
    ("facts", "partials/facts.hbs", include_str!("../../reports/partials/facts.hbs")),
    ("trend", "partials/trend.hbs", include_str!("../../reports/partials/trend.hbs")),
    ("pqc", "partials/pqc.hbs", include_str!("../../reports/partials/pqc.hbs")),
    ("clients", "partials/clients.hbs", include_str!("../../reports/partials/clients.hbs")),
];

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("rendering {name}: {message}")]
    Render { name: String, message: String },
    #[error("{0}")]
    Language(String),
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
    /// The scan document could not be read.
    #[error("{0}")]
    Input(String),
}

/// Templates and strings of one language, ready to render any number of reports.
pub struct Renderer {
    handlebars: Handlebars<'static>,
    strings: i18n::Strings,
    lang: String,
    /// The bundle manifest's data digest and the signer's key fingerprint, shown in the footer
    /// of reports written into a signed bundle (`crate::bundle`).
    stamp: serde_json::Value,
    /// The trend over the last scans (`trend::view`), null when there is none.
    trend: serde_json::Value,
}

impl Renderer {
    /// Load the templates (built in, or overridden from `templates`) and the strings of `lang`.
    pub fn new(lang: &str, templates: Option<&Path>) -> Result<Renderer, ReportError> {
        if let Some(dir) = templates.filter(|d| !d.is_dir()) {
            return Err(ReportError::Template {
                name: dir.display().to_string(),
                message: "--templates: no such directory".into(),
            });
        }
        let strings = i18n::load(lang, templates).map_err(ReportError::Language)?;
        let mut handlebars = Handlebars::new();
        handlebars.set_strict_mode(true);
        // Partials are inlined as written: re-indenting their output costs time on big reports
        // and changes nothing a browser shows.
        handlebars.set_prevent_indent(true);
        for (name, file, builtin) in TEMPLATES {
            let source = match templates.map(|d| d.join(file)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| ReportError::Template { name: path.display().to_string(), message: e.to_string() })?,
                None => builtin.to_string(),
            };
            handlebars
                .register_template_string(name, source)
                .map_err(|e| ReportError::Template { name: file.to_string(), message: e.to_string() })?;
        }
        include::check(&handlebars).map_err(|message| ReportError::Template {
            name: templates.map_or_else(|| "built-in".into(), |d| d.display().to_string()),
            message,
        })?;
        Ok(Renderer {
            handlebars,
            strings,
            lang: lang.to_string(),
            stamp: serde_json::Value::Null,
            trend: serde_json::Value::Null,
        })
    }

    /// Reports rendered from now on show `digest` (the bundle manifest's data digest) and the
    /// signer's key `fingerprint` in their footer.
    pub fn stamp(&mut self, digest: &str, fingerprint: &str) {
        self.stamp = serde_json::json!({"digest": digest, "fingerprint": fingerprint});
    }

    /// Country reports rendered from now on show the trend over these scans (from the store,
    /// oldest first); fewer than two show none.
    pub fn set_trend(&mut self, rows: Vec<crate::store::TrendRow>) {
        self.trend = trend::view(&rows, &self.strings);
    }

    pub(crate) fn lang<'a>(&'a self, catalog: Option<&'a Catalog>) -> Lang<'a> {
        Lang { strings: &self.strings, catalog, lang: &self.lang }
    }

    fn render(&self, name: &str, data: &serde_json::Value) -> Result<String, ReportError> {
        let mut data = data.clone();
        data["stamp"] = self.stamp.clone();
        data["trend"] = self.trend.clone();
        self.handlebars
            .render(name, &data)
            .map_err(|e| ReportError::Render { name: name.to_string(), message: e.to_string() })
    }

    /// The country report of a scan (with changes since `previous` when given). Check titles and
    /// remediation come from `catalog` in the report's language.
    pub fn country(
        &self,
        document: &Document,
        previous: Option<&Document>,
        catalog: Option<&Catalog>,
    ) -> Result<String, ReportError> {
        let mut out = Vec::new();
        self.country_to(&mut out, document, previous, catalog)?;
        String::from_utf8(out).map_err(|e| ReportError::Render { name: "country".into(), message: e.to_string() })
    }

    /// The country report, written to `out` as it is rendered. The page is rendered with a
    /// marker where each list of endpoints (zones, resolvers) goes; each item's details are
    /// then rendered from one reused context and written in place. Memory holds the page
    /// skeleton and one item, not ten thousand items' views and their HTML.
    pub fn country_to(
        &self,
        out: &mut dyn std::io::Write,
        document: &Document,
        previous: Option<&Document>,
        catalog: Option<&Catalog>,
    ) -> Result<(), ReportError> {
        self.country_linking_to(out, document, previous, catalog, &Default::default())
    }

    /// [`Renderer::country_to`], the operator table linking each operator's notice
    /// (`notices`: operator → file name or relative path).
    pub fn country_linking_to(
        &self,
        out: &mut dyn std::io::Write,
        document: &Document,
        previous: Option<&Document>,
        catalog: Option<&Catalog>,
        notices: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ReportError> {
        self.country_from(out, document, document, previous, catalog, notices)
    }

    /// The country report with its figures from `document` and each item's details from
    /// `items` (the same scan: a [`ScanFile`] read one item at a time, with `document` its
    /// [`ScanFile::summary`]). The page is rendered with a marker where each list of items goes;
    /// each item's details are then rendered from one reused context and written in place.
    /// Memory holds the page skeleton and one item, not ten thousand items' views and HTML.
    pub fn country_from(
        &self,
        out: &mut dyn std::io::Write,
        document: &Document,
        items: &dyn ItemSource,
        previous: Option<&Document>,
        catalog: Option<&Catalog>,
        notices: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ReportError> {
        let lang = self.lang(catalog);
        let mut data = view::country_linking(document, previous, &lang, notices);
        // Random, so that no text from the network can fake a marker.
        let marker = format!("\u{1}postura-{:016x}:", rand::random::<u64>());
        for (kind, field) in view::ITEM_KINDS {
            if view::count_items(document, kind) > 0 {
                data[field] = serde_json::Value::String(format!("{marker}{kind}\u{1}"));
            }
        }
        let page = self.render("country", &data)?;
        drop(data);
        let error = |e: handlebars::RenderError| ReportError::Render { name: "item".into(), message: e.to_string() };
        let mut context = handlebars::Context::wraps(serde_json::json!({"t": &self.strings.text, "lang": &self.lang}))
            .map_err(error)?;
        let mut rest = page.as_str();
        while let Some(at) = rest.find(&marker) {
            out.write_all(&rest.as_bytes()[..at])?;
            let after = &rest[at + marker.len()..];
            let end = after.find('\u{1}').unwrap_or(after.len());
            let kind = &after[..end];
            view::each_item(items, &lang, kind, |item| {
                if let (serde_json::Value::Object(root), serde_json::Value::Object(fields)) = (context.data_mut(), item)
                {
                    root.extend(fields);
                }
                let html = self.handlebars.render_with_context("item", &context).map_err(error)?;
                out.write_all(html.as_bytes())?;
                Ok(())
            })?;
            rest = &after[(end + 1).min(after.len())..];
        }
        out.write_all(rest.as_bytes())?;
        Ok(())
    }

    /// The notice to one operator (`document` holds only its items, see
    /// [`Document::of_operator`]), with each item's details.
    pub fn notice(
        &self,
        document: &Document,
        operator: &str,
        contact: Option<&crate::profile::OperatorContact>,
        catalog: Option<&Catalog>,
    ) -> Result<String, ReportError> {
        self.notice_from(document, document, operator, contact, catalog)
    }

    /// The notice to one operator, its figures from `document` (only its items) and each
    /// item's details from `items` (only its items too, e.g. [`stream::OperatorItems`]).
    pub fn notice_from(
        &self,
        document: &Document,
        items: &dyn ItemSource,
        operator: &str,
        contact: Option<&crate::profile::OperatorContact>,
        catalog: Option<&Catalog>,
    ) -> Result<String, ReportError> {
        let lang = self.lang(catalog);
        let mut context = self.item_context()?;
        let mut items_html = String::new();
        for (kind, _) in view::ITEM_KINDS {
            view::each_item(items, &lang, kind, |item| {
                items_html.push_str(&self.item_html(&mut context, item)?);
                Ok(())
            })?;
        }
        self.notice_page(document, operator, contact, catalog, items_html)
    }

    /// The notice page, with `items_html` (the items' rendered details, or a marker to put
    /// them in place of) where the items go.
    pub(crate) fn notice_page(
        &self,
        document: &Document,
        operator: &str,
        contact: Option<&crate::profile::OperatorContact>,
        catalog: Option<&Catalog>,
        items_html: String,
    ) -> Result<String, ReportError> {
        let lang = self.lang(catalog);
        let mut data = view::notice(document, operator, contact, &lang);
        data["items_html"] = serde_json::Value::String(items_html);
        self.render("notice", &data)
    }

    /// A context for rendering items one at a time ([`Renderer::item_html`]).
    pub(crate) fn item_context(&self) -> Result<handlebars::Context, ReportError> {
        handlebars::Context::wraps(serde_json::json!({"t": &self.strings.text, "lang": &self.lang}))
            .map_err(|e| ReportError::Render { name: "item".into(), message: e.to_string() })
    }

    /// One item's details (its view from [`view::ItemViews`]), rendered in `context`.
    pub(crate) fn item_html(
        &self,
        context: &mut handlebars::Context,
        item: serde_json::Value,
    ) -> Result<String, ReportError> {
        if let (serde_json::Value::Object(root), serde_json::Value::Object(fields)) = (context.data_mut(), item) {
            root.extend(fields);
        }
        self.handlebars
            .render_with_context("item", context)
            .map_err(|e| ReportError::Render { name: "item".into(), message: e.to_string() })
    }

    /// Several countries' scans side by side.
    pub fn regional(&self, documents: &[Document], catalog: Option<&Catalog>) -> Result<String, ReportError> {
        let data = view::regional(documents, &self.lang(catalog));
        self.render("regional", &data)
    }

    /// One row per finding.
    pub fn csv(&self, document: &Document, catalog: Option<&Catalog>) -> String {
        csv::render(document, &self.lang(catalog))
    }

    /// One row per finding of the items of `items`, written to `out` as they are read.
    pub fn csv_to(
        &self,
        out: &mut dyn std::io::Write,
        items: &dyn ItemSource,
        country: &str,
        catalog: Option<&Catalog>,
    ) -> Result<(), ReportError> {
        csv::write(out, items, country, &self.lang(catalog))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
        let mut on_disk = Vec::new();
        for sub in ["", "partials"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "hbs") {
                    let name = path.file_name().unwrap().to_string_lossy().to_string();
                    on_disk.push(if sub.is_empty() { name } else { format!("{sub}/{name}") });
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = TEMPLATES.iter().map(|(_, file, _)| file.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "add new template files to TEMPLATES in src/report/mod.rs");
    }
}
