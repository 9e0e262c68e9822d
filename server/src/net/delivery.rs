//! What the delivery engine ([`tickd_engine::Delivery`]) needs from the server, shared by the
//! binary connections and the WebSockets: the shm rings as its [`Ring`]s ([`ShmRing`]), the
//! read side as its [`Store`], and its counts reported to the metrics.

use tickd_engine::Ring;
use tickd_engine::delivery::Store;
use tickd_protocol::files::{CANDLE_SLOT_WORDS, TICK_SLOT_WORDS};
use tickd_protocol::{InstrumentId, Seq, TickRecord};
use tickd_shm::{ReadOutcome, Reader};

use crate::query::Query;

/// The read side as the delivery engine sees it.
pub struct QueryStore<'a>(pub &'a Query);

impl Store for QueryStore<'_> {
    fn latest(&mut self, instruments: Option<&[InstrumentId]>) -> (Seq, Vec<TickRecord>) {
        let snap = self.0.snapshot(instruments, &[]);
        (snap.seq, snap.ticks)
    }

    fn has_journal(&self) -> bool {
        self.0.shared.journal_dir.is_some()
    }
}

/// Reports an engine's counts and lags to the metrics.
pub fn report<T, C, F>(delivery: &mut tickd_engine::Delivery<T, C, F>, transport: &'static str)
where
    T: tickd_engine::Ring<TICK_SLOT_WORDS>,
    C: tickd_engine::Ring<CANDLE_SLOT_WORDS>,
    F: tickd_engine::delivery::Payload,
{
    let stats = delivery.take_stats();
    for _ in 0..stats.overrun_gaps {
        crate::metrics::gap("overrun");
    }
    for _ in 0..stats.conflated_gaps {
        crate::metrics::gap("conflated");
    }
    for _ in 0..stats.not_retained_gaps {
        crate::metrics::gap("not_retained");
    }
    for _ in 0..stats.venue_gaps {
        crate::metrics::gap("venue");
    }
    if stats.backfilled > 0 {
        crate::metrics::backfilled(stats.backfilled);
    }
    for lag in delivery.lags() {
        crate::metrics::subscriber_lag(transport, lag);
    }
}

/// A reader of an shm ring, as the delivery engine reads it.
#[derive(Debug, Clone)]
pub struct ShmRing<const W: usize>(pub Reader<W>);

impl<const W: usize> Ring<W> for ShmRing<W> {
    fn read_batch(&mut self, out: &mut [[u64; W]]) -> Result<usize, u64> {
        self.0.read_batch(out)
    }

    fn seek(&mut self, seq: u64) {
        self.0.seek(seq);
    }

    fn next_seq(&self) -> u64 {
        self.0.next_seq()
    }

    fn head(&self) -> u64 {
        self.0.head()
    }

    fn holds(&self, seq: u64) -> Result<(), u64> {
        // Before the ring's first seq (a ring started after a trimmed journal, or an edge
        // after the stream's retention): never in it, though a cursor seeks past it.
        let base = self.0.base_seq();
        if seq <= base {
            return Err(base + 1);
        }
        let mut probe = self.0.clone();
        probe.seek(seq);
        let mut slot = [0; W];
        match probe.try_read(&mut slot) {
            ReadOutcome::Overrun { oldest } => Err(oldest),
            _ => Ok(()),
        }
    }
}
