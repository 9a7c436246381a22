"""An in-memory metadata quorum: one shared committed log, for tests and simulation.

`MemoryRaft` is the whole "cluster": a committed log, a term and a leader that the
test changes at will. Each `MemoryQuorum` is one node's seat with its own state
machine, which applies the shared log up to where that node has caught up — so a
test can hold a node back, depose a leader mid-proposal, and watch stale proposals
get rejected at apply time exactly as they are on pysyncobj.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kraft.quorum.raft_voters import VoterChangeProblem
from kraft.quorum.protocol import NotLeaderError, QuorumStatus, VoterStatus
from kraft.metadata.state_machine import ApplyResult, MetadataStateMachine


class MemoryRaft:
    def __init__(self, voter_ids: Iterable[int]) -> None:
        self.voter_ids = tuple(sorted(voter_ids))
        self.log: list[str] = []
        self.term = 0
        self.leader: int | None = None
        self.seats: dict[int, MemoryQuorum] = {}

    def elect(self, node_id: int | None) -> None:
        """A new term; node_id leads it (None: no leader during this term)."""
        self.term += 1
        self.leader = node_id

    def append(self, batch_json: str) -> int:
        """Commit an entry (as pysyncobj does for a command forwarded to the leader)."""
        self.log.append(batch_json)
        return len(self.log)

    def seat(self, node_id: int) -> "MemoryQuorum":
        quorum = MemoryQuorum(node_id, self)
        self.seats[node_id] = quorum
        return quorum


class MemoryQuorum:
    def __init__(self, node_id: int, raft: MemoryRaft):
        self.node_id = node_id
        self.state_machine = MetadataStateMachine()
        self._raft = raft
        self.applied = 0  # how much of the shared log this seat has applied
        self._results: dict[int, ApplyResult] = {}
        self._listeners: list[Callable[[], object]] = []

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def catch_up(self, upto: int | None = None) -> None:
        end = len(self._raft.log) if upto is None else min(upto, len(self._raft.log))
        while self.applied < end:
            result = self.state_machine.apply(self._raft.log[self.applied])
            self.applied += 1
            self._results[self.applied] = result
        for callback in self._listeners:
            callback()

    def is_leader(self) -> bool:
        return self._raft.leader == self.node_id

    def leader_id(self) -> int | None:
        return self._raft.leader

    def peer_problems(self) -> list[str]:
        return []

    def term(self) -> int:
        return self._raft.term

    def status(self) -> QuorumStatus:
        commit = len(self._raft.log)
        voters = tuple(
            VoterStatus(nid, seat.applied, commit - seat.applied, -1)
            for nid, seat in sorted(self._raft.seats.items())
        )
        return QuorumStatus(self.node_id, self._raft.leader, self._raft.term, commit,
                            self.applied, self.is_leader(), self._raft.leader is not None, voters)

    def propose_sync(self, batch_json: str) -> ApplyResult:
        index = self._raft.append(batch_json)
        self.catch_up(index)
        return self._results.pop(index)

    async def propose(self, batch_json: str, timeout_s: float) -> ApplyResult:
        if not self.is_leader():
            raise NotLeaderError("this node is not the active controller")
        return self.propose_sync(batch_json)

    def add_apply_listener(self, callback: Callable[[], object]) -> None:
        self._listeners.append(callback)

    def is_voter(self) -> bool:
        return self.node_id in self._raft.seats

    def voters(self) -> dict[int, str]:
        return {nid: f"memory:{nid}" for nid in self._raft.seats}

    def fresh(self) -> bool:
        return False

    def set_bootstrap_voters(self, voters: dict[int, str], catch_up_first: bool = False) -> None:
        pass

    def allow_hosts(self, hosts: set[str]) -> None:
        pass

    async def change_voters(self, kind: str, node_id: int, timeout_s: float) -> dict[int, str]:
        raise VoterChangeProblem("unsafe", "this in-memory quorum's voters are fixed")
