//! Binance-compatible market streams: `/ws/<stream>` (raw payloads), `/stream?streams=a/b`
//! (each payload wrapped as `{"stream": name, "data": payload}`), with Binance's field names.
//!
//! Streams, symbols lowercase in names and uppercase in payloads:
//! - `<symbol>@trade`: each trade;
//! - `<symbol>@aggTrade`: each trade as its own aggregate (tickd keeps trades, not the orders
//!   behind them): `a` is its seq, `f` = `l` its venue trade id;
//! - `<symbol>@bookTicker`: each top-of-book change (conflated as quotes are), `u` its seq;
//! - `<symbol>@miniTicker`: the rolling 24 h window (of one-minute candles, as `ticker/24hr`)
//!   after a trade, at most once a second per symbol; at most [`MAX_MINI_TICKERS`] per socket;
//! - `<symbol>@kline_<interval>` (intervals `1s 1m 5m 15m 1h 4h 1d`): each candle update.
//!
//! Live control messages: `{"method":"SUBSCRIBE","params":[...],"id":1}` →
//! `{"result":null,"id":1}`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS` → `{"result":[...],"id":n}`,
//! `SET_PROPERTY` `["combined", true|false]` (switches the payload wrapper) and `GET_PROPERTY`
//! `["combined"]`; a bad request gets `{"error":{"code":2,"msg":"..."},"id":n}` as Binance does
//! (code 0 for an unknown property, 3 for a bad value).
//!
//! Ping/pong as Binance: the server sends a ping frame when the client has sent nothing for a
//! heartbeat interval (Binance: every 20 s) and closes a socket that answered nothing for the
//! idle timeout (Binance: a minute); client pings are answered with pongs carrying their payload.

use super::MAX_WS_SYMBOLS;
use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tickd_protocol::{
    CandleRecord, Epoch, Gap, Instrument, Interval, Seq, Side, Symbol, TickRecord,
};

use super::{Dialect, Reply, Subs};
use crate::http::HttpState;
use crate::http::binance::ticker::ticker_24h;
use crate::http::binance::{
    now_ms, price, qty, quote_volume, taker_buy_quote_volume, taker_buy_volume, trade_ids, volume,
};

/// Most `@miniTicker` streams on one socket: each costs a 24 h window (1,441 one-minute
/// candles) a second while its symbol trades.
pub const MAX_MINI_TICKERS: usize = 64;

/// One Binance stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    /// `<symbol>@trade`.
    Trade(Symbol),
    /// `<symbol>@aggTrade`.
    AggTrade(Symbol),
    /// `<symbol>@bookTicker`.
    BookTicker(Symbol),
    /// `<symbol>@miniTicker`.
    MiniTicker(Symbol),
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
            format!("stream {name:?}: expected <symbol>@<type>, as btcusdt@trade")
        })?;
        let symbol = Symbol::new(&sym.to_ascii_uppercase())
            .map_err(|e| format!("stream {name:?}: symbol {sym:?}: {e}"))?;
        match kind {
            "trade" => Ok(Self::Trade(symbol)),
            "aggTrade" => Ok(Self::AggTrade(symbol)),
            "bookTicker" => Ok(Self::BookTicker(symbol)),
            "miniTicker" => Ok(Self::MiniTicker(symbol)),
            k => match k.strip_prefix("kline_") {
                Some(i) => {
                    let interval = i.parse().map_err(|e| format!("stream {name:?}: {e}"))?;
                    Ok(Self::Kline(symbol, interval))
                }
                None => Err(format!(
                    "stream {name:?}: unsupported stream type {k:?} (trade, aggTrade, bookTicker, miniTicker and kline_<interval> are served)"
                )),
            },
        }
    }

    fn symbol(&self) -> &Symbol {
        match self {
            Self::Trade(s)
            | Self::AggTrade(s)
            | Self::BookTicker(s)
            | Self::MiniTicker(s)
            | Self::Kline(s, _) => s,
        }
    }

    fn name(&self) -> String {
        let sym = self.symbol().as_str().to_ascii_lowercase();
        match self {
            Self::Trade(_) => format!("{sym}@trade"),
            Self::AggTrade(_) => format!("{sym}@aggTrade"),
            Self::BookTicker(_) => format!("{sym}@bookTicker"),
            Self::MiniTicker(_) => format!("{sym}@miniTicker"),
            Self::Kline(_, i) => format!("{sym}@kline_{i}"),
        }
    }
}

/// Which per-tick streams a socket holds for one instrument.
#[derive(Debug, Clone, Copy, Default)]
struct Wants {
    trade: bool,
    agg_trade: bool,
    mini_ticker: bool,
    book_ticker: bool,
    /// When the last `@miniTicker` went out, ms since the Unix epoch.
    mini_sent_ms: u64,
}

/// The Binance dialect of one socket.
#[derive(Debug)]
pub struct Binance {
    /// `/stream` (or `SET_PROPERTY combined true`): wrap payloads with their stream name.
    combined: bool,
    streams: BTreeSet<Stream>,
    /// The per-tick streams by instrument id, made from `streams`.
    wants: HashMap<u32, Wants>,
}

impl Binance {
    /// A socket on `/ws/...` (`combined` false) or `/stream` (true).
    pub fn new(combined: bool) -> Self {
        Self {
            combined,
            streams: BTreeSet::new(),
            wants: HashMap::new(),
        }
    }

    /// Adds `streams` to the socket's subscriptions.
    ///
    /// # Errors
    ///
    /// A message for a stream whose symbol is unknown, or past a per-socket cap.
    pub fn add(
        &mut self,
        state: &HttpState,
        streams: Vec<Stream>,
        subs: &mut Subs,
    ) -> Result<(), String> {
        let new: BTreeSet<&Stream> = streams
            .iter()
            .filter(|s| !self.streams.contains(s))
            .collect();
        if self.streams.len() + new.len() > MAX_WS_SYMBOLS {
            return Err(format!(
                "Too many streams: {} held and {} more asked; at most {MAX_WS_SYMBOLS} per connection",
                self.streams.len(),
                new.len()
            ));
        }
        let mini = |s: &Stream| matches!(s, Stream::MiniTicker(_));
        let minis = self.streams.iter().filter(|s| mini(s)).count()
            + new.iter().filter(|s| mini(s)).count();
        if minis > MAX_MINI_TICKERS {
            return Err(format!(
                "Too many miniTicker streams: at most {MAX_MINI_TICKERS} per connection"
            ));
        }
        // Every symbol first, so a bad one adds nothing.
        for s in &streams {
            resolve(state, s)?;
        }
        self.streams.extend(streams);
        self.resubscribe(state, subs);
        Ok(())
    }

    fn remove(&mut self, state: &HttpState, streams: &[Stream], subs: &mut Subs) {
        for s in streams {
            self.streams.remove(s);
        }
        self.resubscribe(state, subs);
    }

    /// Makes the engine's subscription and the per-instrument wants from `streams`.
    fn resubscribe(&mut self, state: &HttpState, subs: &mut Subs) {
        let old = std::mem::take(&mut self.wants);
        *subs = Subs::default();
        for s in &self.streams {
            let Ok(id) = resolve(state, s) else {
                continue;
            };
            let w = self.wants.entry(id).or_insert_with(|| Wants {
                mini_sent_ms: old.get(&id).map_or(0, |w| w.mini_sent_ms),
                ..Wants::default()
            });
            match s {
                Stream::Trade(_) => w.trade = true,
                Stream::AggTrade(_) => w.agg_trade = true,
                Stream::MiniTicker(_) => w.mini_ticker = true,
                Stream::BookTicker(_) => w.book_ticker = true,
                Stream::Kline(_, i) => drop(subs.candles.insert((id, i.secs()))),
            }
            if w.trade || w.agg_trade || w.mini_ticker {
                subs.trades.insert(id);
            }
            if w.book_ticker {
                subs.quotes.insert(id);
            }
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

/// The instrument id of a stream's symbol.
fn resolve(state: &HttpState, s: &Stream) -> Result<u32, String> {
    let ids = state
        .services
        .query
        .resolve(0, std::slice::from_ref(s.symbol()))
        .map_err(|e| format!("{}: {}", s.name(), e.message))?;
    ids.first()
        .map(|id| id.0)
        .ok_or_else(|| format!("{}: unknown symbol", s.name()))
}

/// Binance's aggregate trade event (one trade per aggregate), fields in name order.
#[derive(Serialize)]
struct AggTradeEvent<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(rename = "M")]
    ignore: bool,
    #[serde(rename = "T")]
    trade_time: u64,
    /// Aggregate id: the trade's seq.
    a: u64,
    e: &'static str,
    /// First and last venue trade id: the trade's.
    f: u64,
    l: u64,
    m: bool,
    p: String,
    q: String,
    s: &'a str,
}

/// Binance's top-of-book event (`u` the quote's seq), fields in name order.
#[derive(Serialize)]
struct BookTickerEvent<'a> {
    #[serde(rename = "A")]
    ask_qty: String,
    #[serde(rename = "B")]
    bid_qty: String,
    a: String,
    b: String,
    s: &'a str,
    u: u64,
}

/// Binance's 24 h mini ticker event, fields in name order.
#[derive(Serialize)]
struct MiniTickerEvent<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    c: String,
    e: &'static str,
    h: String,
    l: String,
    o: String,
    q: String,
    s: &'a str,
    v: String,
}

#[derive(Debug, Deserialize)]
struct Control {
    method: String,
    #[serde(default)]
    params: Vec<Value>,
    #[serde(default)]
    id: Value,
}

fn control_error(id: &Value, code: i32, msg: String) -> Reply {
    Reply {
        messages: vec![json!({"error": {"code": code, "msg": msg}, "id": id}).to_string()],
        ..Reply::default()
    }
}

fn result(id: &Value, result: Value) -> Reply {
    Reply {
        messages: vec![json!({"result": result, "id": id}).to_string()],
        ..Reply::default()
    }
}

impl Binance {
    fn property(&mut self, c: &Control) -> Reply {
        let name = c.params.first().and_then(Value::as_str);
        match (c.method.as_str(), name, c.params.get(1)) {
            (_, Some(n), _) if n != "combined" => control_error(
                &c.id,
                0,
                format!("Unknown property {n:?}: only \"combined\" is defined"),
            ),
            ("GET_PROPERTY", Some(_), None) => result(&c.id, json!(self.combined)),
            ("SET_PROPERTY", Some(_), Some(Value::Bool(b))) if c.params.len() == 2 => {
                self.combined = *b;
                result(&c.id, Value::Null)
            }
            _ => control_error(
                &c.id,
                3,
                format!(
                    "Invalid {} params {}: expected [\"combined\"{}]",
                    c.method,
                    Value::Array(c.params.clone()),
                    if c.method == "SET_PROPERTY" {
                        ", true|false"
                    } else {
                        ""
                    }
                ),
            ),
        }
    }

    /// The trade as Binance's `trade` event.
    fn render_trade(&self, inst: &Instrument, t: &TickRecord) -> Option<String> {
        let tr = t.trade()?;
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
        Some(self.wrap(&Stream::Trade(*symbol), data))
    }

    /// The trade as Binance's `aggTrade` event.
    fn render_agg_trade(&self, inst: &Instrument, t: &TickRecord) -> Option<String> {
        let tr = t.trade()?;
        let (symbol, sc) = (&inst.symbol, inst.scales);
        let data = AggTradeEvent {
            event_time: now_ms(),
            ignore: true,
            trade_time: t.ts_event / 1_000_000,
            a: t.seq,
            e: "aggTrade",
            f: tr.trade_id,
            l: tr.trade_id,
            m: t.side == Side::Sell as u8,
            p: price(tr.price, sc),
            q: qty(tr.size, sc),
            s: symbol.as_str(),
        };
        Some(self.wrap(&Stream::AggTrade(*symbol), data))
    }

    /// The quote as Binance's `bookTicker` event.
    fn render_book_ticker(&self, inst: &Instrument, t: &TickRecord) -> Option<String> {
        let q = t.quote()?;
        let (symbol, sc) = (&inst.symbol, inst.scales);
        let data = BookTickerEvent {
            ask_qty: qty(q.ask_sz, sc),
            bid_qty: qty(q.bid_sz, sc),
            a: price(q.ask_px, sc),
            b: price(q.bid_px, sc),
            s: symbol.as_str(),
            u: t.seq,
        };
        Some(self.wrap(&Stream::BookTicker(*symbol), data))
    }

    /// The 24 h window as Binance's `24hrMiniTicker` event.
    fn render_mini_ticker(&self, state: &HttpState, inst: &Instrument) -> String {
        let t = ticker_24h(state, inst);
        let data = MiniTickerEvent {
            event_time: now_ms(),
            c: t.last_price,
            e: "24hrMiniTicker",
            h: t.high_price,
            l: t.low_price,
            o: t.open_price,
            q: t.quote_volume,
            s: inst.symbol.as_str(),
            v: t.volume,
        };
        self.wrap(&Stream::MiniTicker(inst.symbol), data)
    }
}

impl Dialect for Binance {
    fn on_text(&mut self, state: &HttpState, text: &str, subs: &mut Subs) -> Reply {
        let c: Control = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                return control_error(&Value::Null, 2, format!("Invalid JSON: {e}"));
            }
        };
        let parsed = || {
            c.params
                .iter()
                .map(|p| {
                    p.as_str()
                        .ok_or_else(|| format!("stream {p}: expected a string"))
                        .and_then(Stream::parse)
                })
                .collect::<Result<Vec<_>, _>>()
        };
        match c.method.as_str() {
            "SUBSCRIBE" => match parsed().and_then(|s| self.add(state, s, subs)) {
                Ok(()) => result(&c.id, Value::Null),
                Err(e) => control_error(&c.id, 2, e),
            },
            "UNSUBSCRIBE" => match parsed() {
                Ok(s) => {
                    self.remove(state, &s, subs);
                    result(&c.id, Value::Null)
                }
                Err(e) => control_error(&c.id, 2, e),
            },
            "LIST_SUBSCRIPTIONS" => {
                let names: Vec<String> = self.streams.iter().map(Stream::name).collect();
                result(&c.id, json!(names))
            }
            "SET_PROPERTY" | "GET_PROPERTY" => self.property(&c),
            other => control_error(
                &c.id,
                2,
                format!(
                    "Unknown method {other:?}: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY"
                ),
            ),
        }
    }

    fn trade(
        &mut self,
        state: &HttpState,
        _epoch: Epoch,
        inst: &Instrument,
        t: &TickRecord,
        out: &mut Vec<String>,
    ) {
        let Some(w) = self.wants.get(&t.instrument_id).copied() else {
            return;
        };
        if w.trade {
            out.extend(self.render_trade(inst, t));
        }
        if w.agg_trade {
            out.extend(self.render_agg_trade(inst, t));
        }
        if w.mini_ticker {
            let now = now_ms();
            if now >= w.mini_sent_ms.saturating_add(1_000) {
                out.push(self.render_mini_ticker(state, inst));
                if let Some(w) = self.wants.get_mut(&t.instrument_id) {
                    w.mini_sent_ms = now;
                }
            }
        }
    }

    fn quote(
        &mut self,
        _state: &HttpState,
        _epoch: Epoch,
        inst: &Instrument,
        t: &TickRecord,
        out: &mut Vec<String>,
    ) {
        if self
            .wants
            .get(&t.instrument_id)
            .is_some_and(|w| w.book_ticker)
        {
            out.extend(self.render_book_ticker(inst, t));
        }
    }

    fn candle(
        &mut self,
        _state: &HttpState,
        _epoch: Epoch,
        _seq: Seq,
        inst: &Instrument,
        c: &CandleRecord,
        out: &mut Vec<String>,
    ) {
        let Some(interval) = Interval::from_secs(c.interval_s) else {
            return;
        };
        let (symbol, sc) = (&inst.symbol, inst.scales);
        let [o, h, l, cl] = c.ohlc();
        let (first_id, last_id) = trade_ids(c);
        let data = json!({
            "e": "kline",
            "E": now_ms(),
            "s": symbol.as_str(),
            "k": {
                "t": c.ts_open / 1_000_000,
                "T": (c.ts_open + interval.nanos()) / 1_000_000 - 1,
                "s": symbol.as_str(),
                "i": interval.name(),
                "f": first_id,
                "L": last_id,
                "o": price(o, sc),
                "c": price(cl, sc),
                "h": price(h, sc),
                "l": price(l, sc),
                "v": volume(c, sc),
                "n": c.trades,
                "x": c.is_closed(),
                "q": quote_volume(c, sc),
                "V": taker_buy_volume(c, sc),
                "Q": taker_buy_quote_volume(c, sc),
                "B": "0",
            }
        });
        out.push(self.wrap(&Stream::Kline(*symbol, interval), data));
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
        let raw = Binance::new(false).render_trade(&symbol, &t).unwrap();
        assert!(raw.starts_with(r#"{"E":"#) && raw.ends_with(tail), "{raw}");
        let combined = Binance::new(true).render_trade(&symbol, &t).unwrap();
        let wrapped_tail = format!("{tail},\"stream\":\"aapl@trade\"}}");
        assert!(
            combined.starts_with(r#"{"data":{"E":"#) && combined.ends_with(&wrapped_tail),
            "{combined}"
        );
    }
}
