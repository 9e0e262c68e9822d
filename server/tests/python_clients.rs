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
    InstrumentId, Interval, Price, Quantity, QuerySpec, Side, Symbol, TickRecord, Trade, UnixNanos,
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
    assert!(report.contains("Tested: 22"), "{report}");
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
    }
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
    assert_eq!(t["firstId"], -1);
    // No trade in the last 5 minutes: the average is the last price.
    assert_eq!(got["avg_price"]["mins"], 5);
    assert_eq!(got["avg_price"]["price"], dec8(last));
    // The top of book: the binary protocol's latest quote.
    let latest = c
        .query(QuerySpec::Latest {
            symbols: vec![Symbol::new("AAPL").unwrap()],
            page: tickd_protocol::Page {
                from_id: 0,
                limit: None,
            },
        })
        .await
        .unwrap();
    let q = latest
        .ticks
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
    }
    server.stop().await;
}
