"""An asyncio client of tickd's binary protocol over TCP or QUIC.

    client = await tickd.connect("127.0.0.1", 7400)       # or tickd.connect_quic(...)
    candles = await client.candles("AAPL", "1m")          # numpy array of CANDLE_DTYPE
    sub = await client.subscribe(["AAPL"], trades=True)
    async for event in client.events():                   # Ticks, Candles, GapEvent, ...
        ...

One connection, one reader: requests (queries, subscribe, publish) wait for their answer on the
same stream the subscriptions' events arrive on; events that arrive meanwhile are queued for
:meth:`Client.events`.
"""

from __future__ import annotations

import collections
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
from .transport import DEFAULT_MAX_FRAME, TcpTransport, Transport

#: Intervals by name, in seconds.
INTERVALS: Final = {"1s": 1, "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}

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

    def __init__(self, transport: Transport, welcome: WelcomeInfo) -> None:
        self._transport = transport
        self.welcome = welcome
        self._next_request = 2
        self._events: collections.deque[Event] = collections.deque()
        transport.max_frame = welcome.max_frame_len or DEFAULT_MAX_FRAME

    @property
    def transport(self) -> str:
        """``tcp`` or ``quic``."""
        return self._transport.name

    @property
    def epoch(self) -> int:
        """The server's ring epoch (from its `Welcome`)."""
        return self.welcome.epoch

    async def close(self) -> None:
        """Closes the connection."""
        await self._transport.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _request_id(self) -> int:
        self._next_request += 1
        return self._next_request

    async def _send(self, frame: bytes) -> None:
        await self._transport.write(frame)

    async def _read(self) -> Decoded | None:
        """The next message, or None when the server closed the connection cleanly."""
        payload = await self._transport.read()
        return None if payload is None else codec.decode(payload)

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
        datagrams: bool = False,
    ) -> Subscribed:
        """Starts a subscription to `symbols` (None: every instrument): trades, quotes, candle
        updates of `candles` intervals; from the next record, from seq `from_seq` of
        `from_epoch` (default: this server's epoch), or from time `from_time` (ns); a
        snapshot first; the slow-consumer `policy`. QUIC only: `datagrams` sends the quotes
        as unreliable datagrams, conflated to the latest per instrument.

        Raises :class:`ServerError` when the server refuses it (an unknown symbol, a seq from
        another epoch that it cannot serve)."""
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
                datagrams=datagrams,
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


async def _hello(transport: Transport, token: str | None, client_name: str) -> Client:
    """Says `Hello` on a new transport and waits for the `Welcome`."""
    try:
        await transport.write(codec.encode_hello(1, client_name, token))
        payload = await transport.read()
        welcome = codec.decode(payload) if payload is not None else None
        if isinstance(welcome, ServerError):
            raise welcome
        if not isinstance(welcome, WelcomeInfo):
            raise ProtocolError(f"expected a Welcome, got {welcome!r}")
    except BaseException:
        await transport.close()
        raise
    return Client(transport, welcome)


async def connect(
    host: str = "127.0.0.1",
    port: int = 7400,
    *,
    token: str | None = None,
    client_name: str = "tickd-python",
) -> Client:
    """Connects over TCP and says `Hello` (with `token` when the server has tokens).

    Raises :class:`OSError` when the connection fails, :class:`ServerError` when the server
    refuses the `Hello` (a bad token, say), :class:`ProtocolError` for anything but a
    `Welcome`."""
    return await _hello(await TcpTransport.open(host, port), token, client_name)


async def connect_quic(
    host: str = "127.0.0.1",
    port: int = 7401,
    *,
    fingerprint: str | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    server_name: str = "localhost",
    token: str | None = None,
    client_name: str = "tickd-python",
) -> Client:
    """Connects over QUIC (needs the ``quic`` extra: aioquic), verifies the server by its
    pinned certificate `fingerprint`, a `ca_file`, or (local tests only) `insecure`, and says
    `Hello`. Subscriptions' events come from their own streams; the API is the TCP one.

    Raises :class:`ConnectionError` when the handshake fails or the certificate does not match,
    and what :func:`connect` raises."""
    from .quic import QuicTransport

    transport = await QuicTransport.open(
        host,
        port,
        server_name=server_name,
        ca_file=ca_file,
        fingerprint=fingerprint,
        insecure=insecure,
    )
    return await _hello(transport, token, client_name)


__all__ = [
    "CONFLATE",
    "DISCONNECT",
    "DROP",
    "INTERVALS",
    "Client",
    "Event",
    "connect",
    "connect_quic",
    "interval_seconds",
]
