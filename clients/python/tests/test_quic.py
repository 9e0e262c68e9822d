"""The QUIC client (aioquic) against a real tickd: the same records, byte for byte, and the same
candles as over TCP; the server verified by its pinned fingerprint or its certificate as a CA
file, and refused on a wrong pin before any protocol byte is sent; datagram-mode quotes."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamDataReceived
from conftest import Server, settled
from test_tcp import read_records, run

import tickd
from tickd.codec import ProtocolError


def test_quic_gives_the_records_and_candles_tcp_gives(server: Server) -> None:
    last = settled(server)

    async def go() -> None:
        q = await tickd.connect_quic("127.0.0.1", server.quic_port, fingerprint=server.fingerprint)
        async with q, await tickd.connect("127.0.0.1", server.port) as t:
            assert q.transport == "quic" and t.transport == "tcp"
            assert q.epoch == t.epoch
            got = {}
            for c in (q, t):
                ack = await c.subscribe(None, trades=True, quotes=True, from_seq=1)
                assert ack.start_seq == 1
                got[c.transport] = await read_records(c, len(server.rows))
            assert got["quic"].tobytes() == got["tcp"].tobytes()
            assert list(got["quic"]["seq"]) == list(range(1, len(server.rows) + 1))
            for symbol in ("AAPL", "MSFT"):
                for interval in ("1s", "1m", "1d"):
                    a = await q.candles(symbol, interval)
                    b = await t.candles(symbol, interval)
                    assert len(a) and a.tobytes() == b.tobytes(), (symbol, interval)
            assert (await q.stats()).head_seq >= last

    run(go())


def test_the_certificate_is_verified(server: Server) -> None:
    async def go() -> None:
        wrong = "ab" * 32
        with pytest.raises(ConnectionError, match="does not match the pinned"):
            await tickd.connect_quic("127.0.0.1", server.quic_port, fingerprint=wrong)
        with pytest.raises(ValueError, match="64 hex digits"):
            await tickd.connect_quic("127.0.0.1", server.quic_port, fingerprint="abc")
        with pytest.raises(ValueError, match="exactly one"):
            await tickd.connect_quic("127.0.0.1", server.quic_port)
        # The self-signed certificate as a CA file, verified for the name it was made for.
        cert = Path(server.shm).parent / "data" / "tls" / "cert.pem"
        async with await tickd.connect_quic(
            "127.0.0.1", server.quic_port, ca_file=str(cert), server_name="localhost"
        ) as c:
            assert len(await c.symbols()) == 2
        with pytest.raises(ConnectionError):
            await tickd.connect_quic(
                "127.0.0.1", server.quic_port, ca_file=str(cert), server_name="example.com"
            )

    run(go())


def test_datagram_quotes_are_ticks_of_quotes(server: Server) -> None:
    settled(server)

    async def go() -> None:
        async with await tickd.connect("127.0.0.1", server.port) as t:
            await t.subscribe(None, trades=True, quotes=True, from_seq=1)
            every = await read_records(t, len(server.rows))
        async with await tickd.connect_quic(
            "127.0.0.1", server.quic_port, fingerprint=server.fingerprint
        ) as c:
            # From seq 1: the trades on the subscription's stream, every one in order; the
            # quotes as datagrams, conflated to the latest per instrument (best effort).
            await c.subscribe(None, trades=True, quotes=True, from_seq=1, datagrams=True)
            want = every[every["kind"] == tickd.records.TRADE]
            trades: list[np.ndarray] = []
            quotes: list[np.ndarray] = []
            while sum(len(x) for x in trades) < len(want):
                e = await c.next_event()
                assert isinstance(e, tickd.Ticks), e
                kinds = e.records["kind"]
                trades.append(e.records[kinds == tickd.records.TRADE].copy())
                quotes.append(e.records[kinds == tickd.records.QUOTE].copy())
            assert np.concatenate(trades).tobytes() == want.tobytes()
            got = np.concatenate(quotes)
            assert len(got) > 0
            # Each quote is the record of that seq, byte for byte.
            for q in got:
                assert q.tobytes() == every[int(q["seq"]) - 1].tobytes()

    run(go())


class _FakeServer(QuicConnectionProtocol):
    """Answers the client's first bytes on its control stream with `SEND`, then ends the
    stream (or, with `ON_DATA_STREAM`, sends them on a unidirectional stream of its own)."""

    SEND = b""
    ON_DATA_STREAM = False

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived) and event.data:
            if self.ON_DATA_STREAM:
                welcome = _welcome()
                self._quic.send_stream_data(event.stream_id, welcome)
                uni = self._quic.get_next_available_stream_id(is_unidirectional=True)
                self._quic.send_stream_data(uni, self.SEND, end_stream=True)
            else:
                self._quic.send_stream_data(event.stream_id, self.SEND, end_stream=True)
            self.transmit()


def _welcome() -> bytes:
    """A real server's Welcome frame: the one tickd sends, made by this client's encoder's
    sibling (the generated code)."""
    import flatbuffers

    from tickd.wire import Body, Message, Welcome

    b = flatbuffers.Builder(64)
    name = b.CreateString("fake")
    Welcome.Start(b)
    Welcome.AddVersion(b, 1)
    Welcome.AddServerName(b, name)
    Welcome.AddEpoch(b, 7)
    body = Welcome.End(b)
    Message.Start(b)
    Message.AddBodyType(b, Body.Body.Welcome)
    Message.AddBody(b, body)
    b.Finish(Message.End(b), file_identifier=b"TICK")
    payload = bytes(b.Output())
    return struct.pack("<I", len(payload)) + payload


BAD = [
    (struct.pack("<I", 100) + b"\x00" * 10, "ended 10 bytes into a 100-byte frame"),
    (b"\x01\x00", "ended inside a length prefix"),
    (
        struct.pack("<I", 12) + b"\x08\x00\x00\x00XXXX\x00\x00\x00\x00",
        "not a tickd message (file identifier b'XXXX')",
    ),
    (struct.pack("<I", 0xFFFF_FFF0), "over the limit"),
]


@pytest.mark.parametrize(("send", "message"), BAD)
@pytest.mark.parametrize("on_data_stream", [False, True])
def test_bad_server_input_over_quic_raises_a_clear_error(
    server: Server, send: bytes, message: str, on_data_stream: bool
) -> None:
    """A fake QUIC server (tickd's own certificate) sending a truncated frame, a wrong file
    identifier or a giant length, on the control stream or on a data stream."""
    tls = Path(server.shm).parent / "data" / "tls"

    async def go() -> None:
        config = QuicConfiguration(is_client=False, alpn_protocols=["tickd/1"])
        config.load_cert_chain(tls / "cert.pem", tls / "key.pem")
        fake = type("Fake", (_FakeServer,), {"SEND": send, "ON_DATA_STREAM": on_data_stream})
        quic = await serve("127.0.0.1", 0, configuration=config, create_protocol=fake)
        assert quic._transport is not None
        port = quic._transport.get_extra_info("sockname")[1]
        try:
            pattern = re.escape(message)
            with pytest.raises(ProtocolError, match=pattern):
                c = await tickd.connect_quic("127.0.0.1", port, fingerprint=server.fingerprint)
                # On a data stream: the client is connected; the bad frame comes as an event.
                async with c:
                    await c.next_event()
        finally:
            quic.close()

    run(go())
