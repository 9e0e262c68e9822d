//! What a subscription selects: instruments per tick kind, and candle intervals per instrument.
//! A filter is checked per record on the delivery path, so it is a few array lookups, no
//! hashing.

use tickd_protocol::{CandleRecord, InstrumentId, Interval, TickKind, TickRecord};

/// A set of instruments: all, or a bitmap indexed by instrument id.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ids {
    All,
    Some(Vec<bool>),
}

impl Ids {
    fn none() -> Self {
        Self::Some(Vec::new())
    }

    fn of(ids: &[InstrumentId]) -> Self {
        let mut set = Self::none();
        for id in ids {
            set.set(*id, true);
        }
        set
    }

    fn has(&self, id: InstrumentId) -> bool {
        match self {
            Self::All => true,
            Self::Some(map) => map.get(id.0 as usize).copied().unwrap_or(false),
        }
    }

    fn set(&mut self, id: InstrumentId, on: bool) {
        let Self::Some(map) = self else { return };
        let i = id.0 as usize;
        if map.len() <= i {
            if !on {
                return;
            }
            map.resize(i + 1, false);
        }
        map[i] = on;
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::All => false,
            Self::Some(map) => !map.contains(&true),
        }
    }
}

/// Candle intervals: one mask for every instrument, or a mask per instrument id (bit `i` =
/// `Interval::ALL[i]`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Candles {
    All(u8),
    Some(Vec<u8>),
}

fn interval_bit(interval: Interval) -> u8 {
    Interval::ALL
        .iter()
        .position(|i| *i == interval)
        .map_or(0, |b| 1 << b)
}

/// A subscription's record filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    trades: Ids,
    quotes: Ids,
    candles: Candles,
}

impl Default for Filter {
    /// Selects nothing.
    fn default() -> Self {
        Self {
            trades: Ids::none(),
            quotes: Ids::none(),
            candles: Candles::Some(Vec::new()),
        }
    }
}

impl Filter {
    /// A filter for `instruments` (`None` = all), the given kinds and candle intervals.
    pub fn new(
        instruments: Option<&[InstrumentId]>,
        trades: bool,
        quotes: bool,
        candles: &[Interval],
    ) -> Self {
        let set = || instruments.map_or(Ids::All, Ids::of);
        let mask = candles.iter().fold(0u8, |m, i| m | interval_bit(*i));
        let candles = match instruments {
            None => Candles::All(mask),
            Some(_) if mask == 0 => Candles::Some(Vec::new()),
            Some(ids) => {
                let mut masks = Vec::new();
                for id in ids {
                    let i = id.0 as usize;
                    if masks.len() <= i {
                        masks.resize(i + 1, 0);
                    }
                    masks[i] = mask;
                }
                Candles::Some(masks)
            }
        };
        Self {
            trades: if trades { set() } else { Ids::none() },
            quotes: if quotes { set() } else { Ids::none() },
            candles,
        }
    }

    /// Selects (or drops) `instrument`'s trades.
    pub fn set_trades(&mut self, instrument: InstrumentId, on: bool) {
        self.trades.set(instrument, on);
    }

    /// Selects (or drops) `instrument`'s quotes.
    pub fn set_quotes(&mut self, instrument: InstrumentId, on: bool) {
        self.quotes.set(instrument, on);
    }

    /// Selects (or drops) `instrument`'s candles of `interval`.
    pub fn set_candles(&mut self, instrument: InstrumentId, interval: Interval, on: bool) {
        let Candles::Some(masks) = &mut self.candles else {
            return;
        };
        let i = instrument.0 as usize;
        if masks.len() <= i {
            if !on {
                return;
            }
            masks.resize(i + 1, 0);
        }
        if on {
            masks[i] |= interval_bit(interval);
        } else {
            masks[i] &= !interval_bit(interval);
        }
    }

    /// Whether the filter covers any kind of `instrument`.
    pub fn has_instrument(&self, instrument: InstrumentId) -> bool {
        self.trades.has(instrument)
            || self.quotes.has(instrument)
            || self.candle_mask(instrument) != 0
    }

    fn candle_mask(&self, instrument: InstrumentId) -> u8 {
        match &self.candles {
            Candles::All(mask) => *mask,
            Candles::Some(masks) => masks.get(instrument.0 as usize).copied().unwrap_or(0),
        }
    }

    /// Whether any candle interval is selected.
    pub fn wants_candles(&self) -> bool {
        match &self.candles {
            Candles::All(mask) => *mask != 0,
            Candles::Some(masks) => masks.iter().any(|m| *m != 0),
        }
    }

    /// Whether any tick (trade or quote) is selected.
    pub fn wants_ticks(&self) -> bool {
        !self.trades.is_empty() || !self.quotes.is_empty()
    }

    /// Whether the venue-gap record `record` concerns what this filter selects: it declares a
    /// hole in the trades of an instrument whose trades are selected.
    pub fn matches_venue_gap(&self, record: &TickRecord) -> Option<tickd_protocol::VenueHole> {
        record
            .venue_hole()
            .filter(|h| self.trades.has(h.instrument))
    }

    /// Whether `tick` passes.
    pub fn matches_tick(&self, tick: &TickRecord) -> bool {
        match TickKind::from_u8(tick.kind) {
            Some(TickKind::Trade) => self.trades.has(tick.instrument()),
            Some(TickKind::Quote) => self.quotes.has(tick.instrument()),
            None => false,
        }
    }

    /// Whether `candle` passes.
    pub fn matches_candle(&self, candle: &CandleRecord) -> bool {
        candle.interval().is_some_and(|interval| {
            self.candle_mask(InstrumentId(candle.instrument_id)) & interval_bit(interval) != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use tickd_protocol::{Price, Quantity, Quote, Side, Trade, UnixNanos};

    use super::*;

    #[test]
    fn selects_by_instrument_kind_and_interval() {
        let f = Filter::new(Some(&[InstrumentId(2)]), true, false, &[Interval::M1]);
        let t = Trade {
            price: Price::from_raw(1),
            size: Quantity::from_raw(1),
            trade_id: 0,
            venue: 0,
            conditions: 0,
        };
        let q = Quote {
            bid_px: Price::from_raw(1),
            bid_sz: Quantity::from_raw(1),
            ask_px: Price::UNDEF,
            ask_sz: Quantity::ZERO,
        };
        assert!(f.matches_tick(&TickRecord::new_trade(
            InstrumentId(2),
            UnixNanos(1),
            Side::Buy,
            &t
        )));
        assert!(!f.matches_tick(&TickRecord::new_trade(
            InstrumentId(1),
            UnixNanos(1),
            Side::Buy,
            &t
        )));
        assert!(!f.matches_tick(&TickRecord::new_trade(
            InstrumentId(99),
            UnixNanos(1),
            Side::Buy,
            &t
        )));
        assert!(!f.matches_tick(&TickRecord::new_quote(InstrumentId(2), UnixNanos(1), &q)));
        let c = CandleRecord {
            instrument_id: 2,
            interval_s: 60,
            ..CandleRecord::default()
        };
        assert!(f.matches_candle(&c));
        assert!(!f.matches_candle(&CandleRecord { interval_s: 1, ..c }));
        let all = Filter::new(None, false, true, &[]);
        assert!(all.matches_tick(&TickRecord::new_quote(InstrumentId(7), UnixNanos(1), &q)));
        assert!(!all.wants_candles());
    }

    #[test]
    fn selects_per_kind_as_a_websocket_asks() {
        let q = Quote {
            bid_px: Price::from_raw(1),
            bid_sz: Quantity::from_raw(1),
            ask_px: Price::UNDEF,
            ask_sz: Quantity::ZERO,
        };
        let t = Trade {
            price: Price::from_raw(1),
            size: Quantity::from_raw(1),
            trade_id: 0,
            venue: 0,
            conditions: 0,
        };
        let mut f = Filter::default();
        assert!(!f.wants_ticks() && !f.wants_candles());
        f.set_trades(InstrumentId(3), true);
        f.set_quotes(InstrumentId(5), true);
        f.set_candles(InstrumentId(5), Interval::H1, true);
        let trade = |id| TickRecord::new_trade(InstrumentId(id), UnixNanos(1), Side::Buy, &t);
        let quote = |id| TickRecord::new_quote(InstrumentId(id), UnixNanos(1), &q);
        assert!(f.matches_tick(&trade(3)) && !f.matches_tick(&quote(3)));
        assert!(f.matches_tick(&quote(5)) && !f.matches_tick(&trade(5)));
        let c = CandleRecord {
            instrument_id: 5,
            interval_s: 3600,
            ..CandleRecord::default()
        };
        assert!(f.matches_candle(&c));
        assert!(!f.matches_candle(&CandleRecord {
            interval_s: 60,
            ..c
        }));
        f.set_candles(InstrumentId(5), Interval::H1, false);
        f.set_trades(InstrumentId(3), false);
        f.set_trades(InstrumentId(1_000_000), false);
        assert!(!f.matches_candle(&c) && !f.matches_tick(&trade(3)));
        assert!(f.wants_ticks() && !f.wants_candles());
    }
}
