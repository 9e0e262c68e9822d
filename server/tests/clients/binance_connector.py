"""binance-connector (PyPI, Binance's official Python connector), unchanged, pointed at tickd:
REST klines (latest, and from startTime=0), uiKlines, exchange_info with a symbol, ticker_24hr,
book_ticker, avg_price, trades, agg_trades (latest, by id, by time), and the API errors it raises
for an unknown symbol and route; then its WebSocket stream client on bare /ws (trade, then
aggTrade, bookTicker and miniTicker) and on /stream (trade, then SET_PROPERTY/GET_PROPERTY),
subscribing by method message.

Usage: binance_connector.py HOST:PORT SYMBOL
Prints one JSON line per result, named by the call; for each socket, {"ws_ready": "ws"} (or
"stream") once its SUBSCRIBE is answered, then {"ws_trade": …} for the next 2 trades.
"""
import json
import queue
import sys

from binance.error import ClientError
from binance.spot import Spot
from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient

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
emit("trades", spot.trades(SYMBOL, limit=5))
emit("agg_trades", spot.agg_trades(SYMBOL, limit=3))
first = spot.agg_trades(SYMBOL, limit=3)[0]
emit("agg_trades_from", spot.agg_trades(SYMBOL, fromId=first["a"], limit=2))
emit("agg_trades_time", spot.agg_trades(SYMBOL, startTime=first["T"], endTime=first["T"]))
emit("agg_trades_mixed", error(lambda: spot.agg_trades(SYMBOL, fromId=1, startTime=1)))
emit("unknown_symbol", error(lambda: spot.klines("NOSUCH", "1m")))
emit("bad_interval", error(lambda: spot.klines(SYMBOL, "7m")))
emit("unknown_route", error(lambda: spot.query("/api/v3/depth", {"symbol": SYMBOL})))


def stream(combined):
    messages = queue.Queue()
    client = SpotWebsocketStreamClient(
        stream_url=f"ws://{ADDR}",
        on_message=lambda _, m: messages.put(json.loads(m)),
        is_combined=combined,
    )
    client.trade(symbol=SYMBOL, id=7)
    reply = messages.get(timeout=20)
    emit("ws_reply", reply)
    emit("ws_ready", "stream" if combined else "ws")
    for _ in range(2):
        emit("ws_trade", messages.get(timeout=20))
    if not combined:
        # More stream types on the same socket; then one trade and one quote reach them all.
        client.agg_trade(symbol=SYMBOL, id=8)
        client.book_ticker(symbol=SYMBOL, id=9)
        client.mini_ticker(symbol=SYMBOL, id=10)
        for _ in range(3):
            emit("ws_reply", messages.get(timeout=20))
        emit("ws_ready", "more")
        seen = {}
        while len(seen) < 4:
            m = messages.get(timeout=20)
            seen[m.get("e", "bookTicker")] = m
        for name in sorted(seen):
            emit("ws_event", seen[name])
    else:
        # Binance's socket properties, by raw method message.
        for i, params in enumerate(
            [["combined"], ["combined", False], ["combined"], ["colour", 1]]
        ):
            method = "GET_PROPERTY" if len(params) == 1 else "SET_PROPERTY"
            client.send({"method": method, "params": params, "id": 11 + i})
            emit("ws_reply", messages.get(timeout=20))
    client.stop()


stream(False)
stream(True)
