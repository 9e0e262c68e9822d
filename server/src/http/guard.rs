//! Access control in front of every route (DESIGN.md §8): request rate per client IP, then the
//! token, then its role, then request rate per token.
//!
//! - Token, when tokens are configured: `Authorization: Bearer <token>`, `X-API-Key: <token>`,
//!   or `?token=<token>` / `?api_key=<token>` for clients that cannot set headers (browsers'
//!   WebSocket API, TradingView's datafeed). Missing or unknown: 401 with `WWW-Authenticate`.
//! - Roles: `/metrics` needs `admin`; every other route but `/health`, `/openapi.json` and the
//!   live page's files (`/`, `/assets/…`) needs `subscribe`. Missing: 403.
//! - Rate: a token bucket of `--http-rate` requests/s (burst of the same size) per IP and per
//!   token (GCRA, governor). Over it: 429 with `Retry-After` in whole seconds.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use tickd_engine::Auth;
use tickd_protocol::Roles;

use super::{ApiError, HttpState};

/// The bridge's access rules.
#[derive(Debug)]
pub struct Guard {
    auth: Arc<Auth>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_token: Option<DefaultKeyedRateLimiter<String>>,
}

impl Guard {
    /// Rules for `auth`, with `rate` requests/s per IP and per token (0: unlimited).
    pub fn new(auth: Arc<Auth>, rate: u32) -> Self {
        let quota = NonZeroU32::new(rate).map(Quota::per_second);
        Self {
            auth,
            per_ip: quota.map(DefaultKeyedRateLimiter::keyed),
            per_token: quota.map(DefaultKeyedRateLimiter::keyed),
        }
    }

    /// Whether tokens are checked (the server has `--token`s).
    pub fn checks_tokens(&self) -> bool {
        !self.auth.is_open()
    }

    /// Whether request rates are limited (`--http-rate` above 0).
    pub fn limits_rate(&self) -> bool {
        self.per_ip.is_some()
    }

    /// Forgets buckets that have refilled (bounds memory to recently active clients).
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
        }
        if let Some(l) = &self.per_token {
            l.retain_recent();
        }
    }
}

/// The role a path needs (`None`: open to anyone).
pub(super) fn role_for(path: &str) -> Option<(Roles, &'static str)> {
    match path {
        "/health" | "/openapi.json" => None,
        // The live page's files hold no data; what the page reads carries the token.
        p if super::page::is_page(p) => None,
        "/metrics" => Some((Roles::ADMIN, "admin")),
        _ => Some((Roles::SUBSCRIBE, "subscribe")),
    }
}

/// The token a request carries, in the first form present.
fn token_of(req: &Request) -> Option<String> {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(t) = bearer {
        return Some(t.trim().to_owned());
    }
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_owned());
    }
    let q: Query<HashMap<String, String>> = Query::try_from_uri(req.uri()).ok()?;
    q.0.get("token").or_else(|| q.0.get("api_key")).cloned()
}

fn rate_limited(wait: std::time::Duration, whom: &str) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "rate_limited",
        message: format!("too many requests from this {whom}: retry in {secs} s"),
    }
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

/// The middleware.
pub async fn guard(State(s): State<HttpState>, req: Request, next: Next) -> Response {
    let g = &s.guard;
    // The limiters' own clocks: making a clock per request costs a CPUID (slow in a VM).
    // The peer address is there whenever a per-IP limiter is (`start` serves with it then).
    if let Some(l) = &g.per_ip
        && let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(not_until) = l.check_key(&peer.ip())
    {
        crate::metrics::http_rate_limited("ip");
        return rate_limited(not_until.wait_time_from(l.clock().now()), "address");
    }
    if g.auth.is_open() {
        return next.run(req).await;
    }
    let Some((role, role_name)) = role_for(req.uri().path()) else {
        return next.run(req).await;
    };
    let token = token_of(&req);
    let (roles, name) = match g.auth.check(token.as_deref()) {
        Ok((roles, name)) => (roles, name.to_owned()),
        Err(e) => {
            let mut r = ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthenticated",
                message: format!(
                    "{e}: send it as Authorization: Bearer <token>, X-API-Key: <token>, or ?token=<token>"
                ),
            }
            .into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    };
    if !roles.contains(role) {
        return ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("token {name:?} lacks the {role_name} role this route needs"),
        }
        .into_response();
    }
    if let Some(l) = &g.per_token
        && let Err(not_until) = l.check_key(&name)
    {
        crate::metrics::http_rate_limited("token");
        return rate_limited(not_until.wait_time_from(l.clock().now()), "token");
    }
    next.run(req).await
}
