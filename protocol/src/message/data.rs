//! Data: [`TickBatch`], [`CandleBatch`], [`Snapshot`] and [`Gap`].

use super::{Candles, Ticks};
use crate::types::{Epoch, InstrumentId, Seq};

/// Server → client: ticks in seq order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TickBatch<'a> {
    /// The subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// The ticks.
    pub ticks: Ticks<'a>,
}

/// Server → client: candle updates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CandleBatch<'a> {
    /// The subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// The candles.
    pub candles: Candles<'a>,
}

/// Server → client: state as of one seq, before live data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snapshot<'a> {
    /// The [`Subscribe`](super::Subscribe)'s request id.
    pub request_id: u64,
    /// The subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// Everything here is valid as of this seq; live data follows from `seq + 1`.
    pub seq: Seq,
    /// Last trade and last quote per instrument.
    pub ticks: Ticks<'a>,
    /// Current candles.
    pub candles: Candles<'a>,
}

/// Why records were not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapReason {
    /// Not stated (a newer peer's reason).
    Unknown,
    /// The subscriber fell behind the ring.
    Overrun,
    /// The records are no longer retained anywhere.
    NotRetained,
    /// Dropped by the slow-consumer policy.
    Dropped,
    /// The epoch changed: the old history is gone.
    EpochChanged,
    /// The subscriber fell behind and got the latest record per instrument and kind instead
    /// (the `conflate` policy).
    Conflated,
    /// Not a loss inside tickd: the venue's own data for one instrument has a hole (trade ids
    /// skipped, or a reconnect window), declared by the venue-gap record at this gap's seq
    /// ([`TickRecord::venue_gap`](crate::TickRecord::venue_gap)). `from = to` = that record's seq.
    Venue(VenueHole),
}

impl GapReason {
    /// Lowercase name: `overrun`, `not_retained`, `venue`, ….
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Overrun => "overrun",
            Self::NotRetained => "not_retained",
            Self::Dropped => "dropped",
            Self::EpochChanged => "epoch_changed",
            Self::Conflated => "conflated",
            Self::Venue(_) => "venue",
        }
    }
}

/// A hole in a venue's data for one instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VenueHole {
    /// The instrument.
    pub instrument: InstrumentId,
    /// The first missing venue trade id; 0 when unknown (a reconnect on a venue without
    /// sequential trade ids).
    pub from_trade_id: u64,
    /// The last missing venue trade id, inclusive; 0 when unknown.
    pub to_trade_id: u64,
}

/// Server → client: records `[from, to]` (inclusive) will not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// First missing seq.
    pub from: Seq,
    /// Last missing seq.
    pub to: Seq,
    /// Why.
    pub reason: GapReason,
}
