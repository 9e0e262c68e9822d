"""The shared-memory reader against a real tickd's files (conftest.py): every record exactly
with dense seqs, the directory and latest table, and a lapped reader that detects the overrun,
fetches the lost range over TCP and rejoins the ring with nothing missing."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest
from conftest import Server, settled
from test_tcp import expect

import tickd
from tickd.follower import records_of
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

    # tickd.follow recovers as a client does: on each overrun it fetches the lost range over
    # TCP and rejoins the ring where it still holds records (again if it moved on meanwhile).
    async def go() -> list[tickd.Event]:
        events: list[tickd.Event] = []
        got = 0
        follower = tickd.follow(
            reader, lambda: tickd.connect("127.0.0.1", small_ring.port), batch=300
        )
        async for event in follower:
            events.append(event)
            if isinstance(event, tickd.Ticks):
                got += len(event.records)
            if got >= last:
                break
        await follower.aclose()  # type: ignore[attr-defined]
        return events

    events = asyncio.run(asyncio.wait_for(go(), 60))
    assert not any(isinstance(e, tickd.GapEvent) for e in events), "the journal holds them all"
    every = records_of(events)[:last]
    assert list(every["seq"]) == list(range(1, last + 1))
    symbols = {s.symbol: s.instrument_id for s in reader.symbols()}
    expect(small_ring.rows, every, symbols)
    reader.close()


def test_a_directory_that_is_not_tickd_is_refused(tmp_path: object) -> None:
    with pytest.raises(ShmError, match="No such file"):
        ShmReader("/nonexistent/tickd")
