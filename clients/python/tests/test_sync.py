"""The blocking client (tickd.sync) against a real tickd: queries, a subscription read with
an idle timeout, and use from inside a running event loop (as in a notebook)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Server, settled

import tickd
import tickd.sync


def test_the_sync_client_reads_queries_and_a_subscription(server: Server) -> None:
    last = settled(server)
    with tickd.sync.connect("127.0.0.1", server.port) as c:
        assert {i.symbol for i in c.symbols()} == {"AAPL", "MSFT"}
        assert c.stats().head_seq >= last
        candles = c.candles("AAPL", "1m")
        assert len(candles) == 5
        c.subscribe(None, trades=True, quotes=True, from_seq=1)
        seqs: list[int] = []
        for e in c.events(timeout=30):
            if isinstance(e, tickd.Ticks):
                seqs.extend(int(s) for s in e.records["seq"])
            if len(seqs) >= len(server.rows):
                break
        assert seqs[: len(server.rows)] == list(range(1, len(server.rows) + 1))
        with pytest.raises(tickd.ServerError, match="NOSUCH"):
            c.candles("NOSUCH", "1m")


def test_the_sync_client_works_inside_a_running_loop(server: Server) -> None:
    settled(server)

    async def notebook_cell() -> int:
        # A blocking call from a coroutine, as a notebook does: it runs on the client's loop.
        with tickd.sync.connect_quic(
            "127.0.0.1", server.quic_port, fingerprint=server.fingerprint
        ) as c:
            return len(c.candles("MSFT", "1m"))

    assert asyncio.run(notebook_cell()) == 5


def test_an_idle_timeout_ends_the_iteration_and_keeps_the_connection(server: Server) -> None:
    settled(server)
    with tickd.sync.connect("127.0.0.1", server.port) as c:
        c.subscribe(["AAPL"], trades=True, from_seq=10**12)
        # Nothing is published for this subscription (heartbeats aside): the iteration ends
        # at its timeout.
        events = list(c.events(timeout=0.2))
        assert all(isinstance(e, tickd.HeartbeatEvent) for e in events), events
        assert len(c.symbols()) == 2
