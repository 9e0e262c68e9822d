//! Arbitrary bytes from a peer: split into length-prefixed frames (the 1 MiB limit), each
//! decoded as a `Message`. Nothing may panic; a frame that decodes must encode again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickd_protocol::{Encoder, MAX_FRAME_LEN, Message, split_frame};

fuzz_target!(|data: &[u8]| {
    let mut buf = bytes::BytesMut::from(data);
    while let Ok(Some(frame)) = split_frame(&mut buf, MAX_FRAME_LEN) {
        if let Ok(msg) = Message::decode(&frame) {
            let mut out = bytes::BytesMut::new();
            Encoder::new().encode(&msg, &mut out);
            assert!(!out.is_empty());
        }
    }
});
