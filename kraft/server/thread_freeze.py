"""Freeze one thread of a node's process: the main thread, where its event loop serves
every request, while its other threads (the broker's heartbeat, the Raft quorum's tick)
run on. From outside this is what a request holding the loop for seconds looks like,
which a SIGSTOP (the whole process) does not show.

Linux ptrace: PTRACE_SEIZE then PTRACE_INTERRUPT stop that one thread without a signal;
PTRACE_DETACH lets it go. The thread is only kept stopped where it holds no GIL (blocked
in epoll_wait, waiting for events); stopped anywhere else it is let go and stopped again
a moment later, since a thread stopped holding the GIL would freeze the whole interpreter.
Needs root (or CAP_SYS_PTRACE); the ptrace calls must all come from one thread of the
caller, so use it from one thread.
"""

from __future__ import annotations

import ctypes
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WAIT_ALL = 0x40000000  # __WALL: wait for a thread that is not a child
# the epoll waits, by syscall number (x86_64: epoll_wait, epoll_pwait, epoll_pwait2; aarch64: epoll_pwait, pwait2)
EPOLL_WAITS = {"x86_64": {"232", "281", "441"}, "aarch64": {"22", "441"}}
STOP_BOUND_S = 5.0
RETRY_S = 0.003


class FreezeUnavailable(Exception):
    """This host cannot freeze a thread (no ptrace permission, another architecture)."""


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    return libc


def _ptrace(libc: ctypes.CDLL, request: int, tid: int) -> None:
    if libc.ptrace(request, tid, None, None) == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _in_epoll_wait(pid: int, tid: int, waits: set[str]) -> bool:
    try:
        return Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()[0] in waits
    except (OSError, IndexError):
        return False


@contextmanager
def frozen_main_thread(pid: int, bound_s: float = STOP_BOUND_S) -> Iterator[None]:
    """The process's main thread stopped (in its event loop's wait) for the `with` block."""
    waits = EPOLL_WAITS.get(platform.machine())
    if waits is None:
        raise FreezeUnavailable(f"no epoll syscall numbers known for {platform.machine()}")
    libc, tid = _libc(), pid
    deadline = time.monotonic() + bound_s
    while True:
        try:
            _ptrace(libc, PTRACE_SEIZE, tid)
        except PermissionError as exc:
            raise FreezeUnavailable(f"cannot ptrace process {pid}: {exc}") from None
        _ptrace(libc, PTRACE_INTERRUPT, tid)
        os.waitpid(tid, WAIT_ALL)
        if _in_epoll_wait(pid, tid, waits):
            break
        _ptrace(libc, PTRACE_DETACH, tid)
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid}'s main thread was never found waiting in {bound_s} s")
        time.sleep(RETRY_S)
    try:
        yield
    finally:
        _ptrace(libc, PTRACE_DETACH, tid)
