"""pandas frames and `python -m tickd` against the real tickd of conftest.py."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd
from conftest import T0, Server, settled

import tickd
from tickd.dataframes import candles_frame, ticks_frame

Records = npt.NDArray[np.void]


def fetch(server: Server) -> tuple[Records, Records]:
    async def go() -> tuple[Records, Records]:
        async with await tickd.connect("127.0.0.1", server.port) as c:
            candles = await c.candles("AAPL", "1m")
            await c.subscribe(["AAPL"], trades=True, quotes=True, from_seq=1)
            ticks: list[Records] = []
            while sum(len(t) for t in ticks) < 10:
                e = await c.next_event()
                if isinstance(e, tickd.Ticks):
                    ticks.append(e.records.copy())
            return candles, ticks[0]

    return asyncio.run(asyncio.wait_for(go(), 60))


def test_candles_and_ticks_as_frames(server: Server) -> None:
    settled(server)
    candles, ticks = fetch(server)
    f = candles_frame(candles)
    assert isinstance(f.index, pd.DatetimeIndex)
    assert str(f.index.tz) == "UTC"
    assert f.index[0] == pd.Timestamp(T0, unit="ns", tz="UTC")
    assert len(f) == 5
    first = candles[0]
    assert f["open"].iloc[0] == int(first["open"]) / 1e9
    assert f["volume"].iloc[0] == int(first["volume"]) / 1e9
    assert f["trades"].iloc[0] == int(first["trades"])
    exact = candles_frame(candles, exact=True)
    assert exact["close"].iloc[-1] == Decimal(int(candles[-1]["close"])).scaleb(-9)
    t = ticks_frame(ticks)
    assert list(t["seq"]) == [int(s) for s in ticks["seq"]]
    row = t.iloc[0]
    assert row["kind"] == "trade"
    assert row["price"] == server.rows[0].price / 1e9
    quote = t[t["kind"] == "quote"].iloc[0]
    assert quote["bid_px"] == server.rows[1].bid_px / 1e9


def run_cli(server: Server, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tickd", "--port", str(server.port), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def test_the_command_line(server: Server) -> None:
    settled(server)
    lines = run_cli(server, "subscribe", "MSFT", "--from-seq", "1", "--count", "3").splitlines()
    msft = [r for r in server.rows if r.symbol == "MSFT" and r.kind == 1][:3]
    got = [json.loads(line) for line in lines]
    assert [g["symbol"] for g in got] == ["MSFT"] * 3
    assert [Decimal(g["price"]) for g in got] == [Decimal(r.price).scaleb(-9) for r in msft]
    csv = run_cli(server, "candles", "AAPL", "--interval", "1m").splitlines()
    assert csv[0] == "ts_open,open,high,low,close,volume,trades"
    assert len(csv) == 6
    assert csv[1].startswith(f"{T0},")
    # This module's own server (the fixture is per module): the replay's two symbols.
    assert run_cli(server, "symbols").split() == ["AAPL", "MSFT"]
    bad = subprocess.run(
        [sys.executable, "-m", "tickd", "--port", str(server.port), "candles", "NOSUCH"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "NOSUCH" in bad.stderr


def test_the_command_line_over_quic(server: Server) -> None:
    settled(server)
    quic = [f"--server=quic://127.0.0.1:{server.quic_port}", f"--fingerprint={server.fingerprint}"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tickd",
            *quic,
            "subscribe",
            "--kinds=trades,quotes",
            "--from-seq=1",
            "--count=2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2]
    wrong = subprocess.run(
        [sys.executable, "-m", "tickd", quic[0], "--fingerprint=" + "0" * 64, "symbols"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 1
    assert "does not match the pinned" in wrong.stderr
