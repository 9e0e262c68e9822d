//! Load-test scenarios, one module each.

pub(crate) mod cluster;
pub(crate) mod hostile_ingest;
pub(crate) mod quic_fanout;
pub(crate) mod rest;
pub(crate) mod shm;
pub(crate) mod tcp_fanout;
pub(crate) mod ws_hold;
pub(crate) mod ws_receiver;
