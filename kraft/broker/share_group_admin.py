"""Share groups' admin changes at the group's coordinator: deleting a share group,
altering its start offsets and deleting them (Kafka's DeleteGroups,
AlterShareGroupOffsets and DeleteShareGroupOffsets; the REST door's delete and reset);
and the list of share groups, those without members included (both doors).

Each needs the group empty (no member: Kafka's NON_EMPTY_GROUP otherwise). The stored
states change at their share coordinators, an altered one under a new state epoch, so a
leader still holding the old state is fenced at its next write; and each partition's
leader is told to forget its copy, so its next fetch reads the new state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kraft.broker.share_leaders import ShareLeaders
from kraft.broker.share_state_link import ShareStateLink
from kraft.errors import GroupIdNotFound, InvalidValue, KraftError, NonEmptyGroup, UnknownTopicOrPartition
from kraft.internode.peers import Peers, PeerUnreachable
from kraft.metadata.image import MetadataImage
from kraft.share.share_broker import ShareBroker
from kraft.share.share_coordinator import ShareCoordinator
from kraft.share.share_state import ShareSnapshot, altered, key_parts, state_key

TopicPartition = tuple[str, int]
LOCAL_PATH = "/internal/v1/share-groups"  # a node's local_summaries, for the cluster-wide list
LIST_TIMEOUT_S = 3.0


class ShareGroupAdmin:
    def __init__(self, node_id: int, shares: ShareBroker, state: ShareCoordinator, link: ShareStateLink,
                 leaders: ShareLeaders, peers: Peers, image: Callable[[], MetadataImage]):
        self._node_id = node_id
        self._shares = shares
        self._state = state
        self._link = link
        self._leaders = leaders
        self._peers = peers
        self._image = image

    # -- the list ----------------------------------------------------------------------------
    def local_summaries(self) -> list[dict[str, Any]]:
        """The share groups this node coordinates (with members), and those whose stored
        state it holds (Empty, unless their coordinator lists them with members)."""
        summaries = self._shares.summaries()
        listed = {s["group_id"] for s in summaries}
        return summaries + [{"group_id": g, "state": "Empty", "group_type": "share", "protocol_type": "share",
                             "members": 0} for g in sorted(self._state.group_ids() - listed)]

    async def cluster_summaries(self) -> dict[str, dict[str, Any]]:
        """Every live broker's local summaries, by group (a down broker's groups are left
        out: their members join elsewhere, their state is served by a new leader)."""
        async def ask(broker_id: int) -> list[dict[str, Any]]:
            if broker_id == self._node_id:
                return self.local_summaries()
            try:
                body = await self._peers.call_json(broker_id, "GET", LOCAL_PATH, timeout_s=LIST_TIMEOUT_S)
            except (PeerUnreachable, KraftError):
                return []
            return body.get("groups", []) if isinstance(body, dict) else []

        brokers = [b.broker_id for b in self._image().brokers.values() if not b.fenced]
        found: dict[str, dict[str, Any]] = {}
        for summaries in await asyncio.gather(*(ask(b) for b in brokers)):
            for summary in summaries:
                if summary.get("members") or summary["group_id"] not in found:  # its coordinator's view wins
                    found[summary["group_id"]] = summary
        return found

    def _require_empty(self, group_id: str) -> None:
        group = self._shares.group(group_id)
        if group is not None and group.members:
            raise NonEmptyGroup(f"NON_EMPTY_GROUP: share group {group_id!r} has {len(group.members)} member(s); "
                                "they must leave first")

    async def states(self, group_id: str) -> dict[str, ShareSnapshot]:
        """Every stored share-partition state of the group, by state key."""
        return await self._link.states_of(group_id)

    async def exists(self, group_id: str) -> bool:
        """A share group with members here, or with a stored state."""
        return self._shares.group(group_id) is not None or bool(await self.states(group_id))

    def named(self, key: str) -> TopicPartition | None:
        """(topic, partition) of a state key, None for a topic since deleted."""
        parts = key_parts(key)
        topic = self._image().topics.get(parts[1]) if parts is not None else None  # the image keys topics by id
        return None if topic is None or parts is None else (topic.name, parts[2])

    async def _forget_at_leader(self, group_id: str, where: TopicPartition | None) -> None:
        if where is not None:
            try:
                await self._leaders.forget(group_id, *where)
            except KraftError:
                pass  # the leader's next write is fenced by the state epoch, or it reads the state when it leads

    async def delete_group(self, group_id: str) -> None:
        self._require_empty(group_id)
        stored = await self.states(group_id)
        if not stored:
            raise GroupIdNotFound(f"GROUP_ID_NOT_FOUND: no share group {group_id!r}")
        for key in sorted(stored):
            await self._forget_at_leader(group_id, self.named(key))
            await self._link.write(key, None)
        self._shares.groups.pop(group_id, None)

    def _state_key(self, group_id: str, topic: str, partition: int) -> str:
        found = self._image().topic(topic)
        if found is None or not 0 <= partition < len(found.partitions):
            raise UnknownTopicOrPartition(f"UNKNOWN_TOPIC_OR_PARTITION: {topic}-{partition} does not exist")
        return state_key(group_id, found.topic_id, partition)

    async def alter_offsets(self, group_id: str, wanted: dict[TopicPartition, int]) -> dict[TopicPartition,
                                                                                          KraftError | None]:
        """Start each share-partition at the offset given (its records in flight forgotten)."""
        self._require_empty(group_id)
        outcome: dict[TopicPartition, KraftError | None] = {}
        stored = await self.states(group_id)
        for where, offset in sorted(wanted.items()):
            try:
                if offset < 0:
                    raise InvalidValue(f"INVALID_REQUEST: a start offset is at least 0, got {offset}")
                key = self._state_key(group_id, *where)
                await self._forget_at_leader(group_id, where)
                await self._link.write(key, altered(stored.get(key), offset))
                outcome[where] = None
            except KraftError as exc:
                outcome[where] = exc
        return outcome

    async def delete_offsets(self, group_id: str, topics: list[str]) -> dict[str, KraftError | None]:
        """Forget the group's state of every partition of each topic (it starts again
        where share.auto.offset.reset says, if it reads the topic again)."""
        self._require_empty(group_id)
        stored = await self.states(group_id)
        outcome: dict[str, KraftError | None] = {}
        for topic in topics:
            found = self._image().topic(topic)
            if found is None:
                outcome[topic] = UnknownTopicOrPartition(f"UNKNOWN_TOPIC_OR_PARTITION: no topic {topic!r}")
                continue
            try:
                for index in range(len(found.partitions)):
                    key = state_key(group_id, found.topic_id, index)
                    if key in stored:
                        await self._forget_at_leader(group_id, (topic, index))
                        await self._link.write(key, None)
                outcome[topic] = None
            except KraftError as exc:
                outcome[topic] = exc
        return outcome

