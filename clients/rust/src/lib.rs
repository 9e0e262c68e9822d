//! Rust client library for tickd (DESIGN.md §1, §6). The network client arrives with the main-job
//! and QUIC issues; today it re-exports the protocol and shared-memory crates it builds on.
#![forbid(unsafe_code)]

pub use tickd_protocol as protocol;
pub use tickd_shm as shm;
