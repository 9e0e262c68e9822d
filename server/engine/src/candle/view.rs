//! The readers' side of the candle book: every (instrument, interval) series behind a lock of
//! its own, and a publication counter that says which seq the whole view is valid at.
//!
//! The writer (the sequencer, through [`super::CandleBook`]) keeps each in-progress candle to
//! itself on the hot path and touches a series' lock only to store a candle that closed, a
//! correction, or, once per batch, the series' new in-progress candle. It never waits for a
//! batch's worth of reader work: a reader holds one series' lock while it copies at most one
//! answer. Readers wanting a state consistent across series and with the ring head (snapshots,
//! stamped answers) use [`CandleView::consistent`]: the writer makes the counter odd for the
//! time it publishes a batch ([`CandleView::begin_write`] .. [`CandleView::end_write`]), and a
//! read that overlapped one is done again (a seqlock over the series' locks).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tickd_protocol::{CandleRecord, InstrumentId, Interval, Seq, UnixNanos};

use super::Take;

/// One series as readers see it: the in-progress candle and the closed ones, oldest first.
#[derive(Debug, Default)]
pub(super) struct Cell {
    /// The in-progress candle, as of the last store by the writer.
    pub(super) current: Option<CandleRecord>,
    /// Closed candles, oldest first, strictly increasing `ts_open`.
    pub(super) closed: VecDeque<CandleRecord>,
}

/// One instrument's series, by interval position.
pub(super) type Cells = Arc<[Mutex<Cell>]>;

/// Readers' view of every instrument's candles (see the module docs). Shared as an `Arc`
/// between the writer and any number of readers.
#[derive(Debug)]
pub struct CandleView {
    intervals: Vec<Interval>,
    /// By instrument id. The writer keeps its own clones of the `Arc`s; this lock is taken for
    /// writing only when a new instrument trades for the first time.
    cells: RwLock<Vec<Cells>>,
    /// Odd while the writer publishes a batch.
    generation: AtomicU64,
    /// The seq the view is valid at (the last record of the last published batch).
    as_of: AtomicU64,
}

impl CandleView {
    pub(super) fn new(intervals: Vec<Interval>) -> Self {
        Self {
            intervals,
            cells: RwLock::new(Vec::new()),
            generation: AtomicU64::new(0),
            as_of: AtomicU64::new(0),
        }
    }

    /// The cells of `id`, creating them (and any below) if new. Writer only.
    pub(super) fn cells_for(&self, id: usize) -> Cells {
        let mut all = self.cells.write().unwrap_or_else(PoisonError::into_inner);
        let n = self.intervals.len();
        while all.len() <= id {
            all.push((0..n).map(|_| Mutex::new(Cell::default())).collect());
        }
        Arc::clone(&all[id])
    }

    fn cell<T>(
        &self,
        id: InstrumentId,
        interval: Interval,
        read: impl FnOnce(&Cell) -> T,
    ) -> Option<T> {
        let i = self.intervals.iter().position(|&x| x == interval)?;
        let cells = {
            let all = self.cells.read().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(all.get(id.0 as usize)?)
        };
        let cell = cells[i].lock().unwrap_or_else(PoisonError::into_inner);
        Some(read(&cell))
    }

    /// Marks the start of a batch's publication (the counter turns odd). Writer only.
    pub fn begin_write(&self) {
        // Relaxed: the stores this covers are made under the series' locks (and, in the
        // server, by the ring's and latest table's own release stores), whose release orders
        // this increment before them for any reader that sees them: its next load of the
        // counter (in `consistent`) then sees the odd value or later.
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks the end of a batch's publication: the view is valid at `as_of`. Writer only.
    pub fn end_write(&self, as_of: Seq) {
        self.as_of.store(as_of.0, Ordering::Relaxed);
        // Release: pairs with the Acquire load that starts `consistent`, so a reader that sees
        // the even value sees `as_of` and every store of the batch.
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The seq the view was last published at.
    pub fn as_of(&self) -> Seq {
        // Relaxed: informational; `consistent` gives the ordered read.
        Seq(self.as_of.load(Ordering::Relaxed))
    }

    /// Runs `read` until it ran with no publication overlapping it, and returns its result with
    /// the seq the view was valid at. `read` may see a batch half applied, and is then run
    /// again; it should only copy. Spins (then yields) while a batch is being published, which
    /// takes as long as the writer's publication of one batch.
    pub fn consistent<T>(&self, mut read: impl FnMut(&Self) -> T) -> (T, Seq) {
        let mut spins = 0u32;
        loop {
            // Acquire: pairs with the Release increment in `end_write`.
            let before = self.generation.load(Ordering::Acquire);
            if before.is_multiple_of(2) {
                let as_of = Seq(self.as_of.load(Ordering::Relaxed));
                let out = read(self);
                // Acquire: the series locks `read` took order this load after its reads; a
                // publication that began before them is seen here (see `begin_write`).
                if self.generation.load(Ordering::Acquire) == before {
                    return (out, as_of);
                }
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// The in-progress candle of `instrument` for `interval`, if any.
    pub fn current(&self, instrument: InstrumentId, interval: Interval) -> Option<CandleRecord> {
        self.cell(instrument, interval, |c| c.current).flatten()
    }

    /// The latest candle of `instrument` for `interval`: the in-progress one, else the last
    /// closed one.
    pub fn latest(&self, instrument: InstrumentId, interval: Interval) -> Option<CandleRecord> {
        self.cell(instrument, interval, |c| {
            c.current.or_else(|| c.closed.back().copied())
        })
        .flatten()
    }

    /// Candles of `instrument` for `interval` with `from <= ts_open < to`, oldest first,
    /// including the in-progress one: the first `take` of them, or the last. O(log n + k), with
    /// the series' lock held for the copy.
    pub fn candles(
        &self,
        instrument: InstrumentId,
        interval: Interval,
        from: UnixNanos,
        to: UnixNanos,
        take: Take,
    ) -> Vec<CandleRecord> {
        self.cell(instrument, interval, |series| {
            select(&series.closed, series.current, from, to, take)
        })
        .unwrap_or_default()
    }
}

/// The candles of `closed` then `current` with `from <= ts_open < to`: the first or last
/// `take`. O(log n + k).
pub(super) fn select(
    closed: &VecDeque<CandleRecord>,
    current: Option<CandleRecord>,
    from: UnixNanos,
    to: UnixNanos,
    take: Take,
) -> Vec<CandleRecord> {
    let start = closed.partition_point(|c| c.ts_open < from.0);
    let end = closed.partition_point(|c| c.ts_open < to.0);
    let current = current.filter(|c| c.ts_open >= from.0 && c.ts_open < to.0);
    let closed = closed.range(start..end.max(start));
    let total = closed.len() + usize::from(current.is_some());
    let (skip, n) = match take {
        Take::First(n) => (0, n),
        Take::Last(n) => (total.saturating_sub(n), n),
    };
    closed
        .chain(current.as_ref())
        .skip(skip)
        .take(n)
        .copied()
        .collect()
}
