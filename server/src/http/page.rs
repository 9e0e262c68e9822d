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
use axum::routing::get;

use super::HttpState;

/// The page's files: path, content type, body.
const FILES: [(&str, &str, &str); 4] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("page/index.html"),
    ),
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_str!("page/app.js"),
    ),
    (
        "/assets/lightweight-charts.js",
        "text/javascript; charset=utf-8",
        include_str!("page/vendor/lightweight-charts.standalone.production.js"),
    ),
    (
        "/assets/LICENSE-lightweight-charts",
        "text/plain; charset=utf-8",
        include_str!("page/vendor/LICENSE-lightweight-charts"),
    ),
];

/// Whether `path` is one of the page's files (open whatever the tokens).
pub(super) fn is_page(path: &str) -> bool {
    FILES.iter().any(|(p, _, _)| *p == path)
}

/// The page's routes.
pub fn routes() -> Router<HttpState> {
    FILES
        .into_iter()
        .fold(Router::new(), |router, (path, content_type, body)| {
            router.route(
                path,
                get(move || async move {
                    (
                        [
                            (CONTENT_TYPE, content_type),
                            // Assets change with the binary; a short lifetime keeps an upgrade
                            // visible.
                            (CACHE_CONTROL, "public, max-age=300"),
                        ],
                        body,
                    )
                }),
            )
        })
}
