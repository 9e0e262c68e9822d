//! QUIC data delivery, read on the caller's task: the unidirectional stream the server opens for
//! each subscription, and datagram-mode quotes.
//!
//! No task and no channel sit between the socket and [`Client::next_event`](crate::Client::next_event):
//! a frame is decoded where it is consumed (one wake-up less per batch), and a caller that stops
//! reading stops the streams being read, so QUIC flow control holds the server back instead of
//! frames piling up in this process.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tickd_protocol::{MAX_FRAME_LEN, Message, split_frame};

use crate::client::{ClientError, Event, owned};

/// Bytes reserved per read of a data stream.
const READ_CHUNK: usize = 64 * 1024;

/// One subscription's data stream and its undecoded bytes.
struct DataStream {
    recv: quinn::RecvStream,
    buf: BytesMut,
}

/// Every data stream of a connection, plus its datagrams.
pub(crate) struct DataStreams {
    connection: quinn::Connection,
    streams: Vec<DataStream>,
    /// Where the next poll of the streams starts, so no stream starves the others.
    next: usize,
    /// Datagram-mode quotes decoded and not yet returned.
    latest: VecDeque<Event>,
}

impl DataStreams {
    pub(crate) fn new(connection: quinn::Connection) -> Self {
        Self {
            connection,
            streams: Vec::new(),
            next: 0,
            latest: VecDeque::new(),
        }
    }

    /// The next event of any data stream or datagram; `None` once the connection has closed.
    ///
    /// Cancel-safe: bytes read stay buffered in their stream, and accepting a stream or a
    /// datagram loses nothing when the future is dropped first.
    pub(crate) async fn next(&mut self) -> Option<Result<Event, ClientError>> {
        loop {
            if let Some(ev) = self.latest.pop_front() {
                return Some(Ok(ev));
            }
            if let Some(ev) = self.buffered() {
                return Some(ev);
            }
            let Self {
                connection,
                streams,
                next,
                latest,
            } = self;
            tokio::select! {
                read = std::future::poll_fn(|cx| poll_streams(streams, next, cx)), if !streams.is_empty() => {
                    if let Err(e) = read {
                        return Some(Err(e));
                    }
                }
                accepted = connection.accept_uni() => match accepted {
                    Ok(recv) => streams.push(DataStream { recv, buf: BytesMut::new() }),
                    Err(_) => return None,
                },
                datagram = connection.read_datagram() => match datagram {
                    // Each datagram is one TickBatch payload (no length prefix). One that does
                    // not decode is dropped: datagrams are best effort by design.
                    Ok(d) => {
                        if let Ok(Message::TickBatch(b)) = Message::decode(&d) {
                            latest.extend(b.ticks.iter().map(|tick| Event::Latest {
                                subscription_id: b.subscription_id,
                                epoch: b.epoch,
                                tick,
                            }));
                        }
                    }
                    Err(_) => return None,
                },
            }
        }
    }

    /// Decodes the first complete frame buffered in any stream.
    fn buffered(&mut self) -> Option<Result<Event, ClientError>> {
        for s in &mut self.streams {
            let frame = match split_frame(&mut s.buf, MAX_FRAME_LEN * 64) {
                Ok(Some(f)) => f,
                Ok(None) => continue,
                Err(e) => return Some(Err(e.into())),
            };
            return Some(match Message::decode(&frame) {
                Ok(msg) => owned(msg).map_err(|other| {
                    ClientError::Unexpected(format!("{other:?} on a data stream"))
                }),
                Err(e) => Err(e.into()),
            });
        }
        None
    }
}

/// Reads whatever any stream has; ready once one read something, ended or failed. A stream the
/// server finished is dropped (its complete frames were decoded before this poll).
fn poll_streams(
    streams: &mut Vec<DataStream>,
    next: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<Result<(), ClientError>> {
    let n = streams.len();
    let mut progressed = false;
    let mut finished = None;
    for k in 0..n {
        let i = (*next + k) % n;
        let s = &mut streams[i];
        s.buf.reserve(READ_CHUNK);
        match tokio_util::io::poll_read_buf(Pin::new(&mut s.recv), cx, &mut s.buf) {
            Poll::Ready(Ok(0)) => finished = Some(i),
            Poll::Ready(Ok(_)) => progressed = true,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
            Poll::Pending => {}
        }
        if progressed {
            *next = (i + 1) % n;
            break;
        }
    }
    if let Some(i) = finished {
        // Complete frames were all decoded before this poll: what is left is a partial one.
        let partial = streams.swap_remove(i).buf.len();
        *next = 0;
        if partial > 0 {
            return Poll::Ready(Err(ClientError::Unexpected(format!(
                "a data stream ended inside a frame ({partial} bytes left)"
            ))));
        }
        return Poll::Ready(Ok(()));
    }
    if progressed {
        Poll::Ready(Ok(()))
    } else {
        Poll::Pending
    }
}
