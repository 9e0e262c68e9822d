//! Ingest (DESIGN.md §4): the sequencer's input queue and message types ([`input`]), the
//! sequencer thread, the ring's only writer ([`sequencer`]), the symbol table it keeps
//! ([`instruments`]), its health ([`status`]) and the venues' instrument definitions
//! ([`definitions`]). Feeds (`crate::feed`) and publishers (`crate::net`) hand it batches; the
//! read side (`crate::query`) sees what it publishes.

pub mod definitions;
pub mod input;
pub mod instruments;
pub mod sequencer;
pub mod status;
