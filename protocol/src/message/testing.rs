//! Frames no well-behaved peer sends, for tests of error handling in this and other crates.

use flatbuffers::FlatBufferBuilder;

use crate::generated::wire;

/// A verified message whose body has union tag `tag` (a Heartbeat's bytes), as a newer
/// peer would send for a message type this build does not know.
pub fn unknown_message(tag: u8) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let hb = wire::Heartbeat::create(
        &mut fbb,
        &wire::HeartbeatArgs {
            epoch: 1,
            head_seq: 2,
            server_time: 3,
        },
    );
    let root = wire::Message::create(
        &mut fbb,
        &wire::MessageArgs {
            body_type: wire::Body(tag),
            body: Some(hb.as_union_value()),
        },
    );
    wire::finish_message_buffer(&mut fbb, root);
    fbb.finished_data().to_vec()
}
