//! Subscriptions: [`Subscribe`] (instruments, kinds, start, snapshot, slow-consumer policy),
//! [`SubscribeAck`], [`Unsubscribe`].

use crate::record::Interval;
use crate::scale::Scales;
use crate::symbol::Symbol;
use crate::types::{Epoch, InstrumentId, Seq, UnixNanos};

/// Which instruments a subscription covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every instrument, including ones that appear later.
    All,
    /// These symbols.
    Symbols(Vec<Symbol>),
}

/// Where a subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// With the next record published.
    Latest,
    /// At `(epoch, seq)`: resume after a disconnect.
    Seq {
        /// Epoch the client last saw.
        epoch: Epoch,
        /// First seq wanted.
        seq: Seq,
    },
    /// At the first record with `ts_event >= time`.
    Time(UnixNanos),
}

/// What to do with a subscriber that cannot keep up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowConsumerPolicy {
    /// Keep only the latest record per instrument and kind.
    #[default]
    Conflate,
    /// Drop records and send a `Gap`.
    Drop,
    /// Close the connection.
    Disconnect,
}

/// Client → server: subscribe to data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// Client-chosen id echoed in the answer.
    pub request_id: u64,
    /// Instruments.
    pub selection: Selection,
    /// Receive trades.
    pub trades: bool,
    /// Receive quotes.
    pub quotes: bool,
    /// Receive candles of these intervals.
    pub candles: Vec<Interval>,
    /// Where to start.
    pub start: Start,
    /// Send a snapshot (last trade/quote, current candles) before live data.
    pub snapshot: bool,
    /// Slow-consumer policy.
    pub policy: SlowConsumerPolicy,
    /// QUIC only: quotes as conflated, unreliable datagrams.
    pub datagrams: bool,
}

/// An instrument, its symbol and its scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instrument {
    /// tickd's id.
    pub id: InstrumentId,
    /// The symbol.
    pub symbol: Symbol,
    /// How to read its records' raw prices and sizes.
    pub scales: Scales,
}

/// Server → client: a subscription is live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeAck {
    /// The [`Subscribe`]'s request id.
    pub request_id: u64,
    /// Id used in data messages of this subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// First seq the subscription delivers.
    pub start_seq: Seq,
    /// Instruments known so far, for resolving ids in records.
    pub instruments: Vec<Instrument>,
}

/// Client → server: end a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Client-chosen id.
    pub request_id: u64,
    /// The subscription.
    pub subscription_id: u32,
}
