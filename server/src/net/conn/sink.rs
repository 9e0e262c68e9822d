//! Where a subscription's data goes: the connection's own stream on TCP, a unidirectional
//! stream of its own on QUIC ([`Sink`]).

use bytes::BytesMut;
use tickd_engine::Session;
use tickd_protocol::{Encoder, Epoch, Message, Records, TickBatch, TickRecord};

use super::Sub;

/// A subscription's data stream and the frames waiting to be written to it.
pub(super) struct Sink {
    pub(super) stream: quinn::SendStream,
    /// Where frames are written; each is split off into `chunks` once complete, so the buffer
    /// never grows by copying (a new allocation starts when the current one is used up).
    pub(super) building: BytesMut,
    /// Complete frames, handed to quinn without a copy.
    pub(super) chunks: Vec<bytes::Bytes>,
}

/// Bytes a sink allocates at a time for its frames.
const SINK_BUFFER: usize = 1 << 20;

impl Sink {
    pub(super) fn new(stream: quinn::SendStream) -> Self {
        Self {
            stream,
            building: BytesMut::with_capacity(SINK_BUFFER),
            chunks: Vec::new(),
        }
    }

    /// Queues the frames written to `building` since the last call.
    pub(super) fn seal(&mut self) {
        if !self.building.is_empty() {
            self.chunks.push(self.building.split().freeze());
        }
    }
}

impl Sub {
    /// Queues a data message (ticks, candles, gaps, snapshot) where this subscription's data
    /// goes: its own stream on QUIC, the connection's stream on TCP.
    pub(super) fn emit(&mut self, session: &mut Session, encoder: &mut Encoder, msg: &Message<'_>) {
        emit_to(&mut self.sink, session, encoder, msg);
    }

    /// Queues `ticks` (if any) as one `TickBatch` of this subscription. Returns whether a
    /// frame was queued.
    pub(super) fn emit_ticks(
        &mut self,
        session: &mut Session,
        encoder: &mut Encoder,
        epoch: Epoch,
        ticks: &[TickRecord],
    ) -> bool {
        if ticks.is_empty() {
            return false;
        }
        let batch = TickBatch {
            subscription_id: self.id,
            epoch,
            ticks: Records::Slice(ticks),
        };
        self.emit(session, encoder, &Message::TickBatch(batch));
        true
    }
}

/// [`Sub::emit`] on the sink alone, for when another field of the subscription is borrowed.
pub(super) fn emit_to(
    sink: &mut Option<Sink>,
    session: &mut Session,
    encoder: &mut Encoder,
    msg: &Message<'_>,
) {
    match sink {
        Some(sink) => {
            encoder.encode(msg, &mut sink.building);
            sink.seal();
        }
        None => session.send(msg),
    }
}
