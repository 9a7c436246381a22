"""Share-partition state between brokers: a partition leader's reads and writes of its
share-partitions' state, at the share coordinator that holds each, in Kafka's
ReadShareGroupState / WriteShareGroupState / DeleteShareGroupState (ShareStateRemote,
kraft/kafka/client/share_state_calls.py), or straight to this node's coordinator when it holds
the key. An admin view's read (which shows the stored leader epoch, which Kafka's
ReadShareGroupState answer does not carry) and a group's listing go as JSON over the
node-to-node channel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from kraft.errors import BadRequest, CoordinatorLoadInProgress, CoordinatorNotAvailable, NotCoordinator
from kraft.internode.peers import Peers, PeerUnreachable
from kraft.share.share_coordinator import ShareCoordinator
from kraft.share.share_state import ShareSnapshot, as_json, decode

STATE_PATH = "/internal/v1/share/state"
LOCATE_WAIT_S = 5.0  # the coordinator's topic is created, or its partition elected, meanwhile
CALL_TIMEOUT_S = 35.0  # an acks=all append's own bound (30 s) and the trip
RETRY_S = 0.1
# the coordinator is being made, moved or loaded: asked again until LOCATE_WAIT_S has passed
NOT_YET = (CoordinatorLoadInProgress, CoordinatorNotAvailable, NotCoordinator)
T = TypeVar("T")
# an admin view's read (with the stored leader epoch), a group's states; "write" and
# "delete" (and a read with a leader epoch) only from brokers of the release before, which
# sent a leader's state this way, during a rolling upgrade
OPS = ("read", "list", "write", "delete")


class ShareStateRemote(Protocol):
    """Kafka's share state requests to another broker's share coordinator (errors as their
    classes; ConnectionError when it cannot be reached)."""

    async def read(self, coordinator: int, key: str, leader_epoch: int, timeout_s: float) -> ShareSnapshot | None: ...

    async def write(self, coordinator: int, key: str, snapshot: ShareSnapshot, timeout_s: float) -> None: ...

    async def delete(self, coordinator: int, key: str, timeout_s: float) -> None: ...


class ShareStateLink:
    def __init__(self, coordinator: ShareCoordinator, peers: Peers, remote: ShareStateRemote):
        self._coordinator = coordinator
        self._peers = peers
        self._remote = remote

    async def read(self, key: str, leader_epoch: int = -1) -> ShareSnapshot | None:
        """The stored state; with a leader epoch (a leader taking the share-partition
        over), stored under that epoch first (ShareCoordinator.read_for_leader)."""
        return await _until_found(lambda: self._read(key, leader_epoch))

    async def write(self, key: str, snapshot: ShareSnapshot | None) -> None:
        """Store the state (None: delete it)."""
        await _until_found(lambda: self._write(key, snapshot))

    async def states_of(self, group_id: str) -> dict[str, ShareSnapshot]:
        """Every share-partition state of the group, from each node leading a partition of
        the state topic (CoordinatorNotAvailable while one has no leader)."""
        await self._coordinator.locate(group_id, LOCATE_WAIT_S)  # the topic exists, its leaders are elected
        image = self._coordinator.runtime.links.image()
        topic = image.topic(self._coordinator.runtime.topic.name)
        leaders = {p.leader for p in topic.partitions} if topic is not None else {-1}
        if -1 in leaders:
            raise CoordinatorNotAvailable("COORDINATOR_NOT_AVAILABLE: a share state partition has no leader; retry")
        found: dict[str, ShareSnapshot] = {}
        for leader in sorted(leaders):
            if leader == self._coordinator.node_id:
                found.update(self._coordinator.states_of(group_id))
                continue
            body = await self._call(leader, {"op": "list", "key": group_id})
            for key, stored in (body.get("states") or {}).items() if isinstance(body, dict) else ():
                if (snapshot := decode(stored)) is not None:
                    found[key] = snapshot
        return found

    async def _read(self, key: str, leader_epoch: int) -> ShareSnapshot | None:
        target = await self._coordinator.locate(key, LOCATE_WAIT_S)
        if target is None:
            return await _read_here(self._coordinator, key, leader_epoch)
        if leader_epoch >= 0:  # a leader's take-over: Kafka's request
            return await self._kafka(target, lambda: self._remote.read(target, key, leader_epoch, CALL_TIMEOUT_S))
        body = await self._call(target, {"op": "read", "key": key})  # a view's: with the stored leader epoch
        stored = body.get("state") if isinstance(body, dict) else None
        return decode(stored) if isinstance(stored, dict) else None

    async def _write(self, key: str, snapshot: ShareSnapshot | None) -> None:
        target = await self._coordinator.locate(key, LOCATE_WAIT_S)
        if target is None:
            await self._coordinator.write(key, snapshot)
            return
        if snapshot is None:
            await self._kafka(target, lambda: self._remote.delete(target, key, CALL_TIMEOUT_S))
        else:
            await self._kafka(target, lambda: self._remote.write(target, key, snapshot, CALL_TIMEOUT_S))

    @staticmethod
    async def _kafka(target: int, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except ConnectionError as exc:
            raise _unreachable(target, str(exc)) from None

    async def _call(self, target: int, payload: dict[str, Any]) -> Any:
        try:
            return await self._peers.call_json(target, "POST", STATE_PATH, payload=payload, timeout_s=CALL_TIMEOUT_S)
        except PeerUnreachable as exc:
            raise _unreachable(target, type(exc.cause).__name__) from None


def _unreachable(target: int, why: str) -> CoordinatorNotAvailable:
    """A coordinator that cannot be reached: retried as one being moved is."""
    return CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: share coordinator {target} unreachable ({why}); retry")


async def _until_found(attempt: Callable[[], Awaitable[T]]) -> T:
    deadline = time.monotonic() + LOCATE_WAIT_S
    while True:
        try:
            return await attempt()
        except NOT_YET:
            if time.monotonic() + RETRY_S >= deadline:
                raise
        await asyncio.sleep(RETRY_S)


async def _read_here(coordinator: ShareCoordinator, key: str, leader_epoch: int) -> ShareSnapshot | None:
    if leader_epoch < 0:  # an admin's or a view's read: nothing fenced
        return coordinator.read(key)
    return await coordinator.read_for_leader(key, leader_epoch)


async def serve(coordinator: ShareCoordinator, body: Any) -> dict[str, Any]:
    """At the share coordinator: an admin view's read, or a group's states (server/internode_routes.py)."""
    if not isinstance(body, dict) or body.get("op") not in OPS or not isinstance(body.get("key"), str):
        raise BadRequest("a share state request names op (read, list, write or delete) and key")
    key = body["key"]
    if body["op"] == "list":  # key: the group; the states of the partitions this node leads
        return {"states": {k: as_json(v) for k, v in coordinator.states_of(key).items()}}
    if await coordinator.locate(key, wait_s=0) is not None:
        raise NotCoordinator(f"NOT_COORDINATOR: node {coordinator.node_id} does not hold share state {key!r}")
    if body["op"] == "read":
        epoch = body.get("leader_epoch", -1)
        stored = await _read_here(coordinator, key, epoch if isinstance(epoch, int) else -1)
        return {"state": None if stored is None else as_json(stored)}
    snapshot = decode(body["state"]) if isinstance(body.get("state"), dict) else None
    if snapshot is None and body["op"] == "write":
        raise BadRequest("a share state write carries the state")
    await coordinator.write(key, snapshot)
    return {}
