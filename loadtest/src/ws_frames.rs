//! The WebSocket framing the load generator reads on its hot path (RFC 6455 §5.2): frames from
//! a server, which are unmasked, taken straight out of one receive buffer with no copy, no
//! allocation and no UTF-8 pass. tungstenite does the opening handshake; this replaces only its
//! per-message read, which alone cost more than the load generator's whole budget per tick
//! (100 ns: header parse, a `Bytes` per message, UTF-8 validation, a zeroed read chunk).
//!
//! What a client must send is written here too: the subscription (a masked text frame) and
//! pongs. The mask key is zero, which RFC 6455 allows (§5.3 asks clients for an unpredictable
//! key to protect intermediaries from browser scripts; a load generator has no such script).

use std::io;

use tokio::net::TcpStream;

/// A frame from the server, borrowing its payload from the receive buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A whole (final, unfragmented) text message.
    Text(&'a [u8]),
    /// A ping, to be answered with a pong carrying the same payload.
    Ping(&'a [u8]),
    /// The server is closing.
    Close,
    /// Pong or binary: nothing the receiver needs.
    Other,
}

/// What the server sent that this reader cannot take.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// A masked frame: servers must not mask (§5.1).
    Masked,
    /// A fragment: tickd sends every message in one frame.
    Fragmented,
    /// A frame larger than the buffer's limit.
    TooLarge(u64),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Masked => f.write_str("the server sent a masked frame"),
            Self::Fragmented => f.write_str("the server sent a fragmented message"),
            Self::TooLarge(n) => write!(f, "the server sent a {n}-byte frame"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Frames cut from the bytes received so far.
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl FrameReader {
    /// A reader with a `capacity`-byte receive buffer (also the largest frame it takes).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity],
            start: 0,
            end: 0,
        }
    }

    /// The next whole frame received, or `None` until more bytes come.
    ///
    /// # Errors
    ///
    /// A frame a server must not send, or one larger than the buffer.
    pub(crate) fn next(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        let have = &self.buf[self.start..self.end];
        let [b0, b1, ..] = *have else {
            return Ok(None);
        };
        if b1 & 0x80 != 0 {
            return Err(FrameError::Masked);
        }
        let (header, len) = match b1 & 0x7f {
            126 if have.len() >= 4 => (4, u64::from(u16::from_be_bytes([have[2], have[3]]))),
            127 if have.len() >= 10 => {
                let mut n = [0; 8];
                n.copy_from_slice(&have[2..10]);
                (10, u64::from_be_bytes(n))
            }
            126 | 127 => return Ok(None),
            n => (2, u64::from(n)),
        };
        if len > (self.buf.len() - header) as u64 {
            return Err(FrameError::TooLarge(len));
        }
        // Fits in the buffer, so in a usize.
        let total = header + len as usize;
        if have.len() < total {
            return Ok(None);
        }
        let payload = &self.buf[self.start + header..self.start + total];
        self.start += total;
        let fin = b0 & 0x80 != 0;
        Ok(Some(match b0 & 0x0f {
            0x1 if fin => Frame::Text(payload),
            0x0 | 0x1 => return Err(FrameError::Fragmented),
            0x8 => Frame::Close,
            0x9 => Frame::Ping(payload),
            _ => Frame::Other,
        }))
    }

    /// Reads what the socket has without waiting: the bytes read, 0 at end of stream, or
    /// `WouldBlock` (then wait for `stream.readable()`).
    ///
    /// # Errors
    ///
    /// The socket's.
    pub(crate) fn fill(&mut self, stream: &TcpStream) -> io::Result<usize> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.buf.len() - self.end < self.buf.len() / 4 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        let n = stream.try_read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Takes bytes as if received (tests).
    #[cfg(test)]
    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }
}

/// A client frame (masked, with a zero key) of `opcode` carrying `payload`.
pub(crate) fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

/// Opcode of a text frame.
pub(crate) const TEXT: u8 = 0x1;
/// Opcode of a pong.
pub(crate) const PONG: u8 = 0xA;

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = client_frame(first & 0x0f, payload);
        f[0] = first;
        // Unmask: clear the bit and drop the (zero) key.
        f[1] &= 0x7f;
        let key_at = match f[1] {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        f.drain(key_at..key_at + 4);
        f
    }

    #[test]
    fn frames_come_whole_across_reads() {
        let long = vec![b'x'; 300];
        let mut bytes = server_frame(0x81, b"{\"type\":\"trade\"}");
        bytes.extend(server_frame(0x89, b"hi"));
        bytes.extend(server_frame(0x81, &long));
        bytes.extend(server_frame(0x88, &[0x03, 0xe8]));
        let mut r = FrameReader::new(1024);
        // One byte at a time: no frame before its last byte.
        let mut got = Vec::new();
        for b in &bytes {
            r.push(std::slice::from_ref(b));
            while let Some(f) = r.next().unwrap() {
                got.push(match f {
                    Frame::Text(t) => format!("text {}", t.len()),
                    Frame::Ping(p) => format!("ping {}", String::from_utf8_lossy(p)),
                    Frame::Close => "close".into(),
                    Frame::Other => "other".into(),
                });
            }
        }
        assert_eq!(got, ["text 16", "ping hi", "text 300", "close"]);
    }

    #[test]
    fn frames_a_server_must_not_send_are_refused() {
        let mut r = FrameReader::new(64);
        r.push(&[0x81, 0x82, 0, 0, 0, 0, b'a', b'b']);
        assert_eq!(r.next(), Err(FrameError::Masked));
        let mut r = FrameReader::new(64);
        r.push(&server_frame(0x01, b"part"));
        assert_eq!(r.next(), Err(FrameError::Fragmented));
        let mut r = FrameReader::new(64);
        r.push(&[0x81, 126, 0x01, 0x00]);
        assert_eq!(r.next(), Err(FrameError::TooLarge(256)));
    }

    #[test]
    fn client_frames_are_masked_with_a_zero_key() {
        assert_eq!(
            client_frame(PONG, b"hi"),
            [0x8a, 0x82, 0, 0, 0, 0, b'h', b'i']
        );
        let f = client_frame(TEXT, &[b'a'; 200]);
        assert_eq!(&f[..8], &[0x81, 0x80 | 126, 0, 200, 0, 0, 0, 0]);
        assert_eq!(f.len(), 208);
    }
}
