//! Typed messages over the generated FlatBuffers code: [`Message::decode`] verifies every
//! untrusted buffer before reading it, and [`Encoder`] writes frames.
//!
//! Control messages decode into owned structs (they are rare, and their strings are validated
//! into [`Symbol`]s on the way in). Data messages borrow: a [`Ticks`] or [`Candles`] view over a
//! verified frame decodes records on access, with no allocation per record.

use bytes::{Bytes, BytesMut};
use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, Vector, VerifierOptions, WIPOffset};

use crate::frame::put_frame;
use crate::generated::wire;
use crate::record::{CandleRecord, Interval, TickRecord};
use crate::symbol::{Symbol, SymbolError};
use crate::types::{Epoch, InstrumentId, Seq, UnixNanos};

/// Why a frame's payload is not a message this build can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload does not carry the `TICK` file identifier.
    #[error("frame is not a tickd message (missing \"TICK\" identifier)")]
    WrongIdentifier,
    /// The payload failed FlatBuffers verification.
    #[error("malformed message")]
    Malformed(#[source] flatbuffers::InvalidFlatbuffer),
    /// The message type is not one this build knows (a newer peer).
    #[error("unsupported message type {0}")]
    UnsupportedMessage(u8),
    /// A field holds a value this build does not accept.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// Dotted path of the field, e.g. `subscribe.start`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A symbol in a list failed validation.
    #[error("invalid {field}[{index}]")]
    InvalidSymbol {
        /// Dotted path of the list, e.g. `subscribe.symbols`.
        field: &'static str,
        /// Index in the list.
        index: usize,
        /// Why the symbol is invalid.
        #[source]
        source: SymbolError,
    },
}

impl DecodeError {
    /// Whether the connection must be closed: the peer sent bytes that are not a tickd message
    /// at all. Other errors reject only the one request, with an [`ErrorMessage`].
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::WrongIdentifier | Self::Malformed(_))
    }

    /// The [`ErrorCode`] to answer this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::WrongIdentifier | Self::Malformed(_) => ErrorCode::MalformedFrame,
            Self::UnsupportedMessage(_) => ErrorCode::UnsupportedMessage,
            Self::InvalidField { .. } | Self::InvalidSymbol { .. } => ErrorCode::InvalidRequest,
        }
    }
}

/// A fixed-size record that travels as a FlatBuffers struct of the same bytes.
pub trait WireRecord: Copy {
    /// Encoded size, in bytes.
    const SIZE_BYTES: usize;
    /// Decodes from exactly `SIZE_BYTES` little-endian bytes.
    ///
    /// # Panics
    ///
    /// If `bytes.len() != SIZE_BYTES` (callers slice with `chunks_exact`).
    fn read_le(bytes: &[u8]) -> Self;
}

impl WireRecord for TickRecord {
    const SIZE_BYTES: usize = Self::SIZE_BYTES;
    fn read_le(bytes: &[u8]) -> Self {
        let mut b = [0; Self::SIZE_BYTES];
        b.copy_from_slice(bytes);
        Self::from_le_bytes(&b)
    }
}

impl WireRecord for CandleRecord {
    const SIZE_BYTES: usize = Self::SIZE_BYTES;
    fn read_le(bytes: &[u8]) -> Self {
        let mut b = [0; Self::SIZE_BYTES];
        b.copy_from_slice(bytes);
        Self::from_le_bytes(&b)
    }
}

/// A sequence of records: either borrowed from a verified frame, or from records to encode.
#[derive(Clone, Copy, Debug)]
pub enum Records<'a, R> {
    /// Little-endian bytes inside a verified frame, `SIZE_BYTES` per record.
    Wire(&'a [u8]),
    /// Records in memory.
    Slice(&'a [R]),
}

/// Tick records of a message.
pub type Ticks<'a> = Records<'a, TickRecord>;
/// Candle records of a message.
pub type Candles<'a> = Records<'a, CandleRecord>;

impl<R> Default for Records<'_, R> {
    fn default() -> Self {
        Self::Slice(&[])
    }
}

impl<'a, R: WireRecord> Records<'a, R> {
    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            Self::Wire(bytes) => bytes.len() / R::SIZE_BYTES,
            Self::Slice(s) => s.len(),
        }
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i`, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<R> {
        match self {
            Self::Wire(bytes) => bytes
                .get(i * R::SIZE_BYTES..(i + 1) * R::SIZE_BYTES)
                .map(R::read_le),
            Self::Slice(s) => s.get(i).copied(),
        }
    }

    /// The records in order, decoded on the fly (no allocation).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = R> + DoubleEndedIterator + 'a {
        let (wire, slice): (&'a [u8], &'a [R]) = match *self {
            Self::Wire(bytes) => (bytes, &[]),
            Self::Slice(s) => (&[], s),
        };
        wire.chunks_exact(R::SIZE_BYTES)
            .map(R::read_le)
            .chain_exact(slice.iter().copied())
    }

    /// The records collected into a `Vec` (allocates).
    pub fn to_vec(&self) -> Vec<R> {
        self.iter().collect()
    }
}

/// `Iterator::chain` loses `ExactSizeIterator`; this keeps it (one side is always empty here).
trait ChainExact: Iterator + Sized {
    fn chain_exact<B: Iterator<Item = Self::Item>>(self, other: B) -> ExactChain<Self, B> {
        ExactChain { a: self, b: other }
    }
}
impl<I: Iterator> ChainExact for I {}

struct ExactChain<A, B> {
    a: A,
    b: B,
}

impl<A: Iterator, B: Iterator<Item = A::Item>> Iterator for ExactChain<A, B> {
    type Item = A::Item;
    fn next(&mut self) -> Option<A::Item> {
        self.a.next().or_else(|| self.b.next())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let (a, b) = (self.a.size_hint().0, self.b.size_hint().0);
        (a + b, Some(a + b))
    }
}
impl<A: ExactSizeIterator, B: ExactSizeIterator<Item = A::Item>> ExactSizeIterator
    for ExactChain<A, B>
{
}
impl<A, B> DoubleEndedIterator for ExactChain<A, B>
where
    A: DoubleEndedIterator,
    B: DoubleEndedIterator<Item = A::Item>,
{
    fn next_back(&mut self) -> Option<A::Item> {
        self.b.next_back().or_else(|| self.a.next_back())
    }
}

impl<R: WireRecord + PartialEq> PartialEq for Records<'_, R> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Roles a token grants (DESIGN.md §8), as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Roles(pub u32);

impl Roles {
    /// May subscribe and query.
    pub const SUBSCRIBE: Self = Self(1);
    /// May publish ticks.
    pub const PUBLISH: Self = Self(2);
    /// May administer the server.
    pub const ADMIN: Self = Self(4);

    /// Whether every role in `other` is granted.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of roles.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// Client → server: opens a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Client-chosen id echoed in the answer.
    pub request_id: u64,
    /// Lowest protocol version the client speaks.
    pub min_version: u16,
    /// Highest protocol version the client speaks.
    pub max_version: u16,
    /// Free-form client name for logs.
    pub client_name: String,
    /// Access token, if the server needs one.
    pub token: Option<String>,
}

/// Server → client: accepts a [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The [`Hello`]'s request id.
    pub request_id: u64,
    /// Negotiated protocol version.
    pub version: u16,
    /// Free-form server name.
    pub server_name: String,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// Last published seq (0 if none).
    pub head_seq: Seq,
    /// Server time when the answer was made.
    pub server_time: UnixNanos,
    /// Heartbeat period, in milliseconds.
    pub heartbeat_interval_ms: u32,
    /// Largest frame payload the server accepts, in bytes.
    pub max_frame_len: u32,
    /// Roles granted.
    pub roles: Roles,
}

/// Which instruments a subscription covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every instrument, including ones that appear later.
    All,
    /// These symbols.
    Symbols(Vec<Symbol>),
}

/// Where a subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// With the next record published.
    Latest,
    /// At `(epoch, seq)`: resume after a disconnect.
    Seq {
        /// Epoch the client last saw.
        epoch: Epoch,
        /// First seq wanted.
        seq: Seq,
    },
    /// At the first record with `ts_event >= time`.
    Time(UnixNanos),
}

/// What to do with a subscriber that cannot keep up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowConsumerPolicy {
    /// Keep only the latest record per instrument and kind.
    #[default]
    Conflate,
    /// Drop records and send a `Gap`.
    Drop,
    /// Close the connection.
    Disconnect,
}

/// Client → server: subscribe to data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// Client-chosen id echoed in the answer.
    pub request_id: u64,
    /// Instruments.
    pub selection: Selection,
    /// Receive trades.
    pub trades: bool,
    /// Receive quotes.
    pub quotes: bool,
    /// Receive candles of these intervals.
    pub candles: Vec<Interval>,
    /// Where to start.
    pub start: Start,
    /// Send a snapshot (last trade/quote, current candles) before live data.
    pub snapshot: bool,
    /// Slow-consumer policy.
    pub policy: SlowConsumerPolicy,
    /// QUIC only: quotes as conflated, unreliable datagrams.
    pub datagrams: bool,
}

/// An instrument and its symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instrument {
    /// tickd's id.
    pub id: InstrumentId,
    /// The symbol.
    pub symbol: Symbol,
}

/// Server → client: a subscription is live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeAck {
    /// The [`Subscribe`]'s request id.
    pub request_id: u64,
    /// Id used in data messages of this subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// First seq the subscription delivers.
    pub start_seq: Seq,
    /// Instruments known so far, for resolving ids in records.
    pub instruments: Vec<Instrument>,
}

/// Client → server: end a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Client-chosen id.
    pub request_id: u64,
    /// The subscription.
    pub subscription_id: u32,
}

/// Server → client: ticks in seq order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TickBatch<'a> {
    /// The subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// The ticks.
    pub ticks: Ticks<'a>,
}

/// Server → client: candle updates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CandleBatch<'a> {
    /// The subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// The candles.
    pub candles: Candles<'a>,
}

/// Server → client: state as of one seq, before live data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snapshot<'a> {
    /// The [`Subscribe`]'s request id.
    pub request_id: u64,
    /// The subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// Everything here is valid as of this seq; live data follows from `seq + 1`.
    pub seq: Seq,
    /// Last trade and last quote per instrument.
    pub ticks: Ticks<'a>,
    /// Current candles.
    pub candles: Candles<'a>,
}

/// Why records were not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapReason {
    /// Not stated (a newer peer's reason).
    Unknown,
    /// The subscriber fell behind the ring.
    Overrun,
    /// The records are no longer retained anywhere.
    NotRetained,
    /// Dropped by the slow-consumer policy.
    Dropped,
    /// The epoch changed: the old history is gone.
    EpochChanged,
    /// The subscriber fell behind and got the latest record per instrument and kind instead
    /// (the `conflate` policy).
    Conflated,
}

/// Server → client: records `[from, to]` (inclusive) will not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The subscription.
    pub subscription_id: u32,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// First missing seq.
    pub from: Seq,
    /// Last missing seq.
    pub to: Seq,
    /// Why.
    pub reason: GapReason,
}

/// Server → client: liveness and the head seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The ring's epoch.
    pub epoch: Epoch,
    /// Last published seq.
    pub head_seq: Seq,
    /// Server time.
    pub server_time: UnixNanos,
}

/// Publisher → server: ticks to sequence. Each tick's `instrument_id` is an index into
/// `symbols`; `seq` and `ts_recv` are ignored.
#[derive(Clone, Debug, PartialEq)]
pub struct Publish<'a> {
    /// Client-chosen id echoed in the ack.
    pub request_id: u64,
    /// The batch's symbol table.
    pub symbols: Vec<Symbol>,
    /// The ticks.
    pub ticks: Ticks<'a>,
}

/// One rejected tick of a [`Publish`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Index in the batch.
    pub index: u32,
    /// Why.
    pub reason: String,
}

/// Server → publisher: a [`Publish`] is sequenced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishAck {
    /// The [`Publish`]'s request id.
    pub request_id: u64,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// First seq assigned (0 if none accepted).
    pub first_seq: Seq,
    /// Last seq assigned (0 if none accepted).
    pub last_seq: Seq,
    /// Ticks accepted.
    pub accepted: u32,
    /// Ticks rejected, with reasons.
    pub rejected: Vec<Rejection>,
}

/// What a [`Query`] asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuerySpec {
    /// Candles of one symbol.
    Candles {
        /// The symbol.
        symbol: Symbol,
        /// The interval.
        interval: Interval,
        /// `from <= ts_open`, if set.
        from: Option<UnixNanos>,
        /// `ts_open < to`, if set.
        to: Option<UnixNanos>,
        /// At most this many (the latest), if set.
        limit: Option<u32>,
        /// Fill empty intervals with a zero-volume candle at the previous close.
        fill_previous: bool,
    },
    /// Last trade and quote of these symbols (all if empty).
    Latest {
        /// The symbols.
        symbols: Vec<Symbol>,
    },
    /// Symbols starting with this prefix (all if empty).
    Symbols {
        /// The prefix.
        prefix: String,
    },
    /// Server and feed counters.
    Stats,
}

/// Counters of one feed (answer to [`QuerySpec::Stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedStat {
    /// Feed name.
    pub name: String,
    /// Records the sequencer accepted.
    pub ingested: u64,
    /// Records skipped (invalid, suspicious or rejected).
    pub skipped: u64,
    /// Whether the feed has finished.
    pub finished: bool,
    /// Why the feed stopped, if it failed (empty otherwise).
    pub error: String,
}

/// Client → server: a one-off request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Client-chosen id echoed in the answer.
    pub request_id: u64,
    /// What to fetch.
    pub spec: QuerySpec,
}

/// Server → client: the answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct QueryResult<'a> {
    /// The [`Query`]'s request id.
    pub request_id: u64,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// The result is valid as of this seq.
    pub head_seq: Seq,
    /// Candles, oldest first.
    pub candles: Candles<'a>,
    /// Ticks.
    pub ticks: Ticks<'a>,
    /// Instruments.
    pub instruments: Vec<Instrument>,
    /// Feed counters (for [`QuerySpec::Stats`]).
    pub feeds: Vec<FeedStat>,
}

/// Stable error codes (wire values in the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not stated (a newer peer's code).
    Unknown,
    /// The frame did not verify.
    MalformedFrame,
    /// No common protocol version.
    UnsupportedVersion,
    /// Unknown message type.
    UnsupportedMessage,
    /// Missing or wrong token.
    Unauthenticated,
    /// The token lacks the role.
    Forbidden,
    /// No such symbol.
    UnknownSymbol,
    /// A field is invalid.
    InvalidRequest,
    /// A configured limit was hit.
    LimitExceeded,
    /// Too many requests.
    RateLimited,
    /// No such subscription or record.
    NotFound,
    /// A server fault.
    Internal,
}

/// Either direction: a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorMessage {
    /// The failed request's id (0 if none).
    pub request_id: u64,
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
}

/// One protocol message (DESIGN.md §6), decoded or to encode.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`Welcome`].
    Welcome(Welcome),
    /// See [`Subscribe`].
    Subscribe(Subscribe),
    /// See [`SubscribeAck`].
    SubscribeAck(SubscribeAck),
    /// See [`Unsubscribe`].
    Unsubscribe(Unsubscribe),
    /// See [`TickBatch`].
    TickBatch(TickBatch<'a>),
    /// See [`CandleBatch`].
    CandleBatch(CandleBatch<'a>),
    /// See [`Snapshot`].
    Snapshot(Snapshot<'a>),
    /// See [`Gap`].
    Gap(Gap),
    /// See [`Heartbeat`].
    Heartbeat(Heartbeat),
    /// See [`Publish`].
    Publish(Publish<'a>),
    /// See [`PublishAck`].
    PublishAck(PublishAck),
    /// See [`Query`].
    Query(Query),
    /// See [`QueryResult`].
    QueryResult(QueryResult<'a>),
    /// See [`ErrorMessage`].
    Error(ErrorMessage),
}

fn verifier_options(len: usize) -> VerifierOptions {
    VerifierOptions {
        max_depth: 8,
        max_tables: 1 << 16,
        max_apparent_size: len.saturating_mul(4).max(1 << 12),
        ignore_missing_null_terminator: false,
    }
}

fn opt_str(s: Option<&str>) -> String {
    s.unwrap_or_default().to_owned()
}

fn symbols(
    list: Option<Vector<'_, ForwardsUOffset<&str>>>,
    field: &'static str,
) -> Result<Vec<Symbol>, DecodeError> {
    list.iter()
        .flatten()
        .enumerate()
        .map(|(index, s)| {
            Symbol::new(s).map_err(|source| DecodeError::InvalidSymbol {
                field,
                index,
                source,
            })
        })
        .collect()
}

fn instruments(
    list: Option<Vector<'_, ForwardsUOffset<wire::Instrument<'_>>>>,
    field: &'static str,
) -> Result<Vec<Instrument>, DecodeError> {
    list.iter()
        .flatten()
        .enumerate()
        .map(|(index, i)| {
            Symbol::new(i.symbol())
                .map(|symbol| Instrument {
                    id: InstrumentId(i.instrument_id()),
                    symbol,
                })
                .map_err(|source| DecodeError::InvalidSymbol {
                    field,
                    index,
                    source,
                })
        })
        .collect()
}

fn ticks<'a>(v: Option<Vector<'a, wire::Tick>>) -> Ticks<'a> {
    v.map_or(Records::Slice(&[]), |v| Records::Wire(v.bytes()))
}

fn candles<'a>(v: Option<Vector<'a, wire::Candle>>) -> Candles<'a> {
    v.map_or(Records::Slice(&[]), |v| Records::Wire(v.bytes()))
}

fn missing(field: &'static str) -> DecodeError {
    DecodeError::InvalidField {
        field,
        reason: "missing".into(),
    }
}

impl<'a> Message<'a> {
    /// Verifies `payload` (one frame, without its length prefix) and decodes it.
    ///
    /// Cost: one verification pass over the buffer; control messages allocate their strings,
    /// data messages borrow `payload`.
    ///
    /// # Errors
    ///
    /// [`DecodeError`]; see [`DecodeError::is_fatal`] for whether to close the connection.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        // `buffer_has_identifier` asserts on buffers shorter than offset + identifier.
        if payload.len() < 8
            || !flatbuffers::buffer_has_identifier(payload, wire::MESSAGE_IDENTIFIER, false)
        {
            return Err(DecodeError::WrongIdentifier);
        }
        let msg = wire::root_as_message_with_opts(&verifier_options(payload.len()), payload)
            .map_err(DecodeError::Malformed)?;
        let ty = msg.body_type();
        // Verification guarantees a body of the tagged type when the tag is known.
        Ok(match ty {
            wire::Body::Hello => {
                let m = msg.body_as_hello().ok_or_else(|| missing("hello"))?;
                Self::Hello(Hello {
                    request_id: m.request_id(),
                    min_version: m.min_version(),
                    max_version: m.max_version(),
                    client_name: opt_str(m.client_name()),
                    token: m.token().map(str::to_owned),
                })
            }
            wire::Body::Welcome => {
                let m = msg.body_as_welcome().ok_or_else(|| missing("welcome"))?;
                Self::Welcome(Welcome {
                    request_id: m.request_id(),
                    version: m.version(),
                    server_name: opt_str(m.server_name()),
                    epoch: Epoch(m.epoch()),
                    head_seq: Seq(m.head_seq()),
                    server_time: UnixNanos(m.server_time()),
                    heartbeat_interval_ms: m.heartbeat_interval_ms(),
                    max_frame_len: m.max_frame_len(),
                    roles: Roles(m.roles()),
                })
            }
            wire::Body::Subscribe => {
                let m = msg
                    .body_as_subscribe()
                    .ok_or_else(|| missing("subscribe"))?;
                Self::Subscribe(decode_subscribe(&m)?)
            }
            wire::Body::SubscribeAck => {
                let m = msg
                    .body_as_subscribe_ack()
                    .ok_or_else(|| missing("subscribe_ack"))?;
                Self::SubscribeAck(SubscribeAck {
                    request_id: m.request_id(),
                    subscription_id: m.subscription_id(),
                    epoch: Epoch(m.epoch()),
                    start_seq: Seq(m.start_seq()),
                    instruments: instruments(m.instruments(), "subscribe_ack.instruments")?,
                })
            }
            wire::Body::Unsubscribe => {
                let m = msg
                    .body_as_unsubscribe()
                    .ok_or_else(|| missing("unsubscribe"))?;
                Self::Unsubscribe(Unsubscribe {
                    request_id: m.request_id(),
                    subscription_id: m.subscription_id(),
                })
            }
            wire::Body::TickBatch => {
                let m = msg
                    .body_as_tick_batch()
                    .ok_or_else(|| missing("tick_batch"))?;
                Self::TickBatch(TickBatch {
                    subscription_id: m.subscription_id(),
                    epoch: Epoch(m.epoch()),
                    ticks: ticks(m.ticks()),
                })
            }
            wire::Body::CandleBatch => {
                let m = msg
                    .body_as_candle_batch()
                    .ok_or_else(|| missing("candle_batch"))?;
                Self::CandleBatch(CandleBatch {
                    subscription_id: m.subscription_id(),
                    epoch: Epoch(m.epoch()),
                    candles: candles(m.candles()),
                })
            }
            wire::Body::Snapshot => {
                let m = msg.body_as_snapshot().ok_or_else(|| missing("snapshot"))?;
                Self::Snapshot(Snapshot {
                    request_id: m.request_id(),
                    subscription_id: m.subscription_id(),
                    epoch: Epoch(m.epoch()),
                    seq: Seq(m.seq()),
                    ticks: ticks(m.ticks()),
                    candles: candles(m.candles()),
                })
            }
            wire::Body::Gap => {
                let m = msg.body_as_gap().ok_or_else(|| missing("gap"))?;
                Self::Gap(Gap {
                    subscription_id: m.subscription_id(),
                    epoch: Epoch(m.epoch()),
                    from: Seq(m.from_seq()),
                    to: Seq(m.to_seq()),
                    reason: match m.reason() {
                        wire::GapReason::Overrun => GapReason::Overrun,
                        wire::GapReason::NotRetained => GapReason::NotRetained,
                        wire::GapReason::Dropped => GapReason::Dropped,
                        wire::GapReason::EpochChanged => GapReason::EpochChanged,
                        wire::GapReason::Conflated => GapReason::Conflated,
                        _ => GapReason::Unknown,
                    },
                })
            }
            wire::Body::Heartbeat => {
                let m = msg
                    .body_as_heartbeat()
                    .ok_or_else(|| missing("heartbeat"))?;
                Self::Heartbeat(Heartbeat {
                    epoch: Epoch(m.epoch()),
                    head_seq: Seq(m.head_seq()),
                    server_time: UnixNanos(m.server_time()),
                })
            }
            wire::Body::Publish => {
                let m = msg.body_as_publish().ok_or_else(|| missing("publish"))?;
                Self::Publish(Publish {
                    request_id: m.request_id(),
                    symbols: symbols(m.symbols(), "publish.symbols")?,
                    ticks: ticks(m.ticks()),
                })
            }
            wire::Body::PublishAck => {
                let m = msg
                    .body_as_publish_ack()
                    .ok_or_else(|| missing("publish_ack"))?;
                Self::PublishAck(PublishAck {
                    request_id: m.request_id(),
                    epoch: Epoch(m.epoch()),
                    first_seq: Seq(m.first_seq()),
                    last_seq: Seq(m.last_seq()),
                    accepted: m.accepted(),
                    rejected: m
                        .rejected()
                        .iter()
                        .flatten()
                        .map(|r| Rejection {
                            index: r.index(),
                            reason: opt_str(r.reason()),
                        })
                        .collect(),
                })
            }
            wire::Body::Query => {
                let m = msg.body_as_query().ok_or_else(|| missing("query"))?;
                Self::Query(decode_query(&m)?)
            }
            wire::Body::QueryResult => {
                let m = msg
                    .body_as_query_result()
                    .ok_or_else(|| missing("query_result"))?;
                Self::QueryResult(QueryResult {
                    request_id: m.request_id(),
                    epoch: Epoch(m.epoch()),
                    head_seq: Seq(m.head_seq()),
                    candles: candles(m.candles()),
                    ticks: ticks(m.ticks()),
                    instruments: instruments(m.instruments(), "query_result.instruments")?,
                    feeds: m
                        .feeds()
                        .iter()
                        .flatten()
                        .map(|f| FeedStat {
                            name: opt_str(f.name()),
                            ingested: f.ingested(),
                            skipped: f.skipped(),
                            finished: f.finished(),
                            error: opt_str(f.error()),
                        })
                        .collect(),
                })
            }
            wire::Body::Error => {
                let m = msg.body_as_error().ok_or_else(|| missing("error"))?;
                Self::Error(ErrorMessage {
                    request_id: m.request_id(),
                    code: error_code_from_wire(m.code()),
                    message: opt_str(m.message()),
                })
            }
            other => return Err(DecodeError::UnsupportedMessage(other.0)),
        })
    }
}

fn decode_subscribe(m: &wire::Subscribe<'_>) -> Result<Subscribe, DecodeError> {
    let selection = if m.all_symbols() {
        Selection::All
    } else {
        Selection::Symbols(symbols(m.symbols(), "subscribe.symbols")?)
    };
    let candles = m
        .candle_intervals_s()
        .iter()
        .flatten()
        .map(|s| {
            Interval::from_secs(s).ok_or_else(|| DecodeError::InvalidField {
                field: "subscribe.candle_intervals_s",
                reason: format!("{s} s is not one of 1 60 300 900 3600 14400 86400"),
            })
        })
        .collect::<Result<_, _>>()?;
    let start = match m.start() {
        wire::StartKind::Latest => Start::Latest,
        wire::StartKind::Seq => Start::Seq {
            epoch: Epoch(m.start_epoch()),
            seq: Seq(m.start_seq()),
        },
        wire::StartKind::Time => Start::Time(UnixNanos(m.start_time())),
        other => {
            return Err(DecodeError::InvalidField {
                field: "subscribe.start",
                reason: format!("unknown start kind {}", other.0),
            });
        }
    };
    let policy = match m.policy() {
        wire::SlowConsumerPolicy::Conflate => SlowConsumerPolicy::Conflate,
        wire::SlowConsumerPolicy::Drop => SlowConsumerPolicy::Drop,
        wire::SlowConsumerPolicy::Disconnect => SlowConsumerPolicy::Disconnect,
        other => {
            return Err(DecodeError::InvalidField {
                field: "subscribe.policy",
                reason: format!("unknown slow-consumer policy {}", other.0),
            });
        }
    };
    Ok(Subscribe {
        request_id: m.request_id(),
        selection,
        trades: m.trades(),
        quotes: m.quotes(),
        candles,
        start,
        snapshot: m.snapshot(),
        policy,
        datagrams: m.datagrams(),
    })
}

fn decode_query(m: &wire::Query<'_>) -> Result<Query, DecodeError> {
    let spec = match m.spec_type() {
        wire::QuerySpec::CandleQuery => {
            let q = m
                .spec_as_candle_query()
                .ok_or_else(|| missing("query.spec"))?;
            let symbol = Symbol::new(q.symbol()).map_err(|source| DecodeError::InvalidSymbol {
                field: "query.candles.symbol",
                index: 0,
                source,
            })?;
            let interval =
                Interval::from_secs(q.interval_s()).ok_or_else(|| DecodeError::InvalidField {
                    field: "query.candles.interval_s",
                    reason: format!("{} s is not a candle interval", q.interval_s()),
                })?;
            let nonzero = |v: u64| (v != 0).then_some(UnixNanos(v));
            QuerySpec::Candles {
                symbol,
                interval,
                from: nonzero(q.from()),
                to: nonzero(q.to()),
                limit: (q.limit() != 0).then_some(q.limit()),
                fill_previous: q.fill_previous(),
            }
        }
        wire::QuerySpec::LatestQuery => {
            let q = m
                .spec_as_latest_query()
                .ok_or_else(|| missing("query.spec"))?;
            QuerySpec::Latest {
                symbols: symbols(q.symbols(), "query.latest.symbols")?,
            }
        }
        wire::QuerySpec::SymbolQuery => {
            let q = m
                .spec_as_symbol_query()
                .ok_or_else(|| missing("query.spec"))?;
            QuerySpec::Symbols {
                prefix: opt_str(q.prefix()),
            }
        }
        wire::QuerySpec::StatsQuery => QuerySpec::Stats,
        other => {
            return Err(DecodeError::InvalidField {
                field: "query.spec",
                reason: format!("unknown query type {}", other.0),
            });
        }
    };
    Ok(Query {
        request_id: m.request_id(),
        spec,
    })
}

fn error_code_from_wire(code: wire::ErrorCode) -> ErrorCode {
    match code {
        wire::ErrorCode::MalformedFrame => ErrorCode::MalformedFrame,
        wire::ErrorCode::UnsupportedVersion => ErrorCode::UnsupportedVersion,
        wire::ErrorCode::UnsupportedMessage => ErrorCode::UnsupportedMessage,
        wire::ErrorCode::Unauthenticated => ErrorCode::Unauthenticated,
        wire::ErrorCode::Forbidden => ErrorCode::Forbidden,
        wire::ErrorCode::UnknownSymbol => ErrorCode::UnknownSymbol,
        wire::ErrorCode::InvalidRequest => ErrorCode::InvalidRequest,
        wire::ErrorCode::LimitExceeded => ErrorCode::LimitExceeded,
        wire::ErrorCode::RateLimited => ErrorCode::RateLimited,
        wire::ErrorCode::NotFound => ErrorCode::NotFound,
        wire::ErrorCode::Internal => ErrorCode::Internal,
        _ => ErrorCode::Unknown,
    }
}

fn error_code_to_wire(code: ErrorCode) -> wire::ErrorCode {
    match code {
        ErrorCode::Unknown => wire::ErrorCode::Unknown,
        ErrorCode::MalformedFrame => wire::ErrorCode::MalformedFrame,
        ErrorCode::UnsupportedVersion => wire::ErrorCode::UnsupportedVersion,
        ErrorCode::UnsupportedMessage => wire::ErrorCode::UnsupportedMessage,
        ErrorCode::Unauthenticated => wire::ErrorCode::Unauthenticated,
        ErrorCode::Forbidden => wire::ErrorCode::Forbidden,
        ErrorCode::UnknownSymbol => wire::ErrorCode::UnknownSymbol,
        ErrorCode::InvalidRequest => wire::ErrorCode::InvalidRequest,
        ErrorCode::LimitExceeded => wire::ErrorCode::LimitExceeded,
        ErrorCode::RateLimited => wire::ErrorCode::RateLimited,
        ErrorCode::NotFound => wire::ErrorCode::NotFound,
        ErrorCode::Internal => wire::ErrorCode::Internal,
    }
}

/// Encodes [`Message`]s into frames, reusing one builder buffer so that steady-state encoding
/// does not allocate (beyond growing `out`).
///
/// ```
/// use bytes::BytesMut;
/// use tickd_protocol::{Encoder, Heartbeat, Message, Epoch, Seq, UnixNanos, split_frame, MAX_FRAME_LEN};
///
/// let mut enc = Encoder::new();
/// let mut out = BytesMut::new();
/// let hb = Heartbeat { epoch: Epoch(1), head_seq: Seq(42), server_time: UnixNanos(7) };
/// enc.encode(&Message::Heartbeat(hb), &mut out);
/// let frame = split_frame(&mut out, MAX_FRAME_LEN)?.expect("one whole frame");
/// assert_eq!(Message::decode(&frame)?, Message::Heartbeat(hb));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Encoder {
    fbb: FlatBufferBuilder<'static>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder with a 64 KiB starting buffer.
    pub fn new() -> Self {
        Self {
            fbb: FlatBufferBuilder::with_capacity(64 * 1024),
        }
    }

    /// Appends `msg` to `out` as one frame (length prefix + payload).
    pub fn encode(&mut self, msg: &Message<'_>, out: &mut BytesMut) {
        put_frame(out, self.payload(msg));
    }

    /// `msg` as one frame in its own buffer.
    pub fn to_frame(&mut self, msg: &Message<'_>) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(msg, &mut out);
        out.freeze()
    }

    /// Encodes `msg` and returns the payload (without length prefix), valid until the next
    /// call.
    pub fn payload(&mut self, msg: &Message<'_>) -> &[u8] {
        self.fbb.reset();
        let (ty, body) = build_body(&mut self.fbb, msg);
        let root = wire::Message::create(
            &mut self.fbb,
            &wire::MessageArgs {
                body_type: ty,
                body: Some(body),
            },
        );
        wire::finish_message_buffer(&mut self.fbb, root);
        self.fbb.finished_data()
    }
}

type Fbb = FlatBufferBuilder<'static>;

fn tick_vector(fbb: &mut Fbb, ticks: &Ticks<'_>) -> Option<WIPOffset<Vector<'static, wire::Tick>>> {
    if ticks.is_empty() {
        return None;
    }
    Some(fbb.create_vector_from_iter(ticks.iter().map(|t| wire::Tick(t.to_le_bytes()))))
}

fn candle_vector(
    fbb: &mut Fbb,
    candles: &Candles<'_>,
) -> Option<WIPOffset<Vector<'static, wire::Candle>>> {
    if candles.is_empty() {
        return None;
    }
    Some(fbb.create_vector_from_iter(candles.iter().map(|c| wire::Candle(c.to_le_bytes()))))
}

fn string_vector<S: AsRef<str>>(
    fbb: &mut Fbb,
    list: &[S],
) -> Option<WIPOffset<Vector<'static, ForwardsUOffset<&'static str>>>> {
    if list.is_empty() {
        return None;
    }
    let offsets: Vec<_> = list.iter().map(|s| fbb.create_string(s.as_ref())).collect();
    Some(fbb.create_vector(&offsets))
}

fn instrument_vector(
    fbb: &mut Fbb,
    list: &[Instrument],
) -> Option<WIPOffset<Vector<'static, ForwardsUOffset<wire::Instrument<'static>>>>> {
    if list.is_empty() {
        return None;
    }
    let offsets: Vec<_> = list
        .iter()
        .map(|i| {
            let symbol = Some(fbb.create_string(i.symbol.as_str()));
            wire::Instrument::create(
                fbb,
                &wire::InstrumentArgs {
                    instrument_id: i.id.0,
                    symbol,
                },
            )
        })
        .collect();
    Some(fbb.create_vector(&offsets))
}

fn opt_string(fbb: &mut Fbb, s: &str) -> Option<WIPOffset<&'static str>> {
    (!s.is_empty()).then(|| fbb.create_string(s))
}

fn build_body(
    fbb: &mut Fbb,
    msg: &Message<'_>,
) -> (wire::Body, WIPOffset<flatbuffers::UnionWIPOffset>) {
    match msg {
        Message::Hello(m) => {
            let client_name = opt_string(fbb, &m.client_name);
            let token = m.token.as_deref().map(|t| fbb.create_string(t));
            let args = wire::HelloArgs {
                request_id: m.request_id,
                min_version: m.min_version,
                max_version: m.max_version,
                client_name,
                token,
            };
            (
                wire::Body::Hello,
                wire::Hello::create(fbb, &args).as_union_value(),
            )
        }
        Message::Welcome(m) => {
            let server_name = opt_string(fbb, &m.server_name);
            let args = wire::WelcomeArgs {
                request_id: m.request_id,
                version: m.version,
                server_name,
                epoch: m.epoch.0,
                head_seq: m.head_seq.0,
                server_time: m.server_time.0,
                heartbeat_interval_ms: m.heartbeat_interval_ms,
                max_frame_len: m.max_frame_len,
                roles: m.roles.0,
            };
            (
                wire::Body::Welcome,
                wire::Welcome::create(fbb, &args).as_union_value(),
            )
        }
        Message::Subscribe(m) => {
            let (all_symbols, symbols) = match &m.selection {
                Selection::All => (true, None),
                Selection::Symbols(list) => (false, string_vector(fbb, list)),
            };
            let intervals: Vec<u32> = m.candles.iter().map(|i| i.secs()).collect();
            let candle_intervals_s = (!intervals.is_empty()).then(|| fbb.create_vector(&intervals));
            let (start, start_epoch, start_seq, start_time) = match m.start {
                Start::Latest => (wire::StartKind::Latest, 0, 0, 0),
                Start::Seq { epoch, seq } => (wire::StartKind::Seq, epoch.0, seq.0, 0),
                Start::Time(t) => (wire::StartKind::Time, 0, 0, t.0),
            };
            let policy = match m.policy {
                SlowConsumerPolicy::Conflate => wire::SlowConsumerPolicy::Conflate,
                SlowConsumerPolicy::Drop => wire::SlowConsumerPolicy::Drop,
                SlowConsumerPolicy::Disconnect => wire::SlowConsumerPolicy::Disconnect,
            };
            let args = wire::SubscribeArgs {
                request_id: m.request_id,
                symbols,
                all_symbols,
                trades: m.trades,
                quotes: m.quotes,
                candle_intervals_s,
                start,
                start_epoch,
                start_seq,
                start_time,
                snapshot: m.snapshot,
                policy,
                datagrams: m.datagrams,
            };
            (
                wire::Body::Subscribe,
                wire::Subscribe::create(fbb, &args).as_union_value(),
            )
        }
        Message::SubscribeAck(m) => {
            let instruments = instrument_vector(fbb, &m.instruments);
            let args = wire::SubscribeAckArgs {
                request_id: m.request_id,
                subscription_id: m.subscription_id,
                epoch: m.epoch.0,
                start_seq: m.start_seq.0,
                instruments,
            };
            (
                wire::Body::SubscribeAck,
                wire::SubscribeAck::create(fbb, &args).as_union_value(),
            )
        }
        Message::Unsubscribe(m) => {
            let args = wire::UnsubscribeArgs {
                request_id: m.request_id,
                subscription_id: m.subscription_id,
            };
            (
                wire::Body::Unsubscribe,
                wire::Unsubscribe::create(fbb, &args).as_union_value(),
            )
        }
        Message::TickBatch(m) => {
            let ticks = tick_vector(fbb, &m.ticks);
            let args = wire::TickBatchArgs {
                subscription_id: m.subscription_id,
                epoch: m.epoch.0,
                ticks,
            };
            (
                wire::Body::TickBatch,
                wire::TickBatch::create(fbb, &args).as_union_value(),
            )
        }
        Message::CandleBatch(m) => {
            let candles = candle_vector(fbb, &m.candles);
            let args = wire::CandleBatchArgs {
                subscription_id: m.subscription_id,
                epoch: m.epoch.0,
                candles,
            };
            (
                wire::Body::CandleBatch,
                wire::CandleBatch::create(fbb, &args).as_union_value(),
            )
        }
        Message::Snapshot(m) => {
            let ticks = tick_vector(fbb, &m.ticks);
            let candles = candle_vector(fbb, &m.candles);
            let args = wire::SnapshotArgs {
                request_id: m.request_id,
                subscription_id: m.subscription_id,
                epoch: m.epoch.0,
                seq: m.seq.0,
                ticks,
                candles,
            };
            (
                wire::Body::Snapshot,
                wire::Snapshot::create(fbb, &args).as_union_value(),
            )
        }
        Message::Gap(m) => {
            let reason = match m.reason {
                GapReason::Unknown => wire::GapReason::Unknown,
                GapReason::Overrun => wire::GapReason::Overrun,
                GapReason::NotRetained => wire::GapReason::NotRetained,
                GapReason::Dropped => wire::GapReason::Dropped,
                GapReason::EpochChanged => wire::GapReason::EpochChanged,
                GapReason::Conflated => wire::GapReason::Conflated,
            };
            let args = wire::GapArgs {
                subscription_id: m.subscription_id,
                epoch: m.epoch.0,
                from_seq: m.from.0,
                to_seq: m.to.0,
                reason,
            };
            (
                wire::Body::Gap,
                wire::Gap::create(fbb, &args).as_union_value(),
            )
        }
        Message::Heartbeat(m) => {
            let args = wire::HeartbeatArgs {
                epoch: m.epoch.0,
                head_seq: m.head_seq.0,
                server_time: m.server_time.0,
            };
            (
                wire::Body::Heartbeat,
                wire::Heartbeat::create(fbb, &args).as_union_value(),
            )
        }
        Message::Publish(m) => {
            let symbols = string_vector(fbb, &m.symbols);
            let ticks = tick_vector(fbb, &m.ticks);
            let args = wire::PublishArgs {
                request_id: m.request_id,
                symbols,
                ticks,
            };
            (
                wire::Body::Publish,
                wire::Publish::create(fbb, &args).as_union_value(),
            )
        }
        Message::PublishAck(m) => {
            let rejected: Vec<_> = m
                .rejected
                .iter()
                .map(|r| {
                    let reason = Some(fbb.create_string(&r.reason));
                    wire::Rejection::create(
                        fbb,
                        &wire::RejectionArgs {
                            index: r.index,
                            reason,
                        },
                    )
                })
                .collect();
            let rejected = (!rejected.is_empty()).then(|| fbb.create_vector(&rejected));
            let args = wire::PublishAckArgs {
                request_id: m.request_id,
                epoch: m.epoch.0,
                first_seq: m.first_seq.0,
                last_seq: m.last_seq.0,
                accepted: m.accepted,
                rejected,
            };
            (
                wire::Body::PublishAck,
                wire::PublishAck::create(fbb, &args).as_union_value(),
            )
        }
        Message::Query(m) => {
            let (spec_type, spec) = match &m.spec {
                QuerySpec::Candles {
                    symbol,
                    interval,
                    from,
                    to,
                    limit,
                    fill_previous,
                } => {
                    let symbol = Some(fbb.create_string(symbol.as_str()));
                    let args = wire::CandleQueryArgs {
                        symbol,
                        interval_s: interval.secs(),
                        from: from.map_or(0, |t| t.0),
                        to: to.map_or(0, |t| t.0),
                        limit: limit.unwrap_or(0),
                        fill_previous: *fill_previous,
                    };
                    let q = wire::CandleQuery::create(fbb, &args);
                    (wire::QuerySpec::CandleQuery, q.as_union_value())
                }
                QuerySpec::Latest { symbols } => {
                    let symbols = string_vector(fbb, symbols);
                    let q = wire::LatestQuery::create(fbb, &wire::LatestQueryArgs { symbols });
                    (wire::QuerySpec::LatestQuery, q.as_union_value())
                }
                QuerySpec::Symbols { prefix } => {
                    let prefix = opt_string(fbb, prefix);
                    let q = wire::SymbolQuery::create(fbb, &wire::SymbolQueryArgs { prefix });
                    (wire::QuerySpec::SymbolQuery, q.as_union_value())
                }
                QuerySpec::Stats => {
                    let q = wire::StatsQuery::create(fbb, &wire::StatsQueryArgs {});
                    (wire::QuerySpec::StatsQuery, q.as_union_value())
                }
            };
            let args = wire::QueryArgs {
                request_id: m.request_id,
                spec_type,
                spec: Some(spec),
            };
            (
                wire::Body::Query,
                wire::Query::create(fbb, &args).as_union_value(),
            )
        }
        Message::QueryResult(m) => {
            let candles = candle_vector(fbb, &m.candles);
            let ticks = tick_vector(fbb, &m.ticks);
            let instruments = instrument_vector(fbb, &m.instruments);
            let feeds: Vec<_> = m
                .feeds
                .iter()
                .map(|f| {
                    let name = opt_string(fbb, &f.name);
                    let error = opt_string(fbb, &f.error);
                    let args = wire::FeedStatArgs {
                        name,
                        ingested: f.ingested,
                        skipped: f.skipped,
                        finished: f.finished,
                        error,
                    };
                    wire::FeedStat::create(fbb, &args)
                })
                .collect();
            let feeds = (!feeds.is_empty()).then(|| fbb.create_vector(&feeds));
            let args = wire::QueryResultArgs {
                request_id: m.request_id,
                epoch: m.epoch.0,
                head_seq: m.head_seq.0,
                candles,
                ticks,
                instruments,
                feeds,
            };
            (
                wire::Body::QueryResult,
                wire::QueryResult::create(fbb, &args).as_union_value(),
            )
        }
        Message::Error(m) => {
            let message = opt_string(fbb, &m.message);
            let args = wire::ErrorArgs {
                request_id: m.request_id,
                code: error_code_to_wire(m.code),
                message,
            };
            (
                wire::Body::Error,
                wire::Error::create(fbb, &args).as_union_value(),
            )
        }
    }
}

/// Frames no well-behaved peer sends, for tests of error handling in this and other crates.
#[doc(hidden)]
pub mod testing {
    use super::{FlatBufferBuilder, wire};

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
}
