//! [`Encoder`]: typed messages into FlatBuffers frames, reusing one builder.

use bytes::{Bytes, BytesMut};
use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, Vector, WIPOffset};

use super::error::error_code_to_wire;
use super::{
    Candles, GapReason, Instrument, Message, QuerySpec, Selection, SlowConsumerPolicy, Start, Ticks,
};
use crate::frame::put_frame;
use crate::generated::wire;

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
                    price_scale: i.scales.price_scale(),
                    size_scale: i.scales.size_scale(),
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
                GapReason::Venue(_) => wire::GapReason::Venue,
            };
            let hole = match m.reason {
                GapReason::Venue(h) => h,
                _ => crate::VenueHole {
                    instrument: crate::InstrumentId(u32::MAX),
                    from_trade_id: 0,
                    to_trade_id: 0,
                },
            };
            let args = wire::GapArgs {
                subscription_id: m.subscription_id,
                epoch: m.epoch.0,
                from_seq: m.from.0,
                to_seq: m.to.0,
                reason,
                instrument_id: hole.instrument.0,
                from_trade_id: hole.from_trade_id,
                to_trade_id: hole.to_trade_id,
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
            let (price_scales, size_scales) = if m.scales.is_empty() {
                (None, None)
            } else {
                let p: Vec<u8> = m.scales.iter().map(|s| s.price_scale()).collect();
                let q: Vec<u8> = m.scales.iter().map(|s| s.size_scale()).collect();
                (Some(fbb.create_vector(&p)), Some(fbb.create_vector(&q)))
            };
            let args = wire::PublishArgs {
                request_id: m.request_id,
                symbols,
                ticks,
                price_scales,
                size_scales,
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
                QuerySpec::Latest { symbols, page } => {
                    let symbols = string_vector(fbb, symbols);
                    let args = wire::LatestQueryArgs {
                        symbols,
                        from_id: page.from_id,
                        limit: page.limit.unwrap_or(0),
                    };
                    let q = wire::LatestQuery::create(fbb, &args);
                    (wire::QuerySpec::LatestQuery, q.as_union_value())
                }
                QuerySpec::Symbols { prefix, page } => {
                    let prefix = opt_string(fbb, prefix);
                    let args = wire::SymbolQueryArgs {
                        prefix,
                        from_id: page.from_id,
                        limit: page.limit.unwrap_or(0),
                    };
                    let q = wire::SymbolQuery::create(fbb, &args);
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
                next_id: m.next_id.map_or(0, |id| id.0),
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
