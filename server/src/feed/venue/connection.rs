//! One WebSocket connection to a venue: opened (TLS for `wss://`, webpki roots), subscribed with
//! every outgoing message paced by a strict limiter, and read one message at a time.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use governor::{Quota, RateLimiter};
use tickd_formats::venue::subscribe::Subscription;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A strict rate: one permit per period, no burst.
pub type Limiter = governor::DefaultDirectRateLimiter;

/// A limiter letting one event through per `period`, with no burst (a strict interval, which
/// is what venues that count messages per second enforce). A zero `period` is no limit to
/// speak of (a billion a second).
pub fn strict(period: Duration) -> Arc<Limiter> {
    Arc::new(RateLimiter::direct(strict_quota(period)))
}

/// One cell per `period`, a burst of one.
fn strict_quota(period: Duration) -> Quota {
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(NonZeroU32::MIN)
}

/// How long opening a connection (TCP, TLS, the WebSocket handshake) may take.
pub(super) const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest message accepted from a venue: a full order book snapshot is well below it.
const MAX_MESSAGE: usize = 16 << 20;

/// An open, subscribed connection.
pub(super) struct Connection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    sends: Arc<Limiter>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens `sub.url` and sends its subscribe messages, each after a permit from a fresh
    /// limiter of `sub.message_period` (per connection, as the venues count).
    ///
    /// # Errors
    ///
    /// A message saying what failed: the URL, the handshake (with the HTTP status the venue
    /// answered, e.g. 429 or 418 when rate-limited), a send, or the timeout.
    pub(super) async fn open(sub: Arc<Subscription>) -> Result<Self, String> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let connect = tokio_tungstenite::connect_async_with_config(&sub.url, Some(config), true);
        let (ws, _response) = match tokio::time::timeout(OPEN_TIMEOUT, connect).await {
            Err(_) => return Err(format!("no connection within {OPEN_TIMEOUT:?}")),
            Ok(Err(e)) => return Err(format!("connect: {e}")),
            Ok(Ok(ok)) => ok,
        };
        let mut conn = Self {
            ws,
            sends: strict(sub.message_period),
        };
        for m in &sub.messages {
            conn.send(m).await?;
        }
        Ok(conn)
    }

    /// Sends one text message, after the limiter's permit.
    ///
    /// # Errors
    ///
    /// The connection failed.
    pub(super) async fn send(&mut self, text: &str) -> Result<(), String> {
        self.sends.until_ready().await;
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// The next message: `None` once the connection has ended. Pings are answered by the
    /// WebSocket layer as they are read.
    pub(super) async fn next(&mut self) -> Option<Result<Message, String>> {
        self.ws
            .next()
            .await
            .map(|r| r.map_err(|e| format!("read: {e}")))
    }

    /// The next message if one is ready now, without waiting.
    pub(super) fn ready(&mut self) -> Option<Option<Result<Message, String>>> {
        futures_util::FutureExt::now_or_never(self.next())
    }

    /// Closes the connection politely (a close frame), waiting briefly.
    pub(super) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn the_limiter_is_strict_one_per_period_with_no_burst() {
        // Binance counts messages per second and drops a connection over five: a bucket that
        // saved up a burst would send five at once after a quiet spell.
        let clock = FakeRelativeClock::default();
        let limiter =
            RateLimiter::direct_with_clock(strict_quota(Duration::from_millis(250)), clock.clone());
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err(), "no second within the period");
        clock.advance(Duration::from_millis(249));
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(1));
        assert!(limiter.check().is_ok());
        // A long quiet spell saves up nothing.
        clock.advance(Duration::from_secs(60));
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
    }
}
