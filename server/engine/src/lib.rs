//! tickd's sans-IO server core (DESIGN.md §1): sequencing, validation, candle aggregation,
//! subscription registry, conflation and gap/replay decisions. Time comes in as an argument;
//! this crate never touches tokio, sockets, files or clocks.
//!
//! The foundation issue leaves it empty; the main-job issue fills it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod candle;

pub use candle::{CandleBook, CandleConfig, CandleStats, Take, fill_previous};
pub mod validate;

pub use validate::{Invalid, validate};
pub mod session;
pub mod subscription;

pub use session::{PublishRequest, Session, SessionConfig, SessionError, SessionEvent};
pub use subscription::Filter;
pub mod auth;

pub use auth::{Auth, AuthError, Token};
