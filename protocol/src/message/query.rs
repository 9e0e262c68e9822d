//! One-off requests: [`Query`] and its [`QueryResult`].

use super::{Candles, Instrument, Ticks};
use crate::record::Interval;
use crate::symbol::Symbol;
use crate::types::{Epoch, InstrumentId, Seq, UnixNanos};

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
    /// Last trade and quote of these symbols (all if empty, a page at a time).
    Latest {
        /// The symbols.
        symbols: Vec<Symbol>,
        /// With no symbols: which page of the instruments.
        page: Page,
    },
    /// Symbols starting with this prefix (all if empty), a page at a time.
    Symbols {
        /// The prefix.
        prefix: String,
        /// Which page.
        page: Page,
    },
    /// Server and feed counters.
    Stats,
}

/// A page of a list of instruments, in instrument id order: the answer's
/// [`QueryResult::next_id`] is the next page's `from_id`. Pages keep every answer small enough
/// for any client's decoder, whatever the directory's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The first instrument id of the page (ids are dense, from 0).
    pub from_id: u32,
    /// At most this many instruments (`None`: the server's page size, 4,096).
    pub limit: Option<u32>,
}

impl Page {
    /// The page starting at `from_id`, of the server's size.
    pub const fn from(from_id: InstrumentId) -> Self {
        Self {
            from_id: from_id.0,
            limit: None,
        }
    }
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
    /// For a paged list ([`QuerySpec::Symbols`], [`QuerySpec::Latest`] of all): where the
    /// next page starts; `None` on the last page.
    pub next_id: Option<InstrumentId>,
}
