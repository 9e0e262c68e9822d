//! The sequencer: the ring's only writer (DESIGN.md §4). Feeds hand it [`Batch`]es over a
//! bounded channel; for each tick it validates, stamps `seq` and `ts_recv`, writes the ring
//! slot, updates the directory, the latest table and the candles; then, once per batch, it
//! publishes the new head, the candle updates, and wakes readers.
//!
//! [`Sequencer::ingest`] is the whole per-batch step with time as an argument, so benches and
//! tests drive it without a thread; [`spawn`] runs it on its own thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tickd_engine::{BatchOutcome, CandleBook, FeedIds, Invalid, PublishRequest, RecordSink, Skew};
use tickd_protocol::files::{candle_slot, latest_cell, scales_of_tag, scales_tag};
use tickd_protocol::{
    CandleRecord, Epoch, InstrumentId, Scales, Seq, Symbol, TickKind, TickRecord, UnixNanos,
};

use super::input::{Batch, FeedClock, FeedId, FeedStats, Input, InputRx, Next, PublishOutcome};
use super::instruments::{InstrumentTable, Instruments};
use crate::clock;
use crate::storage::journal::{Definition, Journal};
use crate::storage::store::Store;

/// How often an idle sequencer closes candles by the wall clock.
const IDLE_TICK: std::time::Duration = std::time::Duration::from_millis(100);

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
    book: Arc<Mutex<CandleBook>>,
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
    /// The current batch's accepted records, for the journal (reused).
    accepted: Vec<TickRecord>,
    /// Set when the journal failed: nothing more is sequenced.
    pub journal_failed: bool,
    /// How far ahead of the clock wall-clock feeds may date ticks.
    max_future_skew: Option<std::time::Duration>,
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

/// The engine's [`RecordSink`] over the shm store: ring slot and latest cell per record (seen
/// by readers once the batch is published), the directory for new symbols, and the batch's
/// records kept for the journal.
struct StoreSink<'a> {
    store: &'a mut Store,
    instruments: &'a Instruments,
    new_symbols: &'a mut Vec<Definition>,
    /// `None` without a journal.
    accepted: Option<&'a mut Vec<TickRecord>>,
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
        .inspect_err(|e| tracing::error!("{e}"))
        .ok()
    }

    fn next_seq(&self) -> Seq {
        Seq(self.store.ticks.next_seq())
    }

    fn write(&mut self, t: &TickRecord) {
        let words = t.to_words();
        self.store.ticks.push(&words);
        // Validated by the engine: a trade or a quote.
        let kind = t.kind().unwrap_or(TickKind::Quote);
        // The cell exists: ids are below `max_instruments`, the table has two cells each.
        let _ = self
            .store
            .latest
            .write(latest_cell(t.instrument(), kind), t.seq, &words);
        if let Some(accepted) = &mut self.accepted {
            accepted.push(*t);
        }
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
        book: Arc<Mutex<CandleBook>>,
        instruments: Instruments,
        published: tokio::sync::watch::Sender<Published>,
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
            accepted: Vec::with_capacity(4096),
            journal_failed: false,
            max_future_skew: None,
        }
    }

    /// Journals every batch from now on, before it is published.
    pub fn set_journal(&mut self, journal: Journal) {
        self.journal = Some(journal);
    }

    /// Rebuilds the ring, latest table and candles from a recovered record (already
    /// journaled: it is not written again). Records must come in seq order, continuing the
    /// ring's sequence. Publish with [`Sequencer::finish_restore`].
    pub fn restore(&mut self, tick: &TickRecord, book: &mut CandleBook) {
        let words = tick.to_words();
        let seq = self.store.ticks.push(&words);
        debug_assert_eq!(seq, tick.seq);
        // Journaled records passed validation: trades and quotes only.
        let kind = tick.kind().unwrap_or(TickKind::Quote);
        let _ = self
            .store
            .latest
            .write(latest_cell(tick.instrument(), kind), seq, &words);
        if let Some(trade) = tick.trade() {
            book.on_trade(
                tick.instrument(),
                UnixNanos(tick.ts_event),
                trade.price,
                trade.size,
                Seq(seq),
            );
        }
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
            let got = register(
                &mut self.store,
                &self.instruments,
                &mut self.new_symbols,
                symbol,
                scales,
            )?;
            if got != id {
                anyhow::bail!(
                    "journal defines {symbol} as instrument {} but it was assigned {}",
                    id.0,
                    got.0
                );
            }
        }
        self.new_symbols.clear();
        self.store.ticks.publish();
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        book.drain_updates(&mut self.updates);
        drop(book);
        self.updates.clear();
        self.published.send_replace(Published {
            head: Seq(self.store.ticks.head()),
            candle_head: self.store.candles.head(),
        });
        Ok(())
    }

    /// The candle book (for restore).
    pub fn book(&self) -> Arc<Mutex<CandleBook>> {
        Arc::clone(&self.book)
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

    /// Closes candles due by the wall clock `now` (when no replay is running) and publishes the
    /// closed candles. Called when idle, so live candles close without a later trade.
    pub fn on_idle(&mut self, now: UnixNanos) {
        if self.wall_clock_candles() {
            let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
            book.advance(now);
            book.drain_updates(&mut self.updates);
            drop(book);
            if !self.updates.is_empty() {
                for c in self.updates.drain(..) {
                    self.store.candles.push(&candle_slot(&c));
                }
                self.store.candles.publish();
                let published = Published {
                    head: Seq(self.store.ticks.head()),
                    candle_head: self.store.candles.head(),
                };
                self.published.send_replace(published);
            }
        }
    }

    /// Sequences one feed batch at time `now` (`ts_recv` of every tick in it), publishes it
    /// and the candle updates it caused, and wakes readers. `on_reject` hears each rejected
    /// tick's index in the batch and reason. A batch that ends its feed marks it finished and,
    /// when it was the last running replay, closes every candle the wall clock has passed.
    ///
    /// # Panics
    ///
    /// If `batch.feed` was not returned by [`Sequencer::add_feed`] (a wiring bug).
    pub fn ingest(
        &mut self,
        batch: &Batch,
        now: UnixNanos,
        on_reject: impl FnMut(usize, Invalid),
    ) -> BatchOutcome {
        let feed = usize::from(batch.feed);
        let mut ids = std::mem::take(&mut self.feeds[feed].ids);
        ids.extend(batch.new_symbols.iter().copied(), &mut self.sink());
        let end = batch.end.then_some(feed);
        let skew = self.skew_of(self.feeds[feed].clock);
        let out = self.sequence(&batch.ticks, ids.ids(), now, skew, end, on_reject);
        self.feeds[feed].ids = ids;
        self.count(feed, &out);
        out
    }

    /// Sequences a publisher's batch: its ticks' `instrument_id`s index `req.symbols`; new
    /// symbols get instrument ids. Counted under feed `feed` (the publishers' feed).
    ///
    /// # Panics
    ///
    /// If `feed` was not returned by [`Sequencer::add_feed`] (a wiring bug).
    pub fn publish(
        &mut self,
        feed: FeedId,
        req: &PublishRequest,
        now: UnixNanos,
    ) -> PublishOutcome {
        let mut ids = FeedIds::default();
        ids.extend(req.definitions(), &mut self.sink());
        let mut rejected = Vec::new();
        let skew = self.skew_of(self.feeds[usize::from(feed)].clock);
        let out = self.sequence(&req.ticks, ids.ids(), now, skew, None, |i, reason| {
            rejected.push((i as u32, reason))
        });
        self.count(usize::from(feed), &out);
        PublishOutcome {
            batch: out,
            rejected,
        }
    }

    /// The sink the engine writes this batch through.
    fn sink(&mut self) -> StoreSink<'_> {
        StoreSink {
            store: &mut self.store,
            instruments: &self.instruments,
            new_symbols: &mut self.new_symbols,
            accepted: self.journal.is_some().then_some(&mut self.accepted),
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

    /// The per-tick work and the per-batch publication, shared by feeds and publishers.
    fn sequence(
        &mut self,
        ticks: &[TickRecord],
        ids: &[Option<InstrumentId>],
        now: UnixNanos,
        skew: Skew,
        ends_feed: Option<usize>,
        on_reject: impl FnMut(usize, Invalid),
    ) -> BatchOutcome {
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        let mut sink = StoreSink {
            store: &mut self.store,
            instruments: &self.instruments,
            new_symbols: &mut self.new_symbols,
            accepted: self.journal.is_some().then_some(&mut self.accepted),
        };
        let out = tickd_engine::sequence(ticks, ids, now, skew, &mut book, &mut sink, on_reject);
        if let Some(journal) = &mut self.journal {
            // Durable (per the flush policy) before anyone can see it or be acked.
            let written = journal
                .append(&self.new_symbols, &self.accepted)
                .and_then(|()| journal.commit());
            self.new_symbols.clear();
            self.accepted.clear();
            if let Err(e) = written {
                // Nothing of this batch is published or acknowledged, and nothing more is
                // sequenced: what is visible is always durable.
                tracing::error!("journal write failed, ingest stops: {e:#}");
                self.journal_failed = true;
                return BatchOutcome::all_rejected(out.rejected + out.accepted);
            }
        }
        if let Some(feed) = ends_feed {
            self.feeds[feed].ended = true;
            // Release: everything of this feed is sequenced before `finished` reads true.
            self.feeds[feed]
                .stats
                .finished
                .store(true, Ordering::Release);
            if self.wall_clock_candles() {
                book.advance(now);
            }
        }
        book.drain_updates(&mut self.updates);
        // Publish while still holding the book: a snapshot taken under the book's lock then
        // sees candles, latest cells and head at one consistent seq.
        self.store.ticks.publish();
        drop(book);
        for c in self.updates.drain(..) {
            self.store.candles.push(&candle_slot(&c));
        }
        self.store.candles.publish();
        self.published.send_replace(Published {
            head: Seq(self.store.ticks.head()),
            candle_head: self.store.candles.head(),
        });
        out
    }
}

/// Runs `sequencer` on a thread named `sequencer` until every sender is dropped; publishes are
/// counted under feed `publishers`. After `stop` is set it drains what is queued and returns.
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
            loop {
                // Relaxed: a flag polled once per wake-up; the queue itself carries the data.
                if stop.load(Ordering::Relaxed) && rx.is_empty() {
                    break;
                }
                match rx.next(IDLE_TICK) {
                    Next::Input(Input::Batch(batch)) => {
                        let feed = usize::from(batch.feed);
                        sequencer.ingest(&batch, clock::now(), |i, reason| {
                            tracing::debug!(feed, index = i, "rejected tick: {reason}");
                        });
                    }
                    Next::Input(Input::Publish { req, reply }) => {
                        let outcome = sequencer.publish(publishers, &req, clock::now());
                        // The publisher may have gone; its ticks are sequenced either way.
                        let _ = reply.send(outcome);
                    }
                    Next::Idle => sequencer.on_idle(clock::now()),
                    Next::Closed => break,
                }
                if sequencer.journal_failed {
                    break;
                }
            }
            sequencer.sync_journal();
            sequencer
        })
}
