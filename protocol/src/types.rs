//! Exact domain types: fixed-point [`Price`] and [`Quantity`], [`UnixNanos`] time, and the
//! identifiers [`InstrumentId`], [`Seq`] and [`Epoch`].
//!
//! Units (DESIGN.md §2): prices and quantities are fixed point with 1 raw unit = 1e-9; times are
//! nanoseconds since the Unix epoch, UTC. No floats anywhere on the data path.

use std::fmt;
use std::str::FromStr;

use crate::decimal::{ParseDecimalError, SCALE, parse_fixed9, write_fixed9};

/// A price as a signed fixed-point integer with nine implied decimals.
///
/// One raw unit is 1e-9 of the quote currency: `Price::from_raw(1_500_000_000)` is 1.5.
/// [`Price::UNDEF`] marks "no price" on the wire and never takes part in arithmetic.
///
/// `Display` writes exactly nine decimals (`1.500000000`); the alternate form `{:#}` trims
/// trailing zeros (`1.5`). Both are exact.
///
/// ```
/// use tickd_protocol::Price;
/// let p: Price = "171.23".parse()?;
/// assert_eq!(p.raw(), 171_230_000_000);
/// assert_eq!(format!("{p:#}"), "171.23");
/// # Ok::<(), tickd_protocol::ParseDecimalError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Price(i64);

impl Price {
    /// Raw units per whole currency unit.
    pub const SCALE: i64 = SCALE as i64;
    /// Sentinel for an absent price (`i64::MAX`), as it appears on the wire.
    pub const UNDEF: Self = Self(i64::MAX);
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// Wraps a raw value in units of 1e-9.
    pub const fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    /// The raw value in units of 1e-9.
    pub const fn raw(self) -> i64 {
        self.0
    }

    /// Whether this is [`Price::UNDEF`].
    pub const fn is_undef(self) -> bool {
        self.0 == Self::UNDEF.0
    }

    /// `value` × 10^-`decimals` as a price (`from_scaled(1712300, 4)` is 171.23); `None` if
    /// `decimals > 9` or the result does not fit.
    pub const fn from_scaled(value: i64, decimals: u32) -> Option<Self> {
        if decimals > 9 {
            return None;
        }
        match value.checked_mul(10i64.pow(9 - decimals)) {
            Some(raw) if raw != Self::UNDEF.0 => Some(Self(raw)),
            _ => None,
        }
    }

    /// Sum of two prices; `None` on overflow or if either side is [`Price::UNDEF`].
    pub const fn checked_add(self, rhs: Self) -> Option<Self> {
        if self.is_undef() || rhs.is_undef() {
            return None;
        }
        match self.0.checked_add(rhs.0) {
            Some(raw) if raw != Self::UNDEF.0 => Some(Self(raw)),
            _ => None,
        }
    }

    /// Difference of two prices; `None` on overflow or if either side is [`Price::UNDEF`].
    pub const fn checked_sub(self, rhs: Self) -> Option<Self> {
        if self.is_undef() || rhs.is_undef() {
            return None;
        }
        match self.0.checked_sub(rhs.0) {
            Some(raw) if raw != Self::UNDEF.0 => Some(Self(raw)),
            _ => None,
        }
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_undef() {
            return f.write_str("UNDEF");
        }
        write_fixed9(f, self.0 < 0, self.0.unsigned_abs(), f.alternate())
    }
}

impl FromStr for Price {
    type Err = ParseDecimalError;

    /// Parses exact decimal text (`"171.23"`, `"-0.000000001"`); see [`ParseDecimalError`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let raw = parse_fixed9(text)?;
        match i64::try_from(raw) {
            Ok(raw) if raw != Self::UNDEF.0 => Ok(Self(raw)),
            _ => Err(ParseDecimalError::OutOfRange {
                text: text.to_owned(),
            }),
        }
    }
}

/// A non-negative quantity (size, volume) as fixed point with nine implied decimals.
///
/// One raw unit is 1e-9 of a share, contract or coin: `Quantity::from_raw(100 * 1_000_000_000)`
/// is 100. `Display` and `FromStr` behave as for [`Price`] (`{:#}` trims zeros).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Quantity(u64);

impl Quantity {
    /// Raw units per whole unit.
    pub const SCALE: u64 = SCALE;
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// Wraps a raw value in units of 1e-9.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw value in units of 1e-9.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// `value` whole units (`from_units(100)` is 100 shares); `None` if it does not fit.
    pub const fn from_units(value: u64) -> Option<Self> {
        match value.checked_mul(SCALE) {
            Some(raw) => Some(Self(raw)),
            None => None,
        }
    }

    /// Sum of two quantities; `None` on overflow.
    pub const fn checked_add(self, rhs: Self) -> Option<Self> {
        match self.0.checked_add(rhs.0) {
            Some(raw) => Some(Self(raw)),
            None => None,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed9(f, false, self.0, f.alternate())
    }
}

impl FromStr for Quantity {
    type Err = ParseDecimalError;

    /// Parses exact non-negative decimal text (`"100"`, `"0.5"`); see [`ParseDecimalError`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let raw = parse_fixed9(text)?;
        if raw < 0 {
            return Err(ParseDecimalError::Negative {
                text: text.to_owned(),
            });
        }
        u64::try_from(raw)
            .map(Self)
            .map_err(|_| ParseDecimalError::OutOfRange {
                text: text.to_owned(),
            })
    }
}

/// A point in time: nanoseconds since the Unix epoch, UTC.
///
/// Covers 1970 to 2554. `Display` writes the integer nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct UnixNanos(pub u64);

impl UnixNanos {
    /// Nanoseconds per second.
    pub const NANOS_PER_SEC: u64 = 1_000_000_000;
    /// Nanoseconds per millisecond.
    pub const NANOS_PER_MILLI: u64 = 1_000_000;

    /// `self + d`, saturating at `u64::MAX` ns (the year 2554) rather than wrapping.
    pub const fn saturating_add(self, d: core::time::Duration) -> Self {
        let ns = d.as_nanos();
        let ns = if ns > u64::MAX as u128 {
            u64::MAX
        } else {
            ns as u64
        };
        Self(self.0.saturating_add(ns))
    }

    /// Whole milliseconds since the epoch (truncated), as JSON dialects expect.
    pub const fn as_millis(self) -> u64 {
        self.0 / Self::NANOS_PER_MILLI
    }

    /// Whole seconds since the epoch (truncated).
    pub const fn as_secs(self) -> u64 {
        self.0 / Self::NANOS_PER_SEC
    }

    /// From whole seconds; `None` past the year 2554.
    pub const fn from_secs(secs: u64) -> Option<Self> {
        match secs.checked_mul(Self::NANOS_PER_SEC) {
            Some(ns) => Some(Self(ns)),
            None => None,
        }
    }

    /// From whole milliseconds; `None` past the year 2554.
    pub const fn from_millis(millis: u64) -> Option<Self> {
        match millis.checked_mul(Self::NANOS_PER_MILLI) {
            Some(ns) => Some(Self(ns)),
            None => None,
        }
    }
}

impl fmt::Display for UnixNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Dense id tickd assigns to an instrument (symbol); stable across restarts of one data
/// directory. Range 0..2^32-1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct InstrumentId(pub u32);

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Position of a record in its tick ring: dense, starting at 1, never reused within an
/// [`Epoch`]. 0 means "none yet".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Seq(pub u64);

impl Seq {
    /// The first seq of every epoch.
    pub const FIRST: Self = Self(1);

    /// The following seq.
    ///
    /// # Panics
    ///
    /// Never in practice: `u64` seqs last 584 years at 10^9 records per second; overflow
    /// panics in debug builds only.
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Identity of a ring's history. Changes only when that history is lost (a new data
/// directory); `(epoch, seq)` names one record everywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Epoch(pub u64);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What a tick record holds. The discriminant is the record's `kind` byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TickKind {
    /// A trade print.
    Trade = 1,
    /// A top-of-book (BBO) quote.
    Quote = 2,
}

impl TickKind {
    /// The kind for a record's `kind` byte, if it is one.
    pub const fn from_u8(raw: u8) -> Option<Self> {
        match raw {
            1 => Some(Self::Trade),
            2 => Some(Self::Quote),
            _ => None,
        }
    }

    /// Lowercase name: `trade` or `quote`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Trade => "trade",
            Self::Quote => "quote",
        }
    }
}

/// Aggressor side of a trade. The discriminant is the record's `side` byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Side {
    /// Not known or not applicable.
    #[default]
    None = 0,
    /// The buyer was the aggressor.
    Buy = 1,
    /// The seller was the aggressor.
    Sell = 2,
}

impl Side {
    /// The side for a record's `side` byte, if it is one.
    pub const fn from_u8(raw: u8) -> Option<Self> {
        match raw {
            0 => Some(Self::None),
            1 => Some(Self::Buy),
            2 => Some(Self::Sell),
            _ => None,
        }
    }

    /// Lowercase name: `buy`, `sell`, or the empty string for [`Side::None`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_parses_exactly() {
        assert_eq!("171.2300".parse::<Price>().unwrap().raw(), 171_230_000_000);
        assert_eq!("-0.000000001".parse::<Price>().unwrap().raw(), -1);
        assert_eq!(".25".parse::<Price>().unwrap().raw(), 250_000_000);
        assert_eq!("7.".parse::<Price>().unwrap().raw(), 7_000_000_000);
        assert_eq!("+3".parse::<Price>().unwrap().raw(), 3_000_000_000);
        assert_eq!("-0".parse::<Price>().unwrap().raw(), 0);
    }

    #[test]
    fn price_rejects_bad_text() {
        assert_eq!("".parse::<Price>(), Err(ParseDecimalError::Empty));
        assert_eq!("-".parse::<Price>(), Err(ParseDecimalError::Empty));
        assert!(matches!(
            "1.0000000001".parse::<Price>(),
            Err(ParseDecimalError::TooManyDecimals { digits: 10, .. })
        ));
        assert!(matches!(
            "1e5".parse::<Price>(),
            Err(ParseDecimalError::InvalidChar {
                ch: 'e',
                pos: 1,
                ..
            })
        ));
        assert!(matches!(
            "1.2.3".parse::<Price>(),
            Err(ParseDecimalError::InvalidChar { pos: 3, .. })
        ));
        assert!(matches!(
            " 1".parse::<Price>(),
            Err(ParseDecimalError::InvalidChar { pos: 0, .. })
        ));
        // i64::MAX raw is UNDEF, so the largest price is one unit below it.
        assert!(matches!(
            "9223372036.854775807".parse::<Price>(),
            Err(ParseDecimalError::OutOfRange { .. })
        ));
        assert_eq!(
            "9223372036.854775806".parse::<Price>().unwrap().raw(),
            i64::MAX - 1
        );
        assert_eq!(
            "-9223372036.854775808".parse::<Price>().unwrap().raw(),
            i64::MIN
        );
        assert!(matches!(
            "-9223372036.854775809".parse::<Price>(),
            Err(ParseDecimalError::OutOfRange { .. })
        ));
    }

    #[test]
    fn price_formats_exactly() {
        let p = Price::from_raw(1_500_000_000);
        assert_eq!(p.to_string(), "1.500000000");
        assert_eq!(format!("{p:#}"), "1.5");
        assert_eq!(Price::from_raw(-1).to_string(), "-0.000000001");
        assert_eq!(format!("{:#}", Price::from_raw(-100_000_000_000)), "-100");
        assert_eq!(Price::UNDEF.to_string(), "UNDEF");
        assert_eq!(
            format!("{:#}", Price::from_raw(i64::MIN)),
            "-9223372036.854775808"
        );
    }

    #[test]
    fn price_arithmetic_never_yields_undef() {
        assert_eq!(
            Price::from_raw(i64::MAX - 1).checked_add(Price::from_raw(1)),
            None
        );
        assert_eq!(Price::UNDEF.checked_add(Price::ZERO), None);
        assert_eq!(
            Price::from_raw(5).checked_sub(Price::from_raw(7)),
            Some(Price::from_raw(-2))
        );
        assert_eq!(
            Price::from_scaled(1_712_300, 4),
            Some(Price::from_raw(171_230_000_000))
        );
        assert_eq!(Price::from_scaled(1, 10), None);
        assert_eq!(Price::from_scaled(i64::MAX / 10, 0), None);
    }

    #[test]
    fn quantity_parses_and_formats() {
        assert_eq!(
            "100".parse::<Quantity>().unwrap(),
            Quantity::from_units(100).unwrap()
        );
        assert!(matches!(
            "-1".parse::<Quantity>(),
            Err(ParseDecimalError::Negative { .. })
        ));
        assert_eq!(
            "18446744073.709551615".parse::<Quantity>().unwrap().raw(),
            u64::MAX
        );
        assert!(matches!(
            "18446744073.709551616".parse::<Quantity>(),
            Err(ParseDecimalError::OutOfRange { .. })
        ));
        assert_eq!(format!("{:#}", Quantity::from_raw(300_000_000_000)), "300");
        assert_eq!(Quantity::from_raw(1).to_string(), "0.000000001");
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = "12x".parse::<Price>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid character 'x' at byte 2 of decimal \"12x\""
        );
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Every price but UNDEF survives format → parse, in both renderings.
        #[test]
        fn prop_price_round_trips(raw in any::<i64>().prop_filter("not UNDEF", |r| *r != i64::MAX)) {
            let p = Price::from_raw(raw);
            prop_assert_eq!(p.to_string().parse::<Price>().unwrap(), p);
            prop_assert_eq!(format!("{p:#}").parse::<Price>().unwrap(), p);
        }

        /// Every quantity survives format → parse, in both renderings.
        #[test]
        fn prop_quantity_round_trips(raw in any::<u64>()) {
            let q = Quantity::from_raw(raw);
            prop_assert_eq!(q.to_string().parse::<Quantity>().unwrap(), q);
            prop_assert_eq!(format!("{q:#}").parse::<Quantity>().unwrap(), q);
        }

        /// Text built from integer and fraction digits parses to exactly int*1e9 + frac*10^(9-n).
        #[test]
        fn prop_parse_is_exact(int in 0u64..9_000_000_000, frac in "[0-9]{0,9}") {
            let text = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let want = i64::try_from(int).unwrap() * Price::SCALE
                + if frac.is_empty() { 0 } else {
                    frac.parse::<i64>().unwrap() * 10i64.pow(9 - frac.len() as u32)
                };
            prop_assert_eq!(text.parse::<Price>().unwrap().raw(), want);
        }

        /// Parsing never panics on arbitrary text.
        #[test]
        fn prop_parse_never_panics(text in ".{0,40}") {
            let _ = text.parse::<Price>();
            let _ = text.parse::<Quantity>();
        }
    }
}
