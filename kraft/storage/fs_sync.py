"""One durability barrier for a whole file system: Linux's syncfs(2).

A clean stop of a broker hosting thousands of logs was several fsyncs per log, one
after the other on each of a few threads (a minute at 30,000 logs on a VM's disk,
past the stop's deadline). The stop now writes every log's last state without a
fsync, makes the file system durable once, and only then marks the logs clean: one
wait for the device instead of tens of thousands. syncfs reports write-back errors
(since Linux 5.8) like fsync does.

Only where syncfs is that barrier: a FUSE file system hears of it only on virtiofs
(the kernel does not pass it to other daemons: the failure lab's lazy disk would keep
everything unsynced), so elsewhere the caller fsyncs file by file as before.
"""
from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from pathlib import Path


def fsync_path(path: Path, missing_ok: bool = False) -> None:
    """fsync a file or a directory by its name: a fresh descriptor reaches everything
    written to it (for a directory: its creations, renames and deletions)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs() -> Callable[[int], int] | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    return fn


_SYNCFS = _syncfs()


# local and network file systems whose syncfs writes back and commits everything
BARRIER_TYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "bcachefs", "zfs",
                           "tmpfs", "overlay", "nfs", "nfs4", "virtiofs"})


def file_system_type(path: Path) -> str:
    """The type of the mount holding `path` (/proc/self/mountinfo), "" if unknown."""
    target = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields, _, rest = line.partition(" - ")
                point = fields.split(" ")[4].encode().decode("unicode_escape")  # \040 is a space
                if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                    best, kind = point, rest.split(" ", 1)[0]
    except (OSError, IndexError):
        return ""
    return kind


def barrier_holds(path: Path) -> bool:
    """Whether sync_filesystem makes everything under `path` durable."""
    return _SYNCFS is not None and file_system_type(path) in BARRIER_TYPES


def sync_filesystem(path: Path) -> None:
    """Everything written to the file system holding `path`, data and names, is on
    disk when this returns (where barrier_holds); OSError when the kernel says some
    of it is not."""
    if _SYNCFS is None:
        raise OSError("syncfs is not available here")
    fd = os.open(path, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(path))
    finally:
        os.close(fd)
