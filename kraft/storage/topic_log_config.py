"""Topic configs (Kafka names, string values) -> the log's settings."""

from __future__ import annotations

from kraft.storage.log_config import LogConfig

_NEVER = 2**63 - 1  # Kafka's default flush.messages / flush.ms: rely on replication


def log_config_for(configs: dict[str, str]) -> LogConfig:
    flush_messages = int(configs.get("flush.messages", _NEVER))
    flush_ms = int(configs.get("flush.ms", _NEVER))
    segment_ms = int(configs.get("segment.ms", 604800000))
    return LogConfig(
        segment_bytes=min(int(configs.get("segment.bytes", 1 << 30)), 2**31 - 1),
        segment_ms=segment_ms,
        flush_messages=None if flush_messages >= _NEVER else flush_messages,
        flush_ms=None if flush_ms >= _NEVER else flush_ms,
        index_interval_bytes=int(configs.get("index.interval.bytes", 4096)),
    )
