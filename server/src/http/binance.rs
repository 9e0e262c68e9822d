//! Binance-compatible REST under `/api/v3`: decimal strings, millisecond times, 12-field kline
//! arrays and Binance's error shape (`{"code": -1121, "msg": "Invalid symbol."}`), so Binance
//! client libraries work against tickd unchanged.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tickd_formats::venue::instruments::Definition;
use tickd_protocol::{CandleRecord, Interval, Price, Quantity, Scaled, Scales, Symbol, UnixNanos};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod ticker;
pub mod trades;

use super::HttpState;
use super::seed::{candle_scales, instrument, latest_of, query_candles};

type Params = Query<HashMap<String, String>>;

/// A Binance-style error (status 400): `-1121` invalid symbol, `-1120` invalid interval, `-1100`
/// a malformed or missing parameter.
#[derive(Debug, Serialize, ToSchema)]
pub struct BinanceError {
    /// Binance's error code.
    code: i32,
    /// What is wrong.
    msg: String,
}

impl IntoResponse for BinanceError {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(self)).into_response()
    }
}

/// A route tickd does not have under `/api/`: 404 with Binance's error body (`-1000`, Binance's
/// code for an error it has no other code for), which Binance clients raise as an API error.
pub(super) fn unknown_route(path: &str) -> Response {
    let body = BinanceError {
        code: -1000,
        msg: format!(
            "Unknown route {path}: tickd serves ping, time, exchangeInfo, klines, uiKlines, ticker/price, ticker/bookTicker, ticker/24hr and avgPrice under /api/v3."
        ),
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

fn invalid_symbol() -> BinanceError {
    BinanceError {
        code: -1121,
        msg: "Invalid symbol.".into(),
    }
}

fn bad(msg: String) -> BinanceError {
    BinanceError { code: -1100, msg }
}

impl BinanceError {
    /// `-1102`: a mandatory parameter is missing.
    fn missing(name: &str) -> Self {
        Self {
            code: -1102,
            msg: format!(
                "Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            ),
        }
    }
}

/// Binance's decimal text of `raw` at `scale` places: 8 decimals, more when the value needs them
/// (never rounded), fewer never (a scale under 8 is padded).
pub(super) fn dec(raw: i128, scale: u8) -> String {
    // Exact text with all the scale's digits; then the fraction without trailing zeros, padded
    // back to 8.
    let text = Scaled::of(raw, scale).to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    format!("{int}.{:0<8}", frac.trim_end_matches('0'))
}

pub(super) fn price(p: Price, scales: Scales) -> String {
    dec(i128::from(p.raw()), scales.price_scale())
}

pub(super) fn qty(q: Quantity, scales: Scales) -> String {
    dec(i128::from(q.raw()), scales.size_scale())
}

pub(super) fn now_ms() -> u64 {
    crate::clock::now().as_millis()
}

/// The Binance REST routes.
pub fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(ping))
        .routes(routes!(time))
        .routes(routes!(exchange_info))
        .routes(routes!(ticker_price))
        .routes(routes!(ticker::ticker_24hr))
        .routes(routes!(ticker::book_ticker_route))
        .routes(routes!(ticker::avg_price))
        .routes(routes!(trades::trades))
        .routes(routes!(trades::agg_trades))
        .routes(routes!(klines))
        .routes(routes!(ui_klines))
}

/// `GET /api/v3/ping`: an empty object.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

/// Connectivity check.
#[utoipa::path(get, path = "/api/v3/ping", tag = "binance",
    responses((status = 200, description = "Always `{}`", body = Empty)))]
async fn ping() -> Json<Empty> {
    Json(Empty {})
}

/// `GET /api/v3/time`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerTime {
    /// ms since the Unix epoch.
    #[serde(rename = "serverTime")]
    server_time: u64,
}

/// The server's time.
#[utoipa::path(get, path = "/api/v3/time", tag = "binance",
    responses((status = 200, description = "Server time", body = ServerTime)))]
async fn time() -> Json<ServerTime> {
    Json(ServerTime {
        server_time: now_ms(),
    })
}

/// `limit`, as Binance takes it for klines and trade lists: default 500, 1 to 1000.
fn limit_of(q: &HashMap<String, String>) -> Result<u32, BinanceError> {
    match q.get("limit") {
        None => Ok(500),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1_000).contains(n))
            .ok_or_else(|| bad(format!("Illegal limit {v:?}: 1 to 1000."))),
    }
}

/// An unsigned integer parameter (an id, a time in ms), if given, with Binance's message for
/// one that is not.
fn number(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, BinanceError> {
    q.get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                bad(format!(
                    "Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
                ))
            })
        })
        .transpose()
}

/// Binance's ms since the Unix epoch as tickd's ns (saturating).
fn ms_to_nanos(ms: u64) -> UnixNanos {
    UnixNanos(ms.saturating_mul(1_000_000))
}

fn symbol_of(q: &HashMap<String, String>) -> Result<Option<Symbol>, BinanceError> {
    q.get("symbol")
        .map(|s| Symbol::new(&s.to_ascii_uppercase()).map_err(|_| invalid_symbol()))
        .transpose()
}

/// A symbol in `/api/v3/exchangeInfo`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BinanceSymbol {
    symbol: String,
    /// `TRADING`, or `BREAK` when the venue's definition says it does not trade now.
    status: &'static str,
    /// The venue's base asset where a live feed loaded the instrument's definition, else the
    /// symbol.
    base_asset: String,
    base_asset_precision: u32,
    /// The venue's quote asset where a live feed loaded the instrument's definition, else `USD`.
    quote_asset: String,
    quote_precision: u32,
    quote_asset_precision: u32,
    order_types: [&'static str; 2],
    is_spot_trading_allowed: bool,
    permissions: [&'static str; 1],
    /// `PRICE_FILTER` (`tickSize`) and `LOT_SIZE` (`stepSize`, `minQty`), and `MIN_NOTIONAL`
    /// when known: the venue's, where a live feed loaded the instrument's definition, else the
    /// steps of the instrument's scales. Clients round prices and amounts with them.
    #[schema(value_type = Vec<Object>)]
    filters: Vec<Value>,
}

/// The instrument's price and lot filters: from the venue's definition `def` when there is one
/// (values at 1e-9), else from its scales.
fn filters(sc: Scales, def: Option<&Definition>) -> Vec<Value> {
    let (tick, step, min_qty, scales) = match def {
        Some(d) => {
            let (t, l) = (i128::from(d.tick_size.raw()), i128::from(d.lot_size.raw()));
            let min = i128::from(d.min_size.raw()).max(l);
            (dec(t, 9), dec(l, 9), dec(min, 9), Scales::DEFAULT)
        }
        None => {
            let (t, l) = (dec(1, sc.price_scale()), dec(1, sc.size_scale()));
            (t, l.clone(), l, sc)
        }
    };
    let mut out = vec![
        json!({
            "filterType": "PRICE_FILTER",
            "minPrice": tick,
            "maxPrice": dec(i128::from(i64::MAX - 1), scales.price_scale()),
            "tickSize": tick,
        }),
        json!({
            "filterType": "LOT_SIZE",
            "minQty": min_qty,
            "maxQty": dec(i128::from(u64::MAX), scales.size_scale()),
            "stepSize": step,
        }),
    ];
    if let Some(d) = def.filter(|d| d.min_notional.raw() > 0) {
        out.push(json!({
            "filterType": "MIN_NOTIONAL",
            "minNotional": dec(i128::from(d.min_notional.raw()), 9),
            "applyToMarket": true,
            "avgPriceMins": 5,
        }));
    }
    out
}

/// Binance's precision fields: the scale's places, or 8 (Binance's usual) for the default 9:9.
fn precision(places: u8, sc: Scales) -> u32 {
    if sc == Scales::DEFAULT {
        8
    } else {
        u32::from(places)
    }
}

/// `GET /api/v3/exchangeInfo`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo {
    /// Always `UTC`.
    timezone: &'static str,
    /// ms since the Unix epoch.
    server_time: u64,
    /// Always empty (limits are per deployment: see `--http-rate`).
    #[schema(value_type = Vec<Object>)]
    rate_limits: [Value; 0],
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    exchange_filters: [Value; 0],
    /// The instruments asked for (`symbol`, `symbols`), or a page of every one.
    symbols: Vec<BinanceSymbol>,
    /// tickd's extension: where the next page starts (pass it as `fromId`), absent on the last
    /// page and with a filter. Also in the `X-Next-From-Id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_from_id: Option<u32>,
}

/// Most instruments one unfiltered `exchangeInfo` or `ticker/price` answer lists (about 0.5 MB
/// of JSON): the rest is paged with `fromId`.
pub const BINANCE_PAGE: u32 = 1_000;

/// The symbols a Binance request names: `symbol=X`, or `symbols=["X","Y"]` (Binance's JSON
/// array, at most [`super::params::MAX_SYMBOLS_PER_REQUEST`]); `None` for neither.
fn symbols_of(q: &HashMap<String, String>) -> Result<Option<Vec<Symbol>>, BinanceError> {
    if let Some(one) = symbol_of(q)? {
        return Ok(Some(vec![one]));
    }
    let Some(list) = q.get("symbols") else {
        return Ok(None);
    };
    let names: Vec<String> = serde_json::from_str(list).map_err(|_| {
        bad(format!(
            "symbols {list:?} is not a JSON array of strings, e.g. [\"BTCUSDT\",\"ETHUSDT\"]"
        ))
    })?;
    let max = super::params::MAX_SYMBOLS_PER_REQUEST;
    if names.len() > max {
        return Err(bad(format!(
            "symbols names {} symbols; at most {max} per request",
            names.len()
        )));
    }
    names
        .iter()
        .map(|n| Symbol::new(&n.to_ascii_uppercase()).map_err(|_| invalid_symbol()))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The instruments a request asks for: those named (each must exist), or a page of all.
fn instruments_of(
    s: &HttpState,
    q: &HashMap<String, String>,
) -> Result<(Vec<tickd_protocol::Instrument>, Option<u32>), BinanceError> {
    match symbols_of(q)? {
        Some(names) => {
            let ids = s
                .services
                .query
                .resolve(0, &names)
                .map_err(|_| invalid_symbol())?;
            Ok((s.services.query.instruments(Some(&ids)), None))
        }
        None => {
            let page = super::params::page_of(q, "fromId", BINANCE_PAGE).map_err(bad)?;
            let (list, next) = s.services.query.instrument_page("", page);
            Ok((list, next.map(|id| id.0)))
        }
    }
}

/// The instruments, in Binance's shape: those named by `symbol` or `symbols`, or a page of
/// every one.
#[utoipa::path(get, path = "/api/v3/exchangeInfo", tag = "binance",
    params(
        ("symbol" = Option<String>, Query, description = "One symbol"),
        ("symbols" = Option<String>, Query, description = "A JSON array of symbols, at most 1000"),
        ("fromId" = Option<u32>, Query, description = "Without a symbol: the first instrument id of the page (tickd's extension)"),
        ("limit" = Option<u32>, Query, description = "Without a symbol: most instruments in the page, 1 to 1000 (default 1000)"),
    ),
    responses(
        (status = 200, description = "Exchange information; header X-Next-From-Id names the next page", body = ExchangeInfo),
        (status = 400, description = "An unknown symbol (-1121) or a bad parameter (-1100)", body = BinanceError),
    ))]
async fn exchange_info(
    State(s): State<HttpState>,
    Query(q): Params,
) -> Result<Response, BinanceError> {
    let (list, next_from_id) = instruments_of(&s, &q)?;
    let definitions = &s.services.query.shared.definitions;
    let symbols = list
        .iter()
        .map(|i| {
            let def = definitions.get(&i.symbol);
            BinanceSymbol {
                symbol: i.symbol.as_str().to_owned(),
                status: if def.as_ref().is_none_or(|d| d.trading) {
                    "TRADING"
                } else {
                    "BREAK"
                },
                base_asset: def
                    .as_ref()
                    .map_or_else(|| i.symbol.as_str().to_owned(), |d| d.base.clone()),
                base_asset_precision: precision(i.scales.size_scale(), i.scales),
                quote_asset: def
                    .as_ref()
                    .map_or_else(|| "USD".into(), |d| d.quote.clone()),
                quote_precision: precision(i.scales.price_scale(), i.scales),
                quote_asset_precision: precision(i.scales.price_scale(), i.scales),
                order_types: ["LIMIT", "MARKET"],
                is_spot_trading_allowed: true,
                permissions: ["SPOT"],
                filters: filters(i.scales, def.as_ref()),
            }
        })
        .collect();
    let body = Json(ExchangeInfo {
        timezone: "UTC",
        server_time: now_ms(),
        rate_limits: [],
        exchange_filters: [],
        symbols,
        next_from_id,
    });
    Ok(super::params::with_next(body, next_from_id))
}

/// A last trade price in `/api/v3/ticker/price`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TickerPrice {
    /// The symbol.
    symbol: String,
    /// Decimal text; `null` before the symbol's first trade.
    price: Option<String>,
}

/// `GET /api/v3/ticker/price`: one symbol's, or several symbols'.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TickerPrices {
    /// With `symbol`.
    One(TickerPrice),
    /// With `symbols`: those that have traded; without: those of a page of instruments.
    All(Vec<TickerPrice>),
}

/// Last trade price of one symbol, of those named, or of a page of every one.
#[utoipa::path(get, path = "/api/v3/ticker/price", tag = "binance",
    params(
        ("symbol" = Option<String>, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol (any case)"),
        ("symbols" = Option<String>, Query, description = "A JSON array of symbols, at most 1000"),
        ("fromId" = Option<u32>, Query, description = "Without a symbol: the first instrument id of the page (tickd's extension)"),
        ("limit" = Option<u32>, Query, description = "Without a symbol: most instruments in the page, 1 to 1000 (default 1000)"),
    ),
    responses(
        (status = 200, description = "Prices; header X-Next-From-Id names the next page", body = TickerPrices),
        (status = 400, description = "Invalid symbol (-1121) or a bad parameter (-1100)", body = BinanceError),
    ))]
async fn ticker_price(
    State(s): State<HttpState>,
    Query(q): Params,
) -> Result<Response, BinanceError> {
    let one = |sym: &Symbol, id| TickerPrice {
        symbol: sym.as_str().to_owned(),
        price: latest_of(&s, id)
            .0
            .and_then(|t| t.trade())
            .map(|t| price(t.price, s.services.query.scales(id))),
    };
    if let Some(sym) = symbol_of(&q)? {
        let id = instrument(&s, &sym).map_err(|_| invalid_symbol())?;
        return Ok(Json(TickerPrices::One(one(&sym, id))).into_response());
    }
    let (list, next) = instruments_of(&s, &q)?;
    let prices = list
        .iter()
        .map(|i| one(&i.symbol, i.id))
        .filter(|t| t.price.is_some())
        .collect();
    Ok(super::params::with_next(
        Json(TickerPrices::All(prices)),
        next,
    ))
}

/// A candle's volume at the size scale.
pub(super) fn volume(c: &CandleRecord, sc: Scales) -> String {
    dec(
        i128::try_from(c.volume_total()).unwrap_or(i128::MAX),
        sc.size_scale(),
    )
}

/// A candle's quote volume: the notional (at the price + size scale) at the price scale,
/// truncated toward zero.
pub(super) fn quote_volume(c: &CandleRecord, sc: Scales) -> String {
    notional(c.notional(), sc)
}

/// A notional (at the price + size scale) at the price scale, truncated toward zero.
pub(super) fn notional(n: i128, sc: Scales) -> String {
    let per_size_unit = 10i128.pow(u32::from(sc.size_scale()));
    dec(n / per_size_unit, sc.price_scale())
}

/// A candle's taker-buy base volume (decimal text at the size scale).
pub(super) fn taker_buy_volume(c: &CandleRecord, sc: Scales) -> String {
    dec(
        i128::try_from(c.taker_buy_volume_total()).unwrap_or(i128::MAX),
        sc.size_scale(),
    )
}

/// A candle's taker-buy quote volume, as [`quote_volume`].
pub(super) fn taker_buy_quote_volume(c: &CandleRecord, sc: Scales) -> String {
    notional(c.taker_buy_notional(), sc)
}

/// A candle's first and last venue trade ids as Binance gives them (-1 for a candle with no
/// trades, as a `fill=previous` one).
pub(super) fn trade_ids(c: &CandleRecord) -> (i64, i64) {
    if c.trades == 0 {
        return (-1, -1);
    }
    let id = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    (id(c.first_trade_id), id(c.last_trade_id))
}

fn kline(c: &CandleRecord, interval: Interval, sc: Scales) -> Value {
    let [o, h, l, cl] = c.ohlc();
    let open_ms = c.ts_open / 1_000_000;
    let close_ms = (c.ts_open + interval.nanos()) / 1_000_000 - 1;
    json!([
        open_ms,
        price(o, sc),
        price(h, sc),
        price(l, sc),
        price(cl, sc),
        volume(c, sc),
        close_ms,
        quote_volume(c, sc),
        c.trades,
        taker_buy_volume(c, sc),
        taker_buy_quote_volume(c, sc),
        "0"
    ])
}

/// Candles as Binance's 12-field arrays: open time (ms), open, high, low, close, volume (decimal
/// text), close time (ms), quote volume, trade count, taker buy base and quote volume (the
/// trades whose aggressor was the buyer), and an ignored `"0"`.
#[utoipa::path(get, path = "/api/v3/klines", tag = "binance",
    params(
        ("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol (any case)"),
        ("interval" = super::IntervalName, Query, description = "1s 1m 5m 15m 1h 4h 1d"),
        ("startTime" = Option<u64>, Query, description = "ms since the Unix epoch"),
        ("endTime" = Option<u64>, Query, description = "ms since the Unix epoch (inclusive)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Default 500"),
    ),
    responses(
        (status = 200, description = "Klines, oldest first", body = Vec<Vec<Value>>),
        (status = 400, description = "A bad parameter or invalid symbol", body = BinanceError),
    ))]
async fn klines(State(s): State<HttpState>, Query(q): Params) -> Result<Json<Value>, BinanceError> {
    let sym = symbol_of(&q)?.ok_or_else(|| {
        bad("Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.".into())
    })?;
    let interval: Interval = q
        .get("interval")
        .ok_or_else(|| {
            bad("Mandatory parameter 'interval' was not sent, was empty/null, or malformed.".into())
        })?
        .parse()
        .map_err(|_| BinanceError {
            code: -1120,
            msg: "Invalid interval.".into(),
        })?;
    let ms = |name| Ok::<_, BinanceError>(number(&q, name)?.map(ms_to_nanos));
    let start = ms("startTime")?;
    let end = ms("endTime")?.map(|e| UnixNanos(e.0.saturating_add(1)));
    let limit = limit_of(&q)?;
    let (list, _, _) =
        query_candles(&s, sym, interval, start, end, limit).map_err(|_| invalid_symbol())?;
    let sc = candle_scales(&s, &list);
    Ok(Json(Value::Array(
        list.iter().map(|c| kline(c, interval, sc)).collect(),
    )))
}

/// Klines for display: the same candles as `klines` (tickd's candles are already what a
/// chart shows).
#[utoipa::path(get, path = "/api/v3/uiKlines", tag = "binance",
    params(
        ("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol (any case)"),
        ("interval" = super::IntervalName, Query, description = "1s 1m 5m 15m 1h 4h 1d"),
        ("startTime" = Option<u64>, Query, description = "ms since the Unix epoch"),
        ("endTime" = Option<u64>, Query, description = "ms since the Unix epoch (inclusive)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Default 500"),
    ),
    responses(
        (status = 200, description = "Klines, oldest first", body = Vec<Vec<Value>>),
        (status = 400, description = "A bad parameter or invalid symbol", body = BinanceError),
    ))]
async fn ui_klines(s: State<HttpState>, q: Params) -> Result<Json<Value>, BinanceError> {
    klines(s, q).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_binance_style_and_exact() {
        assert_eq!(dec(171_230_000_000, 9), "171.23000000");
        assert_eq!(dec(1, 9), "0.000000001");
        assert_eq!(dec(-5_000_000_000, 9), "-5.00000000");
        assert_eq!(dec(0, 9), "0.00000000");
        // Other scales: 8 decimals at least, all the scale needs at most.
        assert_eq!(dec(25_000_000_000, 0), "25000000000.00000000");
        assert_eq!(dec(1234, 8), "0.00001234");
        assert_eq!(dec(100_000_000_000_025, 2), "1000000000000.25000000");
        assert_eq!(dec(1, 12), "0.000000000001");
    }
}
