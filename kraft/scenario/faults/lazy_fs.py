"""A filesystem that keeps what was not fsynced in memory, so a power cut can lose it.

`python -m kraft.scenario.faults.lazy_fs BACKING MOUNTPOINT` mounts (FUSE, through mfusepy) a
view of BACKING at MOUNTPOINT. Names change on the backing directory at once (create,
rename, unlink, mkdir: what a journaling filesystem commits quickly); file contents do
not: each write stays in this process (an UnsyncedFile per inode) until an fsync or
fdatasync of that file puts it on BACKING. Killing this process is the power cut: the
backing directory then holds exactly what was synced, and a new mount shows it. The
idea is Jepsen's LazyFS; like it, nothing is written back on its own, the strictest
reading of what the kernel may do with dirty pages.

Writes through a shared mmap reach this process when the kernel writes the pages back
(at msync, or later) and are kept the same way.

A small control socket (MOUNTPOINT + ".ctl", one line per request, one JSON line
back) answers `stats` with the unsynced bytes and files, so a fault can say what it
dropped, and `delay MS`: from now on every read, write and fsync waits MS milliseconds
first (a slow disk; `delay 0` makes it fast again).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import socketserver
import sys
import threading
import time
from pathlib import Path

from kraft.scenario.faults.unsynced_file import UnsyncedFile

# A flood of unsynced writes (a run without fsync for many minutes) must not take all
# memory: beyond this many bytes the largest file is written back, as the kernel does
# under dirty-page pressure.
WRITEBACK_ABOVE = 512 * 1024 * 1024
MAX_DELAY_MS = 60_000  # a disk slower than a minute per operation is a dead disk: kill the node


def _fuse():
    import mfusepy  # libfuse is loaded at import: only the mounting process needs it
    return mfusepy


def _slowed(method):
    """The operation waits the disk's delay first, outside the lock: each caller waits its
    own delay, as requests queued on a slow device do."""
    @functools.wraps(method)
    def run(self, *args):
        delay_ms = self.delay_ms
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return method(self, *args)
    return run


def _locked(method):
    """One operation at a time: the lab's load is small and the state stays simple.
    (mfusepy turns an OSError into the errno the caller sees.)"""
    @functools.wraps(method)
    def run(self, *args):
        with self._lock:
            return method(self, *args)
    return run


class LazyOperations:
    """The mfusepy operations: a passthrough to the backing dir, with file contents held
    back until fsync."""

    use_ns = True

    def __init__(self, backing: str):
        self.root = os.path.realpath(backing)
        self._lock = threading.Lock()
        self._unsynced: dict[int, UnsyncedFile] = {}  # backing inode -> held-back state
        self._inode_of: dict[int, int] = {}  # open handle -> backing inode
        self._sync_writes: set[int] = set()  # handles opened O_SYNC/O_DSYNC
        self.synced_bytes = 0
        self.delay_ms = 0  # each read, write and fsync waits this long (a slow disk)

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    # -- what the control socket reports -------------------------------------------------
    def stats(self) -> dict:
        with self._lock:
            dirty = [f for f in self._unsynced.values() if f.dirty]
            return {"unsynced_bytes": sum(f.unsynced_bytes for f in dirty), "unsynced_files": len(dirty),
                    "synced_bytes": self.synced_bytes}

    # -- attributes and names (passed straight to the backing dir) -----------------------
    @_locked
    def getattr(self, path, fh=None):
        st = os.lstat(self._full(path))
        attrs = {key: getattr(st, key) for key in (
            "st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_ino",
            "st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
        for key in ("st_atime", "st_mtime", "st_ctime"):  # mfusepy takes ns under these names
            attrs[key] = attrs.pop(key + "_ns")
        held = self._unsynced.get(st.st_ino)
        if held is not None:
            attrs["st_size"] = held.size
        return attrs

    @_locked
    def readdir(self, path, fh):
        return [".", "..", *os.listdir(self._full(path))]

    @_locked
    def access(self, path, amode):
        if not os.access(self._full(path), amode):
            raise OSError(errno.EACCES, "access")
        return 0

    @_locked
    def chmod(self, path, mode):
        os.chmod(self._full(path), mode)
        return 0

    @_locked
    def chown(self, path, uid, gid):
        os.chown(self._full(path), uid, gid, follow_symlinks=False)
        return 0

    @_locked
    def utimens(self, path, times=None):
        os.utime(self._full(path), ns=times, follow_symlinks=False)
        return 0

    @_locked
    def readlink(self, path):
        return os.readlink(self._full(path))

    @_locked
    def symlink(self, target, source):
        os.symlink(source, self._full(target))
        return 0

    @_locked
    def link(self, target, source):
        os.link(self._full(source), self._full(target))
        return 0

    @_locked
    def mkdir(self, path, mode):
        os.mkdir(self._full(path), mode)
        return 0

    @_locked
    def rmdir(self, path):
        os.rmdir(self._full(path))
        return 0

    def _forget_if_last_link(self, full: str) -> None:
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            return
        if st.st_nlink <= 1:
            self._unsynced.pop(st.st_ino, None)  # the inode number may be reused

    @_locked
    def unlink(self, path):
        full = self._full(path)
        self._forget_if_last_link(full)
        os.unlink(full)
        return 0

    @_locked
    def rename(self, old, new):
        self._forget_if_last_link(self._full(new))  # a file replaced by the rename
        os.rename(self._full(old), self._full(new))
        return 0

    @_locked
    def statfs(self, path):
        sv = os.statvfs(self._full(path))
        return {key: getattr(sv, key) for key in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
            "f_flag", "f_frsize", "f_namemax")}

    @_slowed
    @_locked
    def fsyncdir(self, path, datasync, fh):
        fd = os.open(self._full(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return 0

    # -- file contents (held back until fsync) -------------------------------------------
    def _opened(self, fd: int, flags: int) -> int:
        self._inode_of[fd] = os.fstat(fd).st_ino
        if flags & (os.O_SYNC | os.O_DSYNC):
            self._sync_writes.add(fd)
        return fd

    @_locked
    def open(self, path, flags):
        # the backing handle reads and writes at offsets: never O_APPEND (the kernel
        # already turned appends into offsets), never O_TRUNC (a truncate is held back)
        fd = os.open(self._full(path), os.O_RDWR | (flags & os.O_NOFOLLOW))
        return self._opened(fd, flags)

    @_locked
    def create(self, path, mode, fi=None):
        fd = os.open(self._full(path), os.O_RDWR | os.O_CREAT, mode)
        return self._opened(fd, 0)

    @_slowed
    @_locked
    def read(self, path, size, offset, fh):
        held = self._unsynced.get(self._inode_of[fh])
        if held is None:
            return os.pread(fh, size, offset)
        return held.read(offset, size, lambda at, count: os.pread(fh, count, at))

    def _held(self, inode: int, disk_size) -> UnsyncedFile:
        """The inode's held-back state, begun from its disk size (disk_size() asked once)."""
        held = self._unsynced.get(inode)
        if held is None:
            held = self._unsynced[inode] = UnsyncedFile(disk_size())
        return held

    @_slowed
    @_locked
    def write(self, path, data, offset, fh):
        self._held(self._inode_of[fh], lambda: os.fstat(fh).st_size).write(offset, data)
        if fh in self._sync_writes:
            self._sync(fh)
        elif sum(f.unsynced_bytes for f in self._unsynced.values()) > WRITEBACK_ABOVE:
            self._write_back_largest()
        return len(data)

    @_locked
    def truncate(self, path, length, fh=None):
        st = os.stat(self._full(path))
        self._held(st.st_ino, lambda: st.st_size).truncate(length)
        return 0

    def _sync(self, fh: int) -> None:
        held = self._unsynced.pop(self._inode_of[fh], None)
        if held is not None and held.dirty:
            self.synced_bytes += held.unsynced_bytes
            held.flush(lambda data, at: os.pwrite(fh, data, at), lambda length: os.ftruncate(fh, length))
        os.fsync(fh)

    def _write_back_largest(self) -> None:
        inode = max(self._unsynced, key=lambda i: self._unsynced[i].unsynced_bytes)
        fh = next((h for h, i in self._inode_of.items() if i == inode), None)
        if fh is not None:
            self._sync(fh)

    @_slowed
    @_locked
    def fsync(self, path, datasync, fh):
        self._sync(fh)
        return 0

    @_locked
    def flush(self, path, fh):
        return 0  # close() promises nothing about the disk

    @_locked
    def release(self, path, fh):
        self._inode_of.pop(fh, None)
        self._sync_writes.discard(fh)
        os.close(fh)
        return 0


class _ControlHandler(socketserver.StreamRequestHandler):
    server: _ControlServer  # the only server this handler is given to

    def handle(self):
        request = self.rfile.readline(1024).strip()
        if request == b"stats":
            answer = self.server.operations.stats()
        elif request.startswith(b"delay "):
            answer = self._delay(request[len(b"delay "):])
        else:
            answer = {"error": f"unknown request {request[:40]!r}; known: stats, delay MS"}
        self.wfile.write(json.dumps(answer).encode() + b"\n")


    def _delay(self, value: bytes) -> dict:
        if not value.isdigit() or int(value) > MAX_DELAY_MS:
            return {"error": f"delay is a whole number of milliseconds, 0..{MAX_DELAY_MS}, not {value[:20]!r}"}
        self.server.operations.delay_ms = int(value)
        return {"delay_ms": int(value)}


class _ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True  # they end with the process: killing it is the power cut
    operations: LazyOperations  # set by serve() before it serves


def serve(backing: str, mountpoint: str) -> None:
    fuse = _fuse()
    operations = LazyOperations(backing)
    control_path = mountpoint.rstrip("/") + ".ctl"
    Path(control_path).unlink(missing_ok=True)
    control = _ControlServer(control_path, _ControlHandler)
    control.operations = operations
    thread = threading.Thread(target=control.serve_forever, name="lazy-fs-control", daemon=True)
    thread.start()
    try:
        fuse.FUSE(operations, mountpoint, foreground=True, nothreads=False,
                  fsname="kraft-lazyfs")
    finally:
        control.shutdown()
        control.server_close()
        Path(control_path).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m kraft.scenario.faults.lazy_fs BACKING MOUNTPOINT", file=sys.stderr)
        return 2
    serve(args[0], args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
