//! TradingView UDF under `/udf` (the Charting Library's "UDF compatible" datafeed).
//! Times are Unix seconds; `/history` includes the in-progress bar and answers `no_data` with a
//! `nextTime` when nothing is in range.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use tickd_protocol::{Interval, QuerySpec, UnixNanos};

use super::seed::{latest, query_candles};
use super::{ApiError, HttpState, num_price, num_qty, symbol_param};

type Params = Query<HashMap<String, String>>;

const RESOLUTIONS: [&str; 7] = ["1S", "1", "5", "15", "60", "240", "1D"];

/// The UDF routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/udf/config", get(config))
        .route("/udf/symbols", get(symbol_info))
        .route("/udf/search", get(search))
        .route("/udf/history", get(history))
        .route("/udf/time", get(time))
        .route("/udf/quotes", get(quotes))
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

async fn config() -> Json<Value> {
    Json(json!({
        "supported_resolutions": RESOLUTIONS,
        "supports_group_request": false,
        "supports_marks": false,
        "supports_search": true,
        "supports_timescale_marks": false,
        "supports_time": true,
        "exchanges": [{"value": "", "name": "All", "desc": ""}, {"value": "TICKD", "name": "TICKD", "desc": "tickd"}],
        "symbols_types": [{"name": "All types", "value": ""}, {"name": "Stock", "value": "stock"}],
    }))
}

fn info(symbol: &str) -> Value {
    json!({
        "name": symbol,
        "ticker": symbol,
        "full_name": format!("TICKD:{symbol}"),
        "description": symbol,
        "type": "stock",
        "session": "24x7",
        "timezone": "Etc/UTC",
        "exchange": "TICKD",
        "listed_exchange": "TICKD",
        "minmov": 1,
        "pricescale": 100,
        "has_intraday": true,
        "has_seconds": true,
        "has_daily": true,
        "intraday_multipliers": ["1", "5", "15", "60", "240"],
        "seconds_multipliers": ["1"],
        "supported_resolutions": RESOLUTIONS,
        "volume_precision": 0,
        "data_status": "streaming",
    })
}

async fn symbol_info(
    State(s): State<HttpState>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let raw = q.get("symbol").map(String::as_str);
    let raw = raw.map(|r| r.rsplit(':').next().unwrap_or(r));
    let symbol = symbol_param("symbol", raw)?;
    s.services
        .resolve(0, std::slice::from_ref(&symbol))
        .map_err(|_| ApiError::unknown_symbol(symbol.as_str()))?;
    Ok(Json(info(symbol.as_str())))
}

async fn search(State(s): State<HttpState>, Query(q): Params) -> Json<Value> {
    let query = q
        .get("query")
        .map(|v| v.to_ascii_uppercase())
        .unwrap_or_default();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(30);
    let found: Vec<Value> = s
        .services
        .instruments(None)
        .iter()
        .filter(|i| i.symbol.as_str().to_ascii_uppercase().contains(&query))
        .take(limit)
        .map(|i| {
            let n = i.symbol.as_str();
            json!({"symbol": n, "full_name": format!("TICKD:{n}"), "description": n, "exchange": "TICKD", "ticker": n, "type": "stock"})
        })
        .collect();
    Json(Value::Array(found))
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

async fn history(State(s): State<HttpState>, Query(q): Params) -> Result<Json<Value>, ApiError> {
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
            .query(0, &spec)
            .ok()
            .and_then(|a| a.candles.last().map(|c| c.ts_open / 1_000_000_000));
        return Ok(Json(match next {
            Some(t) => json!({"s": "no_data", "nextTime": t}),
            None => json!({"s": "no_data"}),
        }));
    }
    let col =
        |f: fn(&tickd_protocol::CandleRecord) -> Value| list.iter().map(f).collect::<Vec<_>>();
    Ok(Json(json!({
        "s": "ok",
        "t": list.iter().map(|c| c.ts_open / 1_000_000_000).collect::<Vec<_>>(),
        "o": col(|c| num_price(c.ohlc()[0])),
        "h": col(|c| num_price(c.ohlc()[1])),
        "l": col(|c| num_price(c.ohlc()[2])),
        "c": col(|c| num_price(c.ohlc()[3])),
        "v": col(|c| num_qty(c.volume())),
    })))
}

async fn time() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string()
}

async fn quotes(State(s): State<HttpState>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let list = q
        .get("symbols")
        .ok_or_else(|| ApiError::bad_parameter("missing parameter symbols"))?;
    let mut d = Vec::new();
    for raw in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let name = raw.rsplit(':').next().unwrap_or(raw);
        let entry = match tickd_protocol::Symbol::new(name)
            .ok()
            .map(|sym| (sym, latest(&s, &sym)))
        {
            Some((sym, Ok((trade, quote, _)))) => {
                let tr = trade.and_then(|t| t.trade());
                let qu = quote.and_then(|t| t.quote());
                json!({"s": "ok", "n": raw, "v": {
                    "short_name": sym.as_str(),
                    "exchange": "TICKD",
                    "lp": tr.map_or(Value::Null, |t| num_price(t.price)),
                    "bid": qu.map_or(Value::Null, |q| num_price(q.bid_px)),
                    "ask": qu.map_or(Value::Null, |q| num_price(q.ask_px)),
                }})
            }
            _ => json!({"s": "error", "n": raw, "v": {}}),
        };
        d.push(entry);
    }
    Ok(Json(json!({"s": "ok", "d": d})))
}
