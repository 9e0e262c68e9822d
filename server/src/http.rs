//! The HTTP bridge (DESIGN.md §7): JSON over hyper (axum), in the dialects existing clients
//! speak, reading the same ring, latest table and candle book as the binary transports.
//!
//! - [`seed`]: the original service's routes (`/health`, `/symbols`, `/price/latest`,
//!   `/candles`, `/api/v1/market/...`).
//! - [`udf`]: TradingView UDF under `/udf`.
//! - [`binance`]: Binance-compatible REST under `/api/v3`.
//!
//! Errors are JSON `{"code": "...", "message": "..."}` with the right status: 400 for a bad
//! parameter, 404 for an unknown symbol. Seed and UDF render prices and sizes as exact JSON
//! numbers (decimal text, never through a float); Binance renders decimal strings.

pub mod binance;
pub mod guard;
pub mod json;
pub mod latency;
pub mod openapi;
pub mod seed;
pub mod udf;
pub mod ws;

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tickd_formats::time::ParseTimeError;
use tickd_protocol::{Interval, Symbol, UnixNanos};
use tokio::task::JoinHandle;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::net::Services;

/// What every handler gets: one shared [`HttpShared`] (axum clones the state per request, so
/// it is a single `Arc`).
#[derive(Clone, Debug)]
pub struct HttpState(std::sync::Arc<HttpShared>);

impl std::ops::Deref for HttpState {
    type Target = HttpShared;

    fn deref(&self) -> &HttpShared {
        &self.0
    }
}

/// The bridge's readers, limits and shutdown signal.
#[derive(Debug)]
pub struct HttpShared {
    /// The shared readers.
    pub services: Services,
    /// When the server started (for `uptime_s`).
    pub started: Instant,
    /// Fires when the server shuts down (WebSockets close with a reason).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Open WebSockets.
    pub websockets: std::sync::Arc<ws::WsCount>,
    /// Most open WebSockets.
    pub max_websockets: usize,
    /// Tokens, roles and rate limits.
    pub guard: std::sync::Arc<guard::Guard>,
    /// `/openapi.json`, rendered once by [`router`].
    pub openapi: std::sync::OnceLock<bytes::Bytes>,
}

impl HttpState {
    /// The bridge's state for `services` under `config`.
    pub fn new(
        services: Services,
        config: &crate::config::ServerConfig,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self(std::sync::Arc::new(HttpShared {
            services,
            started: Instant::now(),
            shutdown,
            websockets: std::sync::Arc::default(),
            max_websockets: config.max_websockets as usize,
            guard: std::sync::Arc::new(guard::Guard::new(
                std::sync::Arc::clone(&config.session.auth),
                config.http_rate,
            )),
            openapi: std::sync::OnceLock::new(),
        }))
    }
}

/// The body of every seed, UDF and operations error.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable: `bad_parameter`, `unknown_symbol`, `not_found`, `unauthenticated`, `forbidden`,
    /// `rate_limited`, `too_many_websockets`.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// An interval's name in the OpenAPI document. The handlers parse with [`Interval`]'s `FromStr`,
/// which also takes aliases (`1min`, `MINUTE`...); the document lists the canonical names.
#[derive(Debug, utoipa::ToSchema)]
pub enum IntervalName {
    /// One second.
    #[schema(rename = "1s")]
    S1,
    /// One minute.
    #[schema(rename = "1m")]
    M1,
    /// Five minutes.
    #[schema(rename = "5m")]
    M5,
    /// Fifteen minutes.
    #[schema(rename = "15m")]
    M15,
    /// One hour.
    #[schema(rename = "1h")]
    H1,
    /// Four hours.
    #[schema(rename = "4h")]
    H4,
    /// One day (UTC).
    #[schema(rename = "1d")]
    D1,
}

/// An API error: a stable code, a message a person can act on, and its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// 400: a parameter is missing or invalid.
    pub fn bad_parameter(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_parameter",
            message: message.into(),
        }
    }

    /// 500: the server failed to render an answer (a bug: the message says what failed).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: message.into(),
        }
    }

    /// 404: no such symbol.
    pub fn unknown_symbol(symbol: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "unknown_symbol",
            message: format!("unknown symbol {symbol:?}: GET /symbols lists them"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response()
    }
}

/// Parses a symbol parameter.
///
/// # Errors
///
/// 400 naming the parameter.
pub fn symbol_param(name: &str, value: Option<&str>) -> Result<Symbol, ApiError> {
    let v = value.ok_or_else(|| ApiError::bad_parameter(format!("missing parameter {name}")))?;
    Symbol::new(v).map_err(|e| ApiError::bad_parameter(format!("{name}={v:?}: {e}")))
}

/// Parses an interval parameter (`1m`, nautilus aliases).
///
/// # Errors
///
/// 400 naming the parameter.
pub fn interval_param(name: &str, value: &str) -> Result<Interval, ApiError> {
    value
        .parse()
        .map_err(|e| ApiError::bad_parameter(format!("{name}: {e}")))
}

/// Parses a time: RFC 3339, or integer seconds / milliseconds / nanoseconds by magnitude.
///
/// # Errors
///
/// 400 naming the parameter.
pub fn time_param(name: &str, value: &str) -> Result<UnixNanos, ApiError> {
    if let Ok(n) = value.parse::<u64>() {
        let ns = match n {
            0..=99_999_999_999 => n.checked_mul(1_000_000_000),
            100_000_000_000..=99_999_999_999_999 => n.checked_mul(1_000_000),
            _ => Some(n),
        };
        return ns
            .map(UnixNanos)
            .ok_or_else(|| ApiError::bad_parameter(format!("{name}={value}: out of range")));
    }
    tickd_formats::time::parse_rfc3339(value).map_err(|e| match e {
        ParseTimeError::Before1970(_) => {
            ApiError::bad_parameter(format!("{name}={value:?}: before 1970"))
        }
        _ => ApiError::bad_parameter(format!(
            "{name}={value:?}: expected RFC 3339 or a Unix time"
        )),
    })
}

/// The router of every dialect, and `/openapi.json` built from the same routes.
pub fn router(state: HttpState) -> axum::Router {
    let (rest, paths) = OpenApiRouter::new()
        .merge(seed::routes())
        .merge(udf::routes())
        .merge(binance::routes())
        .routes(routes!(metrics_text))
        .routes(routes!(openapi_json))
        .split_for_parts();
    let spec = openapi::document(
        paths,
        state.guard.checks_tokens(),
        state.guard.limits_rate(),
    )
    .to_pretty_json()
    .map(bytes::Bytes::from)
    .unwrap_or_default();
    let _ = state.openapi.set(spec);
    let mut app = rest
        .route("/ws", axum::routing::get(ws_seed_upgrade))
        .route("/ws/{stream}", axum::routing::get(ws_binance_upgrade))
        .route("/stream", axum::routing::get(ws_combined_upgrade));
    // A layer costs a service clone per request: the guard is left out when it has nothing
    // to check (no tokens, no rate limit).
    if state.guard.checks_tokens() || state.guard.limits_rate() {
        app = app.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ));
    }
    app.layer(latency::LatencyLayer)
        .fallback(|| async {
            ApiError {
                status: StatusCode::NOT_FOUND,
                code: "not_found",
                message: "no such route".into(),
            }
        })
        .with_state(state)
}

/// Counts a new WebSocket, or refuses it with 503 when the cap is reached.
fn ws_permit(s: &HttpState) -> Result<ws::WsPermit, ApiError> {
    s.websockets
        .try_acquire(s.max_websockets)
        .ok_or_else(|| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "too_many_websockets",
            message: format!(
                "{} WebSockets are open, the most this server allows: retry later",
                s.max_websockets
            ),
        })
}

async fn ws_seed_upgrade(
    axum::extract::State(s): axum::extract::State<HttpState>,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let permit = ws_permit(&s)?;
    let start = ws::StartAt::now(&s);
    Ok(ws::configure(upgrade).on_upgrade(move |socket| {
        ws::serve(
            socket,
            s,
            Box::new(ws::seed::Seed),
            ws::Subs::default(),
            start,
            permit,
        )
    }))
}

/// `/ws/<stream>` and `/stream?streams=a/b`: the streams are checked before the upgrade, so a
/// bad name or unknown symbol is a 400/404 the client can read.
fn ws_binance(
    s: HttpState,
    upgrade: axum::extract::WebSocketUpgrade,
    names: &str,
    combined: bool,
) -> Result<Response, ApiError> {
    let streams = names
        .split('/')
        .filter(|n| !n.is_empty())
        .map(ws::binance::Stream::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::bad_parameter)?;
    if streams.is_empty() {
        return Err(ApiError::bad_parameter(
            "no streams: name them as <symbol>@trade or <symbol>@kline_<interval>",
        ));
    }
    let mut dialect = ws::binance::Binance::new(combined);
    let mut subs = ws::Subs::default();
    dialect
        .add(&s, streams, &mut subs)
        .map_err(|message| ApiError {
            status: StatusCode::NOT_FOUND,
            code: "unknown_symbol",
            message,
        })?;
    let permit = ws_permit(&s)?;
    let start = ws::StartAt::now(&s);
    Ok(ws::configure(upgrade)
        .on_upgrade(move |socket| ws::serve(socket, s, Box::new(dialect), subs, start, permit)))
}

async fn ws_binance_upgrade(
    axum::extract::State(s): axum::extract::State<HttpState>,
    axum::extract::Path(stream): axum::extract::Path<String>,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Result<Response, ApiError> {
    ws_binance(s, upgrade, &stream, false)
}

async fn ws_combined_upgrade(
    axum::extract::State(s): axum::extract::State<HttpState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let names = q
        .get("streams")
        .ok_or_else(|| ApiError::bad_parameter("missing parameter streams (a/b/...)"))?;
    ws_binance(s, upgrade, names, true)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
async fn openapi_json(
    axum::extract::State(s): axum::extract::State<HttpState>,
) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        s.openapi.get().cloned().unwrap_or_default(),
    )
}

/// Prometheus text exposition: ingest, head seq, subscriber lag, drops and conflations,
/// connections by transport, request latency by route. Needs the admin role.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String,
        content_type = "text/plain")))]
async fn metrics_text(
    axum::extract::State(s): axum::extract::State<HttpState>,
) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::metrics::render(&s.services),
    )
}

/// Binds `addr` and serves the bridge until `shutdown` fires.
///
/// # Errors
///
/// If the address cannot be bound.
pub async fn start(
    addr: SocketAddr,
    state: HttpState,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind HTTP {addr}"))?;
    let local = listener.local_addr()?;
    let guard = std::sync::Arc::clone(&state.guard);
    // The peer address (an extension per request) only when the guard limits rates by it.
    let per_ip = guard.limits_rate();
    let app = router(state);
    let mut forget_stop = shutdown.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = every.tick() => guard.forget_idle(),
                _ = forget_stop.changed() => break,
            }
        }
    });
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.changed().await;
        };
        // Answers go out at once (no Nagle delay behind an unacknowledged segment).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let served = if per_ip {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        } else {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        };
        if let Err(e) = served {
            tracing::error!("HTTP bridge stopped: {e}");
        }
    });
    Ok((local, task))
}
