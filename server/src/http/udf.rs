//! TradingView UDF under `/udf` (the Charting Library's "UDF compatible" datafeed).
//! Times are Unix seconds; `/history` includes the in-progress bar and answers `no_data` with a
//! `nextTime` when nothing is in range.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use serde::Serialize;
use tickd_protocol::{Interval, QuerySpec, Scales, UnixNanos};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{ExactPrice, ExactVolume};
use super::seed::{candle_scales, latest, query_candles};
use super::{ApiError, ErrorBody, HttpState, symbol_param};

type Params = Query<HashMap<String, String>>;

const RESOLUTIONS: [&str; 7] = ["1S", "1", "5", "15", "60", "240", "1D"];

/// The UDF routes.
pub fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(config))
        .routes(routes!(symbol_info))
        .routes(routes!(search))
        .routes(routes!(history))
        .routes(routes!(time))
        .routes(routes!(quotes))
}

/// A UDF resolution, for the OpenAPI document ([`resolution`] also takes `1s` and `D`).
#[derive(Debug, ToSchema)]
pub enum Resolution {
    /// One second.
    #[schema(rename = "1S")]
    S1,
    /// One minute.
    #[schema(rename = "1")]
    M1,
    /// Five minutes.
    #[schema(rename = "5")]
    M5,
    /// Fifteen minutes.
    #[schema(rename = "15")]
    M15,
    /// One hour.
    #[schema(rename = "60")]
    H1,
    /// Four hours.
    #[schema(rename = "240")]
    H4,
    /// One day.
    #[schema(rename = "1D")]
    D1,
}

/// A UDF resolution as an interval.
///
/// # Errors
///
/// 400 listing the supported resolutions.
pub fn resolution(text: &str) -> Result<Interval, ApiError> {
    Ok(match text {
        "1S" | "1s" => Interval::S1,
        "1" => Interval::M1,
        "5" => Interval::M5,
        "15" => Interval::M15,
        "60" => Interval::H1,
        "240" => Interval::H4,
        "D" | "1D" => Interval::D1,
        other => {
            return Err(ApiError::bad_parameter(format!(
                "resolution={other:?}: supported are {}",
                RESOLUTIONS.join(" ")
            )));
        }
    })
}

/// An exchange in `/udf/config`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UdfExchange {
    /// The value the library sends back.
    value: &'static str,
    /// Shown name.
    name: &'static str,
    /// Shown description.
    desc: &'static str,
}

/// A symbol type in `/udf/config`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UdfSymbolType {
    /// Shown name.
    name: &'static str,
    /// The value the library sends back.
    value: &'static str,
}

/// `GET /udf/config`: what this datafeed supports.
#[derive(Debug, Serialize, ToSchema)]
pub struct UdfConfig {
    /// Resolutions `/udf/history` accepts.
    supported_resolutions: [&'static str; 7],
    /// Always false.
    supports_group_request: bool,
    /// Always false.
    supports_marks: bool,
    /// Always true (`/udf/search`).
    supports_search: bool,
    /// Always false.
    supports_timescale_marks: bool,
    /// Always true (`/udf/time`).
    supports_time: bool,
    /// Exchanges for the search box.
    exchanges: [UdfExchange; 2],
    /// Symbol types for the search box.
    symbols_types: [UdfSymbolType; 2],
}

/// The datafeed's configuration.
#[utoipa::path(get, path = "/udf/config", tag = "udf",
    responses((status = 200, description = "Configuration", body = UdfConfig)))]
async fn config() -> Json<UdfConfig> {
    let exchange = |value, desc| UdfExchange {
        value,
        name: if value.is_empty() { "All" } else { value },
        desc,
    };
    Json(UdfConfig {
        supported_resolutions: RESOLUTIONS,
        supports_group_request: false,
        supports_marks: false,
        supports_search: true,
        supports_timescale_marks: false,
        supports_time: true,
        exchanges: [exchange("", ""), exchange("TICKD", "tickd")],
        symbols_types: [
            UdfSymbolType {
                name: "All types",
                value: "",
            },
            UdfSymbolType {
                name: "Stock",
                value: "stock",
            },
        ],
    })
}

/// `GET /udf/symbols`: the Charting Library's `LibrarySymbolInfo`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UdfSymbolInfo {
    name: String,
    ticker: String,
    full_name: String,
    description: String,
    #[serde(rename = "type")]
    kind: &'static str,
    session: &'static str,
    timezone: &'static str,
    exchange: &'static str,
    listed_exchange: &'static str,
    minmov: u32,
    pricescale: u32,
    has_intraday: bool,
    has_seconds: bool,
    has_daily: bool,
    intraday_multipliers: [&'static str; 5],
    seconds_multipliers: [&'static str; 1],
    supported_resolutions: [&'static str; 7],
    volume_precision: u32,
    data_status: &'static str,
    /// Always `price`: the scale labels prices.
    format: &'static str,
    /// Always false (no weekly or monthly bars).
    has_weekly_and_monthly: bool,
    /// Always `ohlcv`: bars carry volume.
    visible_plots_set: &'static str,
    /// Always false (bars carry volume; the older name of `visible_plots_set`).
    has_no_volume: bool,
}

/// The Charting Library's price scale and volume precision for `scales`: from the instrument's
/// configured scales; for the default 9:9 (no precision configured) cents and whole units, as
/// equities display.
fn precision(scales: Scales) -> (u32, u32) {
    if scales == Scales::DEFAULT {
        (100, 0)
    } else {
        (
            10u32.pow(u32::from(scales.price_scale().min(9))),
            u32::from(scales.size_scale()),
        )
    }
}

/// The Charting Library's `pricescale` and `minmov` for a price increment of `tick` (1e-9
/// units): the fewest decimals that hold it, and the increment in those units (0.0001 → 10000
/// and 1; 0.25 → 100 and 25; 5 → 1 and 5), and its `volume_precision` for a size increment
/// of `lot`.
fn from_increments(tick: i64, lot: u64) -> (u32, u32, u32) {
    let places = |raw: u64| {
        (0..=9u32)
            .find(|&d| raw.is_multiple_of(10u64.pow(9 - d)))
            .unwrap_or(9)
    };
    let tick = tick.max(1).unsigned_abs();
    let d = places(tick);
    let minmov = u32::try_from(tick / 10u64.pow(9 - d)).unwrap_or(1);
    (10u32.pow(d), minmov.max(1), places(lot.max(1)))
}

fn info(
    symbol: &str,
    scales: Scales,
    def: Option<&tickd_formats::venue::instruments::Definition>,
) -> UdfSymbolInfo {
    let (pricescale, minmov, volume_precision) = match def {
        Some(d) => from_increments(d.tick_size.raw(), d.lot_size.raw()),
        None => {
            let (p, v) = precision(scales);
            (p, 1, v)
        }
    };
    UdfSymbolInfo {
        name: symbol.to_owned(),
        ticker: symbol.to_owned(),
        full_name: format!("TICKD:{symbol}"),
        description: symbol.to_owned(),
        kind: "stock",
        session: "24x7",
        timezone: "Etc/UTC",
        exchange: "TICKD",
        listed_exchange: "TICKD",
        minmov,
        pricescale,
        has_intraday: true,
        has_seconds: true,
        has_daily: true,
        intraday_multipliers: ["1", "5", "15", "60", "240"],
        seconds_multipliers: ["1"],
        supported_resolutions: RESOLUTIONS,
        volume_precision,
        data_status: "streaming",
        format: "price",
        has_weekly_and_monthly: false,
        visible_plots_set: "ohlcv",
        has_no_volume: false,
    }
}

/// One symbol's information (`EXCHANGE:SYMBOL` or `SYMBOL`).
#[utoipa::path(get, path = "/udf/symbols", tag = "udf",
    params(("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "`AAPL` or `TICKD:AAPL`")),
    responses(
        (status = 200, description = "Symbol information", body = UdfSymbolInfo),
        (status = 400, description = "Missing or malformed symbol", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
    ))]
async fn symbol_info(
    State(s): State<HttpState>,
    Query(q): Params,
) -> Result<Json<UdfSymbolInfo>, ApiError> {
    // `TICKD:<symbol>` (the full name tickd gives), or the symbol itself (venue symbols have a
    // colon of their own: `BINANCE:BTCUSDT`), or another exchange's prefix (`NASDAQ:AAPL`).
    let raw = q.get("symbol").map(String::as_str);
    let raw = raw.map(|r| r.strip_prefix("TICKD:").unwrap_or(r));
    let resolve = |name: Option<&str>| -> Result<_, ApiError> {
        let symbol = symbol_param("symbol", name)?;
        let ids = s
            .services
            .query
            .resolve(0, std::slice::from_ref(&symbol))
            .map_err(|_| ApiError::unknown_symbol(symbol.as_str()))?;
        Ok((symbol, ids[0]))
    };
    let (symbol, id) = resolve(raw).or_else(|e| match raw.and_then(|r| r.rsplit_once(':')) {
        Some((_, bare)) => resolve(Some(bare)),
        None => Err(e),
    })?;
    let scales = s.services.query.scales(id);
    let def = s.services.query.shared.definitions.get(&symbol);
    Ok(Json(info(symbol.as_str(), scales, def.as_ref())))
}

/// One match of `/udf/search`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UdfSearchResult {
    symbol: String,
    full_name: String,
    description: String,
    exchange: &'static str,
    ticker: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Symbols whose name contains `query` (case-insensitive).
#[utoipa::path(get, path = "/udf/search", tag = "udf",
    params(
        ("query" = Option<String>, Query, description = "Part of a symbol"),
        ("limit" = Option<u32>, Query, description = "At most this many (default 30, at most 1000)"),
        ("type" = Option<String>, Query, description = "Ignored (every instrument is a stock)"),
        ("exchange" = Option<String>, Query, description = "Ignored (one exchange)"),
    ),
    responses((status = 200, description = "Matches", body = Vec<UdfSearchResult>)))]
async fn search(State(s): State<HttpState>, Query(q): Params) -> Json<Vec<UdfSearchResult>> {
    let query = q
        .get("query")
        .map(|v| v.to_ascii_uppercase())
        .unwrap_or_default();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(30)
        .min(super::params::MAX_SYMBOLS_PER_REQUEST);
    let found = s
        .services
        .query
        .instruments(None)
        .iter()
        .filter(|i| i.symbol.as_str().to_ascii_uppercase().contains(&query))
        .take(limit)
        .map(|i| {
            let n = i.symbol.as_str();
            UdfSearchResult {
                symbol: n.to_owned(),
                full_name: format!("TICKD:{n}"),
                description: n.to_owned(),
                exchange: "TICKD",
                ticker: n.to_owned(),
                kind: "stock",
            }
        })
        .collect();
    Json(found)
}

fn secs(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, ApiError> {
    q.get(name)
        .map(|v| {
            v.parse::<i64>().map(|n| n.max(0) as u64).map_err(|_| {
                ApiError::bad_parameter(format!("{name}={v:?}: expected Unix seconds"))
            })
        })
        .transpose()
}

/// `GET /udf/history`: bars as columns (`s` = `ok`), or `no_data` with the time of the newest
/// earlier bar in `nextTime` when there is one.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UdfHistory {
    /// `ok` or `no_data`.
    s: &'static str,
    /// Bar open times, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<Vec<u64>>,
    /// Opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<f64>>)]
    o: Option<Vec<ExactPrice>>,
    /// Highs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<f64>>)]
    h: Option<Vec<ExactPrice>>,
    /// Lows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<f64>>)]
    l: Option<Vec<ExactPrice>>,
    /// Closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<f64>>)]
    c: Option<Vec<ExactPrice>>,
    /// Volumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<f64>>)]
    v: Option<Vec<ExactVolume>>,
    /// With `no_data`: the open time (Unix seconds) of the newest bar before `from`.
    #[serde(rename = "nextTime", skip_serializing_if = "Option::is_none")]
    next_time: Option<u64>,
}

/// Bars of one symbol in `[from, to)`, or the last `countback` before `to`; the in-progress bar
/// is included.
#[utoipa::path(get, path = "/udf/history", tag = "udf",
    params(
        ("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "`AAPL` or `TICKD:AAPL`"),
        ("resolution" = Resolution, Query, description = "1S 1 5 15 60 240 1D"),
        ("from" = Option<i64>, Query, description = "Unix seconds"),
        ("to" = Option<i64>, Query, description = "Unix seconds (exclusive)"),
        ("countback" = Option<u32>, Query, description = "The last this many bars before `to`, whatever `from` says"),
    ),
    responses(
        (status = 200, description = "Bars or no_data", body = UdfHistory),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
    ))]
async fn history(
    State(s): State<HttpState>,
    Query(q): Params,
) -> Result<Json<UdfHistory>, ApiError> {
    let raw = q.get("symbol").map(String::as_str);
    let raw = raw.map(|r| r.rsplit(':').next().unwrap_or(r));
    let symbol = symbol_param("symbol", raw)?;
    let interval = resolution(q.get("resolution").map_or("", String::as_str))?;
    let from = secs(&q, "from")?.unwrap_or(0);
    let to = secs(&q, "to")?.unwrap_or(u64::MAX / 1_000_000_000);
    let countback = q
        .get("countback")
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|&c| c > 0);
    let to_ns = UnixNanos(to.saturating_mul(1_000_000_000));
    let list = match countback {
        // The last `countback` bars before `to`, whatever `from` says (the library's paging).
        Some(n) => query_candles(&s, symbol, interval, None, Some(to_ns), n.min(5_000))?.0,
        None => {
            query_candles(
                &s,
                symbol,
                interval,
                Some(UnixNanos(from.saturating_mul(1_000_000_000))),
                Some(to_ns),
                5_000,
            )?
            .0
        }
    };
    if list.is_empty() {
        // Where older data is, if any.
        let before = UnixNanos(from.saturating_mul(1_000_000_000));
        let spec = QuerySpec::Candles {
            symbol,
            interval,
            from: None,
            to: Some(before),
            limit: Some(1),
            fill_previous: false,
        };
        let next = s
            .services
            .query
            .answer(0, &spec)
            .ok()
            .and_then(|a| a.candles.last().map(|c| c.ts_open / 1_000_000_000));
        return Ok(Json(UdfHistory {
            s: "no_data",
            next_time: next,
            ..UdfHistory::default()
        }));
    }
    let sc = candle_scales(&s, &list);
    let col = |k: usize| Some(list.iter().map(|c| ExactPrice(c.ohlc()[k], sc)).collect());
    Ok(Json(UdfHistory {
        s: "ok",
        t: Some(list.iter().map(|c| c.ts_open / 1_000_000_000).collect()),
        o: col(0),
        h: col(1),
        l: col(2),
        c: col(3),
        v: Some(
            list.iter()
                .map(|c| ExactVolume(c.volume_total(), sc))
                .collect(),
        ),
        next_time: None,
    }))
}

/// The server's time, Unix seconds, as plain text.
#[utoipa::path(get, path = "/udf/time", tag = "udf",
    responses((status = 200, description = "Unix seconds", body = String, content_type = "text/plain")))]
async fn time() -> String {
    crate::clock::now().as_secs().to_string()
}

/// A symbol's values in `/udf/quotes` (empty for a symbol that is not known). The session is
/// the UTC day: open, high, low and volume are the current one-day candle's (the latest one),
/// the previous close the one-day candle's before it. Prices the server does not have yet
/// (no trade, no quote, no earlier day) are `null`.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UdfQuoteValues {
    /// Change: last price less the previous close.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    ch: Option<ExactPrice>,
    /// Change in percent of the previous close (two decimals, rounded toward zero).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    chp: Option<ExactPrice>,
    /// The symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    short_name: Option<String>,
    /// The exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    exchange: Option<&'static str>,
    /// The symbol (tickd has no longer description).
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Last trade price.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    lp: Option<ExactPrice>,
    /// Best bid.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    bid: Option<ExactPrice>,
    /// Best ask.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    ask: Option<ExactPrice>,
    /// Ask less bid.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    spread: Option<ExactPrice>,
    /// The session's first trade price.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    open_price: Option<ExactPrice>,
    /// The session's highest trade price.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    high_price: Option<ExactPrice>,
    /// The session's lowest trade price.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    low_price: Option<ExactPrice>,
    /// The previous session's last trade price.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    prev_close_price: Option<ExactPrice>,
    /// The session's volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    volume: Option<ExactVolume>,
}

/// The `/udf/quotes` values of a known symbol.
fn quote_values(
    s: &HttpState,
    sym: tickd_protocol::Symbol,
    trade: Option<tickd_protocol::TickRecord>,
    quote: Option<tickd_protocol::TickRecord>,
) -> UdfQuoteValues {
    use tickd_protocol::Price;
    let sc = trade
        .or(quote)
        .map_or(Scales::DEFAULT, |t| s.services.query.scales(t.instrument()));
    let days = query_candles(s, sym, Interval::D1, None, None, 2)
        .map(|(c, _, _)| c)
        .unwrap_or_default();
    let (today, before) = match days.as_slice() {
        [prev, today] => (Some(today), Some(prev)),
        [today] => (Some(today), None),
        _ => (None, None),
    };
    let last = trade.and_then(|t| t.trade()).map(|t| t.price);
    let prev_close = before.map(|c| c.ohlc()[3]);
    let qu = quote.and_then(|t| t.quote());
    // `Price::UNDEF` renders `null`: the field is there, empty.
    let px = |p: Option<Price>| Some(ExactPrice(p.unwrap_or(Price::UNDEF), sc));
    let change = last.zip(prev_close).map(|(l, p)| l.raw() - p.raw());
    // Percent at two decimals, as a price at 9 decimals: change × 100 / prev, truncated.
    let percent = change.zip(prev_close).and_then(|(ch, p)| {
        (p.raw() != 0).then(|| {
            let hundredths = i128::from(ch) * 10_000 / i128::from(p.raw());
            Price::from_raw(i64::try_from(hundredths * 10_000_000).unwrap_or(i64::MAX))
        })
    });
    let spread = qu.and_then(|q| {
        (!q.ask_px.is_undef() && !q.bid_px.is_undef())
            .then(|| Price::from_raw(q.ask_px.raw() - q.bid_px.raw()))
    });
    UdfQuoteValues {
        ch: px(change.map(Price::from_raw)),
        chp: Some(ExactPrice(percent.unwrap_or(Price::UNDEF), Scales::DEFAULT)),
        short_name: Some(sym.as_str().to_owned()),
        exchange: Some("TICKD"),
        description: Some(sym.as_str().to_owned()),
        lp: px(last),
        bid: px(qu.map(|q| q.bid_px)),
        ask: px(qu.map(|q| q.ask_px)),
        spread: px(spread),
        open_price: px(today.map(|c| c.ohlc()[0])),
        high_price: px(today.map(|c| c.ohlc()[1])),
        low_price: px(today.map(|c| c.ohlc()[2])),
        prev_close_price: px(prev_close),
        volume: Some(ExactVolume(today.map_or(0, |c| c.volume_total()), sc)),
    }
}

/// One symbol in `/udf/quotes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UdfQuote {
    /// `ok` or `error` (unknown or malformed symbol).
    s: &'static str,
    /// The name as asked.
    n: String,
    /// The values.
    v: UdfQuoteValues,
}

/// `GET /udf/quotes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UdfQuotes {
    /// Always `ok`; each symbol has its own status.
    s: &'static str,
    /// One entry per symbol asked.
    d: Vec<UdfQuote>,
}

/// Last price and top of book of several symbols.
#[utoipa::path(get, path = "/udf/quotes", tag = "udf",
    params(("symbols" = String, Query, description = "Comma-separated symbols")),
    responses(
        (status = 200, description = "Quotes", body = UdfQuotes),
        (status = 400, description = "Missing parameter, or more than 1,000 symbols", body = ErrorBody),
    ))]
async fn quotes(State(s): State<HttpState>, Query(q): Params) -> Result<Json<UdfQuotes>, ApiError> {
    let list = q
        .get("symbols")
        .ok_or_else(|| ApiError::bad_parameter("missing parameter symbols"))?;
    let mut d = Vec::new();
    for raw in super::params::symbol_list("symbols", list)? {
        let name = raw.rsplit(':').next().unwrap_or(raw);
        let entry = match tickd_protocol::Symbol::new(name)
            .ok()
            .map(|sym| (sym, latest(&s, &sym)))
        {
            Some((sym, Ok((trade, quote, _)))) => UdfQuote {
                s: "ok",
                n: raw.to_owned(),
                v: quote_values(&s, sym, trade, quote),
            },
            _ => UdfQuote {
                s: "error",
                n: raw.to_owned(),
                v: UdfQuoteValues::default(),
            },
        };
        d.push(entry);
    }
    Ok(Json(UdfQuotes { s: "ok", d }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_scale_and_minimum_move_come_from_the_tick_size() {
        // (tick, lot) at 1e-9 → (pricescale, minmov, volume_precision)
        assert_eq!(from_increments(100_000, 1_000_000_000), (10_000, 1, 0));
        assert_eq!(from_increments(250_000_000, 1_000), (100, 25, 6));
        assert_eq!(from_increments(5_000_000_000, 10_000_000), (1, 5, 2));
        assert_eq!(from_increments(1, 1), (1_000_000_000, 1, 9));
    }
}
