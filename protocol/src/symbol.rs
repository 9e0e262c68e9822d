//! [`Symbol`]: a validated instrument name stored inline (no allocation).

use std::fmt;
use std::str::FromStr;

/// An instrument's symbol: 1 to [`Symbol::MAX_LEN`] bytes of `[A-Za-z0-9._:/-]`.
///
/// Stored inline in 33 bytes, `Copy`, so it can live in records and hash maps without
/// allocating.
///
/// ```
/// use tickd_protocol::Symbol;
/// let s: Symbol = "BRK.B".parse()?;
/// assert_eq!(s.as_str(), "BRK.B");
/// assert!("BAD SYMBOL".parse::<Symbol>().is_err());
/// # Ok::<(), tickd_protocol::SymbolError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol {
    len: u8,
    bytes: [u8; Self::MAX_LEN],
}

/// Why text is not a valid [`Symbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SymbolError {
    /// The symbol was empty.
    #[error("empty symbol")]
    Empty,
    /// Longer than [`Symbol::MAX_LEN`] bytes.
    #[error("symbol is {len} bytes long, at most 32 are allowed")]
    TooLong {
        /// Length found, in bytes.
        len: usize,
    },
    /// A character outside `[A-Za-z0-9._:/-]`.
    #[error("invalid character {ch:?} at byte {pos} of symbol (allowed: A-Z a-z 0-9 . _ : / -)")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its byte offset.
        pos: usize,
    },
}

impl Symbol {
    /// Longest symbol, in bytes.
    pub const MAX_LEN: usize = 32;

    /// Validates `text` as a symbol.
    ///
    /// # Errors
    ///
    /// [`SymbolError`] if `text` is empty, longer than 32 bytes, or has a character outside
    /// `[A-Za-z0-9._:/-]`.
    pub fn new(text: &str) -> Result<Self, SymbolError> {
        Self::from_bytes(text.as_bytes())
    }

    /// Validates raw bytes as a symbol (see [`Symbol::new`]).
    ///
    /// # Errors
    ///
    /// As [`Symbol::new`]; a non-ASCII byte is reported as an invalid character.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, SymbolError> {
        if raw.is_empty() {
            return Err(SymbolError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(SymbolError::TooLong { len: raw.len() });
        }
        if let Some(pos) = raw.iter().position(|&b| !is_symbol_byte(b)) {
            let ch = std::str::from_utf8(&raw[pos..])
                .ok()
                .and_then(|s| s.chars().next())
                .unwrap_or(char::from(raw[pos]));
            return Err(SymbolError::InvalidChar { ch, pos });
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        // `raw.len() <= 32` was checked above, so the cast is lossless.
        Ok(Self {
            len: raw.len() as u8,
            bytes,
        })
    }

    /// The symbol text.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `from_bytes`), so this cannot fail.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The symbol bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

const fn is_symbol_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'-')
}

impl FromStr for Symbol {
    type Err = SymbolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::new(text)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({:?})", self.as_str())
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_charset() {
        for ok in [
            "AAPL",
            "BRK.B",
            "ES:Z5",
            "BTC/USD",
            "a_b-c",
            "X",
            &"A".repeat(32),
        ] {
            assert_eq!(Symbol::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_with_position() {
        assert_eq!(Symbol::new(""), Err(SymbolError::Empty));
        assert_eq!(
            Symbol::new(&"A".repeat(33)),
            Err(SymbolError::TooLong { len: 33 })
        );
        assert_eq!(
            Symbol::new("AB CD"),
            Err(SymbolError::InvalidChar { ch: ' ', pos: 2 })
        );
        assert_eq!(
            Symbol::new("Aé"),
            Err(SymbolError::InvalidChar { ch: 'é', pos: 1 })
        );
        assert_eq!(
            Symbol::from_bytes(b"A\xff"),
            Err(SymbolError::InvalidChar {
                ch: '\u{ff}',
                pos: 1
            })
        );
    }
}
