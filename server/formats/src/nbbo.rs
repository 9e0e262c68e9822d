//! Consolidated top of book (NBBO) from per-venue quotes.
//!
//! Keeps the latest bid and ask of each venue (venue codes `A`..=`Z`). The national best bid is
//! the highest venue bid price; its size is the sum of the sizes of every venue at that price
//! (likewise the lowest ask). A venue quoting price 0 or size 0 on a side has withdrawn that
//! side. [`Nbbo::update`] returns the new NBBO only when it changed (price or size, either
//! side), so replaying per-venue updates emits one quote tick per NBBO change.

use tickd_protocol::{Price, Quantity, Quote};

const VENUES: usize = 26;

/// One side of a venue's quote: raw price (1e-9) and raw size (1e-9); price 0 = absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Level {
    px: i64,
    sz: u64,
}

/// Which side a per-venue update is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookSide {
    /// The bid.
    Bid,
    /// The ask.
    Ask,
}

/// Per-venue quotes of one instrument and their NBBO.
#[derive(Clone, Debug)]
pub struct Nbbo {
    bids: [Level; VENUES],
    asks: [Level; VENUES],
    last: Option<Quote>,
}

impl Default for Nbbo {
    fn default() -> Self {
        Self {
            bids: [Level::default(); VENUES],
            asks: [Level::default(); VENUES],
            last: None,
        }
    }
}

/// The venue index of a venue code, if it is `A`..=`Z`.
pub fn venue_index(code: u8) -> Option<usize> {
    code.is_ascii_uppercase().then(|| usize::from(code - b'A'))
}

fn best(levels: &[Level; VENUES], higher_is_better: bool) -> (Price, Quantity) {
    let mut px: Option<i64> = None;
    let mut sz = 0u64;
    for l in levels.iter().filter(|l| l.px > 0 && l.sz > 0) {
        match px {
            Some(p) if p == l.px => sz = sz.saturating_add(l.sz),
            Some(p) if (l.px > p) != higher_is_better => {}
            _ => {
                px = Some(l.px);
                sz = l.sz;
            }
        }
    }
    match px {
        Some(p) => (Price::from_raw(p), Quantity::from_raw(sz)),
        None => (Price::UNDEF, Quantity::ZERO),
    }
}

impl Nbbo {
    /// Applies one venue's update of one side. Returns the NBBO if it changed.
    ///
    /// `venue` is an index from [`venue_index`] (`< 26`).
    ///
    /// # Panics
    ///
    /// If `venue >= 26` (callers map codes with [`venue_index`]).
    pub fn update(
        &mut self,
        venue: usize,
        side: BookSide,
        px: Price,
        sz: Quantity,
    ) -> Option<Quote> {
        let level = Level {
            px: px.raw(),
            sz: sz.raw(),
        };
        match side {
            BookSide::Bid => self.bids[venue] = level,
            BookSide::Ask => self.asks[venue] = level,
        }
        let (bid_px, bid_sz) = best(&self.bids, true);
        let (ask_px, ask_sz) = best(&self.asks, false);
        let quote = Quote {
            bid_px,
            bid_sz,
            ask_px,
            ask_sz,
        };
        if self.last == Some(quote) {
            return None;
        }
        self.last = Some(quote);
        Some(quote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(raw: &str) -> Price {
        raw.parse().unwrap()
    }
    fn q(raw: &str) -> Quantity {
        raw.parse().unwrap()
    }

    #[test]
    fn best_prices_across_venues_with_summed_size() {
        let mut b = Nbbo::default();
        let n = venue_index(b'N').unwrap();
        let p_ = venue_index(b'P').unwrap();
        let z = venue_index(b'Z').unwrap();
        let q1 = b.update(n, BookSide::Bid, p("13.80"), q("1000")).unwrap();
        assert_eq!((q1.bid_px, q1.bid_sz), (p("13.80"), q("1000")));
        assert!(q1.ask_px.is_undef());
        let q2 = b.update(p_, BookSide::Bid, p("13.80"), q("500")).unwrap();
        assert_eq!(q2.bid_sz, q("1500"), "sizes at the best price add up");
        assert!(
            b.update(z, BookSide::Bid, p("13.79"), q("100")).is_none(),
            "below the best: no change"
        );
        let q3 = b.update(z, BookSide::Ask, p("13.82"), q("300")).unwrap();
        assert_eq!((q3.ask_px, q3.ask_sz), (p("13.82"), q("300")));
        let q4 = b.update(n, BookSide::Ask, p("13.81"), q("200")).unwrap();
        assert_eq!(q4.ask_px, p("13.81"), "lowest ask wins");
        let q5 = b
            .update(n, BookSide::Bid, Price::ZERO, Quantity::ZERO)
            .unwrap();
        assert_eq!(
            (q5.bid_px, q5.bid_sz),
            (p("13.80"), q("500")),
            "N withdrew its bid"
        );
        assert!(
            b.update(n, BookSide::Bid, Price::ZERO, Quantity::ZERO)
                .is_none()
        );
        assert_eq!(venue_index(b'a'), None);
    }
}
