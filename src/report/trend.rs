//! The trend since earlier scans, for reports made from the store (`report --scan`, the
//! daemon's reports): the country index and the failing findings by severity over the last
//! [`MAX_SCANS`] complete scans of the country, as two inline SVG line charts (title and
//! description for screen readers, a legend, no script) and the same figures as a table, the
//! charts' text alternative. Every label is escaped here: the templates insert the SVG unescaped.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::i18n::Strings;
use super::svg::escape;
use crate::checks::model::Severity;
use crate::store::{Store, TrendRow};

/// How many scans the trend shows at most (the newest ones).
pub const MAX_SCANS: usize = 12;

/// Severities from the worst, with the colour and dash pattern of their line (dashes, so the
/// lines stay apart in greyscale print and for readers who do not tell the colours apart).
const SERIES: [(Severity, &str, &str); 5] = [
    (Severity::Critical, "#7f1d1d", ""),
    (Severity::High, "#c2410c", "6 3"),
    (Severity::Medium, "#b45309", "2 3"),
    (Severity::Low, "#2563eb", "8 3 2 3"),
    (Severity::Info, "#64748b", "1 5"),
];

/// The trend up to scan `id` (oldest first).
pub fn from_store(store: &Store, id: i64) -> anyhow::Result<Vec<TrendRow>> {
    store.trend(id, MAX_SCANS)
}

fn failing(row: &TrendRow, severity: Severity) -> i64 {
    row.failing.iter().find(|(name, _)| name == severity.name()).map_or(0, |(_, n)| *n)
}

/// The report's `trend` section, or null when there are fewer than two scans to compare.
pub fn view(rows: &[TrendRow], strings: &Strings) -> Value {
    if rows.len() < 2 {
        return Value::Null;
    }
    let severity_name = |s: Severity| strings.get(&format!("severity_{}", s.name()));
    let labels: Vec<String> = rows.iter().map(|r| format!("#{}", r.id)).collect();
    let dates: Vec<String> = rows.iter().map(|r| strings.datetime(&r.started_at)).collect();
    let index = Series {
        name: strings.get("country_index"),
        colour: "#0f766e",
        dash: "",
        values: rows.iter().map(|r| r.index).collect(),
    };
    let index_svg = line_chart(
        &Chart {
            id: "trend-index",
            title: strings.get("trend_index_title"),
            desc: strings.get("trend_index_desc"),
            labels: &labels,
            dates: &dates,
            max: 100.0,
            decimals: 1,
        },
        &[index],
        strings,
    );
    let series: Vec<Series> = SERIES
        .iter()
        .map(|(severity, colour, dash)| Series {
            name: severity_name(*severity),
            colour,
            dash,
            values: rows.iter().map(|r| Some(failing(r, *severity) as f64)).collect(),
        })
        .collect();
    let most = rows.iter().flat_map(|r| r.failing.iter().map(|(_, n)| *n)).max().unwrap_or(0).max(1);
    let failing_svg = line_chart(
        &Chart {
            id: "trend-failing",
            title: strings.get("trend_failing_title"),
            desc: strings.get("trend_failing_desc"),
            labels: &labels,
            dates: &dates,
            max: nice_ceiling(most as f64),
            decimals: 0,
        },
        &series,
        strings,
    );
    let table: Vec<Value> = rows
        .iter()
        .zip(&dates)
        .map(|(row, date)| {
            let mut entry = json!({
                "scan": row.id.to_string(),
                "date": date,
                "index": row.index.map_or_else(|| "–".to_string(), |v| strings.number(v, 1)),
            });
            for (severity, _, _) in SERIES {
                entry[severity.name()] = json!(strings.int(failing(row, severity) as usize));
            }
            entry
        })
        .collect();
    json!({
        "intro": strings.fill("trend_intro", &[("count", &strings.int(rows.len()))]),
        "index_svg": index_svg,
        "failing_svg": failing_svg,
        "rows": table,
    })
}

/// 1, 2, 5 × 10^n at or above `value`, so the axis has round ticks.
fn nice_ceiling(value: f64) -> f64 {
    let mut step = 1.0;
    loop {
        for factor in [1.0, 2.0, 5.0] {
            if step * factor >= value {
                return step * factor;
            }
        }
        step *= 10.0;
    }
}

struct Chart<'a> {
    id: &'static str,
    title: String,
    desc: String,
    labels: &'a [String],
    dates: &'a [String],
    max: f64,
    decimals: usize,
}

struct Series {
    name: String,
    colour: &'static str,
    dash: &'static str,
    values: Vec<Option<f64>>,
}

/// A line chart: one x position per scan, the y axis from 0 to `chart.max` with five ticks,
/// a point per value (its exact value and date in a `<title>`), and a legend under the plot.
fn line_chart(chart: &Chart, series: &[Series], strings: &Strings) -> String {
    const WIDTH: f64 = 560.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 14.0;
    const TOP: f64 = 10.0;
    const PLOT_HEIGHT: f64 = 170.0;
    const LEGEND_ROW: f64 = 18.0;
    let legend_rows = series.len().div_ceil(3) as f64;
    let height = TOP + PLOT_HEIGHT + 26.0 + LEGEND_ROW * legend_rows + 6.0;
    let plot_width = WIDTH - LEFT - RIGHT;
    let n = chart.labels.len().max(2);
    let x = |i: usize| LEFT + plot_width * i as f64 / (n - 1) as f64;
    let y = |v: f64| TOP + PLOT_HEIGHT * (1.0 - (v / chart.max).clamp(0.0, 1.0));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart trend" viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="img" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        escape(&chart.title),
        escape(&chart.desc),
        id = chart.id,
    );
    for tick in 0..=4 {
        let value = chart.max * tick as f64 / 4.0;
        let ty = y(value);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}" stroke="#e2e8f0"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="lbl">{}</text>"##,
            LEFT + plot_width,
            LEFT - 5.0,
            ty + 4.0,
            escape(&strings.number(value, if chart.max < 4.0 { 1 } else { 0 }))
        );
    }
    for (i, label) in chart.labels.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="lbl">{}</text>"#,
            x(i),
            TOP + PLOT_HEIGHT + 16.0,
            escape(label)
        );
    }
    for line in series {
        let points: Vec<(usize, f64)> = line.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
        let path: Vec<String> = points.iter().map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v))).collect();
        let dash = if line.dash.is_empty() { String::new() } else { format!(r#" stroke-dasharray="{}""#, line.dash) };
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            path.join(" "),
            line.colour
        );
        for (i, value) in &points {
            let date = chart.dates.get(*i).map(String::as_str).unwrap_or("");
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"><title>{} {}: {}</title></circle>"#,
                x(*i),
                y(*value),
                line.colour,
                escape(&chart.labels[*i]),
                escape(&format!("{date}, {}", line.name)),
                escape(&strings.number(*value, chart.decimals))
            );
        }
    }
    for (k, line) in series.iter().enumerate() {
        let lx = LEFT + (k % 3) as f64 * (plot_width / 3.0);
        let ly = TOP + PLOT_HEIGHT + 30.0 + LEGEND_ROW * (k / 3) as f64;
        let dash = if line.dash.is_empty() { String::new() } else { format!(r#" stroke-dasharray="{}""#, line.dash) };
        let _ = write!(
            svg,
            r#"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}" class="lbl">{}</text>"#,
            lx + 22.0,
            line.colour,
            lx + 27.0,
            ly + 4.0,
            escape(&line.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, index: Option<f64>, failing: &[(&str, i64)]) -> TrendRow {
        TrendRow {
            id,
            started_at: format!("2026-11-{:02}T03:00:00Z", id),
            index,
            failing: failing.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn one_scan_has_no_trend() {
        let strings = super::super::i18n::load("en", None).unwrap();
        assert!(view(&[row(1, Some(50.0), &[])], &strings).is_null());
    }

    #[test]
    fn points_are_placed_by_value_and_labels_escaped() {
        let mut strings = super::super::i18n::load("en", None).unwrap();
        strings.text.insert("severity_high".into(), "<high & \"mighty\">".into());
        let rows = [row(1, Some(100.0), &[("high", 4)]), row(2, Some(50.0), &[("high", 2), ("critical", 1)])];
        let trend = view(&rows, &strings);
        let index = trend["index_svg"].as_str().unwrap();
        // 100 at the top of the plot (y = 10), 50 halfway (y = 95); first scan left, last right.
        assert!(index.contains(r#"points="44.0,10.0 546.0,95.0""#), "{index}");
        assert!(index.contains("<title id=\"trend-index-t\">") && index.contains("<desc id=\"trend-index-d\">"));
        let failing = trend["failing_svg"].as_str().unwrap();
        assert!(!failing.contains("<high"), "{failing}");
        assert!(failing.contains("&lt;high &amp; &quot;mighty&quot;&gt;"), "{failing}");
        // The axis goes to 5 (the nice ceiling of 4): 4 high findings at y = 10 + 170 × 0.2.
        assert!(failing.contains("44.0,44.0 546.0,112.0"), "{failing}");
        assert_eq!(trend["rows"][1]["critical"], "1");
        assert_eq!(trend["rows"][0]["index"], "100.0");
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert_eq!(nice_ceiling(501.0), 1000.0);
    }
}
