//! Data: [`TickBatch`], [`CandleBatch`], [`Snapshot`] and [`Gap`].

use super::{Candles, Ticks};
use crate::types::{Epoch, Seq};

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
