//! Per-operator notices (`postura report --per-operator DIR`): one self-contained HTML file and
//! one CSV per operator, with only that operator's endpoints, zones and resolvers, in the
//! operator's language from the profile's `[[operators]]` (else the report's), with its contact
//! and due date. Items declared with no operator get no notice: there is no one to send it to.

use std::collections::BTreeMap;
use std::path::Path;

use std::io::{Seek, SeekFrom, Write};

use super::stream::{ItemSource, Kind, OperatorItems};
use super::view::{Document, ItemViews, UNSPECIFIED};
use super::{Renderer, ReportError};
use crate::checks::catalog::Catalog;
use crate::profile::OperatorContact;

/// How to write the notices.
pub struct NoticeOptions<'a> {
    /// The report's language: the notice's when the profile gives the operator none.
    pub lang: &'a str,
    pub templates: Option<&'a Path>,
    pub contacts: &'a [OperatorContact],
    pub catalog: Option<&'a Catalog>,
    /// For notices in a signed bundle: the manifest's data digest and the key's fingerprint.
    pub stamp: Option<(&'a str, &'a str)>,
}

/// One operator's notice, rendered.
pub struct Notice {
    pub operator: String,
    /// `notice-<operator>` (unique within the report).
    pub stem: String,
    pub html: String,
    pub csv: String,
}

/// A file name stem for an operator: lower-case ASCII letters, digits and hyphens.
pub fn file_stem(operator: &str) -> String {
    let mut stem = String::new();
    for c in operator.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            stem.push(c);
        } else if !stem.ends_with('-') && !stem.is_empty() {
            stem.push('-');
        }
        if stem.len() >= 60 {
            break;
        }
    }
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        "operator".into()
    } else {
        stem.to_string()
    }
}

/// Every operator's notice, in its language.
pub fn render_notices(document: &Document, options: &NoticeOptions) -> Result<Vec<Notice>, ReportError> {
    let mut notices = Vec::new();
    each_notice(document, document, options, |notice| {
        notices.push(notice);
        Ok(())
    })?;
    Ok(notices)
}

/// Each operator's notice in turn, handed to `each` and dropped: the figures from `document`,
/// the items' details from `items` (the same scan, e.g. a [`super::ScanFile`] read again for
/// each operator).
pub fn each_notice(
    document: &Document,
    items: &dyn ItemSource,
    options: &NoticeOptions,
    mut each: impl FnMut(Notice) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let mut renderers: BTreeMap<String, Renderer> = BTreeMap::new();
    let mut stems_used: BTreeMap<String, usize> = BTreeMap::new();
    let country = document.report.country.as_ref().map_or("", |c| c.code.as_str());
    for operator in document.operators() {
        if operator == UNSPECIFIED {
            continue;
        }
        let contact = options.contacts.iter().find(|c| c.name == operator);
        let lang = contact.and_then(|c| c.lang.as_deref()).unwrap_or(options.lang);
        if !renderers.contains_key(lang) {
            let mut renderer = Renderer::new(lang, options.templates)?;
            if let Some((digest, fingerprint)) = options.stamp {
                renderer.stamp(digest, fingerprint);
            }
            renderers.insert(lang.to_string(), renderer);
        }
        let renderer = &renderers[lang];
        // Two operators whose names differ only in punctuation get distinct files.
        let stem = file_stem(&operator);
        let seen = stems_used.entry(stem.clone()).or_default();
        *seen += 1;
        let stem = if *seen == 1 { format!("notice-{stem}") } else { format!("notice-{stem}-{seen}") };
        let mine = document.of_operator(&operator);
        let theirs = OperatorItems { source: items, operator: &operator };
        let html = renderer.notice_from(&mine, &theirs, &operator, contact, options.catalog)?;
        let mut csv = Vec::new();
        renderer.csv_to(&mut csv, &theirs, country, options.catalog)?;
        let csv = String::from_utf8_lossy(&csv).into_owned();
        each(Notice { operator, stem, html, csv })?;
    }
    Ok(())
}

/// Write every operator's notice (`notice-<operator>.html` and `.csv`) into `dir`, created if
/// needed. Returns operator → HTML file name, for the country report's links.
pub fn write_notices(
    document: &Document,
    options: &NoticeOptions,
    dir: &Path,
) -> Result<BTreeMap<String, String>, ReportError> {
    write_notices_from(document, document, options, dir)
}

/// [`write_notices`], the items' details from `items`, read once for all operators: each
/// item's details and CSV rows are appended to its operator's temporary files as the items are
/// read, then each notice page is written around them. Memory holds one item and the pages'
/// figures, whatever the number of endpoints and operators.
pub fn write_notices_from(
    document: &Document,
    items: &dyn ItemSource,
    options: &NoticeOptions,
    dir: &Path,
) -> Result<BTreeMap<String, String>, ReportError> {
    std::fs::create_dir_all(dir)?;
    let mut renderers: BTreeMap<String, Renderer> = BTreeMap::new();
    let mut stems_used: BTreeMap<String, usize> = BTreeMap::new();
    let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
    for operator in document.operators() {
        if operator == UNSPECIFIED {
            continue;
        }
        let contact = options.contacts.iter().find(|c| c.name == operator);
        let lang = contact.and_then(|c| c.lang.as_deref()).unwrap_or(options.lang).to_string();
        if !renderers.contains_key(&lang) {
            let mut renderer = Renderer::new(&lang, options.templates)?;
            if let Some((digest, fingerprint)) = options.stamp {
                renderer.stamp(digest, fingerprint);
            }
            renderers.insert(lang.clone(), renderer);
        }
        // Two operators whose names differ only in punctuation get distinct files.
        let stem = file_stem(&operator);
        let seen = stems_used.entry(stem.clone()).or_default();
        *seen += 1;
        let stem = if *seen == 1 { format!("notice-{stem}") } else { format!("notice-{stem}-{seen}") };
        let mut csv = std::io::BufWriter::new(tempfile::tempfile()?);
        csv.write_all(super::csv::header().as_bytes())?;
        let html = std::io::BufWriter::new(tempfile::tempfile()?);
        pending.insert(operator, Pending { lang, stem, html, csv, views: Default::default() });
    }
    let country = document.report.country.as_ref().map_or("", |c| c.code.as_str()).to_string();
    let mut contexts: BTreeMap<String, handlebars::Context> = BTreeMap::new();
    for (lang, renderer) in &renderers {
        contexts.insert(lang.clone(), renderer.item_context()?);
    }
    for kind in [Kind::Target, Kind::Zone, Kind::Resolver] {
        pending.values_mut().for_each(|p| p.views = Default::default());
        items.each(kind, &mut |item| {
            let Some(mine) = pending.get_mut(super::stream::operator_of(item)) else { return Ok(()) };
            let renderer = &renderers[&mine.lang];
            let lang = renderer.lang(options.catalog);
            let view = mine.views.view(&lang, item);
            let context = contexts.get_mut(&mine.lang).ok_or_else(|| ReportError::Language(mine.lang.clone()))?;
            mine.html.write_all(renderer.item_html(context, view)?.as_bytes())?;
            let mut rows = String::new();
            super::csv::item_rows(&mut rows, &country, &lang, item);
            mine.csv.write_all(rows.as_bytes())?;
            Ok(())
        })?;
    }
    let mut written = BTreeMap::new();
    for (operator, mine) in pending {
        let renderer = &renderers[&mine.lang];
        let contact = options.contacts.iter().find(|c| c.name == operator);
        let of_operator = document.of_operator(&operator);
        let mut fragment = mine.html.into_inner().map_err(|e| e.into_error())?;
        fragment.seek(SeekFrom::Start(0))?;
        // Random, so that no text from the network can fake the marker.
        let marker = format!("\u{1}postura-notice-{:016x}\u{1}", rand::random::<u64>());
        let empty = fragment.metadata()?.len() == 0;
        let page = renderer.notice_page(
            &of_operator,
            &operator,
            contact,
            options.catalog,
            if empty { String::new() } else { marker.clone() },
        )?;
        let file = format!("{}.html", mine.stem);
        write_file(&dir.join(&file), |out| {
            let (before, after) = page.split_once(&marker).unwrap_or((&page, ""));
            out.write_all(before.as_bytes())?;
            std::io::copy(&mut fragment, out)?;
            out.write_all(after.as_bytes())
        })?;
        let mut csv = mine.csv.into_inner().map_err(|e| e.into_error())?;
        csv.seek(SeekFrom::Start(0))?;
        write_file(&dir.join(format!("{}.csv", mine.stem)), |out| std::io::copy(&mut csv, out).map(|_| ()))?;
        written.insert(operator, file);
    }
    Ok(written)
}

/// One operator's notice being written: its language, file stem, the items' details and CSV
/// rows so far, and the state of its list of items.
struct Pending {
    lang: String,
    stem: String,
    html: std::io::BufWriter<std::fs::File>,
    csv: std::io::BufWriter<std::fs::File>,
    views: ItemViews,
}

/// Write a file through `fill` under a temporary name, then rename it.
fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let temporary = path.with_extension("partial");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
    fill(&mut out)?;
    out.flush()?;
    drop(out);
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn operator_names_become_safe_file_names() {
        assert_eq!(file_stem("Antel S.A."), "antel-s-a");
        assert_eq!(file_stem("Telefónica Móviles"), "telefonica-moviles");
        assert_eq!(file_stem("../../etc/passwd"), "etc-passwd");
        assert_eq!(file_stem("<script>"), "script");
        assert_eq!(file_stem("日本"), "operator");
    }
}
