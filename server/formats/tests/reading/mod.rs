//! The test's own reading of the venue captures (`../shared/data/venue-captures-cryptofeed`),
//! independent of tickd's parsers: `serde_json::Value` with each venue's documented field
//! meanings, a decimal reader of its own, jiff for RFC 3339. Shared by the parser tests
//! (`venue_captures.rs`) and the live-feed tests of the server (`server/tests/venue_live.rs`).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use serde_json::Value;
use tickd_formats::venue::capture::{Line, read_line};
use tickd_formats::venue::{NO_EVENT_TIME, Venue};
use tickd_protocol::{Side, TickRecord, TickView, UnixNanos};

/// The captures' directory: `shared/data/venue-captures-cryptofeed` beside the checkout (the
/// first ancestor of this crate that has it).
pub fn captures() -> PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/data/venue-captures-cryptofeed"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "no shared/data/venue-captures-cryptofeed above {} (the venue captures are required)",
                here.display()
            )
        })
}

/// The received frames of a capture file: (receive time, text).
pub fn frames(file: &str) -> Vec<(UnixNanos, String)> {
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

/// The body of the first REST answer in capture `file` (`<url> -> <time>: <body>`).
pub fn rest_body(file: &str) -> String {
    use std::io::Read;
    let path = captures().join(file);
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = text.lines().next().unwrap_or_default();
    assert!(
        line.contains(" -> "),
        "{file}: not a REST answer: {line:.80}"
    );
    line.split_once(": ").unwrap().1.to_owned()
}

/// Decimal text as 1e-9 units, read here without tickd's decimal parser.
pub fn units(text: &str) -> i64 {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    assert!(frac.len() <= 9, "{text}");
    let digits = format!("{int}{frac:0<9}");
    digits.parse().unwrap()
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// What the test expects of one tick.
#[derive(Debug, PartialEq)]
pub struct Expect {
    pub symbol: String,
    pub trade: Option<(i64, i64, u64, Side)>,
    pub quote: Option<(i64, i64, i64, i64)>,
    pub ts_event: u64,
    pub no_event_time: bool,
}

/// What `rec` (a tick of `symbol`) holds, in the terms of [`Expect`].
pub fn actual(symbol: &str, rec: &TickRecord) -> Expect {
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
        symbol: symbol.to_owned(),
        trade,
        quote,
        ts_event: rec.ts_event,
        no_event_time: rec.flags & NO_EVENT_TIME != 0,
    }
}

/// Binance's frames (spot, USD-M, COIN-M: symbols under `prefix`).
pub fn binance(prefix: &'static str) -> impl Fn(UnixNanos, &Value) -> Vec<Expect> {
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

pub fn rfc3339_ns(text: &str) -> u64 {
    // Independent of tickd's parser: jiff.
    let ts: jiff::Timestamp = text.parse().unwrap();
    ts.as_nanosecond() as u64
}

/// Coinbase's frames.
pub fn coinbase() -> impl Fn(UnixNanos, &Value) -> Vec<Expect> {
    |_, v| {
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
    }
}

/// OKX's frames.
pub fn okx() -> impl Fn(UnixNanos, &Value) -> Vec<Expect> {
    |_, v| {
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
    }
}

/// Kraken's frames (WebSocket API v1).
pub fn kraken() -> impl Fn(UnixNanos, &Value) -> Vec<Expect> {
    |ts_recv: UnixNanos, v: &Value| -> Vec<Expect> {
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
    }
}

/// A venue's reading: a frame received at a time → the ticks it holds.
pub type Reading = dyn Fn(UnixNanos, &Value) -> Vec<Expect>;

/// The reading of `venue`'s frames.
pub fn of(venue: Venue) -> Box<Reading> {
    match venue {
        Venue::Binance => Box::new(binance("BINANCE")),
        Venue::BinanceFutures => Box::new(binance("BINANCEF")),
        Venue::BinanceDelivery => Box::new(binance("BINANCED")),
        Venue::Coinbase => Box::new(coinbase()),
        Venue::Okx => Box::new(okx()),
        Venue::Kraken => Box::new(kraken()),
    }
}
