//! A subscription's own QUIC stream for its data, and the frames waiting to be written to it.

use bytes::Bytes;

/// A subscription's data stream (QUIC).
pub(super) struct Sink {
    pub(super) stream: quinn::SendStream,
    /// Complete frames, handed to quinn without a copy.
    pub(super) chunks: Vec<Bytes>,
}

impl Sink {
    pub(super) fn new(stream: quinn::SendStream) -> Self {
        Self {
            stream,
            chunks: Vec::new(),
        }
    }
}
