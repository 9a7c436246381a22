"""GroupCoordinator's transactional offset commits (TxnOffsetCommit, KIP-447) over a real
partition log on disk, with real asyncio: one transactional batch per commit, pending
until complete_transaction, the same state after a reload from the log, and the
Kafka OffsetFetch handler's require_stable."""

from __future__ import annotations

import asyncio
import struct
from types import SimpleNamespace

import pytest

from kraft.config.cluster import GroupSettings
from kraft.errors import ConsumerConflict, ConsumerInstanceNotFound, FencedInstanceId, InvalidProducerIdMapping, \
    NotLeaderOrFollower, UnknownTopicOrPartition
from kraft.groups.coordinator_placement import OFFSETS_TOPIC
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.groups.offset_store import CommittedOffset
from kraft.kafka.handlers import group_api
from kraft.kafka.wire.codec import RequestHead
from kraft.kafka.connection.request_context import RequestContext
from kraft.metadata.image import MetadataImage, PartitionRegistration, TopicImage
from kraft.replication.replica_reads import ReplicaReads
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record import Record
from kraft.storage.record_batch import NO_SEQUENCE, BatchHeader, encode_batch, iter_batches

from coordinator_logs import HeldCommits

NODE = 1
GROUP = "g"
UNSTABLE_OFFSET_COMMIT = 88


def image() -> MetadataImage:
    def topic(name: str, count: int) -> TopicImage:
        leaders = tuple(PartitionRegistration((NODE,), (NODE,), NODE) for _ in range(count))
        return TopicImage(name, f"id-{name}", leaders)

    topics = [topic(OFFSETS_TOPIC, 1), topic("t", 2)]
    return MetadataImage(offset=1, topics={t.topic_id: t for t in topics},
                         topic_ids={t.name: t.topic_id for t in topics})


class LeaderReplica(ReplicaReads, HeldCommits):
    """A leader replica as the coordinator sees it: its read surface over a real log, and
    its high watermark (the Appender holds it while an acks=all wait is held or failed)."""

    def __init__(self, log: PartitionLog, leader_epoch: int = 0):
        self.log, self.is_leader, self.leader_epoch = log, True, leader_epoch


class Replicas:
    """One leader replica of the offsets partition, over a real log."""

    def __init__(self, log: PartitionLog, leader_epoch: int = 0):
        self.offsets = LeaderReplica(log, leader_epoch)

    def replica(self, topic: str, partition: int):
        return self.offsets if (topic, partition) == (OFFSETS_TOPIC, 0) else None


class Appender:
    """append_local: the leader append, then (when `hold` is set) a wait that stands in
    for the acks=all wait; `fail` makes the wait end in an error, `refuse` the append
    itself (nothing reaches the log)."""

    def __init__(self, log: PartitionLog, replica: LeaderReplica):
        self.log, self.replica = log, replica
        self.hold: asyncio.Event | None = None
        self.fail: Exception | None = None
        self.refuse: Exception | None = None

    async def __call__(self, topic: str, partition: int, batch: bytes, timeout_ms: int, timestamp: int,
                       on_appended=None) -> int:
        assert (topic, partition) == (OFFSETS_TOPIC, 0)
        if self.refuse is not None:
            raise self.refuse
        self.replica.hold_commits()
        base, _ = self.log.append(batch, leader_epoch=0)
        end = self.log.log_end_offset
        if on_appended is not None:
            on_appended(base)
        if self.hold is not None:
            await self.hold.wait()
        if self.fail is not None:
            raise self.fail  # the batch stays above the high watermark
        self.replica.commit_through(end)
        return base


def coordinator(log: PartitionLog, **groups) -> tuple[GroupCoordinator, Appender]:
    """groups: GroupSettings by their cluster.toml names, beside the test's own."""
    async def no_controller(path: str, body: dict) -> dict:
        raise AssertionError("the offsets topic exists")

    async def no_wait(offset: int, timeout_s: float) -> bool:
        return True

    replicas = Replicas(log)
    appender = Appender(log, replicas.offsets)
    snapshot = image()
    # no initial rebalance delay, as test clusters: nothing here ticks the groups' clocks
    settings = GroupSettings.model_validate({"group.initial.rebalance.delay.ms": 0, **groups})
    return GroupCoordinator(NODE, settings, lambda: snapshot, replicas, no_controller, no_wait,
                            appender), appender


def append_marker(log: PartitionLog, producer_id: int, producer_epoch: int, commit: bool) -> None:
    """A transaction marker as the wiring appends it (Kafka's control batch layout)."""
    if hasattr(log, "append_marker"):  # the storage part's leader path, once there
        log.append_marker(producer_id, producer_epoch, commit, 0, 0)
        return
    record = Record(struct.pack(">hh", 0, 1 if commit else 0), struct.pack(">hi", 0, 0), (), 0)
    log.append(encode_batch([record], 0, 0, producer_id, producer_epoch, NO_SEQUENCE, is_transactional=True,
                            is_control=True), leader_epoch=0)


def headers(log: PartitionLog) -> list[BatchHeader]:
    return [h for _, h in iter_batches(log.read(log.log_start_offset, 10**9))]


@pytest.fixture
def log(tmp_path):
    log = PartitionLog.open(tmp_path / "offsets")
    yield log
    log.close()


async def loaded(log: PartitionLog) -> tuple[GroupCoordinator, Appender]:
    coord, appender = coordinator(log)
    assert await coord.locate(GROUP) is None  # leads the partition: loads it from the log
    return coord, appender


async def test_a_transactional_commit_is_one_transactional_batch_and_pending_until_its_marker(log):
    coord, _ = await loaded(log)
    await coord.commit(GROUP, {("t", 0): (3, "")})
    refused = await coord.txn_offset_commit(GROUP, 70, 2, -1, "", None, {("t", 0): (10, "a"), ("t", 1): (11, "b")})
    assert refused == {}
    txn = headers(log)[-1]
    assert txn.is_transactional and not txn.is_control and txn.record_count == 2
    assert (txn.producer_id, txn.producer_epoch, txn.base_sequence) == (70, 2, NO_SEQUENCE)
    assert coord.committed(GROUP, "t", 0).offset == 3 and coord.committed(GROUP, "t", 1) is None
    assert coord.unstable_offsets(GROUP) == {("t", 0), ("t", 1)}
    append_marker(log, 70, 2, commit=True)
    coord.complete_transaction(0, 70, commit=True)
    visible = coord.committed(GROUP, "t", 0)
    assert visible == CommittedOffset(10, "a", visible.commit_timestamp_ms, txn.base_offset, "id-t")
    assert coord.committed(GROUP, "t", 1).offset == 11 and coord.unstable_offsets(GROUP) == frozenset()
    reloaded, _ = await loaded(log)
    assert reloaded.committed_of_group(GROUP) == coord.committed_of_group(GROUP)


async def test_an_aborted_transaction_leaves_the_committed_offsets_and_a_reload_agrees(log):
    coord, _ = await loaded(log)
    await coord.commit(GROUP, {("t", 0): (3, "")})
    await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 0): (10, "")})
    append_marker(log, 70, 0, commit=False)
    coord.complete_transaction(0, 70, commit=False)
    assert coord.committed(GROUP, "t", 0).offset == 3 and coord.unstable_offsets(GROUP) == frozenset()
    reloaded, _ = await loaded(log)
    assert reloaded.committed(GROUP, "t", 0).offset == 3 and reloaded.unstable_offsets(GROUP) == frozenset()


async def test_a_plain_commit_after_the_transactions_offset_keeps_precedence_live_and_after_a_reload(log):
    coord, _ = await loaded(log)
    await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 0): (10, "")})
    await coord.commit(GROUP, {("t", 0): (20, "")})
    append_marker(log, 70, 0, commit=True)
    coord.complete_transaction(0, 70, commit=True)
    assert coord.committed(GROUP, "t", 0).offset == 20
    reloaded, _ = await loaded(log)
    assert reloaded.committed(GROUP, "t", 0).offset == 20


async def test_pending_offsets_survive_an_unload_in_the_log_and_a_reload_finds_them_pending(log):
    coord, _ = await loaded(log)
    await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 0): (10, "")})
    coord.runtime.unload(0)  # leadership moved away: the pending state is only in the log now
    coord.complete_transaction(0, 70, commit=True)  # not loaded here: nothing to do
    assert await coord.locate(GROUP) is None
    assert coord.unstable_offsets(GROUP) == {("t", 0)} and coord.committed(GROUP, "t", 0) is None
    append_marker(log, 70, 0, commit=True)
    coord.complete_transaction(0, 70, commit=True)
    assert coord.committed(GROUP, "t", 0).offset == 10
    reloaded, _ = await loaded(log)  # a load replays the marker itself
    assert reloaded.committed(GROUP, "t", 0).offset == 10 and reloaded.unstable_offsets(GROUP) == frozenset()


async def test_unknown_topics_and_partitions_are_refused_and_the_rest_written(log):
    coord, _ = await loaded(log)
    refused = await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None,
                                            {("t", 0): (1, ""), ("t", 9): (1, ""), ("nope", 0): (1, "")})
    assert set(refused) == {("t", 9), ("nope", 0)}
    assert all(isinstance(e, UnknownTopicOrPartition) and e.kafka_code == 3 for e in refused.values())
    assert coord.unstable_offsets(GROUP) == {("t", 0)} and headers(log)[-1].record_count == 1
    before = log.log_end_offset
    assert set(await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 5): (1, "")})) == {("t", 5)}
    assert log.log_end_offset == before  # nothing to write: no batch
    with pytest.raises(InvalidProducerIdMapping):
        await coord.txn_offset_commit(GROUP, -1, 0, -1, "", None, {("t", 0): (1, "")})


async def test_kip_447_checks_generation_and_member_of_a_kafka_client_group(log):
    coord, _ = await loaded(log)
    group = coord.kafka_client_group(GROUP)
    joined = await group.join(None, "client", 10_000, 5_000, "consumer", [("range", b"")], frozenset({"t"}), 0)
    member, generation = joined.member_id, joined.generation
    # the group is CompletingRebalance (no SyncGroup yet): Kafka accepts a transactional commit
    assert await coord.txn_offset_commit(GROUP, 70, 0, generation, member, None, {("t", 0): (1, "")}) == {}
    with pytest.raises(ConsumerConflict) as stale:
        await coord.txn_offset_commit(GROUP, 70, 0, generation - 1, member, None, {("t", 0): (2, "")})
    assert stale.value.kafka_code == 22  # ILLEGAL_GENERATION
    with pytest.raises(ConsumerInstanceNotFound) as unknown:
        await coord.txn_offset_commit(GROUP, 70, 0, generation, "stranger", None, {("t", 0): (2, "")})
    assert unknown.value.kafka_code == 25  # UNKNOWN_MEMBER_ID
    with pytest.raises(ConsumerConflict):  # a member id with generation -1 is checked too
        await coord.txn_offset_commit(GROUP, 70, 0, -1, member, None, {("t", 0): (2, "")})
    # an old client (generation -1, no member) is not checked, members or not
    assert await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 0): (3, "")}) == {}
    assert coord.runtime.shards[0].cache.pending(70, GROUP, "t", 0).offset == 3


async def test_kip_447_fences_a_replaced_static_members_old_process(log):
    # Kafka's ClassicGroup.validateOffsetCommit checks the instance id for a
    # transactional commit too: the old process gets FENCED_INSTANCE_ID
    coord, _ = await loaded(log)
    group = coord.kafka_client_group(GROUP)
    first = await group.join(None, "client", 10_000, 5_000, "consumer", [("range", b"")], frozenset({"t"}), 0, "box")
    back = await group.join(None, "client", 10_000, 5_000, "consumer", [("range", b"")], frozenset({"t"}), 1, "box")
    assert back.member_id != first.member_id
    with pytest.raises(FencedInstanceId) as fenced:
        await coord.txn_offset_commit(GROUP, 70, 0, back.generation, first.member_id, "box", {("t", 0): (1, "")})
    assert fenced.value.kafka_code == 82
    assert await coord.txn_offset_commit(GROUP, 70, 0, back.generation, back.member_id, "box",
                                         {("t", 0): (1, "")}) == {}


async def test_kip_447_for_a_group_without_members(log):
    coord, _ = await loaded(log)
    with pytest.raises(ConsumerConflict) as exc:  # no such group: Kafka answers ILLEGAL_GENERATION
        await coord.txn_offset_commit("new", 70, 0, 4, "m", None, {("t", 0): (1, "")})
    assert exc.value.kafka_code == 22
    assert await coord.txn_offset_commit("new", 70, 0, -1, "m", None, {("t", 0): (1, "")}) == {}  # only stores offsets
    with pytest.raises(ConsumerInstanceNotFound):  # a group with offsets and no members: the member is unknown
        await coord.txn_offset_commit("new", 70, 0, 4, "m", "instance", {("t", 0): (1, "")})


async def test_a_transaction_that_ends_while_the_acks_wait_is_in_flight_follows_its_outcome(log):
    coord, appender = await loaded(log)
    appender.hold = asyncio.Event()
    committing = asyncio.create_task(coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 0): (10, "")}))
    aborting = asyncio.create_task(coord.txn_offset_commit(GROUP, 80, 0, -1, "", None, {("t", 1): (11, "")}))
    for _ in range(10):
        await asyncio.sleep(0)
    # pending once in this node's log, before the acks=all wait ends
    assert coord.unstable_offsets(GROUP) == {("t", 0), ("t", 1)} and not committing.done()
    append_marker(log, 70, 0, commit=True)
    coord.complete_transaction(0, 70, commit=True)
    append_marker(log, 80, 0, commit=False)
    coord.complete_transaction(0, 80, commit=False)
    appender.hold.set()
    assert await committing == {} and await aborting == {}
    assert coord.committed(GROUP, "t", 0).offset == 10 and coord.committed(GROUP, "t", 1) is None
    assert coord.unstable_offsets(GROUP) == frozenset()
    reloaded, _ = await loaded(log)
    assert reloaded.committed_of_group(GROUP) == coord.committed_of_group(GROUP)


async def test_a_failed_append_leaves_the_offsets_as_the_log_holds_them(log):
    coord, appender = await loaded(log)
    appender.refuse = NotLeaderOrFollower("moved")  # nothing reached the log: nothing pending
    with pytest.raises(NotLeaderOrFollower):
        await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 0): (10, "")})
    assert coord.unstable_offsets(GROUP) == frozenset()
    appender.refuse, appender.fail = None, NotLeaderOrFollower("moved")  # in the log, not acknowledged
    with pytest.raises(NotLeaderOrFollower):
        await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 0): (10, "")})
    assert coord.unstable_offsets(GROUP) == {("t", 0)}
    reloaded, _ = await loaded(log)
    assert reloaded.unstable_offsets(GROUP) == {("t", 0)}  # as a load of the log finds it


async def test_a_plain_commit_waiting_for_its_acknowledgement_is_unstable(log):
    coord, appender = await loaded(log)
    appender.hold = asyncio.Event()
    committing = asyncio.create_task(coord.commit(GROUP, {("t", 0): (5, "")}))
    await asyncio.sleep(0)
    assert coord.unstable_offsets(GROUP) == {("t", 0)}
    appender.hold.set()
    await committing
    assert coord.unstable_offsets(GROUP) == frozenset() and coord.committed(GROUP, "t", 0).offset == 5


async def test_a_delete_follows_a_commit_still_waiting_for_its_acknowledgement(log):
    coord, appender = await loaded(log)
    appender.hold = asyncio.Event()
    committing = asyncio.create_task(coord.commit(GROUP, {("t", 0): (5, "")}))
    for _ in range(10):
        await asyncio.sleep(0)
    assert coord.committed(GROUP, "t", 0).offset == 5 and not committing.done()  # in the log, not acknowledged
    deleting = asyncio.create_task(coord.delete_offsets(GROUP, [("t", 0)]))
    for _ in range(10):
        await asyncio.sleep(0)
    assert coord.committed(GROUP, "t", 0) is None and not deleting.done()  # the tombstone is behind it
    appender.hold.set()
    await committing
    assert await deleting == {("t", 0): None}
    assert [h.record_count for h in headers(log)] == [1, 1] and coord.committed(GROUP, "t", 0) is None
    reloaded, _ = await loaded(log)
    assert reloaded.committed(GROUP, "t", 0) is None


# -- OffsetFetch (v7) require_stable -------------------------------------------------------------
def fetch_request(require_stable: bool, topics=None):
    wanted = None if topics is None else [SimpleNamespace(name=t, partition_indexes=ps) for t, ps in topics.items()]
    return SimpleNamespace(group_id=GROUP, topics=wanted, require_stable=require_stable)


def partitions(answer: dict) -> dict:
    return {(t["name"], p["partition_index"]): (p["committed_offset"], p["error_code"])
            for t in answer["topics"] for p in t["partitions"]}


V7 = RequestContext(RequestHead(9, 7, 0, None))  # an OffsetFetch v7 request, no connection


async def test_offset_fetch_require_stable_answers_unstable_offset_commit_per_pending_partition(log):
    coord, _ = await loaded(log)
    node = SimpleNamespace(groups=coord, image=image())
    await coord.commit(GROUP, {("t", 0): (3, ""), ("t", 1): (4, "")})
    await coord.txn_offset_commit(GROUP, 70, 0, -1, "", None, {("t", 0): (10, "")})
    named = fetch_request(True, {"t": [0, 1]})
    answer = await group_api.offset_fetch(node, V7, named)
    assert answer["error_code"] == 0  # v7 answers it per partition
    assert partitions(answer) == {("t", 0): (-1, UNSTABLE_OFFSET_COMMIT), ("t", 1): (4, 0)}
    every = await group_api.offset_fetch(node, V7, fetch_request(True))
    assert partitions(every) == {("t", 0): (-1, UNSTABLE_OFFSET_COMMIT), ("t", 1): (4, 0)}
    loose = await group_api.offset_fetch(node, V7, fetch_request(False, {"t": [0, 1]}))
    assert partitions(loose) == {("t", 0): (3, 0), ("t", 1): (4, 0)}  # the last stable offsets
    append_marker(log, 70, 0, commit=True)
    coord.complete_transaction(0, 70, commit=True)
    assert partitions(await group_api.offset_fetch(node, V7, named)) == {("t", 0): (10, 0), ("t", 1): (4, 0)}



async def test_a_tick_whose_expiry_waits_for_its_commit_does_not_hold_the_runtime(log):  # noqa: F811
    """A member expired by the tick is written, and that write waits for its commit; a
    follower behind must not hold the runtime's tick (and with it the shards' loading)."""
    from kraft.coordinator.runtime import mono_ms
    from kraft.groups.consumer_group_types import Heartbeat
    coord, appender = coordinator(log, **{"group.consumer.session.timeout.ms": 1000,
                                          "group.consumer.heartbeat.interval.ms": 100})
    assert await coord.locate(GROUP) is None
    coord.loaded.topic_counts = {"t": 2}
    joined = await coord.consumer_heartbeat(GROUP, Heartbeat("m1", 0, mono_ms(), rebalance_timeout_ms=5_000,
                                                             topic_names=("t",), owned=frozenset()))
    assert joined.member_epoch > 0
    appender.hold = asyncio.Event()  # the followers stop acknowledging
    await asyncio.sleep(1.2)  # past the member's session
    await asyncio.wait_for(coord.runtime._tick(), 2.0)  # returns: the expiry's write waits in a task of its own
    await asyncio.wait_for(coord.runtime._tick(), 2.0)
    ticks = [t for t in coord.runtime.tasks if t.get_name() == "consumer-groups-tick"]
    assert len(ticks) == 1  # and a second tick started no second expiry beside it
    appender.hold.set()
    await asyncio.wait_for(asyncio.gather(*coord.runtime.tasks), 5.0)
    group = coord.consumer_group(GROUP)
    assert group is not None and not group.members  # expired, and written
