"""python-binance (PyPI), unchanged, pointed at tickd: REST klines, then a trade stream.

Usage: binance_client.py HOST:PORT SYMBOL
Prints one JSON line per result: {"klines": [...]}, {"ready": true} once the trade socket is
open, then {"trade": {...}} for each of the next 3 trades.
"""
import asyncio
import json
import sys

from binance import AsyncClient, BinanceSocketManager
from binance.client import Client

ADDR, SYMBOL = sys.argv[1], sys.argv[2]


class LocalClient(Client):
    API_URL = f"http://{ADDR}/api"


class LocalAsyncClient(AsyncClient):
    API_URL = f"http://{ADDR}/api"


def emit(obj):
    print(json.dumps(obj), flush=True)


def rest():
    client = LocalClient()  # pings /api/v3/ping on construction
    emit({"server_time": client.get_server_time()["serverTime"]})
    emit({"klines": client.get_klines(symbol=SYMBOL, interval=Client.KLINE_INTERVAL_1MINUTE, limit=1000)})
    emit({"ticker": client.get_symbol_ticker(symbol=SYMBOL)})


async def stream():
    client = await LocalAsyncClient.create()
    bsm = BinanceSocketManager(client)
    bsm.STREAM_URL = f"ws://{ADDR}/"
    async with bsm.trade_socket(SYMBOL) as socket:
        emit({"ready": True})
        for _ in range(3):
            msg = await asyncio.wait_for(socket.recv(), timeout=20)
            emit({"trade": msg})
    await client.close_connection()


rest()
asyncio.run(stream())
