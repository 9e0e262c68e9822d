//! Real tools from PyPI against tickd: python-binance fetches klines over REST (equal to the
//! binary protocol's candles) and reads a trade stream over WebSocket; schemathesis fuzzes every
//! route of `/openapi.json` and checks each answer against it.
//!
//! Needs `python-binance` and `schemathesis` importable by `$TICKD_PYTHON` (default `python3`);
//! `.ci/test` makes a virtualenv with them. Without it the test says so and passes, unless
//! `TICKD_REQUIRE_PYTHON_CLIENTS=1` (set by `.ci/test`), where it fails.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{TestServer, trades_csv};
use serde_json::{Value, json};
use tickd_client::Client;
use tickd_protocol::{
    InstrumentId, Interval, Price, Quantity, QuerySpec, Seq, Side, Symbol, TickRecord, Trade,
    UnixNanos,
};
use tickd_server::config::ServeArgs;
use tokio::io::{AsyncBufReadExt, BufReader};

const T0: u64 = 1_696_680_000_000_000_000;

/// Binance's 8-decimal text of a fixed-point (1e-9) value.
fn dec8(raw: i64) -> String {
    let p = Price::from_raw(raw);
    let s = format!("{p:#}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    format!("{int}.{:0<8}", frac)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_binance_reads_klines_and_a_trade_stream() {
    let Some(py) = common::python_with("binance", "python-binance") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, trades_csv(&["AAPL"], 400, T0, 500_000_000)).unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        replay: vec![csv],
        speed: Some("max".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/binance_client.py"
    );
    let mut child = tokio::process::Command::new(&py)
        .args([script, &http.to_string(), "AAPL"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("python-binance answered within 30 s")
            .unwrap()
            .expect("python-binance printed a line");
        serde_json::from_str(&line).unwrap()
    };
    assert!(next().await["server_time"].as_u64().unwrap() > T0 / 1_000_000);

    // Klines equal the binary protocol's 1-minute candles, field by field.
    let klines = next().await;
    let klines = klines["klines"].as_array().unwrap();
    let mut c = Client::connect(server.addr).await.unwrap();
    let answer = c
        .query(QuerySpec::Candles {
            symbol: Symbol::new("AAPL").unwrap(),
            interval: Interval::M1,
            from: None,
            to: None,
            limit: Some(1000),
            fill_previous: false,
        })
        .await
        .unwrap();
    assert_eq!(klines.len(), answer.candles.len());
    assert!(klines.len() >= 3);
    for (k, c) in klines.iter().zip(&answer.candles) {
        let [o, h, l, cl] = c.ohlc();
        assert_eq!(k[0], c.ts_open / 1_000_000);
        assert_eq!(k[1], dec8(o.raw()));
        assert_eq!(k[2], dec8(h.raw()));
        assert_eq!(k[3], dec8(l.raw()));
        assert_eq!(k[4], dec8(cl.raw()));
        assert_eq!(k[5], dec8(c.volume().raw() as i64));
        assert_eq!(k[6], (c.ts_open + 60_000_000_000) / 1_000_000 - 1);
        assert_eq!(k[8], c.trades);
    }
    let ticker = next().await;
    assert_eq!(ticker["ticker"]["symbol"], "AAPL");

    // The trade stream: publish three trades once the socket is open.
    // The socket's stream starts at the head when the upgrade was accepted, so what is
    // published once the client says it is open reaches it.
    assert_eq!(next().await["ready"], true);
    let ticks: Vec<TickRecord> = (0..3u64)
        .map(|i| {
            let t = Trade {
                price: Price::from_raw(150_250_000_000 + i as i64),
                size: Quantity::from_raw(7_000_000_000),
                trade_id: 9_000 + i,
                venue: 0,
                conditions: 0,
            };
            TickRecord::new_trade(
                InstrumentId(0),
                UnixNanos(T0 + 3_600_000_000_000 + i),
                Side::Sell,
                &t,
            )
        })
        .collect();
    c.publish(vec![Symbol::new("AAPL").unwrap()], &ticks)
        .await
        .unwrap();
    for i in 0..3u64 {
        let t = next().await;
        let t = &t["trade"];
        assert_eq!(t["e"], "trade");
        assert_eq!(t["s"], "AAPL");
        assert_eq!(t["t"], 9_000 + i);
        // Binance's 8 decimals, 9 when the value needs them (never rounded).
        let price = if i == 0 {
            "150.25000000".to_owned()
        } else {
            format!("150.25000000{i}")
        };
        assert_eq!(t["p"], price);
        assert_eq!(t["q"], "7.00000000");
        assert_eq!(t["m"], true);
    }
    let _ = child.wait().await;
    server.stop().await;
}

/// Runs schemathesis against the server's `/openapi.json`, with the checks the bridge
/// promises: no 5xx, and every status, content type, header and body as documented.
async fn schemathesis(py: &str, http: std::net::SocketAddr, headers: &[&str]) {
    // schemathesis keeps a cache in its working directory: not in the source tree.
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(py);
    cmd.current_dir(cwd.path())
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("http://{http}/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
            "--max-examples",
            "60",
            "--seed",
            "7",
            "--no-shrink",
            "--request-timeout",
            "10",
        ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.kill_on_drop(true).output())
        .await
        .expect("schemathesis finished within 300 s")
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every operation was exercised (schemathesis leaves out `/openapi.json` itself).
    assert!(report.contains("Tested: 24"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_every_response_conforms() {
    let Some(py) = common::python_with("schemathesis", "schemathesis") else {
        return;
    };
    // Replayed history (closed candles) and the synthetic feed (live trades and quotes).
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, trades_csv(&["AAPL", "MSFT"], 400, T0, 500_000_000)).unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL,TSLA".parse().unwrap()),
        replay: vec![csv],
        speed: Some("max".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    schemathesis(&py, http, &[]).await;
    server.stop().await;

    // With tokens and a rate limit the document adds 401/403/429, and answers conform to it.
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        tokens: vec![
            format!(
                "reader:{}:subscribe",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"r-secret"))
            )
            .parse()
            .unwrap(),
        ],
        http_rate: Some(200),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    schemathesis(&py, http, &["Authorization: Bearer r-secret"]).await;
    server.stop().await;
}

/// Every trade in the ring up to AAPL's latest, by the binary protocol (the ring may end in
/// candle-close records, which no subscription receives).
async fn all_trades(c: &mut Client, addr: std::net::SocketAddr) -> Vec<TickRecord> {
    let latest = common::latest(c, "AAPL").await;
    let head = Seq(latest
        .iter()
        .filter(|t| t.trade().is_some())
        .map(|t| t.seq)
        .max()
        .unwrap());
    let mut fetch = Client::connect(addr).await.unwrap();
    let epoch = fetch.welcome().epoch;
    let (mut ticks, gaps) = fetch.fetch_range(epoch, Seq(1), head).await.unwrap();
    assert!(gaps.is_empty(), "{gaps:?}");
    ticks.retain(|t| t.trade().is_some());
    ticks
}

/// The /ws socket's second part: aggTrade, bookTicker and miniTicker added by SUBSCRIBE; one
/// trade and one quote reach every stream that wants them.
async fn more_streams<F>(next: &mut F, c: &mut Client, now: u64)
where
    F: AsyncFnMut() -> (String, Value),
{
    for id in [8, 9, 10] {
        assert_eq!(
            next().await,
            ("ws_reply".into(), json!({"result": null, "id": id}))
        );
    }
    assert_eq!(next().await, ("ws_ready".into(), json!("more")));
    let trade = Trade {
        price: Price::from_raw(181_250_000_000),
        size: Quantity::from_raw(2_000_000_000),
        trade_id: 300,
        venue: 0,
        conditions: 0,
    };
    let quote = tickd_protocol::Quote {
        bid_px: Price::from_raw(181_240_000_000),
        bid_sz: Quantity::from_raw(7_000_000_000),
        ask_px: Price::from_raw(181_260_000_000),
        ask_sz: Quantity::from_raw(9_000_000_000),
    };
    let ticks = [
        TickRecord::new_trade(InstrumentId(0), UnixNanos(now + 10), Side::Sell, &trade),
        TickRecord::new_quote(InstrumentId(0), UnixNanos(now + 11), &quote),
    ];
    let ack = c
        .publish(vec![Symbol::new("AAPL").unwrap()], &ticks)
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..4 {
        let (name, value) = next().await;
        assert_eq!(name, "ws_event");
        events.push(value);
    }
    // By name: 24hrMiniTicker, aggTrade, bookTicker, trade.
    let (mini, agg, book, trade_event) = (&events[0], &events[1], &events[2], &events[3]);
    assert_eq!(trade_event["t"], 300);
    assert_eq!(trade_event["m"], true, "the seller was the aggressor");
    assert_eq!(agg["e"], "aggTrade");
    assert_eq!(agg["a"], ack.first_seq.0);
    assert_eq!(
        (agg["f"].clone(), agg["l"].clone()),
        (json!(300), json!(300))
    );
    assert_eq!(
        (agg["p"].clone(), agg["q"].clone()),
        (json!("181.25000000"), json!("2.00000000"))
    );
    assert_eq!(agg["m"], true);
    assert_eq!(agg["T"], (now + 10) / 1_000_000);
    assert_eq!(book["u"], ack.first_seq.0 + 1);
    assert_eq!(
        [&book["s"], &book["b"], &book["B"], &book["a"], &book["A"]],
        [
            &json!("AAPL"),
            &json!("181.24000000"),
            &json!("7.00000000"),
            &json!("181.26000000"),
            &json!("9.00000000")
        ]
    );
    // The 24 h window: every candle so far (all inside it), by the binary protocol.
    let candles = common::candles(c, "AAPL", Interval::M1).await;
    let volume: i64 = candles.iter().map(|c| c.volume().raw() as i64).sum();
    let notional: i128 = candles.iter().map(|c| c.notional()).sum();
    assert_eq!(mini["e"], "24hrMiniTicker");
    assert_eq!(mini["s"], "AAPL");
    assert_eq!(mini["c"], "181.25000000");
    assert_eq!(mini["o"], dec8(candles[0].ohlc()[0].raw()));
    assert_eq!(
        mini["h"],
        dec8(candles.iter().map(|c| c.ohlc()[1].raw()).max().unwrap())
    );
    assert_eq!(
        mini["l"],
        dec8(candles.iter().map(|c| c.ohlc()[2].raw()).min().unwrap())
    );
    assert_eq!(mini["v"], dec8(volume));
    assert_eq!(mini["q"], dec8((notional / 1_000_000_000) as i64));
}

/// Issue 20: binance-connector (Binance's official Python connector, from PyPI, unchanged)
/// against tickd's Binance REST: its answers equal the binary protocol's, field by field, and
/// its errors come out as its `ClientError` with Binance's codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_connector_reads_klines_tickers_and_errors() {
    let Some(py) = common::python_from(
        "TICKD_PYTHON_CONNECTOR",
        "binance.spot",
        "binance-connector",
    ) else {
        return;
    };
    // 400 trades, one every 0.5 s, ending about 56 minutes ago: inside the 24 h window.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let t0 = now - 3_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, trades_csv(&["AAPL"], 400, t0, 500_000_000)).unwrap();
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        replay: vec![csv],
        speed: Some("max".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/binance_connector.py"
    );
    let mut child = tokio::process::Command::new(&py)
        .args([script, &http.to_string(), "AAPL"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || -> (String, Value) {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("binance-connector answered within 30 s")
            .unwrap()
            .expect("binance-connector printed a line");
        let map: serde_json::Map<String, Value> = serde_json::from_str(&line).unwrap();
        map.into_iter().next().unwrap()
    };
    // The REST answers, up to the first socket's.
    let mut got = serde_json::Map::new();
    loop {
        let (name, value) = next().await;
        if name == "ws_reply" {
            // SUBSCRIBE on bare /ws is answered as Binance answers it.
            assert_eq!(value, json!({"result": null, "id": 7}));
            break;
        }
        got.insert(name, value);
    }

    // The binary protocol's view: every 1-minute candle, and the last trade.
    let mut c = Client::connect(server.addr).await.unwrap();
    let candles = common::candles(&mut c, "AAPL", Interval::M1).await;
    assert!(candles.len() >= 3);
    let klines = got["klines"].as_array().unwrap();
    assert_eq!(klines.len(), candles.len());
    for (k, c) in klines.iter().zip(&candles) {
        let [o, h, l, cl] = c.ohlc();
        assert_eq!(k[0], c.ts_open / 1_000_000);
        assert_eq!(
            [k[1].clone(), k[2].clone(), k[3].clone(), k[4].clone()],
            [o, h, l, cl].map(|p| json!(dec8(p.raw())))
        );
        assert_eq!(k[5], dec8(c.volume().raw() as i64));
        assert_eq!(k[8], c.trades);
        // Taker-buy base and quote volume: the CSV's `buy` trades.
        assert_eq!(k[9], dec8(c.taker_buy_volume as i64));
        assert_eq!(k[10], dec8((c.taker_buy_notional() / 1_000_000_000) as i64));
    }
    // The replay has buyer- and seller-initiated trades and ones with no side.
    let buy: u64 = candles.iter().map(|c| c.taker_buy_volume).sum();
    let all: u64 = candles.iter().map(|c| c.volume).sum();
    assert!(0 < buy && buy < all, "{buy} of {all}");
    assert_eq!(got["ui_klines"], got["klines"]);
    // startTime=0 is a time: the oldest candles, not the newest.
    let first = got["first_klines"].as_array().unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0][0], candles[0].ts_open / 1_000_000);
    assert_eq!(first[1][0], candles[1].ts_open / 1_000_000);

    let info = &got["exchange_info"]["symbols"];
    assert_eq!(info.as_array().unwrap().len(), 1);
    assert_eq!(info[0]["symbol"], "AAPL");

    let t = &got["ticker_24hr"];
    let trades: u64 = candles.iter().map(|c| c.trades).sum();
    let volume: i64 = candles.iter().map(|c| c.volume().raw() as i64).sum();
    let high = candles.iter().map(|c| c.ohlc()[1].raw()).max().unwrap();
    let low = candles.iter().map(|c| c.ohlc()[2].raw()).min().unwrap();
    let last = candles.last().unwrap().ohlc()[3].raw();
    let open = candles[0].ohlc()[0].raw();
    assert_eq!(t["symbol"], "AAPL");
    assert_eq!(t["count"], trades);
    assert_eq!(t["volume"], dec8(volume));
    assert_eq!(t["highPrice"], dec8(high));
    assert_eq!(t["lowPrice"], dec8(low));
    assert_eq!(t["openPrice"], dec8(open));
    assert_eq!(t["lastPrice"], dec8(last));
    assert_eq!(t["priceChange"], dec8(last - open));
    assert_eq!(t["firstId"], candles[0].first_trade_id);
    assert_eq!(t["lastId"], candles.last().unwrap().last_trade_id);
    // No trade in the last 5 minutes: the average is the last price.
    assert_eq!(got["avg_price"]["mins"], 5);
    assert_eq!(got["avg_price"]["price"], dec8(last));
    // The top of book: the binary protocol's latest quote.
    let latest = common::latest(&mut c, "AAPL").await;
    let q = latest
        .iter()
        .find_map(|t| t.quote())
        .expect("the replay has quotes");
    let b = &got["book_ticker"];
    assert_eq!(b["symbol"], "AAPL");
    assert_eq!(b["bidPrice"], dec8(q.bid_px.raw()));
    assert_eq!(b["bidQty"], dec8(q.bid_sz.raw() as i64));
    assert_eq!(b["askPrice"], dec8(q.ask_px.raw()));
    assert_eq!(b["askQty"], dec8(q.ask_sz.raw() as i64));
    assert_eq!(t["bidPrice"], b["bidPrice"]);
    assert_eq!(t["askQty"], b["askQty"]);

    // Errors as binance-connector raises them: status, Binance's code, message.
    let err = |name: &str| got[name].as_array().unwrap().clone();
    assert_eq!(err("unknown_symbol")[..2], [json!(400), json!(-1121)]);
    assert_eq!(err("bad_interval")[..2], [json!(400), json!(-1120)]);
    assert_eq!(err("unknown_route")[..2], [json!(404), json!(-1000)]);
    assert_eq!(err("agg_trades_mixed")[..2], [json!(400), json!(-1128)]);

    // Recent trades: the replay's last five, oldest first, as the ring holds them.
    let ring = all_trades(&mut c, server.addr).await;
    let recent = got["trades"].as_array().unwrap();
    assert_eq!(recent.len(), 5);
    for (r, t) in recent.iter().zip(&ring[ring.len() - 5..]) {
        let tr = t.trade().unwrap();
        assert_eq!(r["id"], t.seq, "the CSV has no venue ids: the seq");
        assert_eq!(r["price"], dec8(tr.price.raw()));
        assert_eq!(r["qty"], dec8(tr.size.raw() as i64));
        let quote = i128::from(tr.price.raw()) * i128::from(tr.size.raw()) / 1_000_000_000;
        assert_eq!(r["quoteQty"], dec8(quote as i64));
        assert_eq!(r["time"], t.ts_event / 1_000_000);
        assert_eq!(r["isBuyerMaker"], t.side == Side::Sell as u8);
    }
    // Aggregates: one per trade, `a` the seq; by id and by time they page from there.
    let agg = got["agg_trades"].as_array().unwrap();
    let seqs = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["a"].as_u64().unwrap())
            .collect()
    };
    let last3: Vec<u64> = ring[ring.len() - 3..].iter().map(|t| t.seq).collect();
    assert_eq!(seqs(&got["agg_trades"]), last3);
    assert_eq!(seqs(&got["agg_trades_from"]), last3[..2]);
    assert_eq!(agg[0]["p"], recent[2]["price"]);
    assert_eq!(agg[0]["T"], recent[2]["time"]);
    // Trades 0.5 s apart: the first one's millisecond holds it alone.
    assert_eq!(seqs(&got["agg_trades_time"]), last3[..1]);

    // Its stream client, on bare /ws (raw payloads) and then /stream (the combined wrapper):
    // trades published once each socket is subscribed reach it in Binance's shape.
    for (n, path) in ["ws", "stream"].into_iter().enumerate() {
        if n > 0 {
            assert_eq!(
                next().await,
                ("ws_reply".into(), json!({"result": null, "id": 7}))
            );
        }
        assert_eq!(next().await, ("ws_ready".into(), json!(path)));
        let ticks: Vec<TickRecord> = (0..2u64)
            .map(|i| {
                let t = Trade {
                    price: Price::from_raw(180_500_000_000),
                    size: Quantity::from_raw(3_000_000_000),
                    trade_id: 100 * (n as u64 + 1) + i,
                    venue: 0,
                    conditions: 0,
                };
                TickRecord::new_trade(InstrumentId(0), UnixNanos(now + i), Side::Buy, &t)
            })
            .collect();
        c.publish(vec![Symbol::new("AAPL").unwrap()], &ticks)
            .await
            .unwrap();
        for i in 0..2u64 {
            let (name, msg) = next().await;
            assert_eq!(name, "ws_trade");
            let data = if path == "stream" {
                assert_eq!(msg["stream"], "aapl@trade");
                msg["data"].clone()
            } else {
                msg
            };
            assert_eq!(data["e"], "trade");
            assert_eq!(data["s"], "AAPL");
            assert_eq!(data["t"], 100 * (n as u64 + 1) + i);
            assert_eq!(data["p"], "180.50000000");
            assert_eq!(data["q"], "3.00000000");
            assert_eq!(data["m"], false);
        }
        if path == "ws" {
            more_streams(&mut next, &mut c, now).await;
        } else {
            let replies: Vec<Value> = (0..4).map(|_| Value::Null).collect();
            let mut replies = replies;
            for r in &mut replies {
                let (name, value) = next().await;
                assert_eq!(name, "ws_reply");
                *r = value;
            }
            assert_eq!(replies[0], json!({"result": true, "id": 11}));
            assert_eq!(replies[1], json!({"result": null, "id": 12}));
            assert_eq!(replies[2], json!({"result": false, "id": 13}));
            assert_eq!(replies[3]["id"], 14);
            assert_eq!(replies[3]["error"]["code"], 0);
        }
    }
    server.stop().await;
}
