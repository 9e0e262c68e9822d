//! The seed service's WebSocket at `/ws` (`research/features.md` §2.5), with tickd's additions:
//! every data message carries `epoch` and `seq`.
//!
//! Client messages (JSON text):
//! - `{"type":"subscribe","data":{"symbols":["AAPL"],"channels":["trades","quotes","candles:1m"],
//!   "from_seq":123}}` — `channels` defaults to trades and quotes; `from_seq` (or
//!   `resume_from_seq`) rewinds this socket's stream to that seq of the current epoch (records
//!   the ring no longer holds are declared with a `gap`). Answered with `subscribed`.
//! - `{"type":"unsubscribe","data":{"symbols":["AAPL"],"channels":[...]}}` (channels default to
//!   all) — answered with `unsubscribed`.
//! - `{"type":"ping"}` — answered with `{"type":"pong","t":<ms>}`.
//!
//! Server messages: `trade`, `quote_update`, `candle`, `gap`, `heartbeat`, `error`
//! (`{"type":"error","code":"...","message":"..."}`; the socket stays open).

use super::MAX_WS_SYMBOLS;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tickd_protocol::{
    CandleRecord, Epoch, Gap, GapReason, Instrument, Interval, Seq, Symbol, TickRecord, UnixNanos,
};

use super::{Dialect, Reply, Subs};
use crate::http::HttpState;
use crate::http::json::{AsText, ExactPrice, ExactQty, Rfc3339};
use crate::http::seed::candle_json;

/// The `/ws` dialect.
#[derive(Debug, Default)]
pub struct Seed;

#[derive(Debug, Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Option<SubscribeData>,
}

#[derive(Debug, Default, Deserialize)]
struct SubscribeData {
    #[serde(default)]
    symbols: Vec<String>,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default, alias = "resume_from_seq")]
    from_seq: Option<u64>,
}

/// A channel of the seed protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Trades,
    Quotes,
    Candles(Interval),
}

fn parse_channel(text: &str) -> Result<Channel, String> {
    match text {
        "trades" => Ok(Channel::Trades),
        "quotes" => Ok(Channel::Quotes),
        other => match other.strip_prefix("candles:") {
            Some(i) => i.parse().map(Channel::Candles).map_err(|e| format!("{e}")),
            None => Err(format!(
                "unknown channel {other:?} (expected trades, quotes or candles:<interval>)"
            )),
        },
    }
}

fn error(code: &str, message: String) -> Reply {
    Reply {
        messages: vec![json!({"type": "error", "code": code, "message": message}).to_string()],
        ..Reply::default()
    }
}

fn now_ms() -> u64 {
    crate::clock::now().as_millis()
}

impl Seed {
    /// A trade as the seed protocol's `trade` message.
    pub fn trade_text(epoch: Epoch, inst: &Instrument, t: &TickRecord) -> String {
        let Some(tr) = t.trade() else {
            return String::new();
        };
        let (symbol, sc) = (&inst.symbol, inst.scales);
        render(&Message {
            data: TradeData {
                price: ExactPrice(tr.price, sc),
                side: side(t.side),
                size: ExactQty(tr.size, sc),
                symbol: symbol.as_str(),
                t: t.ts_event / 1_000_000,
                time: Rfc3339(UnixNanos(t.ts_event)),
                trade_id: tr.trade_id,
                ts_ns: AsText(t.ts_event),
            },
            epoch: AsText(epoch.0),
            seq: t.seq,
            kind: "trade",
        })
    }

    /// A quote as the seed protocol's `quote_update` message (`None` for a non-quote).
    pub fn quote_text(epoch: Epoch, inst: &Instrument, t: &TickRecord) -> Option<String> {
        let q = t.quote()?;
        let (symbol, sc) = (&inst.symbol, inst.scales);
        Some(render(&Message {
            data: QuoteData {
                ask: ExactPrice(q.ask_px, sc),
                ask_size: ExactQty(q.ask_sz, sc),
                bid: ExactPrice(q.bid_px, sc),
                bid_size: ExactQty(q.bid_sz, sc),
                symbol: symbol.as_str(),
                t: t.ts_event / 1_000_000,
                time: Rfc3339(UnixNanos(t.ts_event)),
                ts_ns: AsText(t.ts_event),
            },
            epoch: AsText(epoch.0),
            seq: t.seq,
            kind: "quote_update",
        }))
    }

    /// A candle update as the seed protocol's `candle` message.
    pub fn candle_text(epoch: Epoch, seq: Seq, inst: &Instrument, c: &CandleRecord) -> String {
        let symbol = &inst.symbol;
        let mut data = serde_json::to_value(candle_json(c, inst.scales)).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut data {
            m.insert("symbol".into(), json!(symbol.as_str()));
            let interval = Interval::from_secs(c.interval_s).map_or("?", Interval::name);
            m.insert("interval".into(), json!(interval));
        }
        json!({"type": "candle", "epoch": epoch.0.to_string(), "seq": seq.0, "data": data})
            .to_string()
    }
}

impl Dialect for Seed {
    fn on_text(&mut self, state: &HttpState, text: &str, subs: &mut Subs) -> Reply {
        let msg: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                return error(
                    "bad_message",
                    format!(
                        "not a message: {e} (expected {{\"type\":\"subscribe\",\"data\":{{\"symbols\":[...]}}}})"
                    ),
                );
            }
        };
        match msg.kind.as_str() {
            "ping" => Reply {
                messages: vec![json!({"type": "pong", "t": now_ms()}).to_string()],
                ..Reply::default()
            },
            kind @ ("subscribe" | "unsubscribe") => {
                let data = msg.data.unwrap_or_default();
                let subscribe = kind == "subscribe";
                let channels = match &data.channels {
                    None if subscribe => vec![Channel::Trades, Channel::Quotes],
                    None => [Channel::Trades, Channel::Quotes]
                        .into_iter()
                        .chain(Interval::ALL.map(Channel::Candles))
                        .collect(),
                    Some(list) => {
                        // At most 9 distinct channels: repeats are dropped, so the work below
                        // is symbols × 9 at most, whatever the message repeats.
                        let mut channels = Vec::new();
                        for c in list {
                            match parse_channel(c) {
                                Ok(c) if !channels.contains(&c) => channels.push(c),
                                Ok(_) => {}
                                Err(e) => return error("bad_channel", e),
                            }
                        }
                        channels
                    }
                };
                if data.symbols.is_empty() {
                    return error("bad_message", format!("{kind} names no symbols"));
                }
                if data.symbols.len() > MAX_WS_SYMBOLS {
                    return error(
                        "too_many_symbols",
                        format!(
                            "{kind} names {} symbols; at most {MAX_WS_SYMBOLS} per message",
                            data.symbols.len()
                        ),
                    );
                }
                let symbols = match data
                    .symbols
                    .iter()
                    .map(|s| Symbol::new(s).map_err(|e| format!("symbol {s:?}: {e}")))
                    .collect::<Result<Vec<_>, _>>()
                {
                    Ok(mut s) => {
                        // Repeats dropped, first mention kept.
                        let mut seen = std::collections::HashSet::new();
                        s.retain(|sym| seen.insert(*sym));
                        s
                    }
                    Err(e) => return error("bad_symbol", e),
                };
                let ids = match state.services.query.resolve(0, &symbols) {
                    Ok(ids) => ids,
                    Err(e) => return error("unknown_symbol", e.message),
                };
                for id in &ids {
                    for ch in &channels {
                        let id = id.0;
                        match (*ch, subscribe) {
                            (Channel::Trades, true) => {
                                subs.trades.insert(id);
                            }
                            (Channel::Trades, false) => {
                                subs.trades.remove(&id);
                            }
                            (Channel::Quotes, true) => {
                                subs.quotes.insert(id);
                            }
                            (Channel::Quotes, false) => {
                                subs.quotes.remove(&id);
                            }
                            (Channel::Candles(i), true) => {
                                subs.candles.insert((id, i.secs()));
                            }
                            (Channel::Candles(i), false) => {
                                subs.candles.remove(&(id, i.secs()));
                            }
                        }
                    }
                }
                let names: Vec<&str> = symbols.iter().map(Symbol::as_str).collect();
                let channel_names: Vec<String> = channels
                    .iter()
                    .map(|c| match c {
                        Channel::Trades => "trades".to_owned(),
                        Channel::Quotes => "quotes".to_owned(),
                        Channel::Candles(i) => format!("candles:{i}"),
                    })
                    .collect();
                let head = state.services.query.head().0;
                let epoch = state.services.query.epoch();
                let seek = if subscribe { data.from_seq } else { None };
                let reply = json!({
                    "type": if subscribe { "subscribed" } else { "unsubscribed" },
                    "data": {"symbols": names, "channels": channel_names},
                    "epoch": epoch.0.to_string(),
                    "seq": head,
                    "from_seq": seek.map_or(head + 1, |s| s.max(1)),
                });
                Reply {
                    messages: vec![reply.to_string()],
                    seek: seek.map(Seq),
                    close: None,
                }
            }
            other => error(
                "bad_message",
                format!("unknown type {other:?} (expected subscribe, unsubscribe or ping)"),
            ),
        }
    }

    fn trade(
        &mut self,
        _state: &HttpState,
        epoch: Epoch,
        inst: &Instrument,
        t: &TickRecord,
        out: &mut Vec<String>,
    ) {
        if t.trade().is_some() {
            out.push(Self::trade_text(epoch, inst, t));
        }
    }

    fn quote(
        &mut self,
        _state: &HttpState,
        epoch: Epoch,
        inst: &Instrument,
        t: &TickRecord,
        out: &mut Vec<String>,
    ) {
        out.extend(Self::quote_text(epoch, inst, t));
    }

    fn candle(
        &mut self,
        _state: &HttpState,
        epoch: Epoch,
        seq: Seq,
        inst: &Instrument,
        c: &CandleRecord,
        out: &mut Vec<String>,
    ) {
        out.push(Self::candle_text(epoch, seq, inst, c));
    }

    fn gap(&self, gap: &Gap, venue: Option<&Instrument>) -> Option<String> {
        let (from, to) = (gap.from.0, gap.to.0);
        let data = match gap.reason {
            GapReason::Venue(hole) => json!({
                "from_seq": from,
                "to_seq": to,
                "reason": "venue",
                "symbol": venue.map(|i| i.symbol.as_str()),
                "from_trade_id": hole.from_trade_id,
                "to_trade_id": hole.to_trade_id,
            }),
            // The original service's word for every loss inside the server.
            _ => json!({"from_seq": from, "to_seq": to, "reason": "overwritten"}),
        };
        Some(json!({"type": "gap", "epoch": gap.epoch.0.to_string(), "data": data}).to_string())
    }

    fn heartbeat(&self, epoch: Epoch, head: u64) -> Option<String> {
        Some(
            json!({"type": "heartbeat", "epoch": epoch.0.to_string(), "seq": head, "t": now_ms()})
                .to_string(),
        )
    }
}

/// A market data message: `{"data":{...},"epoch":"<u64>","seq":N,"type":"..."}`. Fields are
/// declared in name order, the order the `json!` messages (sorted maps) have always had.
#[derive(Serialize)]
struct Message<D> {
    data: D,
    epoch: AsText<u64>,
    seq: u64,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A `trade` message's data, in name order.
#[derive(Serialize)]
struct TradeData<'a> {
    price: ExactPrice,
    side: &'static str,
    size: ExactQty,
    symbol: &'a str,
    t: u64,
    time: Rfc3339,
    trade_id: u64,
    ts_ns: AsText<u64>,
}

/// A `quote_update` message's data, in name order.
#[derive(Serialize)]
struct QuoteData<'a> {
    ask: ExactPrice,
    ask_size: ExactQty,
    bid: ExactPrice,
    bid_size: ExactQty,
    symbol: &'a str,
    t: u64,
    time: Rfc3339,
    ts_ns: AsText<u64>,
}

/// A message's text, written into one buffer sized for a trade or quote.
fn render(message: &impl Serialize) -> String {
    let mut out = Vec::with_capacity(256);
    if serde_json::to_writer(&mut out, message).is_err() {
        return String::new();
    }
    // serde_json writes UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

fn side(s: u8) -> &'static str {
    match s {
        1 => "buy",
        2 => "sell",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use tickd_protocol::{CandleRecord, InstrumentId, Price, Quantity, Quote, Side, Trade};

    use super::*;

    #[test]
    fn trades_and_quotes_render_exact_numbers_in_name_order() {
        let epoch = Epoch(42);
        let symbol = tickd_protocol::Instrument {
            id: InstrumentId(0),
            symbol: Symbol::new("AAPL").unwrap(),
            scales: tickd_protocol::Scales::DEFAULT,
        };
        let ts = UnixNanos(1_795_229_620_561_398_518);
        let trade = Trade {
            price: Price::from_raw(171_230_000_000),
            size: Quantity::from_raw(500_000_000),
            trade_id: 7,
            venue: 0,
            conditions: 0,
        };
        let mut t = TickRecord::new_trade(InstrumentId(0), ts, Side::Sell, &trade);
        t.seq = 9;
        assert_eq!(
            Seed::trade_text(epoch, &symbol, &t),
            r#"{"data":{"price":171.23,"side":"sell","size":0.5,"symbol":"AAPL","t":1795229620561,"time":"2026-11-21T02:53:40.561398518Z","trade_id":7,"ts_ns":"1795229620561398518"},"epoch":"42","seq":9,"type":"trade"}"#
        );
        let quote = Quote {
            bid_px: Price::from_raw(171_220_000_000),
            bid_sz: Quantity::from_raw(300_000_000_000),
            ask_px: Price::UNDEF,
            ask_sz: Quantity::from_raw(0),
        };
        let mut q = TickRecord::new_quote(InstrumentId(0), ts, &quote);
        q.seq = 10;
        assert_eq!(
            Seed::quote_text(epoch, &symbol, &q).unwrap(),
            r#"{"data":{"ask":null,"ask_size":0,"bid":171.22,"bid_size":300,"symbol":"AAPL","t":1795229620561,"time":"2026-11-21T02:53:40.561398518Z","ts_ns":"1795229620561398518"},"epoch":"42","seq":10,"type":"quote_update"}"#
        );
    }

    #[test]
    fn candles_render_exact_numbers_in_name_order() {
        let mut c = CandleRecord {
            instrument_id: 0,
            interval_s: 60,
            ts_open: 1_795_229_580_000_000_000,
            open: 171_230_000_000,
            high: 171_500_000_000,
            low: 171_000_000_000,
            close: 171_250_000_000,
            volume: 3_000_000_000,
            trades: 3,
            version: 2,
            ..CandleRecord::default()
        };
        c.set_notional(513_750_000_000 * 1_000_000_000);
        let symbol = tickd_protocol::Instrument {
            id: InstrumentId(0),
            symbol: Symbol::new("AAPL").unwrap(),
            scales: tickd_protocol::Scales::DEFAULT,
        };
        assert_eq!(
            Seed::candle_text(Epoch(42), Seq(11), &symbol, &c),
            r#"{"data":{"close":171.25,"closed":false,"high":171.5,"interval":"1m","low":171,"open":171.23,"rev":2,"symbol":"AAPL","t":1795229580000,"time":"2026-11-21T02:53:00Z","trades":3,"volume":3,"vwap":171.25},"epoch":"42","seq":11,"type":"candle"}"#
        );
        c.volume = 0;
        let text = Seed::candle_text(Epoch(42), Seq(11), &symbol, &c);
        assert!(text.contains(r#""volume":0,"vwap":null"#), "{text}");
    }
}
