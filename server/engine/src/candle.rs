//! OHLCV candles from trades, by event time (DESIGN.md §3).
//!
//! Rules, exactly:
//! - Intervals `1s 1m 5m 15m 1h 4h 1d`, aligned to UTC (`ts_open = t - t % Δ`), labelled by open
//!   time, half-open `[ts_open, ts_open + Δ)`.
//! - `open` is the trade with the earliest event time in the interval and `close` the one with
//!   the latest (ties go to the later arrival for `close` and the earlier for `open`), so the
//!   result does not depend on arrival order; `high`/`low` are the extremes, `volume` the sum of
//!   sizes, `notional` the sum of price × size (1e-18 units, exact in `i128`), `trades` the
//!   count; `taker_buy_volume` and `taker_buy_notional` the same sums over the trades whose
//!   aggressor was the buyer; `first_trade_id`/`last_trade_id` the venue ids of the trades that
//!   set `open` and `close`.
//! - The in-progress candle is visible with `closed = false`. It closes when a later trade of the
//!   same instrument opens a newer interval (the instrument's own event time is its watermark:
//!   no other instrument's tick can close its candles), or at a candle-close control record
//!   ([`CandleBook::close_through`]) whose cutoff is at or after its end. The server writes
//!   those records when its wall clock less `grace` passes a candle's end
//!   ([`CandleBook::due_cutoff`]), into the sequence, so every rebuild closes the same candles
//!   at the same point.
//! - A late trade for an interval that already closed but is still retained updates that candle,
//!   bumps its `version`, and is emitted as a correction (creating the candle, at version 1, if
//!   the interval was empty). A trade older than retention is counted in
//!   [`CandleStats::late_beyond_retention`] and otherwise ignored (the tick itself stays in the
//!   ring and journal).
//! - Empty intervals produce no candle; [`fill_previous`] makes zero-volume candles at the
//!   previous close for queries that ask.
//!
//! Cost: per trade, one update per configured interval (array-indexed by instrument, no hashing,
//! no allocation besides a due-queue entry per new candle); updates are conflated per batch:
//! [`CandleBook::drain_updates`] yields each changed candle once. Closing by time costs
//! O(log n) per closed candle (a min-heap of candle end times), never a scan of every
//! instrument. Every time sum is checked: a candle whose end does not fit in `u64` never closes
//! by time (validation keeps event times below `i64::MAX`, so this does not happen in tickd).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tickd_protocol::{
    CandleRecord, InstrumentId, Interval, Price, Quantity, Seq, Side, TickRecord, UnixNanos,
};

/// Candle engine settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandleConfig {
    /// Intervals to build, shortest first.
    pub intervals: Vec<Interval>,
    /// Closed candles kept per instrument and interval (memory: 128 bytes each), indexed like
    /// `intervals`. Late trades older than the oldest kept candle are not applied.
    pub retention: Vec<usize>,
    /// How long after its end, by the wall clock, a candle stays open for trades that arrive
    /// late ([`CandleBook::due_cutoff`]; closing by a newer trade of the same instrument is not
    /// delayed).
    pub grace: Duration,
}

impl Default for CandleConfig {
    /// All seven intervals; retention of about 8 days of 1s candles, 31 days of 1m, 92 days of
    /// 5m, a year of 15m, 2 years of 1h, 5 years of 4h, 20 years of 1d (128 bytes per candle,
    /// allocated only for intervals that had trades: a week of a busy US equity is about 40 MB);
    /// 1 s of grace.
    fn default() -> Self {
        Self {
            intervals: Interval::ALL.to_vec(),
            retention: vec![
                700_000,
                1_440 * 31,
                288 * 92,
                96 * 366,
                24 * 366 * 2,
                6 * 366 * 5,
                366 * 20,
            ],
            grace: Duration::from_secs(1),
        }
    }
}

mod view;

pub use view::CandleView;
use view::{Cell, Cells};

/// Which candles of a range a query wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// The earliest `n`.
    First(usize),
    /// The latest `n`.
    Last(usize),
}

/// Counters of what the engine did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CandleStats {
    /// Trades folded into candles (each counted once, whatever the number of intervals).
    pub trades: u64,
    /// Updates to already-closed candles (per interval).
    pub corrections: u64,
    /// Trades too old for some interval's retention (per interval).
    pub late_beyond_retention: u64,
}

/// Where a trade landed in its series.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fold {
    /// Into the in-progress candle (possibly a new one).
    InProgress,
    /// Into a candle that already closed.
    Late,
}

/// The writer's state of one instrument and interval. Its closed candles live in the
/// [`CandleView`]'s cell, which the writer locks only to close or correct a candle.
#[derive(Clone, Debug, Default)]
struct Series {
    /// The in-progress candle, if any (the hot path: no lock).
    current: Option<CandleRecord>,
    /// `ts_open` of the newest closed candle (a copy, so a trade needs no lock to tell).
    last_closed: Option<u64>,
    /// Whether this series has an update not yet drained.
    dirty: bool,
}

/// Every instrument's candles: the engine's writer. Single owner; readers use its
/// [`CandleView`] ([`CandleBook::view`]), which the writer updates once per batch
/// ([`CandleBook::drain_updates`]) and never waits on for longer than one reader's copy.
#[derive(Debug)]
pub struct CandleBook {
    config: CandleConfig,
    /// Indexed by instrument id, then by position in `config.intervals`.
    series: Vec<Vec<Series>>,
    /// The view's cells, by instrument id (the writer's own handles).
    cells: Vec<Cells>,
    view: Arc<CandleView>,
    /// (instrument, interval index) pairs changed since the last drain.
    dirty: Vec<(u32, u8)>,
    /// End time of every in-progress candle (and of some already closed by a newer trade: such
    /// stale entries are skipped when they come up, and the heap is rebuilt when they outnumber
    /// the live ones), earliest first.
    due: BinaryHeap<Reverse<Due>>,
    /// In-progress candles (live entries of `due`).
    open_candles: usize,
    stats: CandleStats,
}

/// A due-queue entry: when `(instrument, interval index)`'s in-progress candle ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    end: u64,
    instrument: u32,
    interval: u8,
}

fn new_candle(instrument: InstrumentId, interval: Interval, ts_open: UnixNanos) -> CandleRecord {
    CandleRecord {
        instrument_id: instrument.0,
        interval_s: interval.secs(),
        ts_open: ts_open.0,
        ..CandleRecord::default()
    }
}

/// One sequenced trade as the candles see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradePrint {
    /// Event time, ns since the Unix epoch (UTC).
    pub ts_event: UnixNanos,
    /// Trade price, 1e-9 units (or the instrument's price scale).
    pub price: Price,
    /// Trade size, raw units of the instrument's size scale.
    pub size: Quantity,
    /// The aggressor's side: [`Side::Buy`] trades count in the taker-buy volume.
    pub side: Side,
    /// The venue's trade id (0 if none).
    pub trade_id: u64,
    /// The trade's seq.
    pub seq: Seq,
}

/// Adds `value` to an i128 sum held in a candle, saturating and flagging
/// [`CandleRecord::NOTIONAL_OVERFLOW`] past the i128 range.
fn add_notional(c: &mut CandleRecord, sum: i128, value: i128) -> i128 {
    sum.checked_add(value).unwrap_or_else(|| {
        c.flags |= CandleRecord::NOTIONAL_OVERFLOW;
        sum.saturating_add(value)
    })
}

/// Folds one trade into `c` (see the module rules for open and close).
fn apply(c: &mut CandleRecord, t: &TradePrint) {
    let p = t.price.raw();
    let ts_event = t.ts_event.0;
    if c.trades == 0 {
        c.open = p;
        c.high = p;
        c.low = p;
        c.close = p;
        c.ts_first_event = ts_event;
        c.ts_last_event = ts_event;
        c.first_trade_id = t.trade_id;
        c.last_trade_id = t.trade_id;
    } else {
        c.high = c.high.max(p);
        c.low = c.low.min(p);
        if ts_event < c.ts_first_event {
            c.open = p;
            c.ts_first_event = ts_event;
            c.first_trade_id = t.trade_id;
        }
        if ts_event >= c.ts_last_event {
            c.close = p;
            c.ts_last_event = ts_event;
            c.last_trade_id = t.trade_id;
        }
    }
    // u128: `trades` is a u64, and 2^64 trades of u64::MAX units do not overflow it.
    let size = u128::from(t.size.raw());
    c.set_volume_total(c.volume_total() + size);
    // |price × size| < 2^127 (price and size are 64-bit); the sum can leave i128 only past any
    // real market, and then says so.
    let value = i128::from(p) * i128::from(t.size.raw());
    let notional = add_notional(c, c.notional(), value);
    c.set_notional(notional);
    if t.side == Side::Buy {
        c.set_taker_buy_volume_total(c.taker_buy_volume_total() + size);
        let buy = add_notional(c, c.taker_buy_notional(), value);
        c.set_taker_buy_notional(buy);
    }
    c.trades += 1;
    c.last_seq = c.last_seq.max(t.seq.0);
}

/// Folds a late trade into a closed candle and bumps its version.
fn apply_late(c: &mut CandleRecord, t: &TradePrint) {
    apply(c, t);
    c.version += 1;
}

impl CandleBook {
    /// An empty book.
    ///
    /// # Panics
    ///
    /// If `config.retention` does not have one entry per interval, or more than 255 intervals
    /// are configured (a configuration bug).
    pub fn new(config: CandleConfig) -> Self {
        assert_eq!(
            config.intervals.len(),
            config.retention.len(),
            "one retention per interval"
        );
        assert!(
            config.intervals.len() <= usize::from(u8::MAX),
            "at most 255 intervals"
        );
        let view = Arc::new(CandleView::new(config.intervals.clone()));
        Self {
            config,
            series: Vec::new(),
            cells: Vec::new(),
            view,
            dirty: Vec::new(),
            due: BinaryHeap::new(),
            open_candles: 0,
            stats: CandleStats::default(),
        }
    }

    /// The readers' view (share it; it stays valid for the book's lifetime and after).
    pub fn view(&self) -> &Arc<CandleView> {
        &self.view
    }

    /// The configuration.
    pub fn config(&self) -> &CandleConfig {
        &self.config
    }

    /// What the engine has done so far.
    pub fn stats(&self) -> CandleStats {
        self.stats
    }

    fn interval_index(&self, interval: Interval) -> Option<usize> {
        self.config.intervals.iter().position(|&i| i == interval)
    }

    fn series_of(&mut self, instrument: InstrumentId) -> &mut Vec<Series> {
        let idx = instrument.0 as usize;
        if idx >= self.series.len() {
            let n = self.config.intervals.len();
            self.series
                .resize_with(idx + 1, || vec![Series::default(); n]);
            while self.cells.len() <= idx {
                self.cells.push(self.view.cells_for(self.cells.len()));
            }
        }
        &mut self.series[idx]
    }

    /// Applies one sequenced record: a trade is folded in ([`CandleBook::on_trade`]), a
    /// candle-close control record closes what it covers ([`CandleBook::close_through`]),
    /// quotes change nothing. The live path and every rebuild from the journal go through here,
    /// so they build the same candles.
    pub fn apply(&mut self, record: &TickRecord) {
        if let Some(trade) = record.trade() {
            self.on_trade(
                record.instrument(),
                &TradePrint {
                    ts_event: UnixNanos(record.ts_event),
                    price: trade.price,
                    size: trade.size,
                    side: Side::from_u8(record.side).unwrap_or_default(),
                    trade_id: trade.trade_id,
                    seq: record.seq(),
                },
            );
        } else if let Some(cutoff) = record.candle_close_cutoff() {
            self.close_through(cutoff);
        }
    }

    /// Folds one trade (already sequenced as `t.seq`) into every interval's candle.
    pub fn on_trade(&mut self, instrument: InstrumentId, t: &TradePrint) {
        let (price, ts_event) = (t.price, t.ts_event);
        if price.is_undef() {
            return;
        }
        self.stats.trades += 1;
        self.series_of(instrument);
        let per_interval = &mut self.series[instrument.0 as usize];
        let cells = &self.cells[instrument.0 as usize];
        for (i, series) in per_interval.iter_mut().enumerate() {
            let cell = &cells[i];
            let interval = self.config.intervals[i];
            let retention = self.config.retention[i];
            let open = interval.open_time(ts_event);
            let outcome = match &mut series.current {
                Some(c) if c.ts_open == open.0 => {
                    apply(c, t);
                    Fold::InProgress
                }
                Some(c) if c.ts_open > open.0 => Fold::Late,
                _ if series.last_closed.is_some_and(|t| t >= open.0) => Fold::Late,
                current => {
                    // A newer interval (or the first trade): close what was in progress.
                    let done = current.take();
                    let mut c = new_candle(instrument, interval, open);
                    apply(&mut c, t);
                    *current = Some(c);
                    if let Some(mut done) = done {
                        done.flags |= CandleRecord::CLOSED;
                        series.last_closed = Some(done.ts_open);
                        let mut cell = cell.lock().unwrap_or_else(PoisonError::into_inner);
                        store_closed(&mut cell, done, Some(c), retention);
                        self.open_candles -= 1;
                    }
                    self.open_candles += 1;
                    if let Some(end) = open.0.checked_add(interval.nanos()) {
                        self.due.push(Reverse(Due {
                            end,
                            instrument: instrument.0,
                            // `i < 255` (asserted in `new`).
                            interval: i as u8,
                        }));
                    }
                    Fold::InProgress
                }
            };
            if outcome == Fold::Late {
                let mut cell = cell.lock().unwrap_or_else(PoisonError::into_inner);
                if !Self::correct(&mut cell, retention, instrument, interval, open, t) {
                    self.stats.late_beyond_retention += 1;
                    continue;
                }
                self.stats.corrections += 1;
                series.last_closed = cell.closed.back().map(|c| c.ts_open);
            }
            if !series.dirty {
                series.dirty = true;
                // `i < 255` (asserted in `new`).
                self.dirty.push((instrument.0, i as u8));
            }
        }
        self.compact_due();
    }

    /// Rebuilds the due queue from the in-progress candles once stale entries (candles closed
    /// by a newer trade) outnumber live ones: memory stays O(open candles), O(1) amortised.
    fn compact_due(&mut self) {
        if self.due.len() <= 2 * self.open_candles + 64 {
            return;
        }
        let intervals = &self.config.intervals;
        let live = self.series.iter().enumerate().flat_map(|(id, per)| {
            per.iter().enumerate().filter_map(move |(i, s)| {
                let c = s.current.as_ref()?;
                Some(Reverse(Due {
                    end: c.ts_open.checked_add(intervals[i].nanos())?,
                    // Ids index `series`, which `series_of` grows from a u32; `i < 255`.
                    instrument: id as u32,
                    interval: i as u8,
                }))
            })
        });
        self.due = live.collect();
    }

    /// Whether `due` is the live entry of its series: its in-progress candle ends then.
    fn is_live(&self, due: &Due) -> bool {
        let i = usize::from(due.interval);
        self.series
            .get(due.instrument as usize)
            .and_then(|per| per.get(i)?.current.as_ref())
            .is_some_and(|c| {
                c.ts_open.checked_add(self.config.intervals[i].nanos()) == Some(due.end)
            })
    }

    /// The end of the earliest-ending in-progress candle, if any. Amortised O(log n).
    pub fn next_end(&mut self) -> Option<UnixNanos> {
        while let Some(Reverse(top)) = self.due.peek().copied() {
            if self.is_live(&top) {
                return Some(UnixNanos(top.end));
            }
            self.due.pop();
        }
        None
    }

    /// The cutoff a candle-close record should carry at wall-clock time `now`: `now - grace`,
    /// if some in-progress candle ends at or before it; `None` when nothing is due (the common
    /// case: one comparison).
    pub fn due_cutoff(&mut self, now: UnixNanos) -> Option<UnixNanos> {
        let grace = u64::try_from(self.config.grace.as_nanos()).unwrap_or(u64::MAX);
        let cutoff = now.0.checked_sub(grace)?;
        self.next_end()
            .filter(|end| end.0 <= cutoff)
            .map(|_| UnixNanos(cutoff))
    }

    /// Closes every in-progress candle whose interval ends at or before `cutoff` (a
    /// candle-close control record). O(log n) per candle closed. Returns how many closed.
    pub fn close_through(&mut self, cutoff: UnixNanos) -> usize {
        let mut closed = 0;
        while let Some(Reverse(top)) = self.due.peek().copied() {
            if top.end > cutoff.0 {
                break;
            }
            self.due.pop();
            if !self.is_live(&top) {
                continue;
            }
            let i = usize::from(top.interval);
            let retention = self.config.retention[i];
            let series = &mut self.series[top.instrument as usize][i];
            let mut done = series.current.take().unwrap_or_default();
            done.flags |= CandleRecord::CLOSED;
            series.last_closed = Some(done.ts_open);
            let cell = &self.cells[top.instrument as usize][i];
            let mut cell = cell.lock().unwrap_or_else(PoisonError::into_inner);
            store_closed(&mut cell, done, None, retention);
            if !series.dirty {
                series.dirty = true;
                self.dirty.push((top.instrument, top.interval));
            }
            self.open_candles -= 1;
            closed += 1;
        }
        closed
    }

    /// Applies a late trade to a closed candle (or creates it). Returns false if the interval
    /// is older than retention.
    fn correct(
        series: &mut Cell,
        retention: usize,
        instrument: InstrumentId,
        interval: Interval,
        open: UnixNanos,
        t: &TradePrint,
    ) -> bool {
        match series.closed.binary_search_by_key(&open.0, |c| c.ts_open) {
            Ok(pos) => {
                apply_late(&mut series.closed[pos], t);
                true
            }
            Err(pos) => {
                // An interval with no candle yet: create it, unless it is older than everything
                // retained while the retention is full.
                if pos == 0 && series.closed.len() >= retention {
                    return false;
                }
                let mut c = new_candle(instrument, interval, open);
                apply(&mut c, t);
                c.flags |= CandleRecord::CLOSED;
                c.version = 1;
                series.closed.insert(pos, c);
                if series.closed.len() > retention {
                    series.closed.pop_front();
                }
                true
            }
        }
    }

    /// Appends every candle changed since the last drain (the in-progress one, or the last
    /// closed/corrected one) to `out`, once each, and clears the change list. Allocation-free
    /// once `out` has grown.
    ///
    /// A series with several changes in one batch reports its latest state; corrections to
    /// older candles in the same batch are reported by re-reading them with
    /// [`CandleBook::candles`].
    pub fn drain_updates(&mut self, out: &mut Vec<CandleRecord>) {
        for (id, i) in self.dirty.drain(..) {
            let series = &mut self.series[id as usize][usize::from(i)];
            series.dirty = false;
            let cell = &self.cells[id as usize][usize::from(i)];
            let mut cell = cell.lock().unwrap_or_else(PoisonError::into_inner);
            cell.current = series.current;
            if let Some(c) = cell.current.as_ref().or(cell.closed.back()) {
                out.push(*c);
            }
        }
    }

    /// The current (in-progress) candle of `instrument` for `interval`, if any.
    pub fn current(&self, instrument: InstrumentId, interval: Interval) -> Option<CandleRecord> {
        let i = self.interval_index(interval)?;
        self.series.get(instrument.0 as usize)?.get(i)?.current
    }

    /// Candles of `instrument` for `interval` with `from <= ts_open < to`, oldest first,
    /// including the in-progress one as the writer has it now (readers use
    /// [`CandleView::candles`], which sees it as of the last drain).
    pub fn candles(
        &self,
        instrument: InstrumentId,
        interval: Interval,
        from: UnixNanos,
        to: UnixNanos,
        take: Take,
    ) -> Vec<CandleRecord> {
        let Some(i) = self.interval_index(interval) else {
            return Vec::new();
        };
        let Some(cell) = self.cells.get(instrument.0 as usize).map(|c| &c[i]) else {
            return Vec::new();
        };
        let current = self.series[instrument.0 as usize][i].current;
        let cell = cell.lock().unwrap_or_else(PoisonError::into_inner);
        view::select(&cell.closed, current, from, to, take)
    }
}

/// Stores `done` (just closed) in `cell` with the series' new in-progress candle, keeping at
/// most `retention` closed candles.
fn store_closed(
    cell: &mut Cell,
    done: CandleRecord,
    current: Option<CandleRecord>,
    retention: usize,
) {
    cell.closed.push_back(done);
    while cell.closed.len() > retention {
        cell.closed.pop_front();
    }
    cell.current = current;
}

/// Fills the gaps between `candles` (oldest first, one instrument and interval) with zero-volume
/// candles at the previous close, up to but excluding `to`, returning at most `max_len` candles
/// (the earliest); `fill=previous` in queries. Filled candles are closed, with `trades = 0`,
/// `volume = 0` and OHLC all the previous close.
pub fn fill_previous(
    candles: &[CandleRecord],
    interval: Interval,
    to: UnixNanos,
    max_len: usize,
) -> Vec<CandleRecord> {
    let step = interval.nanos();
    let mut out: Vec<CandleRecord> = Vec::with_capacity(candles.len().min(max_len));
    for c in candles {
        if let Some(prev) = out.last().copied() {
            let mut t = prev.ts_open + step;
            while t < c.ts_open && out.len() < max_len {
                out.push(filler(&prev, t));
                t += step;
            }
        }
        if out.len() >= max_len {
            return out;
        }
        out.push(*c);
    }
    if let Some(last) = out.last().copied() {
        let mut t = last.ts_open + step;
        while t < to.0 && last.is_closed() && out.len() < max_len {
            out.push(filler(&last, t));
            t += step;
        }
    }
    out
}

fn filler(prev: &CandleRecord, ts_open: u64) -> CandleRecord {
    CandleRecord {
        instrument_id: prev.instrument_id,
        interval_s: prev.interval_s,
        ts_open,
        open: prev.close,
        high: prev.close,
        low: prev.close,
        close: prev.close,
        flags: CandleRecord::CLOSED,
        last_seq: prev.last_seq,
        ts_first_event: ts_open,
        ts_last_event: ts_open,
        ..CandleRecord::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_696_680_000_000_000_000; // 2023-10-07T12:00:00Z, a whole minute
    const SEC: u64 = 1_000_000_000;

    fn px(s: &str) -> Price {
        s.parse().unwrap()
    }
    fn qty(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    fn book() -> CandleBook {
        CandleBook::new(CandleConfig {
            intervals: vec![Interval::S1, Interval::M1],
            retention: vec![4, 10],
            grace: Duration::ZERO,
        })
    }

    const A: InstrumentId = InstrumentId(0);

    /// A seller-initiated trade with no venue id.
    fn tp(ts_event: UnixNanos, price: Price, size: Quantity, seq: Seq) -> TradePrint {
        TradePrint {
            ts_event,
            price,
            size,
            side: Side::Sell,
            trade_id: 0,
            seq,
        }
    }

    #[test]
    fn taker_buy_sums_and_trade_ids_follow_the_aggressor_and_event_time() {
        let mut b = book();
        let trade = |ts: u64, price: &str, size: &str, side: Side, id: u64, seq: u64| TradePrint {
            ts_event: UnixNanos(T0 + ts),
            price: px(price),
            size: qty(size),
            side,
            trade_id: id,
            seq: Seq(seq),
        };
        b.on_trade(A, &trade(200, "10", "3", Side::Buy, 1002, 1));
        b.on_trade(A, &trade(300, "11", "2", Side::Sell, 1003, 2));
        b.on_trade(A, &trade(400, "12.5", "0.5", Side::Buy, 1004, 3));
        b.on_trade(A, &trade(500, "13", "7", Side::None, 1005, 4));
        // Arrives last, happened first: it becomes the open and the first trade id.
        b.on_trade(A, &trade(100, "9", "1", Side::Buy, 1001, 5));
        let c = b.current(A, Interval::S1).unwrap();
        assert_eq!((c.open, c.close), (px("9").raw(), px("13").raw()));
        assert_eq!((c.first_trade_id, c.last_trade_id), (1001, 1005));
        // 3 + 0.5 + 1 of 13.5
        assert_eq!(c.taker_buy_volume_total(), 4_500_000_000);
        assert_eq!(c.volume_total(), 13_500_000_000);
        // 10*3 + 12.5*0.5 + 9*1 = 45.25, in 1e-18
        assert_eq!(c.taker_buy_notional(), 45_250_000_000_000_000_000);
        // + 11*2 + 13*7 = 158.25
        assert_eq!(c.notional(), 158_250_000_000_000_000_000);
        // The record carries them across the wire unchanged.
        let back = CandleRecord::from_le_bytes(&c.to_le_bytes());
        assert_eq!(back, c);
    }

    #[test]
    fn builds_exact_ohlcv_labelled_by_open_time() {
        let mut b = book();
        b.on_trade(A, &tp(UnixNanos(T0 + 100), px("10.5"), qty("100"), Seq(1)));
        b.on_trade(A, &tp(UnixNanos(T0 + 200), px("11.25"), qty("50"), Seq(2)));
        b.on_trade(A, &tp(UnixNanos(T0 + 300), px("9.75"), qty("25"), Seq(3)));
        b.on_trade(A, &tp(UnixNanos(T0 + 400), px("10"), qty("0.5"), Seq(4)));
        let c = b.current(A, Interval::S1).unwrap();
        assert_eq!(c.ts_open, T0);
        assert_eq!(c.interval_s, 1);
        assert_eq!(
            (c.open, c.high, c.low, c.close),
            (
                10_500_000_000,
                11_250_000_000,
                9_750_000_000,
                10_000_000_000
            )
        );
        assert_eq!(c.volume, 175_500_000_000);
        assert_eq!(c.trades, 4);
        assert_eq!(c.last_seq, 4);
        assert!(!c.is_closed());
        // notional = 10.5*100 + 11.25*50 + 9.75*25 + 10*0.5 = 1050 + 562.5 + 243.75 + 5 = 1861.25
        assert_eq!(c.notional(), 1_861_250_000_000_000_000_000);
        assert_eq!(b.current(A, Interval::M1).unwrap().ts_open, T0);
    }

    #[test]
    fn a_later_trade_closes_the_candle_and_empty_intervals_are_skipped() {
        let mut b = book();
        b.on_trade(A, &tp(UnixNanos(T0 + 1), px("1"), qty("1"), Seq(1)));
        b.on_trade(
            A,
            &tp(UnixNanos(T0 + 3 * SEC + 5), px("2"), qty("1"), Seq(2)),
        );
        let s1 = b.candles(
            A,
            Interval::S1,
            UnixNanos(0),
            UnixNanos(u64::MAX),
            Take::Last(100),
        );
        assert_eq!(
            s1.len(),
            2,
            "seconds 1 and 2 had no trades and produce no candle"
        );
        assert_eq!((s1[0].ts_open, s1[0].is_closed()), (T0, true));
        assert_eq!((s1[1].ts_open, s1[1].is_closed()), (T0 + 3 * SEC, false));

        let filled = fill_previous(&s1, Interval::S1, UnixNanos(T0 + 4 * SEC), 100);
        assert_eq!(
            fill_previous(&s1, Interval::S1, UnixNanos(u64::MAX), 3).len(),
            3,
            "bounded by max_len"
        );
        assert_eq!(filled.len(), 4);
        assert_eq!(filled[1].ts_open, T0 + SEC);
        assert_eq!(
            (
                filled[1].open,
                filled[1].close,
                filled[1].volume,
                filled[1].trades
            ),
            (1_000_000_000, 1_000_000_000, 0, 0)
        );
        assert_eq!(filled[3].trades, 1);
    }

    #[test]
    fn close_records_close_candles_after_grace_and_no_other_instrument_can() {
        let mut b = CandleBook::new(CandleConfig {
            grace: Duration::from_millis(500),
            ..book().config().clone()
        });
        const B: InstrumentId = InstrumentId(1);
        b.on_trade(A, &tp(UnixNanos(T0), px("1"), qty("1"), Seq(1)));
        // A trade of another instrument dated far ahead closes nothing of A's.
        b.on_trade(
            B,
            &tp(UnixNanos(T0 + 3_600 * SEC), px("1"), qty("1"), Seq(2)),
        );
        assert!(b.current(A, Interval::S1).is_some());
        assert!(b.current(A, Interval::M1).is_some());

        assert_eq!(b.next_end(), Some(UnixNanos(T0 + SEC)));
        // The wall clock at end + grace - 1 ns: nothing due.
        assert_eq!(b.due_cutoff(UnixNanos(T0 + SEC + 499_999_999)), None);
        let cutoff = b.due_cutoff(UnixNanos(T0 + SEC + 500_000_000));
        assert_eq!(cutoff, Some(UnixNanos(T0 + SEC)));
        assert_eq!(b.close_through(UnixNanos(T0 + SEC)), 1);
        assert!(b.current(A, Interval::S1).is_none());
        let closed = b.candles(
            A,
            Interval::S1,
            UnixNanos(0),
            UnixNanos(u64::MAX),
            Take::Last(10),
        );
        assert!(closed[0].is_closed());
        assert!(
            b.current(A, Interval::M1).is_some(),
            "the minute is not over"
        );
        // Closing again closes nothing more; the next end is A's minute.
        assert_eq!(b.close_through(UnixNanos(T0 + SEC)), 0);
        assert_eq!(b.next_end(), Some(UnixNanos(T0 + 60 * SEC)));
        let mut out = Vec::new();
        b.drain_updates(&mut out);
        assert_eq!(out.len(), 4, "A's two candles and B's two");
    }

    #[test]
    fn the_due_queue_skips_candles_closed_by_trades_and_stays_bounded() {
        let mut b = book();
        // 10,000 one-second candles of one instrument, each closed by the next trade.
        for k in 0..10_000u64 {
            b.on_trade(
                A,
                &tp(UnixNanos(T0 + k * SEC), px("1"), qty("1"), Seq(k + 1)),
            );
        }
        assert!(b.due.len() <= 2 * b.open_candles + 64, "{}", b.due.len());
        assert_eq!(b.next_end(), Some(UnixNanos(T0 + 10_000 * SEC)));
        // One close record closes the last second and the minutes up to it.
        assert_eq!(b.close_through(UnixNanos(T0 + 10_000 * SEC)), 1);
        assert_eq!(b.close_through(UnixNanos(u64::MAX)), 1);
        assert_eq!(b.next_end(), None);
    }

    #[test]
    fn extreme_values_never_wrap() {
        let mut b = book();
        // The candles holding u64::MAX - 1 end past u64::MAX: they never close by time, and
        // nothing panics.
        b.on_trade(A, &tp(UnixNanos(u64::MAX - 1), px("1"), qty("1"), Seq(1)));
        assert_eq!(b.close_through(UnixNanos(u64::MAX)), 0);
        // Notional beyond i128 is flagged, not wrapped; volume is exact in u128.
        let big = Price::from_raw(i64::MAX - 1);
        let size = Quantity::from_raw(i64::MAX as u64);
        const B: InstrumentId = InstrumentId(1);
        for seq in 2..=5 {
            b.on_trade(B, &tp(UnixNanos(T0), big, size, Seq(seq)));
        }
        let c = b.current(B, Interval::S1).unwrap();
        assert_eq!(c.volume_total(), 4 * u128::from(i64::MAX as u64));
        assert_eq!(c.notional(), i128::MAX);
        assert_ne!(c.flags & CandleRecord::NOTIONAL_OVERFLOW, 0);
    }

    #[test]
    fn late_trades_correct_closed_candles_and_bump_version() {
        let mut b = book();
        b.on_trade(A, &tp(UnixNanos(T0 + 10), px("5"), qty("1"), Seq(1)));
        b.on_trade(A, &tp(UnixNanos(T0 + 2 * SEC), px("6"), qty("1"), Seq(2)));
        let mut out = Vec::new();
        b.drain_updates(&mut out);
        out.clear();
        // A late print for second 0: updates high, volume, trades, version; it is older than
        // the first print, so it becomes the open and the close stays 5.
        b.on_trade(A, &tp(UnixNanos(T0 + 5), px("7"), qty("2"), Seq(3)));
        let s1 = b.candles(
            A,
            Interval::S1,
            UnixNanos(T0),
            UnixNanos(T0 + 1),
            Take::Last(10),
        );
        assert_eq!(s1.len(), 1);
        let c = s1[0];
        assert_eq!(
            (c.open, c.high, c.low, c.close),
            (7_000_000_000, 7_000_000_000, 5_000_000_000, 5_000_000_000)
        );
        assert_eq!(
            (c.volume, c.trades, c.version, c.last_seq),
            (3_000_000_000, 2, 1, 3)
        );
        assert!(c.is_closed());
        assert_eq!(b.stats().corrections, 1);
        // A late print into the empty second 1 creates that candle as a correction.
        b.on_trade(A, &tp(UnixNanos(T0 + SEC + 1), px("8"), qty("1"), Seq(4)));
        let s1 = b.candles(
            A,
            Interval::S1,
            UnixNanos(0),
            UnixNanos(u64::MAX),
            Take::Last(10),
        );
        assert_eq!(
            s1.iter()
                .map(|c| (c.ts_open - T0) / SEC)
                .collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!((s1[1].version, s1[1].close), (1, 8_000_000_000));
        // The minute candle took every trade while in progress; its close is the print with the
        // latest event time (second 2), whatever the arrival order.
        let m1 = b.current(A, Interval::M1).unwrap();
        assert_eq!(
            (m1.trades, m1.open, m1.close, m1.version),
            (4, 7_000_000_000, 6_000_000_000, 0)
        );
    }

    #[test]
    fn trades_older_than_retention_are_counted_not_applied() {
        let mut b = book();
        for s in 0..6 {
            b.on_trade(
                A,
                &tp(UnixNanos(T0 + s * 2 * SEC), px("1"), qty("1"), Seq(s + 1)),
            );
        }
        // 1s retention is 4 closed candles: seconds 2, 4, 6, 8 remain (10 is in progress).
        let s1 = b.candles(
            A,
            Interval::S1,
            UnixNanos(0),
            UnixNanos(u64::MAX),
            Take::Last(100),
        );
        assert_eq!(s1.first().unwrap().ts_open, T0 + 2 * SEC);
        b.on_trade(A, &tp(UnixNanos(T0), px("9"), qty("1"), Seq(7)));
        assert_eq!(b.stats().late_beyond_retention, 1);
        assert_eq!(
            b.stats().corrections,
            0,
            "the 1m candle took it in order (still in progress)"
        );
        assert_eq!(b.current(A, Interval::M1).unwrap().high, 9_000_000_000);
    }

    #[test]
    fn updates_are_conflated_per_drain() {
        let mut b = book();
        let mut out = Vec::new();
        for i in 0..5 {
            b.on_trade(A, &tp(UnixNanos(T0 + i), px("1"), qty("1"), Seq(i + 1)));
        }
        b.on_trade(
            InstrumentId(3),
            &tp(UnixNanos(T0 + 9), px("2"), qty("1"), Seq(6)),
        );
        b.drain_updates(&mut out);
        assert_eq!(out.len(), 4, "one per (instrument, interval) that changed");
        assert_eq!(out[0].trades, 5);
        out.clear();
        b.drain_updates(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn limit_keeps_the_latest() {
        let mut b = book();
        for s in 0..4 {
            b.on_trade(
                A,
                &tp(UnixNanos(T0 + s * SEC), px("1"), qty("1"), Seq(s + 1)),
            );
        }
        let last2 = b.candles(
            A,
            Interval::S1,
            UnixNanos(0),
            UnixNanos(u64::MAX),
            Take::Last(2),
        );
        assert_eq!(
            last2.iter().map(|c| c.last_seq).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }
}
