//! The async client over TCP or QUIC (`crate::quic` opens the QUIC connection): Hello,
//! heartbeats, subscriptions, queries and publishing, one event stream.

use bytes::BytesMut;
use tickd_protocol::{
    CandleRecord, Encoder, Epoch, ErrorMessage, Gap, Heartbeat, Hello, MAX_FRAME_LEN, Message,
    PROTOCOL_VERSION, Publish, PublishAck, Query, QueryResult, QuerySpec, Records, Scales, Seq,
    Subscribe, SubscribeAck, Symbol, TickRecord, Welcome, split_frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::{Duration, Instant};

use crate::data::DataStreams;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection failed.
    #[error("connection")]
    Io(#[from] std::io::Error),
    /// The server sent bytes that are not a valid frame.
    #[error("bad frame from server")]
    Frame(#[from] tickd_protocol::FrameError),
    /// The server sent a message this client cannot decode.
    #[error("bad message from server")]
    Decode(#[from] tickd_protocol::DecodeError),
    /// The server answered with an error.
    #[error("server error {:?}: {}", .0.code, .0.message)]
    Server(ErrorMessage),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server answered with an unexpected message.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// Something the server sent, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Ticks of a subscription, in seq order.
    Ticks {
        /// Subscription.
        subscription_id: u32,
        /// Epoch.
        epoch: Epoch,
        /// Records.
        ticks: Vec<TickRecord>,
    },
    /// Candle updates of a subscription.
    Candles {
        /// Subscription.
        subscription_id: u32,
        /// Epoch.
        epoch: Epoch,
        /// Records.
        candles: Vec<CandleRecord>,
    },
    /// State before live data.
    Snapshot {
        /// Subscription.
        subscription_id: u32,
        /// Epoch.
        epoch: Epoch,
        /// Valid as of this seq.
        seq: Seq,
        /// Last trade and quote per instrument.
        ticks: Vec<TickRecord>,
        /// Current candles.
        candles: Vec<CandleRecord>,
    },
    /// Datagram mode: the latest quote of an instrument, conflated and unreliable (a later one
    /// supersedes it; some may be lost or reordered — compare seqs).
    Latest {
        /// Subscription.
        subscription_id: u32,
        /// Epoch.
        epoch: Epoch,
        /// The quote.
        tick: TickRecord,
    },
    /// Records that will not be delivered.
    Gap(Gap),
    /// Liveness and head.
    Heartbeat(Heartbeat),
    /// An error the server reported.
    Error(ErrorMessage),
}

/// An owned [`QueryResult`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryAnswer {
    /// Epoch of the server's ring.
    pub epoch: Epoch,
    /// Valid as of this seq.
    pub head_seq: Seq,
    /// Candles, oldest first.
    pub candles: Vec<CandleRecord>,
    /// Ticks.
    pub ticks: Vec<TickRecord>,
    /// Instruments.
    pub instruments: Vec<tickd_protocol::Instrument>,
    /// Feed counters.
    pub feeds: Vec<tickd_protocol::FeedStat>,
    /// Where the next page of a paged instrument list starts (`None`: the last page).
    pub next_id: Option<tickd_protocol::InstrumentId>,
}

/// A direct answer to a request.
#[derive(Debug)]
pub(crate) enum Answer {
    Welcome(Welcome),
    SubscribeAck(SubscribeAck),
    PublishAck(PublishAck),
    Query(QueryAnswer),
    Other(String),
}

impl From<QueryResult<'_>> for QueryAnswer {
    fn from(r: QueryResult<'_>) -> Self {
        Self {
            epoch: r.epoch,
            head_seq: r.head_seq,
            candles: r.candles.to_vec(),
            ticks: r.ticks.to_vec(),
            instruments: r.instruments,
            feeds: r.feeds,
            next_id: r.next_id,
        }
    }
}

/// The next event from the data streams, or never (TCP, or the connection has closed).
async fn next_data(data: &mut Option<DataStreams>) -> Option<Result<Event, ClientError>> {
    match data {
        Some(d) => d.next().await,
        None => std::future::pending().await,
    }
}

/// A byte stream a client talks over: a TCP socket or a QUIC control stream.
trait Transport: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Transport for T {}

/// A connection to a tickd server, over TCP or QUIC.
pub struct Client {
    stream: Box<dyn Transport>,
    /// Keeps a QUIC connection (and its endpoint) open while the client lives.
    quic: Option<(quinn::Endpoint, quinn::Connection)>,
    /// QUIC: the subscriptions' data streams and datagrams, read on the caller's task.
    data: Option<DataStreams>,
    encoder: Encoder,
    buf: BytesMut,
    next_request: u64,
    welcome: Welcome,
    /// Events that arrived while waiting for an answer.
    pending: std::collections::VecDeque<Event>,
    /// When this client last sent a frame (heartbeats keep the connection alive).
    last_sent: Instant,
    /// The heartbeat timer: one registration, moved only when its due time changes, rather
    /// than a timer made and dropped on every read.
    heartbeat: std::pin::Pin<Box<tokio::time::Sleep>>,
}

pub(crate) fn owned(msg: Message<'_>) -> Result<Event, Answer> {
    match msg {
        Message::TickBatch(b) => Ok(Event::Ticks {
            subscription_id: b.subscription_id,
            epoch: b.epoch,
            ticks: b.ticks.to_vec(),
        }),
        Message::CandleBatch(b) => Ok(Event::Candles {
            subscription_id: b.subscription_id,
            epoch: b.epoch,
            candles: b.candles.to_vec(),
        }),
        Message::Snapshot(s) => Ok(Event::Snapshot {
            subscription_id: s.subscription_id,
            epoch: s.epoch,
            seq: s.seq,
            ticks: s.ticks.to_vec(),
            candles: s.candles.to_vec(),
        }),
        Message::Gap(g) => Ok(Event::Gap(g)),
        Message::Heartbeat(h) => Ok(Event::Heartbeat(h)),
        Message::Error(e) => Ok(Event::Error(e)),
        Message::Welcome(w) => Err(Answer::Welcome(w)),
        Message::SubscribeAck(a) => Err(Answer::SubscribeAck(a)),
        Message::PublishAck(a) => Err(Answer::PublishAck(a)),
        Message::QueryResult(r) => Err(Answer::Query(r.into())),
        other => Err(Answer::Other(format!("{other:?}"))),
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field(
                "transport",
                &if self.quic.is_some() { "quic" } else { "tcp" },
            )
            .field("welcome", &self.welcome)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects and says `Hello`.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the connection or the handshake fails.
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<Self, ClientError> {
        Self::connect_with_token(addr, None).await
    }

    /// Connects and says `Hello` with an access token.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the connection or the handshake fails.
    pub async fn connect_with_token(
        addr: impl ToSocketAddrs,
        token: Option<String>,
    ) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Self::handshake(Box::new(stream), None, token).await
    }

    /// Connects to the first of `servers` (`host:port`, tried in order) that answers, and says
    /// `Hello` with `token`: an origin and its edges serve the same `(epoch, seq)`, so a
    /// subscription that lost one resumes on another with [`Start::Seq`](tickd_protocol::Start)
    /// from the seq after the last record it received (`tickctl` does so).
    ///
    /// # Errors
    ///
    /// The last server's error if none answers, or [`ClientError::Unexpected`] for an empty
    /// list.
    pub async fn connect_any(servers: &[&str], token: Option<String>) -> Result<Self, ClientError> {
        let mut last = ClientError::Unexpected("no servers given".into());
        for server in servers {
            match Self::connect_with_token(*server, token.clone()).await {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Connects over QUIC to `addr`, verifying the server as `server_name` per `verify`, and
    /// says `Hello` with `token` on the control stream.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the handshake (QUIC, TLS or tickd's) fails, e.g. a certificate that
    /// does not match the pinned fingerprint.
    pub async fn connect_quic(
        addr: std::net::SocketAddr,
        server_name: &str,
        verify: crate::quic::Verify,
        token: Option<String>,
    ) -> Result<Self, ClientError> {
        let q = crate::quic::connect(addr, server_name, verify).await?;
        let stream = tokio::io::join(q.recv, q.send);
        // Subscriptions' data arrives on unidirectional streams the server opens.
        let data = DataStreams::new(q.connection.clone());
        let mut client =
            Self::handshake(Box::new(stream), Some((q.endpoint, q.connection)), token).await?;
        client.data = Some(data);
        Ok(client)
    }

    async fn handshake(
        stream: Box<dyn Transport>,
        quic: Option<(quinn::Endpoint, quinn::Connection)>,
        token: Option<String>,
    ) -> Result<Self, ClientError> {
        let mut client = Self {
            stream,
            quic,
            data: None,
            encoder: Encoder::new(),
            buf: BytesMut::with_capacity(1 << 16),
            next_request: 1,
            welcome: Welcome {
                request_id: 0,
                version: 0,
                server_name: String::new(),
                epoch: Epoch(0),
                head_seq: Seq(0),
                server_time: tickd_protocol::UnixNanos(0),
                heartbeat_interval_ms: 0,
                max_frame_len: 0,
                roles: tickd_protocol::Roles(0),
            },
            pending: std::collections::VecDeque::new(),
            last_sent: Instant::now(),
            heartbeat: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
        };
        let hello = Hello {
            request_id: 0,
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            client_name: "tickd-client".into(),
            token,
        };
        client.send(&Message::Hello(hello)).await?;
        match client.answer().await? {
            Answer::Welcome(w) => client.welcome = w,
            other => return Err(ClientError::Unexpected(format!("{other:?}"))),
        }
        Ok(client)
    }

    /// The server's `Welcome`.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    async fn send(&mut self, msg: &Message<'_>) -> Result<(), ClientError> {
        let mut out = BytesMut::new();
        self.encoder.encode(msg, &mut out);
        self.stream.write_all(&out).await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Reads one message (any kind).
    async fn read(&mut self) -> Result<Result<Event, Answer>, ClientError> {
        loop {
            if let Some(frame) = split_frame(&mut self.buf, MAX_FRAME_LEN * 64)? {
                return Ok(owned(Message::decode(&frame)?));
            }
            // Keep the connection alive: the server closes connections silent for its idle
            // timeout, so send a heartbeat every interval it announced.
            let every =
                Duration::from_millis(u64::from(self.welcome.heartbeat_interval_ms.max(100)));
            let due = self.last_sent + every;
            if Instant::now() >= due {
                let hb = Heartbeat {
                    epoch: self.welcome.epoch,
                    head_seq: Seq(0),
                    server_time: tickd_protocol::UnixNanos(0),
                };
                self.send(&Message::Heartbeat(hb)).await?;
                continue;
            }
            if self.heartbeat.deadline() != due {
                self.heartbeat.as_mut().reset(due);
            }
            // `read_buf` and `recv` are cancel-safe: losing the race loses no data.
            tokio::select! {
                read = self.stream.read_buf(&mut self.buf) => match read {
                    Ok(0) => return Err(ClientError::Closed),
                    Ok(_) => {}
                    Err(e) => return Err(e.into()),
                },
                Some(data) = next_data(&mut self.data) => return data.map(Ok),
                () = self.heartbeat.as_mut() => {}
            }
        }
    }

    /// Reads until a non-event answer arrives, queueing events; an `Error` is returned as
    /// [`ClientError::Server`].
    async fn answer(&mut self) -> Result<Answer, ClientError> {
        loop {
            match self.read().await? {
                Err(Answer::Other(text)) => return Err(ClientError::Unexpected(text)),
                Err(msg) => return Ok(msg),
                Ok(Event::Error(e)) => return Err(ClientError::Server(e)),
                Ok(ev) => self.pending.push_back(ev),
            }
        }
    }

    /// Runs a query.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with the server's reason (e.g. an unknown symbol).
    pub async fn query(&mut self, spec: QuerySpec) -> Result<QueryAnswer, ClientError> {
        let request_id = self.next_request;
        self.next_request += 1;
        self.send(&Message::Query(Query { request_id, spec }))
            .await?;
        match self.answer().await? {
            Answer::Query(r) => Ok(r),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Every instrument whose symbol starts with `prefix` (all for ""), in id order, asking
    /// page after page ([`QuerySpec::Symbols`]).
    ///
    /// # Errors
    ///
    /// As [`Client::query`].
    pub async fn symbols(
        &mut self,
        prefix: &str,
    ) -> Result<Vec<tickd_protocol::Instrument>, ClientError> {
        let mut out = Vec::new();
        let mut page = tickd_protocol::Page::default();
        loop {
            let spec = QuerySpec::Symbols {
                prefix: prefix.to_owned(),
                page,
            };
            let answer = self.query(spec).await?;
            out.extend(answer.instruments);
            match answer.next_id {
                Some(next) => page = tickd_protocol::Page::from(next),
                None => return Ok(out),
            }
        }
    }

    /// Starts a subscription (its `request_id` is assigned here); data arrives through
    /// [`Client::next_event`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with the server's reason.
    pub async fn subscribe(&mut self, mut sub: Subscribe) -> Result<SubscribeAck, ClientError> {
        sub.request_id = self.next_request;
        self.next_request += 1;
        self.send(&Message::Subscribe(sub)).await?;
        match self.answer().await? {
            Answer::SubscribeAck(a) => Ok(a),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Fetches records `from..=to` of `epoch` through a temporary subscription (from the
    /// server's ring, else its journal), with the gaps the server declares for records it no
    /// longer holds. Use a client dedicated to this: events of other subscriptions that arrive
    /// meanwhile are discarded.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the subscription is refused or the connection fails.
    pub async fn fetch_range(
        &mut self,
        epoch: Epoch,
        from: Seq,
        to: Seq,
    ) -> Result<(Vec<TickRecord>, Vec<Gap>), ClientError> {
        let (from, to) = (from.0, to.0);
        let sub = Subscribe {
            request_id: 0,
            selection: tickd_protocol::Selection::All,
            trades: true,
            quotes: true,
            candles: Vec::new(),
            start: tickd_protocol::Start::Seq {
                epoch,
                seq: Seq(from),
            },
            snapshot: false,
            policy: tickd_protocol::SlowConsumerPolicy::Drop,
            datagrams: false,
        };
        let ack = self.subscribe(sub).await?;
        let (mut ticks, mut gaps) = (Vec::new(), Vec::new());
        let mut reached = from.saturating_sub(1);
        while reached < to {
            match self.next_event().await? {
                Some(Event::Ticks {
                    subscription_id,
                    ticks: batch,
                    ..
                }) if subscription_id == ack.subscription_id => {
                    for t in batch {
                        if t.seq <= to {
                            reached = t.seq;
                            ticks.push(t);
                        } else {
                            reached = to;
                        }
                    }
                }
                Some(Event::Gap(g)) if g.subscription_id == ack.subscription_id => {
                    reached = g.to.0.min(to).max(reached);
                    gaps.push(g);
                }
                Some(Event::Error(e)) => return Err(ClientError::Server(e)),
                Some(_) => {}
                None => return Err(ClientError::Closed),
            }
        }
        let unsub = tickd_protocol::Unsubscribe {
            request_id: self.next_request,
            subscription_id: ack.subscription_id,
        };
        self.next_request += 1;
        self.send(&Message::Unsubscribe(unsub)).await?;
        Ok((ticks, gaps))
    }

    /// Publishes ticks (needs the `publish` role) and waits for the server to sequence them.
    /// Each tick's `instrument_id` is an index into `symbols`; `seq` and `ts_recv` are ignored.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] if the token may not publish or the batch is invalid as a whole;
    /// per-tick problems come back in [`PublishAck::rejected`].
    pub async fn publish(
        &mut self,
        symbols: Vec<Symbol>,
        ticks: &[TickRecord],
    ) -> Result<PublishAck, ClientError> {
        self.publish_scaled(symbols, Vec::new(), ticks).await
    }

    /// [`Client::publish`] with the scales of each symbol (parallel to `symbols`, or empty for
    /// 9:9): they define a symbol the server does not know yet, and must equal the scales of
    /// one it knows (else its ticks are rejected). Raw prices and sizes are in those scales.
    ///
    /// # Errors
    ///
    /// As [`Client::publish`].
    pub async fn publish_scaled(
        &mut self,
        symbols: Vec<Symbol>,
        scales: Vec<Scales>,
        ticks: &[TickRecord],
    ) -> Result<PublishAck, ClientError> {
        let request_id = self.next_request;
        self.next_request += 1;
        let msg = Message::Publish(Publish {
            request_id,
            symbols,
            scales,
            ticks: Records::Slice(ticks),
        });
        self.send(&msg).await?;
        match self.answer().await? {
            Answer::PublishAck(a) => Ok(a),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The next event; `Ok(None)` when the server closed the connection cleanly.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if the connection fails or the server sends garbage.
    pub async fn next_event(&mut self) -> Result<Option<Event>, ClientError> {
        if let Some(ev) = self.pending.pop_front() {
            return Ok(Some(ev));
        }
        loop {
            match self.read().await {
                Ok(Ok(ev)) => return Ok(Some(ev)),
                Ok(Err(_)) => {}
                Err(ClientError::Closed) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends raw bytes (for tests of the server's handling of bad input).
    ///
    /// # Errors
    ///
    /// If the write fails.
    #[doc(hidden)]
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }
}
