"""A co-located reader of tickd's shared-memory files (``/dev/shm/tickd`` by default): the tick
ring, the symbol directory and the latest-value table, mapped read-only, with no server round
trip (DESIGN.md §4; the layouts are ``tickd_shm``'s and ``tickd_protocol::files``').

Every file starts with a 384-byte header (magic ``TICKDSHM``, layout version 2, kind, slot
size in words, capacity, epoch, base seq; the published head at byte 128). A ring slot is a
seqlock: word 0 reads ``2n + 1`` while record ``n`` is written and ``2n + 2`` once it is
complete. :meth:`ShmReader.read` copies a batch of slots with numpy and keeps the records
whose stamp read ``2n + 2`` both before and after the copy (Boehm's seqlock read rule); a stamp
past that means the writer lapped the reader, reported as :class:`OverrunError` with the oldest seq
the ring still holds (fetch the lost range over TCP, then :meth:`ShmReader.seek` there).

The stamp-copy-stamp order relies on the CPU not reordering loads, as x86-64 guarantees; on
weakly ordered CPUs the check is the same but unfenced.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import time
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from . import futex, records
from .codec import InstrumentInfo

MAGIC: Final = int.from_bytes(b"TICKDSHM", "little")
LAYOUT_VERSION: Final = 2
HEADER_BYTES: Final = 384
NOTIFY_OFFSET: Final = 256
KIND_RING: Final = 1
KIND_DIRECTORY: Final = 2
KIND_TABLE: Final = 3


class ShmError(Exception):
    """A shm file is missing, of another layout, or not what it should be."""


class OverrunError(Exception):
    """The writer lapped the reader: records before `oldest` are gone from the ring."""

    def __init__(self, wanted: int, oldest: int) -> None:
        super().__init__(f"record {wanted} was overwritten; the ring holds {oldest} on")
        self.wanted = wanted
        self.oldest = oldest


class _File:
    """One mapped file: header fields and the slots as a 2-D array of u64 words."""

    def __init__(self, path: Path, kind: int) -> None:
        try:
            with path.open("rb") as f:
                self.map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            raise ShmError(f"{path}: {e}") from e
        words = np.frombuffer(self.map, dtype="<u8")
        self.words = words
        if len(words) < HEADER_BYTES // 8 or words[0] != MAGIC:
            raise ShmError(f"{path}: not a tickd shm file")
        if words[1] != LAYOUT_VERSION:
            raise ShmError(f"{path}: layout version {words[1]}, this reader knows {LAYOUT_VERSION}")
        header32 = np.frombuffer(self.map, dtype="<u4", count=8)
        if header32[4] != kind:
            raise ShmError(f"{path}: file kind {header32[4]}, expected {kind}")
        self.slot_words = int(header32[5])
        self.capacity = int(words[3])
        self.epoch = int(words[4])
        self.base_seq = int(words[5])
        start = HEADER_BYTES // 8
        self.slots = words[start : start + self.capacity * self.slot_words].reshape(
            self.capacity, self.slot_words
        )
        # The futex word the writer bumps after each publish (u32 at byte 256).
        self.notify = np.frombuffer(self.map, dtype="<u4", count=1, offset=NOTIFY_OFFSET)
        self.notify_address = int(self.notify.ctypes.data)

    def head(self) -> int:
        # An aligned 8-byte load: never torn on the 64-bit CPUs tickd runs on.
        return int(self.words[16])


def _scales(tag: int) -> tuple[int, int]:
    """An instrument's (price, size) scales from its directory tag (0: 9:9)."""
    if tag == 0:
        return 9, 9
    return (tag >> 8) & 0xFF, tag & 0xFF


class ShmReader:
    """Reads a tickd server's shm directory (see the module docs). Not thread-safe: one per
    thread."""

    def __init__(self, directory: str | Path = "/dev/shm/tickd") -> None:
        d = Path(directory)
        self._ring = _File(d / "ticks.ring", KIND_RING)
        self._dir = _File(d / "symbols.dir", KIND_DIRECTORY)
        self._table = _File(d / "latest.tbl", KIND_TABLE)
        if self._ring.slot_words != 8 or self._table.slot_words != 8:
            raise ShmError(f"{d}: slots of {self._ring.slot_words} words, expected 8")
        self._mask = self._ring.capacity - 1
        self._next = self._ring.head() + 1
        self._symbols: list[InstrumentInfo] = []

    @property
    def epoch(self) -> int:
        """The ring's epoch."""
        return self._ring.epoch

    @property
    def capacity(self) -> int:
        """Records the ring holds."""
        return self._ring.capacity

    def head(self) -> int:
        """The last published seq."""
        return self._ring.head()

    @property
    def position(self) -> int:
        """The next seq :meth:`read` returns."""
        return self._next

    def seek(self, seq: int) -> None:
        """Reads from `seq` next (1 for the start of the history)."""
        self._next = max(seq, 1)

    def symbols(self) -> list[InstrumentInfo]:
        """Every instrument in the directory, by id."""
        count = self._dir.head()
        for i in range(len(self._symbols), count):
            slot = self._dir.slots[i].copy()
            if slot[0] != 2 * (i + 1) + 2:
                break  # written once, published before the count: only a corrupt file
            length = int(slot[1])
            name = slot[2:6].tobytes()[:length].decode()
            price, size = _scales(int(slot[6]))
            self._symbols.append(InstrumentInfo(i, name, price, size))
        return list(self._symbols)

    def latest(self, instrument_id: int) -> tuple[np.void | None, np.void | None]:
        """The last trade and the last quote of an instrument (records, or None)."""
        out: list[np.void | None] = []
        for cell in (2 * instrument_id, 2 * instrument_id + 1):
            if cell >= self._table.capacity:
                out.append(None)
                continue
            out.append(self._read_cell(cell))
        return out[0], out[1]

    def _read_cell(self, cell: int) -> np.void | None:
        for _ in range(100_000):
            before = int(self._table.slots[cell, 0])
            if before == 0:
                return None
            copy = self._table.slots[cell].copy()
            after = int(self._table.slots[cell, 0])
            if before == after and before % 2 == 0:
                copy[0] = (before - 2) // 2
                record: np.void = copy.view(records.TICK_DTYPE)[0]
                return record
        raise ShmError(f"latest-table cell {cell} stayed busy: a stalled writer")

    def read(self, max_records: int = 65_536) -> npt.NDArray[np.void]:
        """The published records from the cursor on, at most `max_records`, as a copy
        (``TICK_DTYPE``); empty when none is new. Advances past them.

        Raises :class:`OverrunError` if the first of them was overwritten (the cursor stays, so
        the caller can fetch the lost range and :meth:`seek`). A batch cut short by an overrun
        returns what came before it; the next call raises."""
        head = self._ring.head()
        first = self._next
        last = min(head, first + max_records - 1)
        if last < first:
            return np.empty(0, dtype=records.TICK_DTYPE)
        seqs = np.arange(first, last + 1, dtype=np.uint64)
        out = np.empty((len(seqs), 8), dtype="<u8")
        done = 0
        # Contiguous runs of slots: at most two, as the ring wraps at most once in a batch.
        while done < len(seqs):
            i0 = int(seqs[done]) & self._mask
            run = min(len(seqs) - done, self._ring.capacity - i0)
            block = self._ring.slots[i0 : i0 + run]
            before = block[:, 0].copy()
            out[done : done + run] = block
            after = block[:, 0].copy()
            want = 2 * seqs[done : done + run] + 2
            ok = (before == want) & (after == want)
            if not ok.all():
                bad = int(np.argmin(ok))
                if done + bad == 0:
                    stamp = int(max(before[bad], after[bad]))
                    newest = max((stamp - 1) // 2, head)
                    raise OverrunError(first, max(newest + 1 - self._ring.capacity, first + 1))
                done += bad
                break
            done += run
        out = out[:done]
        out[:, 0] = seqs[:done]  # word 0 is the slot's stamp; the record's is its seq
        self._next = first + done
        view: npt.NDArray[np.void] = out.view(records.TICK_DTYPE).reshape(-1)
        return view

    def wait(self, timeout: float) -> bool:
        """Blocks until a record past the cursor is published or `timeout` seconds pass;
        returns whether one is. Parks on the server's futex (:mod:`tickd.futex`): no CPU while
        idle, woken by the server's publish. Without a futex (not Linux) it polls every 0.2 ms.
        """
        deadline = time.monotonic() + timeout
        while True:
            seen = int(self._ring.notify[0])
            if self._ring.head() >= self._next:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if futex.AVAILABLE:
                futex.wait(self._ring.notify_address, seen, left)
            else:
                time.sleep(min(left, 0.000_2))

    async def wait_async(self, timeout: float) -> bool:
        """:meth:`wait` on a worker thread, for asyncio code."""
        return await asyncio.get_running_loop().run_in_executor(None, self.wait, timeout)

    def close(self) -> None:
        """Unmaps the files (records already returned stay valid: they are copies)."""
        for f in (self._ring, self._dir, self._table):
            del f.slots, f.words, f.notify
            # A view still alive elsewhere (a traceback's frame, say) keeps the mapping: it is
            # unmapped when that view goes.
            with contextlib.suppress(BufferError):
                f.map.close()


__all__ = ["OverrunError", "ShmError", "ShmReader"]
