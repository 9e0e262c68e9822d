"""tickd's Python client: the binary protocol over TCP or QUIC (asyncio, or
synchronous in :mod:`tickd.sync`), from shared memory (:mod:`tickd.shm`), records as numpy views.

See :mod:`tickd.client` for the client and :mod:`tickd.records` for the record dtypes.
"""

from .client import CONFLATE, DISCONNECT, DROP, INTERVALS, Client, Event, connect, connect_quic
from .codec import (
    GAP_CONFLATED,
    GAP_DROPPED,
    GAP_EPOCH_CHANGED,
    GAP_NOT_RETAINED,
    GAP_OVERRUN,
    GAP_UNKNOWN,
    GAP_VENUE,
    Candles,
    GapEvent,
    HeartbeatEvent,
    InstrumentInfo,
    ProtocolError,
    ServerError,
    SnapshotEvent,
    Ticks,
)
from .follower import follow
from .records import CANDLE_DTYPE, TICK_DTYPE, new_ticks, to_decimal, to_float
from .resume import Cursor, Resuming, connect_url

__version__ = "0.1.0"

__all__ = [
    "CANDLE_DTYPE",
    "CONFLATE",
    "DISCONNECT",
    "DROP",
    "GAP_CONFLATED",
    "GAP_DROPPED",
    "GAP_EPOCH_CHANGED",
    "GAP_NOT_RETAINED",
    "GAP_OVERRUN",
    "GAP_UNKNOWN",
    "GAP_VENUE",
    "INTERVALS",
    "TICK_DTYPE",
    "Candles",
    "Client",
    "Cursor",
    "Event",
    "GapEvent",
    "HeartbeatEvent",
    "InstrumentInfo",
    "ProtocolError",
    "Resuming",
    "ServerError",
    "SnapshotEvent",
    "Ticks",
    "connect",
    "connect_quic",
    "connect_url",
    "follow",
    "new_ticks",
    "to_decimal",
    "to_float",
]
