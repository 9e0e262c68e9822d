"""The shared-memory reader against a real tickd's files (conftest.py): every record exactly
with dense seqs, the directory and latest table, and a lapped reader that detects the overrun,
fetches the lost range over TCP and rejoins the ring with nothing missing."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest
from conftest import Server, settled
from test_tcp import expect, read_records

import tickd
from tickd.shm import OverrunError, ShmError, ShmReader


def read_all(reader: ShmReader, upto: int) -> npt.NDArray[np.void]:
    parts = []
    while reader.position <= upto:
        parts.append(reader.read(max_records=300))
    return np.concatenate(parts)


def test_the_ring_directory_and_latest_table(server: Server) -> None:
    last = settled(server)
    reader = ShmReader(server.shm)
    try:
        assert reader.head() >= last == len(server.rows)
        symbols = reader.symbols()
        assert [(s.instrument_id, s.symbol, s.price_scale) for s in symbols] == [
            (0, "AAPL", 9),
            (1, "MSFT", 9),
        ]
        reader.seek(1)
        records = read_all(reader, last)[:last]
        assert list(records["seq"]) == list(range(1, last + 1))
        expect(server.rows, records, {s.symbol: s.instrument_id for s in symbols})
        # The latest table: each symbol's last trade and last quote, with their seqs.
        for s in symbols:
            trade, quote = reader.latest(s.instrument_id)
            mine = records[records["instrument_id"] == s.instrument_id]
            want_trade = mine[mine["kind"] == tickd.records.TRADE][-1]
            want_quote = mine[mine["kind"] == tickd.records.QUOTE][-1]
            assert trade is not None and quote is not None
            head = ["seq", "ts_event", "ts_recv", "instrument_id", "kind", "side", "flags"]
            trade_fields = [*head, "price", "size", "trade_id", "venue", "conditions"]
            quote_fields = [*head, "bid_px", "bid_sz", "ask_px", "ask_sz"]
            assert [int(trade[f]) for f in trade_fields] == [
                int(want_trade[f]) for f in trade_fields
            ]
            assert [int(quote[f]) for f in quote_fields] == [
                int(want_quote[f]) for f in quote_fields
            ]
        assert reader.latest(99) == (None, None)
    finally:
        reader.close()


def test_a_lapped_reader_refills_over_tcp_and_rejoins(small_ring: Server) -> None:
    last = settled(small_ring)
    reader = ShmReader(small_ring.shm)
    assert reader.capacity == 1024
    reader.seek(1)
    # The server may append a candle-close record at any time: bound the head around the read.
    head_before = reader.head()
    with pytest.raises(OverrunError) as lapped:
        reader.read()
    head_after = reader.head()
    assert head_before + 1 - 1024 <= lapped.value.oldest <= head_after + 1 - 1024
    assert reader.position == 1, "the cursor stays for the caller to refill"

    async def refill(first: int, last: int) -> npt.NDArray[np.void]:
        # What the ring lost, from the server (its journal).
        async with await tickd.connect("127.0.0.1", small_ring.port) as c:
            await c.subscribe(None, trades=True, quotes=True, from_seq=first)
            return await read_records(c, last - first + 1)

    # As a client recovers: on each overrun, fetch the lost range over TCP and rejoin the ring
    # where it still holds records (it may move on meanwhile: then again).
    parts = []
    refills = 0
    while reader.position <= last:
        try:
            parts.append(reader.read(max_records=300))
        except OverrunError as e:
            parts.append(asyncio.run(asyncio.wait_for(refill(e.wanted, e.oldest - 1), 60)))
            reader.seek(e.oldest)
            refills += 1
    assert refills >= 1
    every = np.concatenate(parts)[:last]
    assert list(every["seq"]) == list(range(1, last + 1))
    symbols = {s.symbol: s.instrument_id for s in reader.symbols()}
    expect(small_ring.rows, every, symbols)
    reader.close()


def test_a_directory_that_is_not_tickd_is_refused(tmp_path: object) -> None:
    with pytest.raises(ShmError, match="No such file"):
        ShmReader("/nonexistent/tickd")
