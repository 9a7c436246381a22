"""Size-limited filesystems under nodes' partition data, so a disk can fill up for real.

Each node's `<data_dir>/partitions` becomes a tmpfs mount of a given size (root and the
mount privilege needed; `available()` says why not). `fill` takes every free byte with
a filler file until the kernel answers ENOSPC; `free` deletes it. The metadata quorum's
files stay on the ordinary disk, as Kafka keeps its metadata log apart from its log dirs.
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from pathlib import Path

FILLER = ".disk-filler"
_CHUNKS = (1024 * 1024, 64 * 1024, 4096)


def available() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "mounting a size-limited filesystem needs root"
    with tempfile.TemporaryDirectory(prefix="kraft-mount-probe-") as probe:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return False, f"mount -t tmpfs refused: {done.stderr.strip() or done.returncode}"
        subprocess.run(["umount", probe], capture_output=True)
    return True, ""


def mount(path: Path, size_mb: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                   check=True, capture_output=True)


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)  # lazy: a dying node may hold files


def fill(path: Path) -> int:
    """Write a filler file until the filesystem is full; returns its size."""
    written = 0
    fd = os.open(path / FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for chunk in _CHUNKS:
            block = b"\0" * chunk
            while True:
                try:
                    written += os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return written


def free(path: Path) -> int:
    """Delete the filler; returns the bytes given back."""
    filler = path / FILLER
    try:
        size = filler.stat().st_size
    except FileNotFoundError:
        return 0
    filler.unlink()
    return size
