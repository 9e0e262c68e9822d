"""binance-connector (PyPI, Binance's official Python connector), unchanged, pointed at tickd:
REST klines (latest, and from startTime=0), uiKlines, exchange_info with a symbol, ticker_24hr,
book_ticker, avg_price, and the API errors it raises for an unknown symbol and route.

Usage: binance_connector.py HOST:PORT SYMBOL
Prints one JSON line per result, named by the call.
"""
import json
import sys

from binance.error import ClientError
from binance.spot import Spot

ADDR, SYMBOL = sys.argv[1], sys.argv[2]
spot = Spot(base_url=f"http://{ADDR}")


def emit(name, value):
    print(json.dumps({name: value}), flush=True)


def error(call):
    try:
        call()
    except ClientError as e:
        return [e.status_code, e.error_code, e.error_message]
    return None


emit("klines", spot.klines(SYMBOL, "1m", limit=1000))
emit("first_klines", spot.klines(SYMBOL, "1m", startTime=0, limit=2))
emit("ui_klines", spot.ui_klines(SYMBOL, "1m", limit=1000))
emit("exchange_info", spot.exchange_info(symbol=SYMBOL))
emit("ticker_24hr", spot.ticker_24hr(symbol=SYMBOL))
emit("book_ticker", spot.book_ticker(symbol=SYMBOL))
emit("avg_price", spot.avg_price(SYMBOL))
emit("unknown_symbol", error(lambda: spot.klines("NOSUCH", "1m")))
emit("bad_interval", error(lambda: spot.klines(SYMBOL, "7m")))
emit("unknown_route", error(lambda: spot.query("/api/v3/depth", {"symbol": SYMBOL})))
