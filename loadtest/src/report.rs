//! Figures of a run: per system and repetition, their medians, and the ratio to the baseline.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Quantiles of [`Latency::curve`].
const CURVE: [f64; 12] = [
    0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0,
];

/// A latency distribution's summary, ns.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Latency {
    pub(crate) p50_ns: u64,
    pub(crate) p90_ns: u64,
    pub(crate) p99_ns: u64,
    pub(crate) p999_ns: u64,
    pub(crate) max_ns: u64,
    pub(crate) samples: u64,
    /// `(quantile, ns)` from the minimum to the maximum, for plots.
    pub(crate) curve: Vec<(f64, u64)>,
}

impl Latency {
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        Self {
            p50_ns: h.value_at_quantile(0.5),
            p90_ns: h.value_at_quantile(0.9),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
            samples: h.len(),
            curve: CURVE.iter().map(|&q| (q, h.value_at_quantile(q))).collect(),
        }
    }
}

/// What one system did in one repetition.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Measured {
    pub(crate) records_per_s: f64,
    pub(crate) server_cpu_ns_per_record: f64,
    pub(crate) client_cpu_ns_per_record: f64,
    pub(crate) server_rss_bytes: u64,
    /// Coordinated-omission corrected where the path is paced (receive − due time).
    pub(crate) latency: Latency,
    /// Receive − the record's own stamp, where it differs from `latency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) latency_raw: Option<Latency>,
}

/// The median of `values` (the lower middle for an even count); 0 when empty.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[(values.len() - 1) / 2]
}

/// The item whose `key` is the median of all (the lower middle for an even count).
pub(crate) fn median_item<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    key: impl Fn(&T) -> f64,
) -> Option<&'a T> {
    let mut sorted: Vec<&T> = items.into_iter().collect();
    sorted.sort_by(|a, b| key(a).total_cmp(&key(b)));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// A latency chart for the report: file stem, title, and a series per system.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub(crate) stem: String,
    pub(crate) title: String,
    pub(crate) series: Vec<crate::plot::Series>,
}

/// One target of the suite: what was measured against what, and whether it is met.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    /// The path measured (`QUIC, 10 subscribers`).
    pub(crate) path: String,
    /// The figure (`throughput`, `p99`).
    pub(crate) figure: String,
    /// The target as written in issue 7 (`>= 0.8x bare quinn`).
    pub(crate) target: String,
    /// tickd's figure, with its unit.
    pub(crate) tickd: String,
    /// The baseline's figure, with its unit (empty for an absolute target).
    pub(crate) baseline: String,
    /// tickd ÷ baseline (0 for an absolute target).
    pub(crate) ratio: f64,
    /// Whether the target is met.
    pub(crate) met: bool,
    /// What limits the figure when the target is not met (from profiles of earlier runs).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) limit: &'static str,
}

impl Row {
    /// Prints the row as one line.
    pub(crate) fn print(&self) {
        let ratio = if self.ratio > 0.0 {
            format!(" -> {:.2}x", self.ratio)
        } else {
            String::new()
        };
        let vs = if self.baseline.is_empty() {
            String::new()
        } else {
            format!(" vs {}", self.baseline)
        };
        println!(
            "{} {}: tickd {}{vs}{ratio} (target {}): {}",
            self.path,
            self.figure,
            self.tickd,
            self.target,
            if self.met { "met" } else { "NOT met" }
        );
    }
}

/// The suite's Markdown report: one line per target, with the machine's load around the run.
pub(crate) fn markdown(
    rows: &[&Row],
    charts: &[&Chart],
    load_start: f64,
    load_end: f64,
    took: std::time::Duration,
) -> String {
    let mut md = String::from(
        "# tickd load test\n\nRegenerate with `cargo build --release -p tickd-server -p tickd-loadtest && \
         target/release/tickd-loadtest suite` (after `loadtest/install.sh`: wrk, nats-server, redis-server). Each server runs as its own process; \
         figures are medians of interleaved repetitions, and ratios are tickd ÷ the baseline \
         measured in the same run.\n\n",
    );
    md.push_str(&format!(
        "Load average {load_start:.2} at the start, {load_end:.2} at the end; the run took {:.0} s.\n\n",
        took.as_secs_f64()
    ));
    md.push_str("| path | figure | target | tickd | baseline | ratio | met |\n|---|---|---|---|---|---|---|\n");
    for r in rows {
        let ratio = if r.ratio > 0.0 {
            format!("{:.2}×", r.ratio)
        } else {
            "—".into()
        };
        let baseline = if r.baseline.is_empty() {
            "—"
        } else {
            &r.baseline
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {ratio} | {} |\n",
            r.path,
            r.figure,
            r.target,
            r.tickd,
            baseline,
            if r.met { "yes" } else { "**no**" }
        ));
    }
    let missed: Vec<&&Row> = rows.iter().filter(|r| !r.met).collect();
    if !missed.is_empty() {
        md.push_str("\n## Targets not met, and what limits them\n\n");
        for r in missed {
            let limit = if r.limit.is_empty() {
                "not yet known"
            } else {
                r.limit
            };
            md.push_str(&format!(
                "- **{} — {}** ({}): {limit}\n",
                r.path, r.figure, r.target
            ));
        }
    }
    if !charts.is_empty() {
        md.push_str("\n![throughput ratios](throughput.svg)\n");
        md.push_str("\n## Latency distributions\n\nThe median repetition of each system.\n");
        for c in charts {
            md.push_str(&format!("\n![{}]({}.svg)\n", c.title, c.stem));
        }
    }
    md
}

/// `n` with thousands separators and no decimals.
pub(crate) fn count(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in ns as µs or ms text.
pub(crate) fn dur(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.0} µs", ns / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(count(1_234_567.4), "1,234,567");
        assert_eq!(count(999.0), "999");
        assert_eq!(dur(391_000.0), "391 µs");
        assert_eq!(dur(1_500_000.0), "1.50 ms");
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.0);
    }

    #[test]
    fn the_report_has_a_line_per_target() {
        let row = Row {
            path: "REST".into(),
            figure: "p99".into(),
            target: "<= 1 ms".into(),
            tickd: "1.51 ms".into(),
            baseline: "1.21 ms".into(),
            ratio: 1.248,
            met: false,
            limit: "wrk on one of two cores",
        };
        let md = markdown(&[&row], &[], 1.5, 1.75, std::time::Duration::from_secs(300));
        assert!(
            md.contains("Load average 1.50 at the start, 1.75 at the end; the run took 300 s.")
        );
        assert!(
            md.contains(
                "| REST | p99 | <= 1 ms | 1.51 ms | 1.21 ms | 1.25× | **no** |\n\n\
                 ## Targets not met, and what limits them\n\n"
            ),
            "{md}"
        );
        assert!(
            md.ends_with("- **REST — p99** (<= 1 ms): wrk on one of two cores\n"),
            "{md}"
        );
    }
}
