"""What happens to a consumer group (events) and what the caller must do about it (effects).

Events are requests from members or the passage of time; effects are the answers the
caller sends back (errors are values, never exceptions) and notices it may act on
(log, persist group metadata to the offsets topic, metrics). All frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

TopicPartition = tuple[str, int]


class GroupState(Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


class GroupError(Enum):
    """Kafka's error code, and whose fault it is: "client" (it sent something stale or
    invalid), "coordinator" (retry, maybe on another node) or "none" (a normal signal:
    the member must rejoin)."""

    COORDINATOR_NOT_AVAILABLE = (15, "coordinator")
    NOT_COORDINATOR = (16, "coordinator")
    ILLEGAL_GENERATION = (22, "client")
    INCONSISTENT_GROUP_PROTOCOL = (23, "client")
    UNKNOWN_MEMBER_ID = (25, "client")
    INVALID_SESSION_TIMEOUT = (26, "client")
    REBALANCE_IN_PROGRESS = (27, "none")
    NON_EMPTY_GROUP = (68, "client")
    GROUP_MAX_SIZE_REACHED = (81, "client")  # group.max.size members already
    FENCED_INSTANCE_ID = (82, "client")  # KIP-345: another process took this static member's place

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def fault(self) -> str:
        return self.value[1]


# --- events -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Join:
    """JoinGroup. member_id None (or "") for a new member: the coordinator names it."""
    member_id: str | None
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: tuple[str, ...]  # protocol (assignor) names, most preferred first
    topics: frozenset[str]  # the subscription, when known (consumer protocol); else empty
    now_ms: int
    protocol_type: str = "consumer"  # "connect", ... : a group's members all share one
    metadata: tuple[bytes, ...] = ()  # the member's opaque metadata per protocol, as `protocols`
    group_instance_id: str | None = None  # KIP-345: a static member (module docstring of classic_group)


@dataclass(frozen=True)
class Sync:
    """SyncGroup. In a group whose leader assigns (ClassicGroup(relay=True)) the leader's
    Sync carries `assignments` (member id -> opaque bytes, relayed as sent) and, when the
    caller could read them, `partitions` (what they mean, for views such as lag)."""
    member_id: str
    generation: int
    now_ms: int
    assignments: Mapping[str, bytes] | None = None
    partitions: Mapping[str, tuple[TopicPartition, ...]] = field(default_factory=dict)
    protocol_type: str | None = None  # SyncGroup v5+ names them: they must be the group's
    protocol_name: str | None = None
    group_instance_id: str | None = None


@dataclass(frozen=True)
class Heartbeat:
    member_id: str
    generation: int
    now_ms: int
    group_instance_id: str | None = None


@dataclass(frozen=True)
class Leave:
    """member_id "" with a group_instance_id: that static member (an admin's removal)."""
    member_id: str
    now_ms: int
    group_instance_id: str | None = None


@dataclass(frozen=True)
class Tick:
    """Time passed: expire sessions, the rebalance timeout and the sync timeout."""
    now_ms: int


@dataclass(frozen=True)
class CommitCheck:
    """May this member commit offsets? generation < 0 with an empty group: a standalone
    commit (manual assignment, Kafka's 'group only used to store offsets').
    transactional: a TxnOffsetCommit (KIP-447), checked as Kafka checks it: member and
    generation only, whatever the group's state (no REBALANCE_IN_PROGRESS)."""
    member_id: str
    generation: int
    transactional: bool = False
    group_instance_id: str | None = None


@dataclass(frozen=True)
class TopicsChanged:
    """New partition counts (topic -> count) from the metadata image."""
    partitions: Mapping[str, int]
    now_ms: int


@dataclass(frozen=True)
class DeleteGroup:
    """DeleteGroups: allowed only for an empty group."""


@dataclass(frozen=True)
class Unload:
    """This node stopped being the group's coordinator (offsets partition moved away)."""


# --- effects ----------------------------------------------------------------------------

@dataclass(frozen=True)
class JoinPending:
    """The join is held until the rebalance's join phase ends; a JoinResponse (or an
    ErrorResponse for "join") for this member follows, maybe in the same list."""
    member_id: str


@dataclass(frozen=True)
class JoinResponse:
    member_id: str
    generation: int
    protocol: str
    leader_id: str
    # (member id, subscribed topics) of every member; filled for the leader only, as in Kafka.
    members: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # (member id, its metadata for the chosen protocol) of every member; the leader's only.
    metadata: tuple[tuple[str, bytes], ...] = ()
    protocol_type: str = "consumer"
    # a static leader back in a Stable group: it gets the members but must not assign
    # (KIP-814's skip_assignment; the group keeps its assignment)
    skip_assignment: bool = False


@dataclass(frozen=True)
class SyncPending:
    """A follower's Sync is held until the leader's brings the assignment (relay groups);
    a SyncResponse or an ErrorResponse for "sync" follows."""
    member_id: str


@dataclass(frozen=True)
class SyncResponse:
    member_id: str
    generation: int
    assignment: tuple[TopicPartition, ...]
    member_assignment: bytes = b""  # relay groups: the leader's bytes for this member


@dataclass(frozen=True)
class HeartbeatOk:
    member_id: str


@dataclass(frozen=True)
class MemberReplaced:
    """A static member's new process took the place of `old_member_id` (KIP-345)."""
    old_member_id: str
    new_member_id: str
    group_instance_id: str


@dataclass(frozen=True)
class LeaveOk:
    member_id: str


@dataclass(frozen=True)
class CommitOk:
    member_id: str
    generation: int


@dataclass(frozen=True)
class DeleteOk:
    pass


@dataclass(frozen=True)
class ErrorResponse:
    request: str  # "join", "sync", "heartbeat", "leave", "commit", "delete"
    member_id: str | None
    error: GroupError
    message: str


@dataclass(frozen=True)
class MemberRemoved:
    member_id: str
    reason: str  # "left", "session_timeout", "rebalance_timeout", "sync_timeout"


@dataclass(frozen=True)
class StateChanged:
    old: GroupState
    new: GroupState
    generation: int


@dataclass(frozen=True)
class GenerationStarted:
    """A join phase ended: persist this (Kafka writes the group metadata record here)."""
    generation: int
    protocol: str | None
    leader_id: str | None
    assignment: Mapping[str, tuple[TopicPartition, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class AssignmentReceived:
    """The leader's assignment for this generation (relay groups): persist it (Kafka
    writes the group metadata record with the assignments here)."""
    generation: int
    assignments: Mapping[str, bytes]


Event = Join | Sync | Heartbeat | Leave | Tick | CommitCheck | TopicsChanged | DeleteGroup | Unload
Effect = (JoinPending | JoinResponse | SyncPending | SyncResponse | HeartbeatOk | LeaveOk | CommitOk | DeleteOk
          | ErrorResponse | MemberRemoved | MemberReplaced | StateChanged | GenerationStarted | AssignmentReceived)
