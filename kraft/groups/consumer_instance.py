"""A REST consumer instance (Confluent REST Proxy v2): what it consumes and from where.

It either subscribes (topics or a pattern; the group assigns partitions) or is
assigned partitions by hand — never both, as in Kafka's consumer. `positions` holds
the next offset to fetch per partition it owns; a partition it gained has no position
until the first fetch resolves one (committed offset, else auto.offset.reset). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from kraft.groups.assignors import TopicPartition
from kraft.groups.topic_pattern import TopicPattern

FORMATS = ("json", "binary", "avro", "jsonschema", "protobuf")  # the last three: framed with a registered schema
RESETS = ("earliest", "latest", "none")
READ_UNCOMMITTED, READ_COMMITTED = "read_uncommitted", "read_committed"  # Kafka's isolation.level
ISOLATION_LEVELS = (READ_UNCOMMITTED, READ_COMMITTED)


@dataclass(frozen=True)
class InstanceConfig:
    format: str = "binary"  # Confluent's default
    auto_offset_reset: str = "latest"  # Kafka's default
    auto_commit: bool = False  # off for REST instances: commits are explicit
    session_timeout_ms: int = 45_000
    instance_timeout_ms: int = 300_000  # consumer.instance.timeout.ms
    assignor: str = "range"  # partition.assignment.strategy
    isolation_level: str = READ_UNCOMMITTED  # Kafka's default: aborted records are read too


@dataclass
class ConsumerInstance:
    group: str
    instance_id: str
    config: InstanceConfig
    last_seen_ms: int
    topics: frozenset[str] = frozenset()  # explicit subscription
    pattern: TopicPattern | None = None  # pattern subscription
    manual: tuple[TopicPartition, ...] = ()  # manual assignment
    member_id: str | None = None  # set while it is a member of the group
    generation: int = -1
    assignment: tuple[TopicPartition, ...] = ()  # from the group, when subscribed
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    committed_positions: dict[TopicPartition, int] = field(default_factory=dict)
    # topics it names (subscription or manual assignment) that have existed since it
    # named them: one gone from the metadata now was deleted under it
    seen_topics: frozenset[str] = frozenset()
    # whether the subscriber may see a topic (DESCRIBE): a pattern never matches the
    # others, as a Kafka client's pattern only meets the topics its Metadata shows
    topic_visible: Callable[[str], bool] = field(default=lambda topic: True, repr=False)

    @property
    def subscribed(self) -> bool:
        return bool(self.topics) or self.pattern is not None

    @property
    def owned(self) -> tuple[TopicPartition, ...]:
        """The partitions it fetches from now."""
        return self.manual if self.manual else self.assignment

    def wanted_topics(self, existing: list[str]) -> frozenset[str]:
        """The topics its subscription means against the topics that exist now."""
        if self.pattern is None:
            return self.topics
        return frozenset(t for t in self.pattern.matching(existing) if self.topic_visible(t))

    def named_topics(self) -> frozenset[str]:
        """The topics it asked for by name (a pattern names none)."""
        return self.topics | {t for t, _ in self.manual}

    def note_existing(self, existing: Collection[str]) -> None:
        """Remember which of its named topics exist (now or earlier)."""
        self.seen_topics = (self.seen_topics & self.named_topics()) | (self.named_topics() & set(existing))

    def deleted_topics(self, existing: Collection[str]) -> list[str]:
        """Named topics that existed while it named them and exist no more: a consumer
        subscribed to them reads nothing from them again (Kafka's clients get
        UNKNOWN_TOPIC_OR_PARTITION). A topic not created yet is not one of them."""
        return sorted(t for t in self.seen_topics & self.named_topics() if t not in existing)

    def set_owned(self, partitions: tuple[TopicPartition, ...]) -> None:
        """Keep positions of partitions it still owns; forget the others'."""
        keep = set(partitions)
        self.positions = {tp: pos for tp, pos in self.positions.items() if tp in keep}
        self.committed_positions = {tp: pos for tp, pos in self.committed_positions.items() if tp in keep}

    def uncommitted(self) -> dict[TopicPartition, int]:
        """Positions that moved since the last commit (what an auto-commit writes)."""
        return {tp: pos for tp, pos in self.positions.items() if self.committed_positions.get(tp) != pos}
