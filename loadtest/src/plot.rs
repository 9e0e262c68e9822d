//! The report's SVG plots (plotters): latency distributions as percentile curves, and throughput
//! as the ratio of tickd to its baseline.

use std::path::Path;

use plotters::prelude::*;

use crate::report::{Latency, Row};

/// A chart's series: a system's name and its latency distribution.
pub(crate) type Series = (String, Latency);

/// The x coordinate of quantile `q`: the number of nines (0.9 → 1, 0.99 → 2), as in
/// HdrHistogram's percentile plots, so the tail gets the room.
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-5).log10()
}

const COLORS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plot: {e:?}")
}

/// Writes a percentile plot of `series` (latency in µs, log scale, against percentile) to
/// `path`.
pub(crate) fn latency(path: &Path, title: &str, series: &[Series]) -> anyhow::Result<()> {
    let max_ns = series
        .iter()
        .flat_map(|(_, l)| l.curve.iter().map(|&(_, v)| v))
        .max()
        .unwrap_or(1_000)
        .max(1_000);
    let min_ns = series
        .iter()
        .flat_map(|(_, l)| l.curve.iter().map(|&(_, v)| v))
        .min()
        .unwrap_or(1)
        .max(1);
    let y = (min_ns as f64 / 2e3)..(max_ns as f64 * 2.0 / 1e3);
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..5.0, y.log_scale())
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency, µs")
        .x_labels(6)
        .x_label_formatter(&|x: &f64| match x.round() as i64 {
            0 => "0%".into(),
            1 => "90%".into(),
            2 => "99%".into(),
            3 => "99.9%".into(),
            4 => "99.99%".into(),
            _ => "max".into(),
        })
        .y_label_formatter(&|v: &f64| format!("{v}"))
        .draw()
        .map_err(draw_err)?;
    for (i, (name, l)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64)> = l
            .curve
            .iter()
            .map(|&(q, v)| (if q >= 1.0 { 5.0 } else { nines(q) }, v as f64 / 1e3))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(draw_err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

/// Writes a bar per throughput row: tickd ÷ its baseline on a log scale, green where the
/// target is met, red where not, with 1× marked.
pub(crate) fn throughput(path: &Path, rows: &[&Row]) -> anyhow::Result<()> {
    let n = rows.len().max(1);
    let top = rows.iter().map(|r| r.ratio).fold(2.0, f64::max) * 2.0;
    let bottom = rows.iter().map(|r| r.ratio).fold(0.5, f64::min) / 2.0;
    let root = SVGBackend::new(path, (720, 120 + 60 * n as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Throughput: tickd ÷ baseline (same run)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(12)
        .build_cartesian_2d((bottom..top).log_scale(), 0.0..n as f64)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("ratio (log scale)")
        .x_label_formatter(&|v: &f64| format!("{v}×"))
        .draw()
        .map_err(draw_err)?;
    for (i, r) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let color = if r.met {
            RGBColor(0x2c, 0xa0, 0x2c)
        } else {
            RGBColor(0xd6, 0x27, 0x28)
        };
        chart
            .draw_series([Rectangle::new(
                [(1.0, y + 0.2), (r.ratio.max(bottom), y + 0.8)],
                color.mix(0.7).filled(),
            )])
            .map_err(draw_err)?;
        chart
            .draw_series([Text::new(
                format!("{} {}: {:.2}× ({})", r.path, r.figure, r.ratio, r.target),
                (bottom * 1.05, y + 0.95),
                ("sans-serif", 12),
            )])
            .map_err(draw_err)?;
    }
    chart
        .draw_series(LineSeries::new([(1.0, 0.0), (1.0, n as f64)], BLACK))
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::histogram;

    #[test]
    fn plots_are_svg_files_with_their_labels() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("tickd-plot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut h = histogram();
        for v in 1..=10_000u64 {
            h.record(v * 100)?;
        }
        let series = [
            ("tickd".to_owned(), Latency::of(&h)),
            ("NATS".to_owned(), Latency::of(&h)),
        ];
        latency(&dir.join("latency.svg"), "TCP, 10 subscribers", &series)?;
        let svg = std::fs::read_to_string(dir.join("latency.svg"))?;
        assert!(svg.starts_with("<svg"), "{svg:.80}");
        for text in [
            "TCP, 10 subscribers",
            "tickd",
            "NATS",
            "99.9%",
            "percentile",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        let row = Row {
            path: "QUIC".into(),
            figure: "throughput".into(),
            target: ">= 0.8x bare quinn".into(),
            tickd: String::new(),
            baseline: String::new(),
            ratio: 0.76,
            met: false,
            limit: "",
        };
        throughput(&dir.join("throughput.svg"), &[&row])?;
        let svg = std::fs::read_to_string(dir.join("throughput.svg"))?;
        assert!(
            svg.contains("QUIC throughput: 0.76× (&gt;= 0.8x bare quinn)"),
            "{svg}"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
