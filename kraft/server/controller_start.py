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
from kraft.quorum.raft_files import RAFT_DIR
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
    Named a voter while others hold committed metadata, it votes for no one until its
    log holds what a leader has committed (RaftQuorum.set_bootstrap_voters).
    Returns the running quorum's answers (see refuse_if_removed)."""
    fresh = quorum.fresh()  # asked anyway: the question lets this node's Raft connections in

    async def ask(other: int) -> dict | None:
        try:
            status, body = await get_json(other, "/internal/v1/quorum/voters", timeout_s=VOTER_QUESTION_TIMEOUT_S)
        except (PeerUnreachable, UnknownServerError):
            return None
        return body if status == 200 and isinstance(body, dict) else None
    bodies = await asyncio.gather(*(ask(n) for n in others))
    answers_by_node = [b if b is not None and b.get("established") else None for b in bodies]
    answers = [a for a in answers_by_node if a is not None]
    if answers and fresh:
        voters = {int(k): str(v) for k, v in answers[0]["voters"].items()}
        quorum.set_bootstrap_voters(voters, catch_up_first=node_id in voters)
        role = ("a voter that votes once its log holds what the leader has committed" if node_id in voters
                else "an observer (kraft quorum add-voter makes it a voter)")
        log.info("the running quorum's voters are %s: node %d starts as %s", sorted(voters), node_id, role)
        if node_id in voters and (held := held_before(node_id, answers)):
            log.warning("node %d starts with no Raft state, but the leader, node %d, counts it as a voter whose "
                        "log held entries up to %d: its data dir was wiped or replaced. It votes for no one until "
                        "it has caught up from a leader, so the quorum cannot elect a leader lacking what it "
                        "committed (a majority of the voters wiped at once would lose committed metadata)",
                        node_id, *held)
    elif fresh and (holding := [n for n, b in zip(others, bodies) if b is not None and b.get("holds_log")]):
        # no leader now, but controllers holding committed metadata: this empty log's vote
        # could elect one of them that lacks entries the others hold
        quorum.set_bootstrap_voters(quorum.voters(), catch_up_first=quorum.voters().get(node_id) is not None)
        log.warning("node %d starts with no Raft state while node(s) %s hold the cluster's metadata log and no "
                    "leader is elected: it votes for no one until it has caught up from a leader",
                    node_id, ", ".join(map(str, holding)))
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
        raft_dir = data_path / RAFT_DIR
        raise NodeNotAdmitted(removed_message(node_id, proof, str(raft_dir)))
