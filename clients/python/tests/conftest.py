"""A real `tickd serve` for the tests: the binary from `$TICKD_BIN` (default: the workspace's
target/debug/tickd), replaying a CSV of known trades and quotes, on an ephemeral TCP port read
from its log."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_696_680_000_000_000_000  # 2023-10-07T12:00:00Z
STEP = 500_000_000  # 0.5 s


@dataclass(frozen=True)
class Row:
    """One CSV line, as the server must give it back (raw 1e-9 units)."""

    ts_event: int
    symbol: str
    kind: int
    price: int
    size: int
    side: int
    bid_px: int
    bid_sz: int
    ask_px: int
    ask_sz: int


def _raw(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 10**9 + int((frac + "0" * 9)[:9])


def make_rows(n: int) -> list[Row]:
    """`n` trades, AAPL and MSFT in turn, 0.5 s apart, each third followed by a quote."""
    rows = []
    x = 0x2545_F491_4F6C_DD1D
    mask = (1 << 64) - 1
    for i in range(n):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        sym = ("AAPL", "MSFT")[i % 2]
        px = 100_0000 + x % 20_0000 - 10_0000  # 1e-4 units
        size = 1 + x % 500
        side = (1, 2, 0)[x % 3]
        ts = T0 + i * STEP
        rows.append(Row(ts, sym, 1, px * 100_000, size * 10**9, side, 0, 0, 0, 0))
        if i % 3 == 0:
            rows.append(
                Row(
                    ts,
                    sym,
                    2,
                    0,
                    0,
                    0,
                    (px - 1) * 100_000,
                    100 * 10**9,
                    (px + 1) * 100_000,
                    200 * 10**9,
                )
            )
    return rows


def _dec(raw: int) -> str:
    return f"{raw // 10**9}.{raw % 10**9:09d}"


def write_csv(path: Path, rows: list[Row]) -> None:
    sides = {0: "", 1: "buy", 2: "sell"}
    lines = ["ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz"]
    for r in rows:
        if r.kind == 1:
            lines.append(
                f"{r.ts_event},{r.symbol},trade,{_dec(r.price)},{_dec(r.size)},{sides[r.side]},,,,"
            )
        else:
            lines.append(
                f"{r.ts_event},{r.symbol},quote,,,,{_dec(r.bid_px)},{_dec(r.bid_sz)},"
                f"{_dec(r.ask_px)},{_dec(r.ask_sz)}"
            )
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Server:
    port: int
    rows: list[Row]
    process: subprocess.Popen[bytes]
    shm: Path
    quic_port: int
    fingerprint: str


def tickd_bin() -> str:
    path = os.environ.get("TICKD_BIN") or str(ROOT / "target" / "debug" / "tickd")
    if not Path(path).exists():
        pytest.fail(
            f"no tickd binary at {path}: build it (cargo build -p tickd-server) or set TICKD_BIN"
        )
    return path


def tickctl_bin() -> str:
    """The Rust CLI (`$TICKCTL_BIN`, default: next to the tickd binary)."""
    path = os.environ.get("TICKCTL_BIN") or str(Path(tickd_bin()).with_name("tickctl"))
    if not Path(path).exists():
        pytest.fail(f"no tickctl binary at {path}: build it (cargo build -p tickd-cli)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """600 trades and their quotes (800 records) in a default ring."""
    yield from start(tmp_path_factory, 600, [])


@pytest.fixture(scope="module")
def small_ring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """3,000 trades and their quotes (4,000 records) in a ring of 1,024: lapped."""
    yield from start(tmp_path_factory, 3_000, ["--ring-slots", "1024"])


def start(factory: pytest.TempPathFactory, trades: int, extra: list[str]) -> Iterator[Server]:
    tmp = factory.mktemp("tickd")
    rows = make_rows(trades)
    csv = tmp / "ticks.csv"
    write_csv(csv, rows)
    yield from serve(tmp, rows, ["--replay", str(csv), *extra])


def serve(tmp: Path, rows: list[Row], args: list[str]) -> Iterator[Server]:
    """`tickd serve` with `args` on ephemeral TCP and QUIC ports, files under `tmp`."""
    process = subprocess.Popen(
        [
            tickd_bin(),
            "serve",
            "--synthetic",
            "off",
            "--speed",
            "max",
            "--tcp",
            "127.0.0.1:0",
            "--quic",
            "127.0.0.1:0",
            "--http",
            "off",
            "--shm-dir",
            str(tmp / "shm"),
            "--data-dir",
            str(tmp / "data"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    stdout = process.stdout
    try:
        # The log lines that say where TCP and then QUIC listen are the events to wait on.
        seen = []
        port = None
        quic = None
        for line in stdout:
            seen.append(line)
            m = re.search(rb"TCP listening local=127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
            q = re.search(rb"local=127\.0\.0\.1:(\d+) fingerprint=([0-9a-f]{64})", line)
            if q:
                quic = (int(q.group(1)), q.group(2).decode())
            if port is not None and quic is not None:
                break
        if port is None or quic is None:
            pytest.fail("tickd exited: " + b"".join(seen).decode(errors="replace"))
        # Keep reading its log so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
        yield Server(port, rows, process, tmp / "shm", quic[0], quic[1])
    finally:
        process.terminate()
        process.wait(timeout=30)


def settled(server: Server) -> int:
    """The last seq of the replay, once the server sequenced it: read over TCP from that seq
    (waiting on the record itself)."""
    import asyncio

    import tickd

    async def go() -> int:
        async with await tickd.connect("127.0.0.1", server.port) as c:
            await c.subscribe(None, trades=True, quotes=True, from_seq=len(server.rows))
            while True:
                e = await c.next_event()
                assert e is not None, "the server closed the connection"
                if isinstance(e, tickd.Ticks) and len(e.records):
                    return int(e.records["seq"][0])

    return asyncio.run(asyncio.wait_for(go(), 60))
