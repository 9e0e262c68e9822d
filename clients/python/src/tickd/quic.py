"""Frames over QUIC with aioquic (``pip install ./clients/python[quic]``): ALPN ``tickd/1``,
the control stream one bidirectional stream the client opens, each subscription's data on a
unidirectional stream the server opens, datagram-mode quotes as datagrams (one ``TickBatch``
payload each, no prefix).

The server is verified by a CA file (``ca_file``), by the SHA-256 fingerprint of its
certificate (``fingerprint``, 64 hex digits as ``tickd serve`` logs it at start), or, for local
tests only, not at all (``insecure=True``). The fingerprint is checked after the TLS handshake
and before the first byte of the protocol (the `Hello` and its token) is sent.

aioquic grants stream credit as data arrives, not as it is read: a caller that stops reading
lets frames queue in this process instead of holding the server back. Read continuously, or
use a policy (``drop``, ``conflate``) that bounds what the server sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import struct
from typing import Any

from aioquic.asyncio.client import connect as _aioquic_connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    DatagramFrameReceived,
    QuicEvent,
    StreamDataReceived,
)
from cryptography.hazmat.primitives.serialization import Encoding

from .codec import PREFIX, ProtocolError
from .transport import DEFAULT_MAX_FRAME

#: The protocol's ALPN.
ALPN = "tickd/1"

_Item = bytes | Exception | None


class _Protocol(QuicConnectionProtocol):
    """Splits every stream's bytes into frames, in arrival order, onto one queue."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames: asyncio.Queue[_Item] = asyncio.Queue()
        self.max_frame = DEFAULT_MAX_FRAME
        self.control: int | None = None
        self._buffers: dict[int, bytearray] = {}
        self._failed = False

    def _fail(self, error: Exception) -> None:
        if not self._failed:
            self._failed = True
            self.frames.put_nowait(error)
            self.close()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived):
            self._stream_data(event.stream_id, event.data, event.end_stream)
        elif isinstance(event, DatagramFrameReceived):
            self.frames.put_nowait(bytes(event.data))
        elif isinstance(event, ConnectionTerminated):
            if event.error_code == 0:
                self.frames.put_nowait(None)
            else:
                self.frames.put_nowait(
                    ConnectionError(
                        f"QUIC connection closed: code {event.error_code} {event.reason_phrase!r}"
                    )
                )

    def _stream_data(self, stream_id: int, data: bytes, end: bool) -> None:
        if self._failed:
            return
        buf = self._buffers.setdefault(stream_id, bytearray())
        buf += data
        at = 0
        while len(buf) - at >= PREFIX:
            (length,) = struct.unpack_from("<I", buf, at)
            if length > self.max_frame:
                self._fail(
                    ProtocolError(
                        f"frame of {length} bytes over the limit of {self.max_frame} "
                        f"on QUIC stream {stream_id}"
                    )
                )
                return
            if len(buf) - at - PREFIX < length:
                break
            self.frames.put_nowait(bytes(buf[at + PREFIX : at + PREFIX + length]))
            at += PREFIX + length
        del buf[:at]
        if end:
            rest = self._buffers.pop(stream_id)
            if len(rest) >= PREFIX:
                (length,) = struct.unpack_from("<I", rest)
                self._fail(
                    ProtocolError(
                        f"QUIC stream {stream_id} ended {len(rest) - PREFIX} bytes into a "
                        f"{length}-byte frame"
                    )
                )
            elif rest:
                self._fail(ProtocolError(f"QUIC stream {stream_id} ended inside a length prefix"))
            elif stream_id == self.control:
                self.frames.put_nowait(None)


class QuicTransport:
    """Frames over a QUIC connection (see the module docs). Make one with :meth:`open`."""

    name = "quic"

    def __init__(self, protocol: _Protocol, stack: contextlib.AsyncExitStack) -> None:
        self._protocol = protocol
        self._stack = stack
        self._control = protocol._quic.get_next_available_stream_id(is_unidirectional=False)
        protocol.control = self._control
        self._closed = False

    @property
    def max_frame(self) -> int:
        return self._protocol.max_frame

    @max_frame.setter
    def max_frame(self, value: int) -> None:
        self._protocol.max_frame = value

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        server_name: str = "localhost",
        ca_file: str | None = None,
        fingerprint: str | None = None,
        insecure: bool = False,
    ) -> QuicTransport:
        """Connects to `host`:`port` and verifies the server (one of `ca_file`, `fingerprint`,
        `insecure`).

        Raises :class:`ValueError` for a missing or malformed verification choice,
        :class:`ConnectionError` when the handshake fails or the fingerprint does not match."""
        if sum((ca_file is not None, fingerprint is not None, insecure)) != 1:
            raise ValueError("give exactly one of ca_file, fingerprint or insecure=True")
        pin = None
        if fingerprint is not None:
            pin = fingerprint.replace(":", "").strip().lower()
            if len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin):
                raise ValueError(f"fingerprint {fingerprint!r}: expected 64 hex digits")
        config = QuicConfiguration(
            is_client=True,
            alpn_protocols=[ALPN],
            server_name=server_name,
            max_datagram_frame_size=65_536,
        )
        if ca_file is not None:
            config.load_verify_locations(cafile=ca_file)
        else:
            config.verify_mode = ssl.CERT_NONE
        stack = contextlib.AsyncExitStack()
        try:
            protocol = await stack.enter_async_context(
                _aioquic_connect(host, port, configuration=config, create_protocol=_Protocol)
            )
        except Exception as e:
            await stack.aclose()
            raise ConnectionError(f"QUIC handshake with {host}:{port}: {e}") from e
        assert isinstance(protocol, _Protocol)
        if pin is not None:
            cert = getattr(protocol._quic.tls, "_peer_certificate", None)
            seen = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() if cert else None
            if seen != pin:
                protocol.close()
                await stack.aclose()
                raise ConnectionError(
                    f"QUIC {host}:{port}: certificate fingerprint {seen} does not match the "
                    f"pinned {pin}"
                )
        return cls(protocol, stack)

    async def read(self) -> bytes | None:
        if self._closed and self._protocol.frames.empty():
            return None
        item = await self._protocol.frames.get()
        if isinstance(item, Exception):
            # Every later read fails the same way.
            self._protocol.frames.put_nowait(item)
            raise item
        if item is None:
            self._protocol.frames.put_nowait(None)
        return item

    async def write(self, frame: bytes) -> None:
        if self._closed:
            raise ConnectionError("the QUIC connection is closed")
        self._protocol._quic.send_stream_data(self._control, frame, end_stream=False)
        self._protocol.transmit()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._protocol.close()
        self._protocol.frames.put_nowait(None)
        with contextlib.suppress(Exception):
            await self._stack.aclose()


__all__ = ["ALPN", "QuicTransport"]
