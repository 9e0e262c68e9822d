"""Following the shared-memory ring without losing a record: read in place while the reader
keeps up, and when the writer laps it, fetch the lost range over the network and rejoin the
ring (what ``tickd_client``'s shm reader does in Rust).

    reader = tickd.shm.ShmReader("/dev/shm/tickd")
    async for event in tickd.follow(reader, lambda: tickd.connect("127.0.0.1", 7400)):
        ...   # tickd.Ticks (every record, dense seqs) and tickd.GapEvent

The events are the network client's: ``Ticks`` batches (``subscription_id`` 0, the ring's
epoch, ``TICK_DTYPE`` records, every kind the ring holds) and, from a refill, the
``GapEvent``s the server declares for what its journal no longer holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np

from .client import Client, Event
from .codec import GapEvent, Ticks
from .records import TICK_DTYPE
from .shm import OverrunError, ShmReader


async def refill(
    connect: Callable[[], Awaitable[Client]], epoch: int, first: int, last: int
) -> AsyncIterator[Event]:
    """Records `first..=last` of `epoch` from a server (a subscription to every instrument from
    `first` on a new connection, closed once past `last`): ``Ticks`` and ``GapEvent``s."""
    async with await connect() as client:
        await client.subscribe(None, trades=True, quotes=True, from_seq=first, from_epoch=epoch)
        while True:
            event = await client.next_event()
            if event is None:
                raise ConnectionError(f"the server closed the connection refilling {first}..")
            if isinstance(event, Ticks):
                seqs = event.records["seq"]
                keep = event.records[seqs <= last]
                if len(keep):
                    yield Ticks(0, epoch, keep)
                if len(seqs) and int(seqs[-1]) >= last:
                    return
            elif isinstance(event, GapEvent):
                if event.from_seq <= last:
                    yield event
                if event.to_seq >= last:
                    return


async def follow(
    reader: ShmReader,
    connect: Callable[[], Awaitable[Client]],
    *,
    batch: int = 65_536,
    idle: float = 1.0,
) -> AsyncIterator[Event]:
    """Every record from `reader`'s cursor on (see the module docs), without end: batches of up
    to `batch` records read in place, parked on the server's futex (`idle` seconds at a time)
    when there is none. An overrun refills ``[wanted, oldest)`` over a connection made by
    `connect`, then reads the ring from ``oldest``.

    Raises what `connect` and the client raise (a server that cannot be reached, say)."""
    while True:
        try:
            records = reader.read(batch)
        except OverrunError as e:
            async for event in refill(connect, reader.epoch, e.wanted, e.oldest - 1):
                yield event
            reader.seek(e.oldest)
            continue
        if len(records):
            yield Ticks(0, reader.epoch, records)
        else:
            await reader.wait_async(idle)


def records_of(events: list[Event]) -> np.ndarray:
    """The records of `events`' ``Ticks``, concatenated (gaps and other events left out)."""
    parts = [e.records for e in events if isinstance(e, Ticks)]
    if not parts:
        return np.empty(0, dtype=TICK_DTYPE)
    return np.concatenate(parts)


__all__ = ["follow", "records_of", "refill"]
