"""How a :class:`~tickd.client.Client` moves frames: a TCP socket here, QUIC in
:mod:`tickd.quic`.

A transport reads whole frame payloads (the 4-byte little-endian length prefix checked and
removed) and writes encoded frames (prefix included, as :mod:`tickd.codec` makes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Final, Protocol

from .codec import PREFIX, ProtocolError

#: Largest frame accepted from a server before it says its own limit (16 MiB).
DEFAULT_MAX_FRAME: Final = 16 * 1024 * 1024


class Transport(Protocol):
    """A connection's frames, both ways."""

    #: Frames longer than this (bytes, prefix excluded) are refused with
    #: :class:`~tickd.codec.ProtocolError`.
    max_frame: int

    async def read(self) -> bytes | None:
        """The next frame's payload, or None when the server closed the connection cleanly.

        Raises :class:`~tickd.codec.ProtocolError` for a frame over `max_frame` or cut short,
        and :class:`ConnectionError` (or :class:`OSError`) when the connection fails."""
        ...

    async def write(self, frame: bytes) -> None:
        """Sends one encoded frame (prefix included)."""
        ...

    async def close(self) -> None:
        """Closes the connection; reads after it end."""
        ...

    @property
    def name(self) -> str:
        """``tcp`` or ``quic``."""
        ...


class TcpTransport:
    """Frames over a TCP stream."""

    name = "tcp"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.max_frame = DEFAULT_MAX_FRAME

    @classmethod
    async def open(cls, host: str, port: int) -> TcpTransport:
        """Connects to `host`:`port` (Nagle off: frames are sent as they are written)."""
        # A large buffer: frames are up to a few MiB and the default 64 KiB pauses the socket.
        reader, writer = await asyncio.open_connection(host, port, limit=8 * 1024 * 1024)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            import socket

            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def read(self) -> bytes | None:
        try:
            head = await self._reader.readexactly(PREFIX)
        except asyncio.IncompleteReadError as e:
            if not e.partial:
                return None
            raise ProtocolError("the connection closed inside a length prefix") from e
        (length,) = struct.unpack("<I", head)
        if length > self.max_frame:
            raise ProtocolError(f"frame of {length} bytes over the limit of {self.max_frame}")
        try:
            return await self._reader.readexactly(length)
        except asyncio.IncompleteReadError as e:
            raise ProtocolError(
                f"the connection closed {len(e.partial)} bytes into a {length}-byte frame"
            ) from e

    async def write(self, frame: bytes) -> None:
        self._writer.write(frame)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


__all__ = ["DEFAULT_MAX_FRAME", "TcpTransport", "Transport"]
