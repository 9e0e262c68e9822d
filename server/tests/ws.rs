//! The WebSocket dialects over real sockets: the seed `/ws` protocol (subscribe, channels,
//! `from_seq`, errors, ping), Binance `/ws/<stream>` and `/stream`, heartbeats and the idle
//! close, and the cap on open sockets.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tickd_client::Client;
use tickd_protocol::{InstrumentId, Price, Quantity, Side, Symbol, TickRecord, Trade, UnixNanos};
use tickd_server::config::ServeArgs;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// 2023-10-07T12:00:00Z.
const T0: u64 = 1_696_680_000_000_000_000;

async fn server(args: ServeArgs) -> (TestServer, SocketAddr) {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("off".parse().unwrap()),
        no_journal: true,
        ..args
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    (server, http)
}

fn trade(symbol_index: u32, ts: u64, price: &str, size: u64, id: u64) -> TickRecord {
    let t = Trade {
        price: price.parse::<Price>().unwrap(),
        size: Quantity::from_raw(size * 1_000_000_000),
        trade_id: id,
        venue: 0,
        conditions: 0,
    };
    TickRecord::new_trade(InstrumentId(symbol_index), UnixNanos(ts), Side::Buy, &t)
}

/// Publishes trades (symbols AAPL = 0, MSFT = 1 in the batch); returns the seqs assigned.
async fn publish(server: &TestServer, ticks: &[TickRecord]) -> (u64, u64) {
    let mut c = Client::connect(server.addr).await.unwrap();
    let symbols = vec![Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()];
    let ack = c.publish(symbols, ticks).await.unwrap();
    assert!(ack.rejected.is_empty(), "{:?}", ack.rejected);
    (ack.first_seq.0, ack.last_seq.0)
}

async fn connect(http: SocketAddr, path: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}{path}"))
        .await
        .unwrap();
    ws
}

/// The next JSON text message (pings are answered by the library), within 10 s.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .unwrap();
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The next message of `kind` (skipping heartbeats and other kinds).
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_ws_streams_the_subscribed_trades_and_candles_with_epoch_and_seq() {
    // 2023 trades published live: with years of grace the wall clock closes none of their
    // candles while the test runs, so no candle-close record takes a seq between the steps.
    let (server, http) = server(ServeArgs {
        candle_grace_ms: Some(10 * 366 * 86_400_000),
        ..ServeArgs::default()
    })
    .await;
    // Make both symbols known, then subscribe to AAPL only.
    let (s0, _) = publish(
        &server,
        &[trade(0, T0, "100", 1, 1), trade(1, T0, "300", 1, 2)],
    )
    .await;
    let epoch = Client::connect(server.addr).await.unwrap().welcome().epoch;
    let mut ws = connect(http, "/ws").await;
    send(
        &mut ws,
        json!({"type": "subscribe", "data": {"symbols": ["AAPL"], "channels": ["trades", "candles:1m"]}}),
    )
    .await;
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "subscribed");
    assert_eq!(
        ack["data"],
        json!({"symbols": ["AAPL"], "channels": ["trades", "candles:1m"]})
    );
    assert_eq!(ack["epoch"], epoch.0.to_string());
    assert_eq!(ack["seq"], s0 + 1);

    let (first, last) = publish(
        &server,
        &[
            trade(0, T0 + 1_000_000_000, "101.25", 2, 3),
            trade(1, T0 + 1_000_000_000, "301", 5, 4),
            trade(0, T0 + 2_000_000_000, "99.5", 3, 5),
        ],
    )
    .await;
    assert_eq!((first, last), (s0 + 2, s0 + 4));
    let a = next_of(&mut ws, "trade").await;
    assert_eq!(a["seq"], first);
    assert_eq!(a["epoch"], epoch.0.to_string());
    assert_eq!(a["data"]["symbol"], "AAPL");
    assert_eq!(a["data"]["price"].to_string(), "101.25");
    assert_eq!(a["data"]["size"].to_string(), "2");
    assert_eq!(a["data"]["trade_id"], 3);
    assert_eq!(a["data"]["ts_ns"], (T0 + 1_000_000_000).to_string());
    let b = next_of(&mut ws, "trade").await;
    // MSFT's trade (seq first + 1) is not subscribed.
    assert_eq!(b["seq"], last);
    assert_eq!(b["data"]["price"].to_string(), "99.5");
    // Candle updates are conflated to the latest per interval: keep reading until the one that
    // includes the last trade.
    let candle = loop {
        let c = next_of(&mut ws, "candle").await;
        if c["data"]["trades"] == 3 {
            break c;
        }
    };
    assert_eq!(candle["data"]["symbol"], "AAPL");
    assert_eq!(candle["data"]["interval"], "1m");
    assert_eq!(candle["data"]["t"], T0 / 1_000_000);
    for (k, v) in [
        ("open", "100"),
        ("high", "101.25"),
        ("low", "99.5"),
        ("close", "99.5"),
        ("volume", "6"),
    ] {
        assert_eq!(candle["data"][k].to_string(), v, "{k}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_ws_from_seq_replays_what_the_ring_holds_and_bad_requests_get_errors() {
    let (server, http) = server(ServeArgs::default()).await;
    let (first, last) = publish(
        &server,
        &[
            trade(0, T0, "1", 1, 1),
            trade(0, T0 + 1, "2", 1, 2),
            trade(0, T0 + 2, "3", 1, 3),
        ],
    )
    .await;
    let mut ws = connect(http, "/ws").await;
    // Errors leave the socket open.
    ws.send(Message::text("{not json")).await.unwrap();
    let e = next_json(&mut ws).await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("bad_message"))
    );
    send(
        &mut ws,
        json!({"type": "subscribe", "data": {"symbols": ["NOPE"]}}),
    )
    .await;
    let e = next_json(&mut ws).await;
    assert_eq!(e["code"], "unknown_symbol");
    send(
        &mut ws,
        json!({"type": "subscribe", "data": {"symbols": ["AAPL"], "channels": ["bogus"]}}),
    )
    .await;
    let e = next_json(&mut ws).await;
    assert_eq!(e["code"], "bad_channel");
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    // from_seq: the trades already published, in order, exactly once.
    send(
        &mut ws,
        json!({"type": "subscribe", "data": {"symbols": ["AAPL"], "channels": ["trades"], "from_seq": first}}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["from_seq"], first);
    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        seqs.push(next_of(&mut ws, "trade").await["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, (first..=last).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_streams_use_binance_payloads_and_the_combined_wrapper() {
    let (server, http) = server(ServeArgs::default()).await;
    publish(
        &server,
        &[trade(0, T0, "100", 1, 1), trade(1, T0, "300", 1, 2)],
    )
    .await;
    let mut raw = connect(http, "/ws/aapl@trade").await;
    let mut combined = connect(http, "/stream?streams=aapl@trade/aapl@kline_1m").await;
    // Stream names are checked before the upgrade.
    let bad = tokio_tungstenite::connect_async(format!("ws://{http}/ws/aapl@depth")).await;
    let tokio_tungstenite::tungstenite::Error::Http(r) = bad.unwrap_err() else {
        panic!("expected an HTTP refusal")
    };
    assert_eq!(r.status(), 400);
    let unknown = tokio_tungstenite::connect_async(format!("ws://{http}/ws/zzzz@trade")).await;
    let tokio_tungstenite::tungstenite::Error::Http(r) = unknown.unwrap_err() else {
        panic!("expected an HTTP refusal")
    };
    assert_eq!(r.status(), 404);

    publish(
        &server,
        &[
            trade(0, T0 + 1_000_000, "101.5", 2, 77),
            trade(1, T0 + 1_000_000, "1", 1, 78),
        ],
    )
    .await;
    let t = next_json(&mut raw).await;
    assert_eq!(t["e"], "trade");
    assert_eq!(t["s"], "AAPL");
    assert_eq!(t["t"], 77);
    assert_eq!(t["p"], "101.50000000");
    assert_eq!(t["q"], "2.00000000");
    assert_eq!(t["T"], (T0 + 1_000_000) / 1_000_000);
    assert_eq!(t["m"], false);
    let mut seen_trade = false;
    let mut seen_kline = false;
    while !(seen_trade && seen_kline) {
        let m = next_json(&mut combined).await;
        match m["stream"].as_str() {
            Some("aapl@trade") => {
                assert_eq!(m["data"]["t"], 77);
                seen_trade = true;
            }
            Some("aapl@kline_1m") => {
                let k = &m["data"]["k"];
                assert_eq!(m["data"]["e"], "kline");
                assert_eq!(k["i"], "1m");
                assert_eq!(k["t"], T0 / 1_000_000);
                assert_eq!(k["T"], T0 / 1_000_000 + 59_999);
                if k["n"] == 2 {
                    assert_eq!(
                        (k["o"].as_str(), k["h"].as_str(), k["c"].as_str()),
                        (
                            Some("100.00000000"),
                            Some("101.50000000"),
                            Some("101.50000000")
                        )
                    );
                    assert_eq!(k["v"], "3.00000000");
                    // Both buyer-initiated: all of it is taker-buy volume; 100 + 203 quote.
                    assert_eq!(
                        (k["V"].as_str(), k["Q"].as_str()),
                        (Some("3.00000000"), Some("303.00000000"))
                    );
                    assert_eq!(k["q"], "303.00000000");
                    // The venue ids of the trades that set open and close.
                    assert_eq!((k["f"].as_i64(), k["L"].as_i64()), (Some(1), Some(77)));
                    seen_kline = true;
                }
            }
            other => panic!("unexpected stream {other:?}: {m}"),
        }
    }
    // Live control messages.
    raw.send(Message::text(r#"{"method":"LIST_SUBSCRIPTIONS","id":3}"#))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut raw).await,
        json!({"result": ["aapl@trade"], "id": 3})
    );
    raw.send(Message::text(
        r#"{"method":"SUBSCRIBE","params":["msft@trade"],"id":4}"#,
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut raw).await, json!({"result": null, "id": 4}));
    raw.send(Message::text(
        r#"{"method":"SUBSCRIBE","params":["x@y"],"id":5}"#,
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut raw).await["error"]["code"], 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_are_closed_with_a_reason_and_the_socket_cap_is_enforced() {
    let (server, http) = server(ServeArgs {
        heartbeat_ms: Some(100),
        idle_timeout_ms: Some(600),
        max_websockets: Some(2),
        ..ServeArgs::default()
    })
    .await;
    let mut live = connect(http, "/ws").await;
    let mut silent = connect(http, "/ws").await;
    // Full: a third socket is refused before the upgrade, with the JSON error.
    let refused = tokio_tungstenite::connect_async(format!("ws://{http}/ws")).await;
    let tokio_tungstenite::tungstenite::Error::Http(r) = refused.unwrap_err() else {
        panic!("expected an HTTP refusal")
    };
    assert_eq!(r.status(), 503);
    let body: Value = serde_json::from_slice(r.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["code"], "too_many_websockets");
    // `live` keeps reading (the library answers pings); `silent` reads nothing for a while.
    let reader = tokio::spawn(async move {
        let mut heartbeats = 0;
        while heartbeats < 12 {
            if next_json(&mut live).await["type"] == "heartbeat" {
                heartbeats += 1;
            }
        }
        live
    });
    // 12 heartbeats on `live`, 100 ms apart, take longer than `silent`'s idle timeout: only
    // then read `silent` (reading answers pings, which would keep it alive).
    let live = reader.await.unwrap();
    let close = loop {
        match silent.next().await {
            Some(Ok(Message::Close(frame))) => break frame.unwrap(),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Away);
    assert!(
        close.reason.starts_with("idle for 600 ms"),
        "{}",
        close.reason
    );
    // The live socket outlived the idle timeout by answering pings.
    drop(live);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_only_listens_to_a_busy_stream_is_pinged_and_stays_open() {
    // Trades every 50 ms: the stream is never quiet for a heartbeat interval (100 ms), so only
    // pings (answered by the library) keep the socket past the idle timeout (600 ms).
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        synthetic_rate: Some(20),
        no_journal: true,
        heartbeat_ms: Some(100),
        idle_timeout_ms: Some(600),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    // AAPL exists once the feed's first tick is sequenced (on a loaded machine, maybe after the
    // socket would have subscribed: refused as unknown).
    server.wait_symbols(&["AAPL"]).await;
    // The seed protocol, and Binance's (as Binance: the server pings, the client answers; a
    // client's ping is answered with its payload).
    for path in ["/ws", "/stream?streams=aapl@trade"] {
        let mut ws = connect(http, path).await;
        if path == "/ws" {
            ws.send(Message::text(
                r#"{"type":"subscribe","data":{"symbols":["AAPL"],"channels":["trades"]}}"#,
            ))
            .await
            .unwrap();
        } else {
            ws.send(Message::Ping(b"tickd-ping".to_vec().into()))
                .await
                .unwrap();
        }
        // Until 10 trades and 8 pings (100 ms apart: past the idle timeout), never closed.
        let (mut trades, mut pings, mut pong) = (0, 0, path == "/ws");
        while trades < 10 || pings < 8 || !pong {
            let msg = tokio::time::timeout(Duration::from_secs(2), ws.next())
                .await
                .expect("a message within 2 s")
                .expect("socket open")
                .unwrap();
            match msg {
                Message::Text(t)
                    if t.as_str().contains(r#""type":"trade""#)
                        || t.as_str().contains(r#""e":"trade""#) =>
                {
                    trades += 1
                }
                Message::Ping(_) => pings += 1,
                Message::Pong(payload) => {
                    assert_eq!(&payload[..], b"tickd-ping");
                    pong = true;
                }
                Message::Close(frame) => panic!("{path}: closed after {pings} pings: {frame:?}"),
                Message::Text(t) if t.as_str().contains(r#""type":"error""#) => panic!("{t}"),
                _ => {}
            }
        }
    }
    server.stop().await;
}

/// Issue 17, row 8: a 64 KB subscribe naming thousands of symbols is refused at once with the
/// limit; one repeating a channel 6,000 times does the work of one; a Binance-dialect socket
/// holds at most 1,024 streams, 64 of them `@miniTicker`; a well-behaved socket beside them
/// keeps its stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_lists_are_capped_and_deduplicated() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL,MSFT".parse().unwrap()),
        synthetic_rate: Some(2_000),
        no_journal: true,
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    server.wait_symbols(&["AAPL", "MSFT"]).await;
    let mut good = connect(http, "/ws").await;
    send(
        &mut good,
        json!({"type": "subscribe", "data": {"symbols": ["AAPL"], "channels": ["trades"]}}),
    )
    .await;
    assert_eq!(next_json(&mut good).await["type"], "subscribed");

    let mut hostile = connect(http, "/ws").await;
    let many: Vec<String> = (0..7_000).map(|i| format!("S{i}")).collect();
    let text = json!({"type": "subscribe", "data": {"symbols": many, "channels": ["trades"]}});
    assert!(text.to_string().len() < 64 * 1024);
    send(&mut hostile, text).await;
    let e = next_json(&mut hostile).await;
    assert_eq!(e["code"], "too_many_symbols");
    assert_eq!(
        e["message"],
        "subscribe names 7000 symbols; at most 1024 per message"
    );

    let repeated: Vec<&str> = std::iter::repeat_n("quotes", 6_000).collect();
    send(
        &mut hostile,
        json!({"type": "subscribe", "data": {"symbols": ["MSFT", "MSFT", "AAPL"], "channels": repeated}}),
    )
    .await;
    let ack = next_json(&mut hostile).await;
    assert_eq!(
        ack["data"],
        json!({"symbols": ["MSFT", "AAPL"], "channels": ["quotes"]})
    );

    let mut binance = connect(http, "/stream?streams=aapl@trade").await;
    let params: Vec<String> = (0..1_024)
        .map(|i| format!("msft@kline_{}", ["1m", "5m"][i % 2]))
        .collect();
    // 2 distinct new streams: fine. Then 1,100 distinct ones: refused with the limit.
    send(
        &mut binance,
        json!({"method": "SUBSCRIBE", "params": params, "id": 1}),
    )
    .await;
    let ok = next_of_id(&mut binance, 1).await;
    assert_eq!(ok, json!({"result": null, "id": 1}));
    send(
        &mut binance,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 3}),
    )
    .await;
    let list = next_of_id(&mut binance, 3).await;
    assert_eq!(list["result"].as_array().unwrap().len(), 3, "{list}");
    let names: Vec<String> = (0..1_100).map(|i| format!("s{i}@trade")).collect();
    send(
        &mut binance,
        json!({"method": "SUBSCRIBE", "params": names, "id": 2}),
    )
    .await;
    let refused = next_of_id(&mut binance, 2).await;
    assert_eq!(
        refused["error"]["msg"],
        "Too many streams: 3 held and 1100 more asked; at most 1024 per connection"
    );
    // Mini tickers cost a 24 h window a second each: 64 per socket, the 65th refused, and a
    // refused SUBSCRIBE adds none of its streams.
    let minis: Vec<String> = (0..65).map(|i| format!("s{i}@miniTicker")).collect();
    send(
        &mut binance,
        json!({"method": "SUBSCRIBE", "params": minis, "id": 4}),
    )
    .await;
    let refused = next_of_id(&mut binance, 4).await;
    assert_eq!(
        refused["error"],
        json!({"code": 2, "msg": "Too many miniTicker streams: at most 64 per connection"})
    );
    send(
        &mut binance,
        json!({"method": "LIST_SUBSCRIPTIONS", "id": 5}),
    )
    .await;
    let list = next_of_id(&mut binance, 5).await;
    assert_eq!(list["result"].as_array().unwrap().len(), 3, "{list}");

    // The good socket kept its trades.
    for _ in 0..3 {
        assert_eq!(next_of(&mut good, "trade").await["data"]["symbol"], "AAPL");
    }
    server.stop().await;
}

/// The next control answer with `id` (data messages in between are skipped).
async fn next_of_id(ws: &mut Ws, id: u64) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["id"] == id {
            return v;
        }
    }
}

/// Issue 17, row 9: one client address cannot take every WebSocket slot: beyond
/// `--max-connections-per-ip` its upgrades get a 503 naming the limit, a slot comes back when
/// one of its sockets closes, and the sockets it holds keep streaming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_are_capped_per_client_address() {
    let server = TestServer::start(ServeArgs {
        synthetic: Some("AAPL".parse().unwrap()),
        synthetic_rate: Some(2_000),
        no_journal: true,
        max_connections_per_ip: Some(3),
        ..ServeArgs::default()
    })
    .await;
    let http = server.listeners.as_ref().unwrap().http.unwrap();
    server.wait_symbols(&["AAPL"]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(http, "/ws/aapl@trade").await);
    }
    let refused = tokio_tungstenite::connect_async(format!("ws://{http}/ws/aapl@trade")).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(resp)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert_eq!(resp.status(), 503);
    let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
    assert_eq!(
        body["message"],
        "3 WebSockets are open from 127.0.0.1, the most one address may open (--max-connections-per-ip 3)"
    );
    // The held sockets stream; closing one gives its slot back.
    for ws in &mut held {
        let v = next_json(ws).await;
        assert_eq!(v["e"], "trade", "{v}");
    }
    let mut gone = held.pop().unwrap();
    gone.close(None).await.unwrap();
    while gone.next().await.is_some() {}
    // The server notices the close before the next upgrade is counted: retry until it has.
    let mut again = None;
    for _ in 0..100 {
        match tokio_tungstenite::connect_async(format!("ws://{http}/ws/aapl@trade")).await {
            Ok((ws, _)) => {
                again = Some(ws);
                break;
            }
            Err(_) => tokio::task::yield_now().await,
        }
    }
    let mut again = again.expect("the slot came back");
    assert_eq!(next_json(&mut again).await["e"], "trade");
    server.stop().await;
}

/// A `from_seq` catch-up larger than the WebSocket's send budget goes on as soon as the queue
/// is written: every record is already published and heartbeats are an hour apart, so only
/// the socket's own writes can wake it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_that_fills_the_send_budget_goes_on_when_it_is_written() {
    const N: u64 = 3_000;
    let (server, http) = server(ServeArgs {
        heartbeat_ms: Some(3_600_000),
        idle_timeout_ms: Some(7_200_000),
        // A few hundred trades' JSON: the catch-up fills it many times.
        ws_send_budget_bytes: Some(std::num::NonZeroUsize::new(16 << 10).unwrap()),
        ..ServeArgs::default()
    })
    .await;
    let ticks: Vec<TickRecord> = (0..N).map(|i| trade(0, T0 + i, "1.5", 1, i + 1)).collect();
    let (first, last) = publish(&server, &ticks).await;
    let mut ws = connect(http, "/ws").await;
    send(
        &mut ws,
        json!({"type": "subscribe", "data": {"symbols": ["AAPL"], "channels": ["trades"], "from_seq": first}}),
    )
    .await;
    let mut seqs = Vec::new();
    while seqs.len() < N as usize {
        seqs.push(next_of(&mut ws, "trade").await["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, (first..=last).collect::<Vec<_>>());
    server.stop().await;
}
