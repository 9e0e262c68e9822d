//! What every handler shares: the read side, the guard, the socket cap, shutdown.

use std::time::Instant;

use super::{guard, ws};
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
    /// `/openapi.json`, rendered once by [`router`](super::router).
    pub openapi: std::sync::OnceLock<bytes::Bytes>,
    /// Connection caps and timeouts.
    pub limits: super::serve::HttpLimits,
    /// WebSockets open per client IP.
    pub ws_per_ip: std::sync::Arc<crate::net::limits::ConnectionLimits>,
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
            limits: super::serve::HttpLimits {
                header_timeout: config.http_header_timeout,
                connections: crate::net::limits::ConnectionLimits::new(
                    u64::from(config.max_http_connections),
                    config.max_connections_per_ip,
                    config.max_connections_per_token,
                ),
            },
            ws_per_ip: crate::net::limits::ConnectionLimits::new(
                u64::MAX,
                config.max_connections_per_ip,
                config.max_connections_per_token,
            ),
        }))
    }
}
