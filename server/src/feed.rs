//! Feeds: where ticks come from. Each feed runs on its own thread and hands the sequencer
//! [`Batch`]es over a bounded crossbeam channel; a full channel blocks the feed (back-pressure),
//! it never drops.
//!
//! - [`synthetic`]: a random walk for a few symbols (the default feed).
//! - [`csv`]: the generic CSV replay format (DESIGN.md §11).
//! - [`algoseek`]: AlgoSeek/Lean equity tick zips, with per-venue quotes consolidated into NBBO
//!   ticks by [`nbbo`].
//! - [`replay`]: ordering and pacing of recorded ticks (recorded speed, a multiple, or max).

pub mod algoseek;
pub mod csv;
pub mod nbbo;
pub mod replay;
pub mod synthetic;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam::channel::SendError;

use crate::input::InputTx;
use crate::sequencer::Input;
use tickd_protocol::{Symbol, TickRecord};

/// Index of a feed in the sequencer's feed table.
pub type FeedId = u16;

/// Ticks from one feed. Each tick's `instrument_id` is the feed's local symbol index: an index
/// into the concatenation of every `new_symbols` list this feed has sent so far. `seq` and
/// `ts_recv` are stamped by the sequencer.
#[derive(Debug, Default)]
pub struct Batch {
    /// The sending feed.
    pub feed: FeedId,
    /// Symbols first used in this batch, in local-index order.
    pub new_symbols: Vec<Symbol>,
    /// The ticks, in the feed's order.
    pub ticks: Vec<TickRecord>,
    /// The feed has ended: nothing follows this batch.
    pub end: bool,
}

/// Whose clock a feed's event times follow, for closing candles (DESIGN.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedClock {
    /// Live data: event time tracks the wall clock, so candles close on the wall clock.
    Wall,
    /// Recorded data: candles close on the replay's own event time, and all of them once it
    /// ends, whatever the replay speed.
    Event,
}

/// Why a feed skipped a record, for the summary and `stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Failed validation (`--skip-invalid`).
    Invalid,
    /// Flagged suspicious by the data vendor.
    Suspicious,
    /// Rejected by the sequencer's validation.
    Rejected,
}

/// Counters of one feed, shared by the feed thread, the sequencer and `stats`.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Feed name (`synthetic`, `replay`, …).
    pub name: String,
    /// Records the sequencer accepted.
    pub ingested: AtomicU64,
    /// Lines that failed validation and were skipped.
    pub skipped_invalid: AtomicU64,
    /// Rows excluded because the vendor flagged them suspicious.
    pub skipped_suspicious: AtomicU64,
    /// Records the sequencer rejected.
    pub rejected: AtomicU64,
    /// Source rows read (trade and quote rows of the files).
    pub rows: AtomicU64,
    /// Whether the feed has finished and the sequencer has sequenced all of it.
    pub finished: AtomicBool,
    /// Set when the feed stopped on an error; the message says what and where.
    pub error: std::sync::Mutex<Option<String>>,
}

impl FeedStats {
    /// Fresh counters for feed `name`.
    pub fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            ..Self::default()
        })
    }

    /// Adds one to the counter for `reason`.
    pub fn skip(&self, reason: SkipReason, n: u64) {
        let c = match reason {
            SkipReason::Invalid => &self.skipped_invalid,
            SkipReason::Suspicious => &self.skipped_suspicious,
            SkipReason::Rejected => &self.rejected,
        };
        // Relaxed: independent counters, read only for reporting.
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Total skipped, all reasons.
    pub fn skipped(&self) -> u64 {
        self.skipped_invalid.load(Ordering::Relaxed)
            + self.skipped_suspicious.load(Ordering::Relaxed)
            + self.rejected.load(Ordering::Relaxed)
    }
}

/// A feed's sending side: assigns local symbol indexes and ships batches.
#[derive(Debug)]
pub struct FeedSender {
    id: FeedId,
    tx: InputTx,
    local: HashMap<Symbol, u32>,
    new_symbols: Vec<Symbol>,
    ticks: Vec<TickRecord>,
    batch_len: usize,
    /// This feed's counters.
    pub stats: Arc<FeedStats>,
}

/// The sequencer has stopped; the feed should stop too.
#[derive(Debug, thiserror::Error)]
#[error("the sequencer has stopped")]
pub struct SequencerGone;

impl<T> From<SendError<T>> for SequencerGone {
    fn from(_: SendError<T>) -> Self {
        Self
    }
}

impl FeedSender {
    /// A sender for feed `id` over `tx`, shipping batches of up to `batch_len` ticks.
    pub fn new(id: FeedId, tx: InputTx, stats: Arc<FeedStats>, batch_len: usize) -> Self {
        Self {
            id,
            tx,
            local: HashMap::new(),
            new_symbols: Vec::new(),
            ticks: Vec::with_capacity(batch_len),
            batch_len: batch_len.max(1),
            stats,
        }
    }

    /// The local index of `symbol`, registering it with the next batch if new.
    pub fn symbol(&mut self, symbol: Symbol) -> u32 {
        let next = self.local.len() as u32;
        *self.local.entry(symbol).or_insert_with(|| {
            self.new_symbols.push(symbol);
            next
        })
    }

    /// Queues `tick` (its `instrument_id` a local index from [`FeedSender::symbol`]); ships
    /// the batch when full.
    ///
    /// # Errors
    ///
    /// [`SequencerGone`] if the sequencer has stopped.
    pub fn push(&mut self, tick: TickRecord) -> Result<(), SequencerGone> {
        self.ticks.push(tick);
        if self.ticks.len() >= self.batch_len {
            self.flush()?;
        }
        Ok(())
    }

    /// Ships whatever is queued. Blocks while the sequencer's queue is full.
    ///
    /// # Errors
    ///
    /// [`SequencerGone`] if the sequencer has stopped.
    pub fn flush(&mut self) -> Result<(), SequencerGone> {
        if self.ticks.is_empty() && self.new_symbols.is_empty() {
            return Ok(());
        }
        let batch = Batch {
            feed: self.id,
            new_symbols: std::mem::take(&mut self.new_symbols),
            ticks: std::mem::replace(&mut self.ticks, Vec::with_capacity(self.batch_len)),
            end: false,
        };
        self.tx.send(Input::Batch(batch))?;
        Ok(())
    }

    /// Ships what is queued and tells the sequencer this feed has ended.
    ///
    /// # Errors
    ///
    /// [`SequencerGone`] if the sequencer has stopped.
    pub fn finish(&mut self) -> Result<(), SequencerGone> {
        self.flush()?;
        self.tx.send(Input::Batch(Batch {
            feed: self.id,
            end: true,
            ..Batch::default()
        }))?;
        Ok(())
    }
}
