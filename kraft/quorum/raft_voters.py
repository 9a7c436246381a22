"""The controller quorum's voter set: how it is written in the Raft log, read back, and
which changes are allowed (part of the pysyncobj adapter; pure, no library state).

pysyncobj changes its membership one server at a time, by a MEMBERSHIP entry that
takes effect when a node appends it (Raft's single-server change: a node uses the
latest configuration in its log, committed or not, and goes back when the entry is
truncated). Its entries name only an address; kraft's carry the node id and the whole
voter set after the change, so any point of the log says who votes without knowing
where the log began. The library itself takes the configuration from the constructor
(cluster.toml) and, at a restart, moves it only as far as the entries it re-applies up
to its stored commit index; the adapter instead computes the set from the snapshot
and every entry of the journal (`voters_in_log`).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MEMBERSHIP = 2  # pysyncobj's _COMMAND_TYPE.MEMBERSHIP: the first byte of such an entry
ADD, REMOVE = "add", "rem"  # the library's request names

Voters = Mapping[int, str]  # node id -> Raft "host:port"


@dataclass(frozen=True)
class VoterChange:
    kind: str  # ADD or REMOVE
    node_id: int
    address: str
    voters_after: dict[int, str]


def membership_command(change: VoterChange) -> bytes:
    """A MEMBERSHIP entry the library applies by its first three fields (kind, node,
    node), with kraft's node id and resulting voter set after them."""
    request = [change.kind, change.address, change.address, change.node_id, dict(change.voters_after)]
    return bytes([MEMBERSHIP]) + pickle.dumps(request, protocol=2)


def parse_membership(command: bytes) -> VoterChange | None:
    """The change a journal entry makes, None for any other entry."""
    if not command or command[0] != MEMBERSHIP:
        return None
    # written by a controller of this cluster (Raft frames are authenticated)
    return change_of(pickle.loads(command[1:]))


def change_of(request: object) -> VoterChange | None:
    """The change of a MEMBERSHIP request as the library hands it over (unpickled)."""
    if not isinstance(request, list) or len(request) < 5:
        return None  # not one kraft wrote; the library's own form never reaches this log
    kind, address, _, node_id, after = request[:5]
    return VoterChange(kind, int(node_id), str(address), {int(k): str(v) for k, v in after.items()})


def voters_in_log(base: Voters, commands: Iterable[bytes]) -> dict[int, str]:
    """The voter set after `commands` (a journal's entries in order), starting from
    `base` (the snapshot's set, or the bootstrap set of a log that never changed)."""
    voters = dict(base)
    for command in commands:
        change = parse_membership(command)
        if change is not None:
            voters = dict(change.voters_after)
    return voters


def reverse(change: VoterChange, voters: Voters) -> dict[int, str]:
    """The set before `change`, from the set after it (a truncated entry is undone)."""
    before = dict(voters)
    if change.kind == ADD:
        before.pop(change.node_id, None)
    else:
        before[change.node_id] = change.address
    return before


class VoterChangeProblem(Exception):
    """Why a change is refused; `kind` picks the error class the controller raises."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "duplicate", "not_found", "unsafe", "not_observer", "bad_address"
        self.message = message


def plan_add(voters: Voters, node_id: int, address: str | None, caught_up: set[int]) -> VoterChange:
    """Adding `node_id` (connected to the leader as an observer at `address`, or None
    when it is not). `caught_up`: the voters, and observers, whose log holds what the
    leader has committed and that answered it lately (the leader among them)."""
    if node_id in voters:
        raise VoterChangeProblem("duplicate", f"node {node_id} is already a voter ({_named(voters)})")
    if address is None:
        raise VoterChangeProblem("not_observer", (
            f"node {node_id} is not connected to the active controller as an observer: start it "
            "with the controllers in its cluster.toml (a fresh data dir joins as an observer) first"))
    taken = next((nid for nid, addr in voters.items() if addr == address), None)
    if taken is not None:
        raise VoterChangeProblem("bad_address", f"voter {taken} already uses the Raft address {address}")
    after = {**voters, node_id: address}
    _keeps_majority(after, caught_up, f"adding node {node_id}")
    return VoterChange(ADD, node_id, address, after)


def plan_remove(voters: Voters, node_id: int, caught_up: set[int]) -> VoterChange:
    if node_id not in voters:
        raise VoterChangeProblem("not_found", f"node {node_id} is not a voter ({_named(voters)})")
    if len(voters) == 1:
        raise VoterChangeProblem("unsafe", f"node {node_id} is the only voter; a quorum needs one")
    after = {nid: addr for nid, addr in voters.items() if nid != node_id}
    _keeps_majority(after, caught_up, f"removing node {node_id}")
    return VoterChange(REMOVE, node_id, voters[node_id], after)


def _keeps_majority(after: Voters, caught_up: set[int], what: str) -> None:
    """The new set takes effect at once and commits its own entry: a majority of it
    must already be up and caught up, or the quorum stops until the others return."""
    live = sorted(set(after) & caught_up)
    needed = len(after) // 2 + 1
    if len(live) < needed:
        raise VoterChangeProblem("unsafe", (
            f"{what} would leave voters {_ids(after)}, of which {_ids(live) or 'none'} "
            f"{'is' if len(live) == 1 else 'are'} up and caught up; the quorum needs {needed} "
            "and would stop: bring voters back (or let the new one catch up) first"))


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids))


def _named(voters: Voters) -> str:
    return "voters: " + (_ids(voters) or "none")
