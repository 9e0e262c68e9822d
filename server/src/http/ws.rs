//! WebSocket delivery shared by the dialects ([`seed`] at `/ws`, [`binance`] at `/ws/<stream>`
//! and `/stream`): the IO loop of one socket around the same sans-IO delivery engine the
//! binary protocol uses ([`tickd_engine::Delivery`]), with the dialect as its renderer.
//!
//! Each socket is one engine subscription with its own cursor on the tick ring and the candle
//! ring; what the client subscribes to is its filter. Per wake-up the engine reads at most a
//! few batches of [`BATCH`] ticks and renders what the subscriptions select, within the
//! socket's byte budget (`--ws-send-budget-bytes`), then the loop writes it before reading
//! more. Quotes are conflated per batch to the latest per instrument and candle updates to the
//! latest per (instrument, interval): a reader that is behind catches up with current values
//! rather than every intermediate one. Trades are never conflated: a socket that falls behind
//! the ring gets a `gap` message (in dialects that have one) and continues from the oldest
//! record still held; one that cannot take what is queued within [`SEND_TIMEOUT`] is closed
//! with code 1008 and the reason.
//!
//! Liveness: the server pings a client it has heard nothing from for a heartbeat interval (however
//! busy the stream), sends the dialect's heartbeat message when the stream has been quiet for one,
//! and closes a socket that has sent nothing (pongs included) for the idle timeout, with code 1001
//! and the reason.

pub mod auto;
pub mod binance;
pub mod seed;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use tickd_engine::delivery::{DeliveryConfig, Dest, Render, SubSpec};
use tickd_engine::{Delivery, Filter};
use tickd_protocol::files::{CANDLE_SLOT_WORDS, TICK_SLOT_WORDS};
use tickd_protocol::{
    CandleRecord, Epoch, Gap, GapReason, Instrument, InstrumentId, Interval, Seq, TickKind,
    TickRecord,
};

use crate::net::delivery::{QueryStore, ShmRing, report};

use super::HttpState;

/// Ticks read from the ring per wake-up (16 KiB of buffer per socket: with 10,000 sockets,
/// per-socket buffers are most of the server's memory).
pub const BATCH: usize = 256;
/// Batches the engine reads per wake-up before the socket writes them and yields to others:
/// one, so what a socket holds at a time is one batch's messages (latency stays flat at 10
/// subscribers × 100,000 trades/s).
const FRAMES_PER_WAKE: usize = 1;
/// Bytes tungstenite reads from the socket at a time (its default, 128 KiB, is allocated per
/// socket up front; clients send only small JSON requests).
pub const READ_BUFFER: usize = 4 * 1024;
/// Largest message or frame a client may send (subscribe requests are well under it).
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// Most symbols one seed-dialect subscribe names, and most streams a Binance-dialect socket
/// holds (Binance's own limit per connection).
pub const MAX_WS_SYMBOLS: usize = 1_024;

/// Applies the bridge's WebSocket limits to an upgrade.
pub fn configure(upgrade: axum::extract::WebSocketUpgrade) -> axum::extract::WebSocketUpgrade {
    upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
}
/// Longest the server waits for the client's Close after sending its own.
pub const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// Longest a batch may take to be written before the socket counts as a slow consumer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a socket subscribes to, by instrument id.
#[derive(Debug, Default)]
pub struct Subs {
    /// Instruments whose trades are sent.
    pub trades: HashSet<u32>,
    /// Instruments whose quotes are sent (conflated).
    pub quotes: HashSet<u32>,
    /// (instrument, interval seconds) whose candle updates are sent (conflated).
    pub candles: HashSet<(u32, u32)>,
}

/// What a dialect asks of the loop after a client message.
#[derive(Debug, Default)]
pub struct Reply {
    /// Text messages to send now.
    pub messages: Vec<String>,
    /// Rewind (or skip) the socket's tick cursor to this seq.
    pub seek: Option<Seq>,
    /// Close the socket with this reason.
    pub close: Option<String>,
}

/// Id → symbol, refreshed when a new instrument shows up.
#[derive(Debug, Default)]
pub struct Names(HashMap<u32, Instrument>);

impl Names {
    /// Instrument `id`: symbol and scales (reloaded from the table once if unknown).
    pub fn get(&mut self, state: &HttpState, id: u32) -> Option<&Instrument> {
        if !self.0.contains_key(&id) {
            self.0 = state
                .services
                .query
                .instruments(None)
                .into_iter()
                .map(|i| (i.id.0, i))
                .collect();
        }
        self.0.get(&id)
    }
}

/// One dialect's messages. The loop owns delivery; the dialect owns the JSON.
pub trait Dialect: Send {
    /// A text message from the client.
    fn on_text(&mut self, state: &HttpState, text: &str, subs: &mut Subs) -> Reply;
    /// A trade of instrument `inst` (its symbol and scales): its messages, appended to `out`
    /// (one per stream that wants it).
    fn trade(
        &mut self,
        state: &HttpState,
        epoch: Epoch,
        inst: &Instrument,
        tick: &TickRecord,
        out: &mut Vec<String>,
    );
    /// The latest quote of `inst`: its messages, appended to `out`.
    fn quote(
        &mut self,
        state: &HttpState,
        epoch: Epoch,
        inst: &Instrument,
        tick: &TickRecord,
        out: &mut Vec<String>,
    );
    /// A candle update of `inst`; `seq` is the tick seq it is current at.
    fn candle(
        &mut self,
        state: &HttpState,
        epoch: Epoch,
        seq: Seq,
        inst: &Instrument,
        candle: &CandleRecord,
        out: &mut Vec<String>,
    );
    /// Records `gap.from..=gap.to` were skipped (the socket fell behind the ring), or a venue
    /// declared a hole in its data (reason `Venue`, with `venue` the instrument it concerns).
    fn gap(&self, gap: &Gap, venue: Option<&Instrument>) -> Option<String>;
    /// Sent when the socket has been idle for a heartbeat interval, besides the ping.
    fn heartbeat(&self, epoch: Epoch, head: u64) -> Option<String>;
}

/// Open WebSockets, against [`crate::config::ServerConfig`]'s cap.
#[derive(Debug, Default)]
pub struct WsCount(AtomicUsize);

/// A counted socket; uncounted on drop (with its client IP's slot, when it holds one).
#[derive(Debug)]
pub struct WsPermit {
    count: Arc<WsCount>,
    /// The client IP's slot, held for the socket's life.
    _per_ip: Option<crate::net::limits::Permit>,
}

impl WsCount {
    /// Counts one more socket if fewer than `max` are open; it keeps `per_ip` (its client
    /// IP's slot) for its life.
    pub fn try_acquire(
        self: &Arc<Self>,
        max: usize,
        per_ip: Option<crate::net::limits::Permit>,
    ) -> Option<WsPermit> {
        // Relaxed: a counter, no data is published through it.
        let mut n = self.0.load(Ordering::Relaxed);
        loop {
            if n >= max {
                return None;
            }
            match self
                .0
                .compare_exchange_weak(n, n + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Some(WsPermit {
                        count: Arc::clone(self),
                        _per_ip: per_ip,
                    });
                }
                Err(now) => n = now,
            }
        }
    }

    /// Sockets open now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for WsPermit {
    fn drop(&mut self) {
        self.count.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a socket ended, for the close frame.
enum End {
    /// The client closed or the connection failed: nothing more to send.
    Gone,
    /// Close with this code and reason.
    Close(u16, String),
}

/// Where a socket's streams start: just past the heads published when the upgrade was
/// accepted. Taken in the upgrade handler, before the `101` goes out, so a client that sees the
/// socket open gets everything published after that (the upgraded task may start later).
#[derive(Debug, Clone, Copy)]
pub struct StartAt {
    ticks: u64,
    candles: u64,
}

impl StartAt {
    /// The heads now.
    pub fn now(state: &HttpState) -> Self {
        Self {
            ticks: state.services.query.ticks.head(),
            candles: state.services.query.candles.head(),
        }
    }
}

/// The dialect as the delivery engine's renderer: ticks, candles and gaps become its JSON.
struct DialectRender {
    state: HttpState,
    dialect: Box<dyn Dialect>,
    names: Names,
}

impl Render for DialectRender {
    type Frame = String;

    fn ticks(&mut self, _sub: u32, epoch: Epoch, ticks: &[TickRecord], out: &mut Vec<String>) {
        for t in ticks {
            let Some(inst) = self.names.get(&self.state, t.instrument_id) else {
                continue;
            };
            match t.kind() {
                Some(TickKind::Trade) => self.dialect.trade(&self.state, epoch, inst, t, out),
                Some(TickKind::Quote) => self.dialect.quote(&self.state, epoch, inst, t, out),
                None => {}
            }
        }
    }

    fn candles(
        &mut self,
        _sub: u32,
        epoch: Epoch,
        seq: Seq,
        candles: &[CandleRecord],
        out: &mut Vec<String>,
    ) {
        for c in candles {
            if let Some(inst) = self.names.get(&self.state, c.instrument_id) {
                self.dialect.candle(&self.state, epoch, seq, inst, c, out);
            }
        }
    }

    fn gap(&mut self, gap: &Gap, out: &mut Vec<String>) {
        let inst = match gap.reason {
            GapReason::Venue(hole) => self.names.get(&self.state, hole.instrument.0),
            _ => None,
        };
        out.extend(self.dialect.gap(gap, inst));
    }
}

/// The engine's filter for what a socket subscribes to.
fn filter_of(subs: &Subs) -> Filter {
    let mut f = Filter::default();
    for id in &subs.trades {
        f.set_trades(InstrumentId(*id), true);
    }
    for id in &subs.quotes {
        f.set_quotes(InstrumentId(*id), true);
    }
    for (id, secs) in &subs.candles {
        if let Some(interval) = Interval::from_secs(*secs) {
            f.set_candles(InstrumentId(*id), interval, true);
        }
    }
    f
}

/// The socket's one engine subscription.
const SUB: u32 = 1;

/// Serves one socket with `dialect` (and `subs` already set, for URL-named streams) from
/// `start` until the client leaves, a limit closes it, or the server shuts down.
pub async fn serve(
    mut socket: WebSocket,
    state: HttpState,
    dialect: Box<dyn Dialect>,
    mut subs: Subs,
    start: StartAt,
    _permit: WsPermit,
) {
    crate::metrics::ws_opened();
    let services = state.services.clone();
    let epoch = services.query.epoch();
    let mut ticks = services.query.ticks.clone();
    ticks.seek(start.ticks + 1);
    let mut candles = services.query.candles.clone();
    candles.seek(start.candles + 1);
    let mut published = services.query.shared.published.clone();
    let mut shutdown = state.shutdown.clone();
    let heartbeat = services.session.heartbeat.max(Duration::from_millis(1));
    let idle = services.session.idle_timeout.max(Duration::from_millis(1));
    let config = DeliveryConfig {
        budget: services.session.ws_send_budget,
        frame_records: BATCH,
        frames_per_poll: FRAMES_PER_WAKE,
    };
    let mut delivery = Delivery::new(config, epoch);
    let spec = SubSpec {
        conflate_quotes: true,
        conflate_candles: true,
        ..SubSpec::new(SUB, filter_of(&subs))
    };
    delivery.add(spec, ShmRing(ticks), ShmRing(candles));
    let mut render = DialectRender {
        state: state.clone(),
        dialect,
        names: Names::default(),
    };
    let mut last_rx = tokio::time::Instant::now();
    let mut last_tx = tokio::time::Instant::now();
    let mut last_ping = tokio::time::Instant::now();
    let end = loop {
        // Deliver what is available, within the budget; the drop policy never disconnects.
        let more = delivery
            .poll(&mut QueryStore(&services.query), &mut render)
            .unwrap_or(false);
        // The budget, not the data, stopped this poll: poll again once the queue is sent (no
        // publish would wake this loop for records already published).
        let budget_full = !delivery.accepting();
        report(&mut delivery, "ws");
        if delivery.queued() > 0 {
            match send_all(&mut socket, &mut delivery).await {
                Ok(()) => last_tx = tokio::time::Instant::now(),
                Err(end) => break end,
            }
        }
        if more || (budget_full && delivery.accepting()) {
            tokio::task::yield_now().await;
            continue;
        }
        let now = tokio::time::Instant::now();
        if now.duration_since(last_rx) >= idle {
            break End::Close(
                1001,
                format!(
                    "idle for {} ms: nothing received, not even a pong",
                    idle.as_millis()
                ),
            );
        }
        // A heartbeat message when the stream has been quiet; a ping when the client has been
        // (a busy stream still pings a client that only listens, so its pongs keep it open).
        let next_beat = last_tx + heartbeat;
        let next_ping = last_rx.max(last_ping) + heartbeat;
        tokio::select! {
            msg = socket.recv() => {
                last_rx = tokio::time::Instant::now();
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        let reply = render.dialect.on_text(&state, text.as_str(), &mut subs);
                        delivery.set_filter(SUB, filter_of(&subs));
                        if let Some(seq) = reply.seek {
                            delivery.seek(SUB, seq.max(Seq::FIRST));
                        }
                        for m in reply.messages {
                            delivery.push(Dest::Control, m);
                        }
                        if let Some(reason) = reply.close {
                            let _ = send_all(&mut socket, &mut delivery).await;
                            break End::Close(1008, reason);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        break End::Close(1003, "binary messages are not accepted: send JSON text".into());
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break End::Gone,
                }
            }
            changed = published.changed() => {
                if changed.is_err() {
                    break End::Close(1001, "the server is shutting down".into());
                }
            }
            () = tokio::time::sleep_until(next_beat.min(next_ping)) => {
                let now = tokio::time::Instant::now();
                if now >= next_beat {
                    let head = services.query.head().0;
                    if let Some(m) = render.dialect.heartbeat(epoch, head) {
                        delivery.push(Dest::Control, m);
                    }
                    if let Err(end) = send_all(&mut socket, &mut delivery).await {
                        break end;
                    }
                    last_tx = now;
                }
                if now >= next_ping {
                    if socket.send(Message::Ping(Default::default())).await.is_err() {
                        break End::Gone;
                    }
                    last_ping = now;
                }
            }
            _ = shutdown.changed() => break End::Close(1001, "the server is shutting down".into()),
        }
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        };
        // RFC 6455 §7.1.1: send Close, then wait (briefly) for the client's Close before the
        // connection goes, so the client reads the reason rather than a reset.
        let handshake = async {
            socket.send(Message::Close(Some(frame))).await?;
            while let Some(msg) = socket.recv().await {
                if matches!(msg?, Message::Close(_)) {
                    break;
                }
            }
            Ok::<(), axum::Error>(())
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, handshake).await;
    }
    crate::metrics::ws_closed();
}

/// Writes what the engine queued (at most its budget and one batch) with one flush, within
/// [`SEND_TIMEOUT`].
async fn send_all<T, C>(
    socket: &mut WebSocket,
    delivery: &mut Delivery<T, C, String>,
) -> Result<(), End>
where
    T: tickd_engine::Ring<TICK_SLOT_WORDS>,
    C: tickd_engine::Ring<CANDLE_SLOT_WORDS>,
{
    let write = async {
        while let Some((_, m)) = delivery.pop() {
            socket.feed(Message::Text(Utf8Bytes::from(m))).await?;
        }
        socket.flush().await
    };
    match tokio::time::timeout(SEND_TIMEOUT, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => {
            crate::metrics::slow_consumer_disconnect();
            Err(End::Close(
                1008,
                format!(
                    "slow consumer: what was queued was not taken within {} s",
                    SEND_TIMEOUT.as_secs()
                ),
            ))
        }
    }
}
