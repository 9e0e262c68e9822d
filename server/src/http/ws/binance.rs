//! Binance-compatible market streams: `/ws/<stream>` (raw payloads), `/stream?streams=a/b`
//! (each payload wrapped as `{"stream": name, "data": payload}`), with Binance's field names.
//!
//! Streams: `<symbol>@trade` and `<symbol>@kline_<interval>` (intervals `1s 1m 5m 15m 1h 4h
//! 1d`), symbols lowercase in names and uppercase in payloads. Live control messages:
//! `{"method":"SUBSCRIBE","params":[...],"id":1}` → `{"result":null,"id":1}`, `UNSUBSCRIBE`,
//! `LIST_SUBSCRIPTIONS` → `{"result":[...],"id":n}`; a bad request gets
//! `{"error":{"code":2,"msg":"..."},"id":n}` as Binance does.

use super::MAX_WS_SYMBOLS;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tickd_protocol::{
    CandleRecord, Epoch, Gap, Instrument, Interval, Seq, Side, Symbol, TickRecord,
};

use super::{Dialect, Reply, Subs};
use crate::http::HttpState;
use crate::http::binance::{now_ms, price, qty, quote_volume, volume};

/// One Binance stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    /// `<symbol>@trade`.
    Trade(Symbol),
    /// `<symbol>@kline_<interval>`.
    Kline(Symbol, Interval),
}

impl Stream {
    /// Parses a stream name.
    ///
    /// # Errors
    ///
    /// A message naming what is wrong.
    pub fn parse(name: &str) -> Result<Self, String> {
        let (sym, kind) = name.split_once('@').ok_or_else(|| {
            format!("stream {name:?}: expected <symbol>@trade or <symbol>@kline_<interval>")
        })?;
        let symbol = Symbol::new(&sym.to_ascii_uppercase())
            .map_err(|e| format!("stream {name:?}: symbol {sym:?}: {e}"))?;
        match kind {
            "trade" => Ok(Self::Trade(symbol)),
            k => match k.strip_prefix("kline_") {
                Some(i) => {
                    let interval = i.parse().map_err(|e| format!("stream {name:?}: {e}"))?;
                    Ok(Self::Kline(symbol, interval))
                }
                None => Err(format!(
                    "stream {name:?}: unsupported stream type {k:?} (trade and kline_<interval> are served)"
                )),
            },
        }
    }

    fn symbol(&self) -> &Symbol {
        match self {
            Self::Trade(s) | Self::Kline(s, _) => s,
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Trade(s) => format!("{}@trade", s.as_str().to_ascii_lowercase()),
            Self::Kline(s, i) => format!("{}@kline_{i}", s.as_str().to_ascii_lowercase()),
        }
    }
}

/// The Binance dialect of one socket.
#[derive(Debug)]
pub struct Binance {
    /// `/stream`: wrap payloads with their stream name.
    combined: bool,
    streams: BTreeSet<Stream>,
}

impl Binance {
    /// A socket on `/ws/...` (`combined` false) or `/stream` (true).
    pub fn new(combined: bool) -> Self {
        Self {
            combined,
            streams: BTreeSet::new(),
        }
    }

    /// Adds `streams` to the socket's subscriptions.
    ///
    /// # Errors
    ///
    /// A message for a stream whose symbol is unknown.
    pub fn add(
        &mut self,
        state: &HttpState,
        streams: Vec<Stream>,
        subs: &mut Subs,
    ) -> Result<(), String> {
        let new = streams
            .iter()
            .filter(|s| !self.streams.contains(s))
            .collect::<BTreeSet<_>>()
            .len();
        if self.streams.len() + new > MAX_WS_SYMBOLS {
            return Err(format!(
                "Too many streams: {} held and {new} more asked; at most {MAX_WS_SYMBOLS} per connection",
                self.streams.len()
            ));
        }
        for s in streams {
            let ids = state
                .services
                .query
                .resolve(0, std::slice::from_ref(s.symbol()))
                .map_err(|e| format!("{}: {}", s.name(), e.message))?;
            for id in ids {
                match &s {
                    Stream::Trade(_) => {
                        subs.trades.insert(id.0);
                    }
                    Stream::Kline(_, i) => drop(subs.candles.insert((id.0, i.secs()))),
                }
            }
            self.streams.insert(s);
        }
        Ok(())
    }

    fn remove(&mut self, state: &HttpState, streams: &[Stream], subs: &mut Subs) {
        for s in streams {
            if let Ok(ids) = state
                .services
                .query
                .resolve(0, std::slice::from_ref(s.symbol()))
            {
                for id in ids {
                    match s {
                        Stream::Trade(_) => {
                            subs.trades.remove(&id.0);
                        }
                        Stream::Kline(_, i) => drop(subs.candles.remove(&(id.0, i.secs()))),
                    }
                }
            }
            self.streams.remove(s);
        }
    }

    fn wrap(&self, stream: &Stream, data: impl Serialize) -> String {
        /// `/stream`'s wrapper, in name order (as the `json!` maps always had it).
        #[derive(Serialize)]
        struct Combined<T> {
            data: T,
            stream: String,
        }
        let text = if self.combined {
            serde_json::to_string(&Combined {
                data,
                stream: stream.name(),
            })
        } else {
            serde_json::to_string(&data)
        };
        text.unwrap_or_default()
    }
}

/// Binance's trade event, fields in name order (`E M T e m p q s t`, as the `json!` maps always
/// had it; clients read by name).
#[derive(Serialize)]
struct TradeEvent<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "M")]
    ignore: bool,
    #[serde(rename = "T")]
    trade_time: u64,
    #[serde(rename = "e")]
    event: &'static str,
    #[serde(rename = "m")]
    buyer_is_maker: bool,
    #[serde(rename = "p")]
    price: String,
    #[serde(rename = "q")]
    quantity: String,
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "t")]
    trade_id: u64,
}

#[derive(Debug, Deserialize)]
struct Control {
    method: String,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    id: Value,
}

fn control_error(id: &Value, msg: String) -> Reply {
    Reply {
        messages: vec![json!({"error": {"code": 2, "msg": msg}, "id": id}).to_string()],
        ..Reply::default()
    }
}

impl Dialect for Binance {
    fn on_text(&mut self, state: &HttpState, text: &str, subs: &mut Subs) -> Reply {
        let c: Control = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                return control_error(&Value::Null, format!("Invalid JSON: {e}"));
            }
        };
        let parsed = || {
            c.params
                .iter()
                .map(|p| Stream::parse(p))
                .collect::<Result<Vec<_>, _>>()
        };
        match c.method.as_str() {
            "SUBSCRIBE" => match parsed().and_then(|s| self.add(state, s, subs)) {
                Ok(()) => Reply {
                    messages: vec![json!({"result": null, "id": c.id}).to_string()],
                    ..Reply::default()
                },
                Err(e) => control_error(&c.id, e),
            },
            "UNSUBSCRIBE" => match parsed() {
                Ok(s) => {
                    self.remove(state, &s, subs);
                    Reply {
                        messages: vec![json!({"result": null, "id": c.id}).to_string()],
                        ..Reply::default()
                    }
                }
                Err(e) => control_error(&c.id, e),
            },
            "LIST_SUBSCRIPTIONS" => {
                let names: Vec<String> = self.streams.iter().map(Stream::name).collect();
                Reply {
                    messages: vec![json!({"result": names, "id": c.id}).to_string()],
                    ..Reply::default()
                }
            }
            other => control_error(
                &c.id,
                format!("Unknown method {other:?}: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS"),
            ),
        }
    }

    fn trade(&self, _epoch: Epoch, inst: &Instrument, t: &TickRecord) -> String {
        let Some(tr) = t.trade() else {
            return String::new();
        };
        let (symbol, sc) = (&inst.symbol, inst.scales);
        let data = TradeEvent {
            event_time: now_ms(),
            ignore: true,
            trade_time: t.ts_event / 1_000_000,
            event: "trade",
            // The buyer is the maker when the seller was the aggressor.
            buyer_is_maker: t.side == Side::Sell as u8,
            price: price(tr.price, sc),
            quantity: qty(tr.size, sc),
            symbol: symbol.as_str(),
            trade_id: tr.trade_id,
        };
        self.wrap(&Stream::Trade(*symbol), data)
    }

    fn quote(&self, _epoch: Epoch, _inst: &Instrument, _tick: &TickRecord) -> Option<String> {
        None
    }

    fn candle(&self, _epoch: Epoch, _seq: Seq, inst: &Instrument, c: &CandleRecord) -> String {
        let Some(interval) = Interval::from_secs(c.interval_s) else {
            return String::new();
        };
        let (symbol, sc) = (&inst.symbol, inst.scales);
        let [o, h, l, cl] = c.ohlc();
        let data = json!({
            "e": "kline",
            "E": now_ms(),
            "s": symbol.as_str(),
            "k": {
                "t": c.ts_open / 1_000_000,
                "T": (c.ts_open + interval.nanos()) / 1_000_000 - 1,
                "s": symbol.as_str(),
                "i": interval.name(),
                "f": -1,
                "L": -1,
                "o": price(o, sc),
                "c": price(cl, sc),
                "h": price(h, sc),
                "l": price(l, sc),
                "v": volume(c, sc),
                "n": c.trades,
                "x": c.is_closed(),
                "q": quote_volume(c, sc),
                "V": "0.00000000",
                "Q": "0.00000000",
                "B": "0",
            }
        });
        self.wrap(&Stream::Kline(*symbol, interval), data)
    }

    fn gap(&self, _gap: &Gap, _venue: Option<&Instrument>) -> Option<String> {
        // Binance streams have no gap message: a client notices from trade ids.
        None
    }

    fn heartbeat(&self, _epoch: Epoch, _head: u64) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use tickd_protocol::{InstrumentId, Price, Quantity, Trade, UnixNanos};

    use super::*;

    #[test]
    fn trades_render_binance_fields_raw_and_combined() {
        let symbol = tickd_protocol::Instrument {
            id: InstrumentId(0),
            symbol: Symbol::new("AAPL").unwrap(),
            scales: tickd_protocol::Scales::DEFAULT,
        };
        let trade = Trade {
            price: Price::from_raw(171_230_000_000),
            size: Quantity::from_raw(500_000_000),
            trade_id: 7,
            venue: 0,
            conditions: 0,
        };
        let t = TickRecord::new_trade(
            InstrumentId(0),
            UnixNanos(1_795_229_620_561_398_518),
            Side::Sell,
            &trade,
        );
        let tail = r#","M":true,"T":1795229620561,"e":"trade","m":true,"p":"171.23000000","q":"0.50000000","s":"AAPL","t":7}"#;
        let raw = Binance::new(false).trade(Epoch(1), &symbol, &t);
        assert!(raw.starts_with(r#"{"E":"#) && raw.ends_with(tail), "{raw}");
        let combined = Binance::new(true).trade(Epoch(1), &symbol, &t);
        let wrapped_tail = format!("{tail},\"stream\":\"aapl@trade\"}}");
        assert!(
            combined.starts_with(r#"{"data":{"E":"#) && combined.ends_with(&wrapped_tail),
            "{combined}"
        );
    }
}
