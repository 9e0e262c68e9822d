//! Framing: a `u32` little-endian payload length, then the payload (one FlatBuffers
//! `Message`). Splitting is incremental over a [`BytesMut`] so any chunking of the byte stream
//! yields the same frames.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes in the length prefix.
pub const LEN_PREFIX_BYTES: usize = 4;
/// Default largest payload accepted, in bytes (1 MiB); configurable per connection.
pub const MAX_FRAME_LEN: u32 = 1 << 20;

/// Why inbound bytes could not be split into a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix is larger than the configured limit. The stream cannot be
    /// resynchronised, so the connection must be closed.
    #[error("frame length {len} exceeds limit {max}")]
    FrameTooLong {
        /// Length announced by the prefix, in bytes.
        len: u32,
        /// Configured limit, in bytes.
        max: u32,
    },
}

/// Splits one complete frame payload off the front of `buf`.
///
/// Returns `Ok(None)` if `buf` does not yet hold a whole frame: read more and call again. On
/// `Ok(Some(_))` the prefix and payload are consumed from `buf`; the payload is returned without
/// copying. O(1).
///
/// # Errors
///
/// [`FrameError::FrameTooLong`] if the prefix exceeds `max_len` (checked before the payload
/// arrives, so a hostile prefix never makes the caller buffer it).
pub fn split_frame(buf: &mut BytesMut, max_len: u32) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < LEN_PREFIX_BYTES {
        return Ok(None);
    }
    let len = (&buf[..LEN_PREFIX_BYTES]).get_u32_le();
    if len > max_len {
        return Err(FrameError::FrameTooLong { len, max: max_len });
    }
    let total = LEN_PREFIX_BYTES + len as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    buf.advance(LEN_PREFIX_BYTES);
    Ok(Some(buf.split_to(len as usize).freeze()))
}

/// Appends `payload` to `out` as one frame (prefix + payload).
///
/// # Panics
///
/// If `payload` is longer than `u32::MAX` bytes (never for messages this crate encodes, which
/// are bounded by the sender's frame budget).
pub fn put_frame(out: &mut BytesMut, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("frame payload longer than u32::MAX bytes");
    out.reserve(LEN_PREFIX_BYTES + payload.len());
    out.put_u32_le(len);
    out.put_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_whole_frames() {
        let mut buf = BytesMut::new();
        buf.put_slice(&[3, 0, 0]);
        assert_eq!(split_frame(&mut buf, 16), Ok(None));
        buf.put_slice(&[0, b'a', b'b']);
        assert_eq!(split_frame(&mut buf, 16), Ok(None));
        buf.put_slice(b"c\x00\x00\x00\x00");
        assert_eq!(
            split_frame(&mut buf, 16),
            Ok(Some(Bytes::from_static(b"abc")))
        );
        assert_eq!(split_frame(&mut buf, 16), Ok(Some(Bytes::new())));
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_oversized_prefix_before_payload() {
        let mut buf = BytesMut::from(&[17, 0, 0, 0][..]);
        assert_eq!(
            split_frame(&mut buf, 16),
            Err(FrameError::FrameTooLong { len: 17, max: 16 })
        );
    }

    #[test]
    fn put_frame_writes_le_prefix() {
        let mut out = BytesMut::new();
        put_frame(&mut out, b"xy");
        assert_eq!(&out[..], b"\x02\x00\x00\x00xy");
    }
}

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// However the wire is chunked, the same frames come out and nothing is left over.
        #[test]
        fn prop_any_chunking_yields_same_frames(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
            cut in 1usize..17,
        ) {
            let mut wire = BytesMut::new();
            for p in &payloads {
                put_frame(&mut wire, p);
            }
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for chunk in wire.chunks(cut) {
                buf.extend_from_slice(chunk);
                while let Some(frame) = split_frame(&mut buf, MAX_FRAME_LEN).unwrap() {
                    got.push(frame.to_vec());
                }
            }
            prop_assert_eq!(got, payloads);
            prop_assert!(buf.is_empty());
        }
    }
}
