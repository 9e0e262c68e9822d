//! Parsers of outside formats into tickd tick records (DESIGN.md §1, §11). No network, no async
//! runtime, no clock: files in, [`TickRecord`](tickd_protocol::TickRecord)s and errors that say
//! `file:line` out. The server's replay feed and `tickctl publish` share them.
//!
//! - [`csv`]: the generic CSV replay format, optionally `.gz` or `.zst`.
//! - [`algoseek`]: AlgoSeek/Lean US equity tick zips, with per-venue quotes consolidated into
//!   NBBO ticks by [`nbbo`].
//! - [`time`]: the one parser of times given as integer ns or RFC 3339.
//! - [`venue`]: public crypto venues' WebSocket messages (Binance, Coinbase, OKX, Kraken), and
//!   recorded frames of them.
//! - [`LineError`]: one bad line, by file and line; [`TickLines`]: a source of ticks by line.
#![forbid(unsafe_code)]

pub mod algoseek;
pub mod csv;
mod error;
pub mod lines;
pub mod nbbo;
pub mod time;
pub mod venue;

pub use error::LineError;
pub use lines::TickLines;
