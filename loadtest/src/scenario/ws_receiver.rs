//! A WebSocket subscriber of tickd's seed dialect (`/ws`), for the fan-out scenario: it
//! subscribes to trades and records each `trade` message's latency from the two numbers it
//! needs, `trade_id` (the tick number) and `ts_ns` (`ts_event`), found by scanning the text
//! rather than parsing the whole JSON, so the load generator stays cheap.
//!
//! tungstenite does the opening handshake; the subscription and every frame after it go
//! through [`crate::ws_frames`], which cuts frames out of one receive buffer in place. The
//! socket is read without waiting and drained until it would block, then waits for tokio's
//! readiness. Messages completed by one socket read share the receive stamp taken after that
//! read, as the TCP receiver stamps a frame.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::HandshakeError;

use crate::pace::{Recorder, Schedule};
use crate::record::{Interest, Mix, now_ns};
use crate::ws_frames::{self, Frame, FrameReader};

/// Receive buffer: room for a few hundred trade messages per read.
const BUFFER: usize = 256 * 1024;

/// tokio's socket as the blocking-style stream tungstenite's handshake wants: `WouldBlock`
/// until readable.
struct Nonblocking(TcpStream);

impl Read for Nonblocking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for Nonblocking {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A subscribed seed-dialect WebSocket.
pub(crate) struct WsReceiver {
    stream: TcpStream,
    frames: FrameReader,
}

impl WsReceiver {
    /// Connects to `ws://{addr}/ws` and subscribes to the trades of `interest`'s symbols,
    /// within 10 s.
    pub(crate) async fn connect(
        addr: SocketAddr,
        mix: &Mix,
        interest: &Interest,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !interest.kinds.quotes(),
            "the WebSocket subscriber takes trades only (quotes are conflated per batch)"
        );
        let symbols: Vec<String> = mix.symbols()[..interest.symbols as usize]
            .iter()
            .map(ToString::to_string)
            .collect();
        tokio::time::timeout(Duration::from_secs(10), Self::subscribe(addr, symbols))
            .await
            .with_context(|| format!("WebSocket subscription at {addr}: no answer in 10 s"))?
    }

    async fn subscribe(addr: SocketAddr, symbols: Vec<String>) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .context("WebSocket connect")?;
        stream.set_nodelay(true)?;
        let url = format!("ws://{addr}/ws");
        let mut attempt = tokio_tungstenite::tungstenite::client(url, Nonblocking(stream));
        // The server sends nothing after its 101 until it is asked: the handshake leaves no
        // frame bytes behind in tungstenite's buffer.
        let Nonblocking(mut stream) = loop {
            match attempt {
                Ok((ws, _)) => break ws.into_inner(),
                Err(HandshakeError::Interrupted(mid)) => {
                    mid.get_ref().get_ref().0.readable().await?;
                    attempt = mid.handshake();
                }
                Err(HandshakeError::Failure(e)) => anyhow::bail!("WebSocket handshake: {e}"),
            }
        };
        let sub = serde_json::json!({
            "type": "subscribe",
            "data": {"symbols": symbols, "channels": ["trades"]},
        });
        stream
            .write_all(&ws_frames::client_frame(
                ws_frames::TEXT,
                sub.to_string().as_bytes(),
            ))
            .await?;
        let mut me = Self {
            stream,
            frames: FrameReader::new(BUFFER),
        };
        loop {
            match me.frames.next()? {
                Some(Frame::Text(t)) if memchr::memmem::find(t, b"\"subscribed\"").is_some() => {
                    return Ok(me);
                }
                Some(Frame::Text(t)) if memchr::memmem::find(t, b"\"error\"").is_some() => {
                    anyhow::bail!("subscribe refused: {}", String::from_utf8_lossy(t))
                }
                Some(Frame::Close) => anyhow::bail!("closed before subscribing"),
                Some(_) => {}
                None => match me.frames.fill(&me.stream) {
                    Ok(0) => anyhow::bail!("closed before subscribing"),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        me.stream.readable().await?;
                    }
                    Err(e) => return Err(e).context("waiting for the subscription"),
                },
            }
        }
    }

    /// Receives until `expected` trades or the schedule's deadline.
    pub(crate) async fn receive(mut self, schedule: Schedule, expected: u64) -> Recorder {
        let mut rec = Recorder::new(schedule, expected);
        let mut stamp = now_ns();
        schedule
            .until_deadline(async {
                while !rec.done() {
                    match self.frames.next() {
                        Ok(Some(Frame::Text(t))) => {
                            if let Some((number, ts)) = trade_of(t) {
                                rec.gather(stamp, ts, number);
                            }
                        }
                        Ok(Some(Frame::Ping(p))) => {
                            // Best effort: a pong that would block is dropped (the server
                            // pings again before it gives up on a quiet client).
                            let _ = self
                                .stream
                                .try_write(&ws_frames::client_frame(ws_frames::PONG, p));
                        }
                        Ok(Some(Frame::Close)) | Err(_) => break,
                        Ok(Some(Frame::Other)) => {}
                        Ok(None) => {
                            // Everything received so far is counted before the next read.
                            rec.flush();
                            if rec.done() {
                                break;
                            }
                            match self.frames.fill(&self.stream) {
                                Ok(0) => break,
                                Ok(_) => stamp = now_ns(),
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                    if self.stream.readable().await.is_err() {
                                        break;
                                    }
                                }
                                Err(_) => break,
                            }
                        }
                    }
                }
            })
            .await;
        rec.flush();
        rec
    }
}

/// `(trade_id, ts_ns)` of a seed-dialect `trade` message; `None` for any other message.
///
/// tickd writes the keys sorted, so a trade ends `..."trade_id":N,"ts_ns":"T"},"epoch":"E",
/// "seq":S,"type":"trade"}` (no spaces): the `data` object closes at the last `}` but one, and
/// the two numbers are read backwards from there. Any other layout takes the general scan.
fn trade_of(text: &[u8]) -> Option<(u64, u64)> {
    const TRADE_ID: &[u8] = b"\"trade_id\":";
    const TS_NS: &[u8] = b",\"ts_ns\":\"";
    if text.ends_with(b"\"type\":\"trade\"}")
        && let Some(data_end) = memchr::memrchr(b'}', &text[..text.len() - 1])
        && let Some(ts_text) = text[..data_end].strip_suffix(b"\"")
        && let Some((ts, ts_at)) = trailing_number(ts_text)
        && let Some(id_text) = ts_text[..ts_at].strip_suffix(TS_NS)
        && let Some((number, id_at)) = trailing_number(id_text)
        && id_text[..id_at].ends_with(TRADE_ID)
    {
        return Some((number, ts));
    }
    memchr::memmem::find(text, b"\"type\":\"trade\"")?;
    Some((
        leading_number(after(text, TRADE_ID)?)?.0,
        leading_number(after(text, b"\"ts_ns\":\"")?)?.0,
    ))
}

/// The decimal number `text` ends with, and where it starts.
fn trailing_number(text: &[u8]) -> Option<(u64, usize)> {
    let digits = text.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let at = text.len() - digits;
    Some((leading_number(&text[at..])?.0, at))
}

/// What follows the first `key` in `text`.
fn after<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    Some(&text[memchr::memmem::find(text, key)? + key.len()..])
}

/// The decimal number (at most 19 digits: a u64 that cannot overflow) `text` starts with, and
/// the rest.
fn leading_number(text: &[u8]) -> Option<(u64, &[u8])> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let n = text[..digits]
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some((n, &text[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trade_message_gives_its_number_and_stamp() {
        let text = r#"{"data":{"price":100.00000005,"side":"buy","size":1E-9,"symbol":"MSFT","t":1795229620561,"time":"2026-11-21T02:53:40.561398518Z","trade_id":7,"ts_ns":"1795229620561398518"},"epoch":"1","seq":9,"type":"trade"}"#;
        assert_eq!(
            trade_of(text.as_bytes()),
            Some((7, 1_795_229_620_561_398_518))
        );
        let reordered =
            br#"{"type":"trade","seq":9,"data":{"ts_ns":"1795229620561398518","trade_id":7}}"#;
        assert_eq!(trade_of(reordered), Some((7, 1_795_229_620_561_398_518)));
        assert_eq!(trade_of(br#"{"type":"pong"}"#), None);
        assert_eq!(leading_number(b"12,x"), Some((12, &b",x"[..])));
        assert_eq!(leading_number(b"x"), None);
        assert_eq!(leading_number(b"99999999999999999999"), None);
    }
}
