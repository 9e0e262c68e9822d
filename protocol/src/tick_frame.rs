//! The fan-out fast path: a `TickBatch` frame written straight from ring words.
//!
//! A `TickBatch` with at least one tick, a non-zero `subscription_id` and a non-zero `epoch` has
//! one layout whatever its length: a fixed 72-byte FlatBuffers head (root offset, file
//! identifier, the `Message` and `TickBatch` vtables and tables, the vector's length), then the
//! ticks as 64-byte little-endian structs. [`TickBatchFrame`] writes that head once per frame
//! and each tick with one copy, instead of the builder's per-element pushes and the copy of the
//! finished buffer. The bytes are identical to [`Encoder::encode`](crate::Encoder::encode)'s
//! (tested for every length up to 2,048 and random fields), so every decoder reads them as any
//! other frame.
//!
//! With a zero `subscription_id` or `epoch` the builder would omit the field (FlatBuffers does
//! not store defaults); this writer stores it explicitly, which decodes to the same message.

use bytes::{BufMut, BytesMut};

use crate::frame::LEN_PREFIX_BYTES;
use crate::record::TickRecord;
use crate::types::Epoch;

/// Bytes of FlatBuffers before the first tick.
const HEAD_LEN: usize = 72;
/// Bytes per tick on the wire.
const TICK_LEN: usize = 64;
/// Where the head's variable fields are, from the start of the payload.
const SUBSCRIPTION_AT: usize = 0x30;
const EPOCH_AT: usize = 0x38;
const COUNT_AT: usize = 0x44;

/// The head as the builder lays it out (vtables, offsets and the `TickBatch` union tag), with
/// zeros where the subscription, epoch and tick count go.
#[rustfmt::skip]
const HEAD: [u8; HEAD_LEN] = [
    // root: uoffset to the Message table (0x14), file identifier, padding
    0x14, 0, 0, 0, b'T', b'I', b'C', b'K', 0, 0, 0, 0,
    // Message vtable: 8 bytes, table 14 bytes, body_type at 7, body at 8
    0x08, 0, 0x0e, 0, 0x07, 0, 0x08, 0,
    // Message table: soffset to its vtable, padding, body_type = TickBatch (6), body uoffset
    0x08, 0, 0, 0, 0, 0, 0, 0x06, 0x10, 0, 0, 0,
    // padding, TickBatch vtable: 10 bytes, table 24 bytes, subscription_id at 4, epoch at 12,
    // ticks at 8
    0, 0, 0x0a, 0, 0x18, 0, 0x04, 0, 0x0c, 0, 0x08, 0,
    // TickBatch table: soffset to its vtable, subscription_id, ticks uoffset (0x10), epoch
    0x0a, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    // padding, vector length
    0, 0, 0, 0, 0, 0, 0, 0,
];

/// A `TickBatch` frame being appended to a buffer.
///
/// ```
/// # use bytes::BytesMut;
/// # use tickd_protocol::{Epoch, Message, split_frame, tick_frame::TickBatchFrame, TickRecord};
/// let mut out = BytesMut::new();
/// let mut frame = TickBatchFrame::begin(&mut out, 7, Epoch(3), 1);
/// frame.push(&TickRecord::default());
/// assert_eq!(frame.finish(), 1);
/// let payload = split_frame(&mut out, 1 << 20).unwrap().unwrap();
/// assert!(matches!(Message::decode(&payload), Ok(Message::TickBatch(b)) if b.ticks.len() == 1));
/// ```
#[derive(Debug)]
pub struct TickBatchFrame<'a> {
    out: &'a mut BytesMut,
    /// Where this frame's length prefix is in `out`.
    start: usize,
    ticks: u32,
}

impl<'a> TickBatchFrame<'a> {
    /// Starts a frame for `subscription_id` in `epoch` at the end of `out`, with room reserved
    /// for `capacity` ticks.
    pub fn begin(
        out: &'a mut BytesMut,
        subscription_id: u32,
        epoch: Epoch,
        capacity: usize,
    ) -> Self {
        let start = out.len();
        out.reserve(LEN_PREFIX_BYTES + HEAD_LEN + capacity * TICK_LEN);
        out.put_u32_le(0);
        let head = out.len();
        out.put_slice(&HEAD);
        out[head + SUBSCRIPTION_AT..head + SUBSCRIPTION_AT + 4]
            .copy_from_slice(&subscription_id.to_le_bytes());
        out[head + EPOCH_AT..head + EPOCH_AT + 8].copy_from_slice(&epoch.0.to_le_bytes());
        Self {
            out,
            start,
            ticks: 0,
        }
    }

    /// Appends a tick given as its ring words ([`TickRecord::to_words`]).
    #[inline]
    pub fn push_words(&mut self, words: &[u64; 8]) {
        // One 64-byte copy (the conversion is a no-op on little-endian targets); a `put_u64_le`
        // per word would cost a bounds check and a call each.
        let mut bytes = [0u8; TICK_LEN];
        for (chunk, w) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        self.out.extend_from_slice(&bytes);
        self.ticks += 1;
    }

    /// Appends a tick.
    #[inline]
    pub fn push(&mut self, tick: &TickRecord) {
        self.push_words(&tick.to_words());
    }

    /// Ticks appended so far.
    pub fn len(&self) -> usize {
        self.ticks as usize
    }

    /// Whether no tick has been appended.
    pub fn is_empty(&self) -> bool {
        self.ticks == 0
    }

    /// Completes the frame and returns its tick count. A frame with no ticks is removed from
    /// the buffer (nothing is sent for it).
    pub fn finish(self) -> usize {
        if self.ticks == 0 {
            self.out.truncate(self.start);
            return 0;
        }
        let payload = (HEAD_LEN + self.ticks as usize * TICK_LEN) as u32;
        let s = self.start;
        self.out[s..s + LEN_PREFIX_BYTES].copy_from_slice(&payload.to_le_bytes());
        let count = s + LEN_PREFIX_BYTES + COUNT_AT;
        self.out[count..count + 4].copy_from_slice(&self.ticks.to_le_bytes());
        self.ticks as usize
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::message::{Encoder, Message, Records, TickBatch};
    use crate::split_frame;

    fn record(i: u64, salt: u64) -> TickRecord {
        let mut w = [0u64; 8];
        for (k, x) in w.iter_mut().enumerate() {
            *x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k as u64) ^ salt;
        }
        TickRecord::from_words(&w)
    }

    fn generic(sub: u32, epoch: u64, ticks: &[TickRecord]) -> BytesMut {
        let mut out = BytesMut::new();
        Encoder::new().encode(
            &Message::TickBatch(TickBatch {
                subscription_id: sub,
                epoch: Epoch(epoch),
                ticks: Records::Slice(ticks),
            }),
            &mut out,
        );
        out
    }

    fn fast(sub: u32, epoch: u64, ticks: &[TickRecord], out: &mut BytesMut) -> usize {
        let mut f = TickBatchFrame::begin(out, sub, Epoch(epoch), ticks.len());
        for t in ticks {
            f.push_words(&t.to_words());
        }
        f.finish()
    }

    #[test]
    fn every_length_is_byte_identical_to_the_encoder() {
        let all: Vec<_> = (0..2_048).map(|i| record(i, 0)).collect();
        for n in 1..=all.len() {
            let mut out = BytesMut::new();
            assert_eq!(fast(1, 1, &all[..n], &mut out), n);
            assert_eq!(&out[..], &generic(1, 1, &all[..n])[..], "{n} ticks");
        }
    }

    #[test]
    fn an_empty_frame_leaves_the_buffer_as_it_was() {
        let mut out = BytesMut::from(&b"before"[..]);
        assert_eq!(fast(3, 4, &[], &mut out), 0);
        assert_eq!(&out[..], b"before");
    }

    #[test]
    fn zero_fields_are_written_explicitly_and_decode_the_same() {
        let ticks = [record(1, 2), record(2, 3)];
        let mut out = BytesMut::new();
        fast(0, 0, &ticks, &mut out);
        let payload = split_frame(&mut out, 1 << 20).unwrap().unwrap();
        let Ok(Message::TickBatch(b)) = Message::decode(&payload) else {
            panic!("not a TickBatch");
        };
        assert_eq!((b.subscription_id, b.epoch), (0, Epoch(0)));
        assert_eq!(b.ticks.to_vec(), ticks);
    }

    proptest! {
        #[test]
        fn frames_appended_after_others_match_the_encoder(
            sub in 1u32.., epoch in 1u64.., n in 1usize..300, salt: u64, before in 0usize..100,
        ) {
            let ticks: Vec<_> = (0..n as u64).map(|i| record(i, salt)).collect();
            let mut out = BytesMut::from(&vec![0xEE; before][..]);
            fast(sub, epoch, &ticks, &mut out);
            prop_assert_eq!(&out[before..], &generic(sub, epoch, &ticks)[..]);
        }
    }
}
