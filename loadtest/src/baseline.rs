//! The systems users would pick instead, driven with the same payloads and rates as tickd.

pub(crate) mod bare_hyper;
pub(crate) mod bare_quinn;
pub(crate) mod iceoryx2;
pub(crate) mod nats;
pub(crate) mod redis;
