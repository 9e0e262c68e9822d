//! What a subscription selects: instruments, tick kinds and candle intervals. A filter is
//! checked per record on the delivery path, so it is a few array lookups, no hashing.

use tickd_protocol::{CandleRecord, InstrumentId, Interval, TickKind, TickRecord};

/// A subscription's record filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// `None`: every instrument; else a bitmap indexed by instrument id.
    instruments: Option<Vec<bool>>,
    /// Deliver trades.
    pub trades: bool,
    /// Deliver quotes.
    pub quotes: bool,
    /// Deliver candles of these intervals (bit `i` = `Interval::ALL[i]`).
    candle_mask: u8,
}

impl Filter {
    /// A filter for `instruments` (`None` = all), the given kinds and candle intervals.
    pub fn new(
        instruments: Option<&[InstrumentId]>,
        trades: bool,
        quotes: bool,
        candles: &[Interval],
    ) -> Self {
        let instruments = instruments.map(|ids| {
            let len = ids.iter().map(|i| i.0 as usize + 1).max().unwrap_or(0);
            let mut map = vec![false; len];
            for id in ids {
                map[id.0 as usize] = true;
            }
            map
        });
        let candle_mask = candles
            .iter()
            .filter_map(|c| Interval::ALL.iter().position(|i| i == c))
            .fold(0u8, |m, i| m | (1 << i));
        Self {
            instruments,
            trades,
            quotes,
            candle_mask,
        }
    }

    /// Whether the filter covers `instrument`.
    pub fn has_instrument(&self, instrument: InstrumentId) -> bool {
        match &self.instruments {
            None => true,
            Some(map) => map.get(instrument.0 as usize).copied().unwrap_or(false),
        }
    }

    /// Whether any candle interval is selected.
    pub fn wants_candles(&self) -> bool {
        self.candle_mask != 0
    }

    /// Whether `tick` passes.
    pub fn matches_tick(&self, tick: &TickRecord) -> bool {
        let kind_ok = match TickKind::from_u8(tick.kind) {
            Some(TickKind::Trade) => self.trades,
            Some(TickKind::Quote) => self.quotes,
            None => false,
        };
        kind_ok && self.has_instrument(tick.instrument())
    }

    /// Whether `candle` passes.
    pub fn matches_candle(&self, candle: &CandleRecord) -> bool {
        let Some(interval) = candle.interval() else {
            return false;
        };
        let Some(bit) = Interval::ALL.iter().position(|i| *i == interval) else {
            return false;
        };
        self.candle_mask & (1 << bit) != 0
            && self.has_instrument(InstrumentId(candle.instrument_id))
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
}
