"""Subscriptions that survive disconnects: resumed from their last ``(epoch, seq)``, on the
same server or the next one in a list.

    sub = tickd.Resuming(["tcp://a:7400", "tcp://b:7400"], ["AAPL"], trades=True)
    async for event in sub:            # Ticks, Candles, GapEvent, ... across reconnects
        ...

The cursor is the seq after the last one delivered: the last tick of a ``Ticks`` batch, the
``to_seq`` of a ``GapEvent``, a snapshot's ``seq``, a candle's ``last_seq``. After a disconnect
(the connection closed, reset or a bad frame) the subscription is made again with
``start = seq`` from the cursor, after a capped exponential backoff (0.05 s doubling to
`max_backoff`, reset once a subscription is acknowledged). So nothing is delivered twice and
nothing is skipped silently: what the server cannot give any more arrives as the ``GapEvent``
it declares (``GAP_NOT_RETAINED``, say), exactly where it declares it.

A server of another epoch (restarted with a new ring) cannot resume the old one: the
subscription yields ``GapEvent(reason=GAP_EPOCH_CHANGED, from_seq=cursor, to_seq=2**64-1)`` in
the old epoch, then continues from seq 1 of the new one.

A :class:`~tickd.codec.ServerError` (a refused subscription: an unknown symbol, a bad token)
is not retried: it ends the iteration by raising.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import codec
from .client import CONFLATE, Client, Event, connect, connect_quic
from .codec import GAP_EPOCH_CHANGED, GapEvent, ProtocolError

log = logging.getLogger(__name__)

#: A `to_seq` that means "everything after".
END_OF_EPOCH = 2**64 - 1


async def connect_url(url: str, **options: Any) -> Client:
    """Connects to ``tcp://host:port`` or ``quic://host:port``; `options` go to
    :func:`~tickd.client.connect` or :func:`~tickd.client.connect_quic` (``token``,
    ``fingerprint``, ``ca_file``, ``insecure``, ``server_name``).

    Raises :class:`ValueError` for another scheme or a missing port."""
    parts = urlsplit(url)
    if parts.scheme not in ("tcp", "quic") or not parts.hostname or parts.port is None:
        raise ValueError(f"server {url!r}: expected tcp://host:port or quic://host:port")
    if parts.scheme == "tcp":
        tcp = {k: v for k, v in options.items() if k in ("token", "client_name")}
        return await connect(parts.hostname, parts.port, **tcp)
    return await connect_quic(parts.hostname, parts.port, **options)


@dataclass
class Cursor:
    """Where a subscription resumes: the next seq of `epoch` to deliver."""

    epoch: int
    next_seq: int


class Resuming:
    """A subscription that reconnects and resumes (see the module docs).

    `servers` are URLs (tried in turn, from the one that last worked) or a function that
    connects; `connect_options` go to :func:`connect_url`. The subscription's arguments are
    those of :meth:`Client.subscribe`; `snapshot` is asked for on the first subscription only.
    `max_attempts` bounds consecutive failed connection attempts (None: retry forever); past
    it, the last error is raised."""

    def __init__(
        self,
        servers: Sequence[str] | Callable[[], Awaitable[Client]],
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
        max_backoff: float = 5.0,
        max_attempts: int | None = None,
        **connect_options: Any,
    ) -> None:
        if isinstance(servers, str):
            servers = [servers]
        if not callable(servers) and not servers:
            raise ValueError("no servers given")
        self._servers = servers
        self._options = connect_options
        self._symbols = list(symbols) if symbols is not None else None
        self._kinds: dict[str, Any] = {
            "trades": trades,
            "quotes": quotes,
            "candles": tuple(candles),
            "policy": policy,
        }
        self._first: dict[str, Any] = {
            "from_seq": from_seq,
            "from_epoch": from_epoch,
            "from_time": from_time,
            "snapshot": snapshot,
        }
        self._max_backoff = max_backoff
        self._max_attempts = max_attempts
        self._server = 0
        self.cursor: Cursor | None = None
        #: Connections made after the first.
        self.reconnects = 0
        self._client: Client | None = None

    async def _connect(self) -> Client:
        if callable(self._servers):
            return await self._servers()
        url = self._servers[self._server % len(self._servers)]
        return await connect_url(url, **self._options)

    async def _subscribe(self, client: Client) -> list[Event]:
        """Subscribes from the cursor (or as first asked); the events to give first."""
        first: list[Event] = []
        if self.cursor is None:
            ack = await client.subscribe(self._symbols, **self._kinds, **self._first)
        else:
            if self.cursor.epoch != client.epoch:
                old = self.cursor
                first.append(GapEvent(0, old.epoch, old.next_seq, END_OF_EPOCH, GAP_EPOCH_CHANGED))
                self.cursor = Cursor(client.epoch, 1)
            ack = await client.subscribe(
                self._symbols,
                **self._kinds,
                from_seq=self.cursor.next_seq,
                from_epoch=self.cursor.epoch,
            )
        if self.cursor is None:
            self.cursor = Cursor(ack.epoch, ack.start_seq)
        return first

    def _advance(self, event: Event) -> Event | None:
        """Moves the cursor past `event`; None for one wholly before it (already delivered)."""
        cursor = self.cursor
        assert cursor is not None
        if isinstance(event, codec.Ticks):
            seqs = event.records["seq"]
            if len(seqs) and int(seqs[0]) < cursor.next_seq:
                keep = event.records[seqs >= cursor.next_seq]
                if not len(keep):
                    return None
                event = codec.Ticks(event.subscription_id, event.epoch, keep)
                seqs = keep["seq"]
            if len(seqs):
                cursor.next_seq = int(seqs[-1]) + 1
        elif isinstance(event, GapEvent):
            if event.to_seq < cursor.next_seq:
                return None
            cursor.next_seq = event.to_seq + 1
        elif isinstance(event, codec.SnapshotEvent):
            cursor.next_seq = max(cursor.next_seq, event.seq + 1)
        elif isinstance(event, codec.Candles) and len(event.records):
            cursor.next_seq = max(cursor.next_seq, int(event.records["last_seq"].max()) + 1)
        return event

    async def __aiter__(self) -> AsyncIterator[Event]:
        failures = 0
        backoff = 0.05
        while True:
            subscribed = False
            try:
                self._client = await self._connect()
                client = self._client
                for e in await self._subscribe(client):
                    yield e
                subscribed = True
                failures, backoff = 0, 0.05
                while (event := await client.next_event()) is not None:
                    out = self._advance(event)
                    if out is not None:
                        yield out
                log.info("tickd: the server closed the connection; resuming at %s", self.cursor)
            except (OSError, ProtocolError, asyncio.IncompleteReadError) as e:
                # ConnectionError is an OSError. ServerError is not: a refusal is not retried.
                log.info("tickd: %s; resuming at %s", e, self.cursor)
                if not subscribed:
                    # This server cannot be reached: the next one is tried next.
                    failures += 1
                    self._server += 1
                    if self._max_attempts is not None and failures >= self._max_attempts:
                        raise
            finally:
                if self._client is not None:
                    with contextlib.suppress(Exception):
                        await self._client.close()
                    self._client = None
            self.reconnects += 1
            await asyncio.sleep(backoff * (0.5 + random.random() / 2))
            backoff = min(backoff * 2, self._max_backoff)

    async def close(self) -> None:
        """Closes the current connection (an iteration in progress resumes; stop iterating
        to end it)."""
        if self._client is not None:
            await self._client.close()


__all__ = ["END_OF_EPOCH", "Cursor", "Resuming", "connect_url"]
