//! Publishing: [`Publish`] batches and their [`PublishAck`].

use super::Ticks;
use crate::scale::Scales;
use crate::symbol::Symbol;
use crate::types::{Epoch, Seq};

/// Publisher → server: ticks to sequence. Each tick's `instrument_id` is an index into
/// `symbols`; `seq` and `ts_recv` are ignored.
#[derive(Clone, Debug, PartialEq)]
pub struct Publish<'a> {
    /// Client-chosen id echoed in the ack.
    pub request_id: u64,
    /// The batch's symbol table.
    pub symbols: Vec<Symbol>,
    /// The scales of each symbol, parallel to `symbols`; empty means 9:9 for every symbol.
    /// They define a symbol the server does not know yet; for a known symbol they must match.
    pub scales: Vec<Scales>,
    /// The ticks.
    pub ticks: Ticks<'a>,
}

/// One rejected tick of a [`Publish`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Index in the batch.
    pub index: u32,
    /// Why.
    pub reason: String,
}

/// Server → publisher: a [`Publish`] is sequenced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishAck {
    /// The [`Publish`]'s request id.
    pub request_id: u64,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// First seq assigned (0 if none accepted).
    pub first_seq: Seq,
    /// Last seq assigned (0 if none accepted).
    pub last_seq: Seq,
    /// Ticks accepted.
    pub accepted: u32,
    /// Ticks rejected, with reasons.
    pub rejected: Vec<Rejection>,
}
