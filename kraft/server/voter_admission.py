"""Whether a restarting controller is still a voter of the quorum it belongs to (pure).

A controller removed with `kraft quorum remove-voter` while it was down still finds
itself a voter in its own Raft state when it comes back. The voters refuse its
connections, so it would wait for ever for a leader it never hears, and a service
manager would restart it again and again. At start it asks the other controllers for
their voter set (kraft/server/node.py); this module decides from their answers whether
they prove it was removed, so the node can say so and exit.

Only proof counts, never a guess: an answer is taken as proof when it comes from the
active controller itself (its log holds every committed change), or when a majority of
one voter set, each of them a member, report that same set without the node. A change
that put the node back would, once committed, be in the logs of a majority of a set
that includes it, and such a majority always overlaps every majority of the set without
it, so a re-added node is never turned away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class VoterAnswer:
    """One controller's answer: who answered, its voter set, the leader it follows."""

    node_id: int
    voters: frozenset[int]
    leader_id: int | None

    @classmethod
    def of(cls, node_id: int, body: Mapping) -> "VoterAnswer | None":
        """From the /internal/v1/quorum/voters body of an established quorum, else None."""
        if not body.get("established"):
            return None
        try:
            voters = frozenset(int(k) for k in body.get("voters", {}))
            leader = body.get("leader_id")
            return cls(node_id, voters, None if leader is None else int(leader))
        except (TypeError, ValueError, AttributeError):
            return None


def removal_proof(node_id: int, answers: Iterable[VoterAnswer]) -> VoterAnswer | None:
    """The answer that proves `node_id` is no longer a voter, or None when none does."""
    answers = list(answers)
    for answer in answers:
        if answer.leader_id == answer.node_id and node_id not in answer.voters:
            return answer
    for voters in {a.voters for a in answers if node_id not in a.voters}:
        members = [a for a in answers if a.voters == voters and a.node_id in voters]
        if members and len(members) >= len(voters) // 2 + 1:
            return members[0]
    return None


def removed_message(node_id: int, proof: VoterAnswer, raft_dir: str) -> str:
    """Why the node is not admitted, and the operator's two ways out, in one line."""
    voters = ", ".join(str(v) for v in sorted(proof.voters)) or "none"
    return (f"node {node_id} is not a voter of the controller quorum (its voters are {voters}, as node "
            f"{proof.node_id} reports): it was removed with `kraft quorum remove-voter {node_id}`, and its "
            f"Raft state still names it a voter, so the voters refuse it. Take this machine out of service; "
            f"or, to make it a controller again, move {raft_dir} aside (it then starts as an observer) and "
            f"run `kraft quorum add-voter {node_id}`")
