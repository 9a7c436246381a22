"""A controller's start: learn the running quorum's voters, take the Raft seat, and
refuse to go on when the running quorum proves this controller was removed
(kraft/server/voter_admission.py decides from the answers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from kraft.errors import UnknownServerError
from kraft.internode.peers import PeerUnreachable
from kraft.quorum.protocol import Quorum
from kraft.quorum.raft_transport import RaftPortUnavailable
from kraft.server.startup_failure import NodeCannotStart, NodeNotAdmitted
from kraft.server.voter_admission import VoterAnswer, removal_proof, removed_message

log = logging.getLogger("kraft.server.node")  # the node's logger: its start-up lines keep one name

VOTER_QUESTION_TIMEOUT_S = 2.0
GetJson = Callable[..., Awaitable[tuple[int, object]]]  # (node id, path, timeout_s=) -> (status, body)


async def start_controller(quorum: Quorum, node_id: int, other_controllers: list[int], get_json: GetJson,
                           data_path: Path) -> None:
    answers = await learn_voters(quorum, node_id, other_controllers, get_json)
    try:
        quorum.start()
    except RaftPortUnavailable as exc:
        raise NodeCannotStart(str(exc)) from None
    refuse_if_removed(quorum, node_id, answers, data_path)  # known once start() has read the Raft state


async def learn_voters(quorum: Quorum, node_id: int, others: list[int], get_json: GetJson) -> list[VoterAnswer]:
    """A controller with no Raft state asks the others for the voter set: a running
    quorum's answer decides whether it starts as a voter or joins as an observer
    (a new controller, added later with `kraft quorum add-voter`); with no answer
    it is one of a new cluster's controllers, the voters its cluster.toml names.
    Returns the running quorum's answers (see refuse_if_removed)."""
    fresh = quorum.fresh()  # asked anyway: the question lets this node's Raft connections in

    async def ask(other: int) -> dict | None:
        try:
            status, body = await get_json(other, "/internal/v1/quorum/voters", timeout_s=VOTER_QUESTION_TIMEOUT_S)
        except (PeerUnreachable, UnknownServerError):
            return None
        ok = status == 200 and isinstance(body, dict) and body.get("established")
        return body if ok and isinstance(body, dict) else None
    answers_by_node = await asyncio.gather(*(ask(n) for n in others))
    answers = [a for a in answers_by_node if a is not None]
    if answers and fresh:
        voters = {int(k): str(v) for k, v in answers[0]["voters"].items()}
        quorum.set_bootstrap_voters(voters)
        role = "a voter" if node_id in voters else "an observer (kraft quorum add-voter makes it a voter)"
        log.info("the running quorum's voters are %s: node %d starts as %s", sorted(voters), node_id, role)
        if node_id in voters and (held := held_before(node_id, answers)):
            log.warning("node %d starts with no Raft state, but the leader, node %d, counts it as a voter whose "
                        "log held entries up to %d: its data dir was wiped or replaced. It rejoins the quorum as a "
                        "voter with an empty metadata log and catches up from the leader (a majority of the "
                        "voters wiped at once would lose committed metadata)", node_id, *held)
    return [a for other, body in zip(others, answers_by_node) if body is not None
            and (a := VoterAnswer.of(other, body)) is not None]


def held_before(node_id: int, answers: list[dict]) -> tuple[int, int] | None:
    """(the leader, the log offset it last saw this voter acknowledge) when that is past 0:
    this voter held entries before, so a start without Raft state means it lost them.
    A new cluster's controller that starts after the others has acknowledged nothing."""
    for body in answers:
        acknowledged = body.get("acknowledged") or {}
        leader = body.get("leader_id")
        if isinstance(acknowledged, dict) and isinstance(leader, int):
            offset = acknowledged.get(str(node_id))
            if isinstance(offset, int) and offset > 0:
                return leader, offset
    return None


def refuse_if_removed(quorum: Quorum, node_id: int, answers: list[VoterAnswer], data_path: Path) -> None:
    """A controller whose own Raft state makes it a voter, but whom the running quorum
    proves removed, is refused by every voter: say why and stop, not wait for ever."""
    if not quorum.is_voter():
        return
    proof = removal_proof(node_id, answers)
    if proof is not None:
        raft_dir = data_path / "__cluster_metadata"
        raise NodeNotAdmitted(removed_message(node_id, proof, str(raft_dir)))
