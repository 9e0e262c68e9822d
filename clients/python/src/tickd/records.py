"""tickd's fixed-size records as numpy structured dtypes.

A `TickBatch` carries a vector of 64-byte ticks byte-identical to the ring record
(DESIGN.md §2), so a batch decodes as a numpy array *view over the received bytes*: no copy,
no per-tick Python object. Times are ns since the Unix epoch (UTC); prices and sizes are
integers in units of 10^-scale of the instrument (1e-9 by default): use :func:`to_decimal`
for exact values and :func:`to_float` for floats.

The tick's body is a union: a trade's fields (``price``, ``size``, ``trade_id``, ``venue``,
``conditions``) and a quote's (``bid_px``, ``bid_sz``, ``ask_px``, ``ask_sz``) overlay the
same 32 bytes; read the ones its ``kind`` says.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

#: `kind`: a trade.
TRADE: Final = 1
#: `kind`: a quote (top of book).
QUOTE: Final = 2
#: `side`: not known.
SIDE_NONE: Final = 0
#: `side`: the buyer was the aggressor.
BUY: Final = 1
#: `side`: the seller was the aggressor.
SELL: Final = 2
#: A price that is not defined (an empty side of the book): `i64::MIN`.
PRICE_UNDEF: Final = -(2**63)

#: One tick, 64 bytes, little-endian, as in the ring and on the wire.
TICK_DTYPE: Final = np.dtype(
    {
        "names": [
            "seq",
            "ts_event",
            "ts_recv",
            "instrument_id",
            "kind",
            "side",
            "flags",
            "price",
            "size",
            "trade_id",
            "venue",
            "conditions",
            "bid_px",
            "bid_sz",
            "ask_px",
            "ask_sz",
        ],
        "formats": [
            "<u8",
            "<u8",
            "<u8",
            "<u4",
            "u1",
            "u1",
            "<u2",
            "<i8",
            "<u8",
            "<u8",
            "<u4",
            "<u4",
            "<i8",
            "<u8",
            "<i8",
            "<u8",
        ],
        "offsets": [0, 8, 16, 24, 28, 29, 30, 32, 40, 48, 56, 60, 32, 40, 48, 56],
        "itemsize": 64,
    }
)

#: One OHLCV candle, 192 bytes, little-endian, labelled by its open time.
CANDLE_DTYPE: Final = np.dtype(
    [
        ("instrument_id", "<u4"),
        ("interval_s", "<u4"),
        ("ts_open", "<u8"),
        ("open", "<i8"),
        ("high", "<i8"),
        ("low", "<i8"),
        ("close", "<i8"),
        ("volume", "<u8"),
        ("notional_lo", "<u8"),
        ("notional_hi", "<i8"),
        ("trades", "<u8"),
        ("version", "<u4"),
        ("flags", "<u4"),
        ("last_seq", "<u8"),
        ("ts_first_event", "<u8"),
        ("ts_last_event", "<u8"),
        ("volume_hi", "<u8"),
        ("taker_buy_volume", "<u8"),
        ("taker_buy_volume_hi", "<u8"),
        ("taker_buy_notional_lo", "<u8"),
        ("taker_buy_notional_hi", "<i8"),
        ("first_trade_id", "<u8"),
        ("last_trade_id", "<u8"),
        ("reserved", "<u8", (3,)),
    ]
)

#: `flags` bit of a candle: its interval has ended.
CANDLE_CLOSED: Final = 1

assert TICK_DTYPE.itemsize == 64
assert CANDLE_DTYPE.itemsize == 192


def ticks_view(buffer: bytes | memoryview, offset: int, count: int) -> npt.NDArray[np.void]:
    """`count` ticks at `offset` of `buffer`, as a read-only array viewing the same memory."""
    return np.frombuffer(buffer, dtype=TICK_DTYPE, count=count, offset=offset)


def candles_view(buffer: bytes | memoryview, offset: int, count: int) -> npt.NDArray[np.void]:
    """`count` candles at `offset` of `buffer`, as a read-only array viewing the same memory."""
    return np.frombuffer(buffer, dtype=CANDLE_DTYPE, count=count, offset=offset)


def to_decimal(raw: int, scale: int = 9) -> Decimal:
    """An exact decimal of a raw price or size (`raw` * 10**-`scale`)."""
    return Decimal(int(raw)).scaleb(-scale)


def to_float(raw: npt.ArrayLike, scale: int = 9) -> npt.NDArray[np.float64]:
    """Floats of raw prices or sizes (nearest double; exact values need :func:`to_decimal`)."""
    return np.asarray(raw, dtype=np.float64) / float(10**scale)


def new_ticks(count: int) -> npt.NDArray[np.void]:
    """A zeroed array of `count` ticks, to fill and publish."""
    return np.zeros(count, dtype=TICK_DTYPE)
