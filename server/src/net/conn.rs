//! The IO shell of one connection (STYLE.md §2.3): [`drive`] runs a sans-IO [`Session`] (the
//! protocol) and a sans-IO [`Delivery`] (what subscriptions receive, within a byte budget) over
//! a byte stream, and dispatches requests; each job has a file of its own: `publish` (to the
//! sequencer and back), `subscription` (admission and start), `backfill` (journal reads for
//! the engine), `route` (the engine's frames to the stream, the QUIC data streams, datagrams).
//!
//! Generic over the byte stream; TCP uses it as is. On QUIC the stream is the control stream
//! and each subscription's data (ticks, candles, gaps, snapshot) goes on a unidirectional
//! stream of its own, opened when the subscription starts.
//!
//! Memory per connection is bounded: everything queued (answers, acks, snapshots, data) counts
//! against `--send-budget-bytes`; over it the engine renders nothing and the shell reads no
//! request until the client drains it, and a subscription the ring laps meanwhile gets its
//! slow-consumer policy. Writes never block the loop: a client that stops reading still has its
//! timers run (idle timeout, heartbeats) and its `disconnect` subscriptions checked.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_util::FutureExt;
use tickd_engine::delivery::{Binary, DeliveryConfig};
use tickd_engine::{Delivery, Session, SessionError, SessionEvent};
use tickd_protocol::files::{CANDLE_SLOT_WORDS, TICK_SLOT_WORDS};
use tickd_protocol::{ErrorCode, Message, QueryResult, Records, split_frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Services;
use crate::clock;
use crate::net::delivery::ShmRing;
use crate::storage::journal::JournalCursor;

/// Records per data frame.
pub const FRAME_RECORDS: usize = 1_024;
/// Data frames a connection renders per wake-up before yielding to others.
pub const FRAMES_PER_WAKE: usize = 64;
/// Bytes taken from the engine's queue into the control stream's write buffer at a time.
const WRITE_BUFFER: usize = 256 * 1024;
/// Longest the final frames (the `Error` saying why) may take to be written at close.
const FINAL_WRITE: Duration = Duration::from_secs(1);

mod backfill;
mod publish;
mod route;
mod sink;
mod subscription;

use sink::Sink;

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

type Engine = Delivery<ShmRing<TICK_SLOT_WORDS>, ShmRing<CANDLE_SLOT_WORDS>>;

struct Conn {
    services: Services,
    session: Session,
    delivery: Engine,
    render: Binary,
    next_sub_id: u32,
    /// QUIC: the connection, to open a unidirectional stream per subscription.
    quic: Option<quinn::Connection>,
    /// QUIC: each subscription's data stream.
    sinks: HashMap<u32, Sink>,
    /// Journal cursors of subscriptions filling from the journal (kept between chunks, so
    /// reading a range costs O(records)).
    cursors: HashMap<u32, Box<JournalCursor>>,
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
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut published = services.query.shared.published.clone();
    let session = Session::new(
        services.session.clone(),
        clock::now(),
        services.query.epoch(),
    );
    let config = DeliveryConfig {
        budget: services.session.send_budget,
        frame_records: FRAME_RECORDS,
        frames_per_poll: FRAMES_PER_WAKE,
    };
    let mut conn = Conn {
        delivery: Delivery::new(config, services.query.epoch()),
        services,
        session,
        render: Binary::new(),
        next_sub_id: 1,
        quic,
        sinks: HashMap::new(),
        cursors: HashMap::new(),
    };
    let mut buf = BytesMut::with_capacity(4 * 1024);
    let mut out = BytesMut::new();
    let mut token_permit = None;
    let mut authenticated = false;
    let result = loop {
        // A connection that never waits (a long catch-up) still stops at shutdown.
        if *shutdown.borrow() {
            break Ok(());
        }
        conn.session.set_head(conn.services.query.head());
        // Requests, only while the queue is under budget: a client that sends queries and
        // never reads its answers holds one budget, not one answer per query.
        while conn.delivery.accepting() {
            let Some(ev) = conn.session.poll_event() else {
                break;
            };
            conn.serve(ev).await;
            conn.collect_session();
        }
        conn.collect_session();
        if let Some((id, from)) = conn.delivery.backfill_wanted() {
            conn.backfill(id, from).await;
        }
        let more = match conn.poll_delivery() {
            Ok(more) => more,
            Err(e) => break Err(e),
        };
        // The budget, not the data, stopped this poll: once the writes below free it, poll
        // again. Nothing else would wake this loop: the records are already published.
        let budget_full = !conn.delivery.accepting();
        conn.collect_session();
        // Route and write what the sockets take now (usually all of it), in this turn of the
        // loop, until the queue is empty or the stream its next frame needs is full: only a
        // client that reads slower than its data arrives leaves bytes for the select below.
        let drained = loop {
            if let Err(e) = conn.route(&mut out) {
                break Err(e);
            }
            if !out.is_empty() {
                match wr.write(&out).now_or_never() {
                    Some(Ok(0)) => {
                        break Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
                    }
                    Some(Ok(n)) => out.advance(n),
                    Some(Err(e)) => break Err(e.into()),
                    None => {}
                }
            }
            if !conn.has_room(out.len()) {
                break Ok(());
            }
        };
        if let Err(e) = drained {
            break Err(e);
        }
        // More to render (the batch limit stopped the poll, or the budget did and the writes
        // freed it), a journal fill, or requests read but not yet served (the queue drained
        // below the budget as it was written): another turn, after other connections.
        let accepting = conn.delivery.accepting();
        let requests = accepting && conn.session.has_events();
        if more || (budget_full && accepting) || requests || conn.delivery.backfilling() {
            tokio::task::yield_now().await;
            continue;
        }
        let now = clock::now();
        let sleep = conn
            .session
            .poll_timeout()
            .map(|due| Duration::from_nanos(due.0.saturating_sub(now.0)));
        let reading = conn.delivery.accepting();
        let sinks_pending = conn.sinks_pending();
        tokio::select! {
            written = route::write_sinks(&mut conn.sinks), if sinks_pending => {
                if let Err(e) = written {
                    break Err(e);
                }
            }
            written = wr.write(&out), if !out.is_empty() => match written {
                Ok(0) => break Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into()),
                Ok(n) => out.advance(n),
                Err(e) => break Err(e.into()),
            },
            read = rd.read_buf(&mut buf), if reading => {
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
                            // Once authenticated (QUIC: its receive window opens).
                            if !authenticated && conn.session.is_ready() {
                                authenticated = true;
                                if let Some(c) = &conn.quic {
                                    super::quic::authenticated(c);
                                }
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
    // Best effort, bounded: what is being written, then the session's last frames (the Error
    // saying why), then close.
    let last = async {
        wr.write_all(&out).await?;
        while let Some((dest, frame)) = conn.delivery.pop() {
            if dest == tickd_engine::delivery::Dest::Control {
                wr.write_all(&frame).await?;
            }
        }
        while let Some(frame) = conn.session.poll_transmit() {
            wr.write_all(&frame).await?;
        }
        wr.flush().await?;
        wr.shutdown().await
    };
    let _ = tokio::time::timeout(FINAL_WRITE, last).await;
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
                self.sinks.remove(&u.subscription_id);
                self.cursors.remove(&u.subscription_id);
                if !self.delivery.remove(u.subscription_id) {
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

    /// Moves what the session queued (answers, acks, heartbeats, errors) to the engine's
    /// queue, where it counts against the budget.
    fn collect_session(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            self.delivery
                .push(tickd_engine::delivery::Dest::Control, frame);
        }
    }
}
