"""tickd's Python client: the binary protocol over TCP (asyncio), records as numpy views.

See :mod:`tickd.client` for the client and :mod:`tickd.records` for the record dtypes.
"""

from .client import CONFLATE, DISCONNECT, DROP, INTERVALS, Client, Event, connect
from .codec import (
    Candles,
    GapEvent,
    HeartbeatEvent,
    InstrumentInfo,
    ProtocolError,
    ServerError,
    SnapshotEvent,
    Ticks,
)
from .records import CANDLE_DTYPE, TICK_DTYPE, new_ticks, to_decimal, to_float

__version__ = "0.1.0"

__all__ = [
    "CANDLE_DTYPE",
    "CONFLATE",
    "DISCONNECT",
    "DROP",
    "INTERVALS",
    "TICK_DTYPE",
    "Candles",
    "Client",
    "Event",
    "GapEvent",
    "HeartbeatEvent",
    "InstrumentInfo",
    "ProtocolError",
    "ServerError",
    "SnapshotEvent",
    "Ticks",
    "connect",
    "new_ticks",
    "to_decimal",
    "to_float",
]
