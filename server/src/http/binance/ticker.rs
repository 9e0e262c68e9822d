//! Binance's tickers: `ticker/24hr` (a rolling 24 h window), `ticker/bookTicker` (top of book)
//! and `avgPrice` (the last 5 minutes' volume-weighted price). Windows are made of the
//! instrument's one-minute candles, so they move a minute at a time (Binance's move with each
//! trade); prices and quantities are exact decimal text at the instrument's scales.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tickd_protocol::{CandleRecord, Instrument, Interval, Price, Scales, UnixNanos};
use utoipa::ToSchema;

use super::super::HttpState;
use super::super::seed::{latest_of, query_candles};
use super::{BinanceError, Params, dec, instruments_of, now_ms, price, qty};

/// One answer, or one per symbol (`symbols`, or a page of every instrument).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// With `symbol`.
    One(T),
    /// With `symbols`, or without either.
    Many(Vec<T>),
}

/// The answers for the instruments a request names (`symbol`, `symbols`) or a page of all.
fn each<T: Serialize>(
    s: &HttpState,
    q: &std::collections::HashMap<String, String>,
    one: impl Fn(&Instrument) -> T,
) -> Result<Response, BinanceError> {
    let single = q.contains_key("symbol");
    let (list, next) = instruments_of(s, q)?;
    let mut answers: Vec<T> = list.iter().map(one).collect();
    if single && let Some(a) = answers.pop() {
        return Ok(Json(OneOrMany::One(a)).into_response());
    }
    Ok(super::super::params::with_next(
        Json(OneOrMany::Many(answers)),
        next,
    ))
}

/// Sums of a window of candles: volume and notional (each at the instrument's scales), trades,
/// first open, highest high, lowest low, last close.
#[derive(Default)]
struct Window {
    volume: i128,
    notional: i128,
    trades: u64,
    first_id: i64,
    last_id: i64,
    open: Option<Price>,
    high: Option<Price>,
    low: Option<Price>,
    close: Option<Price>,
}

impl Window {
    fn of(candles: &[CandleRecord]) -> Self {
        let mut w = Self {
            first_id: -1,
            last_id: -1,
            ..Self::default()
        };
        for c in candles.iter().filter(|c| c.trades > 0) {
            let (first, last) = super::trade_ids(c);
            if w.trades == 0 {
                w.first_id = first;
            }
            w.last_id = last;
            let [o, h, l, cl] = c.ohlc();
            w.volume += i128::try_from(c.volume_total()).unwrap_or(i128::MAX);
            w.notional += c.notional();
            w.trades += c.trades;
            w.open.get_or_insert(o);
            w.high = Some(w.high.map_or(h, |x| x.max(h)));
            w.low = Some(w.low.map_or(l, |x| x.min(l)));
            w.close = Some(cl);
        }
        w
    }

    /// Notional over volume, at the price scale, truncated toward zero.
    fn vwap(&self) -> Option<Price> {
        (self.volume != 0)
            .then(|| i64::try_from(self.notional / self.volume).ok())
            .flatten()
            .map(Price::from_raw)
    }
}

/// The one-minute candles of `inst` from `from` on.
fn minutes(s: &HttpState, inst: &Instrument, from: UnixNanos, limit: u32) -> Vec<CandleRecord> {
    query_candles(s, inst.symbol, Interval::M1, Some(from), None, limit)
        .map(|(c, _, _)| c)
        .unwrap_or_default()
}

/// `GET /api/v3/ticker/24hr` for one symbol.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ticker24h {
    symbol: String,
    /// Last price less the window's open.
    price_change: String,
    /// That change in percent of the open, 3 decimals.
    price_change_percent: String,
    /// Notional over volume in the window.
    weighted_avg_price: String,
    /// The close of the minute before the window (or the window's open).
    prev_close_price: String,
    pub(crate) last_price: String,
    last_qty: String,
    bid_price: String,
    bid_qty: String,
    ask_price: String,
    ask_qty: String,
    pub(crate) open_price: String,
    pub(crate) high_price: String,
    pub(crate) low_price: String,
    /// Base volume in the window.
    pub(crate) volume: String,
    /// Quote volume (notional) in the window.
    pub(crate) quote_volume: String,
    /// The window's start, ms since the Unix epoch.
    open_time: u64,
    /// Now, ms since the Unix epoch.
    close_time: u64,
    /// Venue trade id of the window's first trade (-1 with no trades).
    first_id: i64,
    /// Venue trade id of the window's last trade (-1 with no trades).
    last_id: i64,
    /// Trades in the window.
    count: u64,
}

const DAY_MS: u64 = 86_400_000;

pub(crate) fn ticker_24h(s: &HttpState, inst: &Instrument) -> Ticker24h {
    let sc = inst.scales;
    let now = now_ms();
    let start = now.saturating_sub(DAY_MS);
    // The minute that holds `start` and every one after: 1,441 at most.
    let from = UnixNanos((start - start % 60_000) * 1_000_000);
    let candles = minutes(s, inst, from, 1_441);
    let w = Window::of(&candles);
    let (trade, quote, _) = latest_of(s, inst.id);
    let last = trade.and_then(|t| t.trade());
    let last_price = last.map(|t| t.price).or(w.close);
    let prev_close = query_candles(s, inst.symbol, Interval::M1, None, Some(from), 1)
        .ok()
        .and_then(|(c, _, _)| c.last().map(|c| c.ohlc()[3]))
        .or(w.open);
    let p = |x: Option<Price>| price(x.unwrap_or(Price::from_raw(0)), sc);
    let change = match (last_price, w.open) {
        (Some(l), Some(o)) => i128::from(l.raw()) - i128::from(o.raw()),
        _ => 0,
    };
    let percent_milli = match w.open {
        Some(o) if o.raw() != 0 => change * 100_000 / i128::from(o.raw()),
        _ => 0,
    };
    let q = quote.and_then(|t| t.quote());
    let per_size_unit = 10i128.pow(u32::from(sc.size_scale()));
    Ticker24h {
        symbol: inst.symbol.as_str().to_owned(),
        price_change: dec(change, sc.price_scale()),
        price_change_percent: format!("{}", tickd_protocol::Scaled::of(percent_milli, 3)),
        weighted_avg_price: p(w.vwap()),
        prev_close_price: p(prev_close),
        last_price: p(last_price),
        last_qty: last.map_or_else(|| qty(Default::default(), sc), |t| qty(t.size, sc)),
        bid_price: p(q.map(|q| q.bid_px)),
        bid_qty: q.map_or_else(|| qty(Default::default(), sc), |q| qty(q.bid_sz, sc)),
        ask_price: p(q.map(|q| q.ask_px)),
        ask_qty: q.map_or_else(|| qty(Default::default(), sc), |q| qty(q.ask_sz, sc)),
        open_price: p(w.open),
        high_price: p(w.high),
        low_price: p(w.low),
        volume: dec(w.volume, sc.size_scale()),
        quote_volume: dec(w.notional / per_size_unit, sc.price_scale()),
        open_time: start,
        close_time: now,
        first_id: w.first_id,
        last_id: w.last_id,
        count: w.trades,
    }
}

/// Price change statistics over a rolling 24 hours (of one-minute candles), with the last
/// trade and the top of book.
#[utoipa::path(get, path = "/api/v3/ticker/24hr", tag = "binance",
    params(
        ("symbol" = Option<String>, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol (any case)"),
        ("symbols" = Option<String>, Query, description = "A JSON array of symbols, at most 1000"),
        ("fromId" = Option<u32>, Query, description = "Without a symbol: the first instrument id of the page (tickd's extension)"),
        ("limit" = Option<u32>, Query, description = "Without a symbol: most instruments in the page, 1 to 1000 (default 1000)"),
    ),
    responses(
        (status = 200, description = "One ticker (with `symbol`) or a list", body = OneOrMany<Ticker24h>),
        (status = 400, description = "Invalid symbol (-1121) or a bad parameter (-1100)", body = BinanceError),
    ))]
pub(super) async fn ticker_24hr(
    State(s): State<HttpState>,
    axum::extract::Query(q): Params,
) -> Result<Response, BinanceError> {
    each(&s, &q, |i| ticker_24h(&s, i))
}

/// `GET /api/v3/ticker/bookTicker` for one symbol: the top of book (`"0.00000000"` before the
/// first quote).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookTicker {
    symbol: String,
    bid_price: String,
    bid_qty: String,
    ask_price: String,
    ask_qty: String,
}

fn book_ticker(s: &HttpState, inst: &Instrument) -> BookTicker {
    let sc = inst.scales;
    let q = latest_of(s, inst.id).1.and_then(|t| t.quote());
    let zero = || price(Price::from_raw(0), sc);
    let zq = || qty(Default::default(), sc);
    BookTicker {
        symbol: inst.symbol.as_str().to_owned(),
        bid_price: q.map_or_else(zero, |q| price(q.bid_px, sc)),
        bid_qty: q.map_or_else(zq, |q| qty(q.bid_sz, sc)),
        ask_price: q.map_or_else(zero, |q| price(q.ask_px, sc)),
        ask_qty: q.map_or_else(zq, |q| qty(q.ask_sz, sc)),
    }
}

/// The best bid and ask.
#[utoipa::path(get, path = "/api/v3/ticker/bookTicker", tag = "binance",
    params(
        ("symbol" = Option<String>, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol (any case)"),
        ("symbols" = Option<String>, Query, description = "A JSON array of symbols, at most 1000"),
        ("fromId" = Option<u32>, Query, description = "Without a symbol: the first instrument id of the page (tickd's extension)"),
        ("limit" = Option<u32>, Query, description = "Without a symbol: most instruments in the page, 1 to 1000 (default 1000)"),
    ),
    responses(
        (status = 200, description = "One book ticker (with `symbol`) or a list", body = OneOrMany<BookTicker>),
        (status = 400, description = "Invalid symbol (-1121) or a bad parameter (-1100)", body = BinanceError),
    ))]
pub(super) async fn book_ticker_route(
    State(s): State<HttpState>,
    axum::extract::Query(q): Params,
) -> Result<Response, BinanceError> {
    each(&s, &q, |i| book_ticker(&s, i))
}

/// `GET /api/v3/avgPrice`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvgPrice {
    /// The window, minutes: 5.
    mins: u32,
    /// Notional over volume in the last 5 one-minute candles; the last price when none traded.
    price: String,
    /// The last trade's time in the window, ms since the Unix epoch (0: none).
    close_time: u64,
}

/// The volume-weighted average price of the last 5 minutes.
#[utoipa::path(get, path = "/api/v3/avgPrice", tag = "binance",
    params(
        ("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol (any case)"),
    ),
    responses(
        (status = 200, description = "The average price", body = AvgPrice),
        (status = 400, description = "Invalid symbol (-1121) or a missing symbol (-1102)", body = BinanceError),
    ))]
pub(super) async fn avg_price(
    State(s): State<HttpState>,
    axum::extract::Query(q): Params,
) -> Result<Json<AvgPrice>, BinanceError> {
    if !q.contains_key("symbol") {
        return Err(BinanceError::missing("symbol"));
    }
    let (list, _) = instruments_of(&s, &q)?;
    let inst = list.first().ok_or_else(super::invalid_symbol)?;
    let now = now_ms();
    let start = now.saturating_sub(5 * 60_000);
    let from = UnixNanos((start - start % 60_000) * 1_000_000);
    let candles = minutes(&s, inst, from, 6);
    let w = Window::of(&candles);
    let last = latest_of(&s, inst.id).0;
    let sc: Scales = inst.scales;
    let avg = w
        .vwap()
        .or_else(|| last.and_then(|t| t.trade()).map(|t| t.price))
        .unwrap_or(Price::from_raw(0));
    Ok(Json(AvgPrice {
        mins: 5,
        price: price(avg, sc),
        close_time: candles.last().map_or(0, |c| c.ts_last_event / 1_000_000),
    }))
}
