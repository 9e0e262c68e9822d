//! Per-instrument scales end to end (DESIGN.md §2): real-world magnitudes that do not fit the
//! fixed 1e-9 unit replay and publish exactly, candles match an independent decimal computation,
//! every renderer uses the instrument's scales, and the scales survive a restart.
//!
//! - PEPEUSDT at 8:0: trades of 25 billion to a trillion tokens (above `u64::MAX` × 1e-9).
//! - BTCIDR at 2:8: BTC priced at about 1e12 (above `i64::MAX` × 1e-9).
//! - ETHBTC at 8:4: a tick size of 1e-8.
//! - AAPL at the default 9:9, beside them.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use common::{TestServer, candles};
use serde_json::Value;
use tickd_client::Client;
use tickd_protocol::{
    InstrumentId, Interval, Price, QuerySpec, Scales, Side, Symbol, TickRecord, Trade, UnixNanos,
};
use tickd_server::config::ServeArgs;

const T0: u64 = 1_696_680_000_000_000_000; // 2023-10-07T12:00:00Z

const CSV: &str = "ts_event,symbol,kind,price,size,side\n\
1696680000100000000,PEPEUSDT,trade,0.00001234,25000000000,buy\n\
1696680000200000000,BTCIDR,trade,1000000000000.25,0.00012345,sell\n\
1696680000300000000,PEPEUSDT,trade,0.00001240,1000000000000,sell\n\
1696680000400000000,ETHBTC,trade,0.05123456,1.2345,buy\n\
1696680000500000000,AAPL,trade,171.23,100,buy\n\
1696680000600000000,PEPEUSDT,trade,0.00001229,17000000000,buy\n\
1696680000700000000,BTCIDR,trade,1000000000100.5,0.5,buy\n\
1696680000800000000,ETHBTC,trade,0.05123457,0.0001,sell\n\
1696680061000000000,PEPEUSDT,trade,0.00001250,123456789012,buy\n";

const SCALES: [(&str, &str); 3] = [("PEPEUSDT", "8:0"), ("BTCIDR", "2:8"), ("ETHBTC", "8:4")];

/// Decimal text as an integer of `places` decimal places: split on '.', no float, no library.
fn fixed(text: &str, places: u32) -> i128 {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    assert!(
        frac.len() <= places as usize,
        "{text} has more than {places} places"
    );
    let frac = format!("{frac:0<width$}", width = places as usize);
    int.parse::<i128>().unwrap() * 10i128.pow(places) + frac.parse::<i128>().unwrap_or(0)
}

fn scales_of(symbol: &str) -> Scales {
    SCALES
        .iter()
        .find(|(s, _)| *s == symbol)
        .map_or(Scales::DEFAULT, |(_, sc)| sc.parse().unwrap())
}

/// Open, high, low, close, volume, notional and trade count, raw units of the scales.
type Ohlcvnt = (i128, i128, i128, i128, i128, i128, u64);

/// Expected 1m candles computed from the CSV text alone, in raw units of each symbol's scales.
fn expected() -> BTreeMap<(String, u64), Ohlcvnt> {
    let mut out = BTreeMap::new();
    for line in CSV.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let sc = scales_of(c[1]);
        let ts: u64 = c[0].parse().unwrap();
        let px = fixed(c[3], u32::from(sc.price_scale()));
        let sz = fixed(c[4], u32::from(sc.size_scale()));
        let key = (c[1].to_owned(), ts - ts % 60_000_000_000);
        out.entry(key)
            .and_modify(|e: &mut Ohlcvnt| {
                e.1 = e.1.max(px);
                e.2 = e.2.min(px);
                e.3 = px;
                e.4 += sz;
                e.5 += px * sz;
                e.6 += 1;
            })
            .or_insert((px, px, px, px, sz, px * sz, 1));
    }
    out
}

async fn get(addr: SocketAddr, path: &str) -> String {
    common::http_get(addr, path).await.1
}

fn args(dir: &std::path::Path, replay: bool) -> ServeArgs {
    ServeArgs {
        replay: if replay {
            vec![dir.join("ticks.csv")]
        } else {
            vec![]
        },
        speed: Some("max".parse().unwrap()),
        synthetic: Some("off".parse().unwrap()),
        data_dir: Some(dir.join("data")),
        scales: SCALES
            .iter()
            .map(|(s, sc)| format!("{s}={sc}").parse().unwrap())
            .collect(),
        ..ServeArgs::default()
    }
}

/// Every candle equals the independent computation, raw and as the bridge renders it.
async fn check(server: &TestServer) {
    let mut client = Client::connect(server.addr).await.unwrap();
    let instruments = client
        .query(QuerySpec::Symbols {
            prefix: String::new(),
            page: Default::default(),
        })
        .await
        .unwrap()
        .instruments;
    for i in &instruments {
        assert_eq!(i.scales, scales_of(i.symbol.as_str()), "{}", i.symbol);
    }
    let want = expected();
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    for sym in ["PEPEUSDT", "BTCIDR", "ETHBTC", "AAPL"] {
        let sc = scales_of(sym);
        let got = candles(&mut client, sym, Interval::M1).await;
        let mine: Vec<_> = want.iter().filter(|((s, _), _)| s == sym).collect();
        assert_eq!(got.len(), mine.len(), "{sym}");
        for (c, ((_, t), e)) in got.iter().zip(&mine) {
            assert_eq!(c.ts_open, *t);
            assert_eq!(
                (
                    i128::from(c.open),
                    i128::from(c.high),
                    i128::from(c.low),
                    i128::from(c.close),
                    c.volume_total() as i128,
                    c.notional(),
                    c.trades
                ),
                **e,
                "{sym} candle at {t}"
            );
        }
        // The seed dialect renders exact decimals at the instrument's scales.
        let body: Value =
            serde_json::from_str(&get(http, &format!("/candles?symbol={sym}&interval=1m")).await)
                .unwrap();
        let first = &body["candles"][0];
        let (_, e) = mine[0];
        let render = |raw: i128, places: u8| {
            format!(
                "{:#}",
                Scales::new(u32::from(places), 0)
                    .unwrap()
                    .price(Price::from_raw(raw as i64))
            )
        };
        assert_eq!(first["open"].to_string(), render(e.0, sc.price_scale()));
        assert_eq!(first["volume"].to_string(), render(e.4, sc.size_scale()));
    }
    // Numbers as a person reads them, in every dialect.
    let seed: Value =
        serde_json::from_str(&get(http, "/candles?symbol=PEPEUSDT&interval=1m").await).unwrap();
    assert_eq!(seed["candles"][0]["open"].to_string(), "0.00001234");
    assert_eq!(seed["candles"][0]["volume"].to_string(), "1042000000000");
    let latest: Value =
        serde_json::from_str(&get(http, "/price/latest?symbol=BTCIDR").await).unwrap();
    assert_eq!(latest["price"].to_string(), "1000000000100.5");
    assert_eq!(latest["size"].to_string(), "0.5");
    let klines: Value =
        serde_json::from_str(&get(http, "/api/v3/klines?symbol=PEPEUSDT&interval=1m").await)
            .unwrap();
    assert_eq!(klines[0][1], "0.00001234");
    assert_eq!(klines[0][5], "1042000000000.00000000");
    // Quote volume: 0.00001234 × 25e9 + 0.0000124 × 1e12 + 0.00001229 × 17e9.
    assert_eq!(klines[0][7], "12917430.00000000");
    let udf: Value = serde_json::from_str(&get(http, "/udf/symbols?symbol=ETHBTC").await).unwrap();
    assert_eq!(
        (udf["pricescale"].as_u64(), udf["volume_precision"].as_u64()),
        (Some(100_000_000), Some(4))
    );
    let udf: Value = serde_json::from_str(&get(http, "/udf/symbols?symbol=AAPL").await).unwrap();
    assert_eq!(udf["pricescale"].as_u64(), Some(100), "9:9 keeps cents");
    let aapl: Value = serde_json::from_str(&get(http, "/price/latest?symbol=AAPL").await).unwrap();
    assert_eq!(aapl["price"].to_string(), "171.23");
    // Co-located readers get the scales from the directory.
    let mut shm = tickd_client::shm::ShmClient::open(&server.shm.path().join("shm")).unwrap();
    let pepe = shm.id_of(&Symbol::new("PEPEUSDT").unwrap()).unwrap();
    assert_eq!(shm.scales_of(pepe), Some("8:0".parse().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_magnitudes_replay_exactly_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ticks.csv"), CSV).unwrap();
    let server = TestServer::start(args(dir.path(), true)).await;
    server.wait_feeds().await;
    let feed = &server.running.as_ref().unwrap().shared.feeds[0];
    assert_eq!(feed.error.lock().unwrap().clone(), None);
    check(&server).await;
    server.stop().await;
    // The journal keeps each instrument's scales: the same candles and renderings after it.
    let server = TestServer::start(args(dir.path(), false)).await;
    check(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_does_not_fit_its_scale_is_refused_never_rounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ticks.csv");
    std::fs::write(
        &path,
        "ts_event,symbol,kind,price,size,side\n\
         1696680000100000000,PEPEUSDT,trade,0.00001234,25000000000,buy\n\
         1696680000200000000,PEPEUSDT,trade,0.000012345,1,buy\n",
    )
    .unwrap();
    let mut a = args(dir.path(), true);
    a.replay = vec![path.clone()];
    let server = TestServer::start(a).await;
    server.wait_feeds().await;
    let feed = &server.running.as_ref().unwrap().shared.feeds[0];
    let error = feed.error.lock().unwrap().clone().unwrap();
    assert_eq!(
        error,
        format!(
            "{}:3: price: decimal \"0.000012345\" has 9 fractional digits, at most 8 are allowed (PEPEUSDT scales 8:0)",
            path.display()
        )
    );
    assert_eq!(feed.ingested.load(std::sync::atomic::Ordering::Acquire), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_defines_scales_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        data_dir: Some(dir.path().join("data")),
        ..ServeArgs::default()
    })
    .await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let pepe = Symbol::new("PEPEUSDT").unwrap();
    let scales: Scales = "8:0".parse().unwrap();
    let trade = |px: &str, sz: &str, ts: u64| {
        let t = Trade {
            price: scales.parse_price(px).unwrap(),
            size: scales.parse_size(sz).unwrap(),
            trade_id: ts,
            venue: 0,
            conditions: 0,
        };
        TickRecord::new_trade(InstrumentId(0), UnixNanos(T0 + ts), Side::Buy, &t)
    };
    let ack = client
        .publish_scaled(
            vec![pepe],
            vec![scales],
            &[
                trade("0.00001234", "25000000000", 1),
                trade("0.0000124", "1000000000000", 2),
            ],
        )
        .await
        .unwrap();
    assert_eq!((ack.accepted, ack.rejected.len()), (2, 0));
    // The same symbol with other scales: refused, per tick, with the reason.
    let ack = client
        .publish(vec![pepe], &[trade("0.00001", "1", 3)])
        .await
        .unwrap();
    assert_eq!(ack.accepted, 0);
    assert_eq!(
        ack.rejected[0].reason,
        "instrument index 0 was refused (directory full, or scales differ from its definition)"
    );
    let c = &candles(&mut client, "PEPEUSDT", Interval::M1).await[0];
    assert_eq!(
        (c.open, c.high, c.volume_total()),
        (1234, 1240, 1_025_000_000_000)
    );
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let latest: Value =
        serde_json::from_str(&get(http, "/price/latest?symbol=PEPEUSDT").await).unwrap();
    assert_eq!(latest["price"].to_string(), "0.0000124");
    assert_eq!(latest["size"].to_string(), "1000000000000");
    server.stop().await;
}
