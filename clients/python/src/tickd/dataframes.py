"""Candles and ticks as pandas DataFrames (the ``pandas`` extra: ``pip install tickd[pandas]``).

Indexes are UTC :class:`pandas.DatetimeIndex` (ns): a candle's open time, a tick's event time.
Prices and sizes are float64 by default (the nearest double), or exact :class:`decimal.Decimal`
objects with ``exact=True``. Raw integers stay available in the numpy records.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import records

if TYPE_CHECKING:
    import pandas as pd


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("DataFrames need pandas: pip install 'tickd[pandas]'") from e
    return pandas


def _values(raw: npt.NDArray[Any], scale: int, exact: bool) -> Any:
    if exact:
        return np.array([records.to_decimal(int(v), scale) for v in raw], dtype=object)
    return records.to_float(raw, scale)


def _wide(lo: npt.NDArray[Any], hi: npt.NDArray[Any], scale: int, exact: bool) -> Any:
    """A 128-bit quantity held as (lo, hi) words."""
    if exact:
        return np.array(
            [
                Decimal((int(h) << 64) | int(low)).scaleb(-scale)
                for low, h in zip(lo, hi, strict=True)
            ],
            dtype=object,
        )
    return (hi.astype(np.float64) * 2.0**64 + lo.astype(np.float64)) / float(10**scale)


def candles_frame(
    candles: npt.NDArray[np.void],
    *,
    price_scale: int = 9,
    size_scale: int = 9,
    exact: bool = False,
) -> pd.DataFrame:
    """Candles (``CANDLE_DTYPE``) as a DataFrame indexed by open time (UTC): ``open``,
    ``high``, ``low``, ``close``, ``volume``, ``taker_buy_volume``, ``vwap`` (float only),
    ``trades``, ``closed``, ``version``, ``last_seq``."""
    pdm = _pandas()
    index = pdm.DatetimeIndex(
        pdm.to_datetime(candles["ts_open"].astype(np.int64), unit="ns", utc=True), name="ts_open"
    )
    frame = {
        name: _values(candles[name], price_scale, exact)
        for name in ("open", "high", "low", "close")
    }
    frame["volume"] = _wide(candles["volume"], candles["volume_hi"], size_scale, exact)
    frame["taker_buy_volume"] = _wide(
        candles["taker_buy_volume"], candles["taker_buy_volume_hi"], size_scale, exact
    )
    if not exact:
        notional = candles["notional_hi"].astype(np.float64) * 2.0**64 + candles[
            "notional_lo"
        ].astype(np.float64)
        volume = np.where(frame["volume"] == 0, np.nan, frame["volume"])
        frame["vwap"] = notional / float(10 ** (price_scale + size_scale)) / volume
    frame["trades"] = candles["trades"].astype(np.int64)
    frame["closed"] = (candles["flags"] & records.CANDLE_CLOSED) != 0
    frame["version"] = candles["version"].astype(np.int64)
    frame["last_seq"] = candles["last_seq"].astype(np.int64)
    out: pd.DataFrame = pdm.DataFrame(frame, index=index)
    return out


def ticks_frame(
    ticks: npt.NDArray[np.void],
    *,
    price_scale: int = 9,
    size_scale: int = 9,
    exact: bool = False,
) -> pd.DataFrame:
    """Ticks (``TICK_DTYPE``) as a DataFrame indexed by event time (UTC): ``seq``,
    ``instrument_id``, ``kind`` (``trade``/``quote``), ``side`` (``buy``/``sell``/empty), and a
    trade's ``price``, ``size``, ``trade_id`` or a quote's ``bid_px``, ``bid_sz``, ``ask_px``,
    ``ask_sz`` (NaN, or None when exact, where the row is the other kind)."""
    pdm = _pandas()
    index = pdm.DatetimeIndex(
        pdm.to_datetime(ticks["ts_event"].astype(np.int64), unit="ns", utc=True), name="ts_event"
    )
    trade = ticks["kind"] == records.TRADE
    quote = ticks["kind"] == records.QUOTE

    def where(mask: npt.NDArray[np.bool_], raw: npt.NDArray[Any], scale: int) -> Any:
        values = _values(raw, scale, exact)
        return np.where(mask, values, None if exact else np.nan)

    frame = {
        "seq": ticks["seq"].astype(np.int64),
        "instrument_id": ticks["instrument_id"].astype(np.int64),
        "kind": np.where(trade, "trade", np.where(quote, "quote", "")),
        "side": np.array(["", "buy", "sell"])[np.minimum(ticks["side"], 2)],
        "price": where(trade, ticks["price"], price_scale),
        "size": where(trade, ticks["size"], size_scale),
        "trade_id": np.where(trade, ticks["trade_id"].astype(np.int64), 0),
        "bid_px": where(quote, ticks["bid_px"], price_scale),
        "bid_sz": where(quote, ticks["bid_sz"], size_scale),
        "ask_px": where(quote, ticks["ask_px"], price_scale),
        "ask_sz": where(quote, ticks["ask_sz"], size_scale),
    }
    out: pd.DataFrame = pdm.DataFrame(frame, index=index)
    return out


__all__ = ["candles_frame", "ticks_frame"]
