"""An asyncio client of tickd's binary protocol over TCP.

    client = await tickd.connect("127.0.0.1", 7400)
    candles = await client.candles("AAPL", "1m")          # numpy array of CANDLE_DTYPE
    sub = await client.subscribe(["AAPL"], trades=True)
    async for event in client.events():                   # Ticks, Candles, GapEvent, ...
        ...

One connection, one reader: requests (queries, subscribe, publish) wait for their answer on the
same stream the subscriptions' events arrive on; events that arrive meanwhile are queued for
:meth:`Client.events`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import struct
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from . import codec
from .codec import (
    Decoded,
    ProtocolError,
    PublishResult,
    QueryAnswer,
    ServerError,
    Subscribed,
    WelcomeInfo,
)

#: Intervals by name, in seconds.
INTERVALS: Final = {"1s": 1, "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
#: Largest frame accepted from a server before it says its own limit (16 MiB).
DEFAULT_MAX_FRAME: Final = 16 * 1024 * 1024

#: `start`: the next record published.
START_LATEST: Final = 0
#: `start`: from (epoch, seq).
START_SEQ: Final = 1
#: `start`: from the first tick with `ts_event` at or after a time.
START_TIME: Final = 2

#: Slow-consumer policies.
CONFLATE: Final = 0
DROP: Final = 1
DISCONNECT: Final = 2

Event = codec.Ticks | codec.Candles | codec.SnapshotEvent | codec.GapEvent | codec.HeartbeatEvent


def interval_seconds(interval: str | int) -> int:
    """An interval's length in seconds, from its name (``1s 1m 5m 15m 1h 4h 1d``) or seconds."""
    if isinstance(interval, int):
        if interval not in INTERVALS.values():
            raise ValueError(f"interval {interval} s is not one of {sorted(INTERVALS.values())}")
        return interval
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ValueError(f"interval {interval!r} is not one of {' '.join(INTERVALS)}") from None


class Client:
    """A connection to a tickd server (see the module docs). Make one with :func:`connect`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, welcome: WelcomeInfo
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.welcome = welcome
        self._next_request = 2
        self._events: collections.deque[Event] = collections.deque()
        self._max_frame = welcome.max_frame_len or DEFAULT_MAX_FRAME

    @property
    def epoch(self) -> int:
        """The server's ring epoch (from its `Welcome`)."""
        return self.welcome.epoch

    async def close(self) -> None:
        """Closes the connection."""
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _request_id(self) -> int:
        self._next_request += 1
        return self._next_request

    async def _send(self, frame: bytes) -> None:
        self._writer.write(frame)
        await self._writer.drain()

    async def _read(self) -> Decoded | None:
        """The next message, or None when the server closed the connection cleanly."""
        try:
            head = await self._reader.readexactly(codec.PREFIX)
        except asyncio.IncompleteReadError as e:
            if not e.partial:
                return None
            raise ProtocolError("the connection closed inside a length prefix") from e
        (length,) = struct.unpack("<I", head)
        if length > self._max_frame:
            raise ProtocolError(f"frame of {length} bytes over the limit of {self._max_frame}")
        try:
            payload = await self._reader.readexactly(length)
        except asyncio.IncompleteReadError as e:
            raise ProtocolError(
                f"the connection closed {len(e.partial)} bytes into a {length}-byte frame"
            ) from e
        return codec.decode(payload)

    async def _answer(self, request_id: int) -> Decoded:
        """Reads until the answer to `request_id`; events on the way are queued."""
        while True:
            msg = await self._read()
            if msg is None:
                raise ConnectionError("the server closed the connection")
            if isinstance(msg, ServerError):
                if msg.request_id in (request_id, 0):
                    raise msg
                continue
            if isinstance(msg, Event):
                self._events.append(msg)
                continue
            if getattr(msg, "request_id", request_id) == request_id:
                return msg

    async def next_event(self) -> Event | None:
        """The next event of any subscription; None when the server closed the connection.

        Raises :class:`ServerError` for an error the server sends (a refused subscription, a
        `disconnect` policy's notice)."""
        if self._events:
            return self._events.popleft()
        while True:
            msg = await self._read()
            if msg is None:
                return None
            if isinstance(msg, ServerError):
                raise msg
            if isinstance(msg, Event):
                return msg

    async def events(self) -> AsyncIterator[Event]:
        """Every event until the server closes the connection."""
        while (e := await self.next_event()) is not None:
            yield e

    async def subscribe(
        self,
        symbols: Sequence[str] | None = None,
        *,
        trades: bool = True,
        quotes: bool = False,
        candles: Sequence[str | int] = (),
        from_seq: int | None = None,
        from_epoch: int | None = None,
        from_time: int | None = None,
        snapshot: bool = False,
        policy: int = CONFLATE,
    ) -> Subscribed:
        """Starts a subscription to `symbols` (None: every instrument): trades, quotes, candle
        updates of `candles` intervals; from the next record, from seq `from_seq` of
        `from_epoch` (default: this server's epoch), or from time `from_time` (ns)."""
        if from_seq is not None and from_time is not None:
            raise ValueError("from_seq and from_time are exclusive")
        start = START_LATEST
        if from_seq is not None:
            start = START_SEQ
        elif from_time is not None:
            start = START_TIME
        rid = self._request_id()
        await self._send(
            codec.encode_subscribe(
                rid,
                list(symbols) if symbols is not None else None,
                trades=trades,
                quotes=quotes,
                candle_intervals_s=[interval_seconds(i) for i in candles],
                start=start,
                start_epoch=from_epoch if from_epoch is not None else self.epoch,
                start_seq=from_seq or 0,
                start_time=from_time or 0,
                snapshot=snapshot,
                policy=policy,
            )
        )
        ack = await self._answer(rid)
        if not isinstance(ack, Subscribed):
            raise ProtocolError(f"expected a SubscribeAck, got {ack!r}")
        return ack

    async def unsubscribe(self, subscription_id: int) -> None:
        """Ends a subscription (events already sent may still arrive)."""
        await self._send(codec.encode_unsubscribe(self._request_id(), subscription_id))

    async def _query(self, frame_of: Callable[[int], bytes]) -> QueryAnswer:
        rid = self._request_id()
        await self._send(frame_of(rid))
        answer = await self._answer(rid)
        if not isinstance(answer, QueryAnswer):
            raise ProtocolError(f"expected a QueryResult, got {answer!r}")
        return answer

    async def candles(
        self,
        symbol: str,
        interval: str | int,
        *,
        start: int = 0,
        end: int = 0,
        limit: int = 0,
        fill_previous: bool = False,
    ) -> npt.NDArray[np.void]:
        """Candles of `symbol` with open times in [`start`, `end`) ns (0: unbounded), oldest
        first: the first `limit` from `start`, else the latest (0: the server's maximum)."""
        secs = interval_seconds(interval)
        r = await self._query(
            lambda rid: codec.encode_candle_query(
                rid, symbol, secs, start=start, end=end, limit=limit, fill_previous=fill_previous
            )
        )
        return r.candles

    async def latest(self, symbols: Sequence[str]) -> QueryAnswer:
        """The last trade and quote of `symbols` (``.ticks``) and their instruments."""
        return await self._query(lambda rid: codec.encode_latest_query(rid, symbols))

    async def symbols(self, prefix: str = "") -> list[codec.InstrumentInfo]:
        """Every instrument whose symbol starts with `prefix`, page after page."""
        out: list[codec.InstrumentInfo] = []
        from_id = 0
        while True:
            page = await self._query(
                lambda rid, f=from_id: codec.encode_symbol_query(rid, prefix, f)  # type: ignore[misc]
            )
            out.extend(page.instruments)
            if page.next_id == 0:
                return out
            from_id = page.next_id

    async def stats(self) -> QueryAnswer:
        """The server's head seq (``.head_seq``) and feed counters (``.feeds``)."""
        return await self._query(codec.encode_stats_query)

    async def publish(
        self,
        symbols: Sequence[str],
        ticks: npt.NDArray[np.void],
        scales: Sequence[tuple[int, int]] = (),
    ) -> PublishResult:
        """Publishes `ticks` (``TICK_DTYPE``; `instrument_id` indexes `symbols`; `seq` and
        `ts_recv` are ignored) and waits until the server sequenced them."""
        rid = self._request_id()
        await self._send(codec.encode_publish(rid, symbols, ticks, scales))
        ack = await self._answer(rid)
        if not isinstance(ack, PublishResult):
            raise ProtocolError(f"expected a PublishAck, got {ack!r}")
        return ack


async def connect(
    host: str = "127.0.0.1",
    port: int = 7400,
    *,
    token: str | None = None,
    client_name: str = "tickd-python",
) -> Client:
    """Connects over TCP and says `Hello` (with `token` when the server has tokens)."""
    # A large buffer: frames are up to a few MiB and the default 64 KiB pauses the socket.
    reader, writer = await asyncio.open_connection(host, port, limit=8 * 1024 * 1024)
    writer.write(codec.encode_hello(1, client_name, token))
    await writer.drain()
    client = Client(reader, writer, WelcomeInfo(0, "", 0, 0, 0, DEFAULT_MAX_FRAME, 0))
    welcome = await client._read()
    if isinstance(welcome, ServerError):
        writer.close()
        raise welcome
    if not isinstance(welcome, WelcomeInfo):
        writer.close()
        raise ProtocolError(f"expected a Welcome, got {welcome!r}")
    client.welcome = welcome
    client._max_frame = welcome.max_frame_len or DEFAULT_MAX_FRAME
    return client


__all__ = [
    "CONFLATE",
    "DISCONNECT",
    "DROP",
    "INTERVALS",
    "Client",
    "Event",
    "connect",
    "interval_seconds",
]
