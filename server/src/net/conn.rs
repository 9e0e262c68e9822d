//! The IO shell of one connection (STYLE.md §2.3): [`drive`] runs a sans-IO [`Session`] over a
//! byte stream and dispatches its requests; each job has a file of its own: `publish` (to the
//! sequencer and back), `subscription` (admission and start), `backfill` (gap fill from the
//! journal), `delivery` (ring to frames, slow-consumer policy) and `sink` (where a
//! subscription's data goes).
//!
//! Generic over the byte stream; TCP uses it as is. On QUIC the stream is the control stream
//! and each subscription's data (ticks, candles, gaps, snapshot) goes on a unidirectional
//! stream of its own, opened when the subscription starts.
//!
//! Delivery: each subscription has its own ring cursor. Per wake-up (a published batch, a frame
//! from the client, a timer) every subscription encodes everything available since its cursor,
//! up to [`FRAME_RECORDS`] records per frame and [`FRAMES_PER_WAKE`] frames before yielding, so
//! throughput grows with load and an idle connection answers at once. A client that stops
//! reading blocks only its own task (TCP back-pressure); when it resumes behind the ring it gets
//! a `Gap` and continues from the oldest record still held.

use std::collections::HashMap;
use std::time::Duration;

use bytes::BytesMut;
use tickd_engine::{Session, SessionError, SessionEvent};
use tickd_protocol::files::{CANDLE_SLOT_WORDS, TICK_SLOT_WORDS};
use tickd_protocol::{
    CandleRecord, Encoder, ErrorCode, Message, QueryResult, Records, TickRecord, split_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

use super::Services;
use crate::clock;

/// Records per data frame.
pub const FRAME_RECORDS: usize = 1_024;
/// Data frames a connection writes per wake-up before yielding to others.
pub const FRAMES_PER_WAKE: usize = 64;

mod backfill;
mod delivery;
mod publish;
mod sink;
mod subscription;

use sink::Sink;
use subscription::Sub;

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The stream failed.
    #[error("connection i/o")]
    Io(#[from] std::io::Error),
    /// The session closed it.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A slow consumer with the `disconnect` policy fell behind the ring.
    #[error("slow consumer disconnected")]
    SlowConsumer,
    /// The token already has its maximum of connections.
    #[error("too many connections for the token")]
    TooManyForToken,
}

struct Conn {
    services: Services,
    session: Session,
    subs: Vec<Sub>,
    next_sub_id: u32,
    tick_buf: Vec<[u64; TICK_SLOT_WORDS]>,
    candle_buf: Vec<[u64; CANDLE_SLOT_WORDS]>,
    out_ticks: Vec<TickRecord>,
    out_candles: Vec<CandleRecord>,
    /// Encodes data frames for subscriptions with their own stream.
    encoder: Encoder,
    /// TCP: where a `TickBatch` frame is written before the session queues it.
    scratch: BytesMut,
    /// QUIC: the connection, to open a unidirectional stream per subscription.
    quic: Option<quinn::Connection>,
    /// Datagram mode: the latest quote per instrument in the current pass.
    latest_quotes: HashMap<u32, TickRecord>,
}

/// Drives one connection until the peer closes it, it fails, or `shutdown` fires.
///
/// # Errors
///
/// [`ConnError`] if the stream fails or the session must close (the peer has been sent an
/// `Error` frame saying why, where possible).
pub async fn drive<S>(
    stream: S,
    services: Services,
    quic: Option<quinn::Connection>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, wr) = tokio::io::split(stream);
    let mut wr = BufWriter::with_capacity(256 * 1024, wr);
    let mut published = services.query.shared.published.clone();
    let session = Session::new(
        services.session.clone(),
        clock::now(),
        services.query.epoch(),
    );
    let mut conn = Conn {
        services,
        session,
        subs: Vec::new(),
        next_sub_id: 1,
        tick_buf: vec![[0; TICK_SLOT_WORDS]; FRAME_RECORDS],
        candle_buf: vec![[0; CANDLE_SLOT_WORDS]; 256],
        out_ticks: Vec::with_capacity(FRAME_RECORDS),
        out_candles: Vec::with_capacity(256),
        encoder: Encoder::new(),
        scratch: BytesMut::new(),
        quic,
        latest_quotes: HashMap::new(),
    };
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut token_permit = None;
    let result = loop {
        conn.session.set_head(conn.services.query.head());
        while let Some(ev) = conn.session.poll_event() {
            conn.serve(ev).await;
        }
        if conn.backfilling() {
            conn.backfill().await;
        }
        let more = match conn.deliver() {
            Ok(more) => more,
            Err(e) => break Err(e),
        };
        let mut write_err = None;
        while let Some(frame) = conn.session.poll_transmit() {
            if let Err(e) = wr.write_all(&frame).await {
                write_err = Some(e);
                break;
            }
        }
        if let Some(e) = write_err {
            break Err(e.into());
        }
        // QUIC: each subscription's data on its own stream.
        for sub in &mut conn.subs {
            let Some(sink) = sub.sink.as_mut().filter(|s| !s.chunks.is_empty()) else {
                continue;
            };
            if let Err(e) = sink.stream.write_all_chunks(&mut sink.chunks).await {
                write_err = Some(std::io::Error::other(e));
                break;
            }
            sink.chunks.clear();
        }
        if let Some(e) = write_err {
            break Err(e.into());
        }
        if let Err(e) = wr.flush().await {
            break Err(e.into());
        }
        if more || conn.backfilling() {
            tokio::task::yield_now().await;
            continue;
        }
        let now = clock::now();
        let sleep = conn
            .session
            .poll_timeout()
            .map(|due| Duration::from_nanos(due.0.saturating_sub(now.0)));
        tokio::select! {
            read = rd.read_buf(&mut buf) => {
                match read {
                    Ok(0) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e.into()),
                }
                let max = conn.session.max_frame_len();
                let mut failed = None;
                loop {
                    match split_frame(&mut buf, max) {
                        Ok(Some(frame)) => {
                            if let Err(e) = conn.session.handle_frame(clock::now(), &frame) {
                                failed = Some(e.into());
                                break;
                            }
                            // Once authenticated, and before the Welcome is written: the
                            // per-token connection cap (tokens configured only).
                            if token_permit.is_none() && conn.session.is_ready() && !conn.services.session.auth.is_open() {
                                let name = conn.session.token_name().unwrap_or_default().to_owned();
                                match conn.services.limits.try_acquire_token(&name) {
                                    Some(p) => token_permit = Some(p),
                                    None => {
                                        let per = conn.services.limits.per_token();
                                        let text = format!("too many connections with token {name:?} (at most {per}): closing the connection");
                                        conn.session.refuse(ErrorCode::LimitExceeded, text);
                                        failed = Some(ConnError::TooManyForToken);
                                        break;
                                    }
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            conn.session.send_error(0, ErrorCode::MalformedFrame, format!("{e}: closing the connection"));
                            failed = Some(SessionError::Protocol("frame too long").into());
                            break;
                        }
                    }
                }
                if let Some(e) = failed {
                    break Err(e);
                }
            }
            changed = published.changed() => {
                if changed.is_err() {
                    break Ok(());
                }
            }
            () = tokio::time::sleep(sleep.unwrap_or(Duration::from_secs(3600))), if sleep.is_some() => {
                if let Err(e) = conn.session.handle_timeout(clock::now()) {
                    break Err(e.into());
                }
            }
            _ = shutdown.changed() => break Ok(()),
        }
    };
    // Best effort: tell the peer why (the Error frame the session queued), then close.
    while let Some(frame) = conn.session.poll_transmit() {
        if wr.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = wr.flush().await;
    let _ = wr.shutdown().await;
    drop(token_permit);
    result
}

impl Conn {
    async fn serve(&mut self, ev: SessionEvent) {
        match ev {
            // Awaited inline: one batch in flight per connection, so a publisher that outruns
            // the sequencer is slowed by TCP flow control, never dropped.
            SessionEvent::Publish(req) => self.publish(req).await,
            SessionEvent::Subscribe(s) => self.subscribe(s).await,
            SessionEvent::Unsubscribe(u) => {
                let before = self.subs.len();
                self.subs.retain(|s| s.id != u.subscription_id);
                if self.subs.len() == before {
                    self.session.send_error(
                        u.request_id,
                        ErrorCode::NotFound,
                        format!("no subscription {}", u.subscription_id),
                    );
                }
            }
            SessionEvent::Query(q) => match self.services.query.answer(q.request_id, &q.spec) {
                Ok(a) => {
                    let result = QueryResult {
                        request_id: q.request_id,
                        epoch: self.services.query.epoch(),
                        head_seq: a.head,
                        candles: Records::Slice(&a.candles),
                        ticks: Records::Slice(&a.ticks),
                        instruments: a.instruments,
                        feeds: a.feeds,
                        next_id: a.next_id,
                    };
                    self.session.send(&Message::QueryResult(result));
                }
                Err(e) => self.session.send(&Message::Error(e)),
            },
        }
    }
}
