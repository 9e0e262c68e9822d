"""A blocking client for scripts and notebooks: the asyncio client run on an event loop of its
own, in a background thread, so it works where a loop already runs (Jupyter) and where none
does.

    with tickd.sync.connect("127.0.0.1", 7400) as client:
        candles = client.candles("AAPL", "1m")
        client.subscribe(["AAPL"], trades=True)
        for event in client.events(timeout=5):     # ends after 5 s without an event
            ...

    for event in tickd.sync.resuming(["tcp://127.0.0.1:7400"], ["AAPL"]):
        ...

Every call blocks until its answer and raises what the async call raises. One client is used
from one thread at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from . import client as aclient
from .codec import InstrumentInfo, PublishResult, QueryAnswer, Subscribed
from .resume import Resuming

T = TypeVar("T")


class _Loop:
    """An event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="tickd", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Client:
    """A blocking :class:`tickd.Client` (see the module docs). Make one with :func:`connect`
    or :func:`connect_quic`."""

    def __init__(self, loop: _Loop, client: aclient.Client) -> None:
        self._loop = loop
        self._client = client

    @property
    def welcome(self) -> Any:
        """The server's `Welcome`."""
        return self._client.welcome

    @property
    def epoch(self) -> int:
        """The server's ring epoch."""
        return self._client.epoch

    def close(self) -> None:
        """Closes the connection and stops the client's loop."""
        try:
            self._loop.run(self._client.close(), timeout=10)
        finally:
            self._loop.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def subscribe(self, symbols: Sequence[str] | None = None, **options: Any) -> Subscribed:
        """:meth:`tickd.Client.subscribe`."""
        return self._loop.run(self._client.subscribe(symbols, **options))

    def unsubscribe(self, subscription_id: int) -> None:
        """:meth:`tickd.Client.unsubscribe`."""
        self._loop.run(self._client.unsubscribe(subscription_id))

    def candles(self, symbol: str, interval: str | int, **options: Any) -> npt.NDArray[np.void]:
        """:meth:`tickd.Client.candles`."""
        return self._loop.run(self._client.candles(symbol, interval, **options))

    def latest(self, symbols: Sequence[str]) -> QueryAnswer:
        """:meth:`tickd.Client.latest`."""
        return self._loop.run(self._client.latest(symbols))

    def symbols(self, prefix: str = "") -> list[InstrumentInfo]:
        """:meth:`tickd.Client.symbols`."""
        return self._loop.run(self._client.symbols(prefix))

    def stats(self) -> QueryAnswer:
        """:meth:`tickd.Client.stats`."""
        return self._loop.run(self._client.stats())

    def publish(
        self,
        symbols: Sequence[str],
        ticks: npt.NDArray[np.void],
        scales: Sequence[tuple[int, int]] = (),
    ) -> PublishResult:
        """:meth:`tickd.Client.publish`."""
        return self._loop.run(self._client.publish(symbols, ticks, scales))

    def next_event(self, timeout: float | None = None) -> aclient.Event | None:
        """The next event; None when the server closed the connection. Raises
        :class:`TimeoutError` after `timeout` seconds without one (the connection stays
        usable)."""
        return self._loop.run(_bounded(self._client.next_event(), timeout))

    def events(self, timeout: float | None = None) -> Iterator[aclient.Event]:
        """Events until the server closes the connection, or until `timeout` seconds pass
        without one."""
        while True:
            try:
                event = self.next_event(timeout)
            except TimeoutError:
                return
            if event is None:
                return
            yield event


async def _bounded(coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
    # Cancelling next_event between frames loses nothing: a frame is read whole or not at all
    # (TCP: readexactly; QUIC: a queue of whole frames).
    return await asyncio.wait_for(coro, timeout)


async def _next(events: AsyncIterator[T]) -> T:
    return await events.__anext__()


def connect(host: str = "127.0.0.1", port: int = 7400, **options: Any) -> Client:
    """:func:`tickd.connect`, blocking."""
    loop = _Loop()
    try:
        return Client(loop, loop.run(aclient.connect(host, port, **options)))
    except BaseException:
        loop.stop()
        raise


def connect_quic(host: str = "127.0.0.1", port: int = 7401, **options: Any) -> Client:
    """:func:`tickd.connect_quic`, blocking."""
    loop = _Loop()
    try:
        return Client(loop, loop.run(aclient.connect_quic(host, port, **options)))
    except BaseException:
        loop.stop()
        raise


def resuming(
    servers: Sequence[str], symbols: Sequence[str] | None = None, **options: Any
) -> Iterator[aclient.Event]:
    """:class:`tickd.resume.Resuming`, as a blocking iterator (ends when it is closed or
    garbage-collected, or raises what the async one raises)."""
    loop = _Loop()
    sub = Resuming(servers, symbols, **options)
    events: AsyncIterator[aclient.Event] = sub.__aiter__()
    try:
        while True:
            try:
                yield loop.run(_next(events))
            except StopAsyncIteration:
                return
    finally:
        loop.run(sub.close(), timeout=10)
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            loop.run(aclose(), timeout=10)
        loop.stop()


__all__ = ["Client", "connect", "connect_quic", "resuming"]
