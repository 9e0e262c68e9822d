//! How delivered records become bytes: the binary protocol's FlatBuffers frames ([`Binary`]),
//! or a shell's own encoding (the WebSocket dialects' JSON).

use bytes::{Bytes, BytesMut};
use tickd_protocol::tick_frame::TickBatchFrame;
use tickd_protocol::{
    CandleBatch, CandleRecord, Encoder, Epoch, Gap, Message, Records, Seq, TickRecord,
};

/// One queued message: its size counts against the connection's budget.
pub trait Payload {
    /// Its size, bytes.
    fn byte_len(&self) -> usize;
}

impl Payload for Bytes {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

impl Payload for String {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// Encodes what a subscription delivers. Each method returns the messages to queue, in order
/// (none when the format has nothing to say, e.g. a dialect without gap messages).
pub trait Render {
    /// One message: a binary frame ([`Bytes`]), a WebSocket text message ([`String`]).
    type Frame: Payload;
    /// `ticks` of subscription `sub`, in seq order (all pass its filter).
    fn ticks(&mut self, sub: u32, epoch: Epoch, ticks: &[TickRecord], out: &mut Vec<Self::Frame>);
    /// Candle updates of subscription `sub`, current as of tick `seq`.
    fn candles(
        &mut self,
        sub: u32,
        epoch: Epoch,
        seq: Seq,
        candles: &[CandleRecord],
        out: &mut Vec<Self::Frame>,
    );
    /// Records `gap.from..=gap.to` will not be delivered, and why.
    fn gap(&mut self, gap: &Gap, out: &mut Vec<Self::Frame>);
}

/// The binary protocol: a length-prefixed FlatBuffers frame per batch.
#[derive(Debug, Default)]
pub struct Binary {
    encoder: Encoder,
    /// Frames are written here and split off, so one allocation serves many frames.
    buf: BytesMut,
}

/// Bytes [`Binary`] allocates at a time for its frames.
const FRAME_BUFFER: usize = 256 * 1024;

impl Binary {
    /// A renderer with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// `msg` as one frame.
    pub fn message(&mut self, msg: &Message<'_>) -> Bytes {
        self.reserve();
        self.encoder.encode(msg, &mut self.buf);
        self.buf.split().freeze()
    }

    fn reserve(&mut self) {
        if self.buf.capacity() < 4096 {
            self.buf.reserve(FRAME_BUFFER);
        }
    }
}

impl Render for Binary {
    type Frame = Bytes;

    fn ticks(&mut self, sub: u32, epoch: Epoch, ticks: &[TickRecord], out: &mut Vec<Bytes>) {
        if ticks.is_empty() {
            return;
        }
        self.reserve();
        let mut frame = TickBatchFrame::begin(&mut self.buf, sub, epoch, ticks.len());
        for t in ticks {
            frame.push(t);
        }
        frame.finish();
        out.push(self.buf.split().freeze());
    }

    fn candles(
        &mut self,
        sub: u32,
        epoch: Epoch,
        _seq: Seq,
        candles: &[CandleRecord],
        out: &mut Vec<Bytes>,
    ) {
        if candles.is_empty() {
            return;
        }
        let batch = CandleBatch {
            subscription_id: sub,
            epoch,
            candles: Records::Slice(candles),
        };
        out.push(self.message(&Message::CandleBatch(batch)));
    }

    fn gap(&mut self, gap: &Gap, out: &mut Vec<Bytes>) {
        out.push(self.message(&Message::Gap(*gap)));
    }
}
