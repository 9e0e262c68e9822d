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
    match tick.view() {
        Err(tickd_protocol::RecordError::UnknownSide(s)) => Err(Invalid::UnknownSide(s)),
        Err(_) => Err(Invalid::UnknownKind(tick.kind)),
        Ok(TickView::Trade(t, _)) if t.price.is_undef() => Err(Invalid::UndefinedPrice),
        Ok(TickView::Trade(t, _)) if t.size.raw() == 0 => Err(Invalid::ZeroSize),
        Ok(TickView::Quote(q)) if q.bid_px.is_undef() && q.ask_px.is_undef() => {
            Err(Invalid::EmptyQuote)
        }
        Ok(_) => Ok(()),
    }
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
    }
}
