//! Storage (DESIGN.md §4, §5): the shared-memory files the sequencer writes ([`store`]), the
//! journal that makes them durable and rebuilds them at restart ([`journal`]), and the epoch kept
//! beside it ([`epoch`]).

pub mod epoch;
pub mod journal;
pub mod store;
