//! tickd's sans-IO server core (DESIGN.md §1): sequencing ([`sequence()`]: resolve, validate,
//! stamp, write through a [`RecordSink`]), validation, candle aggregation, the per-connection
//! session state machine, subscription filters and token checks. Time comes in as an argument;
//! this crate never touches tokio, sockets, files or clocks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod candle;
pub mod delivery;

pub use candle::{
    CandleBook, CandleConfig, CandleStats, CandleView, Take, TradePrint, fill_previous,
};
pub use delivery::{Delivery, DeliveryConfig, Dest, Render, Ring, SubSpec};
pub mod sequence;
pub mod validate;

pub use sequence::{BatchOutcome, FeedIds, RecordSink, Skew, sequence};

pub use validate::{Invalid, validate};
pub mod session;
pub mod subscription;

pub use session::{PublishRequest, Session, SessionConfig, SessionError, SessionEvent};
pub use subscription::Filter;
pub mod auth;

pub use auth::{Auth, AuthError, Token};
