//! Accepting and serving HTTP connections with limits (DESIGN.md §8): a cap on open
//! connections in all and per client IP (a refused connection gets a 503 that names the
//! limit), a header-read timeout that also closes keep-alive connections idle between requests
//! (hyper's, driven by tokio's timer), accept errors that back off and log at most once a
//! second, and a graceful shutdown. `axum::serve` has no timer, so none of its timeouts apply:
//! this replaces it with hyper's HTTP/1 connection builder.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::net::limits::{ConnectionLimits, Refused};

/// The client's IP, an extension of every request (per-IP caps on WebSockets).
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub std::net::IpAddr);

/// The bridge's connection limits.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Longest a client may take to send a request's headers, and longest a keep-alive
    /// connection may sit idle between requests.
    pub header_timeout: Duration,
    /// Open HTTP connections (WebSockets included) against `--max-http-connections` in all
    /// and `--max-connections-per-ip` per client IP.
    pub connections: Arc<ConnectionLimits>,
}

/// Logs at most once a second; counts what it did not log.
#[derive(Debug, Default)]
struct Throttled {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    fn warn(&mut self, what: &str) {
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(suppressed = self.suppressed, "{what}");
        self.suppressed = 0;
        self.last = Some(Instant::now());
    }
}

/// A 503 for a connection refused by a cap, then the close.
async fn refuse(mut tcp: tokio::net::TcpStream, why: String) {
    let body = format!("{{\"code\":\"limit_exceeded\",\"message\":\"{why}\"}}");
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = tcp.write_all(response.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

/// Serves `app` on `listener` under `limits` until `shutdown` fires, then lets requests in
/// flight finish (at most 5 s). `connect_info` adds each request's peer address as
/// [`ConnectInfo`] (for per-IP rate limits).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    connect_info: bool,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut accept_log = Throttled::default();
    let mut refuse_log = Throttled::default();
    let mut backoff = Duration::from_millis(5);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff = Duration::from_millis(5);
                    a
                }
                Err(e) => {
                    // Out of file descriptors, most often: wait for connections to close.
                    accept_log.warn(&format!("HTTP accept failed: {e}"));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let permit = match limits.connections.try_acquire(peer.ip()) {
            Ok(p) => p,
            Err(refused) => {
                let (why, limit) = match refused {
                    Refused::Total(n) => (
                        format!("too many HTTP connections (--max-http-connections {n})"),
                        "http_connections",
                    ),
                    Refused::PerIp(n) => (
                        format!(
                            "too many HTTP connections from {} (--max-connections-per-ip {n})",
                            peer.ip()
                        ),
                        "http_connections_per_ip",
                    ),
                };
                refuse_log.warn(&why);
                crate::metrics::refused(limit);
                tokio::spawn(refuse(tcp, why));
                continue;
            }
        };
        // Answers go out at once (no Nagle delay behind an unacknowledged segment).
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let service = tower::ServiceExt::map_request(
            app,
            move |mut req: hyper::Request<hyper::body::Incoming>| {
                if connect_info {
                    req.extensions_mut().insert(ConnectInfo(peer));
                }
                req.extensions_mut().insert(PeerIp(peer.ip()));
                req
            },
        );
        let conn = http
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            // A timeout or a reset is the client's business; nothing to report.
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let drained = async {
        while limits.connections.total() > 0 {
            let wait = limits.connections.released();
            if limits.connections.total() == 0 {
                break;
            }
            wait.await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drained).await;
}
