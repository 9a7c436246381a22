"""The values a KIP-848 consumer group (consumer_group.py) takes and answers: its
requests (a heartbeat, a classic member's JoinGroup), its answers and refusals, its
members, and a member as a record. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kraft.groups.assignors import TopicPartition
from kraft.groups.reconciliation import MemberState
from kraft.groups.server_assignors import SERVER_ASSIGNORS

LEAVE_EPOCH, LEAVE_STATIC_EPOCH = -1, -2


class ConsumerGroupError(Enum):
    """Kafka's code for each refusal of a consumer group."""

    INVALID_REQUEST = 42
    ILLEGAL_GENERATION = 22
    INCONSISTENT_GROUP_PROTOCOL = 23
    REBALANCE_IN_PROGRESS = 27
    UNKNOWN_MEMBER_ID = 25
    FENCED_INSTANCE_ID = 82
    FENCED_MEMBER_EPOCH = 110
    UNRELEASED_INSTANCE_ID = 111
    GROUP_MAX_SIZE_REACHED = 81
    UNSUPPORTED_ASSIGNOR = 112
    STALE_MEMBER_EPOCH = 113
    INVALID_REGULAR_EXPRESSION = 128

    @property
    def code(self) -> int:
        return self.value


class GroupState(Enum):
    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"


@dataclass(frozen=True)
class Refusal:
    error: ConsumerGroupError
    message: str


@dataclass(frozen=True)
class GroupConfig:
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 5_000
    assignors: tuple[str, ...] = SERVER_ASSIGNORS  # the first is the default
    max_size: int = 2**31 - 1  # group.consumer.max.size (Kafka's default: no limit)


@dataclass(frozen=True)
class Heartbeat:
    """A ConsumerGroupHeartbeat, topics by name. None fields: unchanged since the last one."""
    member_id: str
    member_epoch: int
    now_ms: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    topic_names: tuple[str, ...] | None = None
    topic_regex: str | None = None
    assignor: str | None = None
    owned: frozenset[TopicPartition] | None = None
    client_id: str = ""
    client_host: str = ""
    # whether the member's principal may see a topic (DESCRIBE); None: anyone may
    topic_visible: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class Answer:
    member_id: str
    member_epoch: int
    heartbeat_interval_ms: int
    assignment: frozenset[TopicPartition] | None  # None: not sent (unchanged)


@dataclass(frozen=True)
class ClassicProtocol:
    """What a classic member joined with (JoinGroup): kept to answer and describe it, and
    to hand it back to a classic group if the group converts back."""
    session_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]  # (assignor name, subscription bytes), preferred first

    @property
    def protocol_name(self) -> str:
        return self.protocols[0][0] if self.protocols else ""


@dataclass(frozen=True)
class ClassicJoin:
    """A JoinGroup of the consumer protocol into a consumer group. owned: the partitions
    its subscription names as owned (empty for an eager client)."""
    member_id: str | None
    now_ms: int
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]
    topics: frozenset[str]
    owned: frozenset[TopicPartition] = frozenset()
    instance_id: str | None = None
    client_id: str = ""
    client_host: str = ""


@dataclass(frozen=True)
class ClassicJoined:
    member_id: str
    generation: int  # the member's epoch
    protocol_name: str


@dataclass
class Member:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    topic_names: tuple[str, ...] = ()
    topic_regex: str | None = None
    assignor: str | None = None
    rebalance_timeout_ms: int = 300_000
    epoch: int = 0
    previous_epoch: int = -1
    state: MemberState = MemberState.STABLE
    assigned: frozenset[TopicPartition] = frozenset()
    pending_revocation: frozenset[TopicPartition] = frozenset()
    left_static: bool = False  # left with epoch -2: kept for its instance's return
    # The partitions last sent to it: its reports of what it owns count only once they
    # match them (before, it may still be applying an earlier assignment).
    last_sent: frozenset[TopicPartition] = frozenset()
    last_seen_ms: int = 0
    revoke_by_ms: int = 0  # set while partitions wait for its revocation
    classic: ClassicProtocol | None = None  # a JoinGroup client's member
    rejoin_by_ms: int = 0  # a classic member told to rejoin: removed if it has not by then
    # from its latest heartbeat (kept in memory only): its regex never resolves to a topic
    # its principal may not DESCRIBE, as Kafka's coordinator resolves regexes
    topic_visible: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)

    def owns(self) -> frozenset[TopicPartition]:
        return self.assigned | self.pending_revocation



def partitions_of(items: Iterable[Sequence[Any]]) -> frozenset[TopicPartition]:
    """(topic, partition) pairs as a record holds them (JSON lists)."""
    return frozenset((str(t), int(p)) for t, p in items)


def member_record(m: Member) -> dict[str, Any]:
    return {"member_id": m.member_id, "instance_id": m.instance_id, "rack_id": m.rack_id,
            "client_id": m.client_id, "client_host": m.client_host, "topic_names": list(m.topic_names),
            "topic_regex": m.topic_regex, "assignor": m.assignor, "rebalance_timeout_ms": m.rebalance_timeout_ms,
            "epoch": m.epoch, "previous_epoch": m.previous_epoch, "state": m.state.value,
            "assigned": sorted(m.assigned), "pending_revocation": sorted(m.pending_revocation),
            "left_static": m.left_static, "last_sent": sorted(m.last_sent),
            "classic": None if m.classic is None else {
                "session_timeout_ms": m.classic.session_timeout_ms,
                "protocols": [[name, metadata.hex()] for name, metadata in m.classic.protocols]}}


def member_from_record(f: dict[str, Any]) -> Member:
    return Member(member_id=str(f["member_id"]), instance_id=f.get("instance_id"), rack_id=f.get("rack_id"),
                  client_id=str(f.get("client_id", "")), client_host=str(f.get("client_host", "")),
                  topic_names=tuple(f.get("topic_names", ())), topic_regex=f.get("topic_regex"),
                  assignor=f.get("assignor"), rebalance_timeout_ms=int(f.get("rebalance_timeout_ms", 300_000)),
                  epoch=int(f["epoch"]), previous_epoch=int(f.get("previous_epoch", -1)),
                  state=MemberState(f.get("state", MemberState.STABLE.value)),
                  assigned=partitions_of(f.get("assigned", ())),
                  pending_revocation=partitions_of(f.get("pending_revocation", ())),
                  left_static=bool(f.get("left_static", False)),
                  last_sent=partitions_of(f.get("last_sent", f.get("assigned", ()))),
                  classic=_classic_from(f.get("classic")))


def _classic_from(f: dict[str, Any] | None) -> ClassicProtocol | None:
    if not f:
        return None
    return ClassicProtocol(int(f["session_timeout_ms"]),
                           tuple((str(name), bytes.fromhex(data)) for name, data in f.get("protocols", ())))
