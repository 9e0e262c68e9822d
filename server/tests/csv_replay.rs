//! Generic-CSV replay end to end: exact 1s and 1m candles against an independent computation,
//! identical candles at recorded speed and at max speed, and the stop / `--skip-invalid`
//! behaviour on bad lines (DESIGN.md §11).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use common::{TestServer, candles, trades_csv};
use tickd_client::Client;
use tickd_protocol::{CandleRecord, Interval, QuerySpec};
use tickd_server::config::ServeArgs;

const T0: u64 = 1_696_680_000_000_000_000; // 2023-10-07T12:00:00Z

/// Open, high, low, close, volume (1e-9 units) and trade count.
type Ohlcvn = (i128, i128, i128, i128, i128, u64);

/// Independent candles: decimal text parsed by splitting on '.', sums in i128.
fn expected(csv: &str, secs: u64) -> BTreeMap<(String, u64), Ohlcvn> {
    let mut out: BTreeMap<(String, u64), Ohlcvn> = BTreeMap::new();
    let dec = |t: &str| -> i128 {
        let (i, f) = t.split_once('.').unwrap_or((t, ""));
        let f9 = format!("{f:0<9}");
        i.parse::<i128>().unwrap() * 1_000_000_000 + f9.parse::<i128>().unwrap()
    };
    for line in csv.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        if c[2] != "trade" {
            continue;
        }
        let ts: u64 = c[0].parse().unwrap();
        let (px, sz) = (dec(c[3]), dec(c[4]));
        let key = (c[1].to_owned(), ts - ts % (secs * 1_000_000_000));
        out.entry(key)
            .and_modify(|e| {
                e.1 = e.1.max(px);
                e.2 = e.2.min(px);
                e.3 = px;
                e.4 += sz;
                e.5 += 1;
            })
            .or_insert((px, px, px, px, sz, 1));
    }
    out
}

async fn replay(path: &Path, speed: &str) -> (TestServer, Client) {
    let server = TestServer::start(ServeArgs {
        replay: vec![path.to_owned()],
        speed: Some(speed.parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let client = Client::connect(server.addr).await.unwrap();
    (server, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candles_are_exact_and_speed_independent() {
    let dir = tempfile::tempdir().unwrap();
    let csv = trades_csv(&["AAPL", "MSFT", "BRK.B"], 3_000, T0 + 123, 500_000); // 1.5 s of events
    let path = dir.path().join("ticks.csv");
    std::fs::write(&path, &csv).unwrap();

    let (max_server, mut max_client) = replay(&path, "max").await;
    let (rec_server, mut rec_client) = replay(&path, "recorded").await;
    for (interval, secs) in [(Interval::S1, 1), (Interval::M1, 60)] {
        let want = expected(&csv, secs);
        for sym in ["AAPL", "MSFT", "BRK.B"] {
            let fast = candles(&mut max_client, sym, interval).await;
            let slow = candles(&mut rec_client, sym, interval).await;
            assert_eq!(
                fast, slow,
                "{sym} {interval}: recorded and max speed differ"
            );
            assert!(
                fast.iter().all(CandleRecord::is_closed),
                "a finished replay's candles are all closed"
            );
            let want: Vec<_> = want.iter().filter(|(k, _)| k.0 == sym).collect();
            assert_eq!(fast.len(), want.len(), "{sym} {interval}");
            for (c, ((_, ts), e)) in fast.iter().zip(&want) {
                assert_eq!(c.ts_open, *ts);
                let got = (
                    i128::from(c.open),
                    i128::from(c.high),
                    i128::from(c.low),
                    i128::from(c.close),
                    i128::from(c.volume),
                    c.trades,
                );
                assert_eq!(got, **e, "{sym} {interval} at {ts}");
            }
        }
    }
    max_server.stop().await;
    rec_server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_stops_the_replay_after_everything_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "ts_event,symbol,kind,price,size\n1000,AAPL,trade,1.5,10\n2000,AAPL,trade,1.0000000001,10\n3000,AAPL,trade,2,10\n",
    )
    .unwrap();
    let server = TestServer::start(ServeArgs {
        replay: vec![path.clone()],
        speed: Some("max".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let feed = server.running.as_ref().unwrap().shared.feeds[0].clone();
    assert_eq!(
        feed.ingested.load(Ordering::Acquire),
        1,
        "the line before the bad one is ingested"
    );
    let err = feed.error.lock().unwrap().clone().unwrap();
    assert!(
        err.starts_with(&format!(
            "{}:3: price: decimal \"1.0000000001\" has 10 fractional digits",
            path.display()
        )),
        "{err}"
    );
    let mut client = Client::connect(server.addr).await.unwrap();
    let stats = client.query(QuerySpec::Stats).await.unwrap();
    assert_eq!(
        (stats.feeds[0].ingested, stats.feeds[0].finished),
        (1, true)
    );
    assert!(
        stats.feeds[0].error.contains(":3: "),
        "{}",
        stats.feeds[0].error
    );
    server.stop().await;

    let server = TestServer::start(ServeArgs {
        replay: vec![path],
        speed: Some("max".parse().unwrap()),
        skip_invalid: true,
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let feed = server.running.as_ref().unwrap().shared.feeds[0].clone();
    assert_eq!(
        feed.ingested.load(Ordering::Acquire),
        2,
        "both valid lines are ingested"
    );
    assert_eq!(feed.skipped_invalid.load(Ordering::Relaxed), 1);
    assert_eq!(*feed.error.lock().unwrap(), None);
    server.stop().await;
}
