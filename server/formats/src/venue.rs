//! Public crypto venue messages, parsed into tickd ticks (sans-IO: text in, ticks out). One
//! file per venue: [`binance`] (spot, USD-M and COIN-M futures), [`coinbase`] (Exchange feed),
//! [`okx`] (v5 public), [`kraken`] (WebSocket API v1). [`stream`] adds trade-id continuity
//! (duplicates dropped, holes declared); [`capture`] reads recorded frames.
//!
//! Normalisation rules, the same for every venue:
//!
//! - **Symbols** are venue-qualified: `<PREFIX>:<venue symbol, upper case>` with the prefixes
//!   of [`Venue::prefix`] (`BINANCE:BTCUSDT`, `COINBASE:BTC-USD`, `KRAKEN:XBT/USD`), so one
//!   server carries the same pair from two venues.
//! - **Prices and sizes** are parsed from the venue's decimal text into 1e-9 units, never
//!   through a float (Kraken's and OKX's too: both send strings).
//! - **Side** is always the **taker's** (the aggressor). Binance gives "buyer is maker" (`m`):
//!   `true` means the seller took. Coinbase's `side` is the **maker's** order side: inverted.
//!   OKX's and Kraken's `side` are the taker's.
//! - **`ts_event`** is the venue's trade or event time; `ts_recv` is the receive time the caller
//!   gives. Where the venue sends no time (Binance spot `bookTicker`, Kraken `ticker`),
//!   `ts_event` is the receive time and the record carries [`NO_EVENT_TIME`].
//! - **Trade ids** are kept in `trade_id` (Binance `t`, or `a` for `aggTrade`; Coinbase
//!   `trade_id`; OKX `tradeId`); Kraken v1 has none (0).
//! - `Trade::venue` is [`Venue::code`].

pub mod binance;
pub mod capture;
pub mod coinbase;
pub mod instruments;
pub mod kraken;
pub mod okx;
pub mod refill;
pub mod stream;
pub mod subscribe;

use std::fmt;
use std::str::FromStr;

use tickd_protocol::{Price, Quantity, Scales, Symbol, TickRecord, UnixNanos};

/// `flags` bit of a tick whose venue sent no event time: `ts_event` is the receive time
/// ([`TickRecord::NO_EVENT_TIME`]).
pub const NO_EVENT_TIME: u16 = TickRecord::NO_EVENT_TIME;

/// A venue tickd reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Venue {
    /// Binance spot (`stream.binance.com`).
    Binance,
    /// Binance USD-M futures (`fstream.binance.com`).
    BinanceFutures,
    /// Binance COIN-M futures (`dstream.binance.com`).
    BinanceDelivery,
    /// Coinbase Exchange (`ws-feed.exchange.coinbase.com`).
    Coinbase,
    /// OKX v5 public (`ws.okx.com:8443/ws/v5/public`).
    Okx,
    /// Kraken WebSocket API v1 (`ws.kraken.com`).
    Kraken,
}

impl Venue {
    /// Every venue.
    pub const ALL: [Self; 6] = [
        Self::Binance,
        Self::BinanceFutures,
        Self::BinanceDelivery,
        Self::Coinbase,
        Self::Okx,
        Self::Kraken,
    ];

    /// The prefix of its symbols in tickd's directory.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Binance => "BINANCE",
            Self::BinanceFutures => "BINANCEF",
            Self::BinanceDelivery => "BINANCED",
            Self::Coinbase => "COINBASE",
            Self::Okx => "OKX",
            Self::Kraken => "KRAKEN",
        }
    }

    /// Its name in options (`--feed binance:btcusdt`) and capture file names.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Binance => "binance",
            Self::BinanceFutures => "binance-futures",
            Self::BinanceDelivery => "binance-delivery",
            Self::Coinbase => "coinbase",
            Self::Okx => "okx",
            Self::Kraken => "kraken",
        }
    }

    /// Its code in `Trade::venue` (1 to 6).
    pub const fn code(self) -> u32 {
        match self {
            Self::Binance => 1,
            Self::BinanceFutures => 2,
            Self::BinanceDelivery => 3,
            Self::Coinbase => 4,
            Self::Okx => 5,
            Self::Kraken => 6,
        }
    }

    /// The directory symbol of the venue's `symbol`.
    ///
    /// # Errors
    ///
    /// When the qualified name is not a valid tickd symbol (too long, or a character outside
    /// `[A-Za-z0-9._:/-]`).
    pub fn symbol(self, symbol: &str) -> Result<Symbol, VenueError> {
        // Built on the stack: this runs for every tick.
        let (prefix, raw) = (self.prefix().as_bytes(), symbol.as_bytes());
        let len = prefix.len() + 1 + raw.len();
        let mut buf = [0u8; Symbol::MAX_LEN];
        let bad = |e: String| {
            VenueError::new(self, format!("symbol \"{}:{symbol}\": {e}", self.prefix()))
        };
        if len > buf.len() {
            return Err(bad(format!("longer than {} bytes", Symbol::MAX_LEN)));
        }
        buf[..prefix.len()].copy_from_slice(prefix);
        buf[prefix.len()] = b':';
        buf[prefix.len() + 1..len].copy_from_slice(raw);
        buf[..len].make_ascii_uppercase();
        // ASCII upper-casing keeps UTF-8 valid, and `symbol` was a `str`.
        let name = std::str::from_utf8(&buf[..len]).map_err(|e| bad(e.to_string()))?;
        Symbol::new(name).map_err(|e| bad(e.to_string()))
    }

    /// Parses one text frame the venue sent, appending its ticks to `out`.
    ///
    /// # Errors
    ///
    /// [`VenueError`] for a frame that is not the venue's JSON, or a data message with a
    /// missing or malformed field (named in the error). Nothing is appended then.
    pub fn parse(
        self,
        text: &str,
        ts_recv: UnixNanos,
        out: &mut Vec<VenueTick>,
    ) -> Result<Frame, VenueError> {
        let before = out.len();
        let parsed = match self {
            Self::Binance | Self::BinanceFutures | Self::BinanceDelivery => {
                binance::parse(self, text, ts_recv, out)
            }
            Self::Coinbase => coinbase::parse(text, ts_recv, out),
            Self::Okx => okx::parse(text, ts_recv, out),
            Self::Kraken => kraken::parse(text, ts_recv, out),
        };
        if parsed.is_err() {
            out.truncate(before);
        }
        parsed
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Venue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
                format!("unknown venue {s:?}: one of {}", names.join(", "))
            })
    }
}

/// One tick of a venue, with its directory symbol (the record's `instrument_id` is 0 until the
/// sequencer resolves the symbol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueTick {
    /// `<PREFIX>:<venue symbol>`.
    pub symbol: Symbol,
    /// The tick, `ts_recv` set.
    pub tick: TickRecord,
}

/// What a frame was, besides the ticks it carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Market data: its ticks were appended (possibly none, e.g. an empty batch).
    Data,
    /// A heartbeat naming the last trade id of `symbol` (Coinbase): a trade-id continuity check
    /// point between trades.
    Heartbeat {
        /// The directory symbol.
        symbol: Symbol,
        /// The venue's last trade id for it.
        last_trade_id: u64,
    },
    /// The venue refused or reported an error (a bad subscription, a rate limit), in its words.
    Refused(String),
    /// The venue will close this connection soon (Binance `serverShutdown`, OKX `notice`):
    /// open a replacement before it does.
    Shutdown,
    /// Anything else: subscription acks, status, heartbeats without ids, channels tickd does not
    /// map (depth, klines, books).
    Other,
}

/// A frame that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{venue} frame: {reason}")]
pub struct VenueError {
    /// The venue.
    pub venue: Venue,
    /// What is wrong, naming the field.
    pub reason: String,
}

impl VenueError {
    fn new(venue: Venue, reason: impl Into<String>) -> Self {
        Self {
            venue,
            reason: reason.into(),
        }
    }
}

/// `text` as a price (1e-9 units, exact).
fn price(venue: Venue, field: &str, text: &str) -> Result<Price, VenueError> {
    Scales::DEFAULT
        .parse_price(text)
        .map_err(|e| VenueError::new(venue, format!("{field} {text:?}: {e}")))
}

/// `text` as a size (1e-9 units, exact).
fn size(venue: Venue, field: &str, text: &str) -> Result<Quantity, VenueError> {
    Scales::DEFAULT
        .parse_size(text)
        .map_err(|e| VenueError::new(venue, format!("{field} {text:?}: {e}")))
}

/// Milliseconds since the Unix epoch as ns.
fn millis(venue: Venue, field: &str, ms: u64) -> Result<UnixNanos, VenueError> {
    ms.checked_mul(1_000_000)
        .map(UnixNanos)
        .ok_or_else(|| VenueError::new(venue, format!("{field} {ms} ms is out of range")))
}

/// Decimal seconds since the Unix epoch (`"1618678142.557535"`) as ns, exactly (at most 9
/// decimals).
fn decimal_seconds(venue: Venue, field: &str, text: &str) -> Result<UnixNanos, VenueError> {
    let bad = || VenueError::new(venue, format!("{field} {text:?} is not decimal seconds"));
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty()
        || frac.len() > 9
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let secs: u64 = int.parse().map_err(|_| bad())?;
    let nanos: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().map_err(|_| bad())? * 10u64.pow(9 - frac.len() as u32)
    };
    secs.checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(nanos))
        .map(UnixNanos)
        .ok_or_else(bad)
}

/// Sets a tick's receive time (and, without an event time, its event time and flag).
fn stamp(mut tick: TickRecord, ts_recv: UnixNanos, has_event_time: bool) -> TickRecord {
    tick.ts_recv = ts_recv.0;
    if !has_event_time {
        tick.ts_event = ts_recv.0;
        tick.flags |= NO_EVENT_TIME;
    }
    tick
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds_are_exact() {
        let v = Venue::Kraken;
        assert_eq!(
            decimal_seconds(v, "t", "1618678142.557535"),
            Ok(UnixNanos(1_618_678_142_557_535_000))
        );
        assert_eq!(decimal_seconds(v, "t", "1"), Ok(UnixNanos(1_000_000_000)));
        assert_eq!(
            decimal_seconds(v, "t", "1.123456789"),
            Ok(UnixNanos(1_123_456_789))
        );
        for bad in ["", ".5", "1.1234567891", "1e9", "-1", "18446744074"] {
            assert!(decimal_seconds(v, "t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn venues_round_trip_their_names_and_qualify_symbols() {
        for v in Venue::ALL {
            assert_eq!(v.name().parse::<Venue>(), Ok(v));
        }
        assert!(
            "nyse"
                .parse::<Venue>()
                .unwrap_err()
                .contains("one of binance")
        );
        assert_eq!(
            Venue::Kraken.symbol("xbt/usd").unwrap().as_str(),
            "KRAKEN:XBT/USD"
        );
        assert!(Venue::Okx.symbol("BTC USDT").is_err());
    }
}
