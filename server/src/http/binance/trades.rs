//! Binance's trade lists: `trades` (the most recent) and `aggTrades` (by id or time), read from
//! the tick ring ([`Query::trades`](crate::query::Query::trades)): what the ring still holds,
//! looking at most [`MAX_TRADE_SCAN`](crate::query::MAX_TRADE_SCAN) records per request.
//!
//! tickd keeps trades, not the orders behind them, so each trade is its own aggregate:
//! `aggTrades`' `a` is the trade's seq (so `fromId` pages by seq), and `f` and `l` are both its
//! venue trade id. `trades`' `id` is the venue trade id where the feed gives one, else the seq.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tickd_protocol::{InstrumentId, Scales, Seq, Side, TickRecord, Trade};
use utoipa::ToSchema;

use super::super::HttpState;
use super::{
    BinanceError, Params, invalid_symbol, limit_of, ms_to_nanos, notional, number, price, qty,
    symbol_of,
};
use crate::query::TradesFrom;

/// One trade, as `GET /api/v3/trades` lists it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentTrade {
    /// The venue's trade id, or tickd's seq where the feed gives none.
    id: u64,
    /// Price, decimal text at the instrument's price scale.
    price: String,
    /// Size, decimal text at the instrument's size scale.
    qty: String,
    /// Price × size, at the price scale (truncated toward zero).
    quote_qty: String,
    /// Event time, ms since the Unix epoch.
    time: u64,
    /// The seller was the aggressor.
    is_buyer_maker: bool,
    /// Always true.
    is_best_match: bool,
}

/// One trade as an aggregate, as `GET /api/v3/aggTrades` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggTrade {
    /// Aggregate id: the trade's seq.
    a: u64,
    /// Price.
    p: String,
    /// Size.
    q: String,
    /// First venue trade id (the trade's).
    f: u64,
    /// Last venue trade id (the trade's).
    l: u64,
    /// Event time, ms since the Unix epoch.
    #[serde(rename = "T")]
    time: u64,
    /// The seller was the aggressor.
    m: bool,
    /// Always true.
    #[serde(rename = "M")]
    best_match: bool,
}

/// The instrument a request names (`symbol`, required).
fn instrument(s: &HttpState, q: &HashMap<String, String>) -> Result<InstrumentId, BinanceError> {
    let sym = symbol_of(q)?.ok_or_else(|| BinanceError {
        code: -1102,
        msg: "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.".into(),
    })?;
    let ids = s
        .services
        .query
        .resolve(0, std::slice::from_ref(&sym))
        .map_err(|_| invalid_symbol())?;
    ids.first().copied().ok_or_else(invalid_symbol)
}

fn quote_qty(tr: &Trade, sc: Scales) -> String {
    notional(i128::from(tr.price.raw()) * i128::from(tr.size.raw()), sc)
}

fn buyer_is_maker(t: &TickRecord) -> bool {
    t.side == Side::Sell as u8
}

/// The most recent trades still in the tick ring, oldest first.
#[utoipa::path(get, path = "/api/v3/trades", tag = "binance",
    params(
        ("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol (any case)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Default 500"),
    ),
    responses(
        (status = 200, description = "Trades, oldest first", body = Vec<RecentTrade>),
        (status = 400, description = "A bad parameter or invalid symbol", body = BinanceError),
    ))]
pub(super) async fn trades(
    State(s): State<HttpState>,
    axum::extract::Query(q): Params,
) -> Result<Json<Vec<RecentTrade>>, BinanceError> {
    let id = instrument(&s, &q)?;
    let limit = limit_of(&q)? as usize;
    let sc = s.services.query.scales(id);
    let list = s.services.query.trades(id, TradesFrom::Newest, None, limit);
    Ok(Json(
        list.iter()
            .filter_map(|t| Some((t, t.trade()?)))
            .map(|(t, tr)| RecentTrade {
                id: if tr.trade_id != 0 { tr.trade_id } else { t.seq },
                price: price(tr.price, sc),
                qty: qty(tr.size, sc),
                quote_qty: quote_qty(&tr, sc),
                time: t.ts_event / 1_000_000,
                is_buyer_maker: buyer_is_maker(t),
                is_best_match: true,
            })
            .collect(),
    ))
}

/// Trades as aggregates (one trade each), from an aggregate id (a seq), from a time, or the
/// most recent.
#[utoipa::path(get, path = "/api/v3/aggTrades", tag = "binance",
    params(
        ("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol (any case)"),
        ("fromId" = Option<u64>, Query, description = "The first aggregate id (a seq) to return"),
        ("startTime" = Option<u64>, Query, description = "ms since the Unix epoch (inclusive)"),
        ("endTime" = Option<u64>, Query, description = "ms since the Unix epoch (inclusive)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Default 500"),
    ),
    responses(
        (status = 200, description = "Aggregate trades, oldest first", body = Vec<AggTrade>),
        (status = 400, description = "A bad parameter or invalid symbol", body = BinanceError),
    ))]
pub(super) async fn agg_trades(
    State(s): State<HttpState>,
    axum::extract::Query(q): Params,
) -> Result<Json<Vec<AggTrade>>, BinanceError> {
    let id = instrument(&s, &q)?;
    let limit = limit_of(&q)? as usize;
    let from_id = number(&q, "fromId")?;
    let start = number(&q, "startTime")?;
    let end = number(&q, "endTime")?;
    if from_id.is_some() && (start.is_some() || end.is_some()) {
        return Err(BinanceError {
            code: -1128,
            msg: "Combination of optional parameters invalid: fromId with startTime or endTime."
                .into(),
        });
    }
    let from = match (from_id, start) {
        (Some(seq), _) => TradesFrom::Seq(Seq(seq)),
        (None, Some(ms)) => TradesFrom::Time(ms_to_nanos(ms)),
        (None, None) if end.is_some() => {
            return Err(BinanceError {
                code: -1128,
                msg: "Combination of optional parameters invalid: endTime without startTime."
                    .into(),
            });
        }
        (None, None) => TradesFrom::Newest,
    };
    // endTime is inclusive, in ms.
    let to = end.map(|ms| ms_to_nanos(ms.saturating_add(1)));
    let sc = s.services.query.scales(id);
    let list = s.services.query.trades(id, from, to, limit);
    Ok(Json(
        list.iter()
            .filter_map(|t| Some((t, t.trade()?)))
            .map(|(t, tr)| AggTrade {
                a: t.seq,
                p: price(tr.price, sc),
                q: qty(tr.size, sc),
                f: tr.trade_id,
                l: tr.trade_id,
                time: t.ts_event / 1_000_000,
                m: buyer_is_maker(t),
                best_match: true,
            })
            .collect(),
    ))
}
