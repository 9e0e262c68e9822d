//! One-off requests: [`Query`] and its [`QueryResult`].

use super::{Candles, Instrument, Ticks};
use crate::record::Interval;
use crate::symbol::Symbol;
use crate::types::{Epoch, Seq, UnixNanos};

/// What a [`Query`] asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuerySpec {
    /// Candles of one symbol.
    Candles {
        /// The symbol.
        symbol: Symbol,
        /// The interval.
        interval: Interval,
        /// `from <= ts_open`, if set.
        from: Option<UnixNanos>,
        /// `ts_open < to`, if set.
        to: Option<UnixNanos>,
        /// At most this many (the latest), if set.
        limit: Option<u32>,
        /// Fill empty intervals with a zero-volume candle at the previous close.
        fill_previous: bool,
    },
    /// Last trade and quote of these symbols (all if empty).
    Latest {
        /// The symbols.
        symbols: Vec<Symbol>,
    },
    /// Symbols starting with this prefix (all if empty).
    Symbols {
        /// The prefix.
        prefix: String,
    },
    /// Server and feed counters.
    Stats,
}

/// Counters of one feed (answer to [`QuerySpec::Stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedStat {
    /// Feed name.
    pub name: String,
    /// Records the sequencer accepted.
    pub ingested: u64,
    /// Records skipped (invalid, suspicious or rejected).
    pub skipped: u64,
    /// Whether the feed has finished.
    pub finished: bool,
    /// Why the feed stopped, if it failed (empty otherwise).
    pub error: String,
}

/// Client → server: a one-off request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Client-chosen id echoed in the answer.
    pub request_id: u64,
    /// What to fetch.
    pub spec: QuerySpec,
}

/// Server → client: the answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct QueryResult<'a> {
    /// The [`Query`]'s request id.
    pub request_id: u64,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// The result is valid as of this seq.
    pub head_seq: Seq,
    /// Candles, oldest first.
    pub candles: Candles<'a>,
    /// Ticks.
    pub ticks: Ticks<'a>,
    /// Instruments.
    pub instruments: Vec<Instrument>,
    /// Feed counters (for [`QuerySpec::Stats`]).
    pub feeds: Vec<FeedStat>,
}
