//! Rust client library for tickd (DESIGN.md §6).
//!
//! - [`Client`]: an async connection over TCP or QUIC ([`quic::Verify`]): `Hello`, queries, subscriptions as a stream of
//!   [`Event`]s, all in tickd's FlatBuffers frames.
//! - [`shm::ShmClient`] (feature `shm`, on by default): reads a co-located server's tick ring,
//!   symbol directory and latest table directly, with no server round trip.
//!
//! # Feature flags
//!
//! - `shm` (default): the shared-memory reader.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tickd_client::ClientError> {
//! use tickd_client::{Client, Event};
//! use tickd_protocol::{Interval, Selection, SlowConsumerPolicy, Start, Subscribe, Symbol};
//!
//! let mut client = Client::connect("127.0.0.1:7400").await?;
//! let ack = client
//!     .subscribe(Subscribe {
//!         request_id: 0,
//!         selection: Selection::Symbols(vec![Symbol::new("AAPL").unwrap()]),
//!         trades: true,
//!         quotes: false,
//!         candles: vec![Interval::M1],
//!         start: Start::Latest,
//!         snapshot: false,
//!         policy: SlowConsumerPolicy::Drop,
//!         datagrams: false,
//!     })
//!     .await?;
//! while let Some(event) = client.next_event().await? {
//!     if let Event::Ticks { ticks, .. } = event {
//!         println!("{} ticks for subscription {}", ticks.len(), ack.subscription_id);
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod data;
pub mod quic;
#[cfg(feature = "shm")]
pub mod shm;

pub use client::{Client, ClientError, Event, QueryAnswer};
pub use tickd_protocol as protocol;
