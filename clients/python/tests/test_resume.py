"""Resume across disconnects (tickd.Resuming) against a real tickd replaying a Binance capture
whose trade ids have holes: the server declares each hole as a venue gap at its seq. Through a
proxy that cuts the connection every few kilobytes (mid-frame as often as not), and with a dead
server first in the list, the resumed stream is the uninterrupted one: every trade once, every
gap where the server put it, in seq order. A server of another epoch gives an epoch gap and
the new epoch from seq 1. The sync iterator gives the same."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import Server, serve
from test_tcp import run

import tickd
import tickd.sync

T_MS = 1_764_900_000_000  # 2025-12-05T02:00:00Z
TRADES = 3_000
#: Trade ids the capture lacks: each run is one venue gap.
HOLES = [range(100, 103), range(500, 501), range(777, 790), range(2_900, 2_901)]
MISSING = {i for r in HOLES for i in r}


def write_capture(path: Path) -> None:
    """A tickd capture (`<ns> <frame>` lines) of Binance spot trades 1..TRADES, ids in HOLES
    left out, 1 ms apart."""
    lines = []
    for i in range(1, TRADES + 1):
        if i in MISSING:
            continue
        frame = {
            "stream": "btcusdt@trade",
            "data": {
                "e": "trade",
                "E": T_MS + i,
                "s": "BTCUSDT",
                "t": i,
                "p": f"{100 + i % 7}.{i % 100:02d}",
                "q": f"0.{i:04d}",
                "T": T_MS + i,
                "m": i % 3 == 0,
                "M": True,
            },
        }
        lines.append(f"{(T_MS + i) * 1_000_000} {json.dumps(frame, separators=(',', ':'))}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("venue")
    capture = tmp / "binance-2025-12-05.log"
    write_capture(capture)
    yield from serve(tmp, [], ["--replay", str(capture)])


Item = tuple[str, int, int, int]


def items(events: list[tickd.Event]) -> list[Item]:
    """Trades as ("trade", seq, trade id, 0) and gaps as ("gap", from, to, reason)."""
    out: list[Item] = []
    for e in events:
        if isinstance(e, tickd.Ticks):
            out.extend(("trade", int(r["seq"]), int(r["trade_id"]), 0) for r in e.records)
        elif isinstance(e, tickd.GapEvent):
            out.append(("gap", e.from_seq, e.to_seq, e.reason))
    return out


def complete(got: list[Item]) -> bool:
    return any(kind == "trade" and tid == TRADES for kind, _, tid, _ in got)


async def read_all(next_event: Callable[[], Awaitable[tickd.Event | None]]) -> list[Item]:
    """Events until the last trade of the capture (the event itself: no sleeping)."""
    events: list[tickd.Event] = []
    while not complete(items(events)):
        e = await next_event()
        assert e is not None, "the stream ended"
        events.append(e)
    return items(events)


def direct(venue: Server) -> list[Item]:
    async def go() -> list[Item]:
        async with await tickd.connect("127.0.0.1", venue.port) as c:
            await c.subscribe(None, trades=True, from_seq=1)
            return await read_all(c.next_event)

    got = run(go())
    assert isinstance(got, list)
    return got


def check_against_the_capture(got: list[Item]) -> None:
    """Independently of tickd: every trade id of the capture once, in order, and one venue
    gap before the first trade after each hole."""
    trades = [tid for kind, _, tid, _ in got if kind == "trade"]
    assert trades == [i for i in range(1, TRADES + 1) if i not in MISSING]
    seqs = [seq for _, seq, _, _ in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    gaps = [(i, item) for i, item in enumerate(got) if item[0] == "gap"]
    assert len(gaps) == len(HOLES)
    for (i, (_, from_seq, to_seq, reason)), hole in zip(gaps, HOLES, strict=True):
        assert reason == tickd.GAP_VENUE and from_seq == to_seq
        # In place: between the trade before the hole and the one after it.
        assert got[i - 1][2] == hole.start - 1 and got[i + 1][2] == hole.stop


class Cutter:
    """A TCP proxy to `port` that lets `frames` whole frames from the server through on each
    connection (the Welcome, the SubscribeAck, data), then `extra` bytes more (cycling through
    0: on a frame boundary, 2: inside a length prefix, 1,000: inside a frame), and closes it."""

    EXTRA = (0, 2, 1_000)

    def __init__(self, port: int, frames: int) -> None:
        self.port = port
        self.frames = frames
        self.cuts = 0

    async def handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection("127.0.0.1", self.port)
        extra = self.EXTRA[self.cuts % len(self.EXTRA)]

        async def up() -> None:
            with contextlib.suppress(OSError):
                while data := await cr.read(65_536):
                    sw.write(data)
                    await sw.drain()

        async def down() -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                for _ in range(self.frames):
                    head = await sr.readexactly(4)
                    cw.write(head + await sr.readexactly(int.from_bytes(head, "little")))
                cw.write(await sr.readexactly(extra))
                await cw.drain()
                self.cuts += 1

        task = asyncio.ensure_future(up())
        await down()
        task.cancel()
        for w in (cw, sw):
            w.close()


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_cut_connection_resumes_with_every_trade_and_gap_once(venue: Server) -> None:
    want = direct(venue)
    check_against_the_capture(want)

    async def go() -> tuple[list[Item], int, int]:
        cutter = Cutter(venue.port, 3)
        proxy = await asyncio.start_server(cutter.handle, "127.0.0.1", 0)
        port = proxy.sockets[0].getsockname()[1]
        async with proxy:
            sub = tickd.Resuming(
                [f"tcp://127.0.0.1:{dead_port()}", f"tcp://127.0.0.1:{port}"],
                None,
                trades=True,
                from_seq=1,
                max_backoff=0.05,
            )
            events = sub.__aiter__()
            got = await read_all(events.__anext__)
            await events.aclose()  # type: ignore[attr-defined]
            return got, cutter.cuts, sub.reconnects

    result = run(go())
    assert isinstance(result, tuple)
    got, cuts, reconnects = result
    assert cuts >= 3, f"only {cuts} cuts"
    assert reconnects >= cuts
    assert got == want


def test_another_epoch_is_an_epoch_gap_then_the_new_epoch_from_seq_1(
    venue: Server, server: Server
) -> None:
    want_new = len(server.rows)

    async def go() -> list[tickd.Event]:
        first = [True]

        async def connect() -> tickd.Client:
            # The venue server until its first frames are read, then the other one.
            if first[0]:
                first[0] = False
                c = await tickd.connect("127.0.0.1", venue.port)

                async def cut() -> None:
                    await c.close()

                c.next_event = _then(c.next_event, cut)  # type: ignore[method-assign, assignment]
                return c
            return await tickd.connect("127.0.0.1", server.port)

        sub = tickd.Resuming(connect, None, trades=True, quotes=True, from_seq=1)
        events = sub.__aiter__()
        out: list[tickd.Event] = []
        seen = 0
        while seen < want_new:
            e = await events.__anext__()
            out.append(e)
            if (
                isinstance(e, tickd.Ticks)
                and out
                and any(isinstance(x, tickd.GapEvent) for x in out)
            ):
                seen += len(e.records)
        await events.aclose()  # type: ignore[attr-defined]
        return out

    out = run(go())
    assert isinstance(out, list)
    gaps = [(i, e) for i, e in enumerate(out) if isinstance(e, tickd.GapEvent)]
    i, gap = gaps[0]
    assert gap.reason == tickd.GAP_EPOCH_CHANGED and gap.to_seq == tickd.resume.END_OF_EPOCH
    before = np.concatenate([e.records for e in out[:i] if isinstance(e, tickd.Ticks)])
    after = np.concatenate([e.records for e in out[i + 1 :] if isinstance(e, tickd.Ticks)])
    assert {e.epoch for e in out[:i] if isinstance(e, tickd.Ticks)} == {gap.epoch}
    # The old epoch's cursor is where the gap starts; the new epoch from seq 1, every record.
    assert gap.from_seq == int(before["seq"][-1]) + 1
    assert list(after["seq"][:want_new]) == list(range(1, want_new + 1))


def _then(
    read: Callable[[], Awaitable[tickd.Event | None]], cut: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[tickd.Event | None]]:
    """`read` once, then `cut` the connection and report it closed."""
    done = [False]

    async def once() -> tickd.Event | None:
        if done[0]:
            await cut()
            return None
        done[0] = True
        return await read()

    return once


def test_the_sync_iterator_resumes_the_same(venue: Server) -> None:
    want = direct(venue)
    # A proxy on its own loop thread, cutting every few kilobytes.
    loop = asyncio.new_event_loop()
    cutter = Cutter(venue.port, 4)
    proxy = loop.run_until_complete(asyncio.start_server(cutter.handle, "127.0.0.1", 0))
    port = proxy.sockets[0].getsockname()[1]
    import threading

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        events: list[tickd.Event] = []
        stream = tickd.sync.resuming(
            [f"tcp://127.0.0.1:{port}"], None, trades=True, from_seq=1, max_backoff=0.05
        )
        for e in stream:
            events.append(e)
            if complete(items([e])):
                break
        stream.close()  # type: ignore[attr-defined]
        assert items(events) == want
        assert cutter.cuts >= 3
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
