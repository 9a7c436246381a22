"""Committed offsets at the group's coordinator: OffsetCommit and OffsetFetch, a
transaction's offset commits (TxnOffsetCommit, KIP-98 and KIP-447), and deleting a group's
offsets (DeleteGroups, OffsetDelete, an admin's reset).

Commits and tombstones are writes of the coordinator runtime (kraft/coordinator/writes.py):
one partition's writes run one at a time, their records are appended with acks=all and
replayed into the partition's cache by the replay a load uses (offset_store.py), and the
request is answered once they are committed; so the cache of a loaded partition always
holds what its log holds, and a tombstone follows every commit written before it.
Transactional commits are written the same way, as one transactional batch of the
producer, and stay pending until the wiring reports the transaction's marker on that
offsets partition (`complete_transaction`); a load replays markers from the log the same
way.
"""

from __future__ import annotations

from collections import Counter

from kraft.coordinator.writes import TxnProducer
from kraft.errors import (
    ConsumerConflict,
    ConsumerInstanceNotFound,
    CoordinatorNotAvailable,
    FencedInstanceId,
    InvalidProducerIdMapping,
    KraftError,
    NonEmptyGroup,
    NotCoordinator,
    PartitionNotFound,
    TopicNotFound,
)
from kraft.groups.consumer_group import ConsumerGroupError
from kraft.groups.group_deletion import Key, check_group_deletable, offsets_to_delete
from kraft.groups.group_events import GroupError
from kraft.groups.loaded_groups import LoadedGroups, OffsetsShard, wall_ms
from kraft.groups.offset_store import CommittedOffset, OffsetCache, commit_record, tombstone_record
from kraft.storage.record import Record


class GroupOffsets:
    def __init__(self, here: LoadedGroups):
        self._here = here
        self._runtime = here.runtime
        # (group, topic, partition) of plain commits written and not yet acknowledged (the
        # cache has them once they are in this node's log): unstable for a require_stable
        # fetch, as Kafka's pending offset commits are
        self._commits_in_flight: Counter[tuple[str, str, int]] = Counter()

    def committed(self, group_id: str, topic: str, partition: int) -> CommittedOffset | None:
        committed = self._here.cache_of(group_id).get(group_id, topic, partition)
        return committed if committed is not None and self._current(topic, committed) else None

    def committed_of_group(self, group_id: str) -> dict[tuple[str, int], CommittedOffset]:
        return {tp: c for tp, c in self._here.cache_of(group_id).of_group(group_id).items() if self._current(tp[0], c)}

    def _current(self, topic: str, committed: CommittedOffset) -> bool:
        """Committed for the topic that exists now, not a deleted one of the same name."""
        t = self._here.image().topic(topic)
        return t is not None and committed.topic_id in ("", t.topic_id)

    async def commit(self, group_id: str, offsets: dict[tuple[str, int], tuple[int, str]],
                     leader_epochs: dict[tuple[str, int], int] | None = None) -> None:
        """Write the commits to the group's offsets partition (acks=all).
        leader_epochs: the consumer's committed leader epoch per partition (OffsetCommit v6+)."""
        epochs = leader_epochs or {}
        self._here.cache_of(group_id)  # NotCoordinator when not loaded here
        p = self._here.offsets_partition_of(group_id)
        now = wall_ms()
        items = sorted(offsets.items())
        ids = {t: topic.topic_id for t, _ in offsets if (topic := self._here.image().topic(t)) is not None}
        records = [commit_record(group_id, t, part, off, md, now, ids.get(t, ""), epochs.get((t, part), -1))
                   for (t, part), (off, md) in items]
        keys = [(group_id, t, part) for (t, part), _ in items]
        self._commits_in_flight.update(keys)
        try:
            await self._runtime.write(p, lambda shard: (records, None), name=f"offset-commit-{group_id}")
        finally:
            self._commits_in_flight.subtract(keys)
            for key in keys:
                if self._commits_in_flight[key] <= 0:
                    del self._commits_in_flight[key]

    # -- transactional commits (KIP-98, KIP-447) ------------------------------------------
    async def txn_offset_commit(self, group_id: str, producer_id: int, producer_epoch: int, generation_id: int,
                                member_id: str, group_instance_id: str | None,
                                offsets: dict[tuple[str, int], tuple[int, str]],
                                leader_epochs: dict[tuple[str, int], int] | None = None,
                                ) -> dict[tuple[str, int], KraftError]:
        """A TxnOffsetCommit: append the offsets ((topic, partition) -> (offset,
        metadata), with leader_epochs, as commit() takes them) to the group's offsets partition as ONE
        transactional batch of the producer (acks=all). They stay pending, unseen by
        committed() and OffsetFetch, until complete_transaction reports the
        transaction's marker on that partition.

        Returns the partitions left out, each with its error (UnknownTopicOrPartition:
        no such topic or partition now, checked first as Kafka's handler does); the
        others were written. Raises, nothing written: NotCoordinator /
        CoordinatorLoadInProgress as commit() does; InvalidProducerIdMapping for a
        negative producer id or epoch; when a generation or member is given and does
        not match the group of Kafka clients (KIP-447), ConsumerConflict
        (ILLEGAL_GENERATION) or ConsumerInstanceNotFound (UNKNOWN_MEMBER_ID), and
        CoordinatorNotAvailable / NotCoordinator for a group being unloaded. Raises
        what the append raises: the offsets are pending here when the batch reached
        this node's log, as a load would find them (writes.py), and not otherwise."""
        cache = self._here.cache_of(group_id)
        p = self._here.offsets_partition_of(group_id)
        if producer_id < 0 or producer_epoch < 0:
            raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: a transactional offset commit needs a "
                                           f"producer id and epoch, got {producer_id}/{producer_epoch}")
        image = self._here.image()
        refused: dict[tuple[str, int], KraftError] = {}
        accepted: list[tuple[tuple[str, int], tuple[int, str], str]] = []
        for (t, part), value in sorted(offsets.items()):
            topic = image.topic(t)
            if topic is None:
                refused[(t, part)] = TopicNotFound(f"UNKNOWN_TOPIC_OR_PARTITION: topic {t!r} not found")
            elif not 0 <= part < len(topic.partitions):
                refused[(t, part)] = PartitionNotFound(f"UNKNOWN_TOPIC_OR_PARTITION: partition {part} of topic "
                                                       f"{t!r} not found")
            else:
                accepted.append(((t, part), value, topic.topic_id))
        if not accepted:
            return refused
        self._check_txn_member(group_id, cache, generation_id, member_id, group_instance_id)
        now = wall_ms()
        epochs = leader_epochs or {}
        records = [commit_record(group_id, t, part, off, md, now, tid, epochs.get((t, part), -1))
                   for (t, part), (off, md), tid in accepted]
        await self._runtime.write(p, lambda shard: (records, None), TxnProducer(producer_id, producer_epoch),
                                  name=f"txn-offset-commit-{group_id}")
        return refused

    def _check_txn_member(self, group_id: str, cache: OffsetCache, generation_id: int, member_id: str,
                          group_instance_id: str | None) -> None:
        """KIP-447's fencing, as Kafka's ClassicGroup.validateOffsetCommit does it for a
        transactional commit. An old client's commit (generation -1, no member, no
        instance id) is not checked. A classic group's static member replaced by a new
        process gets FENCED_INSTANCE_ID when the commit names its instance id; a
        consumer group checks the member id alone (Kafka's ConsumerGroup)."""
        if generation_id < 0 and not member_id and group_instance_id is None:
            return
        rest = self._here.rest.get(group_id)
        if rest is not None and rest.instances:  # as kafka_client_group refuses it
            raise ConsumerConflict(f"ILLEGAL_GENERATION: group {group_id!r} has REST consumer instances, "
                                   "not Kafka client members")
        consumer_group = self._here.consumer_group(group_id)
        if consumer_group is not None:
            stale = consumer_group.commit_error(member_id, generation_id)
            if stale is not None and stale.error is ConsumerGroupError.UNKNOWN_MEMBER_ID:
                raise ConsumerInstanceNotFound(f"UNKNOWN_MEMBER_ID: {stale.message}")
            if stale is not None:  # a stale member epoch, answered as Kafka's TxnOffsetCommit does
                raise ConsumerConflict(f"ILLEGAL_GENERATION: {stale.message}")
            return
        group = self._here.clients.get(group_id)
        if group is None:
            if generation_id < 0:
                return  # an empty group that only stores offsets, as Kafka accepts it
            if cache.of_group(group_id) or cache.pending_of_group(group_id):
                raise ConsumerInstanceNotFound(f"UNKNOWN_MEMBER_ID: group {group_id!r} has no member "
                                               f"{member_id!r} (it has no members)")
            raise ConsumerConflict(f"ILLEGAL_GENERATION: group {group_id!r} does not exist, so generation "
                                   f"{generation_id} is not its")
        refused = group.commit_error(member_id, generation_id, transactional=True,
                                     group_instance_id=group_instance_id)
        if refused is None:
            return
        if refused.error is GroupError.FENCED_INSTANCE_ID:
            raise FencedInstanceId(f"FENCED_INSTANCE_ID: {refused.message}")
        if refused.error is GroupError.UNKNOWN_MEMBER_ID:
            raise ConsumerInstanceNotFound(f"UNKNOWN_MEMBER_ID: {refused.message}")
        if refused.error is GroupError.ILLEGAL_GENERATION:
            raise ConsumerConflict(f"ILLEGAL_GENERATION: {refused.message}")
        if refused.error is GroupError.NOT_COORDINATOR:
            raise NotCoordinator(f"NOT_COORDINATOR: {refused.message}")
        raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {refused.message}")

    def complete_transaction(self, offsets_partition: int, producer_id: int, commit: bool) -> None:
        """The transaction's marker is in offsets partition ``offsets_partition`` (the
        wiring calls this after appending it on this node, its leader): the producer's
        pending offsets there become visible (commit; a commit later in the log keeps
        precedence) or are dropped (abort). Offsets of an append still in flight follow
        the outcome when it returns. Not loaded here: nothing to do, a load replays the
        marker from the log."""
        loaded = self._here.runtime.shards.get(offsets_partition)
        if loaded is not None:
            loaded.cache.complete(producer_id, commit)

    def unstable_offsets(self, group_id: str) -> frozenset[tuple[str, int]]:
        """(topic, partition) of the group whose offset may still change without a new
        request: a transaction's pending offset, or a plain commit appended and not yet
        acknowledged (Kafka's pending offset commits). OffsetFetch with require_stable
        answers UNSTABLE_OFFSET_COMMIT for these."""
        keys = set(self._here.cache_of(group_id).pending_of_group(group_id))
        keys.update((t, part) for (g, t, part) in self._commits_in_flight if g == group_id)
        return frozenset(keys)

    # -- deleting groups and offsets (DeleteGroups, OffsetDelete) ---------------------------
    async def delete_group(self, group_id: str) -> None:
        """DeleteGroups: tombstones for every offset of the group, which must have no
        members. Raises NonEmptyGroup, GroupIdNotFound, NotCoordinator. No member may join
        while the tombstones are written (a join answers COORDINATOR_NOT_AVAILABLE)."""
        here = self._here
        check_group_deletable(group_id, here.membership(group_id), here.cache_of(group_id).keys_of_group(group_id))
        here.deleting.add(group_id)
        try:
            await self._tombstone(group_id)
            await here.consumer_groups.delete(group_id)
            for groups in (here.rest, here.clients):
                groups.pop(group_id, None)  # empty: nothing of the group is left
        finally:
            here.deleting.discard(group_id)

    async def alter_offsets(self, group_id: str, offsets: dict[Key, tuple[int, str]],
                            leader_epochs: dict[Key, int] | None = None) -> None:
        """A commit from outside the group (Kafka's admin client, kafka-consumer-groups
        --reset-offsets, a consumer without group management): (offset, metadata) per
        partition, taken only while the group has no members, who would commit over it.
        Raises NonEmptyGroup, NotCoordinator."""
        members = self._here.membership(group_id).members
        if members:
            raise NonEmptyGroup(f"NON_EMPTY_GROUP: group {group_id!r} has {members} member(s); "
                                "its offsets are set once its members have left")
        await self.commit(group_id, offsets, leader_epochs)

    async def delete_offsets(self, group_id: str, partitions: list[Key]) -> dict[Key, KraftError | None]:
        """OffsetDelete: tombstones for the offsets of `partitions` nobody in the group
        consumes (group_deletion.py); per partition None or the error to answer."""
        offsets = self._here.cache_of(group_id).keys_of_group(group_id)
        outcome = offsets_to_delete(group_id, self._here.membership(group_id), offsets, partitions)
        doomed = {key for key, error in outcome.items() if error is None and key in offsets}
        if doomed:
            await self._tombstone(group_id, doomed)
        return outcome

    async def _tombstone(self, group_id: str, keys: set[Key] | None = None) -> None:
        """Tombstones for the group's offsets of `keys` (None: all of them), committed or
        pending, as the partition holds them in the write's turn: after every commit
        written before."""
        p = self._here.offsets_partition_of(group_id)
        now = wall_ms()

        def operation(shard: OffsetsShard) -> tuple[list[Record], None]:
            held = shard.cache.keys_of_group(group_id)
            doomed = sorted(held if keys is None else held & keys)
            return [tombstone_record(group_id, t, part, now) for t, part in doomed], None

        await self._runtime.write(p, operation, name=f"offset-delete-{group_id}")
