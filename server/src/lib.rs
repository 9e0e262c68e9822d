//! The tickd server shell (DESIGN.md §1): configuration, the sequencer thread, feeds, the shm
//! store and the network listeners. The sans-IO logic lives in `tickd-engine` and
//! `tickd-protocol`; this crate does the IO around it.
#![forbid(unsafe_code)]

pub mod app;
pub mod clock;
pub mod config;
pub mod conn;
pub mod feed;
pub mod http;
pub mod input;
pub mod instruments;
pub mod journal;
pub mod limits;
pub mod metrics;
pub mod quic;
pub mod sequencer;
pub mod serve;
pub mod services;
pub mod store;
pub mod tls;
