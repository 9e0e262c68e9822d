"""The Python client beside the Rust one: over TCP, QUIC and shared memory, Python reads the
same records (seq, epoch, symbol, kind, times, side, exact decimal prices and sizes) that
`tickctl` prints from the same server, and the same candles."""

from __future__ import annotations

import asyncio
import json
import subprocess
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from conftest import Server, settled, tickctl_bin
from test_tcp import read_records, run

import tickd
from tickd.shm import ShmReader

SIDES = {"buy": tickd.records.BUY, "sell": tickd.records.SELL}


def tickctl(server: Server, transport: str, *args: str) -> list[dict[str, Any]]:
    where = {
        "tcp": [f"--server=tcp://127.0.0.1:{server.port}"],
        "quic": [
            f"--server=quic://127.0.0.1:{server.quic_port}",
            f"--fingerprint={server.fingerprint}",
            "--server-name=localhost",
        ],
        "shm": [f"--server=shm://{server.shm}"],
    }[transport]
    out = subprocess.run(
        [tickctl_bin(), *where, *args], capture_output=True, timeout=60, check=True
    ).stdout
    return [json.loads(line) for line in out.decode().splitlines()]


def normal(records: np.ndarray, epoch: int, names: dict[int, str]) -> list[dict[str, Any]]:
    """Records in tickctl's terms: exact decimals, symbols by name."""
    out = []
    for r in records:
        d: dict[str, Any] = {
            "seq": int(r["seq"]),
            "epoch": epoch,
            "symbol": names[int(r["instrument_id"])],
            "ts_event": int(r["ts_event"]),
            "ts_recv": int(r["ts_recv"]),
        }
        if r["kind"] == tickd.records.TRADE:
            d |= {
                "kind": "trade",
                "price": tickd.to_decimal(int(r["price"])),
                "size": tickd.to_decimal(int(r["size"])),
                "side": int(r["side"]),
            }
        else:
            d |= {
                "kind": "quote",
                **{
                    k: tickd.to_decimal(int(r[k])) for k in ("bid_px", "bid_sz", "ask_px", "ask_sz")
                },
            }
        out.append(d)
    return out


def parsed(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """tickctl's JSON lines in the same terms."""
    out = []
    for x in lines:
        d: dict[str, Any] = {
            "seq": x["seq"],
            "epoch": x["epoch"],
            "symbol": x["symbol"],
            "ts_event": int(x["ts_event"]),
            "ts_recv": int(x["ts_recv"]),
            "kind": x["kind"],
        }
        if x["kind"] == "trade":
            d |= {
                "price": Decimal(x["price"]),
                "size": Decimal(x["size"]),
                "side": SIDES.get(x.get("side", ""), 0),
            }
        else:
            d |= {k: Decimal(x[k]) for k in ("bid_px", "bid_sz", "ask_px", "ask_sz")}
        out.append(d)
    return out


@pytest.mark.parametrize("transport", ["tcp", "quic", "shm"])
def test_python_reads_what_tickctl_reads(server: Server, transport: str) -> None:
    settled(server)
    n = len(server.rows)
    want = parsed(
        tickctl(server, transport, "subscribe", "--from-seq=1", f"--count={n}", "--format=json")
    )
    assert [x["seq"] for x in want] == list(range(1, n + 1))

    async def over_the_network() -> tuple[np.ndarray, int, dict[int, str]]:
        if transport == "tcp":
            c = await tickd.connect("127.0.0.1", server.port)
        else:
            c = await tickd.connect_quic(
                "127.0.0.1", server.quic_port, fingerprint=server.fingerprint
            )
        async with c:
            await c.subscribe(None, trades=True, quotes=True, from_seq=1)
            names = {i.instrument_id: i.symbol for i in await c.symbols()}
            return await read_records(c, n), c.epoch, names

    if transport == "shm":
        reader = ShmReader(server.shm)
        reader.seek(1)
        parts: list[np.ndarray] = []
        while sum(len(p) for p in parts) < n:
            assert reader.wait(30), "no record within 30 s"
            parts.append(reader.read(n - sum(len(p) for p in parts)))
        records = np.concatenate(parts)
        epoch = reader.epoch
        names = {i.instrument_id: i.symbol for i in reader.symbols()}
        reader.close()
    else:
        result = run(over_the_network())
        assert isinstance(result, tuple)
        records, epoch, names = result
    assert normal(records, epoch, names) == want


@pytest.mark.parametrize("interval", ["1s", "1m", "1d"])
def test_python_candles_are_tickctls(server: Server, interval: str) -> None:
    settled(server)
    for symbol in ("AAPL", "MSFT"):
        want = tickctl(server, "tcp", "candles", symbol, f"--interval={interval}", "--format=json")

        async def go(symbol: str = symbol) -> np.ndarray:
            async with await tickd.connect("127.0.0.1", server.port) as c:
                return await c.candles(symbol, interval)

        got = run(go())
        assert isinstance(got, np.ndarray)
        assert len(got) == len(want) > 0
        for c, w in zip(got, want, strict=True):
            assert int(c["ts_open"]) == int(w["ts_open"])
            assert int(c["last_seq"]) == w["last_seq"]
            assert int(c["trades"]) == w["trades"]
            for k in ("open", "high", "low", "close", "volume"):
                assert tickd.to_decimal(int(c[k])) == Decimal(w[k]), (symbol, k)


def test_an_shm_reader_parks_until_the_server_publishes(server: Server) -> None:
    """`wait` sleeps on the server's futex and returns when a publish lands (the publish is
    the event: it happens after the reader is parked or before, and either way wait is True
    and the tick is read)."""
    settled(server)
    reader = ShmReader(server.shm)
    reader.seek(reader.head() + 1)

    async def go() -> int:
        loop = asyncio.get_running_loop()
        waiting = loop.run_in_executor(None, reader.wait, 30.0)
        async with await tickd.connect("127.0.0.1", server.port) as c:
            ticks = tickd.new_ticks(1)
            ticks["kind"] = tickd.records.TRADE
            ticks["ts_event"] = 1_700_000_000_000_000_000
            ticks["price"] = 123_000_000_000
            ticks["size"] = 10**9
            ticks["trade_id"] = 4242
            ack = await c.publish(["PARKED"], ticks)
        assert await waiting
        return ack.last_seq

    seq = run(go())
    found = None
    while found is None:
        assert reader.wait(30)
        batch = reader.read()
        hit = batch[batch["seq"] == seq]
        found = hit[0] if len(hit) else None
    assert (int(found["trade_id"]), int(found["price"])) == (4242, 123_000_000_000)
    reader.close()
