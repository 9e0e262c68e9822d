//! The HTTP bridge (DESIGN.md §7): JSON over hyper (axum), in the dialects existing clients
//! speak, reading the same ring, latest table and candle book as the binary transports.
//!
//! - [`seed`]: the original service's routes (`/health`, `/symbols`, `/price/latest`,
//!   `/candles`, `/api/v1/market/...`).
//! - [`udf`]: TradingView UDF under `/udf`.
//! - [`binance`]: Binance-compatible REST under `/api/v3`.
//!
//! - [`ws`]: WebSockets, with the seed and Binance dialects in `ws/`.
//! - `state`, `error`, `params`: what every dialect shares; [`guard`] (tokens, rate limits),
//!   [`latency`] (per-route metrics), [`openapi`], [`json`] (exact numbers and times).
//!
//! Errors are JSON `{"code": "...", "message": "..."}` with the right status: 400 for a bad
//! parameter, 404 for an unknown symbol. Seed and UDF render prices and sizes as exact JSON
//! numbers (decimal text, never through a float); Binance renders decimal strings.

pub mod binance;
pub mod guard;
pub mod json;
pub mod latency;
pub mod openapi;
pub mod page;
pub mod seed;
pub mod udf;
pub mod ws;

mod error;
mod params;
pub mod serve;
mod state;

pub use error::{ApiError, ErrorBody};
pub use params::{IntervalName, NEXT_FROM_ID, interval_param, symbol_param, time_param};
pub use state::{HttpShared, HttpState};

use std::net::SocketAddr;

use anyhow::Context;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
        .route("/stream", axum::routing::get(ws_combined_upgrade))
        .merge(page::routes());
    // A layer costs a service clone per request: the guard is left out when it has nothing
    // to check (no tokens, no rate limit).
    if state.guard.checks_tokens() || state.guard.limits_rate() {
        app = app.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ));
    }
    app.layer(latency::LatencyLayer)
        .fallback(|uri: axum::http::Uri| async move {
            // Binance's clients read `{"code": <negative int>, "msg": …}` under /api/v3.
            if uri.path().starts_with("/api/") {
                return binance::unknown_route(uri.path()).into_response();
            }
            ApiError {
                status: StatusCode::NOT_FOUND,
                code: "not_found",
                message: "no such route".into(),
            }
            .into_response()
        })
        .with_state(state)
}

/// Counts a new WebSocket, or refuses it with 503 when the server's cap or the client IP's is
/// reached (one client cannot take every slot).
fn ws_permit(
    s: &HttpState,
    peer: Option<&axum::Extension<serve::PeerIp>>,
) -> Result<ws::WsPermit, ApiError> {
    let per_ip = match peer {
        Some(axum::Extension(serve::PeerIp(ip))) => {
            Some(s.ws_per_ip.try_acquire(*ip).map_err(|_| ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "too_many_websockets",
                message: format!(
                    "{} WebSockets are open from {ip}, the most one address may open \
                     (--max-connections-per-ip {})",
                    s.ws_per_ip.per_ip(),
                    s.ws_per_ip.per_ip()
                ),
            })?)
        }
        None => None,
    };
    s.websockets
        .try_acquire(s.max_websockets, per_ip)
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
    peer: Option<axum::Extension<serve::PeerIp>>,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let permit = ws_permit(&s, peer.as_ref())?;
    let start = ws::StartAt::now(&s);
    Ok(ws::configure(upgrade).on_upgrade(move |socket| {
        ws::serve(
            socket,
            s,
            Box::new(ws::auto::Auto::default()),
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
    peer: Option<&axum::Extension<serve::PeerIp>>,
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
    if streams.is_empty() && !combined {
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
    let permit = ws_permit(&s, peer)?;
    let start = ws::StartAt::now(&s);
    Ok(ws::configure(upgrade)
        .on_upgrade(move |socket| ws::serve(socket, s, Box::new(dialect), subs, start, permit)))
}

async fn ws_binance_upgrade(
    axum::extract::State(s): axum::extract::State<HttpState>,
    axum::extract::Path(stream): axum::extract::Path<String>,
    peer: Option<axum::Extension<serve::PeerIp>>,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Result<Response, ApiError> {
    ws_binance(s, peer.as_ref(), upgrade, &stream, false)
}

async fn ws_combined_upgrade(
    axum::extract::State(s): axum::extract::State<HttpState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    peer: Option<axum::Extension<serve::PeerIp>>,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Without `streams`, a socket the client fills with SUBSCRIBE messages (binance-connector's
    // combined client connects so).
    let names = q.get("streams").map_or("", String::as_str);
    ws_binance(s, peer.as_ref(), upgrade, names, true)
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
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind HTTP {addr}"))?;
    let local = listener.local_addr()?;
    let guard = std::sync::Arc::clone(&state.guard);
    // The peer address (an extension per request) only when the guard limits rates by it.
    let per_ip = guard.limits_rate();
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
    let limits = state.limits.clone();
    let app = router(state);
    let task = tokio::spawn(serve::serve(listener, app, limits, per_ip, shutdown));
    Ok((local, task))
}
