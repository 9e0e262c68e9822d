//! OKX v5 public channels: `trades`, `tickers` and `bbo-tbt` (top of book); `event` messages
//! (`subscribe` acks, `error`). Other channels are [`Frame::Other`].
//!
//! | field | → tickd |
//! |---|---|
//! | `instId` | symbol, `OKX:` + `instId` |
//! | `tradeId` | `trade_id` (decimal text) |
//! | `px`, `sz` | price, size (decimal text) |
//! | `side` | the taker's side |
//! | `ts` | `ts_event` (ms, decimal text) |
//! | `bidPx`, `bidSz`, `askPx`, `askSz` (`tickers`); `bids[0]`, `asks[0]` (`bbo-tbt`) | the quote |
//!
//! Source: OKX API v5 documentation (public channels), and
//! `../shared/research/feeds-and-scaleout.md` §A.2.

use serde::Deserialize;
use tickd_protocol::{InstrumentId, Quote, Side, TickRecord, Trade, UnixNanos};

use super::{Frame, Venue, VenueError, VenueTick, millis, price, size, stamp};

const VENUE: Venue = Venue::Okx;

#[derive(Deserialize)]
struct Arg<'a> {
    #[serde(borrow)]
    channel: &'a str,
    #[serde(rename = "instId", borrow)]
    inst_id: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    #[serde(borrow)]
    inst_id: Option<&'a str>,
    #[serde(borrow)]
    trade_id: Option<&'a str>,
    #[serde(borrow)]
    px: Option<&'a str>,
    #[serde(borrow)]
    sz: Option<&'a str>,
    #[serde(borrow)]
    side: Option<&'a str>,
    #[serde(borrow)]
    ts: Option<&'a str>,
    #[serde(borrow)]
    bid_px: Option<&'a str>,
    #[serde(borrow)]
    bid_sz: Option<&'a str>,
    #[serde(borrow)]
    ask_px: Option<&'a str>,
    #[serde(borrow)]
    ask_sz: Option<&'a str>,
    #[serde(borrow, default)]
    bids: Vec<Vec<&'a str>>,
    #[serde(borrow, default)]
    asks: Vec<Vec<&'a str>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    event: Option<&'a str>,
    #[serde(borrow)]
    msg: Option<&'a str>,
    #[serde(borrow)]
    arg: Option<Arg<'a>>,
    #[serde(borrow, default)]
    data: Vec<Data<'a>>,
}

fn missing(field: &str) -> VenueError {
    VenueError::new(VENUE, format!("{field} missing"))
}

fn ts(d: &Data<'_>) -> Result<UnixNanos, VenueError> {
    let text = d.ts.ok_or_else(|| missing("ts"))?;
    let ms = text
        .parse()
        .map_err(|_| VenueError::new(VENUE, format!("ts {text:?} is not ms")))?;
    millis(VENUE, "ts", ms)
}

/// See the module docs.
pub(super) fn parse(
    text: &str,
    ts_recv: UnixNanos,
    out: &mut Vec<VenueTick>,
) -> Result<Frame, VenueError> {
    // OKX answers the keep-alive "ping" with a bare "pong".
    if text == "pong" {
        return Ok(Frame::Other);
    }
    let msg: Message<'_> = serde_json::from_str(text)
        .map_err(|e| VenueError::new(VENUE, format!("not an OKX message: {e}")))?;
    match msg.event {
        Some("error") => return Ok(Frame::Refused(msg.msg.unwrap_or("error").to_owned())),
        // `{"event":"notice","code":"64008",…}`: the connection closes soon for an upgrade.
        Some("notice") => return Ok(Frame::Shutdown),
        Some(_) => return Ok(Frame::Other),
        None => {}
    }
    let Some(arg) = msg.arg else {
        return Ok(Frame::Other);
    };
    for d in &msg.data {
        let inst = d.inst_id.or(arg.inst_id).ok_or_else(|| missing("instId"))?;
        let symbol = VENUE.symbol(inst)?;
        let tick = match arg.channel {
            "trades" => {
                let side = match d.side.ok_or_else(|| missing("side"))? {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    other => {
                        return Err(VenueError::new(
                            VENUE,
                            format!("side {other:?} is not buy or sell"),
                        ));
                    }
                };
                let id = d.trade_id.ok_or_else(|| missing("tradeId"))?;
                let trade = Trade {
                    price: price(VENUE, "px", d.px.ok_or_else(|| missing("px"))?)?,
                    size: size(VENUE, "sz", d.sz.ok_or_else(|| missing("sz"))?)?,
                    trade_id: id.parse().map_err(|_| {
                        VenueError::new(VENUE, format!("tradeId {id:?} is not a number"))
                    })?,
                    venue: VENUE.code(),
                    conditions: 0,
                };
                TickRecord::new_trade(InstrumentId(0), ts(d)?, side, &trade)
            }
            "tickers" => {
                let quote = Quote {
                    bid_px: price(VENUE, "bidPx", d.bid_px.ok_or_else(|| missing("bidPx"))?)?,
                    bid_sz: size(VENUE, "bidSz", d.bid_sz.ok_or_else(|| missing("bidSz"))?)?,
                    ask_px: price(VENUE, "askPx", d.ask_px.ok_or_else(|| missing("askPx"))?)?,
                    ask_sz: size(VENUE, "askSz", d.ask_sz.ok_or_else(|| missing("askSz"))?)?,
                };
                TickRecord::new_quote(InstrumentId(0), ts(d)?, &quote)
            }
            "bbo-tbt" => {
                fn level<'a>(
                    side: &[Vec<&'a str>],
                    name: &str,
                ) -> Result<(&'a str, &'a str), VenueError> {
                    side.first()
                        .filter(|l| l.len() >= 2)
                        .map(|l| (l[0], l[1]))
                        .ok_or_else(|| missing(name))
                }
                let (bp, bs) = level(&d.bids, "bids[0]")?;
                let (ap, asz) = level(&d.asks, "asks[0]")?;
                let quote = Quote {
                    bid_px: price(VENUE, "bids[0] price", bp)?,
                    bid_sz: size(VENUE, "bids[0] size", bs)?,
                    ask_px: price(VENUE, "asks[0] price", ap)?,
                    ask_sz: size(VENUE, "asks[0] size", asz)?,
                };
                TickRecord::new_quote(InstrumentId(0), ts(d)?, &quote)
            }
            _ => return Ok(Frame::Other),
        };
        out.push(VenueTick {
            symbol,
            tick: stamp(tick, ts_recv, true),
        });
    }
    Ok(Frame::Data)
}
