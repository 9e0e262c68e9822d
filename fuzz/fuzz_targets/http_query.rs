//! Arbitrary query strings on every JSON route of the bridge, through the real router (axum's
//! extractors, the dialects' parameter parsing, the handlers). No input may panic or get a
//! 500: a bad parameter is a 4xx that says what.
#![no_main]

#[path = "../common/server.rs"]
mod server;

use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const ROUTES: &[&str] = &[
    "/health",
    "/symbols",
    "/price/latest",
    "/candles",
    "/api/v1/market/quote/AAPL",
    "/api/v1/market/historical/AAPL",
    "/udf/config",
    "/udf/symbols",
    "/udf/search",
    "/udf/history",
    "/udf/time",
    "/udf/quotes",
    "/api/v3/ping",
    "/api/v3/time",
    "/api/v3/exchangeInfo",
    "/api/v3/ticker/price",
    "/api/v3/klines",
    "/metrics",
];

/// Bytes a URI query may hold as they are; anything else is percent-encoded, so every input
/// reaches the parsers (which decode it back) rather than failing URI parsing first.
fn query_byte(b: u8, out: &mut String) {
    if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
        out.push(b as char);
    } else {
        out.push_str(&format!("%{b:02X}"));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let route = ROUTES[pick as usize % ROUTES.len()];
    let mut uri = String::with_capacity(route.len() + 1 + rest.len() * 3);
    uri.push_str(route);
    uri.push('?');
    for &b in rest {
        query_byte(b, &mut uri);
    }
    let Ok(request) = Request::get(&uri).body(axum::body::Body::empty()) else {
        return;
    };
    let f = server::fixture();
    let response = f
        .runtime
        .block_on(f.router.clone().oneshot(request))
        .unwrap();
    let status = response.status();
    assert!(
        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
        "{uri} answered {status}"
    );
});
