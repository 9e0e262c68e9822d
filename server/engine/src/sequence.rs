//! Sequencing (DESIGN.md §4), without IO: per tick, resolve the instrument, validate, stamp
//! `seq`, `ts_recv` and the instrument id, and hand the record to a [`RecordSink`]. Nothing is
//! folded into candles here: the shell journals the batch first and then applies the records
//! ([`crate::CandleBook::apply`]), so a batch the journal refuses leaves no trace. The server's
//! sequencer thread wraps this with the ring, the latest table, the journal and publication;
//! benches and tests drive it with any sink.
//!
//! Instruments: a feed names its symbols once, as it first uses them, with their [`Scales`],
//! and its ticks carry the feed's own dense index into that list ([`FeedIds`]); a publisher
//! names them per batch. The sink assigns tickd's [`InstrumentId`]s (the symbol directory lives
//! in shared memory, which is the shell's); an instrument's scales are set once, when it is
//! first defined. A symbol the sink refuses (directory full, or scales that differ from the
//! definition) makes its ticks rejected with [`Invalid::RefusedInstrument`], and an index
//! outside the list with [`Invalid::UnknownInstrument`]: never silently dropped.

use std::ops::RangeInclusive;

use tickd_protocol::{InstrumentId, Scales, Seq, Symbol, TickRecord, UnixNanos};

use crate::validate::{Invalid, is_crossed, validate};

/// Where sequenced records go. The shell's implementation keeps them for the journal, and
/// writes ring slots and latest cells only once the journal has them.
pub trait RecordSink {
    /// The id of `symbol`, defining it with `scales` if new; `None` if it cannot be (the
    /// directory is full, or it is known with other scales), which the sink reports.
    fn register(&mut self, symbol: Symbol, scales: Scales) -> Option<InstrumentId>;
    /// The seq the next written record gets.
    fn next_seq(&self) -> Seq;
    /// Writes `tick`, stamped with [`RecordSink::next_seq`]'s seq.
    fn write(&mut self, tick: &TickRecord);
}

/// What one batch produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The seqs assigned, in order (`None`: nothing was accepted).
    pub seqs: Option<RangeInclusive<Seq>>,
    /// Ticks accepted.
    pub accepted: u32,
    /// Ticks rejected.
    pub rejected: u32,
}

impl BatchOutcome {
    /// The outcome of a batch none of which was accepted (all `n` rejected).
    pub fn all_rejected(n: u32) -> Self {
        Self {
            seqs: None,
            accepted: 0,
            rejected: n,
        }
    }
}

/// One feed's symbols: its local index (the `instrument_id` its ticks carry) → tickd's id.
/// A symbol is defined (registered through the sink) when the first valid tick uses it, so a
/// batch that names symbols it never trades defines nothing.
#[derive(Clone, Debug, Default)]
pub struct FeedIds {
    slots: Vec<Slot>,
}

/// A local index: named, or resolved (`None`: the sink refused it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Named(Symbol, Scales),
    Resolved(Option<InstrumentId>),
}

impl FeedIds {
    /// Names `symbols` with their scales: the feed's next local indexes, in order.
    pub fn extend(&mut self, symbols: impl IntoIterator<Item = (Symbol, Scales)>) {
        self.slots
            .extend(symbols.into_iter().map(|(s, sc)| Slot::Named(s, sc)));
    }

    /// How many local indexes are named.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Forgets every local index from `len` on (a batch that named them was not sequenced,
    /// and names them again when it comes back).
    pub fn truncate(&mut self, len: usize) {
        self.slots.truncate(len);
    }

    /// The symbol and scales at `local`, if named.
    pub fn named(&self, local: u32) -> Option<(Symbol, Scales)> {
        match self.slots.get(local as usize)? {
            Slot::Named(s, sc) => Some((*s, *sc)),
            Slot::Resolved(_) => None,
        }
    }

    /// The id of `local`, defining it through `sink` if this is its first use. `None` outside
    /// the named range; `Some(None)` if the sink refused it.
    fn resolve(&mut self, local: u32, sink: &mut impl RecordSink) -> Option<Option<InstrumentId>> {
        let slot = self.slots.get_mut(local as usize)?;
        if let Slot::Named(symbol, scales) = *slot {
            *slot = Slot::Resolved(sink.register(symbol, scales));
        }
        match *slot {
            Slot::Resolved(id) => Some(id),
            Slot::Named(..) => None,
        }
    }

    /// The ids resolved so far, by local index (`None`: not used yet, or refused).
    pub fn resolved(&self) -> Vec<Option<InstrumentId>> {
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Resolved(id) => *id,
                Slot::Named(..) => None,
            })
            .collect()
    }
}

/// How far ahead of the server's clock a tick's `ts_event` may be, for feeds judged by the
/// wall clock (live feeds, publishers); `None` for feeds judged by their own event time
/// (replays of history).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skew(pub Option<std::time::Duration>);

/// Sequences `ticks` at time `now` (their `ts_recv`): each tick's `instrument_id` indexes
/// `ids`, whose symbols are defined through `sink` at their first valid tick. A tick dated further ahead of `now` than `skew` allows is rejected
/// ([`Invalid::FutureEvent`]). Accepted ticks are stamped (a crossed quote also gets
/// [`TickRecord::CROSSED`]) and written to `sink` in order; `on_reject` hears each rejected
/// tick's index in `ticks` and the reason. O(1) per tick besides the sink; allocates nothing.
pub fn sequence(
    ticks: &[TickRecord],
    ids: &mut FeedIds,
    now: UnixNanos,
    skew: Skew,
    sink: &mut impl RecordSink,
    mut on_reject: impl FnMut(usize, Invalid),
) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    // The latest ts_event accepted, and the skew it came from (for the reason).
    let horizon = skew.0.map(|d| (now.saturating_add(d), d));
    let mut first = None;
    let mut last = Seq(0);
    for (i, tick) in ticks.iter().enumerate() {
        if tick.instrument_id as usize >= ids.len() {
            out.rejected += 1;
            on_reject(i, Invalid::UnknownInstrument(tick.instrument_id));
            continue;
        }
        if let Err(reason) = validate(tick) {
            out.rejected += 1;
            on_reject(i, reason);
            continue;
        }
        if let Some((h, max)) = horizon
            && tick.ts_event > h.0
        {
            out.rejected += 1;
            let ahead_ms = (tick.ts_event - now.0) / 1_000_000;
            let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
            on_reject(i, Invalid::FutureEvent { ahead_ms, max_ms });
            continue;
        }
        let Some(Some(id)) = ids.resolve(tick.instrument_id, sink) else {
            out.rejected += 1;
            on_reject(i, Invalid::RefusedInstrument(tick.instrument_id));
            continue;
        };
        let seq = sink.next_seq();
        // CROSSED is the sequencer's finding; NO_EVENT_TIME the source's statement, kept.
        let flags = (tick.flags & TickRecord::NO_EVENT_TIME)
            | if is_crossed(tick) {
                TickRecord::CROSSED
            } else {
                0
            };
        let t = TickRecord {
            seq: seq.0,
            instrument_id: id.0,
            ts_recv: now.0,
            flags,
            ..*tick
        };
        sink.write(&t);
        first.get_or_insert(seq);
        last = seq;
        out.accepted += 1;
    }
    out.seqs = first.map(|first| first..=last);
    out
}

#[cfg(test)]
mod tests {
    use tickd_protocol::{Price, Quantity, Side, Trade};

    use super::*;

    /// A sink that keeps what it is given.
    #[derive(Default)]
    struct Vec64 {
        symbols: Vec<(Symbol, Scales)>,
        written: Vec<TickRecord>,
        full_after: Option<usize>,
    }

    impl RecordSink for Vec64 {
        fn register(&mut self, symbol: Symbol, scales: Scales) -> Option<InstrumentId> {
            if let Some(i) = self.symbols.iter().position(|s| s.0 == symbol) {
                return (self.symbols[i].1 == scales).then_some(InstrumentId(i as u32));
            }
            if self.full_after.is_some_and(|n| self.symbols.len() >= n) {
                return None;
            }
            self.symbols.push((symbol, scales));
            Some(InstrumentId(self.symbols.len() as u32 - 1))
        }
        fn next_seq(&self) -> Seq {
            Seq(self.written.len() as u64 + 1)
        }
        fn write(&mut self, tick: &TickRecord) {
            self.written.push(*tick);
        }
    }

    fn trade(local: u32, price: &str) -> TickRecord {
        let t = Trade {
            price: price.parse::<Price>().unwrap(),
            size: "1".parse::<Quantity>().unwrap(),
            trade_id: 0,
            venue: 0,
            conditions: 0,
        };
        TickRecord::new_trade(
            InstrumentId(local),
            UnixNanos(1_696_680_000_000_000_000),
            Side::Buy,
            &t,
        )
    }

    #[test]
    fn stamps_dense_seqs_and_rejects_unknown_and_invalid_ticks() {
        let mut sink = Vec64 {
            full_after: Some(1),
            ..Vec64::default()
        };
        let mut ids = FeedIds::default();
        let (aapl, full) = (Symbol::new("AAPL").unwrap(), Symbol::new("FULL").unwrap());
        let unused = Symbol::new("UNUSED").unwrap();
        let d = Scales::DEFAULT;
        ids.extend([(aapl, d), (full, d), (unused, d)]);
        assert_eq!(ids.resolved(), [None, None, None], "nothing defined yet");
        let mut bad = trade(0, "1");
        bad.kind = 99;
        let ticks = [
            trade(0, "10.5"),
            trade(1, "1"),
            bad,
            trade(7, "1"),
            trade(0, "10.25"),
        ];
        let mut rejected = Vec::new();
        let out = sequence(
            &ticks,
            &mut ids,
            UnixNanos(42),
            Skew(None),
            &mut sink,
            |i, why| rejected.push((i, why)),
        );
        assert_eq!(
            out,
            BatchOutcome {
                seqs: Some(Seq(1)..=Seq(2)),
                accepted: 2,
                rejected: 3
            }
        );
        assert_eq!(
            rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
            [1, 2, 3],
            "{rejected:?}"
        );
        assert_eq!(rejected[0].1, Invalid::RefusedInstrument(1));
        assert_eq!(rejected[2].1, Invalid::UnknownInstrument(7));
        // Only symbols a valid tick used were defined: AAPL (FULL was refused, UNUSED never
        // traded).
        assert_eq!(ids.resolved(), [Some(InstrumentId(0)), None, None]);
        assert_eq!(sink.symbols.len(), 1);
        // Known with other scales: refused too.
        let mut other = FeedIds::default();
        other.extend([(aapl, Scales::new(2, 0).unwrap())]);
        let refused = sequence(
            &[trade(0, "1")],
            &mut other,
            UnixNanos(44),
            Skew(None),
            &mut sink,
            |_, _| {},
        );
        assert_eq!(refused.rejected, 1);
        let w = &sink.written;
        assert_eq!((w[0].seq, w[0].ts_recv, w[0].instrument_id), (1, 42, 0));
        assert_eq!(
            (w[1].seq, w[1].trade().unwrap().price.raw()),
            (2, 10_250_000_000)
        );
        let nothing = sequence(
            &[],
            &mut ids,
            UnixNanos(43),
            Skew(None),
            &mut sink,
            |_, _| {},
        );
        assert_eq!(nothing, BatchOutcome::default());
    }

    #[test]
    fn a_tick_dated_beyond_the_skew_is_rejected_when_judged_by_the_clock() {
        let mut sink = Vec64::default();
        let mut ids = FeedIds::default();
        ids.extend([(Symbol::new("AAPL").unwrap(), Scales::DEFAULT)]);
        let now = UnixNanos(1_696_680_000_000_000_000);
        let at = |ts: u64| {
            let mut t = trade(0, "1");
            t.ts_event = ts;
            t
        };
        // 2100-01-01, and one exactly at the horizon.
        let ticks = [at(4_102_444_800_000_000_000), at(now.0 + 300_000_000_000)];
        let mut rejected = Vec::new();
        let skew = Skew(Some(std::time::Duration::from_secs(300)));
        let out = sequence(&ticks, &mut ids, now, skew, &mut sink, |i, why| {
            rejected.push((i, why))
        });
        assert_eq!((out.accepted, out.rejected), (1, 1));
        assert_eq!(
            rejected,
            [(
                0,
                Invalid::FutureEvent {
                    ahead_ms: 2_405_764_800_000,
                    max_ms: 300_000
                }
            )]
        );
        assert_eq!(
            rejected[0].1.to_string(),
            "ts_event is 2405764800000 ms ahead of the server clock, more than the 300000 ms allowed"
        );
        // A replay is judged by its own clock: the same ticks are accepted.
        let out = sequence(&ticks, &mut ids, now, Skew(None), &mut sink, |_, _| {});
        assert_eq!((out.accepted, out.rejected), (2, 0));
    }
}
