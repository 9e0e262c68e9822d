//! Delivery, sans-IO (STYLE.md §2.3): what every subscription of one connection receives, in
//! which frames, and what happens when the client reads slower than the feed. One engine
//! serves the binary protocol over TCP and QUIC and the WebSocket dialects; the shells only
//! write what it queues and tell it about journal reads.
//!
//! ```text
//! ring ──► Delivery::poll ──► filter, conflate ──► Render ──► queue (≤ budget) ──► pop() ──► socket
//!   ▲            │ lapped: policy (gap / conflate / disconnect) or journal backfill
//!   └── seek ◄───┘
//! ```
//!
//! **Byte budget.** Everything queued for the connection counts against one budget: control
//! frames the shell pushes (query answers, acks, snapshots) and the data frames `poll` renders.
//! `poll` renders nothing while the queue holds `budget` bytes or more, so the queue never
//! exceeds the budget by more than one frame (at most `frame_records` ticks, or one answer the
//! shell pushed); [`Delivery::accepting`] tells the shell to stop reading requests until it
//! drains. A subscription that is not served falls behind the ring; when the ring laps it, its
//! slow-consumer policy applies: `drop` sends a `Gap` (reason `Overrun`) and continues from the
//! oldest record held, `conflate` sends a `Gap` (reason `Conflated`) and the latest tick per
//! instrument and kind, `disconnect` ends the connection (at once, even while over budget).
//! A subscription started from a seq or a time (lossless) is instead filled from the journal
//! when the shell has one ([`Delivery::backfill_wanted`]).
//!
//! **Fairness.** Each poll reads at most `frames_per_poll` batches of `frame_records` records
//! in all, starting from a different subscription each time, and reports whether more is
//! waiting so the shell yields to other connections between polls.

mod render;
mod ring;

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
pub use render::{Binary, Payload, Render};
pub use ring::Ring;
use tickd_protocol::files::{CANDLE_SLOT_WORDS, TICK_SLOT_WORDS, candle_from_slot};
use tickd_protocol::{
    CandleRecord, Epoch, Gap, GapReason, InstrumentId, Seq, SlowConsumerPolicy, TickKind,
    TickRecord, VenueHole,
};

use crate::Filter;

/// Budgets and batch sizes of one connection's delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Bytes queued for the connection beyond which nothing more is rendered and no request
    /// is read (the shell checks [`Delivery::accepting`]).
    pub budget: usize,
    /// Records read from the ring per batch (and so at most per data frame).
    pub frame_records: usize,
    /// Batches read per poll, over all subscriptions, before yielding.
    pub frames_per_poll: usize,
}

impl Default for DeliveryConfig {
    /// A 4 MiB budget, 1,024 records per frame, 64 frames per poll.
    fn default() -> Self {
        Self {
            budget: 4 << 20,
            frame_records: 1_024,
            frames_per_poll: 64,
        }
    }
}

/// Where a queued frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// The connection's own stream (TCP, the QUIC control stream, the WebSocket).
    Control,
    /// The subscription's own stream (QUIC).
    Stream(u32),
    /// An unreliable datagram (QUIC quotes in datagram mode).
    Datagram(u32),
}

/// How a subscription is delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubSpec {
    /// Its id on the connection.
    pub id: u32,
    /// What it selects.
    pub filter: Filter,
    /// What happens when the ring laps it.
    pub policy: SlowConsumerPolicy,
    /// Fill from the journal rather than skip when lapped (started from a seq or a time),
    /// unless the policy is `disconnect`.
    pub lossless: bool,
    /// Starts with a journal fill from this seq (it is older than the ring holds).
    pub backfill_from: Option<Seq>,
    /// Quotes are conflated per poll to the latest per instrument.
    pub conflate_quotes: bool,
    /// Candle updates are conflated per poll to the latest per instrument and interval.
    pub conflate_candles: bool,
    /// Quotes go out as datagrams (conflated), the rest on the subscription's stream.
    pub datagram_quotes: bool,
    /// Data goes on a stream of its own ([`Dest::Stream`]), not the connection's.
    pub own_stream: bool,
    /// The instruments selected (`None`: all), for the `conflate` policy's catch-up.
    pub instruments: Option<Vec<InstrumentId>>,
}

impl SubSpec {
    /// A spec with the binary protocol's defaults: drop policy, nothing conflated, the
    /// connection's stream.
    pub fn new(id: u32, filter: Filter) -> Self {
        Self {
            id,
            filter,
            policy: SlowConsumerPolicy::Drop,
            lossless: false,
            backfill_from: None,
            conflate_quotes: false,
            conflate_candles: false,
            datagram_quotes: false,
            own_stream: false,
            instruments: None,
        }
    }
}

/// What delivery needs from the server besides the rings.
pub trait Store {
    /// The latest tick per instrument and kind of `instruments` (`None`: all) and the seq
    /// they are current as of.
    fn latest(&mut self, instruments: Option<&[InstrumentId]>) -> (Seq, Vec<TickRecord>);
    /// Whether a journal is kept (lapped lossless subscriptions are filled from it).
    fn has_journal(&self) -> bool;
}

/// A subscription with the `disconnect` policy was lapped: the connection must close. Its
/// `Gap` is queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("slow consumer: subscription {subscription} fell behind the ring (seqs {}..={} lost)", gap.from.0, gap.to.0)]
pub struct SlowConsumer {
    /// The subscription.
    pub subscription: u32,
    /// What it lost.
    pub gap: Gap,
}

/// Counts since the last [`Delivery::take_stats`], for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Gaps because a subscriber was lapped (`drop`, `disconnect`).
    pub overrun_gaps: u64,
    /// Gaps replaced by the latest ticks (`conflate`).
    pub conflated_gaps: u64,
    /// Gaps because the journal no longer has the records either.
    pub not_retained_gaps: u64,
    /// Records delivered from the journal.
    pub backfilled: u64,
    /// Venue gaps delivered (holes in a venue's data, declared by its feed).
    pub venue_gaps: u64,
}

struct Sub<T, C> {
    spec: SubSpec,
    ticks: T,
    candles: C,
    /// Pending journal fill from this seq.
    backfill: Option<Seq>,
}

/// One connection's delivery: subscriptions, their cursors, and the queue of frames (`F`:
/// binary frames by default, text messages for a WebSocket) to write. See the module docs.
pub struct Delivery<T, C, F = Bytes> {
    config: DeliveryConfig,
    epoch: Epoch,
    subs: Vec<Sub<T, C>>,
    queue: VecDeque<(Dest, F)>,
    queued: usize,
    next_first: usize,
    stats: DeliveryStats,
    tick_buf: Vec<[u64; TICK_SLOT_WORDS]>,
    candle_buf: Vec<[u64; CANDLE_SLOT_WORDS]>,
    out_ticks: Vec<TickRecord>,
    out_candles: Vec<CandleRecord>,
    quotes: HashMap<u32, TickRecord>,
    latest_candles: HashMap<(u32, u32), CandleRecord>,
    rendered: Vec<F>,
}

impl<T, C, F> std::fmt::Debug for Delivery<T, C, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("config", &self.config)
            .field("subscriptions", &self.subs.len())
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

/// Candle updates read from the candle ring per batch.
const CANDLE_BATCH: usize = 256;

impl<T, C, F> Delivery<T, C, F>
where
    T: Ring<TICK_SLOT_WORDS>,
    C: Ring<CANDLE_SLOT_WORDS>,
    F: Payload,
{
    /// An engine for a connection to rings of `epoch`.
    pub fn new(config: DeliveryConfig, epoch: Epoch) -> Self {
        Self {
            config,
            epoch,
            subs: Vec::new(),
            queue: VecDeque::new(),
            queued: 0,
            next_first: 0,
            stats: DeliveryStats::default(),
            tick_buf: Vec::new(),
            candle_buf: Vec::new(),
            out_ticks: Vec::new(),
            out_candles: Vec::new(),
            quotes: HashMap::new(),
            latest_candles: HashMap::new(),
            rendered: Vec::new(),
        }
    }

    /// Adds a subscription whose tick cursor is at its start and whose candle cursor is
    /// where its candle updates start (both positioned by the caller).
    pub fn add(&mut self, spec: SubSpec, ticks: T, candles: C) {
        let backfill = spec.backfill_from;
        self.subs.push(Sub {
            spec,
            ticks,
            candles,
            backfill,
        });
    }

    /// Ends subscription `id`. Returns whether it existed.
    pub fn remove(&mut self, id: u32) -> bool {
        let before = self.subs.len();
        self.subs.retain(|s| s.spec.id != id);
        self.subs.len() != before
    }

    /// Subscriptions held.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether no subscription is held.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// Replaces subscription `id`'s filter (a WebSocket client changed what it wants).
    pub fn set_filter(&mut self, id: u32, filter: Filter) {
        if let Some(s) = self.subs.iter_mut().find(|s| s.spec.id == id) {
            s.spec.filter = filter;
        }
    }

    /// Moves subscription `id`'s tick cursor to `seq` (a client's resume).
    pub fn seek(&mut self, id: u32, seq: Seq) {
        if let Some(s) = self.subs.iter_mut().find(|s| s.spec.id == id) {
            s.ticks.seek(seq.0);
            s.backfill = None;
        }
    }

    /// Where subscription `id`'s data goes.
    pub fn dest(&self, id: u32) -> Dest {
        match self.subs.iter().find(|s| s.spec.id == id) {
            Some(s) if s.spec.own_stream => Dest::Stream(id),
            _ => Dest::Control,
        }
    }

    /// Queues `frame` for `dest` (a control frame, an answer, a snapshot). It counts against
    /// the budget like the data frames.
    pub fn push(&mut self, dest: Dest, frame: F) {
        self.queued += frame.byte_len();
        self.queue.push_back((dest, frame));
    }

    /// The next frame to write, oldest first; it no longer counts against the budget.
    pub fn pop(&mut self) -> Option<(Dest, F)> {
        let (dest, frame) = self.queue.pop_front()?;
        self.queued -= frame.byte_len();
        Some((dest, frame))
    }

    /// Where the next frame [`Delivery::pop`] gives goes, if any.
    pub fn front(&self) -> Option<Dest> {
        self.queue.front().map(|(dest, _)| *dest)
    }

    /// Bytes queued.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Whether the queue is under budget: the shell may read requests and `poll` renders.
    pub fn accepting(&self) -> bool {
        self.queued < self.config.budget
    }

    /// How far each subscription is behind `head` (records), for metrics.
    pub fn lags(&self) -> impl Iterator<Item = u64> + '_ {
        self.subs.iter().map(|s| {
            s.ticks
                .head()
                .saturating_sub(s.ticks.next_seq().saturating_sub(1))
        })
    }

    /// The counts since the last call.
    pub fn take_stats(&mut self) -> DeliveryStats {
        std::mem::take(&mut self.stats)
    }

    fn flush_rendered(&mut self, dest: Dest) {
        Self::flush_to(&mut self.queue, &mut self.queued, &mut self.rendered, dest);
    }

    /// Moves what a renderer produced to the queue (a function of the fields it touches, so
    /// a subscription can stay borrowed).
    fn flush_to(
        queue: &mut VecDeque<(Dest, F)>,
        queued: &mut usize,
        rendered: &mut Vec<F>,
        dest: Dest,
    ) {
        for frame in rendered.drain(..) {
            *queued += frame.byte_len();
            queue.push_back((dest, frame));
        }
    }

    /// Renders what every subscription has available, within the budget and the per-poll
    /// batch limit. Returns whether more is waiting (the batch limit stopped it: poll again
    /// after yielding). When over budget, only checks `disconnect` subscriptions for laps.
    ///
    /// A poll the budget stopped returns `false` although records may be waiting: the shell
    /// polls again once sending the queue brings it back under budget ([`Self::accepting`]),
    /// as no publish will wake it for records already published.
    ///
    /// # Errors
    ///
    /// [`SlowConsumer`] when a `disconnect` subscription was lapped (its `Gap` is queued;
    /// the shell sends the reason and closes).
    pub fn poll(
        &mut self,
        store: &mut impl Store,
        render: &mut impl Render<Frame = F>,
    ) -> Result<bool, SlowConsumer> {
        if !self.accepting() {
            for s in &self.subs {
                if s.spec.policy != SlowConsumerPolicy::Disconnect || s.backfill.is_some() {
                    continue;
                }
                if let Err(oldest) = s.ticks.holds(s.ticks.next_seq()) {
                    let (id, from) = (s.spec.id, s.ticks.next_seq());
                    return Err(self.disconnect(id, from, oldest, render));
                }
            }
            return Ok(false);
        }
        if self.tick_buf.len() != self.config.frame_records {
            self.tick_buf = vec![[0; TICK_SLOT_WORDS]; self.config.frame_records.max(1)];
        }
        let n = self.subs.len();
        let mut reads = 0;
        let mut more = false;
        let first = if n == 0 { 0 } else { self.next_first % n };
        self.next_first = self.next_first.wrapping_add(1);
        for k in 0..n {
            let i = (first + k) % n;
            if !self.accepting() {
                break;
            }
            if reads >= self.config.frames_per_poll {
                more = true;
                break;
            }
            more |= self.poll_ticks(i, &mut reads, store, render)?;
            if self.accepting() {
                more |= self.poll_candles(i, &mut reads, render);
            }
        }
        Ok(more)
    }

    /// One subscription's ticks. Returns whether it stopped at the batch limit.
    fn poll_ticks(
        &mut self,
        i: usize,
        reads: &mut usize,
        store: &mut impl Store,
        render: &mut impl Render<Frame = F>,
    ) -> Result<bool, SlowConsumer> {
        let epoch = self.epoch;
        let s = &mut self.subs[i];
        if s.backfill.is_some() {
            return Ok(false);
        }
        if !s.spec.filter.wants_ticks() {
            // Nothing selected: keep the cursor current so a later selection starts now.
            let head = s.ticks.head();
            s.ticks.seek(head + 1);
            return Ok(false);
        }
        let id = s.spec.id;
        let dest = if s.spec.own_stream {
            Dest::Stream(id)
        } else {
            Dest::Control
        };
        loop {
            if *reads >= self.config.frames_per_poll {
                return Ok(true);
            }
            if !self.accepting() {
                return Ok(false);
            }
            let s = &mut self.subs[i];
            match s.ticks.read_batch(&mut self.tick_buf) {
                Ok(0) => break,
                Ok(n) => {
                    *reads += 1;
                    self.out_ticks.clear();
                    let conflate = s.spec.conflate_quotes || s.spec.datagram_quotes;
                    let datagrams = s.spec.datagram_quotes;
                    for w in &self.tick_buf[..n] {
                        let t = TickRecord::from_words(w);
                        if !s.spec.filter.matches_tick(&t) {
                            if let Some(hole) = s.spec.filter.matches_venue_gap(&t) {
                                // What came before the hole goes first.
                                render.ticks(id, epoch, &self.out_ticks, &mut self.rendered);
                                self.out_ticks.clear();
                                render.gap(&venue_gap(id, epoch, &t, hole), &mut self.rendered);
                                self.stats.venue_gaps += 1;
                            }
                            continue;
                        }
                        if conflate && t.kind() == Some(TickKind::Quote) {
                            self.quotes.insert(t.instrument_id, t);
                        } else {
                            self.out_ticks.push(t);
                        }
                    }
                    render.ticks(id, epoch, &self.out_ticks, &mut self.rendered);
                    self.flush_rendered(dest);
                    if !self.quotes.is_empty() {
                        self.out_ticks.clear();
                        self.out_ticks.extend(self.quotes.drain().map(|(_, q)| q));
                        self.out_ticks.sort_unstable_by_key(|t| t.seq);
                        for q in &self.out_ticks {
                            render.ticks(id, epoch, std::slice::from_ref(q), &mut self.rendered);
                        }
                        self.flush_rendered(if datagrams { Dest::Datagram(id) } else { dest });
                    }
                }
                Err(oldest) => {
                    let from = s.ticks.next_seq();
                    let policy = s.spec.policy;
                    if s.spec.lossless
                        && policy != SlowConsumerPolicy::Disconnect
                        && store.has_journal()
                    {
                        s.backfill = Some(Seq(from));
                        return Ok(false);
                    }
                    *reads += 1;
                    match policy {
                        SlowConsumerPolicy::Disconnect => {
                            return Err(self.disconnect(id, from, oldest, render));
                        }
                        SlowConsumerPolicy::Conflate => {
                            let ids = s.spec.instruments.clone();
                            let (seq, mut latest) = store.latest(ids.as_deref());
                            let s = &mut self.subs[i];
                            latest.retain(|t| s.spec.filter.matches_tick(t));
                            latest.sort_unstable_by_key(|t| t.seq);
                            let gap = Gap {
                                subscription_id: id,
                                epoch,
                                from: Seq(from),
                                to: seq,
                                reason: GapReason::Conflated,
                            };
                            s.ticks.seek(seq.0 + 1);
                            self.stats.conflated_gaps += 1;
                            render.gap(&gap, &mut self.rendered);
                            render.ticks(id, epoch, &latest, &mut self.rendered);
                            self.flush_rendered(dest);
                        }
                        _ => {
                            let gap = Gap {
                                subscription_id: id,
                                epoch,
                                from: Seq(from),
                                to: Seq(oldest - 1),
                                reason: GapReason::Overrun,
                            };
                            s.ticks.seek(oldest);
                            self.stats.overrun_gaps += 1;
                            render.gap(&gap, &mut self.rendered);
                            self.flush_rendered(dest);
                        }
                    }
                }
            }
        }
        Ok(false)
    }

    fn disconnect(
        &mut self,
        id: u32,
        from: u64,
        oldest: u64,
        render: &mut impl Render<Frame = F>,
    ) -> SlowConsumer {
        let gap = Gap {
            subscription_id: id,
            epoch: self.epoch,
            from: Seq(from),
            to: Seq(oldest - 1),
            reason: GapReason::Overrun,
        };
        self.stats.overrun_gaps += 1;
        render.gap(&gap, &mut self.rendered);
        let dest = self.dest(id);
        self.flush_rendered(dest);
        SlowConsumer {
            subscription: id,
            gap,
        }
    }

    /// One subscription's candle updates (never lapped: candle updates are conflatable, a
    /// lapped reader skips to the oldest held). Returns whether it stopped at the batch limit.
    fn poll_candles(
        &mut self,
        i: usize,
        reads: &mut usize,
        render: &mut impl Render<Frame = F>,
    ) -> bool {
        let epoch = self.epoch;
        let s = &mut self.subs[i];
        if !s.spec.filter.wants_candles() {
            let head = s.candles.head();
            s.candles.seek(head + 1);
            return false;
        }
        if self.candle_buf.is_empty() {
            self.candle_buf = vec![[0; CANDLE_SLOT_WORDS]; CANDLE_BATCH];
        }
        let id = s.spec.id;
        let dest = if s.spec.own_stream {
            Dest::Stream(id)
        } else {
            Dest::Control
        };
        let conflate = s.spec.conflate_candles;
        let mut limited = false;
        loop {
            if *reads >= self.config.frames_per_poll {
                limited = true;
                break;
            }
            if !self.accepting() {
                break;
            }
            let s = &mut self.subs[i];
            match s.candles.read_batch(&mut self.candle_buf) {
                Ok(0) => break,
                Ok(n) => {
                    *reads += 1;
                    let filter = &s.spec.filter;
                    let updates = self.candle_buf[..n]
                        .iter()
                        .map(candle_from_slot)
                        .filter(|c| filter.matches_candle(c));
                    if conflate {
                        for c in updates {
                            self.latest_candles
                                .insert((c.instrument_id, c.interval_s), c);
                        }
                        continue;
                    }
                    self.out_candles.clear();
                    self.out_candles.extend(updates);
                    let seq = Seq(s.ticks.next_seq().saturating_sub(1));
                    render.candles(id, epoch, seq, &self.out_candles, &mut self.rendered);
                    Self::flush_to(&mut self.queue, &mut self.queued, &mut self.rendered, dest);
                }
                Err(oldest) => s.candles.seek(oldest),
            }
        }
        if !self.latest_candles.is_empty() {
            let seq = Seq(self.subs[i].ticks.next_seq().saturating_sub(1));
            self.out_candles.clear();
            self.out_candles
                .extend(self.latest_candles.drain().map(|(_, c)| c));
            self.out_candles
                .sort_unstable_by_key(|c| (c.instrument_id, c.interval_s));
            render.candles(id, epoch, seq, &self.out_candles, &mut self.rendered);
            self.flush_rendered(dest);
        }
        limited
    }

    /// A subscription waiting for records only the journal has, and the first seq it needs:
    /// the shell reads a chunk from there (off its IO thread) and hands it to
    /// [`Delivery::backfilled`]. `None` while over budget, or when no fill is pending. A
    /// subscription whose next seq the ring holds again rejoins the ring here.
    pub fn backfill_wanted(&mut self) -> Option<(u32, Seq)> {
        if !self.accepting() {
            return None;
        }
        for s in &mut self.subs {
            let Some(from) = s.backfill else { continue };
            if s.ticks.holds(from.0).is_ok() {
                s.ticks.seek(from.0);
                s.backfill = None;
                continue;
            }
            return Some((s.spec.id, from));
        }
        None
    }

    /// Whether some subscription is filling from the journal.
    pub fn backfilling(&self) -> bool {
        self.subs.iter().any(|s| s.backfill.is_some())
    }

    /// The journal's `records` from the seq [`Delivery::backfill_wanted`] gave for
    /// subscription `id` (in seq order, possibly none). What the journal no longer has
    /// either is declared with a `Gap` (reason `NotRetained`), never skipped silently.
    /// Returns whether the fill goes on (read the next chunk from where this one ended).
    pub fn backfilled(
        &mut self,
        id: u32,
        records: &[TickRecord],
        render: &mut impl Render<Frame = F>,
    ) -> bool {
        let epoch = self.epoch;
        let Some(i) = self.subs.iter().position(|s| s.spec.id == id) else {
            return false;
        };
        let s = &mut self.subs[i];
        let Some(from) = s.backfill else {
            return false;
        };
        let dest = if s.spec.own_stream {
            Dest::Stream(id)
        } else {
            Dest::Control
        };
        let first = records.first().map(|t| Seq(t.seq));
        if first != Some(from) {
            let resume = first.unwrap_or_else(|| match s.ticks.holds(from.0) {
                Err(oldest) => Seq(oldest),
                Ok(()) => from,
            });
            if resume > from {
                let gap = Gap {
                    subscription_id: id,
                    epoch,
                    from,
                    to: Seq(resume.0 - 1),
                    reason: GapReason::NotRetained,
                };
                self.stats.not_retained_gaps += 1;
                render.gap(&gap, &mut self.rendered);
            }
            if first.is_none() {
                s.ticks.seek(resume.0);
                s.backfill = None;
                Self::flush_to(&mut self.queue, &mut self.queued, &mut self.rendered, dest);
                return false;
            }
        }
        self.out_ticks.clear();
        for t in records {
            if s.spec.filter.matches_tick(t) {
                self.out_ticks.push(*t);
            } else if let Some(hole) = s.spec.filter.matches_venue_gap(t) {
                render.ticks(id, epoch, &self.out_ticks, &mut self.rendered);
                self.out_ticks.clear();
                render.gap(&venue_gap(id, epoch, t, hole), &mut self.rendered);
                self.stats.venue_gaps += 1;
            }
        }
        render.ticks(id, epoch, &self.out_ticks, &mut self.rendered);
        Self::flush_to(&mut self.queue, &mut self.queued, &mut self.rendered, dest);
        self.stats.backfilled += records.len() as u64;
        let next = records.last().map_or(from, |t| Seq(t.seq + 1));
        s.backfill = Some(next);
        true
    }
}

/// The `Gap` subscription `id` receives for the venue-gap `record`.
fn venue_gap(id: u32, epoch: Epoch, record: &TickRecord, hole: VenueHole) -> Gap {
    Gap {
        subscription_id: id,
        epoch,
        from: record.seq(),
        to: record.seq(),
        reason: GapReason::Venue(hole),
    }
}
