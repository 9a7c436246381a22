"""The quorum description of kafka-metadata-quorum.sh (describe --status/--replication).

Only the Raft leader knows each voter's progress, so a node that is not the leader
asks it; when no leader answers, this node says what it knows itself.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from kraft.internode.peers import PeerUnreachable
from kraft.config.cluster import ClusterConfig
from kraft.controller.quorum_controller import QuorumController
from kraft.errors import KraftError
from kraft.metadata.image import MetadataImage
from kraft.quorum.protocol import Quorum, VoterStatus


class QuorumHost(Protocol):
    """What the description reads of the node (kraft/server/node.py, a layer above)."""

    @property
    def node_id(self) -> int: ...
    @property
    def cluster_id(self) -> str: ...
    @property
    def config(self) -> ClusterConfig: ...
    @property
    def image(self) -> MetadataImage: ...
    @property
    def quorum(self) -> Quorum | None: ...
    @property
    def controller(self) -> QuorumController | None: ...

    def controller_target(self) -> int | None: ...
    async def get_json_from(self, node_id: int, path: str, timeout_s: float = 2.0) -> tuple[int, Any]: ...


def local_description(node: QuorumHost) -> dict[str, Any]:
    image = node.image
    now_ms = int(time.time() * 1000)
    voters: list[dict[str, Any]] = []
    problems: list[str] = []
    leader: int | None = None
    raft_observers: list[dict[str, Any]] = []
    pending, is_voter = False, False
    term, hw = 0, 0
    elected_ms: int | None = None
    if node.quorum is not None:
        problems = node.quorum.peer_problems()
        st = node.quorum.status()
        leader, term, hw = st.leader_id, st.term, st.commit_index
        elected_ms = st.elected_ms if st.elected_ms >= 0 else None  # known to the leader only
        addresses = node.quorum.voters()
        voters = [{**_seat(v, now_ms), "raft_address": addresses.get(v.node_id)} for v in st.voters]
        raft_observers = [{**_seat(o, now_ms), "kind": "controller"} for o in st.observers]
        pending = st.voter_change_pending
        is_voter = st.is_voter
    observers: list[dict[str, Any]] = list(raft_observers)
    controller = node.controller
    voter_ids = {v["node_id"] for v in voters} | {o["node_id"] for o in raft_observers}
    if controller is not None and controller.active:
        hb = controller.heartbeats
        for broker_id, offset in sorted(hb.metadata_offsets.items()):
            if broker_id in voter_ids:
                continue
            seen = hb.last_seen_ms.get(broker_id, -1)
            observers.append({"node_id": broker_id, "kind": "broker", "metadata_offset": offset,
                              "lag": max(0, image.offset - offset),
                              "last_heartbeat_age_ms": controller.now_ms() - seen})
    return {
        "leader_id": leader,  # None while this node knows of no Raft leader
        "leader_epoch": term,
        "leader_elected_ms": elected_ms,  # (ext) when the current leader won its election
        "high_watermark": hw,
        "metadata_offset": image.offset,
        "controller_id": image.controller_id,
        "controller_epoch": image.controller_epoch,
        "answered_by": node.node_id,
        "voters": voters,
        "observers": observers,
        "voter_change_pending": pending,  # (ext) a voter change is in the log, not yet committed
        "answered_by_voter": is_voter,  # (ext) false when a controller observer answered
        "problems": problems,  # (ext) why a voter may be missing, as this node sees it
    }


def _seat(v: VoterStatus, now_ms: int) -> dict[str, Any]:
    return {"node_id": v.node_id, "log_end_offset": v.log_end_offset, "lag": v.lag,
            "last_caught_up_ms": v.last_caught_up_ms,
            "last_caught_up_age_ms": now_ms - v.last_caught_up_ms if v.last_caught_up_ms >= 0 else None}


async def describe_quorum(node: QuorumHost) -> dict[str, Any]:
    is_leader = node.quorum is not None and node.quorum.is_leader()
    target = node.controller_target()
    if is_leader or target is None or target == node.node_id:
        return local_description(node)
    try:
        status, body = await node.get_json_from(
            target, f"/v3/clusters/{node.cluster_id}/quorum?local=1")
        if status == 200:
            return body
    except (PeerUnreachable, KraftError):
        pass
    return local_description(node)
