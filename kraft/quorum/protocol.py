"""The metadata quorum interface, and errors shared by its implementations.

Two implementations: `raft_quorum.RaftQuorum` (pysyncobj, real nodes) and
`memory_quorum.MemoryQuorum` (one shared in-memory log, for tests and simulation).
The controller and the HTTP layer only see this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from kraft.metadata.state_machine import ApplyResult, MetadataStateMachine


class QuorumError(Exception):
    """A proposal that failed; retriable. Certainly not in the log, unless it is a
    ProposalOutcomeUnknown."""


class NotLeaderError(QuorumError):
    pass


class ProposalOutcomeUnknown(QuorumError):
    """The proposal reached the log and may still commit (or already has)."""


class ProposalTimeout(ProposalOutcomeUnknown):
    """The proposal may still commit later; request ids make a retry safe."""


@dataclass(frozen=True)
class VoterStatus:
    node_id: int
    log_end_offset: int
    lag: int
    last_caught_up_ms: int  # wall clock ms, -1 when unknown


@dataclass(frozen=True)
class QuorumStatus:
    node_id: int
    leader_id: int | None
    term: int
    commit_index: int
    last_applied: int
    is_leader: bool
    has_quorum: bool
    voters: tuple[VoterStatus, ...] = field(default=())
    elected_ms: int = -1  # wall clock ms this node became the leader; -1 unless it leads
    # Raft observers (controllers not in the voter set) the leader sends its log to
    observers: tuple[VoterStatus, ...] = field(default=())
    is_voter: bool = True  # this node is in the voter set
    voter_change_pending: bool = False  # a voter change is in the log, not yet applied


class Quorum(Protocol):
    node_id: int
    state_machine: MetadataStateMachine

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def is_leader(self) -> bool: ...

    def leader_id(self) -> int | None: ...

    def term(self) -> int: ...

    def status(self) -> QuorumStatus: ...

    def peer_problems(self) -> list[str]:
        """Why peers may be missing from the quorum (e.g. frames failing authentication)."""
        ...

    async def propose(self, batch_json: str, timeout_s: float) -> ApplyResult: ...

    def add_apply_listener(self, callback: Callable[[], object]) -> None:
        """callback() runs on the asyncio loop after batches were applied."""

    def is_voter(self) -> bool:
        """This node is in the voter set (else it follows as an observer)."""
        ...

    def voters(self) -> dict[int, str]:
        """node id -> Raft address of each voter, as this node's log says."""
        ...

    def fresh(self) -> bool:
        """No Raft state on disk yet (see RaftQuorum.set_bootstrap_voters)."""
        ...

    def set_bootstrap_voters(self, voters: dict[int, str], catch_up_first: bool = False) -> None: ...

    def allow_hosts(self, hosts: set[str]) -> None:
        """Also accept quorum connections from these hosts."""
        ...

    async def change_voters(self, kind: str, node_id: int, timeout_s: float) -> dict[int, str]:
        """On the leader: add ("add") or remove ("rem") one voter; the new set once
        committed. Raises raft_voters.VoterChangeProblem when refused."""
        ...
