//! The original service's routes, with the shapes of `research/features.md` §2.5 (JSON numbers,
//! exact), plus `epoch` and `seq` fields. Each response is a typed struct that is also its
//! OpenAPI schema, so `/openapi.json` cannot drift from what the handlers send.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Serialize;
use tickd_protocol::{
    CandleRecord, InstrumentId, Interval, Price, QuerySpec, Scales, Seq, Symbol, TickKind,
    TickRecord, UnixNanos,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{AsText, ExactPrice, ExactQty, ExactVolume, JsonBody, Rfc3339};
use super::{ApiError, ErrorBody, HttpState, interval_param, symbol_param, time_param};

type Params = Query<HashMap<String, String>>;

/// The seed routes.
pub fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(symbols))
        .routes(routes!(price_latest))
        .routes(routes!(candles))
        .routes(routes!(quote))
        .routes(routes!(historical))
}

/// One feed's state in `/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedHealth {
    /// `up`, `finished` (a replay that reached its end), `failed`, or for a live venue feed
    /// `reconnecting` while it has no connection.
    state: &'static str,
    /// Ticks this feed has handed to the sequencer.
    ingested: u64,
    /// A live venue feed's connection (absent for other feeds).
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<LiveHealth>,
}

/// A live venue feed's connection state in `/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveHealth {
    /// Whether a connection is open and subscribed.
    connected: bool,
    /// Milliseconds since the last frame from the venue (absent before the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_message_age_ms: Option<u64>,
    /// Connections lost (or attempts failed) and retried.
    reconnects: u64,
    /// Connections the venue ended for a rate limit (close 1008, HTTP 418/429).
    rate_limits: u64,
    /// Venue gaps declared.
    gaps: u64,
    /// Venue trade ids declared missing.
    missing_trades: u64,
    /// Trades fetched from the venue's REST API to fill holes.
    refilled: u64,
    /// Trades dropped as duplicates.
    duplicates: u64,
    /// The last problem: a lost connection, a refusal, a capture failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
}

impl LiveHealth {
    fn of(live: &crate::ingest::input::LiveState) -> Self {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let last = load(&live.last_message_ns);
        Self {
            connected: live.connected.load(Ordering::Relaxed),
            last_message_age_ms: (last > 0)
                .then(|| crate::clock::now().0.saturating_sub(last) / 1_000_000),
            reconnects: load(&live.reconnects),
            rate_limits: load(&live.rate_limits),
            gaps: load(&live.gaps),
            missing_trades: load(&live.missing_trades),
            refilled: load(&live.refilled),
            duplicates: load(&live.duplicates),
            last_error: live.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` (HTTP 503) while ingest cannot journal: see `reason`.
    status: &'static str,
    /// Why the server is degraded (absent when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The server's version.
    version: &'static str,
    /// Seconds since the server started.
    uptime_s: u64,
    /// The data epoch (decimal text of a u64; changes when sequence numbers restart).
    epoch: String,
    /// The newest sequence number.
    head_seq: u64,
    /// Feeds by name.
    feeds: HashMap<String, FeedHealth>,
    /// Open binary-protocol connections.
    connections: u64,
    /// This node's JetStream role and replication state (absent when standalone).
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterHealth>,
}

/// A node's part in a JetStream cluster, in `/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterHealth {
    /// `origin` or `edge`.
    role: &'static str,
    /// `publishing`, `following`, `connecting`, `reconnecting`, `waiting for the lease`, or
    /// `refused` (another origin publishes this epoch; this one serves locally only).
    state: &'static str,
    /// The last error, kept until the next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// Origin: the last seq handed to JetStream.
    published_seq: u64,
    /// Origin: the last seq JetStream acknowledged.
    acked_seq: u64,
    /// Edge: the last seq written here from the stream.
    applied_seq: u64,
    /// Origin: records sequenced and not yet acknowledged (replication lag); edge: stream
    /// messages not yet consumed.
    lag: u64,
    /// Connections made again after a failure.
    reconnects: u64,
}

/// Server status: uptime, epoch, head sequence, feeds and connections.
#[utoipa::path(get, path = "/health", tag = "seed",
    responses((status = 200, description = "The server is up", body = Health),
        (status = 503, description = "Degraded: ingest cannot write its journal (ingest resumes \
            by itself once writes succeed)", body = Health)))]
async fn health(State(s): State<HttpState>) -> (axum::http::StatusCode, Json<Health>) {
    let feeds = s
        .services
        .query
        .shared
        .feeds
        .iter()
        .map(|f| {
            let failed = f.error.lock().map(|e| e.is_some()).unwrap_or(false);
            let live = f.live.as_ref().map(LiveHealth::of);
            let state = if failed {
                "failed"
            } else if f.finished.load(Ordering::Acquire) {
                "finished"
            } else if live.as_ref().is_some_and(|l| !l.connected) {
                "reconnecting"
            } else {
                "up"
            };
            (
                f.name.clone(),
                FeedHealth {
                    state,
                    ingested: f.ingested.load(Ordering::Relaxed),
                    live,
                },
            )
        })
        .collect();
    let reason = s.services.query.shared.ingest.degraded();
    let code = if reason.is_some() {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        axum::http::StatusCode::OK
    };
    let body = Json(Health {
        status: if reason.is_some() { "degraded" } else { "ok" },
        reason,
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: s.started.elapsed().as_secs(),
        epoch: s.services.query.epoch().0.to_string(),
        head_seq: s.services.query.head().0,
        feeds,
        connections: s.services.limits.total(),
        cluster: s.services.query.shared.cluster.as_ref().map(|c| {
            let (state, last_error) = c.state();
            ClusterHealth {
                role: c.role_name(),
                state,
                last_error,
                published_seq: c.published.load(Ordering::Relaxed),
                acked_seq: c.acked.load(Ordering::Relaxed),
                applied_seq: c.applied.load(Ordering::Relaxed),
                lag: c.lag(s.services.query.head().0),
                reconnects: c.reconnects.load(Ordering::Relaxed),
            }
        }),
    });
    (code, body)
}

/// One instrument in `/symbols`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SymbolEntry {
    /// The symbol.
    symbol: String,
    /// Its instrument id in the binary protocol.
    id: u32,
    /// The venue's definition, where a live feed loaded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    definition: Option<DefinitionEntry>,
}

/// A venue's definition of an instrument in `/symbols` (decimal text, exact).
#[derive(Debug, Serialize, ToSchema)]
pub struct DefinitionEntry {
    /// The base asset.
    base: String,
    /// The quote asset.
    quote: String,
    /// The price increment.
    tick_size: String,
    /// The size increment.
    lot_size: String,
    /// The least order size (`"0"`: none given).
    min_size: String,
    /// The least order value in the quote asset (`"0"`: none given).
    min_notional: String,
    /// Whether the venue says it trades now.
    trading: bool,
}

impl DefinitionEntry {
    fn of(d: &tickd_formats::venue::instruments::Definition) -> Self {
        let text = |raw: i128| format!("{:#}", tickd_protocol::Scaled::of(raw, 9));
        Self {
            base: d.base.clone(),
            quote: d.quote.clone(),
            tick_size: text(i128::from(d.tick_size.raw())),
            lot_size: text(i128::from(d.lot_size.raw())),
            min_size: text(i128::from(d.min_size.raw())),
            min_notional: text(i128::from(d.min_notional.raw())),
            trading: d.trading,
        }
    }
}

/// `GET /symbols`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SymbolList {
    /// The instruments of this page, in id order.
    symbols: Vec<SymbolEntry>,
    /// How many.
    count: usize,
    /// Where the next page starts (pass it as `from_id`); `null` on the last page. Also in the
    /// `X-Next-From-Id` header.
    next_from_id: Option<u32>,
}

/// Most instruments one `/symbols` answer lists.
pub const SYMBOLS_PAGE: u32 = 4_096;

/// The instruments the server knows, a page at a time in id order.
#[utoipa::path(get, path = "/symbols", tag = "seed",
    params(
        ("from_id" = Option<u32>, Query, description = "First instrument id of the page (default 0)"),
        ("limit" = Option<u32>, Query, description = "Most instruments in the page, 1 to 4096 (default 4096)"),
    ),
    responses(
        (status = 200, description = "A page of instruments; header X-Next-From-Id names the next", body = SymbolList),
        (status = 400, description = "A bad from_id or limit", body = ErrorBody),
    ))]
async fn symbols(State(s): State<HttpState>, Query(q): Params) -> Result<Response, ApiError> {
    let page =
        super::params::page_of(&q, "from_id", SYMBOLS_PAGE).map_err(ApiError::bad_parameter)?;
    let (list, next) = s.services.query.instrument_page("", page);
    let definitions = &s.services.query.shared.definitions;
    let symbols: Vec<SymbolEntry> = list
        .iter()
        .map(|i| SymbolEntry {
            symbol: i.symbol.as_str().to_owned(),
            id: i.id.0,
            definition: definitions.get(&i.symbol).as_ref().map(DefinitionEntry::of),
        })
        .collect();
    let count = symbols.len();
    let next_from_id = next.map(|id| id.0);
    let body = Json(SymbolList {
        symbols,
        count,
        next_from_id,
    });
    Ok(super::params::with_next(body, next_from_id))
}

/// Last trade and last quote of a symbol, and the seq they are valid at.
pub(crate) fn latest(
    s: &HttpState,
    symbol: &tickd_protocol::Symbol,
) -> Result<(Option<TickRecord>, Option<TickRecord>, Seq), ApiError> {
    Ok(latest_of(s, instrument(s, symbol)?))
}

/// The instrument id of `symbol`.
///
/// # Errors
///
/// 404 for an unknown symbol.
pub(crate) fn instrument(
    s: &HttpState,
    symbol: &tickd_protocol::Symbol,
) -> Result<InstrumentId, ApiError> {
    s.services
        .query
        .resolve(0, std::slice::from_ref(symbol))
        // One id per symbol asked: one symbol in, one id out.
        .map(|ids| ids[0])
        .map_err(|_| ApiError::unknown_symbol(symbol.as_str()))
}

/// Last trade and last quote of instrument `id`, and the seq they are valid at.
pub(crate) fn latest_of(
    s: &HttpState,
    id: InstrumentId,
) -> (Option<TickRecord>, Option<TickRecord>, Seq) {
    let snap = s.services.query.snapshot(Some(&[id]), &[]);
    let pick = |k: TickKind| snap.ticks.iter().find(|t| t.kind == k as u8).copied();
    (pick(TickKind::Trade), pick(TickKind::Quote), snap.seq)
}

/// `GET /price/latest`: the last trade and the top of book. Prices and sizes are exact decimal
/// numbers, `null` before the first trade or quote.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceLatest {
    /// The symbol.
    #[schema(value_type = String)]
    symbol: AsText<Symbol>,
    /// Last trade price.
    #[schema(value_type = Option<f64>)]
    price: Option<ExactPrice>,
    /// Last trade size.
    #[schema(value_type = Option<f64>)]
    size: Option<ExactQty>,
    /// Best bid price.
    #[schema(value_type = Option<f64>)]
    bid: Option<ExactPrice>,
    /// Best ask price.
    #[schema(value_type = Option<f64>)]
    ask: Option<ExactPrice>,
    /// Best bid size.
    #[schema(value_type = Option<f64>)]
    bid_size: Option<ExactQty>,
    /// Best ask size.
    #[schema(value_type = Option<f64>)]
    ask_size: Option<ExactQty>,
    /// `ts_event` of the newer of the two, RFC 3339 with nanoseconds.
    #[schema(value_type = Option<String>)]
    time: Option<Rfc3339>,
    /// The same time in ms since the Unix epoch (0 when there is none).
    t: u64,
    /// The same time in ns since the Unix epoch, as decimal text.
    #[schema(value_type = String)]
    ts_ns: AsText<u64>,
    /// Sequence number of that tick.
    seq: u64,
    /// The head sequence number the answer is valid at.
    as_of_seq: u64,
    /// The data epoch (decimal text of a u64).
    #[schema(value_type = String)]
    epoch: AsText<u64>,
}

/// The query of a route that takes only `symbol` (others are ignored). Typed rather than a map:
/// `/price/latest` is the route clients poll.
#[derive(Debug, serde::Deserialize)]
pub struct SymbolQuery {
    symbol: Option<String>,
}

/// The last trade and the top of book of one symbol.
#[utoipa::path(get, path = "/price/latest", tag = "seed",
    params(("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol, e.g. AAPL")),
    responses(
        (status = 200, description = "Last trade and BBO", body = PriceLatest),
        (status = 400, description = "Missing or malformed symbol", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
    ))]
async fn price_latest(
    State(s): State<HttpState>,
    q: Result<Query<SymbolQuery>, QueryRejection>,
) -> Result<JsonBody<PriceLatest>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_parameter(e.body_text()))?;
    let symbol = symbol_param("symbol", q.symbol.as_deref())?;
    let id = instrument(&s, &symbol)?;
    let (trade, quote, seq) = latest_of(&s, id);
    let sc = s.services.query.scales(id);
    let tr = trade.and_then(|t| t.trade());
    let qu = quote.and_then(|t| t.quote());
    let ts = trade.or(quote).map_or(0, |t| t.ts_event);
    Ok(JsonBody {
        value: PriceLatest {
            symbol: AsText(symbol),
            price: tr.map(|t| ExactPrice(t.price, sc)),
            size: tr.map(|t| ExactQty(t.size, sc)),
            bid: qu.map(|q| ExactPrice(q.bid_px, sc)),
            ask: qu.map(|q| ExactPrice(q.ask_px, sc)),
            bid_size: qu.map(|q| ExactQty(q.bid_sz, sc)),
            ask_size: qu.map(|q| ExactQty(q.ask_sz, sc)),
            time: (ts != 0).then_some(Rfc3339(UnixNanos(ts))),
            t: ts / 1_000_000,
            ts_ns: AsText(ts),
            seq: trade.or(quote).map_or(0, |t| t.seq),
            as_of_seq: seq.0,
            epoch: AsText(s.services.query.epoch().0),
        },
        // About 300 bytes with every field set.
        capacity: 512,
    })
}

/// An OHLCV candle as the seed dialect renders it: exact decimal numbers, times in RFC 3339
/// and in ms since the Unix epoch.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeedCandle {
    /// Open time, RFC 3339.
    #[schema(value_type = String)]
    time: Rfc3339,
    /// Open time, ms since the Unix epoch.
    t: u64,
    /// First trade price.
    #[schema(value_type = Option<f64>)]
    open: ExactPrice,
    /// Highest trade price.
    #[schema(value_type = Option<f64>)]
    high: ExactPrice,
    /// Lowest trade price.
    #[schema(value_type = Option<f64>)]
    low: ExactPrice,
    /// Last trade price.
    #[schema(value_type = Option<f64>)]
    close: ExactPrice,
    /// Traded quantity.
    #[schema(value_type = Option<f64>)]
    volume: ExactVolume,
    /// Number of trades.
    trades: u64,
    /// Volume-weighted average price (`null` when no volume).
    #[schema(value_type = Option<f64>)]
    vwap: Option<ExactPrice>,
    /// Whether the interval has ended (a closed candle never changes).
    closed: bool,
    /// Revision: bumped on every update of this candle.
    rev: u32,
}

/// The scales of the instrument `candles` belong to (one instrument per answer; 9:9 when there
/// are none: nothing to render).
pub(crate) fn candle_scales(s: &HttpState, candles: &[CandleRecord]) -> Scales {
    candles.first().map_or(Scales::DEFAULT, |c| {
        s.services.query.scales(InstrumentId(c.instrument_id))
    })
}

/// A candle of an instrument with scales `sc` as the seed dialect renders it. The VWAP (notional
/// over volume) is at the price scale, truncated.
pub(crate) fn candle_json(c: &CandleRecord, sc: Scales) -> SeedCandle {
    let [o, h, l, cl] = c.ohlc();
    let vwap = i128::try_from(c.volume_total())
        .ok()
        .filter(|v| *v != 0)
        .and_then(|v| i64::try_from(c.notional() / v).ok())
        .map(|v| ExactPrice(Price::from_raw(v), sc));
    SeedCandle {
        time: Rfc3339(UnixNanos(c.ts_open)),
        t: c.ts_open / 1_000_000,
        open: ExactPrice(o, sc),
        high: ExactPrice(h, sc),
        low: ExactPrice(l, sc),
        close: ExactPrice(cl, sc),
        volume: ExactVolume(c.volume_total(), sc),
        trades: c.trades,
        vwap,
        closed: c.is_closed(),
        rev: c.version,
    }
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
) -> Result<(Vec<CandleRecord>, bool, Seq), ApiError> {
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
        .query
        .answer(0, &spec)
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

/// `GET /candles`: a page of candles.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandlePage {
    /// The symbol.
    symbol: String,
    /// The interval's name (`1m`).
    interval: &'static str,
    /// How empty intervals are treated: `skip` (no candle for an interval without trades).
    empty: &'static str,
    /// The candles, oldest first.
    candles: Vec<SeedCandle>,
    /// When paging forward from `start`: the `start` of the next page (`null` on the last).
    #[schema(value_type = Option<String>)]
    next_start: Option<Rfc3339>,
    /// The head sequence number the answer is valid at.
    as_of_seq: u64,
    /// The data epoch (decimal text of a u64).
    epoch: String,
}

/// Candles of one symbol: from `start` forward (paged with `next_start`), or the latest `limit`.
#[utoipa::path(get, path = "/candles", tag = "seed",
    params(
        ("symbol" = String, Query, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol"),
        ("interval" = Option<super::IntervalName>, Query, description = "1s 1m 5m 15m 1h 4h 1d (default 1m)"),
        ("start" = Option<String>, Query, description = "From this time (RFC 3339, or Unix s/ms/ns)"),
        ("end" = Option<String>, Query, description = "Before this time (RFC 3339, or Unix s/ms/ns)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 5000, description = "At most this many (default 500)"),
    ),
    responses(
        (status = 200, description = "A page of candles", body = CandlePage),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
    ))]
async fn candles(
    State(s): State<HttpState>,
    Query(q): Params,
) -> Result<Json<CandlePage>, ApiError> {
    let symbol = symbol_param("symbol", q.get("symbol").map(String::as_str))?;
    let interval = interval_param("interval", q.get("interval").map_or("1m", String::as_str))?;
    let start = q.get("start").map(|v| time_param("start", v)).transpose()?;
    let end = q.get("end").map(|v| time_param("end", v)).transpose()?;
    let limit = limit_param(&q, 500, 5_000)?;
    let (list, more, head) = query_candles(&s, symbol, interval, start, end, limit)?;
    let sc = candle_scales(&s, &list);
    let next_start = match (more, start, list.last()) {
        (true, Some(_), Some(last)) => Some(Rfc3339(UnixNanos(last.ts_open + interval.nanos()))),
        _ => None,
    };
    Ok(Json(CandlePage {
        symbol: symbol.as_str().to_owned(),
        interval: interval.name(),
        empty: "skip",
        candles: list.iter().map(|c| candle_json(c, sc)).collect(),
        next_start,
        as_of_seq: head.0,
        epoch: s.services.query.epoch().0.to_string(),
    }))
}

/// `GET /api/v1/market/quote/{symbol}`: the original service's quote.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketQuote {
    /// The symbol.
    symbol: String,
    /// Last trade price.
    #[schema(value_type = Option<f64>)]
    price: Option<ExactPrice>,
    /// Last price minus the previous day's close.
    #[schema(value_type = Option<f64>)]
    change: Option<ExactPrice>,
    /// `change` as a percentage of the previous day's close.
    #[serde(rename = "changePercent")]
    #[schema(value_type = Option<f64>)]
    change_percent: Option<ExactPrice>,
    /// Today's traded quantity (the current 1d candle).
    #[schema(value_type = Option<f64>)]
    volume: Option<ExactVolume>,
    /// `ts_event` of the last trade or quote, RFC 3339.
    #[schema(value_type = Option<String>)]
    timestamp: Option<Rfc3339>,
    /// Best bid price.
    #[schema(value_type = Option<f64>)]
    bid: Option<ExactPrice>,
    /// Best ask price.
    #[schema(value_type = Option<f64>)]
    ask: Option<ExactPrice>,
    /// Sequence number of the last trade or quote.
    seq: u64,
}

/// Price, change since the previous close, and today's volume of one symbol.
#[utoipa::path(get, path = "/api/v1/market/quote/{symbol}", tag = "seed",
    params(("symbol" = String, Path, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol")),
    responses(
        (status = 200, description = "The quote", body = MarketQuote),
        (status = 400, description = "Malformed symbol", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
    ))]
async fn quote(
    State(s): State<HttpState>,
    Path(symbol): Path<String>,
) -> Result<Json<MarketQuote>, ApiError> {
    let symbol = symbol_param("symbol", Some(&symbol))?;
    let id = instrument(&s, &symbol)?;
    let sc = s.services.query.scales(id);
    let (trade, quote, _) = latest_of(&s, id);
    let days = s.services.query.shared.candles.candles(
        id,
        Interval::D1,
        UnixNanos(0),
        UnixNanos(u64::MAX),
        tickd_engine::Take::Last(2),
    );
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
    Ok(Json(MarketQuote {
        symbol: symbol.as_str().to_owned(),
        price: last.map(|p| ExactPrice(p, sc)),
        change: change.map(|p| ExactPrice(p, sc)),
        // A percentage in 1e-9 units whatever the instrument's scales.
        change_percent: change_pct.map(|p| ExactPrice(p, Scales::DEFAULT)),
        volume: today.map(|c| ExactVolume(c.volume_total(), sc)),
        timestamp: (ts != 0).then_some(Rfc3339(UnixNanos(ts))),
        bid: qu.map(|q| ExactPrice(q.bid_px, sc)),
        ask: qu.map(|q| ExactPrice(q.ask_px, sc)),
        seq: trade.or(quote).map_or(0, |t| t.seq),
    }))
}

/// `GET /api/v1/market/historical/{symbol}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Historical {
    /// The symbol.
    symbol: String,
    /// The interval's name.
    interval: &'static str,
    /// The latest candles, oldest first.
    data: Vec<SeedCandle>,
}

/// The latest `limit` candles of one symbol.
#[utoipa::path(get, path = "/api/v1/market/historical/{symbol}", tag = "seed",
    params(
        ("symbol" = String, Path, pattern = r"^[A-Za-z0-9._:/-]{1,32}$", example = "AAPL", description = "The symbol"),
        ("interval" = Option<super::IntervalName>, Query, description = "1s 1m 5m 15m 1h 4h 1d (default 1d); `timeframe` is an alias"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 5000, description = "At most this many (default 100)"),
    ),
    responses(
        (status = 200, description = "The candles", body = Historical),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
    ))]
async fn historical(
    State(s): State<HttpState>,
    Path(symbol): Path<String>,
    Query(q): Params,
) -> Result<Json<Historical>, ApiError> {
    let symbol = symbol_param("symbol", Some(&symbol))?;
    let raw = q
        .get("interval")
        .or_else(|| q.get("timeframe"))
        .map_or("1d", String::as_str);
    let interval = interval_param("interval", raw)?;
    let limit = limit_param(&q, 100, 5_000)?;
    let (list, _, _) = query_candles(&s, symbol, interval, None, None, limit)?;
    let sc = candle_scales(&s, &list);
    Ok(Json(Historical {
        symbol: symbol.as_str().to_owned(),
        interval: interval.name(),
        data: list.iter().map(|c| candle_json(c, sc)).collect(),
    }))
}
