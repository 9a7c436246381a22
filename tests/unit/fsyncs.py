"""The fsyncs a test's code makes, by the name of what each reached."""
from __future__ import annotations

import os


def fsyncs_seen(monkeypatch) -> list[str]:
    """The names of the files and directories fsynced from now on (the fsyncs still run)."""
    seen: list[str] = []
    real = os.fsync

    def fsync(fd):
        seen.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    return seen
