//! The engine's side of the loop: one delivery poll (with its metrics), and its queued frames
//! routed where they go: the connection's stream, a subscription's QUIC stream, a datagram.

use bytes::BytesMut;
use futures_util::FutureExt;
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
    /// (while it holds less than [`WRITE_BUFFER`]), a subscription's to its QUIC stream's sink
    /// (while it has room), quotes in datagram mode as datagrams. Stops at the first frame
    /// whose destination is full, so frames keep their order. Then writes what the QUIC
    /// streams take without waiting.
    pub(super) fn route(&mut self, out: &mut BytesMut) -> Result<(), ConnError> {
        while self.has_room(out.len()) {
            let Some((dest, frame)) = self.delivery.pop() else {
                break;
            };
            match dest {
                Dest::Control => out.extend_from_slice(&frame),
                Dest::Stream(id) => {
                    if let Some(sink) = self.sinks.get_mut(&id) {
                        sink.push(frame);
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
            while sink.is_pending() {
                match sink.write().now_or_never() {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(std::io::Error::other(e).into()),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Whether the engine's next frame can be routed now: its stream's buffer has room
    /// (`out_len`: bytes waiting for the connection's own stream). `false` with nothing queued.
    pub(super) fn has_room(&self, out_len: usize) -> bool {
        match self.delivery.front() {
            None => false,
            Some(Dest::Control) => out_len < WRITE_BUFFER,
            Some(Dest::Stream(id)) => self.sinks.get(&id).is_none_or(super::Sink::has_room),
            Some(Dest::Datagram(_)) => true,
        }
    }

    /// Whether a QUIC data stream has frames waiting for flow control.
    pub(super) fn sinks_pending(&self) -> bool {
        self.sinks.values().any(super::Sink::is_pending)
    }
}

/// Waits until one of the waiting QUIC data streams takes bytes, and writes them.
pub(super) async fn write_sinks(
    sinks: &mut std::collections::HashMap<u32, super::Sink>,
) -> Result<usize, ConnError> {
    let Some(sink) = sinks.values_mut().find(|s| s.is_pending()) else {
        return std::future::pending().await;
    };
    sink.write()
        .await
        .map_err(|e| ConnError::Io(std::io::Error::other(e)))
}
