"""A node's share groups: the membership of the groups it coordinates and the
share-partitions of the partitions it leads, with their share fetch sessions.

Each group's settings are its group configs over the broker's (kraft.config.group_configs),
read at each use, so a change applies at once. A share-partition belongs to the leader
epoch it was taken over in: a leader reads its stored state from the share coordinator
(kraft/share/share_coordinator.py) when it takes it over, stores where it starts at once,
and stores the state again after every acknowledgement before the client hears of it, so
what was acknowledged stays acknowledged when leadership moves (records held under a
lock come back available). A group's membership lives in its coordinator's memory and
starts again when the coordinator moves: members join again. Locks and sessions run out
when they are next looked at; a lock that runs out is also released by the lock clock
(`run`) at its deadline, so a record worn out at the delivery limit reaches the
dead-letter topic (and the released state the share coordinator) even when nobody fetches
that partition again, as Kafka's acquisition-lock timer does.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from kraft.config.cluster_tables import GroupSettings
from kraft.config.group_configs import effective
from kraft.errors import FencedLeaderEpoch, KraftError, OutcomeUnknown, UnknownTopicOrPartition
from kraft.metadata.image import MetadataImage
from kraft.replication.partition_read import ReadRequest
from kraft.replication.partition_replica import PartitionReplica
from kraft.replication.read_bounds import Isolation
from kraft.share.share_group import HeartbeatAnswer, Refusal, ShareGroup
from kraft.share.share_partition import Ack, Acquired, Batch, SharePartition
from kraft.share.rest_share_instances import RestShareInstances
from kraft.share.share_sessions import ShareSessions
from kraft.share.dead_letters import dead_letter_problem, dead_letter_record, source_record
from kraft.share.share_state import ShareSnapshot, StateRun, state_key
from kraft.storage.record import Record
from kraft.storage.record_batch import BatchHeader
from kraft.storage.txn_index import AbortedTxn

log = logging.getLogger(__name__)

MAX_SHARE_SESSIONS = 2000  # Kafka's group.share.max.share.sessions

PartitionKey = tuple[str, str, int]  # (group, topic, partition)


def mono_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class _Held:
    leader_epoch: int
    state_key: str  # where its share coordinator keeps it
    partition: SharePartition
    state_epoch: int = 0  # of the stored state it was read from (an admin's alteration raises it)
    config: dict[str, str] = field(default_factory=dict)  # the group's configs, read at each use (_held)
    replica: PartitionReplica | None = None  # the leader replica it was taken over on (the lock clock's)
    burying: asyncio.Lock = field(default_factory=asyncio.Lock)
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)


# recall(state key, leader epoch): the stored state, None for a share-partition never
# stored; a leader's epoch (-1 for none) fences the leaders before it from then on;
# persist(state key, state): returns once it is durable. Both at the key's share
# coordinator, wherever it is (broker/share_state_link.py).
Recall = Callable[[str, int], Awaitable[ShareSnapshot | None]]
Persist = Callable[[str, ShareSnapshot], Awaitable[None]]
# dead_letter(topic, partition, records): appended with acks=all at the partition's leader
DeadLetterWrite = Callable[[str, int, list[Record]], Awaitable[None]]


@dataclass(frozen=True)
class Fetched:
    records: bytes
    acquired: list[Acquired]


class ShareBroker:
    def __init__(self, settings: GroupSettings, image: Callable[[], MetadataImage], recall: Recall, persist: Persist,
                 dead_letter: DeadLetterWrite, clock_ms: Callable[[], int] = mono_ms):
        self.settings = settings
        self._image = image
        self._recall = recall
        self._persist = persist
        self._dead_letter = dead_letter
        self._clock = clock_ms
        self._loading: dict[PartitionKey, asyncio.Lock] = {}  # one per share-partition taken over here
        self.groups: dict[str, ShareGroup] = {}
        self.partitions: dict[PartitionKey, _Held] = {}
        self.sessions = ShareSessions(MAX_SHARE_SESSIONS, settings.share_session_timeout_ms)
        self.rest = RestShareInstances()  # the REST door's members, of groups coordinated here
        # the lock clock's (deadline, key) of every lock taken or renewed; an entry whose
        # lock went another way is passed over when it comes due
        self._deadlines: list[tuple[int, PartitionKey]] = []
        self._earlier = asyncio.Event()  # a deadline before the one the clock sleeps to

    def now_ms(self) -> int:
        return self._clock()

    def config(self, group_id: str) -> dict[str, str]:
        """The group's effective configs."""
        own = self._image().group_configs.get(group_id, {})
        return {name: value for name, (value, _) in effective(own, self.settings).items()}

    def heartbeat_interval_ms(self, group_id: str) -> int:
        return int(self.config(group_id)["share.heartbeat.interval.ms"])

    # -- the coordinator's part: membership --------------------------------------------
    def partition_count(self, topic: str) -> int | None:
        found = self._image().topic(topic)
        return None if found is None else len(found.partitions)

    def heartbeat(self, group_id: str, member_id: str, member_epoch: int, topics: tuple[str, ...] | None,
                  client_id: str, rack_id: str | None) -> HeartbeatAnswer | Refusal:
        now = self.now_ms()
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = ShareGroup(group_id, self.settings.share_max_size)
        group.expire(now, int(self.config(group_id)["share.session.timeout.ms"]), self.partition_count)
        answer = group.heartbeat(member_id, member_epoch, topics, client_id, rack_id, now, self.partition_count)
        if not group.members:
            del self.groups[group_id]
        return answer

    def group(self, group_id: str) -> ShareGroup | None:
        """The group with members, if this node coordinates one of that id; one whose last
        member's session ran out is gone."""
        group = self.groups.get(group_id)
        if group is not None:
            group.expire(self.now_ms(), int(self.config(group_id)["share.session.timeout.ms"]), self.partition_count)
            if not group.members:
                del self.groups[group_id]
                return None
        return group

    def summaries(self) -> list[dict[str, str | int]]:
        """The share groups coordinated here, as ListGroups lists them (and their member counts)."""
        return [{"group_id": g, "state": "Stable", "group_type": "share", "protocol_type": "share",
                 "members": len(group.members)}
                for g in sorted(self.groups) if (group := self.group(g)) is not None]

    def _state_key(self, group_id: str, topic: str, index: int) -> str:
        """Where its share coordinator keeps the share-partition (by topic id, as Kafka)."""
        image_topic = self._image().topic(topic)
        if image_topic is None:
            raise UnknownTopicOrPartition(f"UNKNOWN_TOPIC_OR_PARTITION: {topic!r} does not exist")
        return state_key(group_id, image_topic.topic_id, index)

    async def stored(self, group_id: str, topic: str, index: int) -> ShareSnapshot | None:
        """A share-partition's state as its share coordinator holds it (None: never read)."""
        return await self._recall(self._state_key(group_id, topic, index), -1)

    # -- the partition leader's part: records in flight ----------------------------------
    async def _held(self, key: PartitionKey, replica: PartitionReplica, reset: str | None = None) -> _Held:
        """The group's share-partition for this leader replica, taken over (its stored
        state read) the first time and whenever the leader epoch moved; locks that ran
        out released. reset: where a share-partition never stored starts (a REST share
        consumer's auto.offset.reset), else the group's share.auto.offset.reset."""
        held = self.partitions.get(key)
        if held is None or held.leader_epoch != replica.leader_epoch:
            async with self._loading.setdefault(key, asyncio.Lock()):  # one take-over of a key at a time
                held = self.partitions.get(key)
                if held is None or held.leader_epoch != replica.leader_epoch:
                    held = await self._take_over(key, replica, reset)
        held.config = config = self.config(key[0])
        held.partition.lock_ms = int(config["share.record.lock.duration.ms"])
        held.partition.delivery_limit = int(config["share.delivery.count.limit"])
        start, _ = replica.readable_range()
        held.partition.log_start_moved(start)
        held.partition.expire_locks(self.now_ms())
        if held.partition.dead:  # locks run out at the delivery limit
            await self._bury(key, held, replica)
        return held

    async def _take_over(self, key: PartitionKey, replica: PartitionReplica, reset: str | None) -> _Held:
        group_id, topic, index = key
        epoch, skey = replica.leader_epoch, self._state_key(group_id, topic, index)
        stored = await self._recall(skey, epoch)  # the leader before this one can no longer write it
        partition = SharePartition(0, 0, 0, self.settings.share_partition_max_record_locks)
        if stored is not None:
            partition.restore(stored.start_offset, stored.runs)
        else:  # a partition this group has not read: where share.auto.offset.reset says
            log_start, hw = replica.readable_range()
            where = reset or self.config(group_id)["share.auto.offset.reset"]
            partition.restore(log_start if where == "earliest" else hw, ())
        held = _Held(epoch, skey, partition, stored.state_epoch if stored is not None else 0, replica=replica)
        if stored is None or stored.leader_epoch < epoch:  # kept at once: a later leader starts here too
            await self._save(held)
        if replica.leader_epoch != epoch:
            raise FencedLeaderEpoch(f"FENCED_LEADER_EPOCH: {topic}-{index} changed leader while loading; retry")
        self.partitions[key] = held
        return held

    async def _save(self, held: _Held) -> None:
        """Store the share-partition's state (acks=all at its share coordinator); a leader
        fenced by a newer one forgets its copy."""
        async with held.writing:  # the state is read inside: writes never pass each other
            snapshot = ShareSnapshot(held.leader_epoch, held.partition.start,
                                     tuple(StateRun._make(run) for run in held.partition.runs()), held.state_epoch)
            try:
                await self._persist(held.state_key, snapshot)
            except FencedLeaderEpoch:
                for key in [k for k, h in self.partitions.items() if h is held]:
                    del self.partitions[key]
                raise

    async def acknowledge(self, key: PartitionKey, replica: PartitionReplica, member_id: str, acks: list[Ack],
                          renew_allowed: bool) -> None:
        """Apply the acknowledgements (all or none: AckRefused) and keep them durable
        before the client hears they were taken."""
        held = await self._held(key, replica)
        held.partition.acknowledge(member_id, acks, self.now_ms(), renew_allowed)
        self._note_locks(key, held)
        unwritten = await self._bury(key, held, replica)  # before the state: a crash between them repeats one
        await self._save(held)
        if unwritten is not None:  # taken, not yet durable: the client must not count on it
            raise OutcomeUnknown(f"REQUEST_TIMED_OUT: the dead letters of {key[1]}-{key[2]} are not written yet "
                                 f"({unwritten}); they are tried again, and the records come back if this leader "
                                 "fails first")

    async def acquire(self, key: PartitionKey, replica: PartitionReplica, member_id: str, max_records: int,
                      max_bytes: int, reset: str | None = None, record_limit: bool = False) -> Fetched:
        """Records for `member_id` from this leader's log (below its high watermark);
        max_records 0 only takes the share-partition over (it then has its start)."""
        held = await self._held(key, replica, reset)
        partition = held.partition
        offset = partition.fetch_offset()
        if offset is None or max_records <= 0:
            return Fetched(b"", [])
        # the one read (replication/partition_read.py), at the group's isolation
        committed = held.config["share.isolation.level"] == "read_committed"
        plan = replica.plan_read(ReadRequest(offset, max_bytes, Isolation.COMMITTED if committed
                                             else Isolation.UNCOMMITTED))
        taken = replica.take(plan)
        data = taken.records
        if not data:
            return Fetched(b"", [])
        batches, ends = _batches(data, taken.aborted)
        acquired = partition.acquire(member_id, batches, max_records, self.now_ms(), record_limit)
        if not acquired:
            return Fetched(b"", [])
        self._note_locks(key, held)
        last = acquired[-1].last_offset  # batches past the last acquired record are not sent
        cut = next((end for batch, end in zip(batches, ends) if batch.last_offset >= last), len(data))
        return Fetched(data[:cut], acquired)

    async def release_member(self, key: PartitionKey, replica: PartitionReplica, member_id: str) -> None:
        """The member's share session closed: what it holds on this partition goes back."""
        held = self.partitions.get(key)
        if held is not None and held.leader_epoch == replica.leader_epoch and held.partition.release_member(member_id):
            held.config = self.config(key[0])
            await self._bury(key, held, replica)
            await self._save(held)

    async def _bury(self, key: PartitionKey, held: _Held, replica: PartitionReplica) -> KraftError | None:
        """KIP-1191: the records archived for failing go to the group's dead-letter topic,
        when it has one that allows it (without one they are archived, as in Kafka; with
        one that does not allow it, a warning names them). A write that fails (its leader
        moving) is tried again at the next use of the share-partition; until then the
        records are stored available, so a crash delivers them again rather than losing
        them. The write's error when it failed."""
        async with held.burying:  # one write of the same dead letters at a time
            dead = list(held.partition.dead)
            if not dead:
                return None
            group_id, topic, index = key
            config = held.config
            target = config["errors.deadletterqueue.topic.name"]
            problem, partitions = (None, 0) if not target else \
                dead_letter_problem(self._image(), target, self.settings.dead_letter_topic_prefix)
            if problem is not None:
                log.warning("share group %r: %d dead letters of %s-%d not written: %s", group_id, len(dead), topic,
                            index, problem)
            if target and problem is None:
                copy = config["errors.deadletterqueue.copy.record.enable"] == "true"
                now = wall_ms()
                records = [dead_letter_record(group_id, topic, index, d,
                                              source_record(replica, d.offset) if copy else None, now) for d in dead]
                try:
                    await self._dead_letter(target, index % partitions, records)
                except KraftError as exc:
                    log.info("share group %r: %d dead letters of %s-%d not yet written to %s (%s): tried again "
                             "at the next use", group_id, len(dead), topic, index, target, exc)
                    return exc
            held.partition.buried(dead)
            return None

    # -- the lock clock ------------------------------------------------------------------
    def _note_locks(self, key: PartitionKey, held: _Held) -> None:
        deadline = held.partition.next_lock_deadline()
        if deadline is None:
            return
        if not self._deadlines or deadline < self._deadlines[0][0]:
            self._earlier.set()
        heapq.heappush(self._deadlines, (deadline, key))

    async def run(self) -> None:
        """Release the locks that ran out at their deadlines (the node's task, cancelled
        at its stop); the rest of the share-partition's upkeep stays with its next use."""
        while True:
            self._earlier.clear()
            now = self.now_ms()
            due: set[PartitionKey] = set()
            while self._deadlines and self._deadlines[0][0] <= now:
                due.add(heapq.heappop(self._deadlines)[1])
            for key in sorted(due):
                await self._expire(key)
            wait_s = (self._deadlines[0][0] - self.now_ms()) / 1000 if self._deadlines else None
            try:
                await asyncio.wait_for(self._earlier.wait(), None if wait_s is None else max(0.0, wait_s))
            except TimeoutError:
                pass

    async def _expire(self, key: PartitionKey) -> None:
        held = self.partitions.get(key)
        replica = held.replica if held is not None else None
        if held is None or replica is None or not replica.is_leader or replica.leader_epoch != held.leader_epoch:
            return  # taken over again elsewhere: the new leader's own locks count
        try:
            if held.partition.expire_locks(self.now_ms()):
                await self._bury(key, held, replica)
                await self._save(held)
        except KraftError as exc:  # the next use stores it (and tries the dead letters again)
            log.info("share-partition %s: locks run out, not stored yet: %s", key, exc)
        except Exception:  # the clock keeps running for every other partition
            log.exception("share-partition %s: releasing the locks that ran out failed", key)

    def live_view(self, key: PartitionKey, replica: PartitionReplica) -> dict[str, object] | None:
        """The share-partition as this leader holds it now (for the admin views): its start
        and end offsets (SPSO, SPEO), the high watermark, and the records between SPSO and
        SPEO by state, acquired ones apart; None when this leader has not taken it over
        (then nothing is acquired, and the stored state is the whole of it)."""
        held = self.partitions.get(key)
        if held is None or held.leader_epoch != replica.leader_epoch:
            return None
        partition = held.partition
        return {"start_offset": partition.start, "end_offset": partition.end,
                "high_watermark": replica.readable_range()[1], "in_flight": partition.counts()}

    def forget(self, key: PartitionKey) -> None:
        """An admin altered or deleted the share-partition's stored state: the next use
        reads it again."""
        self.partitions.pop(key, None)

    def next_lock_deadline(self, keys: Iterable[PartitionKey]) -> int | None:
        deadlines = [d for key in keys if (held := self.partitions.get(key)) is not None
                     and (d := held.partition.next_lock_deadline()) is not None]
        return min(deadlines) if deadlines else None


def _batches(data: bytes, aborted: list[AbortedTxn]) -> tuple[list[Batch], list[int]]:
    """Each batch's offsets and the byte where it ends (the log checked them when it read
    them); control batches, and those of the aborted transactions given, are withheld."""
    batches, ends, pos = [], [], 0
    while pos < len(data):
        header = BatchHeader.parse(data, pos)
        pos += header.size
        dropped = header.is_transactional and any(
            a.producer_id == header.producer_id and a.first_offset <= header.base_offset <= a.last_offset
            for a in aborted)
        batches.append(Batch(header.base_offset, header.last_offset, header.is_control or dropped))
        ends.append(pos)
    return batches, ends
