"""Throughput of the Python client against a real tickd, beside the Rust client's in the same
run: records per second received over TCP and QUIC (subscribe from seq 1, numpy views) and
read from shared memory (ShmReader.read batches), and `tickctl subscribe` over TCP for the
same records.

    python clients/python/bench.py [--records 1000000] [--bin target/release]

Starts `tickd serve` replaying a generated CSV of `--records` trades at full speed, waits until
it sequenced the last one, then measures each reader over the whole range. Prints one line per
reader and the ratios. Numbers depend on the machine and its load: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import tickd
from tickd.shm import ShmReader

ROOT = Path(__file__).resolve().parents[2]


def write_csv(path: Path, n: int) -> None:
    t0 = 1_696_680_000_000_000_000
    with path.open("w") as f:
        f.write("ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz\n")
        for i in range(n):
            f.write(
                f"{t0 + i * 1_000},{('AAPL', 'MSFT')[i % 2]},trade,{100 + i % 97}.25,1,buy,,,,\n"
            )


async def network(c: tickd.Client, n: int) -> float:
    async with c:
        await c.subscribe(None, trades=True, quotes=True, from_seq=1)
        got = 0
        started = time.perf_counter()
        total = 0
        while got < n:
            e = await c.next_event()
            assert e is not None
            if isinstance(e, tickd.Ticks):
                got += len(e.records)
                total += int(e.records["price"].sum() % 7)  # touch the data
        return n / (time.perf_counter() - started)


def tcp(port: int, n: int) -> float:
    async def go() -> float:
        return await network(await tickd.connect("127.0.0.1", port), n)

    return asyncio.run(go())


def quic(port: int, fingerprint: str, n: int) -> float:
    async def go() -> float:
        c = await tickd.connect_quic("127.0.0.1", port, fingerprint=fingerprint)
        return await network(c, n)

    return asyncio.run(go())


def median(f: Callable[[], float], runs: int) -> float:
    rates = [f() for _ in range(runs)]
    print(" ".join(f"{r:,.0f}" for r in rates), file=sys.stderr)
    return statistics.median(rates)


def shm(path: Path, n: int) -> float:
    reader = ShmReader(path)
    reader.seek(1)
    got = 0
    started = time.perf_counter()
    while got < n:
        got += len(reader.read(65_536))
    rate = n / (time.perf_counter() - started)
    reader.close()
    return rate


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--bin", default=str(ROOT / "target" / "release"))
    p.add_argument("--runs", type=int, default=3, help="runs per reader (the median is shown)")
    args = p.parse_args()
    n = args.records
    bin_dir = Path(args.bin)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        csv = tmp / "ticks.csv"
        write_csv(csv, n)
        server = subprocess.Popen(
            [
                str(bin_dir / "tickd"),
                "serve",
                "--synthetic",
                "off",
                "--replay",
                str(csv),
                "--speed",
                "max",
                "--tcp",
                "127.0.0.1:0",
                "--quic",
                "127.0.0.1:0",
                "--http",
                "off",
                "--no-journal",
                "--shm-dir",
                str(tmp / "shm"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert server.stdout is not None
        port = 0
        quic_port, fingerprint = 0, ""
        for line in server.stdout:
            if m := re.search(rb"TCP listening local=127\.0\.0\.1:(\d+)", line):
                port = int(m.group(1))
            if q := re.search(rb"local=127\.0\.0\.1:(\d+) fingerprint=([0-9a-f]{64})", line):
                quic_port, fingerprint = int(q.group(1)), q.group(2).decode()
            if port and quic_port:
                break
        out = server.stdout
        # Keep reading its log so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
        try:
            reader = ShmReader(tmp / "shm")
            while reader.head() < n:  # the replay's progress: this one waits by polling
                reader.wait(1.0)
                reader.seek(reader.head() + 1)
            reader.close()
            runs = args.runs
            py_shm = median(lambda: shm(tmp / "shm", n), runs)
            py_tcp = median(lambda: tcp(port, n), runs)
            py_quic = median(lambda: quic(quic_port, fingerprint, n), runs)

            def rust() -> float:
                started = time.perf_counter()
                subprocess.run(
                    [
                        str(bin_dir / "tickctl"),
                        "--server",
                        f"tcp://127.0.0.1:{port}",
                        "subscribe",
                        "--kinds",
                        "trades",
                        "--from-seq",
                        "1",
                        "--count",
                        str(n),
                        "--format",
                        "csv",
                    ],
                    stdout=subprocess.DEVNULL,
                    check=True,
                )
                return n / (time.perf_counter() - started)

            rust_tcp = median(rust, runs)
        finally:
            server.terminate()
            server.wait()
    print(f"records: {n}, median of {args.runs} runs each")
    print(f"python shm   {py_shm:>14,.0f} records/s")
    print(f"python tcp   {py_tcp:>14,.0f} records/s")
    print(f"python quic  {py_quic:>14,.0f} records/s")
    print(f"tickctl tcp  {rust_tcp:>14,.0f} records/s (Rust client, CSV to /dev/null)")
    print(f"python tcp / tickctl tcp = {py_tcp / rust_tcp:.2f}")
    print(f"python quic / python tcp = {py_quic / py_tcp:.2f}")
    sys.exit(0)


if __name__ == "__main__":
    main()
