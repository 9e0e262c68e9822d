//! The IO shell of one connection (STYLE.md §2.3): drives a sans-IO [`Session`] over a byte
//! stream, serves its requests from [`Services`], and streams subscribed records from the ring.
//!
//! Generic over the stream so tests can use `tokio::io::duplex`; TCP uses it as is. On QUIC the
//! stream is the control stream and each subscription's data (ticks, candles, gaps, snapshot)
//! goes on a unidirectional stream of its own, opened when the subscription starts.
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
use crossbeam::channel::TrySendError;
use tickd_engine::{Filter, PublishRequest, Session, SessionError, SessionEvent};
use tickd_protocol::files::{CANDLE_SLOT_WORDS, TICK_SLOT_WORDS, candle_from_slot};
use tickd_protocol::tick_frame::TickBatchFrame;
use tickd_protocol::{
    CandleBatch, CandleRecord, Encoder, Epoch, ErrorCode, Gap, GapReason, Message, PublishAck,
    QueryResult, Records, Rejection, Selection, Seq, SlowConsumerPolicy, Snapshot, Start,
    Subscribe, SubscribeAck, TickBatch, TickRecord, split_frame,
};
use tickd_shm::Reader;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

use super::{MAX_SUBSCRIPTIONS_PER_CONNECTION, MAX_SYMBOLS_PER_SUBSCRIPTION, Services};
use crate::clock;
use crate::ingest::input::Input;

/// Records per data frame.
pub const FRAME_RECORDS: usize = 1_024;
/// Data frames a connection writes per wake-up before yielding to others.
pub const FRAMES_PER_WAKE: usize = 64;

/// One live subscription.
struct Sub {
    id: u32,
    filter: Filter,
    ticks: Reader<TICK_SLOT_WORDS>,
    candles: Option<Reader<CANDLE_SLOT_WORDS>>,
    policy: SlowConsumerPolicy,
    /// Started from a seq or a time: missing records are filled from the journal rather than
    /// skipped (unless the policy is `disconnect`).
    lossless: bool,
    /// Next seq to read from the journal, while the ring no longer holds it.
    backfill: Option<u64>,
    /// The instruments selected (`None`: all), for conflated catch-up.
    ids: Option<Vec<tickd_protocol::InstrumentId>>,
    /// QUIC: this subscription's own unidirectional stream for its data.
    sink: Option<Sink>,
    /// QUIC datagram mode: quotes go out as conflated datagrams, not on the stream.
    datagrams: bool,
}

/// A subscription's data stream and the frames waiting to be written to it.
struct Sink {
    stream: quinn::SendStream,
    /// Where frames are written; each is split off into `chunks` once complete, so the buffer
    /// never grows by copying (a new allocation starts when the current one is used up).
    building: BytesMut,
    /// Complete frames, handed to quinn without a copy.
    chunks: Vec<bytes::Bytes>,
}

/// Bytes a sink allocates at a time for its frames.
const SINK_BUFFER: usize = 1 << 20;

impl Sink {
    fn new(stream: quinn::SendStream) -> Self {
        Self {
            stream,
            building: BytesMut::with_capacity(SINK_BUFFER),
            chunks: Vec::new(),
        }
    }

    /// Queues the frames written to `building` since the last call.
    fn seal(&mut self) {
        if !self.building.is_empty() {
            self.chunks.push(self.building.split().freeze());
        }
    }
}

impl Sub {
    /// Queues a data message (ticks, candles, gaps, snapshot) where this subscription's data
    /// goes: its own stream on QUIC, the connection's stream on TCP.
    fn emit(&mut self, session: &mut Session, encoder: &mut Encoder, msg: &Message<'_>) {
        emit_to(&mut self.sink, session, encoder, msg);
    }

    /// Queues `ticks` (if any) as one `TickBatch` of this subscription. Returns whether a
    /// frame was queued.
    fn emit_ticks(
        &mut self,
        session: &mut Session,
        encoder: &mut Encoder,
        epoch: Epoch,
        ticks: &[TickRecord],
    ) -> bool {
        if ticks.is_empty() {
            return false;
        }
        let batch = TickBatch {
            subscription_id: self.id,
            epoch,
            ticks: Records::Slice(ticks),
        };
        self.emit(session, encoder, &Message::TickBatch(batch));
        true
    }
}

/// [`Sub::emit`] on the sink alone, for when another field of the subscription is borrowed.
fn emit_to(
    sink: &mut Option<Sink>,
    session: &mut Session,
    encoder: &mut Encoder,
    msg: &Message<'_>,
) {
    match sink {
        Some(sink) => {
            encoder.encode(msg, &mut sink.building);
            sink.seal();
        }
        None => session.send(msg),
    }
}

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
    async fn publish(&mut self, req: PublishRequest) {
        let request_id = req.request_id;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let mut input = Input::Publish { req, reply };
        loop {
            match self.services.query.shared.input.try_send(input) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    input = back;
                    tokio::time::sleep(Duration::from_micros(100)).await;
                }
                Err(TrySendError::Disconnected(_)) => {
                    return self.session.send_error(
                        request_id,
                        ErrorCode::Internal,
                        "the sequencer has stopped",
                    );
                }
            }
        }
        let Ok(outcome) = answer.await else {
            return self.session.send_error(
                request_id,
                ErrorCode::Internal,
                "the server is shutting down",
            );
        };
        let ack = PublishAck {
            request_id,
            epoch: self.services.query.epoch(),
            first_seq: Seq(outcome.batch.first_seq),
            last_seq: Seq(outcome.batch.last_seq),
            accepted: outcome.batch.accepted,
            rejected: outcome
                .rejected
                .iter()
                .map(|(index, reason)| Rejection {
                    index: *index,
                    reason: reason.to_string(),
                })
                .collect(),
        };
        self.session.send(&Message::PublishAck(ack));
    }

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
                        head_seq: Seq(a.head),
                        candles: Records::Slice(&a.candles),
                        ticks: Records::Slice(&a.ticks),
                        instruments: a.instruments,
                        feeds: a.feeds,
                    };
                    self.session.send(&Message::QueryResult(result));
                }
                Err(e) => self.session.send(&Message::Error(e)),
            },
        }
    }

    async fn subscribe(&mut self, s: Subscribe) {
        let rid = s.request_id;
        if self.subs.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
            let text =
                format!("at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection");
            return self.session.send_error(rid, ErrorCode::LimitExceeded, text);
        }
        if !s.trades && !s.quotes && s.candles.is_empty() {
            return self.session.send_error(
                rid,
                ErrorCode::InvalidRequest,
                "subscribe selects nothing: ask for trades, quotes or candles",
            );
        }
        let ids = match &s.selection {
            Selection::All => None,
            Selection::Symbols(list) if list.len() > MAX_SYMBOLS_PER_SUBSCRIPTION => {
                let text = format!(
                    "{} symbols in one subscription, at most {MAX_SYMBOLS_PER_SUBSCRIPTION}",
                    list.len()
                );
                return self.session.send_error(rid, ErrorCode::LimitExceeded, text);
            }
            Selection::Symbols(list) if list.is_empty() => {
                return self.session.send_error(
                    rid,
                    ErrorCode::InvalidRequest,
                    "subscribe names no symbols (use all_symbols for every one)",
                );
            }
            Selection::Symbols(list) => match self.services.query.resolve(rid, list) {
                Ok(ids) => Some(ids),
                Err(e) => return self.session.send(&Message::Error(e)),
            },
        };
        let filter = Filter::new(ids.as_deref(), s.trades, s.quotes, &s.candles);
        let mut ticks = self.services.query.ticks.clone();
        let candles = filter.wants_candles().then(|| {
            let mut r = self.services.query.candles.clone();
            r.seek_to_head();
            r
        });
        let epoch = self.services.query.epoch();
        let snapshot = s
            .snapshot
            .then(|| self.services.query.snapshot(ids.as_deref(), &s.candles));
        let start = match (s.start, &snapshot) {
            (_, Some(snap)) if s.start == Start::Latest => snap.seq + 1,
            (Start::Latest, _) => ticks.head() + 1,
            (Start::Seq { epoch: e, seq }, _) if e == epoch => seq.0.max(1),
            (Start::Seq { epoch: e, .. }, _) => {
                let text = format!(
                    "epoch {e} is not this server's epoch {epoch}: resume with start=latest or a seq of epoch {epoch}"
                );
                return self.session.send_error(rid, ErrorCode::NotFound, text);
            }
            (Start::Time(t), _) => self.services.query.seq_at_time(t),
        };
        // Records before the ring's first ever seq exist only if the journal still has them.
        let mut start = start;
        let mut pre_gap = None;
        let base = ticks.base_seq();
        let lossless = !matches!(s.start, Start::Latest);
        let backfill = if start <= base && self.services.query.shared.journal_dir.is_some() {
            Some(start)
        } else {
            if start <= base {
                pre_gap = Some((start, base));
                start = base + 1;
            }
            None
        };
        ticks.seek(start);
        let id = self.next_sub_id;
        self.next_sub_id += 1;
        let instruments = self.services.query.instruments(ids.as_deref());
        let ack = SubscribeAck {
            request_id: rid,
            subscription_id: id,
            epoch,
            start_seq: Seq(start),
            instruments,
        };
        self.session.send(&Message::SubscribeAck(ack));
        let sink = match &self.quic {
            Some(connection) => match connection.open_uni().await {
                Ok(stream) => Some(Sink::new(stream)),
                Err(e) => {
                    return self.session.send_error(
                        rid,
                        ErrorCode::Internal,
                        format!("cannot open a data stream: {e}"),
                    );
                }
            },
            None => None,
        };
        let mut sub = Sub {
            lossless,
            backfill,
            ids: ids.clone(),
            id,
            filter,
            ticks,
            candles,
            policy: s.policy,
            sink,
            datagrams: s.datagrams
                && self
                    .quic
                    .as_ref()
                    .is_some_and(|c| c.max_datagram_size().is_some()),
        };
        if let Some(snap) = snapshot {
            let msg = Snapshot {
                request_id: rid,
                subscription_id: id,
                epoch,
                seq: Seq(snap.seq),
                ticks: Records::Slice(&snap.ticks),
                candles: Records::Slice(&snap.candles),
            };
            sub.emit(
                &mut self.session,
                &mut self.encoder,
                &Message::Snapshot(msg),
            );
        }
        if let Some((from, to)) = pre_gap {
            let gap = Gap {
                subscription_id: id,
                epoch,
                from: Seq(from),
                to: Seq(to),
                reason: GapReason::NotRetained,
            };
            sub.emit(&mut self.session, &mut self.encoder, &Message::Gap(gap));
        }
        self.subs.push(sub);
    }

    /// Whether some subscription is catching up from the journal.
    fn backfilling(&self) -> bool {
        self.subs.iter().any(|s| s.backfill.is_some())
    }

    /// One journal chunk for every subscription that is catching up: records the ring no
    /// longer holds, in seq order, then back to the ring as soon as it holds the next one. A
    /// range the journal no longer has either is declared with a `Gap` (never skipped).
    async fn backfill(&mut self) {
        let Some(dir) = self.services.query.shared.journal_dir.clone() else {
            return;
        };
        let epoch = self.services.query.epoch();
        let mut probe_buf = [0u64; TICK_SLOT_WORDS];
        for sub in &mut self.subs {
            let Some(from) = sub.backfill else { continue };
            let mut probe = sub.ticks.clone();
            probe.seek(from);
            if !matches!(
                probe.try_read(&mut probe_buf),
                tickd_shm::ReadOutcome::Overrun { .. }
            ) {
                sub.ticks.seek(from);
                sub.backfill = None;
                continue;
            }
            let dir = dir.clone();
            let chunk = tokio::task::spawn_blocking(move || {
                crate::storage::journal::read_from(&dir, from, FRAME_RECORDS)
            })
            .await;
            let records = match chunk {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    tracing::warn!("journal read for gap fill: {e:#}");
                    Vec::new()
                }
                Err(_) => Vec::new(),
            };
            let first = records.first().map(|t| t.seq);
            if first != Some(from) {
                // Not in the journal either: declare exactly what is lost.
                let resume = first.unwrap_or_else(|| {
                    let mut r = sub.ticks.clone();
                    r.seek(from);
                    match r.try_read(&mut probe_buf) {
                        tickd_shm::ReadOutcome::Overrun { oldest } => oldest,
                        _ => from,
                    }
                });
                let gap = Gap {
                    subscription_id: sub.id,
                    epoch,
                    from: Seq(from),
                    to: Seq(resume.saturating_sub(1)),
                    reason: GapReason::NotRetained,
                };
                crate::metrics::gap("not_retained");
                sub.emit(&mut self.session, &mut self.encoder, &Message::Gap(gap));
                if first.is_none() {
                    sub.ticks.seek(resume);
                    sub.backfill = None;
                    continue;
                }
            }
            self.out_ticks.clear();
            self.out_ticks
                .extend(records.iter().filter(|t| sub.filter.matches_tick(t)));
            sub.emit_ticks(&mut self.session, &mut self.encoder, epoch, &self.out_ticks);
            crate::metrics::backfilled(records.len() as u64);
            sub.backfill = records.last().map(|t| t.seq + 1);
        }
    }

    /// Encodes what is available for every subscription. Returns whether more is waiting.
    fn deliver(&mut self) -> Result<bool, ConnError> {
        let epoch = self.services.query.epoch();
        let mut frames = 0;
        let mut sent_any = false;
        let can_backfill = self.services.query.shared.journal_dir.is_some();
        let head = self.services.query.head().0;
        let transport = if self.quic.is_some() { "quic" } else { "tcp" };
        for sub in &mut self.subs {
            while frames < FRAMES_PER_WAKE && sub.backfill.is_none() {
                match sub.ticks.read_batch(&mut self.tick_buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // Written straight from the ring words into the frame (one copy).
                        let out = match &mut sub.sink {
                            Some(sink) => &mut sink.building,
                            None => &mut self.scratch,
                        };
                        let mut frame = TickBatchFrame::begin(out, sub.id, epoch, n);
                        for w in &self.tick_buf[..n] {
                            let t = TickRecord::from_words(w);
                            if !sub.filter.matches_tick(&t) {
                                continue;
                            }
                            if sub.datagrams && t.kind() == Some(tickd_protocol::TickKind::Quote) {
                                // Conflated: keep only the latest quote per instrument.
                                self.latest_quotes.insert(t.instrument_id, t);
                            } else {
                                frame.push_words(w);
                            }
                        }
                        if frame.finish() > 0 {
                            match &mut sub.sink {
                                Some(sink) => sink.seal(),
                                None => self.session.send_frame(self.scratch.split().freeze()),
                            }
                            frames += 1;
                            sent_any = true;
                        }
                    }
                    Err(_)
                        if sub.lossless
                            && can_backfill
                            && sub.policy != SlowConsumerPolicy::Disconnect =>
                    {
                        // Fill from the journal, then rejoin the ring.
                        sub.backfill = Some(sub.ticks.next_seq());
                        break;
                    }
                    Err(_) if sub.policy == SlowConsumerPolicy::Conflate => {
                        // Skip to now, with the latest record per instrument and kind.
                        let snap = self.services.query.snapshot(sub.ids.as_deref(), &[]);
                        let gap = Gap {
                            subscription_id: sub.id,
                            epoch,
                            from: Seq(sub.ticks.next_seq()),
                            to: Seq(snap.seq),
                            reason: GapReason::Conflated,
                        };
                        crate::metrics::gap("conflated");
                        sub.emit(&mut self.session, &mut self.encoder, &Message::Gap(gap));
                        let mut latest: Vec<TickRecord> = snap
                            .ticks
                            .into_iter()
                            .filter(|t| sub.filter.matches_tick(t))
                            .collect();
                        latest.sort_by_key(|t| t.seq);
                        sub.emit_ticks(&mut self.session, &mut self.encoder, epoch, &latest);
                        sub.ticks.seek(snap.seq + 1);
                        frames += 1;
                    }
                    Err(oldest) => {
                        let gap = Gap {
                            subscription_id: sub.id,
                            epoch,
                            from: Seq(sub.ticks.next_seq()),
                            to: Seq(oldest - 1),
                            reason: GapReason::Overrun,
                        };
                        crate::metrics::gap("overrun");
                        sub.emit(&mut self.session, &mut self.encoder, &Message::Gap(gap));
                        if sub.policy == SlowConsumerPolicy::Disconnect {
                            self.session.send_error(
                                0,
                                ErrorCode::LimitExceeded,
                                "slow consumer: fell behind the ring, disconnecting",
                            );
                            crate::metrics::slow_consumer_disconnect();
                            return Err(ConnError::SlowConsumer);
                        }
                        sub.ticks.seek(oldest);
                        frames += 1;
                    }
                }
            }
            crate::metrics::subscriber_lag(
                transport,
                head.saturating_sub(sub.ticks.next_seq().saturating_sub(1)),
            );
            if !self.latest_quotes.is_empty() {
                if let Some(connection) = &self.quic {
                    for (_, q) in self.latest_quotes.drain() {
                        let quote = [q];
                        let msg = TickBatch {
                            subscription_id: sub.id,
                            epoch,
                            ticks: Records::Slice(&quote),
                        };
                        let payload = bytes::Bytes::copy_from_slice(
                            self.encoder.payload(&Message::TickBatch(msg)),
                        );
                        // Unreliable by design: a datagram the path drops is superseded by the next.
                        let _ = connection.send_datagram(payload);
                    }
                }
                self.latest_quotes.clear();
            }
            if let Some(candles) = &mut sub.candles {
                loop {
                    match candles.read_batch(&mut self.candle_buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            self.out_candles.clear();
                            self.out_candles.extend(
                                self.candle_buf[..n]
                                    .iter()
                                    .map(candle_from_slot)
                                    .filter(|c| sub.filter.matches_candle(c)),
                            );
                            if !self.out_candles.is_empty() {
                                let batch = CandleBatch {
                                    subscription_id: sub.id,
                                    epoch,
                                    candles: Records::Slice(&self.out_candles),
                                };
                                emit_to(
                                    &mut sub.sink,
                                    &mut self.session,
                                    &mut self.encoder,
                                    &Message::CandleBatch(batch),
                                );
                                sent_any = true;
                            }
                        }
                        // Candle updates are conflatable: skip to the oldest still held.
                        Err(oldest) => candles.seek(oldest),
                    }
                }
            }
        }
        if sent_any {
            self.session.data_sent(clock::now());
        }
        Ok(frames >= FRAMES_PER_WAKE)
    }
}
