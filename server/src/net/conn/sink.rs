//! A subscription's own QUIC stream for its data, and the frames waiting to be written to it.
//! Writes never wait: the connection's loop writes what flow control allows and comes back
//! when the stream can take more, so one stalled stream does not stop the connection's timers
//! or its other streams.

use std::collections::VecDeque;

use bytes::Bytes;

/// Bytes a sink holds besides the delivery engine's queue; beyond it, the engine's frames for
/// the stream wait in the engine's queue (within its budget).
pub(super) const SINK_BUFFER: usize = 256 * 1024;

/// A subscription's data stream (QUIC).
pub(super) struct Sink {
    pub(super) stream: quinn::SendStream,
    /// Complete frames not yet (fully) written, handed to quinn without a copy.
    chunks: VecDeque<Bytes>,
    /// Their bytes.
    pending: usize,
}

impl Sink {
    pub(super) fn new(stream: quinn::SendStream) -> Self {
        Self {
            stream,
            chunks: VecDeque::new(),
            pending: 0,
        }
    }

    /// Whether the sink takes another frame.
    pub(super) fn has_room(&self) -> bool {
        self.pending < SINK_BUFFER
    }

    /// Whether frames wait to be written.
    pub(super) fn is_pending(&self) -> bool {
        self.pending > 0
    }

    /// Queues a frame.
    pub(super) fn push(&mut self, frame: Bytes) {
        self.pending += frame.len();
        self.chunks.push_back(frame);
    }

    /// Writes what the stream's flow control takes now (waits only if it takes nothing).
    /// Cancel-safe: what was written is accounted before the future can be dropped, at an
    /// await point where nothing was written.
    pub(super) async fn write(&mut self) -> Result<usize, quinn::WriteError> {
        let (front, back) = self.chunks.as_mut_slices();
        let slices = if front.is_empty() { back } else { front };
        let written = self.stream.write_chunks(slices).await?;
        self.pending -= written.bytes;
        // Fully written chunks are emptied; a partly written one was advanced in place.
        for _ in 0..written.chunks {
            self.chunks.pop_front();
        }
        while self.chunks.front().is_some_and(Bytes::is_empty) {
            self.chunks.pop_front();
        }
        Ok(written.bytes)
    }
}
