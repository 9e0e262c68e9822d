//! Hostile ingest: `GET /health` and `GET /candles` under wrk while a publisher sends batches
//! of 2,000 trades dated 2023 (late for every candle) spread over 65,000 known instruments,
//! against the same wrk load with that publisher quiet, repetitions interleaved, one tickd
//! process (synthetic feed running throughout). Readers never wait for the sequencer, so the
//! hostile publish should not move the readers' p99.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tickd_client::Client;
use tickd_protocol::{InstrumentId, Price, Quantity, Side, Symbol, TickRecord, Trade, UnixNanos};

use crate::report::{Row, dur, median};
use crate::tickd::Tickd;
use crate::tls::Identity;
use crate::wrk::{self, WrkResult};

/// Instruments the directory holds before the measurement.
const INSTRUMENTS: u32 = 65_000;
/// Trades per hostile batch.
const LATE_BATCH: u32 = 2_000;
/// 2023-10-07T12:00:00Z.
const T2023: u64 = 1_696_680_000_000_000_000;

/// Scenario options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Keep-alive connections of wrk.
    #[arg(long, default_value_t = 10)]
    pub(crate) connections: u32,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 6)]
    pub(crate) seconds: u64,
    /// Repetitions, quiet and hostile interleaved.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeat: usize,
}

/// One route's figures, quiet and hostile.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pair {
    pub(crate) quiet: WrkResult,
    pub(crate) hostile: WrkResult,
    /// Late trades the hostile publisher had sequenced during the measurement.
    pub(crate) late_trades: u64,
}

/// What one repetition measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub(crate) health: Pair,
    pub(crate) candles: Pair,
}

const CANDLES: &str = "/candles?symbol=S1&interval=1m&limit=100";

/// Publishes 2,000 late trades per batch over the known instruments until `stop`, counting
/// what was acknowledged.
async fn hostile(addr: std::net::SocketAddr, stop: Arc<AtomicBool>, late: Arc<AtomicU64>) {
    let Ok(mut client) = Client::connect(addr).await else {
        return;
    };
    let names: Vec<Symbol> = (0..INSTRUMENTS)
        .map(|i| Symbol::new(&format!("S{i}")).expect("valid"))
        .collect();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        // 2,000 trades, each on another instrument, each a second later in 2023.
        let first = (n * u64::from(LATE_BATCH)) % u64::from(INSTRUMENTS);
        let ids: Vec<u64> = (0..u64::from(LATE_BATCH))
            .map(|i| (first + i) % u64::from(INSTRUMENTS))
            .collect();
        let symbols: Vec<Symbol> = ids.iter().map(|&i| names[i as usize]).collect();
        let ticks: Vec<TickRecord> = ids
            .iter()
            .enumerate()
            .map(|(local, &i)| {
                let t = Trade {
                    price: Price::from_raw(100_000_000_000 + i as i64),
                    size: Quantity::from_raw(1_000_000_000),
                    trade_id: n,
                    venue: 0,
                    conditions: 0,
                };
                let ts = T2023 + (n * u64::from(LATE_BATCH) + local as u64) * 1_000_000_000;
                TickRecord::new_trade(InstrumentId(local as u32), UnixNanos(ts), Side::Sell, &t)
            })
            .collect();
        match client.publish(symbols, &ticks).await {
            Ok(ack) => {
                late.fetch_add(u64::from(ack.accepted), Ordering::Relaxed);
            }
            Err(_) => return,
        }
        n += 1;
    }
}

async fn measure(
    t: &Tickd,
    path: &str,
    args: &Args,
    hostile_on: bool,
) -> anyhow::Result<(WrkResult, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let late = Arc::new(AtomicU64::new(0));
    let publisher =
        hostile_on.then(|| tokio::spawn(hostile(t.tcp, Arc::clone(&stop), Arc::clone(&late))));
    let (addr, route, c, s) = (t.http, path.to_owned(), args.connections, args.seconds);
    let result =
        tokio::task::spawn_blocking(move || wrk::run(addr, &route, c, 1, Duration::from_secs(s)))
            .await??;
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = publisher {
        let _ = p.await;
    }
    anyhow::ensure!(result.errors == 0, "{} errors on {path}", result.errors);
    Ok((result, late.load(Ordering::Relaxed)))
}

/// Runs the scenario.
pub(crate) async fn run(args: &Args, dir: &std::path::Path) -> anyhow::Result<Vec<Outcome>> {
    let identity = Identity::generate(dir)?;
    let t = Tickd::start(
        &dir.join("tickd-hostile"),
        &identity,
        &[
            "--synthetic",
            "AAPL,MSFT",
            "--io-threads",
            "1",
            "--max-instruments",
            "70000",
            "--symbol-quota",
            "0",
        ],
    )
    .await?;
    // 65,000 instruments, each with a trade now.
    let mut client = Client::connect(t.tcp).await?;
    let now = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos(),
    )?;
    for b in 0..INSTRUMENTS / 5_000 {
        let symbols: Vec<Symbol> = (0..5_000)
            .map(|i| Symbol::new(&format!("S{}", b * 5_000 + i)).expect("valid"))
            .collect();
        let ticks: Vec<TickRecord> = (0..5_000u32)
            .map(|i| {
                let t = Trade {
                    price: Price::from_raw(50_000_000_000),
                    size: Quantity::from_raw(1_000_000_000),
                    trade_id: 0,
                    venue: 0,
                    conditions: 0,
                };
                TickRecord::new_trade(InstrumentId(i), UnixNanos(now), Side::Buy, &t)
            })
            .collect();
        let ack = client.publish(symbols, &ticks).await?;
        anyhow::ensure!(ack.accepted == 5_000, "setup publish: {ack:?}");
    }
    let mut outcomes = Vec::new();
    for _ in 0..args.repeat {
        let (hq, _) = measure(&t, "/health", args, false).await?;
        let (hh, hl) = measure(&t, "/health", args, true).await?;
        let (cq, _) = measure(&t, CANDLES, args, false).await?;
        let (ch, cl) = measure(&t, CANDLES, args, true).await?;
        outcomes.push(Outcome {
            health: Pair {
                quiet: hq,
                hostile: hh,
                late_trades: hl,
            },
            candles: Pair {
                quiet: cq,
                hostile: ch,
                late_trades: cl,
            },
        });
    }
    Ok(outcomes)
}

/// The target: the readers' p99 with the hostile publisher running within 1.5× of quiet (a
/// publisher competes for the same 2 cores, so some CPU share moves; a lock would move it by
/// orders of magnitude: 10 s was measured before).
pub(crate) fn rows(args: &Args, outcomes: &[Outcome]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (route, pick) in [
        (
            "/health",
            (|o: &Outcome| &o.health) as fn(&Outcome) -> &Pair,
        ),
        (CANDLES, |o: &Outcome| &o.candles),
    ] {
        let quiet = median(
            outcomes
                .iter()
                .map(|o| pick(o).quiet.p99_ns as f64)
                .collect(),
        );
        let hostile = median(
            outcomes
                .iter()
                .map(|o| pick(o).hostile.p99_ns as f64)
                .collect(),
        );
        let late = median(
            outcomes
                .iter()
                .map(|o| pick(o).late_trades as f64 / args.seconds as f64)
                .collect(),
        );
        rows.push(Row {
            path: format!(
                "GET {route} under wrk ({} connections) while {late:.0} late trades/s over \
                 65,000 instruments are published",
                args.connections
            ),
            figure: "p99".into(),
            target: "hostile <= 1.5x quiet".into(),
            tickd: dur(hostile),
            baseline: format!("{} (quiet)", dur(quiet)),
            ratio: hostile / quiet,
            met: hostile / quiet <= 1.5,
            limit: "the publisher, wrk and tickd share 2 cores: the ratio includes CPU taken by \
                    the publisher's own work, not only waiting",
        });
    }
    rows
}
