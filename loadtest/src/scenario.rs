//! Load-test scenarios, one module each.

pub(crate) mod quic_fanout;
