//! Hostile ingest: `GET /health` and `GET /candles` at a fixed request rate (latency measured
//! from each request's due time: coordinated omission corrected) while a publisher sends a batch
//! of 2,000 trades dated 2023 (late for every candle) spread over 65,000 known instruments
//! every `--every-ms` (the publish that used to freeze readers for seconds, repeated),
//! against the same probe while the same publisher sends the same batches dated now (a benign
//! publisher: the same decoding, sequencing and candle work, none of it late), and with no
//! publisher (quiet, for context); repetitions interleaved, one tickd process (synthetic feed
//! running throughout). Late trades cost what on-time ones cost and readers never wait for the
//! sequencer, so the hostile publish should move the readers' p99 no more than the benign one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tickd_client::Client;
use tickd_protocol::{InstrumentId, Price, Quantity, Side, Symbol, TickRecord, Trade, UnixNanos};

use crate::record::{histogram, now_ns};
use crate::report::{Row, dur, median};
use crate::tickd::Tickd;
use crate::tls::Identity;

/// Instruments the directory holds before the measurement.
const INSTRUMENTS: u32 = 65_000;
/// Trades per hostile batch.
const LATE_BATCH: u32 = 2_000;
/// 2023-10-07T12:00:00Z.
const T2023: u64 = 1_696_680_000_000_000_000;

/// Scenario options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Keep-alive connections of the probe (a thread each).
    #[arg(long, default_value_t = 2)]
    pub(crate) connections: u32,
    /// Probe requests per second, all connections together.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) rate: u64,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 6)]
    pub(crate) seconds: u64,
    /// Repetitions, quiet and hostile interleaved.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeat: usize,
    /// One hostile batch every this many ms.
    #[arg(long, default_value_t = 100)]
    pub(crate) every_ms: u64,
}

/// What a probe measured: latency from each request's due time, ns.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Probe {
    pub(crate) requests: u64,
    pub(crate) p50_ns: u64,
    pub(crate) p99_ns: u64,
    pub(crate) p999_ns: u64,
    pub(crate) max_ns: u64,
}

/// One route's figures: quiet, with the benign publisher, with the hostile one.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pair {
    pub(crate) quiet: Probe,
    pub(crate) benign: Probe,
    pub(crate) hostile: Probe,
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
async fn hostile(
    addr: std::net::SocketAddr,
    every: Duration,
    late_dates: bool,
    stop: Arc<AtomicBool>,
    late: Arc<AtomicU64>,
) {
    let Ok(mut client) = Client::connect(addr).await else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    let names: Vec<Symbol> = (0..INSTRUMENTS)
        .map(|i| Symbol::new(&format!("S{i}")).expect("valid"))
        .collect();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
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
                let ts = if late_dates {
                    T2023 + (n * u64::from(LATE_BATCH) + local as u64) * 1_000_000_000
                } else {
                    now_ns()
                };
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

/// `GET path` at `args.rate` requests/s over `args.connections` keep-alive connections for
/// `args.seconds`, each connection a thread of its own with blocking IO (request `i` is due at
/// `start + i / rate`; the thread sleeps, then spins the last 80 µs, so it sends on time to a
/// few µs), and its latency runs from its due time.
async fn probe(addr: std::net::SocketAddr, path: &str, args: &Args) -> anyhow::Result<Probe> {
    let total = args.rate * args.seconds;
    let start = std::time::Instant::now() + Duration::from_millis(50);
    let step = Duration::from_nanos(1_000_000_000 / args.rate.max(1));
    let n = u64::from(args.connections);
    let threads: Vec<_> = (0..n)
        .map(|k| {
            let path = path.to_owned();
            std::thread::spawn(move || -> anyhow::Result<hdrhistogram::Histogram<u64>> {
                use std::io::{BufRead, BufReader, Read, Write};
                let stream = std::net::TcpStream::connect(addr)?;
                stream.set_nodelay(true)?;
                let mut reader = BufReader::new(stream.try_clone()?);
                let mut writer = stream;
                let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                let mut h = histogram();
                let mut line = String::new();
                let mut body = Vec::new();
                let mut i = k;
                while i < total {
                    let due = start + step * u32::try_from(i).unwrap_or(u32::MAX);
                    loop {
                        let now = std::time::Instant::now();
                        if now >= due {
                            break;
                        }
                        if due - now > Duration::from_micros(80) {
                            std::thread::sleep(due - now - Duration::from_micros(80));
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                    writer.write_all(request.as_bytes())?;
                    let mut length = 0usize;
                    let mut status_ok = false;
                    loop {
                        line.clear();
                        anyhow::ensure!(reader.read_line(&mut line)? > 0, "connection closed");
                        if line.starts_with("HTTP/1.1 ") {
                            status_ok = line.starts_with("HTTP/1.1 200");
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse()?;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    anyhow::ensure!(status_ok, "GET {path}: not 200");
                    body.resize(length, 0);
                    reader.read_exact(&mut body)?;
                    let late = due.elapsed();
                    h.record(u64::try_from(late.as_nanos()).unwrap_or(u64::MAX).max(1))?;
                    i += n;
                }
                Ok(h)
            })
        })
        .collect();
    let all = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut all = histogram();
        for t in threads {
            let h = t
                .join()
                .map_err(|_| anyhow::anyhow!("a probe thread panicked"))??;
            all.add(h)?;
        }
        Ok(all)
    })
    .await??;
    Ok(Probe {
        requests: all.len(),
        p50_ns: all.value_at_quantile(0.5),
        p99_ns: all.value_at_quantile(0.99),
        p999_ns: all.value_at_quantile(0.999),
        max_ns: all.max(),
    })
}

/// Which publisher runs beside the probe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Publisher {
    None,
    Benign,
    Hostile,
}

async fn measure(
    t: &Tickd,
    path: &str,
    args: &Args,
    publisher: Publisher,
) -> anyhow::Result<(Probe, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let late = Arc::new(AtomicU64::new(0));
    let task = (publisher != Publisher::None).then(|| {
        let every = Duration::from_millis(args.every_ms);
        let late_dates = publisher == Publisher::Hostile;
        tokio::spawn(hostile(
            t.tcp,
            every,
            late_dates,
            Arc::clone(&stop),
            Arc::clone(&late),
        ))
    });
    let result = probe(t.http, path, args).await;
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = task {
        let _ = p.await;
    }
    Ok((result?, late.load(Ordering::Relaxed)))
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
        let mut pairs = Vec::new();
        for route in ["/health", CANDLES] {
            let (quiet, _) = measure(&t, route, args, Publisher::None).await?;
            let (benign, _) = measure(&t, route, args, Publisher::Benign).await?;
            let (hostile, late_trades) = measure(&t, route, args, Publisher::Hostile).await?;
            pairs.push(Pair {
                quiet,
                benign,
                hostile,
                late_trades,
            });
        }
        let candles = pairs.pop().expect("two routes");
        let health = pairs.pop().expect("two routes");
        outcomes.push(Outcome { health, candles });
    }
    Ok(outcomes)
}

/// The target: the readers' p99 with the hostile publisher within 1.5× of the benign one (any
/// publisher competes for the same 2 cores; a lock readers wait on, or a scan per late trade,
/// would move it by orders of magnitude: 10 s was measured before).
pub(crate) fn rows(args: &Args, outcomes: &[Outcome]) -> Vec<Row> {
    let mut rows = Vec::new();
    type Pick = fn(&Outcome) -> &Pair;
    let routes: [(&str, Pick); 2] = [("/health", |o| &o.health), (CANDLES, |o| &o.candles)];
    for (route, pick) in routes {
        let p99 = |m: fn(&Pair) -> &Probe| {
            median(outcomes.iter().map(|o| m(pick(o)).p99_ns as f64).collect())
        };
        let quiet = p99(|p| &p.quiet);
        let benign = p99(|p| &p.benign);
        let hostile = p99(|p| &p.hostile);
        let late = median(
            outcomes
                .iter()
                .map(|o| pick(o).late_trades as f64 / args.seconds as f64)
                .collect(),
        );
        rows.push(Row {
            path: format!(
                "GET {route} at {}/s ({} connections) while {late:.0} late trades/s over \
                 65,000 instruments are published",
                args.rate, args.connections
            ),
            figure: "p99".into(),
            target: "late trades <= 1.5x the same publish on time".into(),
            tickd: dur(hostile),
            baseline: format!("{} on time ({} quiet)", dur(benign), dur(quiet)),
            ratio: hostile / benign,
            met: hostile / benign <= 1.5,
            limit: "the publishers, the probe and tickd share 2 cores: either publisher moves \
                    the readers' tail by taking CPU (encoding, decoding on the one network \
                    thread, sequencing), not by a lock",
        });
    }
    rows
}
