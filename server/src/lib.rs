//! The tickd server shell (DESIGN.md §1): the IO around the sans-IO crates (`tickd-engine`,
//! `tickd-protocol`), in folders that name the architecture. Data flows one way:
//!
//! ```text
//! feed ──► ingest (queue, sequencer) ──► storage (ring, journal, latest) ──► query ──► net, http
//! ```
//!
//! - [`feed`]: where ticks come from (synthetic walk, recorded files).
//! - [`ingest`]: the sequencer's input queue and thread, the symbol table.
//! - [`storage`]: the shm files, the journal and the epoch.
//! - [`query`]: the read side every door shares.
//! - [`net`]: TCP and QUIC listeners, limits, TLS, connection drivers.
//! - [`http`]: the JSON/WebSocket bridge.
//! - [`app`]: the composition root, the only module that knows every part; [`config`],
//!   [`metrics`] and [`clock`] serve them all.
#![forbid(unsafe_code)]

pub mod app;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod feed;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod net;
pub mod query;
pub mod storage;
