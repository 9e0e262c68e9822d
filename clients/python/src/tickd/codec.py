"""Frames of tickd's binary protocol (DESIGN.md §5): a little-endian u32 length, then a
FlatBuffers `Message` with the file identifier ``TICK``.

:func:`encode_*` build one frame (prefix included); :func:`decode` turns one payload into an
event or an answer. Vectors of ticks and candles decode as numpy views over the payload
(:mod:`tickd.records`), never as per-record objects.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import flatbuffers
import numpy as np
import numpy.typing as npt

from . import records
from .wire import (
    Body,
    CandleBatch,
    CandleQuery,
    Error,
    FeedStat,
    Gap,
    Heartbeat,
    Hello,
    LatestQuery,
    Message,
    Publish,
    PublishAck,
    Query,
    QueryResult,
    QuerySpec,
    Rejection,
    Snapshot,
    StatsQuery,
    Subscribe,
    SubscribeAck,
    SymbolQuery,
    TickBatch,
    Unsubscribe,
    Welcome,
)

#: The protocol version this client speaks.
PROTOCOL_VERSION: Final = 1
#: The FlatBuffers file identifier of every message.
FILE_IDENTIFIER: Final = b"TICK"
#: Bytes of the length prefix.
PREFIX: Final = 4


#: `GapEvent.reason`: not given.
GAP_UNKNOWN: Final = 0
#: `GapEvent.reason`: the subscriber fell behind the ring and was lapped.
GAP_OVERRUN: Final = 1
#: `GapEvent.reason`: the records are older than the server keeps.
GAP_NOT_RETAINED: Final = 2
#: `GapEvent.reason`: dropped under the ``drop`` slow-consumer policy.
GAP_DROPPED: Final = 3
#: `GapEvent.reason`: the server's epoch changed; the old epoch's later records are gone.
GAP_EPOCH_CHANGED: Final = 4
#: `GapEvent.reason`: conflated under the ``conflate`` policy.
GAP_CONFLATED: Final = 5
#: `GapEvent.reason`: the venue's data has a hole (the record at that seq says which).
GAP_VENUE: Final = 6


class ProtocolError(Exception):
    """The server sent something that is not a valid tickd message (the connection is unusable)."""


class ServerError(Exception):
    """The server answered with an `Error` (``code`` as in the schema's `ErrorCode`)."""

    def __init__(self, request_id: int, code: int, message: str) -> None:
        super().__init__(f"server error {code} (request {request_id}): {message}")
        self.request_id = request_id
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InstrumentInfo:
    """A symbol, the dense id tickd assigned to it, and its price and size scales."""

    instrument_id: int
    symbol: str
    price_scale: int = 9
    size_scale: int = 9


@dataclass(frozen=True)
class WelcomeInfo:
    """The server's answer to `Hello`."""

    version: int
    server_name: str
    epoch: int
    head_seq: int
    heartbeat_interval_ms: int
    max_frame_len: int
    roles: int


@dataclass(frozen=True)
class Subscribed:
    """A subscription started: its id, epoch, first seq, and its instruments."""

    request_id: int
    subscription_id: int
    epoch: int
    start_seq: int
    instruments: list[InstrumentInfo]


@dataclass(frozen=True)
class Ticks:
    """Ticks of a subscription, oldest first: a numpy view of ``records.TICK_DTYPE``."""

    subscription_id: int
    epoch: int
    records: npt.NDArray[np.void]


@dataclass(frozen=True)
class Candles:
    """Candle updates of a subscription: a numpy view of ``records.CANDLE_DTYPE``."""

    subscription_id: int
    epoch: int
    records: npt.NDArray[np.void]


@dataclass(frozen=True)
class SnapshotEvent:
    """The state at `seq`: last trade and quote per instrument, and current candles."""

    subscription_id: int
    epoch: int
    seq: int
    ticks: npt.NDArray[np.void]
    candles: npt.NDArray[np.void]


@dataclass(frozen=True)
class GapEvent:
    """Records `from_seq..=to_seq` will not be delivered (``reason``: one of the ``GAP_*``
    constants, the schema's `GapReason`); with :data:`GAP_VENUE`, the venue's data has a hole
    at that seq for `instrument_id`: venue trade ids `from_trade_id..=to_trade_id` are missing
    (both 0 when the venue has no ids)."""

    subscription_id: int
    epoch: int
    from_seq: int
    to_seq: int
    reason: int
    instrument_id: int | None = None
    from_trade_id: int = 0
    to_trade_id: int = 0


@dataclass(frozen=True)
class HeartbeatEvent:
    """The server is alive; its head seq and time (ns)."""

    epoch: int
    head_seq: int
    server_time: int


@dataclass(frozen=True)
class PublishResult:
    """Ticks sequenced as `first_seq..=last_seq`; `rejected` is (index, reason) per refusal."""

    request_id: int
    epoch: int
    first_seq: int
    last_seq: int
    accepted: int
    rejected: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class FeedStats:
    """A feed's counters."""

    name: str
    ingested: int
    skipped: int
    finished: bool
    error: str


@dataclass(frozen=True)
class QueryAnswer:
    """A query's answer, valid as of `head_seq`."""

    request_id: int
    epoch: int
    head_seq: int
    candles: npt.NDArray[np.void]
    ticks: npt.NDArray[np.void]
    instruments: list[InstrumentInfo]
    feeds: list[FeedStats]
    next_id: int


Decoded = (
    WelcomeInfo
    | Subscribed
    | Ticks
    | Candles
    | SnapshotEvent
    | GapEvent
    | HeartbeatEvent
    | PublishResult
    | QueryAnswer
    | ServerError
)


def _frame(builder: flatbuffers.Builder, body_type: int, body: int) -> bytes:
    Message.Start(builder)
    Message.AddBodyType(builder, body_type)
    Message.AddBody(builder, body)
    builder.Finish(Message.End(builder), file_identifier=FILE_IDENTIFIER)
    payload = bytes(builder.Output())
    return struct.pack("<I", len(payload)) + payload


def _strings(builder: flatbuffers.Builder, items: Sequence[str], start: Any) -> int:
    offsets = [builder.CreateString(s) for s in items]
    start(builder, len(offsets))
    for o in reversed(offsets):
        builder.PrependUOffsetTRelative(o)
    return int(builder.EndVector())


def _struct_vector(builder: flatbuffers.Builder, array: npt.NDArray[np.void]) -> int:
    """A vector of fixed structs, copied from a little-endian structured array."""
    data = np.ascontiguousarray(array).tobytes()
    builder.StartVector(array.dtype.itemsize, len(array), 8)
    builder.head = builder.head - len(data)
    builder.Bytes[builder.head : builder.head + len(data)] = data
    builder.vectorNumElems = len(array)
    return int(builder.EndVector())


def encode_hello(request_id: int, client_name: str, token: str | None) -> bytes:
    """The first frame of a connection."""
    b = flatbuffers.Builder(256)
    name = b.CreateString(client_name)
    tok = b.CreateString(token) if token is not None else None
    Hello.Start(b)
    Hello.AddRequestId(b, request_id)
    Hello.AddMinVersion(b, PROTOCOL_VERSION)
    Hello.AddMaxVersion(b, PROTOCOL_VERSION)
    Hello.AddClientName(b, name)
    if tok is not None:
        Hello.AddToken(b, tok)
    return _frame(b, Body.Body.Hello, Hello.End(b))


def encode_subscribe(
    request_id: int,
    symbols: Sequence[str] | None,
    *,
    trades: bool,
    quotes: bool,
    candle_intervals_s: Sequence[int] = (),
    start: int = 0,
    start_epoch: int = 0,
    start_seq: int = 0,
    start_time: int = 0,
    snapshot: bool = False,
    policy: int = 0,
    datagrams: bool = False,
) -> bytes:
    """A `Subscribe`: `symbols` (None: all), kinds, candle intervals (seconds), where to start
    (0 latest, 1 from (`start_epoch`, `start_seq`), 2 from `start_time` ns), snapshot first,
    slow-consumer policy (0 conflate, 1 drop, 2 disconnect), quotes as QUIC datagrams."""
    b = flatbuffers.Builder(256)
    syms = _strings(b, symbols, Subscribe.StartSymbolsVector) if symbols else None
    intervals = None
    if candle_intervals_s:
        Subscribe.StartCandleIntervalsSVector(b, len(candle_intervals_s))
        for s in reversed(candle_intervals_s):
            b.PrependUint32(s)
        intervals = b.EndVector()
    Subscribe.Start(b)
    Subscribe.AddRequestId(b, request_id)
    if syms is not None:
        Subscribe.AddSymbols(b, syms)
    Subscribe.AddAllSymbols(b, symbols is None)
    Subscribe.AddTrades(b, trades)
    Subscribe.AddQuotes(b, quotes)
    if intervals is not None:
        Subscribe.AddCandleIntervalsS(b, intervals)
    Subscribe.AddStart(b, start)
    Subscribe.AddStartEpoch(b, start_epoch)
    Subscribe.AddStartSeq(b, start_seq)
    Subscribe.AddStartTime(b, start_time)
    Subscribe.AddSnapshot(b, snapshot)
    Subscribe.AddPolicy(b, policy)
    Subscribe.AddDatagrams(b, datagrams)
    return _frame(b, Body.Body.Subscribe, Subscribe.End(b))


def encode_unsubscribe(request_id: int, subscription_id: int) -> bytes:
    """Ends a subscription."""
    b = flatbuffers.Builder(64)
    Unsubscribe.Start(b)
    Unsubscribe.AddRequestId(b, request_id)
    Unsubscribe.AddSubscriptionId(b, subscription_id)
    return _frame(b, Body.Body.Unsubscribe, Unsubscribe.End(b))


def encode_publish(
    request_id: int,
    symbols: Sequence[str],
    ticks: npt.NDArray[np.void],
    scales: Sequence[tuple[int, int]] = (),
) -> bytes:
    """A `Publish`: `ticks` (``TICK_DTYPE``) whose `instrument_id` indexes `symbols`, with the
    (price, size) scales of each symbol, or none for 9:9."""
    if ticks.dtype != records.TICK_DTYPE:
        raise TypeError(f"ticks must have dtype tickd.records.TICK_DTYPE, not {ticks.dtype}")
    b = flatbuffers.Builder(1024 + 64 * len(ticks))
    syms = _strings(b, symbols, Publish.StartSymbolsVector)
    price_scales = size_scales = None
    if scales:
        price_scales = b.CreateByteVector(bytes(p for p, _ in scales))
        size_scales = b.CreateByteVector(bytes(s for _, s in scales))
    vec = _struct_vector(b, ticks)
    Publish.Start(b)
    Publish.AddRequestId(b, request_id)
    Publish.AddSymbols(b, syms)
    Publish.AddTicks(b, vec)
    if price_scales is not None and size_scales is not None:
        Publish.AddPriceScales(b, price_scales)
        Publish.AddSizeScales(b, size_scales)
    return _frame(b, Body.Body.Publish, Publish.End(b))


def _query(b: flatbuffers.Builder, request_id: int, spec_type: int, spec: int) -> bytes:
    Query.Start(b)
    Query.AddRequestId(b, request_id)
    Query.AddSpecType(b, spec_type)
    Query.AddSpec(b, spec)
    return _frame(b, Body.Body.Query, Query.End(b))


def encode_candle_query(
    request_id: int,
    symbol: str,
    interval_s: int,
    *,
    start: int = 0,
    end: int = 0,
    limit: int = 0,
    fill_previous: bool = False,
) -> bytes:
    """Candles of `symbol`: open times in [`start`, `end`) ns (0: unbounded), at most `limit`
    (0: the server's maximum), the first ones from `start` or else the latest."""
    b = flatbuffers.Builder(128)
    sym = b.CreateString(symbol)
    CandleQuery.Start(b)
    CandleQuery.AddSymbol(b, sym)
    CandleQuery.AddIntervalS(b, interval_s)
    CandleQuery.AddFrom_(b, start)
    CandleQuery.AddTo(b, end)
    CandleQuery.AddLimit(b, limit)
    CandleQuery.AddFillPrevious(b, fill_previous)
    return _query(b, request_id, QuerySpec.QuerySpec.CandleQuery, CandleQuery.End(b))


def encode_latest_query(request_id: int, symbols: Sequence[str]) -> bytes:
    """The last trade and quote of `symbols` (empty: a page of every instrument)."""
    b = flatbuffers.Builder(128)
    syms = _strings(b, symbols, LatestQuery.StartSymbolsVector) if symbols else None
    LatestQuery.Start(b)
    if syms is not None:
        LatestQuery.AddSymbols(b, syms)
    return _query(b, request_id, QuerySpec.QuerySpec.LatestQuery, LatestQuery.End(b))


def encode_symbol_query(
    request_id: int, prefix: str = "", from_id: int = 0, limit: int = 0
) -> bytes:
    """A page of the symbol directory."""
    b = flatbuffers.Builder(128)
    p = b.CreateString(prefix)
    SymbolQuery.Start(b)
    SymbolQuery.AddPrefix(b, p)
    SymbolQuery.AddFromId(b, from_id)
    SymbolQuery.AddLimit(b, limit)
    return _query(b, request_id, QuerySpec.QuerySpec.SymbolQuery, SymbolQuery.End(b))


def encode_stats_query(request_id: int) -> bytes:
    """The server's head and feed counters."""
    b = flatbuffers.Builder(64)
    StatsQuery.Start(b)
    return _query(b, request_id, QuerySpec.QuerySpec.StatsQuery, StatsQuery.End(b))


def _vector_view(
    table: Any, vt_offset: int, dtype: np.dtype[np.void], buffer: bytes
) -> npt.NDArray[np.void]:
    """The struct vector at vtable offset `vt_offset` of `table`, as a view of `buffer`."""
    tab = table._tab
    o = tab.Offset(vt_offset)
    if o == 0:
        return np.empty(0, dtype=dtype)
    start = tab.Vector(o)
    count = tab.VectorLen(o)
    if start + count * dtype.itemsize > len(buffer):
        raise ProtocolError("a record vector runs past the end of its frame")
    return np.frombuffer(buffer, dtype=dtype, count=count, offset=start)


def _instruments(table: Any) -> list[InstrumentInfo]:
    out = []
    for i in range(table.InstrumentsLength()):
        inst = table.Instruments(i)
        out.append(
            InstrumentInfo(
                instrument_id=inst.InstrumentId(),
                symbol=(inst.Symbol() or b"").decode(),
                price_scale=inst.PriceScale(),
                size_scale=inst.SizeScale(),
            )
        )
    return out


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def decode(payload: bytes) -> Decoded:
    """One frame's payload as an event, an answer, or a :class:`ServerError` (returned, for the
    caller to raise where it belongs).

    Raises :class:`ProtocolError` for a payload that is not a tickd message."""
    if len(payload) < 8 or payload[4:8] != FILE_IDENTIFIER:
        raise ProtocolError(f"not a tickd message (file identifier {payload[4:8]!r})")
    try:
        msg = Message.Message.GetRootAs(payload, 0)
        kind = msg.BodyType()
        body = msg.Body()
        if body is None:
            raise ProtocolError("a message without a body")
        return _decode_body(payload, kind, body)
    except ProtocolError:
        raise
    except Exception as e:  # a malformed buffer raises from deep inside the runtime
        raise ProtocolError(f"malformed message: {e}") from e


def _decode_body(buf: bytes, kind: int, body: Any) -> Decoded:
    def typed(cls: Any) -> Any:
        t = cls()
        t.Init(body.Bytes, body.Pos)
        return t

    tick, candle = records.TICK_DTYPE, records.CANDLE_DTYPE
    if kind == Body.Body.TickBatch:
        t = typed(TickBatch.TickBatch)
        return Ticks(t.SubscriptionId(), t.Epoch(), _vector_view(t, 8, tick, buf))
    if kind == Body.Body.CandleBatch:
        t = typed(CandleBatch.CandleBatch)
        return Candles(t.SubscriptionId(), t.Epoch(), _vector_view(t, 8, candle, buf))
    if kind == Body.Body.Heartbeat:
        t = typed(Heartbeat.Heartbeat)
        return HeartbeatEvent(t.Epoch(), t.HeadSeq(), t.ServerTime())
    if kind == Body.Body.Gap:
        t = typed(Gap.Gap)
        inst = t.InstrumentId()
        return GapEvent(
            t.SubscriptionId(),
            t.Epoch(),
            t.FromSeq(),
            t.ToSeq(),
            t.Reason(),
            None if inst == 0xFFFF_FFFF else inst,
            t.FromTradeId(),
            t.ToTradeId(),
        )
    if kind == Body.Body.Welcome:
        t = typed(Welcome.Welcome)
        return WelcomeInfo(
            t.Version(),
            _text(t.ServerName()),
            t.Epoch(),
            t.HeadSeq(),
            t.HeartbeatIntervalMs(),
            t.MaxFrameLen(),
            t.Roles(),
        )
    if kind == Body.Body.SubscribeAck:
        t = typed(SubscribeAck.SubscribeAck)
        return Subscribed(
            t.RequestId(), t.SubscriptionId(), t.Epoch(), t.StartSeq(), _instruments(t)
        )
    if kind == Body.Body.Snapshot:
        t = typed(Snapshot.Snapshot)
        return SnapshotEvent(
            t.SubscriptionId(),
            t.Epoch(),
            t.Seq(),
            _vector_view(t, 12, tick, buf),
            _vector_view(t, 14, candle, buf),
        )
    if kind == Body.Body.PublishAck:
        t = typed(PublishAck.PublishAck)
        rejected = []
        for i in range(t.RejectedLength()):
            r: Rejection.Rejection = t.Rejected(i)
            rejected.append((r.Index(), _text(r.Reason())))
        return PublishResult(
            t.RequestId(), t.Epoch(), t.FirstSeq(), t.LastSeq(), t.Accepted(), rejected
        )
    if kind == Body.Body.QueryResult:
        t = typed(QueryResult.QueryResult)
        feeds = []
        for i in range(t.FeedsLength()):
            f: FeedStat.FeedStat = t.Feeds(i)
            feeds.append(
                FeedStats(
                    _text(f.Name()), f.Ingested(), f.Skipped(), f.Finished(), _text(f.Error())
                )
            )
        return QueryAnswer(
            t.RequestId(),
            t.Epoch(),
            t.HeadSeq(),
            _vector_view(t, 10, candle, buf),
            _vector_view(t, 12, tick, buf),
            _instruments(t),
            feeds,
            t.NextId(),
        )
    if kind == Body.Body.Error:
        t = typed(Error.Error)
        return ServerError(t.RequestId(), t.Code(), _text(t.Message()))
    raise ProtocolError(f"unexpected message type {kind} from the server")


__all__ = [
    "Candles",
    "FeedStats",
    "GapEvent",
    "HeartbeatEvent",
    "InstrumentInfo",
    "ProtocolError",
    "PublishResult",
    "QueryAnswer",
    "ServerError",
    "SnapshotEvent",
    "Subscribed",
    "Ticks",
    "WelcomeInfo",
    "decode",
    "encode_candle_query",
    "encode_hello",
    "encode_latest_query",
    "encode_publish",
    "encode_stats_query",
    "encode_subscribe",
    "encode_symbol_query",
    "encode_unsubscribe",
]
