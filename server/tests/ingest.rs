//! Ingest under hostile input, over the real TCP listener: a publisher's tick dated far in the
//! future is rejected with the reason and closes nothing, while everyone else's candles stay
//! open and the valid ticks beside it are sequenced.

mod common;

use common::{TestServer, candles};
use tickd_client::Client;
use tickd_protocol::{
    CandleRecord, InstrumentId, Interval, Side, Symbol, TickRecord, Trade, UnixNanos,
};
use tickd_server::config::ServeArgs;

fn trade(local: u32, ts: u64, px: &str) -> TickRecord {
    let t = Trade {
        price: px.parse().unwrap(),
        size: "1".parse().unwrap(),
        trade_id: ts,
        venue: 0,
        conditions: 0,
    };
    TickRecord::new_trade(InstrumentId(local), UnixNanos(ts), Side::Buy, &t)
}

async fn candle(client: &mut Client, sym: &str) -> CandleRecord {
    candles(client, sym, Interval::M1).await.pop().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_dated_in_2100_is_rejected_and_closes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        data_dir: Some(dir.path().join("data")),
        // Minutes of grace: the wall clock does not close the candles under test.
        candle_grace_ms: Some(600_000),
        ..ServeArgs::default()
    })
    .await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let now = tickd_server::clock::now().0;
    let (aapl, msft) = (Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap());
    let ack = client
        .publish(
            vec![aapl, msft],
            &[trade(0, now, "171.23"), trade(1, now, "320.5")],
        )
        .await
        .unwrap();
    assert_eq!(ack.accepted, 2);

    // 2100-01-01 between two valid ticks.
    let ack = client
        .publish(
            vec![aapl],
            &[
                trade(0, now + 1, "171.24"),
                trade(0, 4_102_444_800_000_000_000, "999"),
                trade(0, now + 2, "171.25"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ack.accepted, 2, "the valid ticks beside it are sequenced");
    assert_eq!(ack.rejected.len(), 1);
    assert_eq!(ack.rejected[0].index, 1);
    assert!(
        ack.rejected[0]
            .reason
            .ends_with("ms ahead of the server clock, more than the 300000 ms allowed"),
        "{}",
        ack.rejected[0].reason
    );
    // Nothing closed: MSFT's candle and AAPL's are still in progress, at version 0.
    let m = candle(&mut client, "MSFT").await;
    let a = candle(&mut client, "AAPL").await;
    assert_eq!((m.is_closed(), m.version, m.trades), (false, 0, 1));
    assert_eq!(
        (a.is_closed(), a.version, a.trades, a.high),
        (false, 0, 3, 171_250_000_000)
    );
    server.stop().await;
}

/// Row 2: 2,000 trades dated 2023 published while the synthetic feed runs, with 65,000
/// instruments known. Each late trade costs its intervals (no scan of every instrument, no
/// lock readers wait on): they land as exact corrections where retention holds them, are
/// counted where it does not, and the live feed and `/health` keep going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_trades_among_65000_instruments_are_exact_corrections() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL,MSFT".parse().unwrap()),
        max_instruments: Some(70_000.try_into().unwrap()),
        symbol_quota: Some(0),
        http: Some("127.0.0.1:0".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let now = tickd_server::clock::now().0;
    for b in 0..8u32 {
        let names: Vec<_> = (0..8_125u32)
            .map(|i| Symbol::new(&format!("S{}", b * 8_125 + i)).unwrap())
            .collect();
        let ticks: Vec<_> = (0..8_125u32).map(|i| trade(i, now, "50")).collect();
        assert_eq!(client.publish(names, &ticks).await.unwrap().accepted, 8_125);
    }
    // 2023-10-07T12:00:00Z + i s, prices 100..=109 cycling, size 1.
    const T0: u64 = 1_696_680_000_000_000_000;
    let late: Vec<_> = (0..2_000u64)
        .map(|i| trade(0, T0 + i * 1_000_000_000, &format!("{}", 100 + i % 10)))
        .collect();
    let ack = client
        .publish(vec![Symbol::new("S0").unwrap()], &late)
        .await
        .unwrap();
    assert_eq!((ack.accepted, ack.rejected.len()), (2_000, 0));

    // 4h and 1d keep 2023 (5 and 20 years of retention): one candle each, built from the
    // 2,000 trades as corrections (created at version 1, bumped by each later trade).
    for interval in [Interval::H4, Interval::D1] {
        let c = candles(&mut client, "S0", interval).await;
        let old = c
            .iter()
            .find(|c| c.ts_open <= T0 && T0 < c.ts_open + interval.nanos())
            .unwrap_or_else(|| panic!("no {interval:?} candle for 2023: {c:?}"));
        assert_eq!(
            (old.open, old.high, old.low, old.close),
            (
                100_000_000_000,
                109_000_000_000,
                100_000_000_000,
                109_000_000_000
            )
        );
        assert_eq!(
            (old.trades, old.volume, old.version, old.is_closed()),
            (2_000, 2_000_000_000_000, 2_000, true)
        );
        assert_eq!(
            (old.ts_first_event, old.ts_last_event),
            (T0, T0 + 1_999 * 1_000_000_000)
        );
    }
    // Every interval takes them (retention counts candles, and S0 had one): 1m has 34
    // corrected candles of 2023 (33 whole minutes and 20 s), each at version = its trades.
    let m1 = candles(&mut client, "S0", Interval::M1).await;
    let old: Vec<_> = m1
        .iter()
        .filter(|c| c.ts_open < now - 86_400_000_000_000)
        .collect();
    assert_eq!(old.len(), 34);
    assert_eq!(old.iter().map(|c| c.trades).sum::<u64>(), 2_000);
    assert!(
        old.iter()
            .all(|c| u64::from(c.version) == c.trades && c.is_closed())
    );
    assert_eq!(m1.len(), 35, "and the live candle of today");
    // The live feed kept flowing and the server kept answering.
    let head = server.head();
    server.wait_head(head + 1).await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let (status, _) = common::http_get(http, "/health").await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// Row 6: extreme values over the real listener. What breaks sums or ordering is rejected per
/// tick with its reason; what real markets produce (negative prices, locked and crossed books)
/// is kept, a crossed quote marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_values_are_rejected_with_reasons_and_real_ones_kept() {
    use tickd_protocol::{Price, Quantity, Quote, Seq};
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        candle_grace_ms: Some(600_000),
        ..ServeArgs::default()
    })
    .await;
    let mut client = Client::connect(server.addr).await.unwrap();
    let now = tickd_server::clock::now().0;
    let raw = |px: i64, size: u64, ts: u64| {
        let t = Trade {
            price: Price::from_raw(px),
            size: Quantity::from_raw(size),
            trade_id: 1,
            venue: 0,
            conditions: 0,
        };
        TickRecord::new_trade(InstrumentId(0), UnixNanos(ts), Side::Buy, &t)
    };
    let quote = |bid: i64, ask: i64| {
        let q = Quote {
            bid_px: Price::from_raw(bid),
            bid_sz: Quantity::from_raw(1),
            ask_px: Price::from_raw(ask),
            ask_sz: Quantity::from_raw(1),
        };
        TickRecord::new_quote(InstrumentId(0), UnixNanos(now), &q)
    };
    let ticks = [
        raw(i64::MIN, 1, now),
        raw(i64::MAX, 1, now),
        raw(1, u64::MAX, now),
        raw(1, 0, now),
        raw(1, 1, u64::MAX),
        TickRecord {
            instrument_id: 0,
            ..TickRecord::candle_close(UnixNanos(now))
        },
        raw(-5_000_000_000, 2_000_000_000, now),
        quote(10_010_000_000, 10_000_000_000),
        quote(10_000_000_000, 10_000_000_000),
    ];
    let ack = client
        .publish(vec![Symbol::new("SPREAD").unwrap()], &ticks)
        .await
        .unwrap();
    let reasons: Vec<_> = ack
        .rejected
        .iter()
        .map(|r| (r.index, r.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (0, "price -9223372036854775808 is out of range"),
            (1, "trade price is undefined"),
            (
                2,
                "trade size 18446744073709551615 is out of range (at most 9223372036854775807 raw units)"
            ),
            (3, "trade size is zero"),
            (
                4,
                "ts_event 18446744073709551615 is out of range (after 2262-04-11)"
            ),
            (
                5,
                "kind 16 is a control record, which only the sequencer writes"
            ),
        ]
    );
    assert_eq!(ack.accepted, 3);
    let (first, last) = (ack.first_seq, ack.last_seq);
    assert_eq!(last.0 - first.0, 2);
    // The negative trade is kept and folds into candles exactly (notional negative, VWAP -5).
    let c = candle(&mut client, "SPREAD").await;
    assert_eq!(
        (c.open, c.trades, c.volume),
        (-5_000_000_000, 1, 2_000_000_000)
    );
    assert_eq!(c.notional(), -10_000_000_000_000_000_000);
    // The crossed quote carries the flag, the locked one does not.
    let got = client
        .query(tickd_protocol::QuerySpec::Latest {
            symbols: vec![Symbol::new("SPREAD").unwrap()],
            page: Default::default(),
        })
        .await
        .unwrap();
    let q = got.ticks.iter().find(|t| t.quote().is_some()).unwrap();
    assert_eq!(
        (q.seq(), q.flags),
        (Seq(last.0), 0),
        "the locked quote, last"
    );
    let mut tcp = Client::connect(server.addr).await.unwrap();
    let epoch = tcp.welcome().epoch;
    tcp.subscribe(tickd_protocol::Subscribe {
        request_id: 0,
        selection: tickd_protocol::Selection::All,
        trades: true,
        quotes: true,
        candles: vec![],
        start: tickd_protocol::Start::Seq { epoch, seq: first },
        snapshot: false,
        policy: tickd_protocol::SlowConsumerPolicy::Drop,
        datagrams: false,
    })
    .await
    .unwrap();
    let mut flags = Vec::new();
    while flags.len() < 3 {
        if let Some(tickd_client::Event::Ticks { ticks, .. }) = tcp.next_event().await.unwrap() {
            flags.extend(ticks.iter().map(|t| t.flags));
        }
    }
    assert_eq!(flags, [0, TickRecord::CROSSED, 0]);
    server.stop().await;
}
