//! Binance-compatible REST under `/api/v3`: decimal strings, millisecond times, 12-field kline
//! arrays and Binance's error shape (`{"code": -1121, "msg": "Invalid symbol."}`), so Binance
//! client libraries work against tickd unchanged.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tickd_protocol::{CandleRecord, Interval, Price, Quantity, Symbol, UnixNanos};

use super::HttpState;
use super::seed::{latest, query_candles};

type Params = Query<HashMap<String, String>>;

/// A Binance-style error.
struct BinanceError {
    code: i32,
    msg: String,
}

impl IntoResponse for BinanceError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": self.code, "msg": self.msg})),
        )
            .into_response()
    }
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

/// Binance's decimal text: 8 decimals (more when the value needs them, never rounded).
pub(super) fn dec(raw: i128) -> String {
    let neg = raw < 0;
    let abs = raw.unsigned_abs();
    let (int, frac) = (abs / 1_000_000_000, abs % 1_000_000_000);
    let frac = if frac % 10 == 0 {
        format!("{:08}", frac / 10)
    } else {
        format!("{frac:09}")
    };
    format!("{}{int}.{frac}", if neg { "-" } else { "" })
}

pub(super) fn price(p: Price) -> String {
    dec(i128::from(p.raw()))
}

pub(super) fn qty(q: Quantity) -> String {
    dec(i128::from(q.raw()))
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The Binance REST routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v3/ping", get(|| async { Json(json!({})) }))
        .route(
            "/api/v3/time",
            get(|| async { Json(json!({"serverTime": now_ms()})) }),
        )
        .route("/api/v3/exchangeInfo", get(exchange_info))
        .route("/api/v3/ticker/price", get(ticker_price))
        .route("/api/v3/klines", get(klines))
}

fn symbol_of(q: &HashMap<String, String>) -> Result<Option<Symbol>, BinanceError> {
    q.get("symbol")
        .map(|s| Symbol::new(&s.to_ascii_uppercase()).map_err(|_| invalid_symbol()))
        .transpose()
}

async fn exchange_info(State(s): State<HttpState>) -> Json<Value> {
    let symbols: Vec<Value> = s
        .services
        .instruments(None)
        .iter()
        .map(|i| {
            json!({
                "symbol": i.symbol.as_str(),
                "status": "TRADING",
                "baseAsset": i.symbol.as_str(),
                "baseAssetPrecision": 8,
                "quoteAsset": "USD",
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "MARKET"],
                "isSpotTradingAllowed": true,
                "permissions": ["SPOT"],
                "filters": [],
            })
        })
        .collect();
    Json(
        json!({"timezone": "UTC", "serverTime": now_ms(), "rateLimits": [], "exchangeFilters": [], "symbols": symbols}),
    )
}

async fn ticker_price(
    State(s): State<HttpState>,
    Query(q): Params,
) -> Result<Json<Value>, BinanceError> {
    let one = |sym: &Symbol| -> Option<Value> {
        let (trade, _, _) = latest(&s, sym).ok()?;
        let p = trade?.trade()?.price;
        Some(json!({"symbol": sym.as_str(), "price": price(p)}))
    };
    match symbol_of(&q)? {
        Some(sym) => {
            s.services
                .resolve(0, std::slice::from_ref(&sym))
                .map_err(|_| invalid_symbol())?;
            Ok(Json(one(&sym).unwrap_or_else(
                || json!({"symbol": sym.as_str(), "price": null}),
            )))
        }
        None => Ok(Json(Value::Array(
            s.services
                .instruments(None)
                .iter()
                .filter_map(|i| one(&i.symbol))
                .collect(),
        ))),
    }
}

fn kline(c: &CandleRecord, interval: Interval) -> Value {
    let [o, h, l, cl] = c.ohlc();
    let open_ms = c.ts_open / 1_000_000;
    let close_ms = (c.ts_open + interval.nanos()) / 1_000_000 - 1;
    // Quote volume = notional (1e-18 units) as 1e-9 units, truncated toward zero.
    let quote_volume = c.notional() / 1_000_000_000;
    json!([
        open_ms,
        price(o),
        price(h),
        price(l),
        price(cl),
        qty(c.volume()),
        close_ms,
        dec(quote_volume),
        c.trades,
        "0.00000000",
        "0.00000000",
        "0"
    ])
}

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
    let ms = |name: &str| -> Result<Option<UnixNanos>, BinanceError> {
        q.get(name)
            .map(|v| v.parse::<u64>().map(|m| UnixNanos(m.saturating_mul(1_000_000))).map_err(|_| bad(format!("Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."))))
            .transpose()
    };
    let start = ms("startTime")?;
    let end = ms("endTime")?.map(|e| UnixNanos(e.0.saturating_add(1)));
    let limit = match q.get("limit") {
        None => 500,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1_000).contains(n))
            .ok_or_else(|| bad(format!("Illegal limit {v:?}: 1 to 1000.")))?,
    };
    let (list, _, _) =
        query_candles(&s, sym, interval, start, end, limit).map_err(|_| invalid_symbol())?;
    Ok(Json(Value::Array(
        list.iter().map(|c| kline(c, interval)).collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_binance_style_and_exact() {
        assert_eq!(dec(171_230_000_000), "171.23000000");
        assert_eq!(dec(1), "0.000000001");
        assert_eq!(dec(-5_000_000_000), "-5.00000000");
        assert_eq!(dec(0), "0.00000000");
    }
}
