//! Replays the whole AlgoSeek sample week (../shared/data) at max speed through the real server
//! path (feed → sequencer → ring → candle book → TCP query), and checks:
//! - every trade row is accounted for (ingested + suspicious = rows in the files);
//! - daily and 1-minute candles equal those of an independent, simple computation over the raw
//!   zips (integer deci-cents, README's time formula, no tz database, no tickd parsing code).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tickd_client::Client;
use tickd_protocol::{CandleRecord, Interval, QuerySpec, Symbol, UnixNanos};
use tickd_server::config::{RingSlots, ServeArgs, ServerConfig};

/// Expected candle: integer deci-cents and shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expect {
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: u64,
    trades: u64,
}

/// (symbol, interval secs, open time ns) → candle, from the raw trade files.
fn independent(dir: &Path) -> (BTreeMap<(String, u32, u64), Expect>, u64, u64) {
    let mut out = BTreeMap::new();
    let (mut rows, mut suspicious) = (0, 0);
    for sym in ["aig", "bac", "ibm", "spy"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sym))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with("_trade.zip"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let (y, m, d): (i64, i64, i64) = (
                name[0..4].parse().unwrap(),
                name[4..6].parse().unwrap(),
                name[6..8].parse().unwrap(),
            );
            // README: epoch_ms = time + epoch_ms(<date>T04:00:00Z) on these EDT dates.
            let days = days_from_civil(y, m, d);
            let base_ms = (days * 86_400 + 4 * 3_600) as u64 * 1_000;
            let mut zip = zip::ZipArchive::new(std::fs::File::open(&f).unwrap()).unwrap();
            let mut text = String::new();
            zip.by_index(0).unwrap().read_to_string(&mut text).unwrap();
            for line in text.lines() {
                let cols: Vec<&str> = line.split(',').collect();
                rows += 1;
                if cols[5] == "1" {
                    suspicious += 1;
                    continue;
                }
                let ts_ns = (base_ms + cols[0].parse::<u64>().unwrap()) * 1_000_000;
                let px: i64 = cols[1].parse().unwrap();
                let sz: u64 = cols[2].parse().unwrap();
                for secs in [60u32, 86_400] {
                    let step = u64::from(secs) * 1_000_000_000;
                    let key = (sym.to_uppercase(), secs, ts_ns - ts_ns % step);
                    out.entry(key)
                        .and_modify(|e: &mut Expect| {
                            e.high = e.high.max(px);
                            e.low = e.low.min(px);
                            e.close = px;
                            e.volume += sz;
                            e.trades += 1;
                        })
                        .or_insert(Expect {
                            open: px,
                            high: px,
                            low: px,
                            close: px,
                            volume: sz,
                            trades: 1,
                        });
                }
            }
        }
    }
    (out, rows, suspicious)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn got(c: &CandleRecord) -> Expect {
    // Prices are 1e-9 units; the files' are 1e-4: divide exactly.
    let dc = |raw: i64| {
        assert_eq!(raw % 100_000, 0, "price {raw} is not a whole deci-cent");
        raw / 100_000
    };
    assert_eq!(c.volume % 1_000_000_000, 0);
    Expect {
        open: dc(c.open),
        high: dc(c.high),
        low: dc(c.low),
        close: dc(c.close),
        volume: c.volume / 1_000_000_000,
        trades: c.trades,
    }
}

#[test]
fn the_week_replays_with_exact_candles() {
    let dir = common::algoseek_week();
    let shm = tempfile::tempdir().unwrap();
    let args = ServeArgs {
        replay: vec![dir.clone()],
        speed: Some("max".parse().unwrap()),
        shm_dir: Some(shm.path().join("shm")),
        data_dir: Some(shm.path().join("data")),
        journal_flush: Some("none".parse().unwrap()),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        quic: Some("off".parse().unwrap()),
        http: Some("off".parse().unwrap()),
        ring_slots: RingSlots::new(1 << 22),
        ..ServeArgs::default()
    };
    let config = ServerConfig::load(args).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let running = tickd_server::app::start(&config).unwrap();
        let listeners = tickd_server::net::listener::start(&config, &running.shared)
            .await
            .unwrap();
        let feed = running.shared.feeds[0].clone();
        let mut published = running.shared.published.clone();
        tokio::time::timeout(Duration::from_secs(600), async {
            while !feed.finished.load(Ordering::Acquire) {
                published.changed().await.expect("the sequencer stopped");
            }
        })
        .await
        .expect("replay did not finish");
        assert_eq!(feed.error.lock().unwrap().clone(), None);

        let (expected, rows, suspicious) = independent(&dir);
        assert_eq!(rows, 2_793_812, "trade rows in the files (README)");
        assert_eq!(suspicious, 10);
        let ingested_trades = expected
            .iter()
            .filter(|(k, _)| k.1 == 86_400)
            .map(|(_, e)| e.trades)
            .sum::<u64>();
        assert_eq!(ingested_trades + suspicious, rows);
        assert_eq!(
            feed.skipped_suspicious.load(Ordering::Relaxed),
            10 + 4,
            "10 trade rows and 4 quote rows"
        );

        let mut client = Client::connect(listeners.tcp.unwrap()).await.unwrap();
        let stats = client.query(QuerySpec::Stats).await.unwrap();
        assert!(stats.feeds[0].finished);
        let mut compared = 0;
        for sym in ["AIG", "BAC", "IBM", "SPY"] {
            for (interval, secs) in [(Interval::D1, 86_400u32), (Interval::M1, 60)] {
                let want: Vec<_> = expected
                    .iter()
                    .filter(|(k, _)| k.0 == sym && k.1 == secs)
                    .map(|(k, e)| (k.2, *e))
                    .collect();
                // Page through by day so each answer stays under the query limit.
                let mut have = Vec::new();
                for day in 0..5u64 {
                    let from = 1_381_104_000_000_000_000 + day * 86_400_000_000_000;
                    let spec = QuerySpec::Candles {
                        symbol: Symbol::new(sym).unwrap(),
                        interval,
                        from: Some(UnixNanos(from)),
                        to: Some(UnixNanos(from + 86_400_000_000_000)),
                        limit: None,
                        fill_previous: false,
                    };
                    have.extend(client.query(spec).await.unwrap().candles);
                }
                let have: Vec<_> = have.iter().map(|c| (c.ts_open, got(c))).collect();
                assert_eq!(have.len(), want.len(), "{sym} {interval}: candle count");
                for (h, w) in have.iter().zip(&want) {
                    assert_eq!(h, w, "{sym} {interval} candle at {}", w.0);
                }
                compared += have.len();
            }
        }
        assert_eq!(
            compared,
            expected.len(),
            "every expected candle was compared"
        );
        listeners.stop().await;
        running.shutdown();
    });
}
