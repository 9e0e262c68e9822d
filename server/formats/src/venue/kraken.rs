//! Kraken WebSocket API v1: array-form `trade`, `spread` and `ticker` messages
//! (`[channelID, payload, channelName, pair]`); object-form events (`heartbeat`,
//! `systemStatus`, `subscriptionStatus`, with `status: "error"` → [`Frame::Refused`]). Books
//! are [`Frame::Other`].
//!
//! | field | → tickd |
//! |---|---|
//! | `pair` | symbol, `KRAKEN:` + `pair` (`XBT/USD`) |
//! | trade `[price, volume, time, side, orderType, misc]` | price, size (decimal text), `ts_event` (decimal seconds), the taker's side (`b`/`s`); no trade id in v1 (0) |
//! | spread `[bid, ask, timestamp, bidVolume, askVolume]` | the quote, `ts_event` |
//! | ticker `{"a": [price, wholeLotVolume, lotVolume], "b": […]}` | the quote; no time: [`NO_EVENT_TIME`](super::NO_EVENT_TIME) |
//!
//! Source: Kraken WebSocket API v1 documentation (public messages), and
//! `../shared/research/feeds-and-scaleout.md` §A.2.

use serde::Deserialize;
use serde_json::value::RawValue;
use tickd_protocol::{InstrumentId, Quote, Side, TickRecord, Trade, UnixNanos};

use super::{Frame, Venue, VenueError, VenueTick, decimal_seconds, price, size, stamp};

const VENUE: Venue = Venue::Kraken;

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    event: &'a str,
    #[serde(borrow)]
    status: Option<&'a str>,
    #[serde(rename = "errorMessage", borrow)]
    error_message: Option<&'a str>,
}

/// `ticker`'s `a` and `b`: `[price, wholeLotVolume, lotVolume]`, the whole-lot volume an
/// integer.
#[derive(Deserialize)]
struct Ticker<'a> {
    #[serde(borrow)]
    a: Vec<&'a RawValue>,
    #[serde(borrow)]
    b: Vec<&'a RawValue>,
}

/// A raw JSON string's text (Kraken's decimals have no escapes).
fn text_of<'a>(raw: &'a RawValue, field: &str) -> Result<&'a str, VenueError> {
    raw.get()
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| bad(format!("{field} {} is not a decimal string", raw.get())))
}

fn bad(what: impl Into<String>) -> VenueError {
    VenueError::new(VENUE, what)
}

/// See the module docs.
pub(super) fn parse(
    text: &str,
    ts_recv: UnixNanos,
    out: &mut Vec<VenueTick>,
) -> Result<Frame, VenueError> {
    if text.trim_start().starts_with('{') {
        let ev: Event<'_> =
            serde_json::from_str(text).map_err(|e| bad(format!("not a Kraken event: {e}")))?;
        return Ok(match (ev.event, ev.status) {
            (_, Some("error")) => Frame::Refused(ev.error_message.unwrap_or("error").to_owned()),
            _ => Frame::Other,
        });
    }
    // [channelID, payload, channelName, pair] (a book update may carry two payloads).
    let parts: Vec<&RawValue> =
        serde_json::from_str(text).map_err(|e| bad(format!("not a Kraken message: {e}")))?;
    if parts.len() < 4 {
        return Err(bad(format!("{} elements, expected 4", parts.len())));
    }
    let name: &str = serde_json::from_str(parts[parts.len() - 2].get())
        .map_err(|_| bad("channel name is not a string"))?;
    let pair: &str = serde_json::from_str(parts[parts.len() - 1].get())
        .map_err(|_| bad("pair is not a string"))?;
    let payload = parts[1].get();
    match name {
        "trade" => {
            let symbol = VENUE.symbol(pair)?;
            let trades: Vec<Vec<&str>> =
                serde_json::from_str(payload).map_err(|e| bad(format!("trade payload: {e}")))?;
            for t in &trades {
                if t.len() < 4 {
                    return Err(bad(format!("trade of {} fields, expected 6", t.len())));
                }
                let side = match t[3] {
                    "b" => Side::Buy,
                    "s" => Side::Sell,
                    other => return Err(bad(format!("side {other:?} is not b or s"))),
                };
                let trade = Trade {
                    price: price(VENUE, "price", t[0])?,
                    size: size(VENUE, "volume", t[1])?,
                    trade_id: 0,
                    venue: VENUE.code(),
                    conditions: 0,
                };
                let ts = decimal_seconds(VENUE, "time", t[2])?;
                let tick = TickRecord::new_trade(InstrumentId(0), ts, side, &trade);
                out.push(VenueTick {
                    symbol,
                    tick: stamp(tick, ts_recv, true),
                });
            }
            Ok(Frame::Data)
        }
        "spread" => {
            let s: Vec<&str> =
                serde_json::from_str(payload).map_err(|e| bad(format!("spread payload: {e}")))?;
            if s.len() < 5 {
                return Err(bad(format!("spread of {} fields, expected 5", s.len())));
            }
            let quote = Quote {
                bid_px: price(VENUE, "bid", s[0])?,
                ask_px: price(VENUE, "ask", s[1])?,
                bid_sz: size(VENUE, "bidVolume", s[3])?,
                ask_sz: size(VENUE, "askVolume", s[4])?,
            };
            let ts = decimal_seconds(VENUE, "timestamp", s[2])?;
            let tick = TickRecord::new_quote(InstrumentId(0), ts, &quote);
            out.push(VenueTick {
                symbol: VENUE.symbol(pair)?,
                tick: stamp(tick, ts_recv, true),
            });
            Ok(Frame::Data)
        }
        "ticker" => {
            let t: Ticker<'_> =
                serde_json::from_str(payload).map_err(|e| bad(format!("ticker payload: {e}")))?;
            if t.a.len() < 3 || t.b.len() < 3 {
                return Err(bad("ticker a/b of fewer than 3 fields"));
            }
            let quote = Quote {
                bid_px: price(VENUE, "b[0]", text_of(t.b[0], "b[0]")?)?,
                bid_sz: size(VENUE, "b[2]", text_of(t.b[2], "b[2]")?)?,
                ask_px: price(VENUE, "a[0]", text_of(t.a[0], "a[0]")?)?,
                ask_sz: size(VENUE, "a[2]", text_of(t.a[2], "a[2]")?)?,
            };
            let tick = TickRecord::new_quote(InstrumentId(0), ts_recv, &quote);
            out.push(VenueTick {
                symbol: VENUE.symbol(pair)?,
                tick: stamp(tick, ts_recv, false),
            });
            Ok(Frame::Data)
        }
        _ => Ok(Frame::Other),
    }
}
