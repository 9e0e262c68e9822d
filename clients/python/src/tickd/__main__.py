"""``python -m tickd``: a small command line over the TCP or QUIC client.

    python -m tickd subscribe AAPL MSFT --kinds trades,quotes --count 10
    python -m tickd --server quic://127.0.0.1:7401 --fingerprint 5e34…c43 symbols
    python -m tickd candles AAPL --interval 1m
    python -m tickd symbols
    python -m tickd stats

`subscribe` prints one JSON object per record (prices and sizes as exact decimal text);
`candles` prints CSV; both exit 0 when done and 1 with the reason on an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

import numpy as np

from . import records
from .client import Client, connect
from .codec import InstrumentInfo, ProtocolError, ServerError, Ticks
from .resume import connect_url


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tickd", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7400)
    p.add_argument("--token", default=None, help="access token (servers with tokens)")
    p.add_argument(
        "--server", default=None, help="tcp://host:port or quic://host:port (over --host/--port)"
    )
    p.add_argument("--fingerprint", default=None, help="quic://: the certificate's SHA-256")
    p.add_argument("--ca", default=None, help="quic://: CA certificates (PEM) to verify with")
    p.add_argument("--insecure", action="store_true", help="quic://: no verification (tests)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("subscribe", help="stream records as JSON lines")
    s.add_argument("symbols", nargs="*", help="symbols (all when none)")
    s.add_argument("--kinds", default="trades", help="trades, quotes (comma-separated)")
    s.add_argument("--from-seq", type=int, default=None, help="start at this seq")
    s.add_argument("--count", type=int, default=None, help="exit after this many records")
    c = sub.add_parser("candles", help="candles of a symbol as CSV")
    c.add_argument("symbol")
    c.add_argument("--interval", default="1m")
    c.add_argument("--limit", type=int, default=0)
    sub.add_parser("symbols", help="every symbol, one per line")
    sub.add_parser("stats", help="head seq and feed counters, as JSON")
    return p


def _record_json(rec: np.void, info: InstrumentInfo | None) -> str:
    ps = info.price_scale if info else 9
    ss = info.size_scale if info else 9
    out: dict[str, object] = {
        "seq": int(rec["seq"]),
        "ts_event": int(rec["ts_event"]),
        "symbol": info.symbol if info else int(rec["instrument_id"]),
    }
    if rec["kind"] == records.TRADE:
        out.update(
            kind="trade",
            price=str(records.to_decimal(int(rec["price"]), ps)),
            size=str(records.to_decimal(int(rec["size"]), ss)),
            side=("", "buy", "sell")[min(int(rec["side"]), 2)],
            trade_id=int(rec["trade_id"]),
        )
    else:
        out.update(
            kind="quote",
            bid_px=str(records.to_decimal(int(rec["bid_px"]), ps)),
            bid_sz=str(records.to_decimal(int(rec["bid_sz"]), ss)),
            ask_px=str(records.to_decimal(int(rec["ask_px"]), ps)),
            ask_sz=str(records.to_decimal(int(rec["ask_sz"]), ss)),
        )
    return json.dumps(out)


async def _subscribe(c: Client, args: argparse.Namespace) -> None:
    kinds = {k.strip() for k in args.kinds.split(",") if k.strip()}
    unknown = kinds - {"trades", "quotes"}
    if unknown:
        raise ValueError(f"--kinds: {', '.join(sorted(unknown))} (trades, quotes)")
    await c.subscribe(
        args.symbols or None,
        trades="trades" in kinds,
        quotes="quotes" in kinds,
        from_seq=args.from_seq,
    )
    by_id = {i.instrument_id: i for i in await c.symbols()}
    printed = 0
    async for event in c.events():
        if not isinstance(event, Ticks):
            continue
        for rec in event.records:
            info = by_id.get(int(rec["instrument_id"]))
            if info is None:
                by_id = {i.instrument_id: i for i in await c.symbols()}
                info = by_id.get(int(rec["instrument_id"]))
            print(_record_json(rec, info), flush=True)
            printed += 1
            if args.count is not None and printed >= args.count:
                return


async def _main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.server is None:
            client = await connect(args.host, args.port, token=args.token)
        elif args.server.startswith("quic://"):
            client = await connect_url(
                args.server,
                token=args.token,
                fingerprint=args.fingerprint,
                ca_file=args.ca,
                insecure=args.insecure,
            )
        else:
            client = await connect_url(args.server, token=args.token)
        async with client as c:
            if args.command == "subscribe":
                await _subscribe(c, args)
            elif args.command == "candles":
                info = {i.symbol: i for i in await c.symbols()}.get(args.symbol)
                ps, ss = (info.price_scale, info.size_scale) if info else (9, 9)
                candles = await c.candles(args.symbol, args.interval, limit=args.limit)
                print("ts_open,open,high,low,close,volume,trades")
                for x in candles:
                    print(
                        f"{int(x['ts_open'])},"
                        + ",".join(
                            str(records.to_decimal(int(x[k]), ps))
                            for k in ("open", "high", "low", "close")
                        )
                        + f",{records.to_decimal(int(x['volume']), ss)},{int(x['trades'])}"
                    )
            elif args.command == "symbols":
                for i in await c.symbols():
                    print(i.symbol)
            else:
                s = await c.stats()
                feeds = [f.__dict__ for f in s.feeds]
                print(json.dumps({"epoch": s.epoch, "head_seq": s.head_seq, "feeds": feeds}))
    except (OSError, ProtocolError, ServerError, ValueError) as e:
        print(f"tickd: {e}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    """The console entry point."""
    sys.exit(asyncio.run(_main(sys.argv[1:])))


if __name__ == "__main__":
    main()
