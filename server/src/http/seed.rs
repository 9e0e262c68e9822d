//! The original service's routes, with the shapes of `research/features.md` §2.5 (JSON numbers,
//! exact), plus `epoch` and `seq` fields.

use std::collections::HashMap;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use tickd_protocol::{CandleRecord, Interval, Price, QuerySpec, TickKind, TickRecord, UnixNanos};

use super::{
    ApiError, HttpState, interval_param, num_price, num_qty, rfc3339, symbol_param, time_param,
};

type Params = Query<HashMap<String, String>>;

/// The seed routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/health", get(health))
        .route("/symbols", get(symbols))
        .route("/price/latest", get(price_latest))
        .route("/candles", get(candles))
        .route("/api/v1/market/quote/{symbol}", get(quote))
        .route("/api/v1/market/historical/{symbol}", get(historical))
}

async fn health(State(s): State<HttpState>) -> Json<Value> {
    let feeds: serde_json::Map<String, Value> = s
        .services
        .shared
        .feeds
        .iter()
        .map(|f| {
            let failed = f.error.lock().map(|e| e.is_some()).unwrap_or(false);
            let state = if failed {
                "failed"
            } else if f.finished.load(Ordering::Acquire) {
                "finished"
            } else {
                "up"
            };
            (
                f.name.clone(),
                json!({"state": state, "ingested": f.ingested.load(Ordering::Relaxed)}),
            )
        })
        .collect();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": s.started.elapsed().as_secs(),
        "epoch": s.services.epoch().0.to_string(),
        "head_seq": s.services.head().0,
        "feeds": feeds,
        "connections": s.services.limits.total(),
    }))
}

async fn symbols(State(s): State<HttpState>) -> Json<Value> {
    let list: Vec<Value> = s
        .services
        .instruments(None)
        .iter()
        .map(|i| json!({"symbol": i.symbol.as_str(), "id": i.id.0}))
        .collect();
    let count = list.len();
    Json(json!({"symbols": list, "count": count}))
}

/// Last trade and last quote of a symbol, and the seq they are valid at.
pub(crate) fn latest(
    s: &HttpState,
    symbol: &tickd_protocol::Symbol,
) -> Result<(Option<TickRecord>, Option<TickRecord>, u64), ApiError> {
    let ids = s
        .services
        .resolve(0, std::slice::from_ref(symbol))
        .map_err(|_| ApiError::unknown_symbol(symbol.as_str()))?;
    let snap = s.services.snapshot(Some(&ids), &[]);
    let pick = |k: TickKind| snap.ticks.iter().find(|t| t.kind == k as u8).copied();
    Ok((pick(TickKind::Trade), pick(TickKind::Quote), snap.seq))
}

async fn price_latest(
    State(s): State<HttpState>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let symbol = symbol_param("symbol", q.get("symbol").map(String::as_str))?;
    let (trade, quote, seq) = latest(&s, &symbol)?;
    let tr = trade.and_then(|t| t.trade());
    let qu = quote.and_then(|t| t.quote());
    let ts = trade.or(quote).map_or(0, |t| t.ts_event);
    Ok(Json(json!({
        "symbol": symbol.as_str(),
        "price": tr.map_or(Value::Null, |t| num_price(t.price)),
        "size": tr.map_or(Value::Null, |t| num_qty(t.size)),
        "bid": qu.map_or(Value::Null, |q| num_price(q.bid_px)),
        "ask": qu.map_or(Value::Null, |q| num_price(q.ask_px)),
        "bid_size": qu.map_or(Value::Null, |q| num_qty(q.bid_sz)),
        "ask_size": qu.map_or(Value::Null, |q| num_qty(q.ask_sz)),
        "time": if ts == 0 { Value::Null } else { json!(rfc3339(UnixNanos(ts))) },
        "t": ts / 1_000_000,
        "ts_ns": ts.to_string(),
        "seq": trade.or(quote).map_or(0, |t| t.seq),
        "as_of_seq": seq,
        "epoch": s.services.epoch().0.to_string(),
    })))
}

/// A candle as the seed dialect renders it.
pub(crate) fn candle_json(c: &CandleRecord) -> Value {
    let [o, h, l, cl] = c.ohlc();
    let vwap = if c.volume == 0 {
        Value::Null
    } else {
        i64::try_from(c.notional() / i128::from(c.volume))
            .map_or(Value::Null, |v| num_price(Price::from_raw(v)))
    };
    json!({
        "time": rfc3339(UnixNanos(c.ts_open)),
        "t": c.ts_open / 1_000_000,
        "open": num_price(o),
        "high": num_price(h),
        "low": num_price(l),
        "close": num_price(cl),
        "volume": num_qty(c.volume()),
        "trades": c.trades,
        "vwap": vwap,
        "closed": c.is_closed(),
        "rev": c.version,
    })
}

/// Candles of one symbol: the first `limit` from `start` (or the latest `limit`), and whether
/// more follow.
pub(crate) fn query_candles(
    s: &HttpState,
    symbol: tickd_protocol::Symbol,
    interval: Interval,
    start: Option<UnixNanos>,
    end: Option<UnixNanos>,
    limit: u32,
) -> Result<(Vec<CandleRecord>, bool, u64), ApiError> {
    let spec = QuerySpec::Candles {
        symbol,
        interval,
        from: start,
        to: end,
        limit: Some(limit.saturating_add(1)),
        fill_previous: false,
    };
    let mut a = s
        .services
        .query(0, &spec)
        .map_err(|_| ApiError::unknown_symbol(symbol.as_str()))?;
    let more = a.candles.len() > limit as usize;
    if more {
        if start.is_some() {
            a.candles.truncate(limit as usize);
        } else {
            a.candles.remove(0);
        }
    }
    Ok((a.candles, more, a.head))
}

fn limit_param(q: &HashMap<String, String>, default: u32, max: u32) -> Result<u32, ApiError> {
    match q.get("limit") {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_parameter(format!(
                "limit={v:?}: expected 1 to {max}"
            ))),
        },
    }
}

async fn candles(State(s): State<HttpState>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let symbol = symbol_param("symbol", q.get("symbol").map(String::as_str))?;
    let interval = interval_param("interval", q.get("interval").map_or("1m", String::as_str))?;
    let start = q.get("start").map(|v| time_param("start", v)).transpose()?;
    let end = q.get("end").map(|v| time_param("end", v)).transpose()?;
    let limit = limit_param(&q, 500, 5_000)?;
    let (list, more, head) = query_candles(&s, symbol, interval, start, end, limit)?;
    let next_start = match (more, start, list.last()) {
        (true, Some(_), Some(last)) => json!(rfc3339(UnixNanos(last.ts_open + interval.nanos()))),
        _ => Value::Null,
    };
    Ok(Json(json!({
        "symbol": symbol.as_str(),
        "interval": interval.name(),
        "empty": "skip",
        "candles": list.iter().map(candle_json).collect::<Vec<_>>(),
        "next_start": next_start,
        "as_of_seq": head,
        "epoch": s.services.epoch().0.to_string(),
    })))
}

async fn quote(
    State(s): State<HttpState>,
    Path(symbol): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let symbol = symbol_param("symbol", Some(&symbol))?;
    let (trade, quote, _) = latest(&s, &symbol)?;
    let ids = s
        .services
        .resolve(0, std::slice::from_ref(&symbol))
        .map_err(|_| ApiError::unknown_symbol(symbol.as_str()))?;
    let days = {
        let book = s
            .services
            .shared
            .book
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        book.candles(
            ids[0],
            Interval::D1,
            UnixNanos(0),
            UnixNanos(u64::MAX),
            tickd_engine::Take::Last(2),
        )
    };
    let last = trade.and_then(|t| t.trade()).map(|t| t.price);
    let today = days.last();
    let prev_close = (days.len() == 2).then(|| Price::from_raw(days[0].close));
    let change = match (last, prev_close) {
        (Some(l), Some(p)) => l.checked_sub(p),
        _ => None,
    };
    let change_pct = match (change, prev_close) {
        (Some(c), Some(p)) if p.raw() != 0 => {
            i64::try_from(i128::from(c.raw()) * 100 * 1_000_000_000 / i128::from(p.raw()))
                .ok()
                .map(Price::from_raw)
        }
        _ => None,
    };
    let qu = quote.and_then(|q| q.quote());
    let ts = trade.or(quote).map_or(0, |t| t.ts_event);
    Ok(Json(json!({
        "symbol": symbol.as_str(),
        "price": last.map_or(Value::Null, num_price),
        "change": change.map_or(Value::Null, num_price),
        "changePercent": change_pct.map_or(Value::Null, num_price),
        "volume": today.map_or(Value::Null, |c| num_qty(c.volume())),
        "timestamp": if ts == 0 { Value::Null } else { json!(rfc3339(UnixNanos(ts))) },
        "bid": qu.map_or(Value::Null, |q| num_price(q.bid_px)),
        "ask": qu.map_or(Value::Null, |q| num_price(q.ask_px)),
        "seq": trade.or(quote).map_or(0, |t| t.seq),
    })))
}

async fn historical(
    State(s): State<HttpState>,
    Path(symbol): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let symbol = symbol_param("symbol", Some(&symbol))?;
    let raw = q
        .get("interval")
        .or_else(|| q.get("timeframe"))
        .map_or("1d", String::as_str);
    let interval = interval_param("interval", raw)?;
    let limit = limit_param(&q, 100, 5_000)?;
    let (list, _, _) = query_candles(&s, symbol, interval, None, None, limit)?;
    Ok(Json(json!({
        "symbol": symbol.as_str(),
        "interval": interval.name(),
        "data": list.iter().map(candle_json).collect::<Vec<_>>(),
    })))
}
