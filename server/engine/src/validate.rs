//! Validation of ticks before they are sequenced. A tick that fails is rejected with a reason;
//! it never reaches the ring.

use tickd_protocol::{TickRecord, TickView};

/// Why a tick was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// The `kind` byte is not trade or quote.
    #[error("unknown tick kind {0}")]
    UnknownKind(u8),
    /// The `side` byte is not none, buy or sell.
    #[error("unknown side {0}")]
    UnknownSide(u8),
    /// `ts_event` is 0.
    #[error("ts_event is missing")]
    MissingTime,
    /// A trade without a price.
    #[error("trade price is undefined")]
    UndefinedPrice,
    /// A trade of size 0.
    #[error("trade size is zero")]
    ZeroSize,
    /// A quote with neither bid nor ask.
    #[error("quote has neither bid nor ask")]
    EmptyQuote,
    /// A price that breaks arithmetic: `i64::MIN` (its negation overflows; never a real price).
    #[error("price {0} is out of range")]
    PriceOutOfRange(i64),
    /// A trade size above `i64::MAX` raw units: beyond any market, and it would not fit the
    /// signed integers JSON and numpy clients read sizes into.
    #[error("trade size {0} is out of range (at most 9223372036854775807 raw units)")]
    SizeOutOfRange(u64),
    /// `ts_event` beyond `i64::MAX` ns (2262-04-11): outside what every client's signed
    /// nanosecond time holds, and candle end times would overflow.
    #[error("ts_event {0} is out of range (after 2262-04-11)")]
    TimeOutOfRange(u64),
    /// A control record kind (a candle close): only the sequencer writes those.
    #[error("kind {0} is a control record, which only the sequencer writes")]
    ControlKind(u8),
    /// The instrument index does not name a known symbol.
    #[error("unknown instrument index {0}")]
    UnknownInstrument(u32),
    /// `ts_event` is further ahead of the server's clock (`ts_recv`) than the configured skew:
    /// one such tick would close every candle it passes (DESIGN.md §3).
    #[error(
        "ts_event is {ahead_ms} ms ahead of the server clock, more than the {max_ms} ms allowed"
    )]
    FutureEvent {
        /// How far ahead, ms.
        ahead_ms: u64,
        /// The skew allowed, ms.
        max_ms: u64,
    },
    /// The batch's symbol at this index could not be defined: the directory is full, or the
    /// scales given differ from the ones the instrument was defined with.
    #[error(
        "instrument index {0} was refused (directory full, or scales differ from its definition)"
    )]
    RefusedInstrument(u32),
}

/// Checks one tick. O(1), no allocation.
///
/// # Errors
///
/// [`Invalid`] with the first reason found.
pub fn validate(tick: &TickRecord) -> Result<(), Invalid> {
    if tick.ts_event == 0 {
        return Err(Invalid::MissingTime);
    }
    if tick.ts_event > i64::MAX as u64 {
        return Err(Invalid::TimeOutOfRange(tick.ts_event));
    }
    if tick.candle_close_cutoff().is_some() {
        return Err(Invalid::ControlKind(tick.kind));
    }
    if tick.venue_hole().is_some() {
        // A feed (or publisher) declaring a hole in its venue's data: sequenced like a tick.
        return Ok(());
    }
    match tick.view() {
        Err(tickd_protocol::RecordError::UnknownSide(s)) => Err(Invalid::UnknownSide(s)),
        Err(_) => Err(Invalid::UnknownKind(tick.kind)),
        Ok(TickView::Trade(t, _)) if t.price.is_undef() => Err(Invalid::UndefinedPrice),
        Ok(TickView::Trade(t, _)) if t.price.raw() == i64::MIN => {
            Err(Invalid::PriceOutOfRange(i64::MIN))
        }
        Ok(TickView::Trade(t, _)) if t.size.raw() == 0 => Err(Invalid::ZeroSize),
        Ok(TickView::Trade(t, _)) if t.size.raw() > i64::MAX as u64 => {
            Err(Invalid::SizeOutOfRange(t.size.raw()))
        }
        Ok(TickView::Quote(q)) if q.bid_px.is_undef() && q.ask_px.is_undef() => {
            Err(Invalid::EmptyQuote)
        }
        Ok(TickView::Quote(q)) if q.bid_px.raw() == i64::MIN || q.ask_px.raw() == i64::MIN => {
            Err(Invalid::PriceOutOfRange(i64::MIN))
        }
        Ok(_) => Ok(()),
    }
}

/// Whether `tick` is a quote whose bid is above its ask (both defined): a crossed book, kept
/// and marked with [`TickRecord::CROSSED`]. A locked book (bid = ask) is not crossed.
pub fn is_crossed(tick: &TickRecord) -> bool {
    tick.quote()
        .is_some_and(|q| !q.bid_px.is_undef() && !q.ask_px.is_undef() && q.bid_px > q.ask_px)
}

#[cfg(test)]
mod tests {
    use tickd_protocol::{InstrumentId, Price, Quantity, Quote, Side, Trade, UnixNanos};

    use super::*;

    #[test]
    fn rejects_with_reasons() {
        let t = Trade {
            price: Price::from_raw(1),
            size: Quantity::from_raw(1),
            trade_id: 0,
            venue: 0,
            conditions: 0,
        };
        let ok = TickRecord::new_trade(InstrumentId(0), UnixNanos(1), Side::Buy, &t);
        assert_eq!(validate(&ok), Ok(()));
        assert_eq!(
            validate(&TickRecord { ts_event: 0, ..ok }),
            Err(Invalid::MissingTime)
        );
        assert_eq!(
            validate(&TickRecord { kind: 7, ..ok }),
            Err(Invalid::UnknownKind(7))
        );
        assert_eq!(
            validate(&TickRecord { side: 9, ..ok }),
            Err(Invalid::UnknownSide(9))
        );
        let zero = TickRecord::new_trade(
            InstrumentId(0),
            UnixNanos(1),
            Side::Buy,
            &Trade {
                size: Quantity::ZERO,
                ..t
            },
        );
        assert_eq!(validate(&zero), Err(Invalid::ZeroSize));
        let undef = TickRecord::new_trade(
            InstrumentId(0),
            UnixNanos(1),
            Side::Buy,
            &Trade {
                price: Price::UNDEF,
                ..t
            },
        );
        assert_eq!(validate(&undef), Err(Invalid::UndefinedPrice));
        let empty = Quote {
            bid_px: Price::UNDEF,
            bid_sz: Quantity::ZERO,
            ask_px: Price::UNDEF,
            ask_sz: Quantity::ZERO,
        };
        assert_eq!(
            validate(&TickRecord::new_quote(
                InstrumentId(0),
                UnixNanos(1),
                &empty
            )),
            Err(Invalid::EmptyQuote)
        );
        assert_eq!(Invalid::ZeroSize.to_string(), "trade size is zero");
        let min = TickRecord::new_trade(
            InstrumentId(0),
            UnixNanos(1),
            Side::Buy,
            &Trade {
                price: Price::from_raw(i64::MIN),
                ..t
            },
        );
        assert_eq!(validate(&min), Err(Invalid::PriceOutOfRange(i64::MIN)));
        let huge = Trade {
            size: Quantity::from_raw(u64::MAX),
            ..t
        };
        let huge = TickRecord::new_trade(InstrumentId(0), UnixNanos(1), Side::Buy, &huge);
        assert_eq!(validate(&huge), Err(Invalid::SizeOutOfRange(u64::MAX)));
        assert_eq!(
            validate(&TickRecord {
                ts_event: u64::MAX,
                ..ok
            }),
            Err(Invalid::TimeOutOfRange(u64::MAX))
        );
        let close = TickRecord::candle_close(UnixNanos(5));
        assert_eq!(validate(&close), Err(Invalid::ControlKind(16)));
        // Negative prices are real (spreads, some futures): accepted.
        let negative = Trade {
            price: Price::from_raw(-5),
            ..t
        };
        let negative = TickRecord::new_trade(InstrumentId(0), UnixNanos(1), Side::Buy, &negative);
        assert_eq!(validate(&negative), Ok(()));
        let crossed = Quote {
            bid_px: Price::from_raw(11),
            bid_sz: Quantity::from_raw(1),
            ask_px: Price::from_raw(10),
            ask_sz: Quantity::from_raw(1),
        };
        let crossed = TickRecord::new_quote(InstrumentId(0), UnixNanos(1), &crossed);
        assert_eq!(validate(&crossed), Ok(()));
        assert!(is_crossed(&crossed));
        let locked = TickRecord {
            body: [10, 1, 10, 1],
            ..crossed
        };
        assert!(!is_crossed(&locked));
    }
}
