//! A WebSocket subscriber of tickd's seed dialect (`/ws`), for the fan-out scenario: it
//! subscribes to trades and records each `trade` message's latency from the two numbers it
//! needs, `trade_id` (the tick number) and `ts_ns` (`ts_event`), found by scanning the text
//! rather than parsing the whole JSON, so the load generator stays cheap.

use std::net::SocketAddr;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::pace::{Recorder, Schedule};
use crate::record::{Interest, Mix, now_ns};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A subscribed seed-dialect WebSocket.
pub(crate) struct WsReceiver {
    socket: Socket,
}

impl WsReceiver {
    /// Connects to `ws://{addr}/ws` and subscribes to the trades of `interest`'s symbols.
    pub(crate) async fn connect(
        addr: SocketAddr,
        mix: &Mix,
        interest: &Interest,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !interest.kinds.quotes(),
            "the WebSocket subscriber takes trades only (quotes are conflated per batch)"
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .context("WebSocket connect")?;
        let symbols: Vec<String> = mix.symbols()[..interest.symbols as usize]
            .iter()
            .map(ToString::to_string)
            .collect();
        let sub = serde_json::json!({
            "type": "subscribe",
            "data": {"symbols": symbols, "channels": ["trades"]},
        });
        socket.send(Message::text(sub.to_string())).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"subscribed\"") => break,
                Some(Ok(Message::Text(t))) if t.contains("\"error\"") => {
                    anyhow::bail!("subscribe refused: {t}")
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("closed before the subscription was acknowledged"),
            }
        }
        Ok(Self { socket })
    }

    /// Receives until `expected` trades or the schedule's deadline.
    pub(crate) async fn receive(mut self, schedule: Schedule, expected: u64) -> Recorder {
        let mut rec = Recorder::new(schedule, expected);
        schedule
            .until_deadline(async {
                while !rec.done() {
                    match self.socket.next().await {
                        Some(Ok(Message::Text(t))) => {
                            if let Some((number, ts)) = trade_of(&t) {
                                rec.record(now_ns(), ts, number);
                            }
                        }
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    }
                }
            })
            .await;
        rec
    }
}

/// `(trade_id, ts_ns)` of a seed-dialect `trade` message; `None` for any other message.
fn trade_of(text: &str) -> Option<(u64, u64)> {
    if !text.contains("\"type\":\"trade\"") {
        return None;
    }
    Some((
        number_after(text, "\"trade_id\":")?,
        number_after(text, "\"ts_ns\":\"")?,
    ))
}

/// The decimal number that follows `key` in `text`.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trade_message_gives_its_number_and_stamp() {
        let text = r#"{"data":{"price":100.00000005,"side":"buy","size":1E-9,"symbol":"MSFT","t":1795229620561,"time":"2026-11-21T02:53:40.561398518Z","trade_id":7,"ts_ns":"1795229620561398518"},"epoch":"1","seq":9,"type":"trade"}"#;
        assert_eq!(trade_of(text), Some((7, 1_795_229_620_561_398_518)));
        assert_eq!(trade_of(r#"{"type":"pong"}"#), None);
        assert_eq!(number_after("\"a\":12,", "\"a\":"), Some(12));
    }
}
