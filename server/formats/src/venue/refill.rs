//! Refilling a hole in a venue's trades from its REST API (sans-IO: the request to make, and the
//! answer read into ticks). Where the venue has one, a feed that finds trade ids missing asks
//! for them before it goes on, and only what the venue no longer gives becomes a venue gap.
//!
//! | venue | request | answer (one trade) | id |
//! |---|---|---|---|
//! | Binance spot | `GET /api/v3/historicalTrades?symbol=S&fromId=F&limit=N` | `{"id","price","qty","time","isBuyerMaker",…}` | trade id (`@trade`'s `t`) |
//! | Binance USD-M | `GET /fapi/v1/aggTrades?symbol=S&fromId=F&limit=N` | `{"a","p","q","T","m",…}` | aggregate id (`@aggTrade`'s `a`) |
//! | Binance COIN-M | `GET /dapi/v1/aggTrades?symbol=S&fromId=F&limit=N` | as USD-M | as USD-M |
//! | Coinbase Exchange | `GET /products/P/trades?after=T+1&limit=N` (newest first, ids below `after`) | `{"trade_id","price","size","time","side"}`, `side` the maker's | `trade_id` |
//!
//! A request asks for at most [`MAX_PER_REQUEST`] trades; the answer is read into ticks the same
//! way the venue's WebSocket trades are (decimal text, taker side, venue time), kept only inside
//! the hole and put in id order. Source: Binance's `rest-api.md`, Coinbase Exchange's REST
//! reference, `../shared/research/feeds-and-scaleout.md` §A.2.

use serde::Deserialize;
use serde_json::value::RawValue;
use tickd_protocol::{InstrumentId, Side, Symbol, TickRecord, Trade, UnixNanos};

use super::{Venue, VenueError, VenueTick, millis, price, size, stamp};

/// The most trades one refill request asks for (the venues' page limit).
pub const MAX_PER_REQUEST: u64 = 1000;

impl Venue {
    /// Whether the venue's REST API can refill a hole in its trades.
    pub const fn has_refill(self) -> bool {
        !matches!(self, Self::Okx | Self::Kraken)
    }

    /// The path and query asking for trades of `symbol` (the venue's spelling) from id `from`
    /// to `to` inclusive, at most [`MAX_PER_REQUEST`] of them (for Coinbase, the newest of the
    /// range: page down from there); `None` for venues without a refill.
    pub fn refill_request(self, symbol: &str, from: u64, to: u64) -> Option<String> {
        let limit = to
            .saturating_sub(from)
            .saturating_add(1)
            .min(MAX_PER_REQUEST);
        let upper = symbol.to_ascii_uppercase();
        match self {
            Self::Binance => Some(format!(
                "/api/v3/historicalTrades?symbol={upper}&fromId={from}&limit={limit}"
            )),
            Self::BinanceFutures => Some(format!(
                "/fapi/v1/aggTrades?symbol={upper}&fromId={from}&limit={limit}"
            )),
            Self::BinanceDelivery => Some(format!(
                "/dapi/v1/aggTrades?symbol={upper}&fromId={from}&limit={limit}"
            )),
            Self::Coinbase => Some(format!(
                "/products/{upper}/trades?after={}&limit={limit}",
                to.saturating_add(1)
            )),
            Self::Okx | Self::Kraken => None,
        }
    }

    /// Reads a refill answer for `symbol` (the directory symbol) received at `ts_recv`,
    /// appending the trades with ids in `from..=to` to `out`, in id order.
    ///
    /// # Errors
    ///
    /// [`VenueError`] for an answer that is not the venue's JSON array of trades, or a trade
    /// with a missing or malformed field. Nothing is appended then.
    pub fn parse_refill(
        self,
        symbol: Symbol,
        body: &str,
        ts_recv: UnixNanos,
        (from, to): (u64, u64),
        out: &mut Vec<VenueTick>,
    ) -> Result<(), VenueError> {
        let bad = |e: String| VenueError::new(self, format!("refill answer: {e}"));
        let rows: Vec<&RawValue> =
            serde_json::from_str(body).map_err(|e| bad(format!("not a JSON array: {e}")))?;
        let before = out.len();
        for row in rows {
            let read = match self {
                Self::Binance => binance_trade(self, row.get()),
                Self::BinanceFutures | Self::BinanceDelivery => binance_agg(self, row.get()),
                Self::Coinbase => coinbase_trade(row.get()),
                Self::Okx | Self::Kraken => Err(bad("this venue has no refill".into())),
            };
            let (id, ts, side, price, size) = match read {
                Ok(t) => t,
                Err(e) => {
                    out.truncate(before);
                    return Err(bad(e.reason));
                }
            };
            if !(from..=to).contains(&id) {
                continue;
            }
            let trade = Trade {
                price,
                size,
                trade_id: id,
                venue: self.code(),
                conditions: 0,
            };
            let tick = TickRecord::new_trade(InstrumentId(0), ts, side, &trade);
            out.push(VenueTick {
                symbol,
                tick: stamp(tick, ts_recv, true),
            });
        }
        out[before..].sort_by_key(|t| t.tick.body[2]);
        Ok(())
    }
}

type Read = (
    u64,
    UnixNanos,
    Side,
    tickd_protocol::Price,
    tickd_protocol::Quantity,
);

fn binance_trade(venue: Venue, text: &str) -> Result<Read, VenueError> {
    #[derive(Deserialize)]
    struct Row<'a> {
        id: u64,
        price: &'a str,
        qty: &'a str,
        time: u64,
        #[serde(rename = "isBuyerMaker")]
        buyer_is_maker: bool,
    }
    let r: Row<'_> = serde_json::from_str(text)
        .map_err(|e| VenueError::new(venue, format!("trade {text:.80}: {e}")))?;
    Ok((
        r.id,
        millis(venue, "time", r.time)?,
        if r.buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        },
        price(venue, "price", r.price)?,
        size(venue, "qty", r.qty)?,
    ))
}

fn binance_agg(venue: Venue, text: &str) -> Result<Read, VenueError> {
    #[derive(Deserialize)]
    struct Row<'a> {
        a: u64,
        p: &'a str,
        q: &'a str,
        #[serde(rename = "T")]
        time: u64,
        m: bool,
    }
    let r: Row<'_> = serde_json::from_str(text)
        .map_err(|e| VenueError::new(venue, format!("aggregate trade {text:.80}: {e}")))?;
    Ok((
        r.a,
        millis(venue, "T", r.time)?,
        if r.m { Side::Sell } else { Side::Buy },
        price(venue, "p", r.p)?,
        size(venue, "q", r.q)?,
    ))
}

fn coinbase_trade(text: &str) -> Result<Read, VenueError> {
    const VENUE: Venue = Venue::Coinbase;
    #[derive(Deserialize)]
    struct Row<'a> {
        trade_id: u64,
        price: &'a str,
        size: &'a str,
        time: &'a str,
        side: &'a str,
    }
    let r: Row<'_> = serde_json::from_str(text)
        .map_err(|e| VenueError::new(VENUE, format!("trade {text:.80}: {e}")))?;
    let side = super::coinbase::taker_side(r.side)?;
    let ts = crate::time::parse_rfc3339(r.time)
        .map_err(|e| VenueError::new(VENUE, format!("time {:?}: {e}", r.time)))?;
    Ok((
        r.trade_id,
        ts,
        side,
        price(VENUE, "price", r.price)?,
        size(VENUE, "size", r.size)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_the_range() {
        assert_eq!(
            Venue::Binance.refill_request("btcusdt", 16, 17).unwrap(),
            "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=16&limit=2"
        );
        assert_eq!(
            Venue::BinanceFutures
                .refill_request("BTCUSDT", 1, 5000)
                .unwrap(),
            "/fapi/v1/aggTrades?symbol=BTCUSDT&fromId=1&limit=1000"
        );
        assert_eq!(
            Venue::Coinbase.refill_request("BTC-USD", 16, 17).unwrap(),
            "/products/BTC-USD/trades?after=18&limit=2"
        );
        assert_eq!(Venue::Kraken.refill_request("XBT/USD", 1, 2), None);
    }

    #[test]
    fn answers_become_trades_in_the_range_in_id_order() {
        let sym = Symbol::new("COINBASE:BTC-USD").unwrap();
        let body = r#"[{"time":"2026-12-05T10:00:01.5Z","trade_id":18,"price":"1.5","size":"2","side":"buy"},
            {"time":"2026-12-05T10:00:01.000001Z","trade_id":17,"price":"1.25","size":"0.5","side":"sell"},
            {"time":"2026-12-05T10:00:00Z","trade_id":16,"price":"1","size":"1","side":"buy"}]"#;
        let mut out = Vec::new();
        Venue::Coinbase
            .parse_refill(sym, body, UnixNanos(9), (16, 17), &mut out)
            .unwrap();
        let got: Vec<(u64, i64, Side, u64)> = out
            .iter()
            .map(|t| {
                let (trade, side) = match t.tick.view().unwrap() {
                    tickd_protocol::TickView::Trade(tr, s) => (tr, s),
                    other => panic!("{other:?}"),
                };
                (trade.trade_id, trade.price.raw(), side, t.tick.ts_event)
            })
            .collect();
        assert_eq!(
            got,
            [
                (16, 1_000_000_000, Side::Sell, 1_796_464_800_000_000_000),
                (17, 1_250_000_000, Side::Buy, 1_796_464_801_000_001_000),
            ]
        );
        assert!(out.iter().all(|t| t.tick.ts_recv == 9));
        let sym = Symbol::new("BINANCEF:BTCUSDT").unwrap();
        let body = r#"[{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true}]"#;
        out.clear();
        Venue::BinanceFutures
            .parse_refill(sym, body, UnixNanos(9), (26129, 26129), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].tick.side, Side::Sell as u8);
        assert_eq!(out[0].tick.ts_event, 1_498_793_709_153_000_000);
        let bad =
            Venue::Binance.parse_refill(sym, r#"{"code":-1121}"#, UnixNanos(9), (1, 2), &mut out);
        assert!(bad.unwrap_err().to_string().contains("not a JSON array"));
        let bad = Venue::Binance.parse_refill(
            sym,
            r#"[{"id":1,"price":"1e3","qty":"1","time":1,"isBuyerMaker":true}]"#,
            UnixNanos(9),
            (1, 2),
            &mut out,
        );
        assert!(bad.is_err());
        assert_eq!(out.len(), 1, "a bad answer appends nothing");
    }
}
