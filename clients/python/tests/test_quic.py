"""The QUIC client (aioquic) against a real tickd: the same records, byte for byte, and the same
candles as over TCP; the server verified by its pinned fingerprint or its certificate as a CA
file, and refused on a wrong pin before any protocol byte is sent; datagram-mode quotes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Server, settled
from test_tcp import read_records, run

import tickd


def test_quic_gives_the_records_and_candles_tcp_gives(server: Server) -> None:
    last = settled(server)

    async def go() -> None:
        q = await tickd.connect_quic("127.0.0.1", server.quic_port, fingerprint=server.fingerprint)
        async with q, await tickd.connect("127.0.0.1", server.port) as t:
            assert q.transport == "quic" and t.transport == "tcp"
            assert q.epoch == t.epoch
            got = {}
            for c in (q, t):
                ack = await c.subscribe(None, trades=True, quotes=True, from_seq=1)
                assert ack.start_seq == 1
                got[c.transport] = await read_records(c, len(server.rows))
            assert got["quic"].tobytes() == got["tcp"].tobytes()
            assert list(got["quic"]["seq"]) == list(range(1, len(server.rows) + 1))
            for symbol in ("AAPL", "MSFT"):
                for interval in ("1s", "1m", "1d"):
                    a = await q.candles(symbol, interval)
                    b = await t.candles(symbol, interval)
                    assert len(a) and a.tobytes() == b.tobytes(), (symbol, interval)
            assert (await q.stats()).head_seq >= last

    run(go())


def test_the_certificate_is_verified(server: Server) -> None:
    async def go() -> None:
        wrong = "ab" * 32
        with pytest.raises(ConnectionError, match="does not match the pinned"):
            await tickd.connect_quic("127.0.0.1", server.quic_port, fingerprint=wrong)
        with pytest.raises(ValueError, match="64 hex digits"):
            await tickd.connect_quic("127.0.0.1", server.quic_port, fingerprint="abc")
        with pytest.raises(ValueError, match="exactly one"):
            await tickd.connect_quic("127.0.0.1", server.quic_port)
        # The self-signed certificate as a CA file, verified for the name it was made for.
        cert = Path(server.shm).parent / "data" / "tls" / "cert.pem"
        async with await tickd.connect_quic(
            "127.0.0.1", server.quic_port, ca_file=str(cert), server_name="localhost"
        ) as c:
            assert len(await c.symbols()) == 2
        with pytest.raises(ConnectionError):
            await tickd.connect_quic(
                "127.0.0.1", server.quic_port, ca_file=str(cert), server_name="example.com"
            )

    run(go())


def test_datagram_quotes_are_ticks_of_quotes(server: Server) -> None:
    settled(server)

    async def go() -> None:
        async with await tickd.connect("127.0.0.1", server.port) as t:
            await t.subscribe(None, trades=True, quotes=True, from_seq=1)
            every = await read_records(t, len(server.rows))
        async with await tickd.connect_quic(
            "127.0.0.1", server.quic_port, fingerprint=server.fingerprint
        ) as c:
            # From seq 1: the trades on the subscription's stream, every one in order; the
            # quotes as datagrams, conflated to the latest per instrument (best effort).
            await c.subscribe(None, trades=True, quotes=True, from_seq=1, datagrams=True)
            want = every[every["kind"] == tickd.records.TRADE]
            trades: list[np.ndarray] = []
            quotes: list[np.ndarray] = []
            while sum(len(x) for x in trades) < len(want):
                e = await c.next_event()
                assert isinstance(e, tickd.Ticks), e
                kinds = e.records["kind"]
                trades.append(e.records[kinds == tickd.records.TRADE].copy())
                quotes.append(e.records[kinds == tickd.records.QUOTE].copy())
            assert np.concatenate(trades).tobytes() == want.tobytes()
            got = np.concatenate(quotes)
            assert len(got) > 0
            # Each quote is the record of that seq, byte for byte.
            for q in got:
                assert q.tobytes() == every[int(q["seq"]) - 1].tobytes()

    run(go())
