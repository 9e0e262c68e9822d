//! Binance spot, USD-M and COIN-M futures market streams: `trade`, `aggTrade` and
//! `bookTicker`, raw (`/ws/<stream>`) or in the combined envelope (`/stream?streams=…`:
//! `{"stream":…,"data":…}`). Depth and kline events are [`Frame::Other`].
//!
//! | field | → tickd |
//! |---|---|
//! | `s` | symbol, `BINANCE:`/`BINANCEF:`/`BINANCED:` + `s` |
//! | `t` (`trade`), `a` (`aggTrade`) | `trade_id` (per-symbol, sequential) |
//! | `p`, `q` | price, size (decimal text) |
//! | `T` | `ts_event` (ms) |
//! | `m` (buyer is maker) | side: `true` → sell (the seller took), `false` → buy |
//! | `b`, `B`, `a`, `A` (`bookTicker`) | bid price, bid size, ask price, ask size |
//! | `T` (futures `bookTicker`) | `ts_event`; spot `bookTicker` has no time: [`NO_EVENT_TIME`](super::NO_EVENT_TIME) |
//!
//! Source: Binance's public API documentation (`web-socket-streams.md`), and
//! `../shared/research/feeds-and-scaleout.md` §A.2.

use serde::Deserialize;
use serde_json::value::RawValue;
use tickd_protocol::{InstrumentId, Quote, Side, TickRecord, Trade, UnixNanos};

use super::{Frame, Venue, VenueError, VenueTick, millis, price, size, stamp};

/// A field whose type depends on the event (`a` is an id in `aggTrade`, a price in
/// `bookTicker`; `b` a price there and an array of levels in `depthUpdate`), kept raw and read
/// as the event needs it.
type Field<'a> = &'a RawValue;

/// A raw field as text: a JSON string without escapes (Binance's decimals never have any).
fn text_of<'a>(field: Option<Field<'a>>) -> Option<&'a str> {
    let raw = field?.get();
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then_some(inner)
}

/// A raw field as an integer.
fn integer(field: Option<Field<'_>>) -> Option<u64> {
    field?.get().parse().ok()
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    e: Option<&'a str>,
    #[serde(rename = "T")]
    trade_time: Option<u64>,
    #[serde(borrow)]
    s: Option<&'a str>,
    t: Option<u64>,
    #[serde(borrow)]
    p: Option<&'a str>,
    #[serde(borrow)]
    q: Option<&'a str>,
    m: Option<bool>,
    u: Option<u64>,
    #[serde(borrow)]
    a: Option<Field<'a>>,
    #[serde(borrow)]
    b: Option<Field<'a>>,
    #[serde(rename = "A", borrow)]
    ask_size: Option<Field<'a>>,
    #[serde(rename = "B", borrow)]
    bid_size: Option<Field<'a>>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: Option<Payload<'a>>,
    /// `{"result":null,"id":1}`: the answer to a subscribe request.
    id: Option<serde::de::IgnoredAny>,
    /// `{"code":…,"msg":…}`: an error.
    #[serde(borrow)]
    msg: Option<&'a str>,
}

/// See the module docs.
pub(super) fn parse(
    venue: Venue,
    text: &str,
    ts_recv: UnixNanos,
    out: &mut Vec<VenueTick>,
) -> Result<Frame, VenueError> {
    let bad = |e: serde_json::Error| VenueError::new(venue, format!("not a Binance event: {e}"));
    let envelope: Envelope<'_> = serde_json::from_str(text).map_err(bad)?;
    if let Some(msg) = envelope.msg {
        return Ok(Frame::Refused(msg.to_owned()));
    }
    let payload = match envelope.data {
        Some(p) => p,
        None if envelope.id.is_some() => return Ok(Frame::Other),
        None => serde_json::from_str(text).map_err(bad)?,
    };
    let missing = |field: &str| VenueError::new(venue, format!("{field} missing"));
    match payload.e {
        Some("trade" | "aggTrade") => {
            let symbol = venue.symbol(payload.s.ok_or_else(|| missing("s"))?)?;
            let trade_id = if payload.e == Some("trade") {
                payload.t.ok_or_else(|| missing("t"))?
            } else {
                integer(payload.a).ok_or_else(|| missing("a (aggregate trade id)"))?
            };
            let trade = Trade {
                price: price(venue, "p", payload.p.ok_or_else(|| missing("p"))?)?,
                size: size(venue, "q", payload.q.ok_or_else(|| missing("q"))?)?,
                trade_id,
                venue: venue.code(),
                conditions: 0,
            };
            let side = match payload.m.ok_or_else(|| missing("m"))? {
                true => Side::Sell,
                false => Side::Buy,
            };
            let ts = millis(venue, "T", payload.trade_time.ok_or_else(|| missing("T"))?)?;
            let tick = TickRecord::new_trade(InstrumentId(0), ts, side, &trade);
            out.push(VenueTick {
                symbol,
                tick: stamp(tick, ts_recv, true),
            });
            Ok(Frame::Data)
        }
        // Spot bookTicker has no `e`; futures' says so.
        None | Some("bookTicker") if payload.u.is_some() && payload.s.is_some() => {
            let symbol = venue.symbol(payload.s.ok_or_else(|| missing("s"))?)?;
            let b = text_of(payload.b).ok_or_else(|| missing("b"))?;
            let bid_size = text_of(payload.bid_size).ok_or_else(|| missing("B"))?;
            let a = text_of(payload.a).ok_or_else(|| missing("a"))?;
            let ask_size = text_of(payload.ask_size).ok_or_else(|| missing("A"))?;
            let quote = Quote {
                bid_px: price(venue, "b", b)?,
                bid_sz: size(venue, "B", bid_size)?,
                ask_px: price(venue, "a", a)?,
                ask_sz: size(venue, "A", ask_size)?,
            };
            let (ts, has_time) = match payload.trade_time {
                Some(t) => (millis(venue, "T", t)?, true),
                None => (ts_recv, false),
            };
            let tick = TickRecord::new_quote(InstrumentId(0), ts, &quote);
            out.push(VenueTick {
                symbol,
                tick: stamp(tick, ts_recv, has_time),
            });
            Ok(Frame::Data)
        }
        // Sent before the venue closes the connection (maintenance): time to open another.
        Some("serverShutdown") => Ok(Frame::Shutdown),
        _ => Ok(Frame::Other),
    }
}
