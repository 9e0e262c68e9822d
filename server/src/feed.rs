//! Feeds: where ticks come from. Each feed runs on its own thread and hands the sequencer
//! [`Batch`]es through a [`FeedSender`] over the bounded input queue; a full queue blocks the
//! feed (back-pressure), it never drops.
//!
//! - [`synthetic`]: a random walk for a few symbols (the default feed).
//! - [`replay`]: recorded files (generic CSV, AlgoSeek zips, parsed by `tickd-formats`), merged
//!   in event-time order and paced (recorded speed, a multiple, or max).
//! - [`venue`]: live crypto venues over WebSocket (Binance, Coinbase, OKX, Kraken).

pub mod replay;
pub mod synthetic;
pub mod venue;

use std::collections::HashMap;
use std::sync::Arc;

use crossbeam::channel::SendError;

use crate::ingest::input::{Batch, FeedId, FeedStats, Input, InputTx};
use tickd_protocol::{ScaleMap, Scales, Symbol, TickRecord};

/// A feed's sending side: assigns local symbol indexes and ships batches.
#[derive(Debug)]
pub struct FeedSender {
    id: FeedId,
    tx: InputTx,
    local: HashMap<Symbol, u32>,
    new_symbols: Vec<(Symbol, Scales)>,
    scales: Arc<ScaleMap>,
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
    /// A sender for feed `id` over `tx`, shipping batches of up to `batch_len` ticks, defining
    /// new symbols with their configured `scales`.
    pub fn new(
        id: FeedId,
        tx: InputTx,
        stats: Arc<FeedStats>,
        batch_len: usize,
        scales: Arc<ScaleMap>,
    ) -> Self {
        Self {
            id,
            tx,
            local: HashMap::new(),
            new_symbols: Vec::new(),
            scales,
            ticks: Vec::with_capacity(batch_len),
            batch_len: batch_len.max(1),
            stats,
        }
    }

    /// The local index of `symbol`, defining it (with its configured scales) in the next batch
    /// if new.
    pub fn symbol(&mut self, symbol: Symbol) -> u32 {
        // Called per tick: the configured scales are looked up only for a new symbol.
        self.define(symbol, None)
    }

    /// The local index of `symbol`, defining it with `scales` in the next batch if new (for a
    /// feed whose values have scales of their own, whatever is configured).
    pub fn symbol_with(&mut self, symbol: Symbol, scales: Scales) -> u32 {
        self.define(symbol, Some(scales))
    }

    fn define(&mut self, symbol: Symbol, scales: Option<Scales>) -> u32 {
        let next = self.local.len() as u32;
        *self.local.entry(symbol).or_insert_with(|| {
            let scales = scales.unwrap_or_else(|| self.scales.get(&symbol));
            self.new_symbols.push((symbol, scales));
            next
        })
    }

    /// The scales `symbol` is defined with.
    pub fn scales(&self) -> &Arc<ScaleMap> {
        &self.scales
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
