"""Parking on tickd's cross-process futex word (Linux), from a read-only mapping.

The writer publishes a record's seq as the file's head, then bumps the header's ``notify`` word
(u32 at byte 256) and calls ``FUTEX_WAKE`` on it (``tickd_shm::wait``). A reader loads
``notify``, re-checks the head, and only if nothing new is there calls
``FUTEX_WAIT(notify, value)``: the kernel compares the word with ``value`` as it goes to sleep,
so a bump that lands in between makes the wait return at once (no lost wake-up). The futex is a
shared one (keyed by the file's inode and offset), so a server in another process wakes us;
``FUTEX_WAIT`` only reads the word, so the read-only mapping is enough.

:func:`wait` calls ``syscall(2)`` through ctypes, which releases the GIL while it sleeps. Where
there is no futex (another OS, an unknown CPU), :data:`AVAILABLE` is False and callers poll.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys
from typing import Any, Final

#: ``SYS_futex`` per CPU (Linux's syscall tables).
_SYS_FUTEX: Final = {"x86_64": 202, "aarch64": 98, "arm64": 98}
_FUTEX_WAIT: Final = 0


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _syscall() -> tuple[Any, int] | None:
    number = _SYS_FUTEX.get(platform.machine())
    if not sys.platform.startswith("linux") or number is None:
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fn = libc.syscall
    fn.restype = ctypes.c_long
    return fn, number


_FN = _syscall()
#: Whether :func:`wait` parks in the kernel (else it returns at once and callers poll).
AVAILABLE: Final = _FN is not None


def wait(address: int, seen: int, timeout: float) -> None:
    """Sleeps while the u32 at `address` equals `seen`, for at most `timeout` seconds (a
    wake-up, a changed value, a signal or the timeout all return; re-check what you wait for).

    `address` must point into a live mapping for the duration of the call."""
    if _FN is None:
        return
    fn, number = _FN
    secs = max(timeout, 0.0)
    ts = _Timespec(int(secs), int((secs - int(secs)) * 1e9))
    fn(
        ctypes.c_long(number),
        ctypes.c_void_p(address),
        ctypes.c_int(_FUTEX_WAIT),
        ctypes.c_uint32(seen),
        ctypes.byref(ts),
        ctypes.c_void_p(0),
        ctypes.c_int(0),
    )


__all__ = ["AVAILABLE", "wait"]
