//! The server side of one connection, sans-IO (STYLE.md §2.3): handshake and version
//! negotiation, request decoding, heartbeats and idle timeout. Feed it frames and the time;
//! drain the frames it wants sent and the requests it wants the shell to serve.
//!
//! ```text
//! client                      Session                         shell
//!   Hello ───────────────────► Welcome (version, epoch, head)
//!   Subscribe / Query / … ───► poll_event() ────────────────► serves it, calls send()
//!                              poll_transmit() ◄────────────── TickBatch, QueryResult, …
//!                              Heartbeat every interval
//! ```
//!
//! Errors: a frame that is not a tickd message, or any request before `Hello`, gets an `Error`
//! frame and [`SessionError`] (close the connection); a request that is merely invalid gets an
//! `Error` frame and the connection goes on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::auth::{Auth, AuthError};
use tickd_protocol::{
    DecodeError, Encoder, Epoch, ErrorCode, ErrorMessage, Heartbeat, Message, Query, Roles, Scales,
    Seq, Subscribe, Symbol, TickRecord, UnixNanos, Unsubscribe, Welcome, negotiate,
};

/// Per-connection limits and timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Server name sent in `Welcome`.
    pub server_name: String,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Close a connection that sent nothing for this long (heartbeats from the client or any
    /// request count).
    pub idle_timeout: Duration,
    /// Time allowed for the `Hello`.
    pub hello_timeout: Duration,
    /// Largest inbound frame payload, bytes.
    pub max_frame_len: u32,
    /// Most symbols one subscription may name.
    pub max_symbols_per_subscription: usize,
    /// Most subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// Bytes queued for a binary connection (answers, snapshots, data frames) beyond which
    /// nothing more is rendered and no request is read until the client drains it.
    pub send_budget: usize,
    /// The same for a WebSocket.
    pub ws_send_budget: usize,
    /// Who may connect, with which roles.
    pub auth: Arc<Auth>,
}

impl Default for SessionConfig {
    /// 1 s heartbeats, 30 s idle timeout, 10 s to say hello, 1 MiB frames, 10,000 symbols per
    /// subscription, 64 subscriptions per connection, 4 MiB queued per connection and
    /// 256 KiB per WebSocket.
    fn default() -> Self {
        Self {
            server_name: "tickd".into(),
            heartbeat: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(30),
            hello_timeout: Duration::from_secs(10),
            max_frame_len: tickd_protocol::MAX_FRAME_LEN,
            max_symbols_per_subscription: 10_000,
            max_subscriptions: 64,
            send_budget: 4 << 20,
            ws_send_budget: 256 << 10,
            auth: Arc::new(Auth::open()),
        }
    }
}

/// A request for the shell to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// Start a subscription.
    Subscribe(Subscribe),
    /// End one.
    Unsubscribe(Unsubscribe),
    /// Answer a query.
    Query(Query),
    /// Sequence a publisher's batch and answer with a `PublishAck`.
    Publish(PublishRequest),
}

/// A publisher's batch, owned: each tick's `instrument_id` indexes `symbols`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishRequest {
    /// Client-chosen id for the ack.
    pub request_id: u64,
    /// The batch's symbol table.
    pub symbols: Vec<Symbol>,
    /// The scales of each symbol (parallel to `symbols`), or empty for 9:9 throughout.
    pub scales: Vec<Scales>,
    /// The ticks.
    pub ticks: Vec<TickRecord>,
}

impl PublishRequest {
    /// Each symbol with the scales it is defined with (9:9 when the publisher sent none).
    pub fn definitions(&self) -> impl Iterator<Item = (Symbol, Scales)> + '_ {
        self.symbols
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, self.scales.get(i).copied().unwrap_or_default()))
    }
}

/// Largest frame accepted before `Hello` is (a `Hello` with a token and a client name is a
/// few hundred bytes).
pub const MAX_HELLO_FRAME: u32 = 4 * 1024;

/// Why the connection must close.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The peer sent bytes that are not a tickd message.
    #[error("malformed frame")]
    Malformed(#[source] DecodeError),
    /// The peer broke the protocol (e.g. a request before `Hello`).
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// No common protocol version.
    #[error("no common protocol version (client speaks {min}..={max})")]
    Version {
        /// Client's lowest.
        min: u16,
        /// Client's highest.
        max: u16,
    },
    /// Nothing received for the idle timeout, or no `Hello` in time.
    #[error("timed out")]
    TimedOut,
    /// The token was missing or unknown.
    #[error("unauthenticated")]
    Unauthenticated(#[source] AuthError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitingHello,
    Ready,
    Closed,
}

/// Protocol state of one connection. No IO, no clock: see the module docs.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    encoder: Encoder,
    out: VecDeque<Bytes>,
    events: VecDeque<SessionEvent>,
    epoch: Epoch,
    head: Seq,
    last_rx: UnixNanos,
    next_heartbeat: UnixNanos,
    opened: UnixNanos,
    roles: Roles,
    token_name: Option<String>,
}

impl Session {
    /// A session opened at `now` for a ring of `epoch`.
    pub fn new(config: SessionConfig, now: UnixNanos, epoch: Epoch) -> Self {
        let next_heartbeat = now.saturating_add(config.heartbeat);
        Self {
            config,
            state: State::AwaitingHello,
            encoder: Encoder::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            epoch,
            head: Seq(0),
            last_rx: now,
            next_heartbeat,
            opened: now,
            roles: Roles(0),
            token_name: None,
        }
    }

    /// Tells the session the current head (for `Welcome` and heartbeats).
    pub fn set_head(&mut self, head: Seq) {
        self.head = head;
    }

    /// Whether `Hello` has been accepted.
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// The name of the token the client authenticated with (`open` without tokens), once
    /// `Hello` is accepted.
    pub fn token_name(&self) -> Option<&str> {
        self.token_name.as_deref()
    }

    /// Largest inbound frame payload, bytes.
    ///
    /// Before `Hello` is accepted only [`MAX_HELLO_FRAME`] bytes: a `Hello` is small, and an
    /// unauthenticated peer must not make the server buffer a megabyte per connection.
    pub fn max_frame_len(&self) -> u32 {
        if self.is_ready() {
            self.config.max_frame_len
        } else {
            MAX_HELLO_FRAME.min(self.config.max_frame_len)
        }
    }

    /// Queues `msg` for the peer.
    pub fn send(&mut self, msg: &Message<'_>) {
        let mut buf = BytesMut::new();
        self.encoder.encode(msg, &mut buf);
        self.out.push_back(buf.freeze());
    }

    /// Queues a frame the shell encoded itself (length prefix included), e.g. a `TickBatch`
    /// written straight from the ring by [`tickd_protocol::tick_frame::TickBatchFrame`].
    pub fn send_frame(&mut self, frame: Bytes) {
        self.out.push_back(frame);
    }

    /// Refuses a connection whose `Hello` was just accepted, for a reason only the shell knows
    /// (e.g. its token already has the most connections allowed): the queued `Welcome` is
    /// withdrawn before it is written, an `Error` with `code` and `message` is queued instead,
    /// and the session closes.
    pub fn refuse(&mut self, code: ErrorCode, message: impl Into<String>) {
        self.out.clear();
        self.events.clear();
        self.send_error(0, code, message);
        self.state = State::Closed;
    }

    /// Queues an `Error` for the peer.
    pub fn send_error(&mut self, request_id: u64, code: ErrorCode, message: impl Into<String>) {
        let msg = Message::Error(ErrorMessage {
            request_id,
            code,
            message: message.into(),
        });
        self.send(&msg);
    }

    fn fail(
        &mut self,
        code: ErrorCode,
        message: String,
        err: SessionError,
    ) -> Result<(), SessionError> {
        self.send_error(0, code, message);
        self.state = State::Closed;
        Err(err)
    }

    /// Handles one inbound frame payload.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the connection must close; an `Error` frame explaining why is
    /// already queued.
    pub fn handle_frame(&mut self, now: UnixNanos, payload: &[u8]) -> Result<(), SessionError> {
        if self.state == State::Closed {
            return Err(SessionError::Protocol("frame after close"));
        }
        self.last_rx = now;
        let msg = match Message::decode(payload) {
            Ok(m) => m,
            Err(e) if e.is_fatal() => {
                let text = format!("{e}: closing the connection");
                return self.fail(e.code(), text, SessionError::Malformed(e));
            }
            Err(e) => {
                self.send_error(0, e.code(), e.to_string());
                return Ok(());
            }
        };
        match (self.state, msg) {
            (State::AwaitingHello, Message::Hello(h)) => {
                let Some(version) = negotiate(h.min_version, h.max_version) else {
                    let text = format!(
                        "no common protocol version: client speaks {}..={}, server {}..={}",
                        h.min_version,
                        h.max_version,
                        tickd_protocol::MIN_PROTOCOL_VERSION,
                        tickd_protocol::PROTOCOL_VERSION
                    );
                    let err = SessionError::Version {
                        min: h.min_version,
                        max: h.max_version,
                    };
                    self.send_error(h.request_id, ErrorCode::UnsupportedVersion, text);
                    self.state = State::Closed;
                    return Err(err);
                };
                let roles = match self.config.auth.check(h.token.as_deref()) {
                    Ok((roles, name)) => {
                        self.token_name = Some(name.to_owned());
                        roles
                    }
                    Err(e) => {
                        let text = format!("{e}: closing the connection");
                        self.send_error(h.request_id, ErrorCode::Unauthenticated, text);
                        self.state = State::Closed;
                        return Err(SessionError::Unauthenticated(e));
                    }
                };
                self.roles = roles;
                self.state = State::Ready;
                let welcome = Welcome {
                    request_id: h.request_id,
                    version,
                    server_name: self.config.server_name.clone(),
                    epoch: self.epoch,
                    head_seq: self.head,
                    server_time: now,
                    heartbeat_interval_ms: u32::try_from(self.config.heartbeat.as_millis())
                        .unwrap_or(u32::MAX),
                    max_frame_len: self.config.max_frame_len,
                    roles,
                };
                self.send(&Message::Welcome(welcome));
            }
            (State::AwaitingHello, _) => {
                return self.fail(
                    ErrorCode::InvalidRequest,
                    "the first message must be Hello: closing the connection".into(),
                    SessionError::Protocol("request before Hello"),
                );
            }
            (_, Message::Hello(h)) => self.send_error(
                h.request_id,
                ErrorCode::InvalidRequest,
                "Hello was already accepted",
            ),
            (_, Message::Subscribe(s)) if !self.roles.contains(Roles::SUBSCRIBE) => {
                self.send_error(
                    s.request_id,
                    ErrorCode::Forbidden,
                    "this token may not subscribe (no subscribe role)",
                );
            }
            (_, Message::Query(q)) if !self.roles.contains(Roles::SUBSCRIBE) => {
                self.send_error(
                    q.request_id,
                    ErrorCode::Forbidden,
                    "this token may not query (no subscribe role)",
                );
            }
            (_, Message::Subscribe(s)) => self.events.push_back(SessionEvent::Subscribe(s)),
            (_, Message::Unsubscribe(u)) => self.events.push_back(SessionEvent::Unsubscribe(u)),
            (_, Message::Query(q)) => self.events.push_back(SessionEvent::Query(q)),
            (_, Message::Heartbeat(_)) => {}
            (_, Message::Publish(p)) if self.roles.contains(Roles::PUBLISH) => {
                self.events.push_back(SessionEvent::Publish(PublishRequest {
                    request_id: p.request_id,
                    symbols: p.symbols,
                    scales: p.scales,
                    ticks: p.ticks.to_vec(),
                }));
            }
            (_, Message::Publish(p)) => {
                self.send_error(
                    p.request_id,
                    ErrorCode::Forbidden,
                    "this token may not publish (no publish role)",
                );
            }
            (_, other) => {
                // The type's name only: formatting a megabyte of records to name it is a CPU
                // sink a client could aim at.
                let name = other.name();
                self.send_error(
                    0,
                    ErrorCode::InvalidRequest,
                    format!("{name} is a server-to-client message"),
                );
            }
        }
        Ok(())
    }

    /// Processes timers: heartbeats and timeouts. Calls before a deadline are harmless.
    ///
    /// # Errors
    ///
    /// [`SessionError::TimedOut`] if the peer was silent too long (an `Error` is queued).
    pub fn handle_timeout(&mut self, now: UnixNanos) -> Result<(), SessionError> {
        match self.state {
            State::Closed => return Ok(()),
            State::AwaitingHello
                if now >= self.opened.saturating_add(self.config.hello_timeout) =>
            {
                return self.fail(
                    ErrorCode::InvalidRequest,
                    "no Hello in time: closing the connection".into(),
                    SessionError::TimedOut,
                );
            }
            State::Ready if now >= self.last_rx.saturating_add(self.config.idle_timeout) => {
                return self.fail(
                    ErrorCode::InvalidRequest,
                    "idle timeout: closing the connection".into(),
                    SessionError::TimedOut,
                );
            }
            _ => {}
        }
        if self.state == State::Ready && now >= self.next_heartbeat {
            let hb = Heartbeat {
                epoch: self.epoch,
                head_seq: self.head,
                server_time: now,
            };
            self.send(&Message::Heartbeat(hb));
            self.next_heartbeat = now.saturating_add(self.config.heartbeat);
        }
        Ok(())
    }

    /// Defers the next heartbeat: data frames just went out, which prove liveness too.
    pub fn data_sent(&mut self, now: UnixNanos) {
        self.next_heartbeat = now.saturating_add(self.config.heartbeat);
    }

    /// The next frame to write, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.pop_front()
    }

    /// Whether requests wait for the shell ([`Session::poll_event`]).
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next request for the shell, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] should next run.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<UnixNanos> {
        match self.state {
            State::Closed => None,
            State::AwaitingHello => Some(self.opened.saturating_add(self.config.hello_timeout)),
            State::Ready => Some(
                self.next_heartbeat
                    .min(self.last_rx.saturating_add(self.config.idle_timeout)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use tickd_protocol::{Hello, MAX_FRAME_LEN, Selection, SlowConsumerPolicy, Start, split_frame};

    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn payload(msg: &Message<'_>) -> Vec<u8> {
        Encoder::new().payload(msg).to_vec()
    }

    fn hello(min: u16, max: u16) -> Vec<u8> {
        payload(&Message::Hello(Hello {
            request_id: 7,
            min_version: min,
            max_version: max,
            client_name: "t".into(),
            token: None,
        }))
    }

    fn out(s: &mut Session) -> Vec<Message<'static>> {
        let mut v = Vec::new();
        while let Some(f) = s.poll_transmit() {
            let mut b = BytesMut::from(&f[..]);
            let frame = split_frame(&mut b, MAX_FRAME_LEN).unwrap().unwrap();
            let leaked: &'static [u8] = Box::leak(frame.to_vec().into_boxed_slice());
            v.push(Message::decode(leaked).unwrap());
        }
        v
    }

    #[test]
    fn hello_gets_welcome_then_requests_become_events() {
        let mut s = Session::new(SessionConfig::default(), UnixNanos(SEC), Epoch(9));
        s.set_head(Seq(41));
        s.handle_frame(UnixNanos(SEC), &hello(1, 3)).unwrap();
        let msgs = out(&mut s);
        let [Message::Welcome(w)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!(
            (w.request_id, w.version, w.epoch, w.head_seq),
            (7, 1, Epoch(9), Seq(41))
        );
        let sub = Subscribe {
            request_id: 8,
            selection: Selection::All,
            trades: true,
            quotes: false,
            candles: vec![],
            start: Start::Latest,
            snapshot: false,
            policy: SlowConsumerPolicy::Drop,
            datagrams: false,
        };
        s.handle_frame(UnixNanos(SEC), &payload(&Message::Subscribe(sub.clone())))
            .unwrap();
        assert_eq!(s.poll_event(), Some(SessionEvent::Subscribe(sub)));
        assert_eq!(s.poll_event(), None);
    }

    #[test]
    fn requests_before_hello_and_garbage_close_the_connection_with_an_error() {
        let mut s = Session::new(SessionConfig::default(), UnixNanos(0), Epoch(1));
        let q = payload(&Message::Query(Query {
            request_id: 1,
            spec: tickd_protocol::QuerySpec::Symbols {
                prefix: String::new(),
                page: Default::default(),
            },
        }));
        assert!(matches!(
            s.handle_frame(UnixNanos(0), &q),
            Err(SessionError::Protocol(_))
        ));
        let msgs = out(&mut s);
        let [Message::Error(e)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!(e.code, ErrorCode::InvalidRequest);

        let mut s = Session::new(SessionConfig::default(), UnixNanos(0), Epoch(1));
        assert!(matches!(
            s.handle_frame(UnixNanos(0), b"\x08\x00\x00\x00TICKgarbage!"),
            Err(SessionError::Malformed(_))
        ));
        let msgs = out(&mut s);
        let [Message::Error(e)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!(e.code, ErrorCode::MalformedFrame);
        assert!(e.message.contains("closing the connection"));
    }

    #[test]
    fn version_mismatch_is_refused() {
        let mut s = Session::new(SessionConfig::default(), UnixNanos(0), Epoch(1));
        assert!(matches!(
            s.handle_frame(UnixNanos(0), &hello(5, 9)),
            Err(SessionError::Version { min: 5, max: 9 })
        ));
        let msgs = out(&mut s);
        let [Message::Error(e)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!((e.code, e.request_id), (ErrorCode::UnsupportedVersion, 7));
    }

    #[test]
    fn heartbeats_and_idle_timeout_run_on_the_given_clock() {
        let cfg = SessionConfig {
            heartbeat: Duration::from_nanos(SEC),
            idle_timeout: Duration::from_nanos(5 * SEC),
            ..SessionConfig::default()
        };
        let mut s = Session::new(cfg, UnixNanos(0), Epoch(1));
        s.handle_frame(UnixNanos(0), &hello(1, 1)).unwrap();
        let _ = out(&mut s);
        assert_eq!(s.poll_timeout(), Some(UnixNanos(SEC)));
        s.handle_timeout(UnixNanos(SEC / 2)).unwrap();
        assert!(out(&mut s).is_empty(), "early calls are no-ops");
        s.set_head(Seq(3));
        s.handle_timeout(UnixNanos(SEC)).unwrap();
        let msgs = out(&mut s);
        let [Message::Heartbeat(h)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!((h.head_seq, h.server_time), (Seq(3), UnixNanos(SEC)));
        assert!(matches!(
            s.handle_timeout(UnixNanos(5 * SEC)),
            Err(SessionError::TimedOut)
        ));
    }

    #[test]
    fn an_unknown_message_type_is_answered_not_fatal() {
        let mut s = Session::new(SessionConfig::default(), UnixNanos(0), Epoch(1));
        s.handle_frame(UnixNanos(0), &hello(1, 1)).unwrap();
        let _ = out(&mut s);
        let p = tickd_protocol::message::testing::unknown_message(99);
        assert_eq!(
            Message::decode(&p).unwrap_err(),
            DecodeError::UnsupportedMessage(99)
        );
        s.handle_frame(UnixNanos(0), &p).unwrap();
        let msgs = out(&mut s);
        let [Message::Error(e)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::UnsupportedMessage, "unsupported message type 99")
        );
        assert!(s.is_ready(), "the connection goes on");
    }
}
