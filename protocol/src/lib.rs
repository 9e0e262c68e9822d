//! The tickd wire protocol and exact market data types (DESIGN.md §2, §6).
//!
//! - [`types`]: fixed-point [`Price`] and [`Quantity`] (1 unit = 1e-9, exact decimal text),
//!   [`UnixNanos`] (ns since the Unix epoch, UTC), [`InstrumentId`], [`Seq`], [`Epoch`].
//! - [`Scales`]: an instrument's price and size decimal places (default 9 and 9), to parse and
//!   render its records' raw integers exactly.
//! - [`Symbol`]: a validated instrument name, stored inline.
//! - [`record`]: the 64-byte [`TickRecord`] (ring slot, wire `Tick`, journal record) and the
//!   192-byte [`CandleRecord`], with typed [`Trade`] and [`Quote`] views.
//! - [`frame`]: `u32` LE length-prefixed framing with a configurable maximum.
//! - [`message`]: the FlatBuffers messages (`schema/tickd.fbs`), verified on decode.
//!
//! This crate is sans-IO: no tokio, sockets, files or clocks. Records are little-endian on the
//! wire; conversions are explicit and safe.
//!
//! ```
//! use bytes::BytesMut;
//! use tickd_protocol::*;
//!
//! let mut trade = TickRecord::new_trade(
//!     InstrumentId(0),
//!     UnixNanos(1_696_680_000_123_000_000),
//!     Side::Buy,
//!     &Trade { price: "171.23".parse()?, size: "100".parse()?, trade_id: 1, venue: 0, conditions: 0 },
//! );
//! trade.seq = 1;
//! let records = [trade];
//! let batch = TickBatch { subscription_id: 1, epoch: Epoch(1), ticks: Records::Slice(&records) };
//! let mut wire = BytesMut::new();
//! Encoder::new().encode(&Message::TickBatch(batch), &mut wire);
//!
//! let frame = split_frame(&mut wire, MAX_FRAME_LEN)?.expect("whole frame");
//! let Message::TickBatch(got) = Message::decode(&frame)? else { unreachable!() };
//! assert_eq!(got.ticks.get(0), Some(trade));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

#[cfg(not(target_endian = "little"))]
compile_error!(
    "tickd maps records as native words and sends them little-endian: little-endian targets only"
);

pub mod decimal;
pub mod files;
pub mod frame;
pub mod message;
pub mod record;
pub mod scale;
pub mod symbol;
pub mod tick_frame;
pub mod types;
pub mod version;

#[allow(unsafe_code, missing_docs, unreachable_pub, unused_imports, clippy::all, clippy::pedantic, clippy::nursery)]
#[allow(mismatched_lifetime_syntaxes, unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc, clippy::multiple_unsafe_ops_per_block)]
#[rustfmt::skip]
mod generated {
    //! flatc 23.5.26 output for `schema/tickd.fbs`; regenerate with `protocol/codegen.sh`.
    #[path = "tickd_generated.rs"]
    mod tickd_generated;
    pub(crate) use tickd_generated::tickd::wire;
}

pub use decimal::ParseDecimalError;
pub use frame::{FrameError, LEN_PREFIX_BYTES, MAX_FRAME_LEN, put_frame, split_frame};
pub use message::{
    CandleBatch, Candles, DecodeError, Encoder, ErrorCode, ErrorMessage, FeedStat, Gap, GapReason,
    Heartbeat, Hello, Instrument, Message, Page, Publish, PublishAck, Query, QueryResult,
    QuerySpec, Records, Rejection, Roles, Selection, SlowConsumerPolicy, Snapshot, Start,
    Subscribe, SubscribeAck, TickBatch, Ticks, Unsubscribe, VenueHole, Welcome, WireRecord,
};
pub use record::{
    CandleRecord, Interval, ParseIntervalError, Quote, RecordError, TickRecord, TickView, Trade,
};
pub use scale::{ScaleMap, Scaled, Scales, ScalesError};
pub use symbol::{Symbol, SymbolError};
pub use types::{Epoch, InstrumentId, Price, Quantity, Seq, Side, TickKind, UnixNanos};
pub use version::{ALPN, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, negotiate};
