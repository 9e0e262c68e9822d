//! Coinbase Exchange feed: `match` and `last_match` (trades), `ticker` (top of book with the
//! last trade), `heartbeat` (the last trade id per product), `error`. Book channels
//! (`l2update`, `snapshot`) and `subscriptions` are [`Frame::Other`].
//!
//! | field | → tickd |
//! |---|---|
//! | `product_id` | symbol, `COINBASE:` + `product_id` |
//! | `trade_id` | `trade_id` (per product, sequential) |
//! | `price`, `size` | price, size (decimal text) |
//! | `side` | the **maker's** order side: inverted, so the record has the taker's |
//! | `time` | `ts_event` (RFC 3339, µs) |
//! | `best_bid`, `best_ask` (+ `best_bid_size`, `best_ask_size` when sent) | the quote of a `ticker` |
//!
//! Source: Coinbase Exchange WebSocket documentation (channels `matches`, `ticker`,
//! `heartbeat`), and `../shared/research/feeds-and-scaleout.md` §A.2.

use serde::Deserialize;
use tickd_protocol::{InstrumentId, Quantity, Quote, Side, TickRecord, Trade, UnixNanos};

use super::{Frame, Venue, VenueError, VenueTick, price, size, stamp};
use crate::time::parse_rfc3339;

const VENUE: Venue = Venue::Coinbase;

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    product_id: Option<&'a str>,
    trade_id: Option<u64>,
    last_trade_id: Option<u64>,
    #[serde(borrow)]
    price: Option<&'a str>,
    #[serde(borrow)]
    size: Option<&'a str>,
    #[serde(borrow)]
    side: Option<&'a str>,
    #[serde(borrow)]
    time: Option<&'a str>,
    #[serde(borrow)]
    best_bid: Option<&'a str>,
    #[serde(borrow)]
    best_ask: Option<&'a str>,
    #[serde(borrow)]
    best_bid_size: Option<&'a str>,
    #[serde(borrow)]
    best_ask_size: Option<&'a str>,
    #[serde(borrow)]
    message: Option<&'a str>,
    #[serde(borrow)]
    reason: Option<&'a str>,
}

fn missing(field: &str) -> VenueError {
    VenueError::new(VENUE, format!("{field} missing"))
}

/// See the module docs.
pub(super) fn parse(
    text: &str,
    ts_recv: UnixNanos,
    out: &mut Vec<VenueTick>,
) -> Result<Frame, VenueError> {
    let msg: Message<'_> = serde_json::from_str(text)
        .map_err(|e| VenueError::new(VENUE, format!("not a Coinbase message: {e}")))?;
    let time = |m: &Message<'_>| -> Result<UnixNanos, VenueError> {
        let t = m.time.ok_or_else(|| missing("time"))?;
        parse_rfc3339(t).map_err(|e| VenueError::new(VENUE, format!("time {t:?}: {e}")))
    };
    match msg.kind {
        "match" | "last_match" => {
            let symbol = VENUE.symbol(msg.product_id.ok_or_else(|| missing("product_id"))?)?;
            let side = taker_side(msg.side.ok_or_else(|| missing("side"))?)?;
            let trade = Trade {
                price: price(VENUE, "price", msg.price.ok_or_else(|| missing("price"))?)?,
                size: size(VENUE, "size", msg.size.ok_or_else(|| missing("size"))?)?,
                trade_id: msg.trade_id.ok_or_else(|| missing("trade_id"))?,
                venue: VENUE.code(),
                conditions: 0,
            };
            let tick = TickRecord::new_trade(InstrumentId(0), time(&msg)?, side, &trade);
            out.push(VenueTick {
                symbol,
                tick: stamp(tick, ts_recv, true),
            });
            Ok(Frame::Data)
        }
        "ticker" => {
            let symbol = VENUE.symbol(msg.product_id.ok_or_else(|| missing("product_id"))?)?;
            let opt_size = |f: Option<&str>, name: &str| {
                f.map_or(Ok(Quantity::ZERO), |t| size(VENUE, name, t))
            };
            let quote = Quote {
                bid_px: price(
                    VENUE,
                    "best_bid",
                    msg.best_bid.ok_or_else(|| missing("best_bid"))?,
                )?,
                bid_sz: opt_size(msg.best_bid_size, "best_bid_size")?,
                ask_px: price(
                    VENUE,
                    "best_ask",
                    msg.best_ask.ok_or_else(|| missing("best_ask"))?,
                )?,
                ask_sz: opt_size(msg.best_ask_size, "best_ask_size")?,
            };
            let tick = TickRecord::new_quote(InstrumentId(0), time(&msg)?, &quote);
            out.push(VenueTick {
                symbol,
                tick: stamp(tick, ts_recv, true),
            });
            Ok(Frame::Data)
        }
        "heartbeat" => match (msg.product_id, msg.last_trade_id) {
            (Some(p), Some(id)) => Ok(Frame::Heartbeat {
                symbol: VENUE.symbol(p)?,
                last_trade_id: id,
            }),
            _ => Ok(Frame::Other),
        },
        "error" => Ok(Frame::Refused(
            [msg.message, msg.reason]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
        )),
        _ => Ok(Frame::Other),
    }
}

/// The taker's side of a trade whose maker's order side Coinbase reports (`side` of `match`
/// and of the REST trades): the taker did the opposite.
///
/// # Errors
///
/// A side that is neither `buy` nor `sell`.
pub(super) fn taker_side(maker: &str) -> Result<Side, VenueError> {
    match maker {
        "buy" => Ok(Side::Sell),
        "sell" => Ok(Side::Buy),
        other => Err(VenueError::new(
            VENUE,
            format!("side {other:?} is not buy or sell"),
        )),
    }
}
