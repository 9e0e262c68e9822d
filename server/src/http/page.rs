//! The live page at `/`: symbols, a candlestick chart with volume for a chosen symbol and
//! interval updated live over the seed WebSocket, the last trades and quote, and the server's
//! state. Static assets compiled into the binary; the page reads the data routes like any
//! client (with `?token=` from its own URL when tokens are configured), so it needs no route
//! of its own beyond these files, which are open (they hold no data).
//!
//! The chart is TradingView's Lightweight Charts 4.2.2 (Apache-2.0), vendored from the npm
//! registry by `page/vendor/vendor.sh` with its licence beside it.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;

use super::HttpState;

const INDEX: &str = include_str!("page/index.html");
const APP: &str = include_str!("page/app.js");
const CHARTS: &str = include_str!("page/vendor/lightweight-charts.standalone.production.js");
const CHARTS_LICENSE: &str = include_str!("page/vendor/LICENSE-lightweight-charts");

/// Whether `path` is one of the page's files (open whatever the tokens).
pub(super) fn is_page(path: &str) -> bool {
    path == "/" || path.starts_with("/assets/")
}

fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            // Assets change with the binary; a short lifetime keeps an upgrade visible.
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}

/// The page's routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route(
            "/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP) }),
        )
        .route(
            "/assets/lightweight-charts.js",
            get(|| async { file("text/javascript; charset=utf-8", CHARTS) }),
        )
        .route(
            "/assets/LICENSE-lightweight-charts",
            get(|| async { file("text/plain; charset=utf-8", CHARTS_LICENSE) }),
        )
}
