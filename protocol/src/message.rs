//! Typed messages over the generated FlatBuffers code: [`Message::decode`] verifies every
//! untrusted buffer before reading it, and [`Encoder`] writes frames.
//!
//! One file per concern: `control` (Hello, Welcome, Heartbeat), `subscribe`, `data` (tick and
//! candle batches, snapshots, gaps), `publish`, `query`, `error`, `records` (record views), and
//! the two directions, `decode` and `encode`.
//!
//! Control messages decode into owned structs (they are rare, and their strings are validated
//! into [`Symbol`](crate::Symbol)s on the way in). Data messages borrow: a [`Ticks`] or [`Candles`] view over a
//! verified frame decodes records on access, with no allocation per record.

mod control;
mod data;
mod decode;
mod encode;
mod error;
mod publish;
mod query;
mod records;
mod subscribe;
#[doc(hidden)]
pub mod testing;

pub use control::{Heartbeat, Hello, Roles, Welcome};
pub use data::{CandleBatch, Gap, GapReason, Snapshot, TickBatch, VenueHole};
pub use encode::Encoder;
pub use error::{DecodeError, ErrorCode, ErrorMessage};
pub use publish::{Publish, PublishAck, Rejection};
pub use query::{FeedStat, Page, Query, QueryResult, QuerySpec};
pub use records::{Candles, Records, Ticks, WireRecord};
pub use subscribe::{
    Instrument, Selection, SlowConsumerPolicy, Start, Subscribe, SubscribeAck, Unsubscribe,
};

/// One protocol message (DESIGN.md §6), decoded or to encode.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`Welcome`].
    Welcome(Welcome),
    /// See [`Subscribe`].
    Subscribe(Subscribe),
    /// See [`SubscribeAck`].
    SubscribeAck(SubscribeAck),
    /// See [`Unsubscribe`].
    Unsubscribe(Unsubscribe),
    /// See [`TickBatch`].
    TickBatch(TickBatch<'a>),
    /// See [`CandleBatch`].
    CandleBatch(CandleBatch<'a>),
    /// See [`Snapshot`].
    Snapshot(Snapshot<'a>),
    /// See [`Gap`].
    Gap(Gap),
    /// See [`Heartbeat`].
    Heartbeat(Heartbeat),
    /// See [`Publish`].
    Publish(Publish<'a>),
    /// See [`PublishAck`].
    PublishAck(PublishAck),
    /// See [`Query`].
    Query(Query),
    /// See [`QueryResult`].
    QueryResult(QueryResult<'a>),
    /// See [`ErrorMessage`].
    Error(ErrorMessage),
}

impl Message<'_> {
    /// The message type's name (`TickBatch`, `Hello`, …): O(1), whatever the message's size,
    /// for errors and logs that name a message without formatting its contents.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Hello(_) => "Hello",
            Self::Welcome(_) => "Welcome",
            Self::Subscribe(_) => "Subscribe",
            Self::SubscribeAck(_) => "SubscribeAck",
            Self::Unsubscribe(_) => "Unsubscribe",
            Self::TickBatch(_) => "TickBatch",
            Self::CandleBatch(_) => "CandleBatch",
            Self::Snapshot(_) => "Snapshot",
            Self::Gap(_) => "Gap",
            Self::Heartbeat(_) => "Heartbeat",
            Self::Publish(_) => "Publish",
            Self::PublishAck(_) => "PublishAck",
            Self::Query(_) => "Query",
            Self::QueryResult(_) => "QueryResult",
            Self::Error(_) => "Error",
        }
    }
}
