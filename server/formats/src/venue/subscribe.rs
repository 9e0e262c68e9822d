//! How to ask a venue for its public trades and top of book (sans-IO): the WebSocket URL, the
//! messages to send once connected, the keep-alive a venue requires, and its limits.
//!
//! | venue | default endpoint | channels | sent | keep-alive | lifetime |
//! |---|---|---|---|---|---|
//! | Binance spot | `wss://stream.binance.com:9443` | `<sym>@trade`, `<sym>@bookTicker` | nothing: streams in the URL (`/stream?streams=…`) | the venue pings (20 s), tungstenite answers | 24 h |
//! | Binance USD-M | `wss://fstream.binance.com` | `<sym>@aggTrade`, `<sym>@bookTicker` | as spot | as spot | 24 h |
//! | Binance COIN-M | `wss://dstream.binance.com` | as USD-M | as spot | as spot | 24 h |
//! | Coinbase Exchange | `wss://ws-feed.exchange.coinbase.com` | `matches`, `ticker`, `heartbeat` | one `subscribe` (within 5 s) | heartbeats (1/s per product) | — |
//! | OKX v5 | `wss://ws.okx.com:8443/ws/v5/public` | `trades`, `bbo-tbt` | one `subscribe` | text `ping` after 20 s without a message | — |
//! | Kraken v1 | `wss://ws.kraken.com` | `trade`, `spread` | one `subscribe` per channel | heartbeats (1/s when idle) | — |
//!
//! Outgoing messages are paced by [`Subscription::message_period`], a strict interval with no
//! burst (Binance drops a connection over 5 messages/s and bans repeat offenders; a token
//! bucket with a burst is what earns the ban). Source: the venues' public API documentation and
//! `../shared/research/feeds-and-scaleout.md` §A.2, §A.4.

use std::time::Duration;

use super::Venue;

/// Binance's limit of streams on one connection.
pub const BINANCE_MAX_STREAMS: usize = 1024;

/// What to open and send for one feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The WebSocket URL to open.
    pub url: String,
    /// Text messages to send once open, in order.
    pub messages: Vec<String>,
    /// A text message to send after this long without a message from the venue (OKX).
    pub keepalive: Option<(Duration, &'static str)>,
    /// The least time between two messages sent (a strict rate).
    pub message_period: Duration,
    /// How long the venue keeps a connection open (Binance: 24 h); a replacement opens before.
    pub lifetime: Option<Duration>,
}

impl Venue {
    /// The endpoint tickd opens when no URL is configured.
    pub const fn default_url(self) -> &'static str {
        match self {
            Self::Binance => "wss://stream.binance.com:9443",
            Self::BinanceFutures => "wss://fstream.binance.com",
            Self::BinanceDelivery => "wss://dstream.binance.com",
            Self::Coinbase => "wss://ws-feed.exchange.coinbase.com",
            Self::Okx => "wss://ws.okx.com:8443/ws/v5/public",
            Self::Kraken => "wss://ws.kraken.com",
        }
    }

    /// The REST endpoint tickd asks for instrument definitions and refills when no URL is
    /// configured.
    pub const fn default_rest_url(self) -> &'static str {
        match self {
            Self::Binance => "https://api.binance.com",
            Self::BinanceFutures => "https://fapi.binance.com",
            Self::BinanceDelivery => "https://dapi.binance.com",
            Self::Coinbase => "https://api.exchange.coinbase.com",
            Self::Okx => "https://www.okx.com",
            Self::Kraken => "https://api.kraken.com",
        }
    }

    /// The subscription for `symbols` (as the venue spells them; Binance's are lower-cased),
    /// at `url` (`None`: [`Venue::default_url`]; for Binance the base the `/stream` path is
    /// appended to).
    ///
    /// # Errors
    ///
    /// A message when `symbols` is empty, a symbol is not a valid tickd symbol once
    /// qualified, or there are more than Binance's 1,024 streams.
    pub fn subscription(
        self,
        url: Option<&str>,
        symbols: &[String],
    ) -> Result<Subscription, String> {
        if symbols.is_empty() {
            return Err(format!("{self}: no symbols"));
        }
        for s in symbols {
            self.symbol(s).map_err(|e| e.to_string())?;
            if s.contains(['"', '\\', '/']) && self != Self::Kraken {
                return Err(format!(
                    "{self}: symbol {s:?} has a character the venue does not use"
                ));
            }
        }
        let base = url.unwrap_or(self.default_url()).trim_end_matches('/');
        let json = |v: serde_json::Value| v.to_string();
        let mut sub = Subscription {
            url: base.to_owned(),
            messages: Vec::new(),
            keepalive: None,
            message_period: Duration::from_millis(250),
            lifetime: None,
        };
        match self {
            Self::Binance | Self::BinanceFutures | Self::BinanceDelivery => {
                let trades = if self == Self::Binance {
                    "trade"
                } else {
                    "aggTrade"
                };
                let streams: Vec<String> = symbols
                    .iter()
                    .flat_map(|s| {
                        let s = s.to_ascii_lowercase();
                        [format!("{s}@{trades}"), format!("{s}@bookTicker")]
                    })
                    .collect();
                if streams.len() > BINANCE_MAX_STREAMS {
                    return Err(format!(
                        "{self}: {} streams, more than the {BINANCE_MAX_STREAMS} Binance allows on one connection; split the symbols over several --feed options",
                        streams.len()
                    ));
                }
                sub.url = format!("{base}/stream?streams={}", streams.join("/"));
                // 24 h, less an hour: the replacement opens well before the cut.
                sub.lifetime = Some(Duration::from_secs(23 * 3600));
            }
            Self::Coinbase => {
                sub.messages.push(json(serde_json::json!({
                    "type": "subscribe",
                    "product_ids": symbols.iter().map(|s| s.to_ascii_uppercase()).collect::<Vec<_>>(),
                    "channels": ["matches", "ticker", "heartbeat"],
                })));
                // 8 requests/s per IP.
                sub.message_period = Duration::from_millis(125);
            }
            Self::Okx => {
                let args: Vec<serde_json::Value> = symbols
                    .iter()
                    .flat_map(|s| {
                        let s = s.to_ascii_uppercase();
                        [
                            serde_json::json!({"channel": "trades", "instId": s}),
                            serde_json::json!({"channel": "bbo-tbt", "instId": s}),
                        ]
                    })
                    .collect();
                sub.messages
                    .push(json(serde_json::json!({"op": "subscribe", "args": args})));
                sub.keepalive = Some((Duration::from_secs(20), "ping"));
                // 3 requests/s per connection.
                sub.message_period = Duration::from_millis(400);
            }
            Self::Kraken => {
                let pairs: Vec<String> = symbols.iter().map(|s| s.to_ascii_uppercase()).collect();
                for name in ["trade", "spread"] {
                    sub.messages.push(json(serde_json::json!({
                        "event": "subscribe",
                        "pair": pairs,
                        "subscription": {"name": name},
                    })));
                }
            }
        }
        Ok(sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_streams_go_in_the_url() {
        let sub = Venue::Binance
            .subscription(
                Some("ws://127.0.0.1:9/"),
                &["BTCUSDT".into(), "ethusdt".into()],
            )
            .unwrap();
        assert_eq!(
            sub.url,
            "ws://127.0.0.1:9/stream?streams=btcusdt@trade/btcusdt@bookTicker/ethusdt@trade/ethusdt@bookTicker"
        );
        assert!(sub.messages.is_empty());
        let futures = Venue::BinanceFutures
            .subscription(None, &["btcusdt".into()])
            .unwrap();
        assert_eq!(
            futures.url,
            "wss://fstream.binance.com/stream?streams=btcusdt@aggTrade/btcusdt@bookTicker"
        );
        let many: Vec<String> = (0..513).map(|i| format!("s{i}")).collect();
        assert!(
            Venue::Binance
                .subscription(None, &many)
                .unwrap_err()
                .contains("1024")
        );
    }

    #[test]
    fn other_venues_send_their_subscribe_messages() {
        let sub = Venue::Coinbase
            .subscription(None, &["btc-usd".into()])
            .unwrap();
        assert_eq!(sub.url, "wss://ws-feed.exchange.coinbase.com");
        assert_eq!(
            sub.messages,
            [
                r#"{"channels":["matches","ticker","heartbeat"],"product_ids":["BTC-USD"],"type":"subscribe"}"#
            ]
        );
        let sub = Venue::Okx.subscription(None, &["BTC-USDT".into()]).unwrap();
        assert_eq!(
            sub.messages,
            [
                r#"{"args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"bbo-tbt","instId":"BTC-USDT"}],"op":"subscribe"}"#
            ]
        );
        assert_eq!(sub.keepalive, Some((Duration::from_secs(20), "ping")));
        let sub = Venue::Kraken
            .subscription(None, &["XBT/USD".into()])
            .unwrap();
        assert_eq!(sub.messages.len(), 2);
        assert!(Venue::Kraken.subscription(None, &[]).is_err());
        assert!(Venue::Okx.subscription(None, &["BTC\"x".into()]).is_err());
    }
}
