//! Per-instrument decimal scales (DESIGN.md §2): a raw price `v` means `v × 10^-price` of the
//! quote currency, a raw size `v` means `v × 10^-size` units. Records stay 64-bit integers; the
//! scales live with the instrument (symbol directory, journal, protocol instrument tables), so
//! every reader can interpret a record.
//!
//! The default, [`Scales::DEFAULT`] (9 and 9), is tickd's original fixed 1e-9 unit. An
//! instrument whose sizes run past `u64::MAX` × 1e-9 (18.4 billion; PEPE trades routinely
//! exceed it) takes a smaller size scale, such as 0 for whole tokens; one priced in a
//! small-unit currency beyond 9.2 billion takes a smaller price scale.
//!
//! ```
//! use tickd_protocol::Scales;
//! let pepe = Scales::new(8, 0)?; // prices to 1e-8, sizes in whole tokens
//! let size = pepe.parse_size("25000000000")?;
//! assert_eq!(size.raw(), 25_000_000_000);
//! assert_eq!(pepe.size(size).to_string(), "25000000000");
//! let price = pepe.parse_price("0.00001234")?;
//! assert_eq!((price.raw(), pepe.price(price).to_string()), (1234, "0.00001234".to_owned()));
//! assert!(pepe.parse_price("0.000012345").is_err(), "more decimals than the scale: refused");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::decimal::{ParseDecimalError, parse_fixed, write_fixed};
use crate::types::{Price, Quantity};

/// An instrument's price and size scales: decimal exponents, each `0..=`[`Scales::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scales {
    price: u8,
    size: u8,
}

/// A scale outside `0..=`[`Scales::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("scales {price}:{size}: each must be 0 to 18 decimal places")]
pub struct ScalesError {
    /// The price scale given.
    pub price: u32,
    /// The size scale given.
    pub size: u32,
}

impl Default for Scales {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Scales {
    /// Nine and nine: raw units of 1e-9 for both (tickd's original meaning).
    pub const DEFAULT: Self = Self { price: 9, size: 9 };
    /// The most decimal places a scale may have (10^18 fits an `i64`).
    pub const MAX: u8 = 18;

    /// Scales of `price` and `size` decimal places.
    ///
    /// # Errors
    ///
    /// [`ScalesError`] if either is above [`Scales::MAX`].
    pub const fn new(price: u32, size: u32) -> Result<Self, ScalesError> {
        if price > Self::MAX as u32 || size > Self::MAX as u32 {
            return Err(ScalesError { price, size });
        }
        Ok(Self {
            price: price as u8,
            size: size as u8,
        })
    }

    /// Decimal places of prices.
    pub const fn price_scale(self) -> u8 {
        self.price
    }

    /// Decimal places of sizes.
    pub const fn size_scale(self) -> u8 {
        self.size
    }

    /// Decimal places of a notional (price × size).
    pub const fn notional_scale(self) -> u8 {
        self.price + self.size
    }

    /// Parses `text` as a price of this scale, exactly.
    ///
    /// # Errors
    ///
    /// [`ParseDecimalError`]: malformed, more fractional digits than the price scale, or out of
    /// the `i64` range (`i64::MAX` is [`Price::UNDEF`], also refused).
    pub fn parse_price(self, text: &str) -> Result<Price, ParseDecimalError> {
        let raw = parse_fixed(text, u32::from(self.price))?;
        match i64::try_from(raw) {
            Ok(v) if v != i64::MAX => Ok(Price::from_raw(v)),
            _ => Err(ParseDecimalError::OutOfRange {
                text: text.to_owned(),
            }),
        }
    }

    /// Parses `text` as a size of this scale, exactly.
    ///
    /// # Errors
    ///
    /// [`ParseDecimalError`]: malformed, negative, more fractional digits than the size scale,
    /// or out of the `u64` range.
    pub fn parse_size(self, text: &str) -> Result<Quantity, ParseDecimalError> {
        let raw = parse_fixed(text, u32::from(self.size))?;
        if raw < 0 {
            return Err(ParseDecimalError::Negative {
                text: text.to_owned(),
            });
        }
        u64::try_from(raw)
            .map(Quantity::from_raw)
            .map_err(|_| ParseDecimalError::OutOfRange {
                text: text.to_owned(),
            })
    }

    /// `price` as exact decimal text with exactly the scale's fractional digits (`{:#}` trims
    /// trailing zeros), as [`Price`]'s own `Display` does at 9.
    pub const fn price(self, price: Price) -> Scaled {
        Scaled::of(price.raw() as i128, self.price)
    }

    /// `size` as exact decimal text of this scale.
    pub const fn size(self, size: Quantity) -> Scaled {
        Scaled::unsigned(size.raw() as u128, self.size)
    }

    /// A volume (a sum of sizes, wider than one size) as exact decimal text of the size scale.
    pub const fn volume(self, volume: u128) -> Scaled {
        Scaled::unsigned(volume, self.size)
    }

    /// A notional (sum of raw price × raw size) as exact decimal text of the notional scale.
    pub const fn notional(self, notional: i128) -> Scaled {
        Scaled::of(notional, self.price + self.size)
    }

    /// The smallest price step the scale can express (`0.00000001` at scale 8).
    pub const fn price_increment(self) -> Scaled {
        Scaled::unsigned(1, self.price)
    }

    /// The smallest size step the scale can express.
    pub const fn size_increment(self) -> Scaled {
        Scaled::unsigned(1, self.size)
    }

    /// The scale whose increment is `step` (a venue's tick or lot size, `"0.00000100"` → 6):
    /// the places after the point up to its last non-zero digit; 0 for a whole step.
    ///
    /// # Errors
    ///
    /// [`ParseDecimalError`] if `step` is malformed or needs more than [`Scales::MAX`] places.
    pub fn places_of(step: &str) -> Result<u8, ParseDecimalError> {
        parse_fixed(step, u32::from(Self::MAX))?;
        let frac = step.split_once('.').map_or("", |(_, f)| f);
        Ok(frac.trim_end_matches('0').len() as u8)
    }
}

/// Scales configured per symbol; every other symbol has [`Scales::DEFAULT`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScaleMap(std::collections::HashMap<crate::Symbol, Scales>);

impl ScaleMap {
    /// A map of the given symbols' scales.
    pub fn new(entries: impl IntoIterator<Item = (crate::Symbol, Scales)>) -> Self {
        Self(entries.into_iter().collect())
    }

    /// The scales of `symbol`. Without configured scales (the usual case) no hashing: parsers
    /// call this per line.
    pub fn get(&self, symbol: &crate::Symbol) -> Scales {
        if self.0.is_empty() {
            return Scales::DEFAULT;
        }
        self.0.get(symbol).copied().unwrap_or_default()
    }
}

/// `PRICE:SIZE`, as configuration gives it (`8:0`).
impl FromStr for Scales {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (p, q) = s
            .split_once(':')
            .ok_or_else(|| format!("scales {s:?}: expected PRICE:SIZE decimal places"))?;
        let p: u32 = p
            .parse()
            .map_err(|_| format!("scales {s:?}: price scale {p:?} is not a number"))?;
        let q: u32 = q
            .parse()
            .map_err(|_| format!("scales {s:?}: size scale {q:?} is not a number"))?;
        Self::new(p, q).map_err(|e| e.to_string())
    }
}

impl fmt::Display for Scales {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.price, self.size)
    }
}

/// A raw value and its decimal places, displayed as exact decimal text with exactly `decimals`
/// fractional digits; `{:#}` trims trailing fractional zeros (and the point).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scaled {
    negative: bool,
    abs: u128,
    decimals: u8,
}

impl Scaled {
    /// `raw` units of 10^-`decimals` (at most 38).
    pub const fn of(raw: i128, decimals: u8) -> Self {
        Self {
            negative: raw < 0,
            abs: raw.unsigned_abs(),
            decimals,
        }
    }

    /// Non-negative `raw` units of 10^-`decimals` (at most 38).
    pub const fn unsigned(raw: u128, decimals: u8) -> Self {
        Self {
            negative: false,
            abs: raw,
            decimals,
        }
    }
}

impl fmt::Display for Scaled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(
            f,
            self.negative,
            self.abs,
            u32::from(self.decimals),
            f.alternate(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_magnitudes_fit_their_scales() {
        // PEPE: 25 billion tokens at 0.00001234 USDT; the notional is exact at 8 + 0 places.
        let pepe = Scales::new(8, 0).unwrap();
        let size = pepe.parse_size("25000000000").unwrap();
        let price = pepe.parse_price("0.00001234").unwrap();
        let notional = i128::from(price.raw()) * i128::from(size.raw());
        assert_eq!(format!("{:#}", pepe.notional(notional)), "308500");
        assert_eq!(pepe.notional(notional).to_string(), "308500.00000000");
        // A trillion units still fits at scale 0.
        assert_eq!(
            pepe.parse_size("1000000000000").unwrap().raw(),
            1_000_000_000_000
        );
        // BTC priced in a small-unit currency (1e12 per coin) at 2 places.
        let btc_idr = Scales::new(2, 8).unwrap();
        let p = btc_idr.parse_price("1000000000000.25").unwrap();
        assert_eq!(p.raw(), 100_000_000_000_025);
        assert_eq!(btc_idr.price(p).to_string(), "1000000000000.25");
        assert_eq!(format!("{:#}", btc_idr.price(p)), "1000000000000.25");
        assert_eq!(btc_idr.size_increment().to_string(), "0.00000001");
        // The default is today's meaning.
        let d = Scales::DEFAULT;
        assert_eq!(d.parse_price("171.23").unwrap(), "171.23".parse().unwrap());
        assert_eq!(
            d.price(Price::from_raw(1_500_000_000)).to_string(),
            "1.500000000"
        );
        assert_eq!(
            format!("{:#}", d.price(Price::from_raw(1_500_000_000))),
            "1.5"
        );
        assert_eq!(d.price(Price::from_raw(-5)).to_string(), "-0.000000005");
    }

    #[test]
    fn what_does_not_fit_is_refused_never_rounded() {
        let pepe = Scales::new(8, 0).unwrap();
        assert_eq!(
            pepe.parse_size("1.5").unwrap_err().to_string(),
            "decimal \"1.5\" has 1 fractional digits, at most 0 are allowed"
        );
        assert_eq!(
            Scales::DEFAULT
                .parse_size("25000000000")
                .unwrap_err()
                .to_string(),
            "decimal \"25000000000\" is out of range"
        );
        assert!(pepe.parse_size("-1").is_err());
        assert!(Scales::new(19, 0).is_err());
        assert_eq!("8:0".parse::<Scales>().unwrap(), pepe);
        assert_eq!(pepe.to_string(), "8:0");
        assert!("8".parse::<Scales>().is_err());
        assert_eq!(Scales::places_of("0.00000100").unwrap(), 6);
        assert_eq!(Scales::places_of("1.00000000").unwrap(), 0);
        assert_eq!(Scales::places_of("0.01").unwrap(), 2);
    }
}
