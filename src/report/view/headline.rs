//! The headline figures beside the index (docs/scoring.md): the share of endpoints, zones and
//! resolvers compliant with the baseline, the share with a critical failure, how many could not
//! be tested, and the band that colours the index. Documents from before the assessment recorded
//! them get them computed from their findings, the same way.

use serde_json::{json, Value};

use super::{Document, Lang};
use crate::checks::model::{Headline, HeadlineCounts};
use crate::checks::score;

/// The document's headline figures (recorded, or computed from its findings).
pub(super) fn of(document: &Document) -> Option<Headline> {
    let assessment = document.report.assessment.as_ref()?;
    Some(assessment.headline.clone().unwrap_or_else(|| score::headline(&document.report, assessment.index)))
}

/// The CSS class of a band (never from the document's text).
pub(super) fn band_class(band: &str) -> &'static str {
    match band {
        "good" => "ga",
        "fair" => "gc",
        "poor" => "gf",
        _ => "gn",
    }
}

fn counts(lang: &Lang, counts: &HeadlineCounts) -> Value {
    let int = |n: usize| lang.strings.int(n);
    json!({
        "total": int(counts.total),
        "compliant": int(counts.compliant),
        "critical": int(counts.critical),
        "not_testable": int(counts.not_testable),
        "any": counts.total > 0,
    })
}

/// The figures as the summary and the index card show them.
pub(super) fn view(lang: &Lang, headline: Option<&Headline>) -> Value {
    let Some(h) = headline else {
        return json!({"band": "none", "class": "gn", "any": false});
    };
    json!({
        "any": true,
        "band": lang.t(&format!("band_{}", band_key(&h.band))),
        "class": band_class(&h.band),
        "compliant_share": lang.strings.percent(h.all.compliant, h.all.total),
        "critical_share": lang.strings.percent(h.all.critical, h.all.total),
        "not_testable": lang.strings.int(h.all.not_testable),
        "text": lang.strings.fill("headline_text", &[
            ("compliant", &lang.strings.int(h.all.compliant)),
            ("total", &lang.strings.int(h.all.total)),
            ("critical", &lang.strings.int(h.all.critical)),
            ("not_testable", &lang.strings.int(h.all.not_testable)),
        ]),
        "endpoints": counts(lang, &h.endpoints),
        "zones": counts(lang, &h.zones),
        "resolvers": counts(lang, &h.resolvers),
    })
}

/// A band name from a fixed set (the document's text is never used as a key).
fn band_key(band: &str) -> &'static str {
    match band {
        "good" => "good",
        "fair" => "fair",
        "poor" => "poor",
        _ => "none",
    }
}
