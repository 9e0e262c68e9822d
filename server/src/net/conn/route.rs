//! The engine's side of the loop: one delivery poll (with its metrics), and its queued frames
//! routed where they go: the connection's stream, a subscription's QUIC stream, a datagram.

use bytes::BytesMut;
use tickd_engine::delivery::Dest;
use tickd_protocol::ErrorCode;

use super::{Conn, ConnError, WRITE_BUFFER};
use crate::clock;
use crate::net::delivery::{QueryStore, report};

impl Conn {
    /// Renders what the subscriptions have available. Returns whether more is waiting.
    pub(super) fn poll_delivery(&mut self) -> Result<bool, ConnError> {
        let before = self.delivery.queued();
        let polled = self
            .delivery
            .poll(&mut QueryStore(&self.services.query), &mut self.render);
        let transport = if self.quic.is_some() { "quic" } else { "tcp" };
        report(&mut self.delivery, transport);
        match polled {
            Ok(more) => {
                if self.delivery.queued() > before {
                    self.session.data_sent(clock::now());
                }
                Ok(more)
            }
            Err(slow) => {
                self.session.send_error(
                    0,
                    ErrorCode::LimitExceeded,
                    format!("{slow}: disconnecting (policy disconnect)"),
                );
                crate::metrics::slow_consumer_disconnect();
                Err(ConnError::SlowConsumer)
            }
        }
    }

    /// Takes frames from the engine's queue, oldest first: the connection's own into `out`
    /// (while it holds less than [`WRITE_BUFFER`]), a subscription's to its QUIC stream
    /// (written here; QUIC flow control paces it), quotes in datagram mode as datagrams.
    pub(super) async fn route(&mut self, out: &mut BytesMut) -> Result<(), ConnError> {
        loop {
            if out.len() >= WRITE_BUFFER {
                break;
            }
            let Some((dest, frame)) = self.delivery.pop() else {
                break;
            };
            match dest {
                Dest::Control => out.extend_from_slice(&frame),
                Dest::Stream(id) => {
                    if let Some(sink) = self.sinks.get_mut(&id) {
                        sink.chunks.push(frame);
                    }
                }
                Dest::Datagram(_) => {
                    if let Some(connection) = &self.quic {
                        // Unreliable by design: a datagram the path drops is superseded by
                        // the next. The payload without the stream's length prefix.
                        let _ = connection.send_datagram(frame.slice(4..));
                    }
                }
            }
        }
        for sink in self.sinks.values_mut() {
            if sink.chunks.is_empty() {
                continue;
            }
            sink.stream
                .write_all_chunks(&mut sink.chunks)
                .await
                .map_err(std::io::Error::other)?;
            sink.chunks.clear();
        }
        Ok(())
    }
}
