//! Figures of a run: per system and repetition, their medians, and the ratio to the baseline.

use hdrhistogram::Histogram;
use serde::Serialize;

/// A latency distribution's summary, ns.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Latency {
    pub(crate) p50_ns: u64,
    pub(crate) p90_ns: u64,
    pub(crate) p99_ns: u64,
    pub(crate) p999_ns: u64,
    pub(crate) max_ns: u64,
    pub(crate) samples: u64,
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
    pub(crate) latency: Latency,
}

/// The median of `values` (the lower middle for an even count); 0 when empty.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[(values.len() - 1) / 2]
}
