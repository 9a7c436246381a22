"""Per-partition log settings, named after the Kafka topic configs they mirror."""
from __future__ import annotations

from dataclasses import dataclass

from kraft.storage.record_batch import HEADER_SIZE
from kraft.storage.segment import INT32_MAX


@dataclass(frozen=True)
class LogConfig:
    segment_bytes: int = 1024 * 1024 * 1024  # segment.bytes: roll before a segment passes this
    segment_ms: int | None = 7 * 24 * 3600 * 1000  # segment.ms, by record timestamps; None: never
    index_interval_bytes: int = 4096  # index.interval.bytes: one index entry per this much log
    # flush.messages / flush.ms: fsync after this many records or this long. None
    # (the default, as in Kafka) never fsyncs on append and relies on replication;
    # roll and close always fsync.
    flush_messages: int | None = None
    flush_ms: int | None = None

    def __post_init__(self) -> None:
        # Positions in the offset index are int32, so a segment cannot pass 2 GiB.
        if not HEADER_SIZE <= self.segment_bytes <= INT32_MAX:
            raise ValueError(f"segment_bytes must be in [{HEADER_SIZE}, {INT32_MAX}], got {self.segment_bytes}")
        if self.index_interval_bytes < 0:
            raise ValueError("index_interval_bytes must be >= 0")
        for name in ("segment_ms", "flush_messages", "flush_ms"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 or None")
