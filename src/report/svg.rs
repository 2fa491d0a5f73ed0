//! Inline SVG charts drawn by postura (no script, no font or image from elsewhere): horizontal
//! bar charts, each bar labelled with its value. Every label is escaped here, because the
//! templates insert the SVG unescaped.

use std::fmt::Write as _;

/// One bar: its label, its length (0–`max`), the text written after it, and a CSS colour.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
    pub colour: &'static str,
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // As handlebars does: `=` and backquote end unquoted attribute values.
            '=' => out.push_str("&#x3D;"),
            '`' => out.push_str("&#x60;"),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// A horizontal bar chart; `max` is the value of a full-length bar (e.g. 100 for scores).
/// `title` names the chart for screen readers.
pub fn bars(title: &str, bars: &[Bar], max: f64) -> String {
    const LABEL: f64 = 180.0;
    const WIDTH: f64 = 520.0;
    const ROW: f64 = 24.0;
    // Room after the longest bar for its value text ("100.0 (n=12,345)").
    let plot = WIDTH - LABEL - 100.0;
    let height = ROW * bars.len().max(1) as f64 + 8.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{}"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = 4.0 + ROW * i as f64;
        let length = if max > 0.0 { (bar.value / max).clamp(0.0, 1.0) * plot } else { 0.0 };
        let _ = write!(
            svg,
            r#"<text x="{:.0}" y="{:.1}" text-anchor="end" class="lbl">{}</text><rect x="{LABEL}" y="{:.1}" width="{plot:.1}" height="{:.1}" class="track"/><rect x="{LABEL}" y="{:.1}" width="{length:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" class="val">{}</text>"#,
            LABEL - 6.0,
            y + ROW * 0.62,
            escape(&shorten(&bar.label, 28)),
            y + 3.0,
            ROW - 8.0,
            y + 3.0,
            ROW - 8.0,
            bar.colour,
            LABEL + length + 5.0,
            y + ROW * 0.62,
            escape(&bar.text)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scaled() {
        let chart = bars(
            "t<",
            &[Bar { label: "<script>x</script>".into(), value: 50.0, text: "\"50\"".into(), colour: "#123456" }],
            100.0,
        );
        assert!(!chart.contains("<script>"));
        assert!(chart.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(chart.contains("&quot;50&quot;"));
        assert!(chart.contains(r##"width="120.0" height="16.0" fill="#123456""##), "{chart}");
    }
}
