"""The TCP client against a real tickd replaying known rows (conftest.py): exact records and
seqs, resume from a seq, candles equal to an independent OHLCV of the rows, publish with acks,
and bad server input raising a clear error without hanging."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable
from decimal import Decimal

import numpy as np
import pytest
from conftest import STEP, T0, Row, Server

import tickd
from tickd import codec


def run(coro: Awaitable[object]) -> object:
    # Every test has a deadline: nothing here may hang.
    async def bounded() -> object:
        return await asyncio.wait_for(coro, timeout=60)

    return asyncio.run(bounded())


async def read_records(client: tickd.Client, count: int) -> np.ndarray:
    """Reads ticks until `count` records came (the event itself: no sleeping)."""
    parts = []
    got = 0
    while got < count:
        event = await client.next_event()
        assert event is not None, "the server closed the connection"
        if isinstance(event, tickd.Ticks):
            parts.append(event.records.copy())
            got += len(event.records)
    return np.concatenate(parts)[:count]


def expect(rows: list[Row], records: np.ndarray, ids: dict[str, int]) -> None:
    assert len(records) == len(rows)
    for r, rec in zip(rows, records, strict=True):
        assert rec["ts_event"] == r.ts_event
        assert rec["kind"] == r.kind
        assert rec["instrument_id"] == ids[r.symbol]
        if r.kind == tickd.records.TRADE:
            assert (rec["price"], rec["size"], rec["side"]) == (r.price, r.size, r.side)
        else:
            assert (rec["bid_px"], rec["bid_sz"], rec["ask_px"], rec["ask_sz"]) == (
                r.bid_px,
                r.bid_sz,
                r.ask_px,
                r.ask_sz,
            )


def test_every_record_comes_back_exactly_with_dense_seqs(server: Server) -> None:
    async def go() -> None:
        async with await tickd.connect("127.0.0.1", server.port) as c:
            ack = await c.subscribe(None, trades=True, quotes=True, from_seq=1)
            assert ack.start_seq == 1
            assert ack.epoch == c.epoch
            records = await read_records(c, len(server.rows))
            assert list(records["seq"]) == list(range(1, len(server.rows) + 1))
            symbols = {i.symbol: i.instrument_id for i in await c.symbols()}
            assert set(symbols) == {"AAPL", "MSFT"}
            expect(server.rows, records, symbols)
            # Exact decimals and floats of the first trade.
            first = records[0]
            assert tickd.to_decimal(int(first["price"])) == Decimal(server.rows[0].price) / 10**9
            assert tickd.to_float(first["price"]) == server.rows[0].price / 1e9

    run(go())


def test_a_subscription_resumes_at_any_seq(server: Server) -> None:
    async def go() -> None:
        async with await tickd.connect("127.0.0.1", server.port) as c:
            await c.subscribe(["MSFT"], trades=True, quotes=False, from_seq=500)
            symbols = {i.symbol: i.instrument_id for i in await c.symbols()}
            # MSFT's trades from seq 500 on, in order.
            want = [
                (seq, r)
                for seq, r in enumerate(server.rows, start=1)
                if seq >= 500 and r.symbol == "MSFT" and r.kind == tickd.records.TRADE
            ]
            records = await read_records(c, len(want))
            assert list(records["seq"]) == [seq for seq, _ in want]
            expect([r for _, r in want], records, symbols)

    run(go())


def ohlcv(rows: list[Row], symbol: str) -> list[tuple[int, int, int, int, int, int, int]]:
    """One-minute candles of `symbol`'s trades, computed here, independently of tickd."""
    out: dict[int, list[int]] = {}
    for r in rows:
        if r.symbol != symbol or r.kind != tickd.records.TRADE:
            continue
        t = r.ts_event - r.ts_event % 60_000_000_000
        c = out.setdefault(t, [r.price, r.price, r.price, r.price, 0, 0])
        c[1] = max(c[1], r.price)
        c[2] = min(c[2], r.price)
        c[3] = r.price
        c[4] += r.size
        c[5] += 1
    return [(t, *v) for t, v in sorted(out.items())]  # type: ignore[misc]


def test_candles_equal_an_independent_ohlcv(server: Server) -> None:
    async def go() -> None:
        async with await tickd.connect("127.0.0.1", server.port) as c:
            # The replay has sequenced everything once its last record can be read.
            await c.subscribe(None, trades=True, quotes=True, from_seq=len(server.rows))
            await read_records(c, 1)
            candles = await c.candles("AAPL", "1m")
            assert candles.dtype == tickd.CANDLE_DTYPE
            got = [
                (
                    int(x["ts_open"]),
                    int(x["open"]),
                    int(x["high"]),
                    int(x["low"]),
                    int(x["close"]),
                    int(x["volume"]),
                    int(x["trades"]),
                )
                for x in candles
            ]
            assert got == ohlcv(server.rows, "AAPL")
            assert len(got) == 5
            assert int(candles["ts_open"][0]) == T0
            # Taker-buy volume: the `buy` trades'.
            buys = sum(
                r.size
                for r in server.rows
                if r.symbol == "AAPL"
                and r.kind == 1
                and r.side == 1
                and r.ts_event < T0 + 60_000_000_000
            )
            assert int(candles["taker_buy_volume"][0]) == buys

    run(go())


def test_publish_is_acknowledged_with_its_seqs(server: Server) -> None:
    async def go() -> None:
        async with await tickd.connect("127.0.0.1", server.port) as c:
            ticks = tickd.new_ticks(3)
            ticks["kind"] = tickd.records.TRADE
            ticks["side"] = tickd.records.BUY
            ticks["ts_event"] = [T0 + 400 * STEP + i for i in range(3)]
            ticks["price"] = [250_250_000_000, 250_500_000_000, 250_750_000_000]
            ticks["size"] = 10**9
            ticks["trade_id"] = [7, 8, 9]
            ack = await c.publish(["PYTEST"], ticks)
            assert ack.accepted == 3 and not ack.rejected
            assert ack.last_seq == ack.first_seq + 2
            latest = await c.latest(["PYTEST"])
            trade = latest.ticks[latest.ticks["kind"] == tickd.records.TRADE][0]
            assert (trade["seq"], trade["price"], trade["trade_id"]) == (
                ack.last_seq,
                250_750_000_000,
                9,
            )
            # A tick the server refuses is named by its index.
            bad = tickd.new_ticks(1)
            bad["kind"] = 9
            ack = await c.publish(["PYTEST"], bad)
            assert ack.accepted == 0
            assert [i for i, _ in ack.rejected] == [0]

    run(go())


async def fake_server(send: bytes) -> tuple[asyncio.Server, int]:
    """A TCP server that answers a connection's Hello with `send`, then closes it."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        # Read the client's Hello first: closing with it unread would reset the connection.
        (n,) = struct.unpack("<I", await r.readexactly(4))
        await r.readexactly(n)
        w.write(send)
        await w.drain()
        w.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    ("send", "message"),
    [
        (struct.pack("<I", 100) + b"\x00" * 10, "closed 10 bytes into a 100-byte frame"),
        (
            struct.pack("<I", 12) + b"\x08\x00\x00\x00XXXX\x00\x00\x00\x00",
            "not a tickd message (file identifier b'XXXX')",
        ),
        (struct.pack("<I", 0xFFFF_FFF0), "over the limit"),
        (b"\x01\x00", "inside a length prefix"),
    ],
)
def test_bad_server_input_raises_a_clear_error(send: bytes, message: str) -> None:
    async def go() -> None:
        srv, port = await fake_server(send)
        async with srv:
            with pytest.raises(
                codec.ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")
            ):
                await tickd.connect("127.0.0.1", port)

    run(go())


def test_unknown_symbols_are_a_server_error(server: Server) -> None:
    async def go() -> None:
        async with await tickd.connect("127.0.0.1", server.port) as c:
            with pytest.raises(tickd.ServerError, match="NOSUCH"):
                await c.candles("NOSUCH", "1m")

    run(go())
