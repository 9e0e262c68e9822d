//! [`Message::decode`]: verify an untrusted payload, then read it into typed messages.

use flatbuffers::{ForwardsUOffset, Vector, VerifierOptions};

use super::error::error_code_from_wire;
use super::{
    CandleBatch, Candles, DecodeError, ErrorMessage, FeedStat, Gap, GapReason, Heartbeat, Hello,
    Instrument, Message, Page, Publish, PublishAck, Query, QueryResult, QuerySpec, Records,
    Rejection, Roles, Selection, SlowConsumerPolicy, Snapshot, Start, Subscribe, SubscribeAck,
    TickBatch, Ticks, Unsubscribe, Welcome,
};
use crate::generated::wire;
use crate::record::Interval;
use crate::scale::Scales;
use crate::symbol::Symbol;
use crate::types::{Epoch, InstrumentId, Seq, UnixNanos};

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
            let symbol = Symbol::new(i.symbol()).map_err(|source| DecodeError::InvalidSymbol {
                field,
                index,
                source,
            })?;
            let scales = Scales::new(u32::from(i.price_scale()), u32::from(i.size_scale()))
                .map_err(|source| DecodeError::InvalidScales {
                    field,
                    index,
                    source,
                })?;
            Ok(Instrument {
                id: InstrumentId(i.instrument_id()),
                symbol,
                scales,
            })
        })
        .collect()
}

/// A publish's scales: both vectors or neither, as long as its symbols, each scale in range.
fn publish_scales(m: &wire::Publish<'_>, symbols: usize) -> Result<Vec<Scales>, DecodeError> {
    let field = "publish.price_scales";
    match (m.price_scales(), m.size_scales()) {
        (None, None) => Ok(Vec::new()),
        (Some(p), Some(q)) if p.len() == symbols && q.len() == symbols => p
            .iter()
            .zip(q.iter())
            .enumerate()
            .map(|(index, (p, q))| {
                Scales::new(u32::from(p), u32::from(q)).map_err(|source| {
                    DecodeError::InvalidScales {
                        field,
                        index,
                        source,
                    }
                })
            })
            .collect(),
        _ => Err(DecodeError::InvalidField {
            field,
            reason: "price_scales and size_scales must both be absent or both list every symbol"
                .into(),
        }),
    }
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
                        wire::GapReason::Venue => GapReason::Venue(crate::VenueHole {
                            instrument: crate::InstrumentId(m.instrument_id()),
                            from_trade_id: m.from_trade_id(),
                            to_trade_id: m.to_trade_id(),
                        }),
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
                let symbols = symbols(m.symbols(), "publish.symbols")?;
                let scales = publish_scales(&m, symbols.len())?;
                Self::Publish(Publish {
                    request_id: m.request_id(),
                    symbols,
                    scales,
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
                    next_id: (m.next_id() != 0).then_some(InstrumentId(m.next_id())),
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
                page: Page {
                    from_id: q.from_id(),
                    limit: (q.limit() != 0).then_some(q.limit()),
                },
            }
        }
        wire::QuerySpec::SymbolQuery => {
            let q = m
                .spec_as_symbol_query()
                .ok_or_else(|| missing("query.spec"))?;
            QuerySpec::Symbols {
                prefix: opt_str(q.prefix()),
                page: Page {
                    from_id: q.from_id(),
                    limit: (q.limit() != 0).then_some(q.limit()),
                },
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
