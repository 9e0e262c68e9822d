//! The HTTP bridge over a real socket: seed routes, TradingView UDF, Binance REST, errors, and
//! the three dialects' candles equal to the binary protocol's for the same data.

mod common;

use std::net::SocketAddr;

use common::{TestServer, http_get as get, trades_csv};
use serde_json::Value;
use tickd_client::Client;
use tickd_protocol::{Interval, QuerySpec, Symbol};
use tickd_server::config::ServeArgs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T0: u64 = 1_696_680_000_000_000_000;

async fn json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = get(addr, path).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")),
    )
}

async fn server() -> (TestServer, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    // 600 trades 0.5 s apart for AAPL and MSFT: 5 minutes of data.
    std::fs::write(&csv, trades_csv(&["AAPL", "MSFT"], 600, T0, 500_000_000)).unwrap();
    let server = TestServer::start(ServeArgs {
        replay: vec![csv],
        speed: Some("max".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    server.wait_feeds().await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    (server, http)
}

async fn binary_candles(
    server: &TestServer,
    sym: &str,
    interval: Interval,
) -> Vec<tickd_protocol::CandleRecord> {
    let mut c = Client::connect(server.addr).await.unwrap();
    let spec = QuerySpec::Candles {
        symbol: Symbol::new(sym).unwrap(),
        interval,
        from: None,
        to: None,
        limit: None,
        fill_previous: false,
    };
    c.query(spec).await.unwrap().candles
}

fn price_text(raw: i64) -> String {
    format!("{:#}", tickd_protocol::Price::from_raw(raw))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_routes() {
    let (server, http) = server().await;
    let (status, health) = json(http, "/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    // 800 ticks, then the candle-close record the replay's end wrote.
    assert_eq!(health["head_seq"], 801);
    assert_eq!(health["feeds"]["replay"]["state"], "finished");

    let (_, symbols) = json(http, "/symbols").await;
    assert_eq!(symbols["count"], 2);
    assert_eq!(symbols["symbols"][0]["symbol"], "AAPL");

    let (status, latest) = json(http, "/price/latest?symbol=MSFT").await;
    assert_eq!(status, 200);
    let mut client = Client::connect(server.addr).await.unwrap();
    let binary = client
        .query(QuerySpec::Latest {
            symbols: vec![Symbol::new("MSFT").unwrap()],
            page: Default::default(),
        })
        .await
        .unwrap()
        .ticks;
    let trade = binary.iter().find(|t| t.kind == 1).unwrap();
    assert_eq!(latest["seq"], trade.seq);
    assert_eq!(
        latest["price"].to_string(),
        price_text(trade.trade().unwrap().price.raw()),
        "exact JSON number"
    );
    assert_eq!(latest["ts_ns"], trade.ts_event.to_string());

    let (status, candles) = json(
        http,
        "/candles?symbol=AAPL&interval=1m&limit=3&start=2023-10-07T12:00:00Z",
    )
    .await;
    assert_eq!(status, 200);
    let binary = binary_candles(&server, "AAPL", Interval::M1).await;
    let list = candles["candles"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    for (j, c) in list.iter().zip(&binary) {
        assert_eq!(j["t"], c.ts_open / 1_000_000);
        assert_eq!(j["open"].to_string(), price_text(c.open));
        assert_eq!(j["close"].to_string(), price_text(c.close));
        assert_eq!(j["trades"], c.trades);
    }
    assert_eq!(
        candles["next_start"], "2023-10-07T12:03:00Z",
        "pagination: the next page starts here"
    );

    let (status, quote) = json(http, "/api/v1/market/quote/AAPL").await;
    assert_eq!(status, 200);
    assert!(quote["price"].is_number());
    let (status, hist) = json(http, "/api/v1/market/historical/AAPL?interval=1m&limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(hist["data"].as_array().unwrap().len(), 2);

    // Errors: a 4xx with a message a person can act on.
    let (status, err) = json(http, "/price/latest?symbol=NOPE").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("unknown_symbol"))
    );
    let (status, err) = json(http, "/candles?symbol=AAPL&interval=2m").await;
    assert_eq!(status, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unknown interval \"2m\""),
        "{err}"
    );
    let (status, _) = json(http, "/price/latest").await;
    assert_eq!(status, 400);
    let (status, _) = json(http, "/candles?symbol=AAPL&limit=0").await;
    assert_eq!(status, 400);
    let (status, _) = json(http, "/nowhere").await;
    assert_eq!(status, 404);

    // Prometheus text: state gauges, ingest counters, request latency by route, subscriber lag
    // (a subscriber's first delivery pass runs before its SubscribeAck is written).
    let mut sub = Client::connect(server.addr).await.unwrap();
    sub.subscribe(common::subscribe(&["AAPL"], tickd_protocol::Start::Latest))
        .await
        .unwrap();
    let (status, text) = get(http, "/metrics").await;
    assert_eq!(status, 200);
    for needle in [
        "tickd_head_seq ",
        "tickd_ingested_total{feed=\"replay\"}",
        "tickd_connections_open ",
        "tickd_http_request_duration_seconds_bucket{route=\"/health\",status=\"200\"",
        "tickd_http_request_duration_seconds_count{route=\"/price/latest\",status=\"404\"}",
        "tickd_subscriber_lag_records_bucket{transport=\"tcp\",le=\"0\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    // Every family has its `# HELP` right before its `# TYPE`.
    let lines: Vec<&str> = text.lines().collect();
    let mut families = 0;
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(
                i > 0 && lines[i - 1].starts_with(&format!("# HELP {name} ")),
                "no # HELP for {name} in\n{text}"
            );
            families += 1;
        }
    }
    assert!(families >= 6, "{text}");
    // And Prometheus' own linter finds nothing to say.
    if let Some(promtool) = common::tool("promtool", "prometheus") {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).await.unwrap();
        drop(stdin);
        let out = child.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    server.stop().await;
}

/// Publishes one trade of `sym` (buyer-initiated) at `ts_event`.
async fn publish_trade(server: &TestServer, sym: &str, ts_event: u64, price: i64, size: u64) {
    let mut c = Client::connect(server.addr).await.unwrap();
    let trade = tickd_protocol::Trade {
        price: tickd_protocol::Price::from_raw(price),
        size: tickd_protocol::Quantity::from_raw(size),
        trade_id: 0,
        venue: 0,
        conditions: 0,
    };
    let tick = tickd_protocol::TickRecord::new_trade(
        tickd_protocol::InstrumentId(0),
        tickd_protocol::UnixNanos(ts_event),
        tickd_protocol::Side::Buy,
        &trade,
    );
    let ack = c
        .publish(vec![Symbol::new(sym).unwrap()], &[tick])
        .await
        .unwrap();
    assert_eq!(ack.accepted, 1, "{ack:?}");
}

/// The Charting Library's UDF datafeed calls, in its order (config, symbol resolve, history
/// with `countback`, polled as bars form, quotes), every field checked against the UDF
/// specification's lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tradingview_udf_sequence() {
    use serde_json::json;
    let (server, http) = server().await;
    let (status, config) = json(http, "/udf/config").await;
    assert_eq!(status, 200);
    assert_eq!(
        config,
        json!({
            "supported_resolutions": ["1S", "1", "5", "15", "60", "240", "1D"],
            "supports_group_request": false,
            "supports_marks": false,
            "supports_search": true,
            "supports_timescale_marks": false,
            "supports_time": true,
            "exchanges": [
                {"value": "", "name": "All", "desc": ""},
                {"value": "TICKD", "name": "TICKD", "desc": "tickd"}
            ],
            "symbols_types": [
                {"name": "All types", "value": ""},
                {"name": "Stock", "value": "stock"}
            ]
        })
    );
    // resolveSymbol: the LibrarySymbolInfo fields the library reads.
    let (status, info) = json(http, "/udf/symbols?symbol=TICKD:AAPL").await;
    assert_eq!(status, 200);
    assert_eq!(
        info,
        json!({
            "name": "AAPL",
            "ticker": "AAPL",
            "full_name": "TICKD:AAPL",
            "description": "AAPL",
            "type": "stock",
            "session": "24x7",
            "timezone": "Etc/UTC",
            "exchange": "TICKD",
            "listed_exchange": "TICKD",
            "format": "price",
            "minmov": 1,
            "pricescale": 100,
            "has_intraday": true,
            "has_seconds": true,
            "has_daily": true,
            "has_weekly_and_monthly": false,
            "intraday_multipliers": ["1", "5", "15", "60", "240"],
            "seconds_multipliers": ["1"],
            "supported_resolutions": ["1S", "1", "5", "15", "60", "240", "1D"],
            "volume_precision": 0,
            "visible_plots_set": "ohlcv",
            "has_no_volume": false,
            "data_status": "streaming"
        })
    );
    let (_, found) = json(http, "/udf/search?query=ms&limit=10").await;
    assert_eq!(
        found,
        json!([{
            "symbol": "MSFT", "full_name": "TICKD:MSFT", "description": "MSFT",
            "exchange": "TICKD", "ticker": "MSFT", "type": "stock"
        }])
    );
    let (status, time) = get(http, "/udf/time").await;
    assert_eq!(status, 200);
    assert!(time.parse::<u64>().unwrap() > 1_700_000_000);

    // getBars: history with countback=2, the last two bars before `to`, including the
    // in-progress one.
    let binary = binary_candles(&server, "AAPL", Interval::M1).await;
    let to = T0 / 1_000_000_000 + 3_600;
    let bars = format!("/udf/history?symbol=TICKD:AAPL&resolution=1&from=0&to={to}&countback=2");
    let (status, h) = json(http, &bars).await;
    assert_eq!((status, h["s"].as_str()), (200, Some("ok")));
    let n = binary.len();
    assert_eq!(n, 5, "5 minutes of data");
    let bar = |c: &tickd_protocol::CandleRecord| {
        [
            json!(c.ts_open / 1_000_000_000),
            serde_json::from_str::<Value>(&price_text(c.open)).unwrap(),
            serde_json::from_str::<Value>(&price_text(c.high)).unwrap(),
            serde_json::from_str::<Value>(&price_text(c.low)).unwrap(),
            serde_json::from_str::<Value>(&price_text(c.close)).unwrap(),
            serde_json::from_str::<Value>(&format!("{:#}", c.volume())).unwrap(),
        ]
    };
    let columns = |h: &Value, i: usize| ["t", "o", "h", "l", "c", "v"].map(|k| h[k][i].clone());
    assert_eq!(h["t"].as_array().unwrap().len(), 2);
    assert_eq!(columns(&h, 0), bar(&binary[n - 2]));
    assert_eq!(columns(&h, 1), bar(&binary[n - 1]));
    // Polled as a new bar forms: a trade in minute 5 is the last bar now.
    publish_trade(
        &server,
        "AAPL",
        T0 + 330_000_000_000,
        101_250_000_000,
        40_000_000_000,
    )
    .await;
    let (_, h) = json(http, &bars).await;
    assert_eq!(columns(&h, 0), bar(&binary[n - 1]));
    assert_eq!(
        columns(&h, 1),
        [
            json!(T0 / 1_000_000_000 + 300),
            json!(101.25),
            json!(101.25),
            json!(101.25),
            json!(101.25),
            json!(40)
        ]
    );
    // Before any data: no_data, and where the library should look instead (none earlier).
    let (_, none) = json(
        http,
        "/udf/history?symbol=AAPL&resolution=1&from=100&to=200",
    )
    .await;
    assert_eq!(none, json!({"s": "no_data"}));
    // After the data: no_data with the newest earlier bar's time.
    let later = T0 / 1_000_000_000 + 7_200;
    let (_, none) = json(
        http,
        &format!(
            "/udf/history?symbol=AAPL&resolution=1&from={later}&to={}",
            later + 60
        ),
    )
    .await;
    assert_eq!(
        none,
        json!({"s": "no_data", "nextTime": T0 / 1_000_000_000 + 300})
    );
    let (status, _) = json(http, "/udf/history?symbol=AAPL&resolution=7&from=0&to=1").await;
    assert_eq!(status, 400);

    // Quotes: the session is the UTC day. A trade the next day makes it the current session;
    // the previous close is the first day's.
    let day1 = binary_candles(&server, "AAPL", Interval::D1).await;
    assert_eq!(day1.len(), 1);
    let prev_close = day1[0].close;
    publish_trade(
        &server,
        "AAPL",
        T0 + 86_400_000_000_000,
        100_500_000_000,
        3_000_000_000,
    )
    .await;
    let mut c = Client::connect(server.addr).await.unwrap();
    let latest = common::latest(&mut c, "AAPL").await;
    let q = latest.iter().find_map(|t| t.quote()).unwrap();
    let (_, quotes) = json(http, "/udf/quotes?symbols=TICKD:AAPL,NOPE").await;
    let num = |raw: i64| serde_json::from_str::<Value>(&price_text(raw)).unwrap();
    let change = 100_500_000_000 - prev_close;
    let percent = (i128::from(change) * 10_000 / i128::from(prev_close)) as i64 * 10_000_000;
    assert_eq!(
        quotes,
        json!({"s": "ok", "d": [
            {"s": "ok", "n": "TICKD:AAPL", "v": {
                "ch": num(change),
                "chp": num(percent),
                "short_name": "AAPL",
                "exchange": "TICKD",
                "description": "AAPL",
                "lp": 100.5,
                "bid": num(q.bid_px.raw()),
                "ask": num(q.ask_px.raw()),
                "spread": num(q.ask_px.raw() - q.bid_px.raw()),
                "open_price": 100.5,
                "high_price": 100.5,
                "low_price": 100.5,
                "prev_close_price": num(prev_close),
                "volume": 3
            }},
            {"s": "error", "n": "NOPE", "v": {}}
        ]})
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_rest() {
    let (server, http) = server().await;
    assert_eq!(json(http, "/api/v3/ping").await.1, serde_json::json!({}));
    assert!(
        json(http, "/api/v3/time").await.1["serverTime"]
            .as_u64()
            .unwrap()
            > 1_700_000_000_000
    );
    let (_, info) = json(http, "/api/v3/exchangeInfo").await;
    assert_eq!(info["symbols"][1]["symbol"], "MSFT");

    let binary = binary_candles(&server, "MSFT", Interval::M1).await;
    let (status, klines) = json(
        http,
        "/api/v3/klines?symbol=msft&interval=1m&startTime=0&limit=1000",
    )
    .await;
    assert_eq!(status, 200);
    let klines = klines.as_array().unwrap();
    assert_eq!(klines.len(), binary.len());
    for (k, c) in klines.iter().zip(&binary) {
        let k = k.as_array().unwrap();
        assert_eq!(k.len(), 12);
        assert_eq!(k[0], c.ts_open / 1_000_000);
        assert_eq!(k[6], (c.ts_open + 60_000_000_000) / 1_000_000 - 1);
        let dec8 = |raw: i64| format!("{}.{:08}", raw / 1_000_000_000, (raw % 1_000_000_000) / 10);
        assert_eq!(k[1], dec8(c.open));
        assert_eq!(k[4], dec8(c.close));
        assert_eq!(k[5], dec8(c.volume as i64));
        assert_eq!(k[8], c.trades);
    }
    let (_, one) = json(http, "/api/v3/klines?symbol=MSFT&interval=1m&limit=1").await;
    assert_eq!(
        one[0][0],
        binary.last().unwrap().ts_open / 1_000_000,
        "without startTime: the latest"
    );
    let (_, price) = json(http, "/api/v3/ticker/price?symbol=AAPL").await;
    assert!(price["price"].as_str().unwrap().contains('.'));
    let (status, err) = json(http, "/api/v3/klines?symbol=NOPE&interval=1m").await;
    assert_eq!((status, err["code"].as_i64()), (400, Some(-1121)));
    let (_, err) = json(http, "/api/v3/klines?symbol=AAPL&interval=7m").await;
    assert_eq!(err["code"], -1120);
    server.stop().await;
}

/// GET `path` with extra header lines; returns the status, the head and the body.
async fn get_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles_guard_every_route_in_each_form() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        tokens: vec![
            format!("reader:{}:subscribe", common::token_hash("r-secret"))
                .parse()
                .unwrap(),
            format!("ops:{}:admin", common::token_hash("o-secret"))
                .parse()
                .unwrap(),
        ],
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    // Liveness stays open.
    assert_eq!(get_with(http, "/health", "").await.0, 200);
    // No token, or an unknown one: 401 saying how to send one.
    let (status, head, body) = get_with(http, "/symbols", "").await;
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "unauthenticated");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer")
    );
    assert_eq!(
        get_with(http, "/symbols", "X-API-Key: nope\r\n").await.0,
        401
    );
    // Each form of the right token.
    assert_eq!(
        get_with(http, "/symbols", "Authorization: Bearer r-secret\r\n")
            .await
            .0,
        200
    );
    assert_eq!(
        get_with(http, "/symbols", "X-API-Key: r-secret\r\n")
            .await
            .0,
        200
    );
    assert_eq!(get_with(http, "/symbols?token=r-secret", "").await.0, 200);
    assert_eq!(
        get_with(http, "/api/v3/ping?api_key=r-secret", "").await.0,
        200
    );
    // Roles: /metrics is for admin tokens.
    let (status, _, body) = get_with(http, "/metrics", "X-API-Key: r-secret\r\n").await;
    assert_eq!(status, 403);
    assert!(body.contains("lacks the admin role"), "{body}");
    assert_eq!(
        get_with(http, "/metrics", "X-API-Key: o-secret\r\n")
            .await
            .0,
        200
    );
    // And the admin token alone may not read market data.
    assert_eq!(
        get_with(http, "/symbols", "X-API-Key: o-secret\r\n")
            .await
            .0,
        403
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_rate_get_429_with_retry_after() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        http_rate: Some(3),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..10 {
        let (status, head, body) = get_with(http, "/api/v3/ping", "").await;
        if status == 429 {
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["code"], "rate_limited");
            retry_after = head
                .lines()
                .find_map(|l| l.strip_prefix("retry-after: "))
                .map(|v| v.trim().parse::<u64>().unwrap());
        }
        statuses.push(status);
    }
    // A burst of 3 is allowed, then the bucket refills at 3/s: ten quick requests cannot all pass.
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(retry_after, Some(1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_rest_route_and_what_the_guard_adds() {
    let (server, http) = server().await;
    let (status, doc) = json(http, "/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/api/v1/market/historical/{symbol}",
            "/api/v1/market/quote/{symbol}",
            "/api/v3/aggTrades",
            "/api/v3/avgPrice",
            "/api/v3/exchangeInfo",
            "/api/v3/klines",
            "/api/v3/ping",
            "/api/v3/ticker/24hr",
            "/api/v3/ticker/bookTicker",
            "/api/v3/ticker/price",
            "/api/v3/time",
            "/api/v3/trades",
            "/api/v3/uiKlines",
            "/candles",
            "/health",
            "/metrics",
            "/openapi.json",
            "/price/latest",
            "/symbols",
            "/udf/config",
            "/udf/history",
            "/udf/quotes",
            "/udf/search",
            "/udf/symbols",
            "/udf/time",
        ]
    );
    let latest = &doc["paths"]["/price/latest"]["get"];
    assert_eq!(latest["parameters"][0]["name"], "symbol");
    assert_eq!(latest["parameters"][0]["required"], true);
    assert_eq!(
        latest["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PriceLatest"
    );
    let schema = &doc["components"]["schemas"]["PriceLatest"];
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .contains(&"as_of_seq".into())
    );
    // Every reference resolves.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{r}");
    }
    // An open server without rate limits: no token forms, no 401/403/429.
    assert!(latest.get("security").is_none());
    assert!(latest["responses"].get("401").is_none());
    assert!(latest["responses"].get("429").is_none());
    server.stop().await;

    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        tokens: vec![
            format!("reader:{}:subscribe", common::token_hash("r-secret"))
                .parse()
                .unwrap(),
        ],
        http_rate: Some(1_000),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    // Open to anyone, like /health.
    let (status, _, body) = get_with(http, "/openapi.json", "").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    let latest = &doc["paths"]["/price/latest"]["get"];
    for code in ["401", "403", "429"] {
        assert_eq!(
            latest["responses"][code]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{code}"
        );
    }
    assert!(latest["responses"]["429"]["headers"]["Retry-After"].is_object());
    assert_eq!(latest["security"].as_array().unwrap().len(), 4);
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key_header"]["name"],
        "X-API-Key"
    );
    // /health needs no token, but is rate limited.
    let health = &doc["paths"]["/health"]["get"];
    assert!(health.get("security").is_none());
    assert!(health["responses"].get("401").is_none());
    assert!(health["responses"].get("429").is_some());
    server.stop().await;
}

/// Issue 17, row 4: a client that sends headers slowly, or opens a connection and says nothing,
/// is closed at the header-read timeout; connections beyond the per-IP cap get a 503 naming
/// the limit; a well-behaved client beside them is answered throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_timed_out_and_connections_capped_per_ip() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        http_header_timeout_ms: Some(300),
        max_connections_per_ip: Some(4),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();

    // Three slow clients: half a request line, a header cut short, nothing at all.
    let mut slow = Vec::new();
    for partial in [
        &b"GET /health HT"[..],
        b"GET /health HTTP/1.1\r\nHost: x\r\n",
        b"",
    ] {
        let mut s = tokio::net::TcpStream::connect(http).await.unwrap();
        s.write_all(partial).await.unwrap();
        slow.push(s);
    }
    // A fourth connection fills the cap of 4; a fifth is refused with the limit named.
    let fourth = tokio::net::TcpStream::connect(http).await.unwrap();
    let mut fifth = tokio::net::TcpStream::connect(http).await.unwrap();
    let mut refused = String::new();
    tokio::time::timeout(Duration::from_secs(10), fifth.read_to_string(&mut refused))
        .await
        .expect("refused in time")
        .unwrap();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.ends_with(
            "{\"code\":\"limit_exceeded\",\"message\":\"too many HTTP connections from 127.0.0.1 (--max-connections-per-ip 4)\"}"
        ),
        "{refused}"
    );
    drop(fourth);

    // Each slow client is closed by the server (EOF), without an answer to a request it never
    // finished.
    for mut s in slow {
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
            .await
            .expect("closed by the header timeout")
            .unwrap();
        let text = String::from_utf8_lossy(&got);
        assert!(!text.contains("200 OK"), "{text}");
    }
    // Slots are back: a well-behaved client is served.
    let (status, body) = common::http_get(http, "/health").await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

/// Issue 17, row 10: a symbol list in a request is capped, with a 400 that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbol_lists_in_a_request_are_capped() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    let many: Vec<String> = (0..1_001).map(|i| format!("S{i}")).collect();
    let (status, body) =
        common::http_get(http, &format!("/udf/quotes?symbols={}", many.join(","))).await;
    assert_eq!(status, 400, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["message"],
        "symbols names 1001 symbols; at most 1000 per request"
    );
    let (status, _) = common::http_get(http, "/udf/quotes?symbols=AAPL,MSFT").await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// Issue 17, row 10: instrument lists are answered a page at a time (bounded by the request,
/// not by the directory), with where the next page starts in the body and a header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrument_lists_are_paged() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("A1,A2,A3,A4,A5".parse().unwrap()),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    // Once the feed has defined all five (each at its first tick): looked at again at each
    // publish.
    let mut published = server.running.as_ref().unwrap().shared.published.clone();
    while json(http, "/symbols").await.1["count"] != 5 {
        published.changed().await.unwrap();
    }
    // /symbols, two at a time: ids 0..5 in three pages.
    let mut from = Some(0);
    let mut seen = Vec::new();
    let mut names_by_id = std::collections::HashMap::new();
    while let Some(f) = from {
        let (status, head, body) =
            common::http_get_with_headers(http, &format!("/symbols?from_id={f}&limit=2")).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let ids: Vec<u64> = v["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let id = e["id"].as_u64().unwrap();
                names_by_id.insert(id, e["symbol"].as_str().unwrap().to_owned());
                id
            })
            .collect();
        seen.extend(ids);
        from = v["next_from_id"].as_u64();
        match from {
            Some(n) => assert!(head.contains(&format!("x-next-from-id: {n}\r\n")), "{head}"),
            None => assert!(!head.contains("x-next-from-id"), "{head}"),
        }
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    for bad in ["limit=0", "limit=4097", "from_id=x", "from_id=-1"] {
        let (status, v) = json(http, &format!("/symbols?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert_eq!(v["code"], "bad_parameter", "{bad}");
    }
    // exchangeInfo: a page, a filter, and Binance's errors.
    let (status, head, body) =
        common::http_get_with_headers(http, "/api/v3/exchangeInfo?fromId=2&limit=2").await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(names, [&names_by_id[&2], &names_by_id[&3]]);
    assert_eq!(v["nextFromId"], 4);
    assert!(head.contains("x-next-from-id: 4\r\n"), "{head}");
    let (status, v) = json(
        http,
        r#"/api/v3/exchangeInfo?symbols=%5B%22A5%22,%22a1%22%5D"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["symbols"].as_array().unwrap().len(), 2);
    assert!(v.get("nextFromId").is_none());
    let (status, v) = json(http, "/api/v3/exchangeInfo?symbol=NOPE").await;
    assert_eq!((status, v["code"].as_i64()), (400, Some(-1121)));
    let (status, v) = json(http, "/api/v3/exchangeInfo?symbols=A1").await;
    assert_eq!((status, v["code"].as_i64()), (400, Some(-1100)), "{v}");
    let many: Vec<String> = (0..1_001).map(|i| format!("%22S{i}%22")).collect();
    let (status, v) = json(
        http,
        &format!("/api/v3/exchangeInfo?symbols=%5B{}%5D", many.join(",")),
    )
    .await;
    assert_eq!((status, v["code"].as_i64()), (400, Some(-1100)));
    assert_eq!(
        v["msg"],
        "symbols names 1001 symbols; at most 1000 per request"
    );
    let (status, v) = json(http, "/api/v3/exchangeInfo?limit=1001").await;
    assert_eq!((status, v["code"].as_i64()), (400, Some(-1100)));
    assert_eq!(v["msg"], "limit \"1001\" is not a number from 1 to 1000");
    // ticker/price over a page: only instruments of that page.
    let (status, head, _) =
        common::http_get_with_headers(http, "/api/v3/ticker/price?limit=3").await;
    assert_eq!(status, 200);
    assert!(head.contains("x-next-from-id: 3\r\n"), "{head}");
    server.stop().await;
}
