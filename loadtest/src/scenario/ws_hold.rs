//! WebSocket hold: `connections` seed-dialect WebSockets (`/ws`) open at once, each subscribed
//! to one symbol's trades, held for `seconds` while tickd's synthetic feed runs at `feed_rate`
//! ticks/s and the server pings every `heartbeat_ms`. Reports how many stayed open, what they
//! received, and the server's memory per socket.
//!
//! Clients answer pings (tungstenite queues the pong and sends it on its next read) and send
//! nothing else after subscribing, so a socket stays open only if the server's heartbeats and
//! the clients' pongs keep it alive past the idle timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::process::{rss_bytes, self_cpu_ns};
use crate::report::{Row, count};
use crate::tickd::Tickd;
use crate::tls::Identity;

const SYMBOLS: [&str; 5] = ["AAPL", "MSFT", "GOOGL", "AMZN", "TSLA"];

/// Scenario options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// WebSockets held open at once.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) connections: usize,
    /// Seconds to hold them once all are open.
    #[arg(long, default_value_t = 20)]
    pub(crate) seconds: u64,
    /// tickd's synthetic feed, ticks/s over five symbols.
    #[arg(long, default_value_t = 20)]
    pub(crate) feed_rate: u32,
    /// Server ping interval, ms (the idle timeout is three of them).
    #[arg(long, default_value_t = 2_000)]
    pub(crate) heartbeat_ms: u64,
    /// Connects in flight at once while opening.
    #[arg(long, default_value_t = 200)]
    pub(crate) connect_concurrency: usize,
}

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub(crate) connections: usize,
    pub(crate) connected: u64,
    pub(crate) open_at_end: u64,
    pub(crate) closed_early: u64,
    pub(crate) connect_failures: u64,
    pub(crate) connect_seconds: f64,
    pub(crate) hold_seconds: f64,
    pub(crate) trades_per_s: f64,
    pub(crate) pings_per_socket: f64,
    pub(crate) server_rss_idle_bytes: u64,
    pub(crate) server_rss_held_bytes: u64,
    pub(crate) server_bytes_per_socket: f64,
    pub(crate) server_cpu_share: f64,
    /// The load generator's CPU per trade received, ns (its own cost, for the ≤ 100 ns budget).
    pub(crate) client_cpu_ns_per_trade: f64,
    pub(crate) client_rss_bytes: u64,
    /// The first close a client saw before the end (code and reason), if any.
    pub(crate) first_close: Option<String>,
}

#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    open: AtomicU64,
    closed_early: AtomicU64,
    connect_failures: AtomicU64,
    trades: AtomicU64,
    pings: AtomicU64,
    /// The first close reason a client saw, if any.
    first_close: std::sync::Mutex<Option<String>>,
}

async fn client(
    url: String,
    symbol: &'static str,
    counters: Arc<Counters>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    permits: Arc<tokio::sync::Semaphore>,
) {
    let permit = permits.acquire_owned().await;
    // Small read buffers: 10,000 clients share this process (tungstenite's default is 128 KiB
    // per socket).
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024);
    let Ok((mut ws, _)) =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true).await
    else {
        counters.connect_failures.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let sub = format!(
        r#"{{"type":"subscribe","data":{{"symbols":["{symbol}"],"channels":["trades"]}}}}"#
    );
    if ws.send(Message::text(sub)).await.is_err() {
        counters.connect_failures.fetch_add(1, Ordering::Relaxed);
        return;
    }
    drop(permit);
    counters.connected.fetch_add(1, Ordering::Relaxed);
    counters.open.fetch_add(1, Ordering::Relaxed);
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str().contains(r#""type":"trade""#) {
                        counters.trades.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(Message::Ping(_))) => {
                    counters.pings.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame.map_or_else(|| "no reason".to_owned(), |f| format!("{} {}", f.code, f.reason));
                    counters.first_close.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(reason);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    counters.closed_early.fetch_add(1, Ordering::Relaxed);
                    counters.open.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
            },
            _ = stop.changed() => break,
        }
    }
    let _ = ws.close(None).await;
}

/// Runs the scenario.
pub(crate) async fn run(args: &Args, dir: &std::path::Path) -> anyhow::Result<Outcome> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let identity = Identity::generate(dir)?;
    let rate = args.feed_rate.to_string();
    let heartbeat = args.heartbeat_ms.to_string();
    let idle = (args.heartbeat_ms * 3).to_string();
    let max = (args.connections * 2).to_string();
    let t = Tickd::start(
        &dir.join("tickd-ws"),
        &identity,
        &[
            "--synthetic",
            &SYMBOLS.join(","),
            "--synthetic-rate",
            &rate,
            "--heartbeat-ms",
            &heartbeat,
            "--idle-timeout-ms",
            &idle,
            "--max-websockets",
            &max,
        ],
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = t.process.pid();
    let rss_idle = rss_bytes(pid).unwrap_or(0);
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let permits = Arc::new(tokio::sync::Semaphore::new(args.connect_concurrency));
    let url = format!("ws://{}/ws", t.http);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        tasks.push(tokio::spawn(client(
            url.clone(),
            SYMBOLS[i % SYMBOLS.len()],
            Arc::clone(&counters),
            stop.clone(),
            Arc::clone(&permits),
        )));
    }
    let settled = |c: &Counters| {
        c.connected.load(Ordering::Relaxed) + c.connect_failures.load(Ordering::Relaxed)
    };
    while settled(&counters) < args.connections as u64 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {} WebSockets settled in 120 s",
            settled(&counters),
            args.connections
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_seconds = started.elapsed().as_secs_f64();
    let hold_start = Instant::now();
    let cpu0 = t.process.cpu_ns();
    let trades0 = counters.trades.load(Ordering::Relaxed);
    let pings0 = counters.pings.load(Ordering::Relaxed);
    let client_cpu0 = self_cpu_ns();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let hold = hold_start.elapsed().as_secs_f64();
    let open = counters.open.load(Ordering::Relaxed);
    let rss_held = rss_bytes(pid).unwrap_or(0);
    let server_cpu = t.process.cpu_ns().saturating_sub(cpu0) as f64;
    let client_cpu = self_cpu_ns().saturating_sub(client_cpu0) as f64;
    let trades = counters.trades.load(Ordering::Relaxed) - trades0;
    let pings = counters.pings.load(Ordering::Relaxed) - pings0;
    let client_rss = rss_bytes(std::process::id()).unwrap_or(0);
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    Ok(Outcome {
        connections: args.connections,
        connected: counters.connected.load(Ordering::Relaxed),
        open_at_end: open,
        closed_early: counters.closed_early.load(Ordering::Relaxed),
        connect_failures: counters.connect_failures.load(Ordering::Relaxed),
        connect_seconds,
        hold_seconds: hold,
        trades_per_s: trades as f64 / hold,
        pings_per_socket: pings as f64 / open.max(1) as f64,
        server_rss_idle_bytes: rss_idle,
        server_rss_held_bytes: rss_held,
        server_bytes_per_socket: rss_held.saturating_sub(rss_idle) as f64 / open.max(1) as f64,
        server_cpu_share: server_cpu / (hold * 1e9),
        client_cpu_ns_per_trade: client_cpu / trades.max(1) as f64,
        client_rss_bytes: client_rss,
        first_close: counters
            .first_close
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
    })
}

/// The target: every WebSocket held for the whole run, with heartbeats, while data flows.
pub(crate) fn rows(args: &Args, o: &Outcome) -> Vec<Row> {
    vec![Row {
        path: format!("WebSocket, {} connections", args.connections),
        figure: "held with heartbeats while data flows".into(),
        target: format!(
            "all {} open for {} s",
            count(args.connections as f64),
            args.seconds
        ),
        tickd: format!(
            "{} open, {} trades/s, {:.1} pings/socket, {:.1} KiB/socket, {:.0}% of a core",
            count(o.open_at_end as f64),
            count(o.trades_per_s),
            o.pings_per_socket,
            o.server_bytes_per_socket / 1024.0,
            o.server_cpu_share * 100.0
        ),
        baseline: String::new(),
        ratio: 0.0,
        met: o.open_at_end == args.connections as u64
            && o.pings_per_socket >= 1.0
            && o.trades_per_s > 0.0,
        limit: "",
    }]
}
