//! The session state machine fed arbitrary frames (before and after a valid `Hello`), with
//! timers in between: nothing may panic, and whatever it queues for the peer must be frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickd_engine::{Session, SessionConfig};
use tickd_protocol::{Encoder, Epoch, Hello, Message, UnixNanos, split_frame};

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new(SessionConfig::default(), UnixNanos(1), Epoch(7));
    // Half the inputs start with a valid Hello, so the fuzzer reaches the ready state.
    if data.first().is_some_and(|b| b & 1 == 1) {
        let hello = Message::Hello(Hello {
            request_id: 1,
            min_version: tickd_protocol::PROTOCOL_VERSION,
            max_version: tickd_protocol::PROTOCOL_VERSION,
            client_name: "fuzz".into(),
            token: None,
        });
        let mut frame = bytes::BytesMut::new();
        Encoder::new().encode(&hello, &mut frame);
        if let Ok(Some(payload)) = split_frame(&mut frame, u32::MAX) {
            let _ = session.handle_frame(UnixNanos(2), &payload);
        }
    }
    let mut now = 3u64;
    for chunk in data.get(1..).unwrap_or_default().split(|&b| b == 0xFF) {
        now += u64::from(chunk.first().copied().unwrap_or(0)) * 1_000_000;
        if session.handle_frame(UnixNanos(now), chunk).is_err() {
            break;
        }
        while session.poll_event().is_some() {}
        let _ = session.handle_timeout(UnixNanos(now));
        while let Some(frame) = session.poll_transmit() {
            let mut b = bytes::BytesMut::from(&frame[..]);
            assert!(matches!(split_frame(&mut b, u32::MAX), Ok(Some(_))));
        }
    }
});
