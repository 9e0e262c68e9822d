//! Exact decimal text ↔ fixed-point integers with a given number of implied decimals (nine by
//! default; an instrument's [`Scales`](crate::Scales) choose others).
//!
//! Shared by [`Price`](crate::Price) and [`Quantity`](crate::Quantity). No floats: text is
//! parsed digit by digit into an `i128` accumulator, and a value that needs more fractional
//! digits than its scale or does not fit is an error, never rounded.

use std::fmt;

/// Number of implied decimal digits in every fixed-point value.
pub const DECIMALS: u32 = 9;
/// Raw units per whole unit (10^[`DECIMALS`]).
pub const SCALE: u64 = 1_000_000_000;

/// Why a decimal string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseDecimalError {
    /// The text was empty (or only a sign).
    #[error("empty decimal")]
    Empty,
    /// A character that is not a digit, a leading sign or one decimal point.
    #[error("invalid character {ch:?} at byte {pos} of decimal {text:?}")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its byte offset in the text.
        pos: usize,
        /// The whole text, for the message.
        text: String,
    },
    /// More fractional digits than the scale holds.
    #[error("decimal {text:?} has {digits} fractional digits, at most {max} are allowed")]
    TooManyDecimals {
        /// Fractional digits found.
        digits: usize,
        /// Fractional digits the scale holds.
        max: u32,
        /// The whole text, for the message.
        text: String,
    },
    /// The value does not fit the fixed-point type.
    #[error("decimal {text:?} is out of range")]
    OutOfRange {
        /// The whole text, for the message.
        text: String,
    },
    /// A negative value where only non-negative values are valid.
    #[error("decimal {text:?} is negative")]
    Negative {
        /// The whole text, for the message.
        text: String,
    },
}

/// Parses decimal text into raw units of 1e-9, as an `i128` so the caller can range-check.
pub(crate) fn parse_fixed9(text: &str) -> Result<i128, ParseDecimalError> {
    parse_fixed(text, DECIMALS)
}

/// Parses decimal text into raw units of 10^-`decimals` (at most 18), as an `i128` so the
/// caller can range-check.
///
/// Accepts an optional leading `-` or `+`, decimal digits, and at most one `.` with up to
/// `decimals` digits after it (`"171.23"`, `"-0.5"`, `"100"`, `".25"`, `"7."`). No exponent,
/// no spaces, no thousands separators. At most 30 integer digits are accepted before range
/// checks.
pub(crate) fn parse_fixed(text: &str, decimals: u32) -> Result<i128, ParseDecimalError> {
    debug_assert!(decimals <= 18);
    let bytes = text.as_bytes();
    let (negative, start) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut int_part: i128 = 0;
    let mut frac_part: i128 = 0;
    let mut frac_digits = 0usize;
    let mut int_digits = 0usize;
    let mut seen_point = false;
    for (pos, &b) in bytes.iter().enumerate().skip(start) {
        match b {
            b'0'..=b'9' if seen_point => {
                frac_digits += 1;
                if frac_digits > decimals as usize {
                    return Err(ParseDecimalError::TooManyDecimals {
                        digits: bytes[pos..]
                            .iter()
                            .take_while(|b| b.is_ascii_digit())
                            .count()
                            + decimals as usize,
                        max: decimals,
                        text: text.to_owned(),
                    });
                }
                frac_part = frac_part * 10 + i128::from(b - b'0');
            }
            b'0'..=b'9' => {
                int_digits += 1;
                if int_digits > 30 {
                    return Err(ParseDecimalError::OutOfRange {
                        text: text.to_owned(),
                    });
                }
                int_part = int_part * 10 + i128::from(b - b'0');
            }
            b'.' if !seen_point => seen_point = true,
            _ => {
                let ch = text[pos..].chars().next().unwrap_or('\u{fffd}');
                return Err(ParseDecimalError::InvalidChar {
                    ch,
                    pos,
                    text: text.to_owned(),
                });
            }
        }
    }
    if int_digits + frac_digits == 0 {
        return Err(ParseDecimalError::Empty);
    }
    let scale_rest = 10i128.pow(decimals - frac_digits as u32);
    let raw = int_part * 10i128.pow(decimals) + frac_part * scale_rest;
    Ok(if negative { -raw } else { raw })
}

/// Writes `raw` (units of 1e-9) as exact decimal text.
///
/// With `trim`, trailing fractional zeros are dropped (`171.23`, `100`); without, exactly nine
/// fractional digits are written (`171.230000000`).
pub(crate) fn write_fixed9(
    f: &mut fmt::Formatter<'_>,
    negative: bool,
    abs: u64,
    trim: bool,
) -> fmt::Result {
    write_fixed(f, negative, u128::from(abs), DECIMALS, trim)
}

/// Writes `abs` (units of 10^-`decimals`, at most 38) with its sign as exact decimal text,
/// trimmed of trailing fractional zeros or with exactly `decimals` fractional digits.
pub(crate) fn write_fixed(
    f: &mut fmt::Formatter<'_>,
    negative: bool,
    abs: u128,
    decimals: u32,
    trim: bool,
) -> fmt::Result {
    let unit = 10u128.pow(decimals);
    let int = abs / unit;
    let frac = abs % unit;
    let sign = if negative && abs != 0 { "-" } else { "" };
    if decimals == 0 {
        return write!(f, "{sign}{int}");
    }
    if !trim {
        let digits = decimals as usize;
        return write!(f, "{sign}{int}.{frac:0digits$}");
    }
    if frac == 0 {
        return write!(f, "{sign}{int}");
    }
    let mut digits = decimals as usize;
    let mut frac_trimmed = frac;
    while frac_trimmed.is_multiple_of(10) {
        frac_trimmed /= 10;
        digits -= 1;
    }
    write!(f, "{sign}{int}.{frac_trimmed:0digits$}")
}
