"""Topic-level configs as Kafka names them: types, defaults, validation.

Pure: no I/O. Configs live in metadata as canonical strings (like Kafka), so
every value that enters the system goes through `parse_config_value` once and
code that needs the typed value calls `typed_value`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from kraft.config.iceberg_mode_text import mode_problem
from kraft.config.iceberg_spec_text import spec_problem
from kraft.config.suggestion import did_you_mean

INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
_TYPE_MAX = {"int": INT_MAX, "long": LONG_MAX}
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")  # int() alone would also take "1_000"

ConfigKind = Literal["int", "long", "double", "bool", "string", "list"]


class ConfigError(ValueError):
    """A config name or value that Kafka would reject."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class Validator(Protocol):
    @property
    def expectation(self) -> str: ...  # completes "must be ..." in error messages

    def accepts(self, value: int | float | bool | str) -> bool: ...


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int

    @property
    def expectation(self) -> str:
        if self.high in (INT_MAX, LONG_MAX):
            return f"an integer >= {self.low}"
        return f"an integer between {self.low} and {self.high}"

    def accepts(self, value: int | float | bool | str) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


@dataclass(frozen=True)
class DoubleRange:
    low: float
    high: float

    @property
    def expectation(self) -> str:
        return f"a number between {self.low} and {self.high}"

    def accepts(self, value: int | float | bool | str) -> bool:
        return isinstance(value, float) and self.low <= value <= self.high


@dataclass(frozen=True)
class AnyBool:
    expectation: str = "true or false"

    def accepts(self, value: int | float | bool | str) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class OneOf:
    choices: tuple[str, ...]

    @property
    def expectation(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def accepts(self, value: int | float | bool | str) -> bool:
        return value in self.choices


@dataclass(frozen=True)
class Matches:
    """A string in a fixed form (Kafka's throttled-replica lists)."""

    pattern: str
    description: str

    @property
    def expectation(self) -> str:
        return self.description

    def accepts(self, value: int | float | bool | str) -> bool:
        return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class ConfigSpec:
    name: str
    kind: ConfigKind
    default: str  # canonical string form, as stored in metadata
    doc: str
    validator: Validator
    applied: bool = True  # False: accepted and stored for Kafka tools, without effect in kraft


def _int(name: str, default: int, low: int, doc: str, kind: ConfigKind = "int") -> ConfigSpec:
    return ConfigSpec(name, kind, str(default), doc, IntRange(low, _TYPE_MAX[kind]))


def _long(name: str, default: int, low: int, doc: str) -> ConfigSpec:
    return _int(name, default, low, doc, kind="long")


def _stored(spec: ConfigSpec) -> ConfigSpec:
    return dataclasses.replace(spec, applied=False)


# "" (none), "*" (all), or partition:broker pairs, as Kafka's throttled-replica lists
_THROTTLED = Matches(r"|\*|[0-9]+:[0-9]+(,[0-9]+:[0-9]+)*",
                     '"", "*" or a list of partition:broker pairs such as "0:1,1:2"')


# Confluent's subject name strategies by class name (the default first), and by short name
_STRATEGY_PACKAGE = "io.confluent.kafka.serializers.subject."
_STRATEGY_NAMES = ("TopicNameStrategy", "RecordNameStrategy", "TopicRecordNameStrategy")
SUBJECT_NAME_STRATEGIES = tuple(_STRATEGY_PACKAGE + n for n in _STRATEGY_NAMES) + _STRATEGY_NAMES


@dataclass(frozen=True)
class CheckedText:
    """A string its own parser checks (`problem`: what is wrong with it, None when nothing)."""

    expectation: str
    problem: Callable[[str], str | None]

    def accepts(self, value: int | float | bool | str) -> bool:
        return isinstance(value, str) and self.problem(value) is None


# Iceberg topics' texts, Redpanda's forms (kraft/config/iceberg_spec_text.py, iceberg_mode_text.py)
ICEBERG_PARTITION_SPEC = CheckedText('a partition spec such as "(hour(kafka.timestamp))" or "()": a list of columns '
                                     "and hour/day/month/year/bucket(N, col)/truncate(N, col) of them", spec_problem)
ICEBERG_MODE = CheckedText("disabled, key_value, value_schema_id_prefix or value_schema_latest "
                           "(value_schema_latest:subject=<subject>,protobuf_name=<message> to choose them)",
                           mode_problem)

_SPECS = (
    _int("num.partitions", 3, 1, "Partitions of a topic created without a count (cluster default only)."),
    _int("replication.factor", 3, 1, "Replicas of a topic created without a factor (cluster default only)."),
    _int("min.insync.replicas", 2, 1, "In-sync replicas an acks=all produce needs to succeed."),
    ConfigSpec("unclean.leader.election.enable", "bool", "false",
               "Elect an out-of-sync replica when no ISR member is alive (may lose data).", AnyBool()),
    _long("retention.ms", 604800000, -1, "Delete segments older than this; -1 keeps them forever."),
    _long("retention.bytes", -1, -1, "Delete old segments beyond this partition size; -1 means no limit."),
    _int("segment.bytes", 134217728, 14, "Roll a new segment once the active one reaches this size."),
    _long("segment.ms", 604800000, 1, "Roll a new segment once the active one is this old."),
    _int("max.message.bytes", 1048576, 0, "Largest record batch a produce may append."),
    ConfigSpec("cleanup.policy", "list", "delete", "How old segments go: delete, compact, or both.",
               OneOf(("delete", "compact", "compact,delete"))),
    _long("delete.retention.ms", 86400000, 0,
          "Compacted topics: keep a tombstone this long after its segment was written."),
    ConfigSpec("min.cleanable.dirty.ratio", "double", "0.5",
               "Compacted topics: clean once this share of the cleanable log is not yet cleaned.",
               DoubleRange(0.0, 1.0)),
    _long("flush.messages", LONG_MAX, 1, "fsync the log after this many messages."),
    _long("flush.ms", LONG_MAX, 0, "fsync the log after this many milliseconds."),
    ConfigSpec("message.timestamp.type", "string", "CreateTime",
               "Record timestamps come from the producer (CreateTime) or the broker (LogAppendTime).",
               OneOf(("CreateTime", "LogAppendTime"))),
    _int("index.interval.bytes", 4096, 0, "Bytes of log between two entries of the offset index."),
    # Kafka's other topic configs: checked as Kafka checks them and stored (tools that set
    # them keep working), with no effect in kraft; docs/API.md lists them.
    ConfigSpec("compression.type", "string", "producer",
               "Codec of stored batches: producer keeps each batch as the producer sent it; a codec "
               "name recompresses to it; uncompressed stores batches opened.",
               OneOf(("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"))),
    _stored(_long("file.delete.delay.ms", 60000, 0, "Delay before a deleted segment's file goes.")),
    _stored(ConfigSpec("follower.replication.throttled.replicas", "string", "",
                       "Replicas whose follower fetches are throttled.", _THROTTLED)),
    _stored(ConfigSpec("leader.replication.throttled.replicas", "string", "",
                       "Replicas whose leader side is throttled.", _THROTTLED)),
    _stored(_long("local.retention.bytes", -2, -2, "Tiered storage: local size kept (-2: retention.bytes).")),
    _stored(_long("local.retention.ms", -2, -2, "Tiered storage: local time kept (-2: retention.ms).")),
    _stored(_long("max.compaction.lag.ms", LONG_MAX, 1, "Longest a record stays uncompacted.")),
    _stored(ConfigSpec("message.downconversion.enable", "bool", "true",
                       "Down-convert batches for old consumers.", AnyBool())),
    _stored(_long("message.timestamp.after.max.ms", LONG_MAX, 0,
                  "Largest allowed lead of a record's timestamp over the broker's time.")),
    _stored(_long("message.timestamp.before.max.ms", LONG_MAX, 0,
                  "Largest allowed lag of a record's timestamp behind the broker's time.")),
    _stored(_long("min.compaction.lag.ms", 0, 0, "Shortest a record stays uncompacted.")),
    _stored(ConfigSpec("preallocate", "bool", "false", "Preallocate segment files.", AnyBool())),
    _stored(ConfigSpec("remote.storage.enable", "bool", "false", "Tiered storage for the topic.", AnyBool())),
    _stored(_int("segment.index.bytes", 10485760, 4, "Largest size of a segment's offset index.")),
    _stored(_long("segment.jitter.ms", 0, 0, "Random jitter subtracted from segment.ms.")),
    # Iceberg topics (docs/ICEBERG.md), Redpanda's names
    ConfigSpec("iceberg.mode", "string", "disabled",
               "Keep the topic also as an Iceberg table: disabled; key_value (the record's metadata, "
               "key and value as columns); value_schema_id_prefix (the value's columns from the "
               "registry schema its framing names); value_schema_latest (from the latest schema of "
               "<topic>-value, values unframed; value_schema_latest:subject=<subject>,protobuf_name=<message> "
               "chooses another subject and the Protobuf message).", ICEBERG_MODE),
    _long("iceberg.target.lag.ms", 10000, 1000,
          "Iceberg topics: how far the table may lag behind the committed records."),
    ConfigSpec("iceberg.partition.spec", "string", "(hour(kafka.timestamp))",
               "Iceberg topics: how the table is partitioned.", ICEBERG_PARTITION_SPEC),
    ConfigSpec("iceberg.delete", "bool", "true",
               "Iceberg topics: delete the table with the topic (false: the table stays in the "
               "catalog, read-only, with its files).", AnyBool()),
    # KIP-1191: a share group may write its dead letters here only when the topic allows it
    ConfigSpec("errors.deadletterqueue.group.enable", "bool", "false",
               "Let share groups use this topic as their dead-letter topic.", AnyBool()),
    # Confluent Server's schema ID validation (kraft/broker/schema_ids.py)
    ConfigSpec("confluent.key.schema.validation", "bool", "false",
               "Refuse a batch whose keys lack Confluent's framing or a schema id registered "
               "under the key subject.", AnyBool()),
    ConfigSpec("confluent.value.schema.validation", "bool", "false",
               "Refuse a batch whose values lack Confluent's framing or a schema id registered "
               "under the value subject.", AnyBool()),
    ConfigSpec("confluent.key.subject.name.strategy", "string", SUBJECT_NAME_STRATEGIES[0],
               "How a key's subject is named for confluent.key.schema.validation.",
               OneOf(SUBJECT_NAME_STRATEGIES)),
    ConfigSpec("confluent.value.subject.name.strategy", "string", SUBJECT_NAME_STRATEGIES[0],
               "How a value's subject is named for confluent.value.schema.validation.",
               OneOf(SUBJECT_NAME_STRATEGIES)),
)

TOPIC_CONFIGS: dict[str, ConfigSpec] = {spec.name: spec for spec in _SPECS}
DEFAULT_TOPIC_CONFIGS: dict[str, str] = {spec.name: spec.default for spec in _SPECS}
CLUSTER_ONLY = frozenset({"num.partitions", "replication.factor"})


def topic_default(defaults: dict[str, str], name: str) -> str:
    """cluster.toml's [topic_defaults] value of `name`, else Kafka's default."""
    return defaults.get(name, DEFAULT_TOPIC_CONFIGS[name])


def _spec_for(name: str) -> ConfigSpec:
    spec = TOPIC_CONFIGS.get(name)
    if spec is None:
        raise ConfigError(name, f"unknown topic config{did_you_mean(name, TOPIC_CONFIGS)}")
    return spec


def _short_repr(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _to_typed(spec: ConfigSpec, raw: object) -> int | float | bool | str | None:
    """The raw value as the spec's Python type, or None when it has the wrong shape."""
    if spec.kind in ("int", "long"):
        if isinstance(raw, bool):  # bool is an int subclass; True is not 1 here
            return None
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and _INTEGER_TEXT.fullmatch(raw.strip()):
            return int(raw.strip())
        return None
    if spec.kind == "double":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            return None
        try:
            value = float(raw)
        except ValueError:
            return None
        return None if math.isnan(value) else value
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        return None
    if spec.kind == "list":
        # TOML may give an array; Kafka's form is comma-separated. Sorted so that
        # "delete,compact" and "compact,delete" store the same string.
        items = raw if isinstance(raw, (list, tuple)) else raw.split(",") if isinstance(raw, str) else None
        if items is None or not all(isinstance(item, str) for item in items):
            return None
        return ",".join(sorted({item.strip() for item in items}))
    return raw.strip() if isinstance(raw, str) else None


def parse_config_value(name: str, raw: object) -> str:
    """Validate a value from TOML or JSON and return Kafka's canonical string."""
    return parse_with_spec(_spec_for(name), raw)


def parse_with_spec(spec: ConfigSpec, raw: object) -> str:
    """A value checked against `spec` (a topic config's or another config's), as Kafka's
    canonical string; ConfigError when it does not fit."""
    name = spec.name
    value = _to_typed(spec, raw)
    if value is None or not spec.validator.accepts(value):
        expectation = spec.validator.expectation
        limits = spec.validator
        if isinstance(limits, IntRange) and isinstance(value, int) and value > limits.high:
            expectation = f"an integer between {limits.low} and {limits.high}"
        raise ConfigError(name, f"must be {expectation}, got {_short_repr(raw)}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_topic_override(name: str, raw: object) -> str:
    """Like parse_config_value, for a single topic's configs (cluster-only names refused)."""
    if name in CLUSTER_ONLY:
        field = "partitions_count" if name == "num.partitions" else "replication_factor"
        raise ConfigError(name, f"is a cluster default, not a topic config; set {field} when creating the topic")
    return parse_config_value(name, raw)


def typed_value(name: str, value: str) -> int | float | bool | str:
    """The stored string as int (int/long), float (double), bool, or str (string/list)."""
    spec = _spec_for(name)
    canonical = parse_config_value(name, value)
    if spec.kind in ("int", "long"):
        return int(canonical)
    if spec.kind == "double":
        return float(canonical)
    if spec.kind == "bool":
        return canonical == "true"
    return canonical
