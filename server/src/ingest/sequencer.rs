//! The sequencer: the ring's only writer (DESIGN.md §4). Feeds hand it [`Batch`]es over a
//! bounded channel. Per batch it validates and stamps every tick (`seq`, `ts_recv`), adds a
//! candle-close control record when the wall clock has passed a candle's end plus grace,
//! commits the batch to the journal, and only then writes ring slots, latest cells and candles
//! and publishes the new head: nothing is visible anywhere before it is durable.
//!
//! A journal write that fails answers the batch with the error (publishers get an `Error`;
//! a feed's batch is kept and retried, in order, with backoff: the feed is pushed back on once
//! [`MAX_HELD`] batches wait), turns `/health` degraded, and resumes by itself at the first
//! write that succeeds.
//!
//! [`Sequencer::ingest`] is the whole per-batch step with time as an argument, so benches and
//! tests drive it without a thread; [`spawn`] runs it on its own thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;

use tickd_engine::{
    BatchOutcome, CandleBook, CandleView, FeedIds, Invalid, PublishRequest, RecordSink, Skew,
};
use tickd_protocol::files::{candle_slot, latest_cell, scales_of_tag, scales_tag};
use tickd_protocol::{
    CandleRecord, Epoch, InstrumentId, Scales, Seq, Symbol, TickRecord, UnixNanos,
};

use super::input::{Batch, FeedClock, FeedId, FeedStats, Input, InputRx, Next, PublishOutcome};
use super::instruments::{InstrumentTable, Instruments};
use super::status::IngestStatus;
use crate::clock;
use crate::storage::journal::{Definition, Journal};
use crate::storage::store::Store;

/// How often an idle sequencer closes candles by the wall clock.
const IDLE_TICK: std::time::Duration = std::time::Duration::from_millis(100);
/// First and longest wait between retries of a failed journal write.
const RETRY_MIN: std::time::Duration = std::time::Duration::from_millis(50);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);
/// Feed batches kept while the journal fails; beyond this the sequencer stops taking input,
/// so feeds block (they keep their data) instead of the sequencer's memory growing.
pub const MAX_HELD: usize = 64;

/// A batch the journal did not take: nothing of it was sequenced.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the journal could not be written, nothing of this batch was sequenced: {0}")]
pub struct JournalError(pub String);

/// Per-feed state: its counters, clock, and local symbol index → instrument id.
#[derive(Debug)]
struct FeedState {
    stats: Arc<FeedStats>,
    clock: FeedClock,
    ended: bool,
    ids: FeedIds,
}

/// Head and epoch, as seen by async readers; sent once per batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Last tick seq published.
    pub head: Seq,
    /// Last candle-ring seq published.
    pub candle_head: u64,
}

/// The sequencer's state. Single owner (the sequencer thread).
#[derive(Debug)]
pub struct Sequencer {
    store: Store,
    /// The candles (the writer; readers share its view).
    book: CandleBook,
    instruments: Instruments,
    feeds: Vec<FeedState>,
    updates: Vec<CandleRecord>,
    published: tokio::sync::watch::Sender<Published>,
    /// Ticks rejected, by reason, since start (the last reason's text is logged).
    pub rejected_total: u64,
    /// Where accepted batches are made durable before they are published (none: not durable).
    journal: Option<Journal>,
    /// Symbols registered since the last journal block.
    new_symbols: Vec<Definition>,
    /// The current batch's stamped records: journaled, then made visible (reused).
    pending: Vec<TickRecord>,
    /// Journal health, for `/health` and `/metrics`.
    status: Arc<IngestStatus>,
    /// How far ahead of the clock wall-clock feeds may date ticks.
    max_future_skew: Option<std::time::Duration>,
    /// New symbols each publisher may define (`None`: no limit).
    symbol_quota: Option<usize>,
    /// New symbols defined, by publisher.
    defined_by: std::collections::HashMap<String, usize>,
    /// Symbols the directory refused, logged at most every few seconds.
    refusals: Refusals,
    /// An edge: records come sequenced from the origin (candle closes included), so this
    /// sequencer closes no candle by its own clock.
    follower: bool,
}

/// Symbols the directory refused (full, or defined with other scales): counted, and logged
/// at most once per [`Refusals::EVERY`] with the count, never once per symbol.
#[derive(Debug, Default)]
struct Refusals {
    since_log: u64,
    last_log: Option<std::time::Instant>,
}

impl Refusals {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    fn note(&mut self, e: &RegisterError) {
        self.since_log += 1;
        if self.last_log.is_none_or(|t| t.elapsed() >= Self::EVERY) {
            tracing::error!(
                refused = self.since_log,
                "{e} (symbols refused since the last report: {})",
                self.since_log
            );
            self.since_log = 0;
            self.last_log = Some(std::time::Instant::now());
        }
    }
}

/// Registers `symbol` with `scales` in the shm directory (which assigns its id, and keeps the
/// scales in the entry's tag) and the in-process table; a symbol new to the table is queued in
/// `new_symbols` for the journal. Scales are set once: a known symbol with other scales is
/// refused.
fn register(
    store: &mut Store,
    instruments: &Instruments,
    new_symbols: &mut Vec<Definition>,
    symbol: Symbol,
    scales: Scales,
) -> Result<InstrumentId, RegisterError> {
    let id = store
        .symbols
        .insert_tagged(symbol.as_bytes(), scales_tag(scales))
        .map_err(|source| RegisterError {
            symbol,
            scales,
            source,
        })?;
    let id = InstrumentId(id);
    // Publishers name their symbols in every batch: a known one costs a read lock, not a write
    // lock that readers of the table would wait on.
    let known = |t: &InstrumentTable| t.symbol(id).is_some();
    if known(&instruments.read().unwrap_or_else(PoisonError::into_inner)) {
        return Ok(id);
    }
    let mut table = instruments.write().unwrap_or_else(PoisonError::into_inner);
    if !known(&table) {
        table.insert(symbol, id, scales);
        new_symbols.push((id, symbol, scales));
    }
    Ok(id)
}

/// The engine's [`RecordSink`]: new symbols go to the shm directory, stamped records to
/// `pending` (made visible only after the journal commit), seqs continue the ring's.
struct StoreSink<'a> {
    store: &'a mut Store,
    instruments: &'a Instruments,
    new_symbols: &'a mut Vec<Definition>,
    pending: &'a mut Vec<TickRecord>,
    refusals: &'a mut Refusals,
}

impl RecordSink for StoreSink<'_> {
    fn register(&mut self, symbol: Symbol, scales: Scales) -> Option<InstrumentId> {
        register(
            self.store,
            self.instruments,
            self.new_symbols,
            symbol,
            scales,
        )
        .inspect_err(|e| self.refusals.note(e))
        .ok()
    }

    fn next_seq(&self) -> Seq {
        Seq(self.store.ticks.next_seq() + self.pending.len() as u64)
    }

    fn write(&mut self, t: &TickRecord) {
        self.pending.push(*t);
    }
}

/// Why a new symbol could not be registered.
#[derive(Debug, thiserror::Error)]
#[error("cannot register symbol {symbol} with scales {scales}: {}", describe(.source))]
pub struct RegisterError {
    symbol: Symbol,
    scales: Scales,
    source: tickd_shm::InsertError,
}

/// What an insert error means for an instrument.
fn describe(e: &tickd_shm::InsertError) -> String {
    match e {
        tickd_shm::InsertError::TagMismatch { existing, .. } => match scales_of_tag(*existing) {
            Some(s) => format!("it is defined with scales {s} (scales are set once)"),
            None => format!("it is defined with tag {existing:#x}"),
        },
        other => other.to_string(),
    }
}

impl Sequencer {
    /// A sequencer writing `store`, folding trades into `book`, publishing to `published`.
    pub fn new(
        store: Store,
        book: CandleBook,
        instruments: Instruments,
        published: tokio::sync::watch::Sender<Published>,
    ) -> Self {
        Self::with_status(
            store,
            book,
            instruments,
            published,
            Arc::new(IngestStatus::default()),
        )
    }

    /// [`Sequencer::new`], reporting journal health to `status`.
    pub fn with_status(
        store: Store,
        book: CandleBook,
        instruments: Instruments,
        published: tokio::sync::watch::Sender<Published>,
        status: Arc<IngestStatus>,
    ) -> Self {
        Self {
            store,
            book,
            instruments,
            feeds: Vec::new(),
            updates: Vec::with_capacity(1024),
            published,
            rejected_total: 0,
            journal: None,
            new_symbols: Vec::new(),
            pending: Vec::with_capacity(4096),
            status,
            max_future_skew: None,
            symbol_quota: None,
            defined_by: std::collections::HashMap::new(),
            refusals: Refusals::default(),
            follower: false,
        }
    }

    /// Registers `symbol` (`scales`), which `source` defines as instrument `id`.
    ///
    /// # Errors
    ///
    /// If the directory refuses it or assigns another id (`source` is out of step with it).
    fn register_as(
        &mut self,
        id: InstrumentId,
        symbol: Symbol,
        scales: Scales,
        source: &str,
    ) -> anyhow::Result<()> {
        let got = register(
            &mut self.store,
            &self.instruments,
            &mut self.new_symbols,
            symbol,
            scales,
        )?;
        if got != id {
            anyhow::bail!(
                "{source} defines {symbol} as instrument {} but it was assigned {}",
                id.0,
                got.0
            );
        }
        Ok(())
    }

    /// Makes this sequencer an edge's: it takes only [`Sequencer::apply_sequenced`] records
    /// and closes no candle by its own clock (the origin's candle-close records do).
    pub fn set_follower(&mut self) {
        self.follower = true;
    }

    /// Writes records an origin sequenced, verbatim (their `seq`, `ts_recv`, instrument ids):
    /// registers `definitions` (each must get the id the origin gave it), skips records
    /// already held (a resumed stream overlaps), journals the rest, and makes them visible
    /// with their candle updates, as a feed batch is. Returns the head.
    ///
    /// # Errors
    ///
    /// A definition whose id differs from the one this node assigns, a record past the next
    /// seq (a hole: nothing of the batch is written), or a journal failure.
    pub fn apply_sequenced(
        &mut self,
        definitions: &[Definition],
        records: &[TickRecord],
    ) -> Result<Seq, String> {
        debug_assert!(self.pending.is_empty());
        for &(id, symbol, scales) in definitions {
            let known = self
                .instruments
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .symbol(id);
            match known {
                Some(s) if s == symbol => continue,
                Some(s) => {
                    return Err(format!(
                        "the origin defines instrument {} as {symbol}, this node has {s}",
                        id.0
                    ));
                }
                None => {}
            }
            self.register_as(id, symbol, scales, "the origin")
                .map_err(|e| format!("{e:#}"))?;
        }
        let mut next = self.store.ticks.next_seq();
        for r in records {
            if r.seq < next {
                continue;
            }
            if r.seq > next {
                self.pending.clear();
                return Err(format!(
                    "record {} follows {}: the origin's stream has a hole",
                    r.seq,
                    next - 1
                ));
            }
            self.pending.push(*r);
            next += 1;
        }
        self.commit().map_err(|e| e.to_string())?;
        self.make_visible();
        Ok(self.head())
    }

    /// Journals every batch from now on, before it is published.
    pub fn set_journal(&mut self, journal: Journal) {
        self.journal = Some(journal);
    }

    /// Rebuilds the ring, latest table and candles from a recovered record (already
    /// journaled: it is not written again). Records must come in seq order, continuing the
    /// ring's sequence. Publish with [`Sequencer::finish_restore`].
    pub fn restore(&mut self, tick: &TickRecord) {
        let words = tick.to_words();
        let seq = self.store.ticks.push(&words);
        debug_assert_eq!(seq, tick.seq);
        if let Some(kind) = tick.kind() {
            // Ids are below `max_instruments`: the cell exists.
            let _ = self
                .store
                .latest
                .write(latest_cell(tick.instrument(), kind), seq, &words);
        }
        self.book.apply(tick);
        if seq.is_multiple_of(65_536) {
            self.store.ticks.publish();
        }
    }

    /// Registers recovered symbols in id order and publishes what [`Sequencer::restore`] wrote.
    ///
    /// # Errors
    ///
    /// If a symbol's recovered id differs from the one the directory assigns (a corrupt
    /// journal).
    pub fn finish_restore(&mut self, symbols: &[Definition]) -> anyhow::Result<()> {
        for &(id, symbol, scales) in symbols {
            self.register_as(id, symbol, scales, "the journal")?;
        }
        self.new_symbols.clear();
        let view = Arc::clone(self.book.view());
        view.begin_write();
        self.store.ticks.publish();
        self.book.drain_updates(&mut self.updates);
        view.end_write(Seq(self.store.ticks.head()));
        self.updates.clear();
        self.published.send_replace(Published {
            head: Seq(self.store.ticks.head()),
            candle_head: self.store.candles.head(),
        });
        Ok(())
    }

    /// The readers' view of the candles.
    pub fn candles(&self) -> Arc<CandleView> {
        Arc::clone(self.book.view())
    }

    /// Makes everything journaled so far durable (shutdown).
    pub fn sync_journal(&mut self) {
        if let Some(Err(e)) = self.journal.as_mut().map(Journal::sync) {
            tracing::error!("{e:#}");
        }
    }

    /// Registers a feed; batches must carry the returned id.
    pub fn add_feed(&mut self, stats: Arc<FeedStats>, clock: FeedClock) -> FeedId {
        self.feeds.push(FeedState {
            stats,
            clock,
            ended: false,
            ids: FeedIds::default(),
        });
        // Feeds are few (a handful of threads and publisher connections).
        (self.feeds.len() - 1) as FeedId
    }

    /// The epoch of the ring.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.store.ticks.epoch())
    }

    /// The last published seq.
    pub fn head(&self) -> Seq {
        Seq(self.store.ticks.head())
    }

    /// Whether candles follow the wall clock: no event-clock (replay) feed is still running.
    fn wall_clock_candles(&self) -> bool {
        !self
            .feeds
            .iter()
            .any(|f| f.clock == FeedClock::Event && !f.ended)
    }

    /// Closes candles due by the wall clock `now` (when no replay is running) with a
    /// candle-close record, and publishes it. Called when idle, so live candles close without
    /// a later trade.
    ///
    /// # Errors
    ///
    /// If the journal refused the record (it is written again at the next call).
    pub fn on_idle(&mut self, now: UnixNanos) -> Result<(), JournalError> {
        if !self.follower && self.wall_clock_candles() {
            self.close_due(now)?;
        }
        Ok(())
    }

    /// Sequences a candle-close record if a candle is due at `now`.
    fn close_due(&mut self, now: UnixNanos) -> Result<(), JournalError> {
        if self.due_cutoff(now).is_some() {
            self.sequence(
                &[],
                &mut FeedIds::default(),
                now,
                Skew(None),
                None,
                |_, _| {},
            )?;
        }
        Ok(())
    }

    /// The cutoff of the candle-close record due at `now`, if any candle is due.
    fn due_cutoff(&mut self, now: UnixNanos) -> Option<UnixNanos> {
        self.book.due_cutoff(now)
    }

    /// Sequences one feed batch at time `now` (`ts_recv` of every tick in it), publishes it
    /// and the candle updates it caused, and wakes readers. `on_reject` hears each rejected
    /// tick's index in the batch and reason. A batch that ends its feed marks it finished and,
    /// when it was the last running replay, closes every candle the wall clock has passed.
    ///
    /// # Errors
    ///
    /// If the journal refused the batch: nothing of it is sequenced, and the same batch may be
    /// handed in again (its new symbols are remembered).
    ///
    /// # Panics
    ///
    /// If `batch.feed` was not returned by [`Sequencer::add_feed`] (a wiring bug).
    pub fn ingest(
        &mut self,
        batch: &Batch,
        now: UnixNanos,
        on_reject: impl FnMut(usize, Invalid),
    ) -> Result<BatchOutcome, JournalError> {
        let feed = usize::from(batch.feed);
        let known = self.feeds[feed].ids.len();
        let mut ids = std::mem::take(&mut self.feeds[feed].ids);
        ids.extend(batch.new_symbols.iter().copied());
        let end = batch.end.then_some(feed);
        let skew = self.skew_of(self.feeds[feed].clock);
        let out = self.sequence(&batch.ticks, &mut ids, now, skew, end, on_reject);
        if out.is_err() {
            // The batch comes again with the same new symbols.
            ids.truncate(known);
        }
        self.feeds[feed].ids = ids;
        let out = out?;
        self.count(feed, &out);
        Ok(out)
    }

    /// Sequences a publisher's batch: its ticks' `instrument_id`s index `req.symbols`; new
    /// symbols get instrument ids when a valid tick first uses them. `publisher` (the token's
    /// name, or `anonymous`) may define at most the symbol quota of new instruments: a batch
    /// that would go beyond is refused whole with `LimitExceeded`. Counted under feed `feed`
    /// (the publishers' feed).
    ///
    /// # Panics
    ///
    /// If `feed` was not returned by [`Sequencer::add_feed`] (a wiring bug).
    pub fn publish(
        &mut self,
        feed: FeedId,
        publisher: &str,
        req: &PublishRequest,
        now: UnixNanos,
    ) -> PublishOutcome {
        if self.follower {
            return PublishOutcome {
                error: Some((
                    tickd_protocol::ErrorCode::Forbidden,
                    "this node is an edge (--follow): publish to the origin".to_owned(),
                )),
                ..PublishOutcome::default()
            };
        }
        let mut ids = FeedIds::default();
        ids.extend(req.definitions());
        let new = self.new_symbols_of(&ids, &req.ticks);
        let used = self.defined_by.get(publisher).copied().unwrap_or(0);
        if let Some(quota) = self.symbol_quota
            && used + new > quota
        {
            let message = format!(
                "publisher {publisher:?} may define {quota} new symbols and has defined {used}; \
                 this batch would define {new} more (--symbol-quota)"
            );
            return PublishOutcome {
                error: Some((tickd_protocol::ErrorCode::LimitExceeded, message)),
                ..PublishOutcome::default()
            };
        }
        let before = self.instrument_count();
        let mut rejected = Vec::new();
        let skew = self.skew_of(self.feeds[usize::from(feed)].clock);
        let out = self.sequence(&req.ticks, &mut ids, now, skew, None, |i, reason| {
            rejected.push((i as u32, reason))
        });
        let defined = self.instrument_count() - before;
        if defined > 0 {
            *self.defined_by.entry(publisher.to_owned()).or_default() += defined;
        }
        match out {
            Ok(out) => {
                self.count(usize::from(feed), &out);
                PublishOutcome {
                    batch: out,
                    rejected,
                    error: None,
                }
            }
            Err(e) => PublishOutcome {
                error: Some((tickd_protocol::ErrorCode::Internal, e.to_string())),
                ..PublishOutcome::default()
            },
        }
    }

    /// How many distinct symbols of `ids` that `ticks` use are not defined yet.
    fn new_symbols_of(&self, ids: &FeedIds, ticks: &[TickRecord]) -> usize {
        let mut used = vec![false; ids.len()];
        for t in ticks {
            if let Some(u) = used.get_mut(t.instrument_id as usize) {
                *u = true;
            }
        }
        let table = self
            .instruments
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut new: Vec<Symbol> = (0..ids.len() as u32)
            .filter(|&i| used[i as usize])
            .filter_map(|i| ids.named(i))
            .filter(|(s, _)| table.id(s).is_none())
            .map(|(s, _)| s)
            .collect();
        new.sort_unstable();
        new.dedup();
        new.len()
    }

    /// Instruments defined so far.
    fn instrument_count(&self) -> usize {
        self.instruments
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Refuses publishers more than `quota` new symbols each (`None`: no limit).
    pub fn set_symbol_quota(&mut self, quota: Option<usize>) {
        self.symbol_quota = quota;
    }

    /// The sink the engine writes this batch through.
    fn sink(&mut self) -> StoreSink<'_> {
        StoreSink {
            store: &mut self.store,
            instruments: &self.instruments,
            new_symbols: &mut self.new_symbols,
            pending: &mut self.pending,
            refusals: &mut self.refusals,
        }
    }

    fn count(&mut self, feed: usize, out: &BatchOutcome) {
        let stats = &self.feeds[feed].stats;
        // Release: pairs with the Acquire loads of replays waiting for their ticks to land.
        stats
            .ingested
            .fetch_add(u64::from(out.accepted), Ordering::Release);
        stats
            .rejected
            .fetch_add(u64::from(out.rejected), Ordering::Release);
        self.rejected_total += u64::from(out.rejected);
    }

    /// How far ahead of the clock a feed with `clock` may date its ticks: the configured skew
    /// for feeds judged by the wall clock, unbounded for replays (judged by their own time).
    fn skew_of(&self, clock: FeedClock) -> Skew {
        match clock {
            FeedClock::Wall => Skew(self.max_future_skew),
            FeedClock::Event => Skew(None),
        }
    }

    /// Rejects ticks dated more than `skew` ahead of the clock, for feeds judged by the wall
    /// clock (`None`: no limit).
    pub fn set_max_future_skew(&mut self, skew: Option<std::time::Duration>) {
        self.max_future_skew = skew;
    }

    /// The per-tick work and the per-batch publication, shared by feeds and publishers: stamp,
    /// add a candle-close record if one is due, journal, then make visible and publish.
    fn sequence(
        &mut self,
        ticks: &[TickRecord],
        ids: &mut FeedIds,
        now: UnixNanos,
        skew: Skew,
        ends_feed: Option<usize>,
        on_reject: impl FnMut(usize, Invalid),
    ) -> Result<BatchOutcome, JournalError> {
        debug_assert!(self.pending.is_empty());
        // Candles follow the wall clock once no replay runs (this batch may end the last one).
        // A close due now goes first, so the batch's own ticks keep contiguous seqs.
        let wall = !self
            .feeds
            .iter()
            .enumerate()
            .any(|(i, f)| f.clock == FeedClock::Event && !f.ended && Some(i) != ends_feed);
        if wall && let Some(cutoff) = self.due_cutoff(now) {
            self.pending.push(TickRecord {
                seq: self.store.ticks.next_seq(),
                ts_recv: now.0,
                ..TickRecord::candle_close(cutoff)
            });
        }
        let out = tickd_engine::sequence(ticks, ids, now, skew, &mut self.sink(), on_reject);
        self.commit()?;
        self.make_visible();
        if let Some(feed) = ends_feed {
            self.feeds[feed].ended = true;
            if wall {
                // The end of the last replay: what the wall clock has passed closes now, after
                // the replay's last ticks. A refused close is written again at the next idle.
                let _ = self.close_due(now);
            }
            // Release: everything of this feed is sequenced before `finished` reads true.
            self.feeds[feed]
                .stats
                .finished
                .store(true, Ordering::Release);
            // Wakes whoever waits for the feed to finish.
            self.publish_head();
        }
        Ok(out)
    }

    /// Tells async readers the published heads (wakes them even if unchanged).
    fn publish_head(&self) {
        self.published.send_replace(Published {
            head: Seq(self.store.ticks.head()),
            candle_head: self.store.candles.head(),
        });
    }

    /// Journals the pending records and the new symbols (durable per the flush policy). On
    /// failure nothing of them is kept: the pending records are dropped (their seqs are
    /// assigned again), the new symbols stay queued for the next block.
    fn commit(&mut self) -> Result<(), JournalError> {
        let Some(journal) = &mut self.journal else {
            self.new_symbols.clear();
            return Ok(());
        };
        let written = journal
            .append(&self.new_symbols, &self.pending)
            .and_then(|()| journal.commit());
        match written {
            Ok(()) => {
                self.new_symbols.clear();
                if self.status.journal_ok() {
                    tracing::warn!("journal writes succeed again: ingest resumed");
                }
                Ok(())
            }
            Err(e) => {
                let reason = format!("{e:#}");
                if self.status.degraded().is_none() {
                    tracing::error!("journal write failed, ingest is degraded: {reason}");
                }
                self.status.journal_failed(&reason);
                self.pending.clear();
                Err(JournalError(reason))
            }
        }
    }

    /// Writes the journaled records to the ring and the latest table, applies them to the
    /// candles, and publishes the head and the candle updates.
    fn make_visible(&mut self) {
        let view = Arc::clone(self.book.view());
        // Readers wanting one consistent state (ring head, latest cells and candles) retry
        // reads that overlap this publication.
        view.begin_write();
        // One pass: ring slot, latest cell and candles per record, while it is in cache.
        for r in &self.pending {
            let words = r.to_words();
            self.store.ticks.push(&words);
            if let Some(kind) = r.kind() {
                // Ids are below `max_instruments`: the cell exists.
                let _ = self
                    .store
                    .latest
                    .write(latest_cell(r.instrument(), kind), r.seq, &words);
            }
            self.book.apply(r);
        }
        self.pending.clear();
        self.book.drain_updates(&mut self.updates);
        self.store.ticks.publish();
        view.end_write(Seq(self.store.ticks.head()));
        for c in self.updates.drain(..) {
            self.store.candles.push(&candle_slot(&c));
        }
        self.store.candles.publish();
        self.publish_head();
    }
}

/// Runs `sequencer` on a thread named `sequencer` until every sender is dropped; publishes are
/// counted under feed `publishers`. After `stop` is set it drains what is queued and returns.
///
/// While the journal fails, feed batches are kept in order and retried with backoff
/// (50 ms doubling to 2 s); publishes are tried as they come and answered with the
/// error; with [`MAX_HELD`] batches kept, no more input is taken until a write succeeds.
///
/// # Errors
///
/// If the thread cannot be spawned.
pub fn spawn(
    mut sequencer: Sequencer,
    rx: InputRx,
    publishers: FeedId,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<Sequencer>> {
    std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || {
            let mut held = std::collections::VecDeque::<Batch>::new();
            let mut retry = RETRY_MIN;
            loop {
                // Relaxed: a flag polled once per wake-up; the queue itself carries the data.
                let stopping = stop.load(Ordering::Relaxed);
                if !held.is_empty() {
                    if retry_held(&mut sequencer, &mut held) {
                        retry = RETRY_MIN;
                    } else if stopping {
                        tracing::error!(
                            batches = held.len(),
                            "stopping with feed batches the journal did not take"
                        );
                        break;
                    } else if held.len() >= MAX_HELD {
                        std::thread::sleep(retry);
                        retry = (retry * 2).min(RETRY_MAX);
                        continue;
                    }
                }
                if stopping && rx.is_empty() && held.is_empty() {
                    break;
                }
                let wait = if held.is_empty() { IDLE_TICK } else { retry };
                match rx.next(wait) {
                    Next::Input(Input::Batch(batch)) if held.is_empty() => {
                        let feed = usize::from(batch.feed);
                        let out = sequencer.ingest(&batch, clock::now(), |i, reason| {
                            tracing::debug!(feed, index = i, "rejected tick: {reason}");
                        });
                        if out.is_err() {
                            held.push_back(batch);
                        }
                    }
                    // Behind a held batch: its feed's order is kept.
                    Next::Input(Input::Batch(batch)) => held.push_back(batch),
                    Next::Input(Input::Sequenced {
                        definitions,
                        records,
                        reply,
                    }) => {
                        let _ = reply.send(sequencer.apply_sequenced(&definitions, &records));
                    }
                    Next::Input(Input::Publish {
                        req,
                        publisher,
                        reply,
                    }) => {
                        let outcome = sequencer.publish(publishers, &publisher, &req, clock::now());
                        // The publisher may have gone; its ticks are sequenced either way.
                        let _ = reply.send(outcome);
                    }
                    Next::Idle => {
                        // A refused close record is written again at the next idle wake.
                        let _ = sequencer.on_idle(clock::now());
                        if !held.is_empty() {
                            retry = (retry * 2).min(RETRY_MAX);
                        }
                    }
                    Next::Closed if held.is_empty() => break,
                    Next::Closed => {
                        std::thread::sleep(retry);
                        retry = (retry * 2).min(RETRY_MAX);
                    }
                }
            }
            sequencer.sync_journal();
            sequencer
        })
}

/// Hands the held batches to the sequencer again, oldest first, until one fails. Returns
/// whether all went through.
fn retry_held(sequencer: &mut Sequencer, held: &mut std::collections::VecDeque<Batch>) -> bool {
    while let Some(batch) = held.front() {
        let feed = usize::from(batch.feed);
        let out = sequencer.ingest(batch, clock::now(), |i, reason| {
            tracing::debug!(feed, index = i, "rejected tick: {reason}");
        });
        if out.is_err() {
            return false;
        }
        held.pop_front();
    }
    true
}
