"""Parsing REST Proxy v2 consumer request bodies into values, with the API's errors.

Pure apart from reading the image for topic/partition existence. Every mistake is the
caller's 4xx, said precisely.
"""

from __future__ import annotations

import re

import regex

from kraft.groups.assignors import STRATEGIES
from kraft.groups.consumer_instance import FORMATS, ISOLATION_LEVELS, READ_UNCOMMITTED, RESETS, InstanceConfig
from kraft.groups.topic_pattern import PatternTooSlow, TopicPattern
from kraft.config.cluster import GroupSettings
from kraft.config.suggestion import did_you_mean
from kraft.config.topic_names import validate_topic_name
from kraft.errors import BadRequest, InvalidValue, PartitionNotFound, TopicNotFound

NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_DECIMAL = re.compile(r"-?[0-9]+")
MAX_PATTERN = 1000
MAX_METADATA = 4096  # offset.metadata.max.bytes
CREATE_FIELDS = {"name", "format", "auto.offset.reset", "auto.commit.enable", "fetch.min.bytes",
                 "consumer.request.timeout.ms", "session.timeout.ms", "consumer.instance.timeout.ms",
                 "partition.assignment.strategy", "isolation.level"}


def check_name(value: str, what: str) -> str:
    if not NAME.fullmatch(value):
        raise InvalidValue(f"{what} {value[:100]!r} is invalid: use 1-249 ASCII letters, digits, '.', '_' or '-'")
    return value


def _int_setting(body: dict, key: str, default: int, low: int, high: int) -> int:
    raw = body.get(key, default)
    # REST Proxy clients often send configs as strings; ASCII digits only, as int() takes
    # them (str.isdigit() also passes '²', and a stripped "--5" is no number)
    if isinstance(raw, str) and _DECIMAL.fullmatch(raw.strip()):
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise InvalidValue(f'"{key}" must be an integer between {low} and {high}, got {raw!r}')
    return raw


def instance_config(body: dict, settings: GroupSettings) -> tuple[str | None, InstanceConfig]:
    unknown = set(body) - CREATE_FIELDS
    if unknown:
        named = ", ".join(f"{key}{did_you_mean(key, CREATE_FIELDS)}" for key in sorted(unknown))
        raise InvalidValue(f"unknown consumer config(s): {named}; supported: {', '.join(sorted(CREATE_FIELDS))}")
    name = body.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise InvalidValue('"name" must be a string')
        check_name(name, "instance name")
    fmt = body.get("format", "binary")
    if fmt not in FORMATS:
        raise InvalidValue(f'"format" must be one of {", ".join(FORMATS)}, got {fmt!r}')
    reset = body.get("auto.offset.reset", "latest")
    if reset not in RESETS:
        raise InvalidValue(f'"auto.offset.reset" must be one of {", ".join(RESETS)}, got {reset!r}')
    auto_commit = body.get("auto.commit.enable", False)
    if auto_commit in ("true", "false"):
        auto_commit = auto_commit == "true"
    if not isinstance(auto_commit, bool):
        raise InvalidValue(f'"auto.commit.enable" must be true or false, got {auto_commit!r}')
    assignor = body.get("partition.assignment.strategy", "range")
    if assignor not in STRATEGIES:
        raise InvalidValue(f'"partition.assignment.strategy" must be one of {", ".join(STRATEGIES)}, '
                           f"got {assignor!r}")
    isolation = body.get("isolation.level", READ_UNCOMMITTED)
    if isolation not in ISOLATION_LEVELS:
        raise InvalidValue(f'"isolation.level" must be one of {", ".join(ISOLATION_LEVELS)}, got {isolation!r}')
    session = _int_setting(body, "session.timeout.ms", settings.session_timeout_ms, 1000, 1_800_000)
    expiry = _int_setting(body, "consumer.instance.timeout.ms", settings.consumer_instance_timeout_ms,
                          1000, 86_400_000)
    _int_setting(body, "fetch.min.bytes", 1, 0, 64 * 1024 * 1024)  # accepted; a read answers at first data
    _int_setting(body, "consumer.request.timeout.ms", 1000, 0, 60_000)
    return name, InstanceConfig(fmt, reset, auto_commit, session, expiry, assignor, isolation)


def subscription(body: dict, existing: list[str]) -> tuple[frozenset[str], TopicPattern | None]:
    topics, pattern = body.get("topics"), body.get("topic_pattern")
    if set(body) - {"topics", "topic_pattern"}:
        raise InvalidValue('a subscription is {"topics": [...]} or {"topic_pattern": "regex"}')
    if (topics is None) == (pattern is None):
        raise InvalidValue('give exactly one of "topics" (a list) and "topic_pattern" (a regex)')
    if topics is not None:
        if not isinstance(topics, list) or not topics or not all(isinstance(t, str) and t for t in topics):
            raise InvalidValue('"topics" must be a non-empty list of topic names')
        for topic in topics:
            validate_topic_name(topic)
        return frozenset(topics), None
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN:
        raise InvalidValue(f'"topic_pattern" must be a regex of 1-{MAX_PATTERN} characters')
    try:
        compiled = TopicPattern(pattern)
        compiled.matching(existing, strict=True)
    except regex.error as exc:
        raise InvalidValue(f'"topic_pattern" is not a valid regex: {exc}') from None
    except PatternTooSlow as exc:
        raise InvalidValue(str(exc)) from None
    return frozenset(), compiled


def partition_list(body: dict, key: str, image, with_offset: bool = False,
                   allow_missing: bool = False, value: str = "offset") -> list[tuple[str, int, int, str]]:
    """[{"topic", "partition"(, "offset", "metadata")}] -> [(topic, partition, offset, metadata)].
    `value` names the number each item carries with `with_offset` ("timestamp" for a seek by time)."""
    items = body.get(key)
    if items is None and allow_missing:
        return []
    if not isinstance(items, list):
        raise InvalidValue(f'"{key}" must be a list of {{"topic", "partition"{", " + value if with_offset else ""}}}')
    out, seen = [], set()
    for i, item in enumerate(items):
        what = f"{key}[{i}]"
        allowed = {"topic", "partition"} | ({value, "metadata"} if with_offset else set())
        if not isinstance(item, dict) or set(item) - allowed:
            raise InvalidValue(f"{what} must be an object with {', '.join(sorted(allowed))}")
        topic, partition = item.get("topic"), item.get("partition")
        if not isinstance(topic, str) or not topic:
            raise InvalidValue(f"{what}.topic must be a topic name")
        if isinstance(partition, bool) or not isinstance(partition, int):
            raise InvalidValue(f"{what}.partition must be an integer")
        t = image.topic(topic)
        if t is None:
            raise TopicNotFound(f"topic {topic!r} not found")
        if not 0 <= partition < len(t.partitions):
            raise PartitionNotFound(f"partition {partition} not found: topic {topic!r} has partitions "
                                    f"0..{len(t.partitions) - 1}")
        offset, metadata = -1, ""
        if with_offset:
            given = item.get(value)
            if isinstance(given, bool) or not isinstance(given, int):
                raise InvalidValue(f"{what}.{value} must be an integer")
            if not 0 <= given < 2**63:
                raise InvalidValue(f"{what}.{value} must be in [0, 2^63), got {given}")
            offset = given
            metadata = item.get("metadata") or ""
            if not isinstance(metadata, str) or len(metadata) > MAX_METADATA:
                raise InvalidValue(f"{what}.metadata must be a string of at most {MAX_METADATA} characters")
        if (topic, partition) in seen:
            raise InvalidValue(f"{what}: {topic}-{partition} appears twice")
        seen.add((topic, partition))
        out.append((topic, partition, offset, metadata))
    return out


def require_object(body) -> dict:
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(body).__name__}")
    return body
