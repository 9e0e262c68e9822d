//! Prometheus metrics (`GET /metrics`), through the `metrics` facade and its Prometheus
//! exporter. Event counters are incremented where things happen (gaps, conflations,
//! disconnects, backfill, HTTP requests); state gauges (head, feeds, connections) are read at
//! scrape time from the same shared state the listeners use.

use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::net::Services;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.25,
                    1.0,
                ])
                .ok()?
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(FEED_SKEW.into()),
                    &[
                        -0.1, 0.0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                    ],
                )
                .ok()?
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(SUBSCRIBER_LAG.into()),
                    &[0.0, 1.0, 16.0, 256.0, 4_096.0, 65_536.0, 1_048_576.0],
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            zero();
            Some(handle)
        })
        .as_ref()
}

/// Every metric family tickd exports: name, kind, unit and help text. `# HELP` and `# TYPE`
/// lines come from here; a test checks that every family the code records is listed.
const FAMILIES: &[(&str, Kind, &str)] = &[
    (
        "tickd_head_seq",
        Kind::Gauge,
        "The newest sequence number in the tick ring.",
    ),
    (
        "tickd_cluster_published_seq",
        Kind::Gauge,
        "Origin: the last seq handed to JetStream.",
    ),
    (
        "tickd_cluster_acked_seq",
        Kind::Gauge,
        "Origin: the last seq JetStream acknowledged (stored on its replicas).",
    ),
    (
        "tickd_cluster_applied_seq",
        Kind::Gauge,
        "Edge: the last seq written here from the origin's stream.",
    ),
    (
        "tickd_cluster_lag",
        Kind::Gauge,
        "Origin: records sequenced and not yet acknowledged by JetStream; edge: stream messages not yet consumed.",
    ),
    (
        "tickd_cluster_reconnects_total",
        Kind::Counter,
        "Connections to NATS made again after a failure.",
    ),
    (
        "tickd_cluster_publish_errors_total",
        Kind::Counter,
        "Origin: publishes to JetStream that failed (each republished after a resync).",
    ),
    (
        "tickd_instruments",
        Kind::Gauge,
        "Instruments in the symbol directory.",
    ),
    (
        "tickd_connections_open",
        Kind::Gauge,
        "Open binary-protocol connections (TCP and QUIC), against the global cap.",
    ),
    (
        "tickd_connections",
        Kind::Gauge,
        "Open connections by transport (tcp, quic, ws).",
    ),
    (
        "tickd_connections_refused_total",
        Kind::Counter,
        "Connections refused by a cap, by the cap's name.",
    ),
    (
        "tickd_ingest_degraded",
        Kind::Gauge,
        "1 while ingest cannot write its journal, else 0.",
    ),
    (
        "tickd_journal_failures_total",
        Kind::Counter,
        "Journal writes that failed (their batches were refused).",
    ),
    (
        "tickd_journal_sync_seconds",
        Kind::Histogram,
        "Journal fdatasync latency, seconds.",
    ),
    (
        "tickd_ingest_queue_depth",
        Kind::Gauge,
        "Batches waiting in the sequencer's input queue (feeds block, publishers are refused, when it is full).",
    ),
    (
        "tickd_ingest_queue_capacity",
        Kind::Gauge,
        "The sequencer's input queue capacity, batches.",
    ),
    (
        "tickd_process_resident_memory_bytes",
        Kind::Gauge,
        "The server process's resident memory, bytes.",
    ),
    (
        "tickd_journal_recoveries_total",
        Kind::Counter,
        "Times ingest resumed after journal failures.",
    ),
    (
        "tickd_ingested_total",
        Kind::Counter,
        "Records the sequencer accepted, by feed.",
    ),
    (
        "tickd_skipped_total",
        Kind::Counter,
        "Records a feed skipped, by feed and reason (invalid, suspicious, rejected).",
    ),
    (
        "tickd_gaps_total",
        Kind::Counter,
        "Gaps sent to subscribers, by reason (overrun, not_retained, conflated, venue).",
    ),
    (
        "tickd_backfilled_records_total",
        Kind::Counter,
        "Records sent to subscribers from the journal (gap fill).",
    ),
    (
        "tickd_slow_consumer_disconnects_total",
        Kind::Counter,
        "Subscribers closed by the disconnect slow-consumer policy.",
    ),
    (
        SUBSCRIBER_LAG,
        Kind::Histogram,
        "How far a subscriber's cursor is behind the head after a delivery pass, records, by transport.",
    ),
    (
        "tickd_http_request_duration_seconds",
        Kind::Histogram,
        "HTTP request latency, seconds, by route and status.",
    ),
    (
        "tickd_http_rate_limited_total",
        Kind::Counter,
        "HTTP requests refused by a rate limit, by key (ip, token).",
    ),
    (
        "tickd_feed_connected",
        Kind::Gauge,
        "1 while a live venue feed has an open, subscribed connection, else 0.",
    ),
    (
        "tickd_feed_messages_total",
        Kind::Counter,
        "Frames a live venue feed received.",
    ),
    (
        "tickd_feed_reconnects_total",
        Kind::Counter,
        "Connections a live venue feed lost (or failed to make) and retried.",
    ),
    (
        "tickd_feed_rate_limits_total",
        Kind::Counter,
        "Times a venue signalled a rate limit (close 1008, HTTP 418/429).",
    ),
    (
        "tickd_feed_gaps_total",
        Kind::Counter,
        "Venue gaps a live feed declared (trade-id holes not refilled, reconnect windows).",
    ),
    (
        "tickd_feed_missing_trades_total",
        Kind::Counter,
        "Venue trade ids a live feed declared missing.",
    ),
    (
        "tickd_feed_refilled_trades_total",
        Kind::Counter,
        "Trades a live feed fetched from the venue's REST API to fill holes.",
    ),
    (
        "tickd_feed_duplicates_total",
        Kind::Counter,
        "Trades a live feed dropped as duplicates (seen before, e.g. across a reconnect).",
    ),
    (
        "tickd_feed_bad_frames_total",
        Kind::Counter,
        "Frames a live feed could not parse (logged and skipped).",
    ),
    (
        "tickd_feed_last_message_timestamp_seconds",
        Kind::Gauge,
        "When a live feed last received a frame, seconds since the Unix epoch.",
    ),
    (
        FEED_SKEW,
        Kind::Histogram,
        "A live feed's receive time minus the venue's event time, seconds.",
    ),
];

/// A metric family's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Label values of the counters that exist from the start at 0, so a dashboard or alert that
/// reads them finds a series before the first event (Prometheus' advice for known labels).
const ZERO_COUNTERS: &[(&str, &str, &[&str])] = &[
    (
        "tickd_gaps_total",
        "reason",
        &["overrun", "not_retained", "dropped", "conflated", "venue"],
    ),
    (
        "tickd_connections_refused_total",
        "limit",
        &[
            "tcp_connections",
            "quic_connections",
            "http_connections",
            "http_connections_per_ip",
        ],
    ),
    ("tickd_http_rate_limited_total", "by", &["ip", "token"]),
];

/// Makes the known series exist at 0 (see [`ZERO_COUNTERS`]).
fn zero() {
    for &(name, label, values) in ZERO_COUNTERS {
        for &v in values {
            metrics::counter!(name, label => v).increment(0);
        }
    }
    metrics::counter!("tickd_slow_consumer_disconnects_total").increment(0);
    metrics::counter!("tickd_backfilled_records_total").increment(0);
    for transport in ["tcp", "quic", "ws"] {
        metrics::gauge!("tickd_connections", "transport" => transport).increment(0.0);
    }
}

/// Registers the help text of every family with the recorder.
fn describe() {
    for &(name, kind, help) in FAMILIES {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
}

/// Drains histogram samples into their buckets every 5 s until `shutdown` fires. Without it the
/// exporter keeps every sample until the next scrape: memory grows with the request rate on a
/// server nobody scrapes.
pub async fn upkeep(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let Some(handle) = install() else { return };
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = every.tick() => handle.run_upkeep(),
            _ = shutdown.changed() => break,
        }
    }
}

/// The exposition text, after refreshing the state gauges from `services`.
pub fn render(services: &Services) -> String {
    let Some(handle) = install() else {
        return String::new();
    };
    metrics::gauge!("tickd_head_seq").set(services.query.head().0 as f64);
    metrics::gauge!("tickd_instruments").set(services.query.instruments(None).len() as f64);
    metrics::gauge!("tickd_connections_open").set(services.limits.total() as f64);
    let input = &services.query.shared.input;
    metrics::gauge!("tickd_ingest_queue_depth").set(input.len() as f64);
    metrics::gauge!("tickd_ingest_queue_capacity").set(input.capacity() as f64);
    if let Some(rss) = resident_bytes() {
        metrics::gauge!("tickd_process_resident_memory_bytes").set(rss);
    }
    let ingest = &services.query.shared.ingest;
    metrics::gauge!("tickd_ingest_degraded").set(if ingest.degraded().is_some() {
        1.0
    } else {
        0.0
    });
    metrics::counter!("tickd_journal_failures_total").absolute(ingest.journal_failures());
    metrics::counter!("tickd_journal_recoveries_total").absolute(ingest.recoveries());
    if let Some(c) = &services.query.shared.cluster {
        let role = c.role_name();
        metrics::gauge!("tickd_cluster_published_seq", "role" => role)
            .set(c.published.load(Ordering::Relaxed) as f64);
        metrics::gauge!("tickd_cluster_acked_seq", "role" => role)
            .set(c.acked.load(Ordering::Relaxed) as f64);
        metrics::gauge!("tickd_cluster_applied_seq", "role" => role)
            .set(c.applied.load(Ordering::Relaxed) as f64);
        metrics::gauge!("tickd_cluster_lag", "role" => role)
            .set(c.lag(services.query.head().0) as f64);
        metrics::counter!("tickd_cluster_reconnects_total", "role" => role)
            .absolute(c.reconnects.load(Ordering::Relaxed));
        metrics::counter!("tickd_cluster_publish_errors_total", "role" => role)
            .absolute(c.publish_errors.load(Ordering::Relaxed));
    }
    for f in services.query.shared.feeds.iter() {
        let feed = f.name.clone();
        metrics::counter!("tickd_ingested_total", "feed" => feed.clone())
            .absolute(f.ingested.load(Ordering::Relaxed));
        metrics::counter!("tickd_skipped_total", "feed" => feed.clone(), "reason" => "invalid")
            .absolute(f.skipped_invalid.load(Ordering::Relaxed));
        metrics::counter!("tickd_skipped_total", "feed" => feed.clone(), "reason" => "suspicious")
            .absolute(f.skipped_suspicious.load(Ordering::Relaxed));
        metrics::counter!("tickd_skipped_total", "feed" => feed.clone(), "reason" => "rejected")
            .absolute(f.rejected.load(Ordering::Relaxed));
        if let Some(live) = &f.live {
            live_feed(feed, live);
        }
    }
    handle.render()
}

/// The histogram of a live feed's receive time minus event time, seconds (venue clock skew
/// plus network delay), for feed `name`.
pub fn feed_skew(name: &str) -> metrics::Histogram {
    // A handle taken before the recorder exists would record nowhere, for good (`app::start`
    // installs it first; this covers other callers).
    install();
    metrics::histogram!(FEED_SKEW, "feed" => name.to_owned())
}

/// The journal's fdatasync latency histogram (seconds): a handle to keep and record into.
pub fn journal_sync() -> metrics::Histogram {
    install();
    metrics::histogram!("tickd_journal_sync_seconds")
}

/// The process's resident memory, bytes (`VmRSS` of `/proc/self/status`), if readable.
fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

const FEED_SKEW: &str = "tickd_feed_skew_seconds";

/// Counts a connection refused by a cap, by the cap's name.
pub fn refused(limit: &'static str) {
    metrics::counter!("tickd_connections_refused_total", "limit" => limit).increment(1);
}

/// Counts a gap sent to a subscriber, by reason (`overrun`, `not_retained`, `conflated`).
pub fn gap(reason: &'static str) {
    metrics::counter!("tickd_gaps_total", "reason" => reason).increment(1);
}

/// Counts records sent to a subscriber from the journal (gap fill).
pub fn backfilled(n: u64) {
    metrics::counter!("tickd_backfilled_records_total").increment(n);
}

/// Counts a slow consumer closed by the `disconnect` policy.
pub fn slow_consumer_disconnect() {
    metrics::counter!("tickd_slow_consumer_disconnects_total").increment(1);
}

/// Tracks open connections by transport (`tcp`, `quic`).
pub fn connection(transport: &'static str, delta: f64) {
    metrics::gauge!("tickd_connections", "transport" => transport).increment(delta);
}

/// Histogram handles by route, then status: registering a labelled metric hashes and looks up
/// its key in the recorder, too slow to do per request.
static HTTP_HANDLES: std::sync::LazyLock<dashmap::DashMap<String, Vec<(u16, metrics::Histogram)>>> =
    std::sync::LazyLock::new(dashmap::DashMap::new);

/// Records one HTTP request's latency by route (the matched pattern) and status.
pub fn http_request(route: &str, status: u16, seconds: f64) {
    if let Some(by_status) = HTTP_HANDLES.get(route)
        && let Some((_, h)) = by_status.iter().find(|(s, _)| *s == status)
    {
        h.record(seconds);
        return;
    }
    let h = metrics::histogram!("tickd_http_request_duration_seconds", "route" => route.to_owned(), "status" => status.to_string());
    h.record(seconds);
    HTTP_HANDLES
        .entry(route.to_owned())
        .or_default()
        .push((status, h));
}

/// A WebSocket opened.
pub fn ws_opened() {
    connection("ws", 1.0);
}

/// A WebSocket closed.
pub fn ws_closed() {
    connection("ws", -1.0);
}

/// An HTTP request refused by a rate limit, keyed `by` "ip" or "token".
pub fn http_rate_limited(by: &'static str) {
    metrics::counter!("tickd_http_rate_limited_total", "by" => by).increment(1);
}

const SUBSCRIBER_LAG: &str = "tickd_subscriber_lag_records";

/// How far a subscriber's cursor is behind the head after a delivery pass, in records, by
/// transport (`tcp`, `quic`, `ws`): a histogram, so slow readers show without a label each.
pub fn subscriber_lag(transport: &'static str, records: u64) {
    metrics::histogram!(SUBSCRIBER_LAG, "transport" => transport).record(records as f64);
}

/// A live venue feed's state gauges and counters, refreshed at scrape time.
fn live_feed(feed: String, live: &crate::ingest::input::LiveState) {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let connected = live.connected.load(Ordering::Relaxed);
    metrics::gauge!("tickd_feed_connected", "feed" => feed.clone())
        .set(f64::from(u8::from(connected)));
    metrics::counter!("tickd_feed_messages_total", "feed" => feed.clone())
        .absolute(load(&live.messages));
    metrics::counter!("tickd_feed_reconnects_total", "feed" => feed.clone())
        .absolute(load(&live.reconnects));
    metrics::counter!("tickd_feed_rate_limits_total", "feed" => feed.clone())
        .absolute(load(&live.rate_limits));
    metrics::counter!("tickd_feed_gaps_total", "feed" => feed.clone()).absolute(load(&live.gaps));
    metrics::counter!("tickd_feed_missing_trades_total", "feed" => feed.clone())
        .absolute(load(&live.missing_trades));
    metrics::counter!("tickd_feed_refilled_trades_total", "feed" => feed.clone())
        .absolute(load(&live.refilled));
    metrics::counter!("tickd_feed_duplicates_total", "feed" => feed.clone())
        .absolute(load(&live.duplicates));
    metrics::counter!("tickd_feed_bad_frames_total", "feed" => feed.clone())
        .absolute(load(&live.bad_frames));
    let last = load(&live.last_message_ns);
    if last > 0 {
        metrics::gauge!("tickd_feed_last_message_timestamp_seconds", "feed" => feed)
            .set(last as f64 / 1e9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_recorded_has_its_help() {
        // The names this file records, read from its source (`"tickd_…"` literals and the
        // constants), against the table.
        let source = include_str!("metrics.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        // Less the table itself.
        let table = code.find("const FAMILIES").unwrap();
        let end = table + code[table..].find("\n];").unwrap();
        let code = format!("{}{}", &code[..table], &code[end..]);
        let mut recorded: Vec<&str> = code
            .split('"')
            .filter(|w| {
                w.starts_with("tickd_") && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
            .collect();
        recorded.extend([SUBSCRIBER_LAG, FEED_SKEW]);
        recorded.sort_unstable();
        recorded.dedup();
        let mut described: Vec<&str> = FAMILIES.iter().map(|f| f.0).collect();
        described.sort_unstable();
        assert_eq!(recorded, described);
        for (name, kind, help) in FAMILIES {
            assert!(!help.is_empty(), "{name}");
            assert_eq!(
                name.ends_with("_total"),
                *kind == Kind::Counter,
                "{name}: counters end in _total"
            );
        }
    }
}
