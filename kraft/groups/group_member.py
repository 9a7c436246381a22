"""A group member as its coordinator sees it, the members' protocol negotiation, and the
coordinator's limits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GroupConfig:
    min_session_timeout_ms: int = 1_000  # group.min.session.timeout.ms
    max_session_timeout_ms: int = 1_800_000  # group.max.session.timeout.ms
    # group.initial.rebalance.delay.ms: how long an Empty group's first join phase waits
    # for more members (0: it ends as soon as every member has joined)
    initial_rebalance_delay_ms: int = 0
    max_size: int = 2**31 - 1  # group.max.size: members a group takes (Kafka's default: no limit)


@dataclass
class Member:
    """Mutable bookkeeping, owned by one ClassicGroup."""

    member_id: str
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: tuple[str, ...]
    topics: frozenset[str]
    last_heartbeat_ms: int
    protocol_type: str = "consumer"
    metadata: dict[str, bytes] = field(default_factory=dict)  # protocol name -> opaque metadata
    awaiting_join: bool = True  # has (re)joined in the current join phase
    synced: bool = False  # has synced in the current generation
    assignment: bytes = b""  # relay groups: what the leader gave it this generation
    group_instance_id: str | None = None  # a static member's id (KIP-345)
    # A member handed over by a consumer group converting back (KIP-848): the epoch it
    # had there counts as its generation until the rebalance it must rejoin for ends.
    carried_generation: int | None = None


def next_initial_delay(delay_ms: int, remaining_ms: int) -> tuple[int, int]:
    """A member joined during one wait of an Empty group's join phase: (the next wait,
    what remains after it), for the configured delay `delay_ms`. The first wait is the
    delay with the rebalance timeout less the delay remaining, so the phase lasts at most
    the rebalance timeout (or one delay, when that is longer), as in Kafka."""
    return min(delay_ms, remaining_ms), max(remaining_ms - delay_ms, 0)


def common_protocols(members: Iterable[Member]) -> set[str] | None:
    """The protocols every one of `members` supports; None when there are no members."""
    supported = [set(m.protocols) for m in members]
    return set.intersection(*supported) if supported else None


def select_protocol(members: Iterable[Member]) -> str:
    """Each member votes for its most preferred protocol among those all support; the most
    votes wins, ties by name. The coordinator keeps the common set non-empty on join."""
    members = list(members)
    common = common_protocols(members) or set()
    votes = dict.fromkeys(sorted(common), 0)
    for m in members:
        votes[next(p for p in m.protocols if p in common)] += 1
    return min(votes, key=lambda p: (-votes[p], p))
