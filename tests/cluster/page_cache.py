"""How much of a file is only in the page cache: the kernel's cachestat (Linux 6.5+)
counts a file's dirty pages, written but not yet on disk, which a power cut would lose."""

from __future__ import annotations

import ctypes
import os

_SYS_CACHESTAT = 451  # x86_64 and arm64


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("cache", "dirty", "writeback", "evicted", "recently_evicted")]


def dirty_pages(path) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        stat = _Stat()
        if libc.syscall(_SYS_CACHESTAT, fd, ctypes.byref(_Range(0, 0)), ctypes.byref(stat), 0) != 0:
            raise OSError(ctypes.get_errno(), "cachestat")
        return stat.dirty
    finally:
        os.close(fd)


def cachestat_works() -> bool:
    try:
        dirty_pages(__file__)
        return True
    except OSError:
        return False
