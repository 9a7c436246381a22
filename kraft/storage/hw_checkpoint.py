"""The high-watermark checkpoint: one small file per broker, written atomically.

A restarted replica starts from min(checkpointed HW, log end). Only a hint: the
leader's HW always wins once the replica fetches again.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import orjson


class HighWatermarkCheckpoint:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._last: dict[str, int] | None = None
        self._loaded = self._load()
        self._lock = threading.Lock()  # written from the IO worker and at shutdown
        self._closed = False

    def _load(self) -> dict[str, int]:
        try:
            data = orjson.loads(self.path.read_bytes())
            return {str(k): int(v) for k, v in data.items()}
        except (OSError, ValueError, AttributeError, TypeError):
            return {}  # missing or torn: every HW starts from 0 and is learned again

    def read(self) -> dict[str, int]:
        return self._loaded

    def write(self, hws: dict[str, int]) -> None:
        """Any thread (it fsyncs); writes are serialized, each replaces the whole file."""
        with self._lock:
            if not self._closed:
                self._replace_file(hws)

    def close(self, hws: dict[str, int]) -> None:
        """The last write: a periodic one still in a worker thread cannot undo it."""
        with self._lock:
            self._replace_file(hws)
            self._closed = True

    def _replace_file(self, hws: dict[str, int]) -> None:
        if hws == self._last:
            return
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(orjson.dumps(hws))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._last = dict(hws)
        self._loaded.update(hws)
