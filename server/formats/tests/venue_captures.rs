//! Every venue's parser against the real captured frames in `../shared/data/venue-captures-cryptofeed`
//! (read its README): each received line is parsed by tickd and, independently here, read as a
//! `serde_json::Value` with the venue's documented field meanings and a decimal reader of the
//! test's own; the ticks must match field by field. The captures must be there: a missing file
//! fails the test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use serde_json::Value;
use tickd_formats::venue::capture::{Line, read_line};
use tickd_formats::venue::{Frame, NO_EVENT_TIME, Venue, VenueTick};
use tickd_protocol::{Side, TickKind, TickRecord, TickView, UnixNanos};

fn captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/venue-captures-cryptofeed")
}

/// The received frames of a capture file: (receive time, text).
fn frames(file: &str) -> Vec<(UnixNanos, String)> {
    let path = captures().join(file);
    let f = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the venue captures are required)", path.display()));
    let mut out = Vec::new();
    for line in BufReader::new(flate2::read::GzDecoder::new(f)).lines() {
        let line = line.unwrap();
        if let Line::Frame { ts_recv, text } = read_line(&line).unwrap() {
            out.push((ts_recv, text.to_owned()));
        }
    }
    assert!(!out.is_empty(), "{file} has frames");
    out
}

/// Decimal text as 1e-9 units, read here without tickd's decimal parser.
fn units(text: &str) -> i64 {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    assert!(frac.len() <= 9, "{text}");
    let digits = format!("{int}{frac:0<9}");
    digits.parse().unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// What the test expects of one tick.
#[derive(Debug, PartialEq)]
struct Expect {
    symbol: String,
    trade: Option<(i64, i64, u64, Side)>,
    quote: Option<(i64, i64, i64, i64)>,
    ts_event: u64,
    no_event_time: bool,
}

fn actual(t: &VenueTick) -> Expect {
    let rec: &TickRecord = &t.tick;
    let (trade, quote) = match rec.view().unwrap() {
        TickView::Trade(tr, side) => (
            Some((tr.price.raw(), tr.size.raw() as i64, tr.trade_id, side)),
            None,
        ),
        TickView::Quote(q) => (
            None,
            Some((
                q.bid_px.raw(),
                q.bid_sz.raw() as i64,
                q.ask_px.raw(),
                q.ask_sz.raw() as i64,
            )),
        ),
    };
    Expect {
        symbol: t.symbol.as_str().to_owned(),
        trade,
        quote,
        ts_event: rec.ts_event,
        no_event_time: rec.flags & NO_EVENT_TIME != 0,
    }
}

/// Parses every frame of `file` both ways; returns (ticks, frames that gave none).
fn check(venue: Venue, file: &str, expect: impl Fn(UnixNanos, &Value) -> Vec<Expect>) -> usize {
    let mut ticks = 0;
    let mut out = Vec::new();
    for (ts_recv, text) in frames(file) {
        out.clear();
        let frame = venue
            .parse(&text, ts_recv, &mut out)
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        let v: Value = serde_json::from_str(&text).unwrap();
        let want = expect(ts_recv, &v);
        let got: Vec<Expect> = out.iter().map(actual).collect();
        assert_eq!(got, want, "{text}");
        for t in &out {
            assert_eq!(t.tick.ts_recv, ts_recv.0);
            assert!(t.tick.kind == TickKind::Trade as u8 || t.tick.kind == TickKind::Quote as u8);
        }
        if want.is_empty() {
            assert!(
                matches!(frame, Frame::Other | Frame::Heartbeat { .. } | Frame::Data),
                "{text}"
            );
        }
        ticks += out.len();
    }
    ticks
}

fn binance(prefix: &'static str) -> impl Fn(UnixNanos, &Value) -> Vec<Expect> {
    move |ts_recv, v| {
        let d = v.get("data").unwrap_or(v);
        let sym = |d: &Value| format!("{prefix}:{}", s(&d["s"]));
        match d["e"].as_str() {
            Some("aggTrade") | Some("trade") => {
                let id = if d["e"] == "trade" { &d["t"] } else { &d["a"] };
                vec![Expect {
                    symbol: sym(d),
                    trade: Some((
                        units(s(&d["p"])),
                        units(s(&d["q"])),
                        id.as_u64().unwrap(),
                        if d["m"].as_bool().unwrap() {
                            Side::Sell
                        } else {
                            Side::Buy
                        },
                    )),
                    quote: None,
                    ts_event: d["T"].as_u64().unwrap() * 1_000_000,
                    no_event_time: false,
                }]
            }
            None | Some("bookTicker")
                if d.get("u").is_some() && d.get("b").is_some_and(Value::is_string) =>
            {
                let t = d.get("T").and_then(Value::as_u64);
                vec![Expect {
                    symbol: sym(d),
                    trade: None,
                    quote: Some((
                        units(s(&d["b"])),
                        units(s(&d["B"])),
                        units(s(&d["a"])),
                        units(s(&d["A"])),
                    )),
                    ts_event: t.map_or(ts_recv.0, |t| t * 1_000_000),
                    no_event_time: t.is_none(),
                }]
            }
            _ => vec![],
        }
    }
}

fn rfc3339_ns(text: &str) -> u64 {
    // Independent of tickd's parser: jiff.
    let ts: jiff::Timestamp = text.parse().unwrap();
    ts.as_nanosecond() as u64
}

#[test]
fn binance_spot_usdm_and_coinm_frames_match_an_independent_reading() {
    let spot = check(Venue::Binance, "BINANCE.ws.1.0.gz", binance("BINANCE"));
    let usdm = check(
        Venue::BinanceFutures,
        "BINANCE_FUTURES.ws.1.0.gz",
        binance("BINANCEF"),
    );
    let coinm = check(
        Venue::BinanceDelivery,
        "BINANCE_DELIVERY.ws.1.0.gz",
        binance("BINANCED"),
    );
    assert!(
        spot > 10 && usdm > 100 && coinm > 100,
        "{spot} {usdm} {coinm}"
    );
}

#[test]
fn coinbase_frames_match_an_independent_reading_with_the_taker_side() {
    let n = check(Venue::Coinbase, "COINBASE.ws.28.0.gz", |_, v| {
        let sym = || format!("COINBASE:{}", s(&v["product_id"]));
        match s(&v["type"]) {
            "match" | "last_match" => vec![Expect {
                symbol: sym(),
                trade: Some((
                    units(s(&v["price"])),
                    units(s(&v["size"])),
                    v["trade_id"].as_u64().unwrap(),
                    // Coinbase's side is the maker's order: the taker did the opposite.
                    if v["side"] == "buy" {
                        Side::Sell
                    } else {
                        Side::Buy
                    },
                )),
                quote: None,
                ts_event: rfc3339_ns(s(&v["time"])),
                no_event_time: false,
            }],
            "ticker" => vec![Expect {
                symbol: sym(),
                trade: None,
                quote: Some((
                    units(s(&v["best_bid"])),
                    v.get("best_bid_size").map_or(0, |x| units(s(x))),
                    units(s(&v["best_ask"])),
                    v.get("best_ask_size").map_or(0, |x| units(s(x))),
                )),
                ts_event: rfc3339_ns(s(&v["time"])),
                no_event_time: false,
            }],
            _ => vec![],
        }
    });
    assert!(n > 200, "{n}");
}

#[test]
fn okx_frames_match_an_independent_reading() {
    let n = check(Venue::Okx, "OKX.ws.1.0.gz", |_, v| {
        let Some(channel) = v.pointer("/arg/channel").and_then(Value::as_str) else {
            return vec![];
        };
        let Some(data) = v["data"].as_array() else {
            return vec![];
        };
        data.iter()
            .filter_map(|d| {
                if !matches!(channel, "trades" | "tickers") {
                    return None;
                }
                let ts = s(&d["ts"]).parse::<u64>().unwrap() * 1_000_000;
                let symbol = format!("OKX:{}", s(&d["instId"]));
                match channel {
                    "trades" => Some(Expect {
                        symbol,
                        trade: Some((
                            units(s(&d["px"])),
                            units(s(&d["sz"])),
                            s(&d["tradeId"]).parse().unwrap(),
                            if d["side"] == "buy" {
                                Side::Buy
                            } else {
                                Side::Sell
                            },
                        )),
                        quote: None,
                        ts_event: ts,
                        no_event_time: false,
                    }),
                    "tickers" => Some(Expect {
                        symbol,
                        trade: None,
                        quote: Some((
                            units(s(&d["bidPx"])),
                            units(s(&d["bidSz"])),
                            units(s(&d["askPx"])),
                            units(s(&d["askSz"])),
                        )),
                        ts_event: ts,
                        no_event_time: false,
                    }),
                    _ => None,
                }
            })
            .collect()
    });
    assert!(n > 100, "{n}");
}

#[test]
fn kraken_frames_match_an_independent_reading() {
    let expect = |ts_recv: UnixNanos, v: &Value| -> Vec<Expect> {
        let Some(parts) = v.as_array() else {
            return vec![];
        };
        let name = s(&parts[parts.len() - 2]);
        let symbol = format!("KRAKEN:{}", s(&parts[parts.len() - 1]));
        match name {
            "trade" => parts[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let (secs, frac) = s(&t[2]).split_once('.').unwrap();
                    Expect {
                        symbol: symbol.clone(),
                        trade: Some((
                            units(s(&t[0])),
                            units(s(&t[1])),
                            0,
                            if t[3] == "b" { Side::Buy } else { Side::Sell },
                        )),
                        quote: None,
                        ts_event: format!("{secs}{frac:0<9}").parse().unwrap(),
                        no_event_time: false,
                    }
                })
                .collect(),
            "ticker" => vec![Expect {
                symbol,
                trade: None,
                quote: Some((
                    units(s(&parts[1]["b"][0])),
                    units(s(&parts[1]["b"][2])),
                    units(s(&parts[1]["a"][0])),
                    units(s(&parts[1]["a"][2])),
                )),
                ts_event: ts_recv.0,
                no_event_time: true,
            }],
            _ => vec![],
        }
    };
    let mut n = 0;
    for file in [
        "KRAKEN.ws.48.0.gz",
        "KRAKEN.ws.49.0.gz",
        "KRAKEN.ws.50.0.gz",
    ] {
        n += check(Venue::Kraken, file, expect);
    }
    assert!(n >= 20, "{n}");
}

#[test]
fn bad_frames_are_errors_that_name_the_field_and_append_nothing() {
    let mut out = Vec::new();
    let t = UnixNanos(1);
    let e = Venue::Binance
        .parse(
            r#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1e5","q":"1","T":1,"m":true}"#,
            t,
            &mut out,
        )
        .unwrap_err();
    assert!(e.to_string().starts_with("binance frame: p \"1e5\""), "{e}");
    let e = Venue::Coinbase
        .parse(r#"{"type":"match","product_id":"BTC-USD","trade_id":1,"side":"up","size":"1","price":"1","time":"2021-04-17T16:43:37.089723Z"}"#, t, &mut out)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "coinbase frame: side \"up\" is not buy or sell"
    );
    let e = Venue::Okx
        .parse(r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"},{"instId":"BTC-USDT","tradeId":"2","px":"1","side":"buy","ts":"1"}]}"#, t, &mut out)
        .unwrap_err();
    assert_eq!(e.to_string(), "okx frame: sz missing");
    assert!(
        out.is_empty(),
        "a bad frame appends nothing, not even its good ticks"
    );
    assert!(Venue::Kraken.parse("[1,2]", t, &mut out).is_err());
    assert!(Venue::Kraken.parse("not json", t, &mut out).is_err());
    assert_eq!(
        Venue::Kraken.parse(r#"{"event":"subscriptionStatus","status":"error","errorMessage":"Currency pair not supported"}"#, t, &mut out),
        Ok(Frame::Refused("Currency pair not supported".into()))
    );
    assert_eq!(
        Venue::Coinbase.parse(r#"{"type":"heartbeat","last_trade_id":42,"product_id":"BTC-USD","sequence":1,"time":"2021-04-17T16:43:37Z"}"#, t, &mut out),
        Ok(Frame::Heartbeat { symbol: tickd_protocol::Symbol::new("COINBASE:BTC-USD").unwrap(), last_trade_id: 42 })
    );
}
