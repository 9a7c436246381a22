"""Per-group configs (Kafka's GroupConfig, KIP-932's share-group settings): set with
IncrementalAlterConfigs on resource type GROUP, stored in the metadata log, read by the
group's coordinator and by the leaders of its share-partitions.

A group without its own value takes the broker's (cluster.toml's [groups] table, under
Kafka's broker name); kraft bounds the values as its broker settings are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kraft.config.cluster_tables import GroupSettings


class GroupConfigError(ValueError):
    pass


@dataclass(frozen=True)
class GroupConfigSpec:
    name: str
    broker_default: Callable[[GroupSettings], str]
    check: Callable[[str], str | None]  # the value's problem, None when it is fine
    doc: str
    kind: str = "int"  # as DescribeConfigs types it: int, string, bool


def _int_between(low: int, high: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            number = int(value)
        except ValueError:
            return f"must be an integer, got {value!r}"
        return None if low <= number <= high else f"must be between {low} and {high}, got {number}"
    return check


def _one_of(*allowed: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}, got {value!r}"
    return check


def _dead_letter_topic(value: str) -> str | None:
    if value and (value.startswith("__") or not _TOPIC_NAME.fullmatch(value)):
        return f"must be empty or a topic name not starting with __, got {value!r}"
    return None


_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")

SPECS: dict[str, GroupConfigSpec] = {spec.name: spec for spec in (
    GroupConfigSpec("share.auto.offset.reset", lambda s: "latest", _one_of("latest", "earliest"),
                    "Where a share group starts reading a partition it has not read before.", "string"),
    GroupConfigSpec("share.isolation.level", lambda s: "read_uncommitted", _one_of("read_uncommitted", "read_committed"),
                    "read_committed: share consumers get only committed transactions' records (up to the last "
                    "stable offset; aborted ones are archived).", "string"),
    GroupConfigSpec("share.record.lock.duration.ms", lambda s: str(s.share_record_lock_duration_ms),
                    _int_between(1000, 3_600_000), "How long a share consumer holds a record it acquired."),
    GroupConfigSpec("share.delivery.count.limit", lambda s: str(s.share_delivery_count_limit),
                    _int_between(2, 10), "Deliveries after which a record is archived instead of released."),
    GroupConfigSpec("share.session.timeout.ms", lambda s: str(s.share_session_timeout_ms),
                    _int_between(1000, 1_800_000), "A share member not heard from for this long leaves the group."),
    GroupConfigSpec("share.heartbeat.interval.ms", lambda s: str(s.share_heartbeat_interval_ms),
                    _int_between(100, 1_800_000), "How often share members heartbeat."),
    GroupConfigSpec("errors.deadletterqueue.topic.name", lambda s: "", _dead_letter_topic,
                    "The share group's dead-letter topic (KIP-1191); empty: none.", "string"),
    GroupConfigSpec("errors.deadletterqueue.copy.record.enable", lambda s: "false", _one_of("true", "false"),
                    "Copy a dead letter's key, value and headers, or write the context headers alone.", "bool"),
)}


def checked_changes(changes: Mapping[str, object | None]) -> dict[str, str | None]:
    """The changes as stored (None removes the group's own value); GroupConfigError names
    the first unknown config or bad value."""
    out: dict[str, str | None] = {}
    for name, raw in changes.items():
        spec = SPECS.get(name)
        if spec is None:
            raise GroupConfigError(f"unknown group config {name!r} (known: {', '.join(sorted(SPECS))})")
        if raw is None:
            out[name] = None
            continue
        value = str(raw).strip()
        if spec.kind == "bool":  # read without case, as Kafka's ConfigDef reads a boolean
            value = value.lower()
        if (problem := spec.check(value)) is not None:
            raise GroupConfigError(f"{name}: {problem}")
        out[name] = value
    return out


def effective(own: Mapping[str, str], settings: GroupSettings) -> dict[str, tuple[str, bool]]:
    """Every group config: (value, whether the group set it itself)."""
    return {name: (own[name], True) if name in own else (spec.broker_default(settings), False)
            for name, spec in SPECS.items()}
