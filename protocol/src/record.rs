//! Fixed-size records: the 64-byte [`TickRecord`] (one cache line, one ring slot, one wire
//! `Tick`) and the 192-byte [`CandleRecord`] (one wire `Candle`), with typed views.
//!
//! Both are `#[repr(C)]` with their layout pinned by compile-time asserts below. They convert
//! to and from native `u64` words (the ring's slot format) and little-endian bytes (the wire and
//! journal format) in safe code; on little-endian targets both are plain copies.

use std::fmt;
use std::mem::{align_of, offset_of, size_of};
use std::str::FromStr;

use crate::types::{InstrumentId, Price, Quantity, Seq, Side, TickKind, UnixNanos};

/// One tick: a trade or a top-of-book quote, exactly 64 bytes.
///
/// Header (32 B): `seq`, `ts_event`, `ts_recv`, `instrument_id`, `kind`, `side`, `flags`.
/// Body (32 B), four words whose meaning depends on `kind`; read them through
/// [`TickRecord::view`], [`TickRecord::trade`] or [`TickRecord::quote`].
///
/// `seq` is the first word on purpose: in a ring slot it doubles as the slot's sequence stamp.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TickRecord {
    /// Position in the tick ring (≥ 1); 0 before the sequencer stamps it.
    pub seq: u64,
    /// Exchange or venue time, ns since the Unix epoch (UTC).
    pub ts_event: u64,
    /// When tickd accepted the tick, ns since the Unix epoch (UTC).
    pub ts_recv: u64,
    /// The instrument's [`InstrumentId`].
    pub instrument_id: u32,
    /// A [`TickKind`] discriminant (1 trade, 2 quote).
    pub kind: u8,
    /// A [`Side`] discriminant (0 none, 1 buy, 2 sell); 0 for quotes.
    pub side: u8,
    /// Bits the sequencer sets: [`TickRecord::CROSSED`]; others 0.
    pub flags: u16,
    /// Kind-specific payload; see [`Trade`] and [`Quote`] for the word order.
    pub body: [u64; 4],
}

const _: () = {
    assert!(size_of::<TickRecord>() == 64);
    assert!(align_of::<TickRecord>() == 8);
    assert!(offset_of!(TickRecord, seq) == 0);
    assert!(offset_of!(TickRecord, ts_event) == 8);
    assert!(offset_of!(TickRecord, ts_recv) == 16);
    assert!(offset_of!(TickRecord, instrument_id) == 24);
    assert!(offset_of!(TickRecord, kind) == 28);
    assert!(offset_of!(TickRecord, side) == 29);
    assert!(offset_of!(TickRecord, flags) == 30);
    assert!(offset_of!(TickRecord, body) == 32);
};

/// A trade print: the body of a [`TickKind::Trade`] record.
///
/// Body words: `price`, `size`, `trade_id`, `venue | conditions << 32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Trade {
    /// Trade price, 1e-9 units of the quote currency.
    pub price: Price,
    /// Trade size, 1e-9 units.
    pub size: Quantity,
    /// Venue's trade id, 0 if none.
    pub trade_id: u64,
    /// Venue code (feed-specific, 0 if unknown).
    pub venue: u32,
    /// Sale-condition bits (feed-specific, 0 if none).
    pub conditions: u32,
}

/// A top-of-book (BBO) quote: the body of a [`TickKind::Quote`] record.
///
/// Body words: `bid_px`, `bid_sz`, `ask_px`, `ask_sz`. An absent side has price
/// [`Price::UNDEF`] and size zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quote {
    /// Best bid price, or [`Price::UNDEF`].
    pub bid_px: Price,
    /// Size at the best bid, 1e-9 units.
    pub bid_sz: Quantity,
    /// Best ask price, or [`Price::UNDEF`].
    pub ask_px: Price,
    /// Size at the best ask, 1e-9 units.
    pub ask_sz: Quantity,
}

/// A record's body, typed by its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TickView {
    /// A trade, with its aggressor side.
    Trade(Trade, Side),
    /// A quote.
    Quote(Quote),
}

/// Why a record's bytes are not a valid tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The `kind` byte is not a [`TickKind`].
    #[error("unknown tick kind {0}")]
    UnknownKind(u8),
    /// The `side` byte is not a [`Side`].
    #[error("unknown side {0}")]
    UnknownSide(u8),
}

impl TickRecord {
    /// `flags` bit: a quote whose bid is above its ask (crossed). Locked and crossed books
    /// happen in real markets; the quote is kept and marked.
    pub const CROSSED: u16 = 1;
    /// `flags` bit: the source gave no event time (e.g. Binance spot `bookTicker`), so
    /// `ts_event` is when the feed received the tick. Set by the feed and kept by the
    /// sequencer.
    pub const NO_EVENT_TIME: u16 = 1 << 1;
    /// `kind` of a candle-close control record ([`TickRecord::candle_close`]).
    pub const KIND_CANDLE_CLOSE: u8 = 16;
    /// `kind` of a venue-gap control record ([`TickRecord::venue_gap`]).
    pub const KIND_VENUE_GAP: u8 = 17;

    /// Size of one record, in bytes.
    pub const SIZE_BYTES: usize = 64;
    /// Size of one record, in 8-byte words.
    pub const SIZE_WORDS: usize = 8;

    /// A trade record, not yet sequenced (`seq` and `ts_recv` are 0).
    pub const fn new_trade(
        instrument: InstrumentId,
        ts_event: UnixNanos,
        side: Side,
        trade: &Trade,
    ) -> Self {
        Self {
            seq: 0,
            ts_event: ts_event.0,
            ts_recv: 0,
            instrument_id: instrument.0,
            kind: TickKind::Trade as u8,
            side: side as u8,
            flags: 0,
            body: [
                trade.price.raw() as u64,
                trade.size.raw(),
                trade.trade_id,
                trade.venue as u64 | (trade.conditions as u64) << 32,
            ],
        }
    }

    /// A quote record, not yet sequenced (`seq` and `ts_recv` are 0).
    pub const fn new_quote(instrument: InstrumentId, ts_event: UnixNanos, quote: &Quote) -> Self {
        Self {
            seq: 0,
            ts_event: ts_event.0,
            ts_recv: 0,
            instrument_id: instrument.0,
            kind: TickKind::Quote as u8,
            side: Side::None as u8,
            flags: 0,
            body: [
                quote.bid_px.raw() as u64,
                quote.bid_sz.raw(),
                quote.ask_px.raw() as u64,
                quote.ask_sz.raw(),
            ],
        }
    }

    /// A candle-close control record, not yet sequenced: every in-progress candle whose
    /// interval ends at or before `cutoff` (ns since the Unix epoch) closes at this record's
    /// place in the sequence. The sequencer writes one when the wall clock, less the candle
    /// grace, passes a candle's end, so a rebuild from the journal (or a replica) closes the
    /// same candles at the same point. `ts_event` holds `cutoff`; `instrument_id` is
    /// `u32::MAX` (every instrument); the body is zero. Not a tick: [`TickRecord::kind`] is
    /// `None` and subscriptions by kind never match it.
    pub const fn candle_close(cutoff: UnixNanos) -> Self {
        Self {
            seq: 0,
            ts_event: cutoff.0,
            ts_recv: 0,
            instrument_id: u32::MAX,
            kind: Self::KIND_CANDLE_CLOSE,
            side: 0,
            flags: 0,
            body: [0; 4],
        }
    }

    /// The cutoff of a candle-close control record ([`TickRecord::candle_close`]); `None` for
    /// any other record.
    pub const fn candle_close_cutoff(&self) -> Option<UnixNanos> {
        if self.kind == Self::KIND_CANDLE_CLOSE {
            Some(UnixNanos(self.ts_event))
        } else {
            None
        }
    }

    /// A venue-gap control record, not yet sequenced: the venue's data for `instrument` has a
    /// hole at this record's place in the sequence, venue trade ids `from_trade_id` to
    /// `to_trade_id` inclusive (both 0 when unknown: a reconnect on a venue without sequential
    /// ids). `ts_event` is when the hole was found (ns since the Unix epoch). A feed writes one
    /// where it finds the hole, so subscribers, shm readers, replicas and rebuilds all see it
    /// at the same seq; subscribers to the instrument's trades receive it as a `Gap` with
    /// reason `Venue`. Not a tick: [`TickRecord::kind`] is `None`, candles and the latest
    /// table ignore it.
    pub const fn venue_gap(
        instrument: InstrumentId,
        ts_event: UnixNanos,
        from_trade_id: u64,
        to_trade_id: u64,
    ) -> Self {
        Self {
            seq: 0,
            ts_event: ts_event.0,
            ts_recv: 0,
            instrument_id: instrument.0,
            kind: Self::KIND_VENUE_GAP,
            side: 0,
            flags: 0,
            body: [from_trade_id, to_trade_id, 0, 0],
        }
    }

    /// The hole a venue-gap record declares ([`TickRecord::venue_gap`]); `None` for any other
    /// record.
    pub const fn venue_hole(&self) -> Option<crate::VenueHole> {
        if self.kind == Self::KIND_VENUE_GAP {
            Some(crate::VenueHole {
                instrument: InstrumentId(self.instrument_id),
                from_trade_id: self.body[0],
                to_trade_id: self.body[1],
            })
        } else {
            None
        }
    }

    /// The record's [`Seq`].
    pub const fn seq(&self) -> Seq {
        Seq(self.seq)
    }

    /// The record's instrument.
    pub const fn instrument(&self) -> InstrumentId {
        InstrumentId(self.instrument_id)
    }

    /// The record's kind, if the `kind` byte is valid.
    pub const fn kind(&self) -> Option<TickKind> {
        TickKind::from_u8(self.kind)
    }

    /// The body typed by kind.
    ///
    /// # Errors
    ///
    /// [`RecordError`] if the `kind` or `side` byte is not a known value (bytes from an
    /// untrusted peer or a newer peer).
    pub const fn view(&self) -> Result<TickView, RecordError> {
        match TickKind::from_u8(self.kind) {
            Some(TickKind::Trade) => match Side::from_u8(self.side) {
                Some(side) => Ok(TickView::Trade(self.trade_body(), side)),
                None => Err(RecordError::UnknownSide(self.side)),
            },
            Some(TickKind::Quote) => Ok(TickView::Quote(self.quote_body())),
            None => Err(RecordError::UnknownKind(self.kind)),
        }
    }

    /// The trade, if this is a trade record.
    pub const fn trade(&self) -> Option<Trade> {
        match TickKind::from_u8(self.kind) {
            Some(TickKind::Trade) => Some(self.trade_body()),
            _ => None,
        }
    }

    /// The quote, if this is a quote record.
    pub const fn quote(&self) -> Option<Quote> {
        match TickKind::from_u8(self.kind) {
            Some(TickKind::Quote) => Some(self.quote_body()),
            _ => None,
        }
    }

    const fn trade_body(&self) -> Trade {
        Trade {
            price: Price::from_raw(self.body[0] as i64),
            size: Quantity::from_raw(self.body[1]),
            trade_id: self.body[2],
            venue: self.body[3] as u32,
            conditions: (self.body[3] >> 32) as u32,
        }
    }

    const fn quote_body(&self) -> Quote {
        Quote {
            bid_px: Price::from_raw(self.body[0] as i64),
            bid_sz: Quantity::from_raw(self.body[1]),
            ask_px: Price::from_raw(self.body[2] as i64),
            ask_sz: Quantity::from_raw(self.body[3]),
        }
    }

    /// The record as eight native-endian words: the ring slot format.
    pub const fn to_words(&self) -> [u64; 8] {
        [
            self.seq,
            self.ts_event,
            self.ts_recv,
            self.instrument_id as u64
                | (self.kind as u64) << 32
                | (self.side as u64) << 40
                | (self.flags as u64) << 48,
            self.body[0],
            self.body[1],
            self.body[2],
            self.body[3],
        ]
    }

    /// The record from eight native-endian words (inverse of [`TickRecord::to_words`]).
    pub const fn from_words(w: &[u64; 8]) -> Self {
        Self {
            seq: w[0],
            ts_event: w[1],
            ts_recv: w[2],
            instrument_id: w[3] as u32,
            kind: (w[3] >> 32) as u8,
            side: (w[3] >> 40) as u8,
            flags: (w[3] >> 48) as u16,
            body: [w[4], w[5], w[6], w[7]],
        }
    }

    /// The record as 64 little-endian bytes: the wire (`Tick` struct) and journal format.
    pub fn to_le_bytes(&self) -> [u8; 64] {
        let mut out = [0; 64];
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.to_words()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// The record from 64 little-endian bytes (inverse of [`TickRecord::to_le_bytes`]).
    pub fn from_le_bytes(bytes: &[u8; 64]) -> Self {
        let mut words = [0u64; 8];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        Self::from_words(&words)
    }
}

/// Candle interval, aligned to UTC. Names `1s 1m 5m 15m 1h 4h 1d`; nautilus-style aliases
/// (`1-MINUTE-LAST`) parse too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Interval {
    /// One second.
    S1 = 1,
    /// One minute.
    M1 = 60,
    /// Five minutes.
    M5 = 300,
    /// Fifteen minutes.
    M15 = 900,
    /// One hour.
    H1 = 3_600,
    /// Four hours.
    H4 = 14_400,
    /// One day (UTC midnight to midnight).
    D1 = 86_400,
}

/// Text that is not an [`Interval`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown interval {0:?} (expected one of 1s 1m 5m 15m 1h 4h 1d)")]
pub struct ParseIntervalError(pub String);

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Self; 7] = [
        Self::S1,
        Self::M1,
        Self::M5,
        Self::M15,
        Self::H1,
        Self::H4,
        Self::D1,
    ];

    /// Length in seconds.
    pub const fn secs(self) -> u32 {
        self as u32
    }

    /// Length in nanoseconds.
    pub const fn nanos(self) -> u64 {
        self as u64 * UnixNanos::NANOS_PER_SEC
    }

    /// The interval of `secs` seconds, if it is one of [`Interval::ALL`].
    pub const fn from_secs(secs: u32) -> Option<Self> {
        Some(match secs {
            1 => Self::S1,
            60 => Self::M1,
            300 => Self::M5,
            900 => Self::M15,
            3_600 => Self::H1,
            14_400 => Self::H4,
            86_400 => Self::D1,
            _ => return None,
        })
    }

    /// Short name: `1s 1m 5m 15m 1h 4h 1d`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::S1 => "1s",
            Self::M1 => "1m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::H1 => "1h",
            Self::H4 => "4h",
            Self::D1 => "1d",
        }
    }

    /// Open time of the interval containing `t`: `t` rounded down to a multiple of the length.
    pub const fn open_time(self, t: UnixNanos) -> UnixNanos {
        UnixNanos(t.0 - t.0 % self.nanos())
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Interval {
    type Err = ParseIntervalError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let found = Self::ALL.into_iter().find(|i| i.name() == text);
        let alias = || {
            Some(match text {
                "1-SECOND-LAST" => Self::S1,
                "1-MINUTE-LAST" => Self::M1,
                "5-MINUTE-LAST" => Self::M5,
                "15-MINUTE-LAST" => Self::M15,
                "1-HOUR-LAST" => Self::H1,
                "4-HOUR-LAST" => Self::H4,
                "1-DAY-LAST" => Self::D1,
                _ => return None,
            })
        };
        found
            .or_else(alias)
            .ok_or_else(|| ParseIntervalError(text.to_owned()))
    }
}

/// One OHLCV candle, exactly 192 bytes, labelled by its open time, half-open
/// `[ts_open, ts_open + interval)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CandleRecord {
    /// The instrument's [`InstrumentId`].
    pub instrument_id: u32,
    /// Interval length in seconds (an [`Interval`] value).
    pub interval_s: u32,
    /// Open time, ns since the Unix epoch (UTC), aligned to the interval.
    pub ts_open: u64,
    /// First trade price, 1e-9 units.
    pub open: i64,
    /// Highest trade price, 1e-9 units.
    pub high: i64,
    /// Lowest trade price, 1e-9 units.
    pub low: i64,
    /// Last trade price, 1e-9 units.
    pub close: i64,
    /// Sum of trade sizes, raw units of the instrument's size scale: the low 64 bits of a `u128`
    /// whose high bits are `volume_hi` ([`CandleRecord::volume_total`]).
    pub volume: u64,
    /// Low 64 bits of the notional (sum of raw price × raw size: units of 10^-(price scale +
    /// size scale), 1e-18 at 9:9; two's-complement i128).
    pub notional_lo: u64,
    /// High 64 bits of the notional.
    pub notional_hi: i64,
    /// Number of trades.
    pub trades: u64,
    /// 0 when first emitted, bumped by each late-trade correction after the candle closed.
    pub version: u32,
    /// Bit 0: [`CandleRecord::CLOSED`]; bit 1: [`CandleRecord::NOTIONAL_OVERFLOW`]. Other bits
    /// reserved, 0.
    pub flags: u32,
    /// Highest seq of the trades folded into this candle.
    pub last_seq: u64,
    /// Event time of the earliest trade folded in (the one that set `open`), ns since the Unix
    /// epoch (UTC).
    pub ts_first_event: u64,
    /// Event time of the latest trade folded in (the one that set `close`), ns since the Unix
    /// epoch (UTC).
    pub ts_last_event: u64,
    /// High 64 bits of the volume (0 while it fits 64 bits; this word was reserved before
    /// per-instrument scales, so older records read the same).
    pub volume_hi: u64,
    /// Sum of the sizes of trades whose aggressor was the buyer (`side` = [`Side::Buy`]), raw
    /// units of the size scale: the low 64 bits of a `u128` whose high bits are
    /// `taker_buy_volume_hi` ([`CandleRecord::taker_buy_volume_total`]). Binance's "taker buy
    /// base asset volume".
    ///
    /// [`Side::Buy`]: crate::Side::Buy
    pub taker_buy_volume: u64,
    /// High 64 bits of the taker-buy volume.
    pub taker_buy_volume_hi: u64,
    /// Low 64 bits of the taker-buy notional (sum of raw price × raw size over the buyer-taker
    /// trades, units as `notional_lo`; two's-complement i128): Binance's "taker buy quote asset
    /// volume".
    pub taker_buy_notional_lo: u64,
    /// High 64 bits of the taker-buy notional.
    pub taker_buy_notional_hi: i64,
    /// Venue trade id of the trade that set `open` (the earliest by event time); 0 if it had none.
    pub first_trade_id: u64,
    /// Venue trade id of the trade that set `close` (the latest by event time); 0 if it had none.
    pub last_trade_id: u64,
    /// Reserved, 0.
    pub reserved: [u64; 3],
}

const _: () = {
    assert!(size_of::<CandleRecord>() == 192);
    assert!(align_of::<CandleRecord>() == 8);
    assert!(offset_of!(CandleRecord, interval_s) == 4);
    assert!(offset_of!(CandleRecord, ts_open) == 8);
    assert!(offset_of!(CandleRecord, open) == 16);
    assert!(offset_of!(CandleRecord, close) == 40);
    assert!(offset_of!(CandleRecord, volume) == 48);
    assert!(offset_of!(CandleRecord, notional_lo) == 56);
    assert!(offset_of!(CandleRecord, trades) == 72);
    assert!(offset_of!(CandleRecord, version) == 80);
    assert!(offset_of!(CandleRecord, flags) == 84);
    assert!(offset_of!(CandleRecord, last_seq) == 88);
    assert!(offset_of!(CandleRecord, ts_first_event) == 96);
    assert!(offset_of!(CandleRecord, ts_last_event) == 104);
    assert!(offset_of!(CandleRecord, volume_hi) == 112);
    assert!(offset_of!(CandleRecord, taker_buy_volume) == 120);
    assert!(offset_of!(CandleRecord, taker_buy_notional_lo) == 136);
    assert!(offset_of!(CandleRecord, first_trade_id) == 152);
    assert!(offset_of!(CandleRecord, last_trade_id) == 160);
    assert!(offset_of!(CandleRecord, reserved) == 168);
};

impl CandleRecord {
    /// Size of one record, in bytes.
    pub const SIZE_BYTES: usize = 192;
    /// Native-endian words in a record.
    pub const WORDS: usize = 24;
    /// `flags` bit: the candle's interval has ended (event time passed its end).
    pub const CLOSED: u32 = 1;
    /// `flags` bit: the notional left the `i128` range and holds the saturated bound, so it (and
    /// VWAP) is not exact. Needs more than about 2^64 units of trade value in one candle, beyond
    /// any real market; flagged rather than silently wrong.
    pub const NOTIONAL_OVERFLOW: u32 = 2;

    /// Open, high, low, close as [`Price`]s.
    pub const fn ohlc(&self) -> [Price; 4] {
        [
            Price::from_raw(self.open),
            Price::from_raw(self.high),
            Price::from_raw(self.low),
            Price::from_raw(self.close),
        ]
    }

    /// The low 64 bits of the volume as a [`Quantity`]: the whole volume unless it passed
    /// `u64::MAX` raw units ([`CandleRecord::volume_total`] is always whole).
    pub const fn volume(&self) -> Quantity {
        Quantity::from_raw(self.volume)
    }

    /// The whole volume, raw units of the instrument's size scale.
    pub const fn volume_total(&self) -> u128 {
        (self.volume_hi as u128) << 64 | self.volume as u128
    }

    /// Sets the whole volume.
    pub const fn set_volume_total(&mut self, v: u128) {
        self.volume = v as u64;
        self.volume_hi = (v >> 64) as u64;
    }

    /// The whole taker-buy volume, raw units of the instrument's size scale.
    pub const fn taker_buy_volume_total(&self) -> u128 {
        (self.taker_buy_volume_hi as u128) << 64 | self.taker_buy_volume as u128
    }

    /// Sets the whole taker-buy volume.
    pub const fn set_taker_buy_volume_total(&mut self, v: u128) {
        self.taker_buy_volume = v as u64;
        self.taker_buy_volume_hi = (v >> 64) as u64;
    }

    /// Taker-buy notional, units as [`CandleRecord::notional`].
    pub const fn taker_buy_notional(&self) -> i128 {
        ((self.taker_buy_notional_hi as i128) << 64) | self.taker_buy_notional_lo as i128
    }

    /// Sets the taker-buy notional.
    pub const fn set_taker_buy_notional(&mut self, notional: i128) {
        self.taker_buy_notional_lo = notional as u64;
        self.taker_buy_notional_hi = (notional >> 64) as i64;
    }

    /// Notional (sum of price × size), in 1e-18 units of the quote currency.
    pub const fn notional(&self) -> i128 {
        ((self.notional_hi as i128) << 64) | self.notional_lo as i128
    }

    /// Sets the notional, in 1e-18 units of the quote currency.
    pub const fn set_notional(&mut self, notional: i128) {
        self.notional_lo = notional as u64;
        self.notional_hi = (notional >> 64) as i64;
    }

    /// The interval, if `interval_s` is a known one.
    pub const fn interval(&self) -> Option<Interval> {
        Interval::from_secs(self.interval_s)
    }

    /// Whether the candle is closed.
    pub const fn is_closed(&self) -> bool {
        self.flags & Self::CLOSED != 0
    }

    /// The record as [`CandleRecord::WORDS`] native-endian words.
    pub const fn to_words(&self) -> [u64; Self::WORDS] {
        [
            self.instrument_id as u64 | (self.interval_s as u64) << 32,
            self.ts_open,
            self.open as u64,
            self.high as u64,
            self.low as u64,
            self.close as u64,
            self.volume,
            self.notional_lo,
            self.notional_hi as u64,
            self.trades,
            self.version as u64 | (self.flags as u64) << 32,
            self.last_seq,
            self.ts_first_event,
            self.ts_last_event,
            self.volume_hi,
            self.taker_buy_volume,
            self.taker_buy_volume_hi,
            self.taker_buy_notional_lo,
            self.taker_buy_notional_hi as u64,
            self.first_trade_id,
            self.last_trade_id,
            self.reserved[0],
            self.reserved[1],
            self.reserved[2],
        ]
    }

    /// The record from its words (inverse of [`CandleRecord::to_words`]).
    pub const fn from_words(w: &[u64; Self::WORDS]) -> Self {
        Self {
            instrument_id: w[0] as u32,
            interval_s: (w[0] >> 32) as u32,
            ts_open: w[1],
            open: w[2] as i64,
            high: w[3] as i64,
            low: w[4] as i64,
            close: w[5] as i64,
            volume: w[6],
            notional_lo: w[7],
            notional_hi: w[8] as i64,
            trades: w[9],
            version: w[10] as u32,
            flags: (w[10] >> 32) as u32,
            last_seq: w[11],
            ts_first_event: w[12],
            ts_last_event: w[13],
            volume_hi: w[14],
            taker_buy_volume: w[15],
            taker_buy_volume_hi: w[16],
            taker_buy_notional_lo: w[17],
            taker_buy_notional_hi: w[18] as i64,
            first_trade_id: w[19],
            last_trade_id: w[20],
            reserved: [w[21], w[22], w[23]],
        }
    }

    /// The record as 192 little-endian bytes: the wire (`Candle` struct) format.
    pub fn to_le_bytes(&self) -> [u8; Self::SIZE_BYTES] {
        let mut out = [0; Self::SIZE_BYTES];
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.to_words()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// The record from 192 little-endian bytes (inverse of [`CandleRecord::to_le_bytes`]).
    pub fn from_le_bytes(bytes: &[u8; Self::SIZE_BYTES]) -> Self {
        let mut words = [0u64; Self::WORDS];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        Self::from_words(&words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade() -> TickRecord {
        let mut r = TickRecord::new_trade(
            InstrumentId(7),
            UnixNanos(1_696_680_000_123_000_000),
            Side::Buy,
            &Trade {
                price: "171.23".parse().unwrap(),
                size: "100".parse().unwrap(),
                trade_id: 42,
                venue: 3,
                conditions: 0x8000_0001,
            },
        );
        r.seq = 5;
        r
    }

    #[test]
    fn trade_bytes_are_exact() {
        let bytes = trade().to_le_bytes();
        let mut want = Vec::new();
        want.extend_from_slice(&5u64.to_le_bytes());
        want.extend_from_slice(&1_696_680_000_123_000_000u64.to_le_bytes());
        want.extend_from_slice(&0u64.to_le_bytes());
        want.extend_from_slice(&7u32.to_le_bytes());
        want.extend_from_slice(&[1, 1, 0, 0]);
        want.extend_from_slice(&171_230_000_000i64.to_le_bytes());
        want.extend_from_slice(&100_000_000_000u64.to_le_bytes());
        want.extend_from_slice(&42u64.to_le_bytes());
        want.extend_from_slice(&3u32.to_le_bytes());
        want.extend_from_slice(&0x8000_0001u32.to_le_bytes());
        assert_eq!(bytes.as_slice(), want.as_slice());
    }

    #[test]
    fn views_are_typed_by_kind() {
        let r = trade();
        assert_eq!(r.kind(), Some(TickKind::Trade));
        assert_eq!(r.quote(), None);
        let TickView::Trade(t, side) = r.view().unwrap() else {
            panic!("not a trade")
        };
        assert_eq!(side, Side::Buy);
        assert_eq!(format!("{:#}", t.price), "171.23");
        assert_eq!(t.conditions, 0x8000_0001);

        let q = TickRecord::new_quote(
            InstrumentId(1),
            UnixNanos(1),
            &Quote {
                bid_px: Price::UNDEF,
                bid_sz: Quantity::ZERO,
                ask_px: "171.24".parse().unwrap(),
                ask_sz: "200".parse().unwrap(),
            },
        );
        assert!(q.quote().unwrap().bid_px.is_undef());
        assert_eq!(q.trade(), None);

        let bad = TickRecord { kind: 9, ..r };
        assert_eq!(bad.view(), Err(RecordError::UnknownKind(9)));
        let bad = TickRecord { side: 3, ..r };
        assert_eq!(bad.view(), Err(RecordError::UnknownSide(3)));
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn words_match_the_in_memory_layout() {
        let r = trade();
        let words = r.to_words();
        let mut from_words = [0u8; 64];
        for (c, w) in from_words.chunks_exact_mut(8).zip(words) {
            c.copy_from_slice(&w.to_ne_bytes());
        }
        assert_eq!(from_words, r.to_le_bytes());
    }

    #[test]
    fn intervals_align_to_utc() {
        let t = UnixNanos(1_696_680_123_456_789_000); // 2023-10-07T12:02:03.456789Z
        assert_eq!(
            Interval::M1.open_time(t),
            UnixNanos(1_696_680_120_000_000_000)
        );
        assert_eq!(
            Interval::D1.open_time(t),
            UnixNanos(1_696_636_800_000_000_000)
        );
        assert_eq!("1-MINUTE-LAST".parse::<Interval>(), Ok(Interval::M1));
        assert_eq!("4h".parse::<Interval>(), Ok(Interval::H4));
        assert!("2m".parse::<Interval>().is_err());
        assert_eq!(Interval::from_secs(900), Some(Interval::M15));
    }

    #[test]
    fn candle_notional_round_trips_i128() {
        let mut c = CandleRecord::default();
        let n = -(170_000_000_000i128 * 100_000_000_000_000_000);
        c.set_notional(n);
        assert_eq!(c.notional(), n);
        assert_eq!(CandleRecord::from_le_bytes(&c.to_le_bytes()), c);
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any 64 bytes survive bytes → record → bytes and words → record → words.
        #[test]
        fn prop_tick_bytes_round_trip(bytes in prop::array::uniform32(any::<u8>()), tail in prop::array::uniform32(any::<u8>())) {
            let mut all = [0u8; 64];
            all[..32].copy_from_slice(&bytes);
            all[32..].copy_from_slice(&tail);
            let r = TickRecord::from_le_bytes(&all);
            prop_assert_eq!(r.to_le_bytes(), all);
            prop_assert_eq!(TickRecord::from_words(&r.to_words()), r);
        }

        /// A trade built from typed fields reads back the same through its view.
        #[test]
        fn prop_trade_view_round_trips(
            price in any::<i64>(), size in any::<u64>(), trade_id in any::<u64>(),
            venue in any::<u32>(), conditions in any::<u32>(), ts in any::<u64>(), id in any::<u32>(),
        ) {
            let t = Trade { price: Price::from_raw(price), size: Quantity::from_raw(size), trade_id, venue, conditions };
            let r = TickRecord::new_trade(InstrumentId(id), UnixNanos(ts), Side::Sell, &t);
            let back = TickRecord::from_le_bytes(&r.to_le_bytes());
            prop_assert_eq!(back.view(), Ok(TickView::Trade(t, Side::Sell)));
            prop_assert_eq!(back.instrument(), InstrumentId(id));
            prop_assert_eq!(back.ts_event, ts);
        }

        /// A quote built from typed fields reads back the same through its view.
        #[test]
        fn prop_quote_view_round_trips(bid in any::<i64>(), bsz in any::<u64>(), ask in any::<i64>(), asz in any::<u64>()) {
            let q = Quote { bid_px: Price::from_raw(bid), bid_sz: Quantity::from_raw(bsz), ask_px: Price::from_raw(ask), ask_sz: Quantity::from_raw(asz) };
            let r = TickRecord::new_quote(InstrumentId(1), UnixNanos(2), &q);
            prop_assert_eq!(TickRecord::from_words(&r.to_words()).view(), Ok(TickView::Quote(q)));
        }
    }
}
