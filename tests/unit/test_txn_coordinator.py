"""The transaction coordinator's driver on real asyncio, over real partition logs on disk.

What stands for other nodes is in memory (`Cluster`): the metadata image and the
controller, acks=all replication (an append here is taken as replicated at once), and
the partition leaders that receive WriteTxnMarkers (they answer from a script). The
coordinator's own work is real: it follows leadership of __transaction_state, loads by
replaying the local log, appends its state changes, retries markers, and shuts down.
Nothing is timed: waits poll a condition, with a bound so a bug fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from kraft.errors import (
    ConcurrentTransactions,
    CoordinatorNotAvailable,
    InvalidProducerIdMapping,
    InvalidTransactionTimeout,
    NotCoordinator,
    NotEnoughReplicas,
    NotLeaderOrFollower,
    OutcomeUnknown,
    ProducerFenced,
    TransactionalIdNotFound,
)
from kraft.groups.coordinator_placement import coordinator_partition
from kraft.metadata.image import BrokerRegistration, MetadataImage, PartitionRegistration, TopicImage
from kraft.replication.replica_reads import ReplicaReads
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import decode_records
from kraft.transactions.txn_coordinator import TransactionCoordinator
from kraft.coordinator.loader import replay_records
from kraft.transactions.txn_log import load, parse_key, parse_value
from kraft.transactions.txn_markers import TxnMarker
from kraft.transactions.txn_placement import TXN_STATE_TOPIC, txn_partition
from kraft.config.transaction_settings import TransactionSettings

NODE = 1
TXN_PARTITIONS = 2
TP0, TP1 = ("t", 0), ("t", 1)


class Replica(ReplicaReads):
    """A leader replica as the coordinator sees it: its read surface over a real log."""

    def __init__(self, log: PartitionLog, leader_epoch: int):
        self.log, self.leader_epoch, self.is_leader = log, leader_epoch, True
        self.hw_held_at: int | None = None  # a follower has not caught up past this offset

    @property
    def high_watermark(self) -> int:
        end = self.log.log_end_offset
        return end if self.hw_held_at is None else min(end, self.hw_held_at)

    async def wait_committed(self, last_offset: int, epoch: int, deadline: float) -> None:
        """As PartitionReplica's: until the HW passes last_offset in that leader epoch."""
        while self.high_watermark <= last_offset:
            if not self.is_leader or self.leader_epoch != epoch or time.monotonic() >= deadline:
                raise OutcomeUnknown("not committed in that epoch")
            await asyncio.sleep(0.01)


class Cluster:
    """The rest of the cluster, in memory (module docstring)."""

    def __init__(self, tmp_path, with_txn_topic: bool = True):
        self.tmp_path = tmp_path
        self.topics = {"t": 2, "__consumer_offsets": 50}
        self.replicas: dict[int, Replica] = {}
        self.logs: list[PartitionLog] = []
        self.markers: list[TxnMarker] = []
        self.refuse: dict[tuple[str, int], list[BaseException]] = {}  # answers before accepting
        self.created: list[dict] = []
        self.next_pid = 1000
        # the acks=all wait of a Complete state's append: held until set, then failed with
        self.held: asyncio.Event | None = None
        self.replication_fails: Exception | None = None
        self.prepare_fails: Exception | None = None  # the acks=all wait of a Prepare state's append
        self.ongoing_fails: Exception | None = None  # the acks=all wait of an Ongoing state's (an addition)
        self.now = 10_000_000  # the wall clock the coordinator reads
        if with_txn_topic:
            self.make_txn_topic(TXN_PARTITIONS)

    def make_txn_topic(self, count: int) -> None:
        self.topics[TXN_STATE_TOPIC] = count
        for p in range(count):
            log = PartitionLog.open(self.tmp_path / f"{TXN_STATE_TOPIC}-{p}")
            self.logs.append(log)
            self.replicas[p] = Replica(log, 1)

    def image(self) -> MetadataImage:
        broker = BrokerRegistration(NODE, 1, "inc", "127.0.0.1", 1, ("broker",), fenced=False)
        topics = {f"id-{name}": TopicImage(name, f"id-{name}", tuple(
            PartitionRegistration((NODE,), (NODE,), NODE, 1) for _ in range(n))) for name, n in self.topics.items()}
        return MetadataImage(offset=1, brokers={NODE: broker}, topics=topics,
                             topic_ids={name: f"id-{name}" for name in self.topics})

    def replica(self, topic: str, partition: int):
        return self.replicas.get(partition) if topic == TXN_STATE_TOPIC else None

    async def append(self, topic: str, partition: int, batch: bytes, timeout_ms: int, timestamp: int,
                     on_appended=None) -> int:
        replica = self.replicas[partition]
        if not replica.is_leader:
            raise NotLeaderOrFollower("not the leader")
        base, _ = replica.log.append(batch, replica.leader_epoch)
        if on_appended is not None:
            on_appended(base)
        await asyncio.sleep(0)  # the followers' acknowledgements
        states = [t.state.value for t in (parse_value(r.value) for r in decode_records(batch, verify=False) if r.value)
                  if t is not None]
        if self.prepare_fails is not None and any(s.startswith("Prepare") for s in states):
            raise self.prepare_fails
        if self.ongoing_fails is not None and "Ongoing" in states:
            raise self.ongoing_fails
        if any(s.startswith("Complete") for s in states):
            if self.held is not None:
                await self.held.wait()
            if self.replication_fails is not None:
                raise self.replication_fails
        return base

    async def send_markers(self, markers):
        answers = []
        for marker in markers:
            self.markers.append(marker)
            answers.append({tp: (self.refuse[tp].pop(0) if self.refuse.get(tp) else None) for tp in marker.partitions})
        await asyncio.sleep(0)
        return answers

    async def next_id(self) -> int:
        self.next_pid += 1
        return self.next_pid

    async def controller_call(self, op: str, args: dict) -> dict:
        assert op == "create_topic"
        self.created.append(args)
        self.make_txn_topic(args["partitions"])
        return {"metadata_offset": 2}

    async def wait_metadata(self, offset: int, timeout_s: float) -> bool:
        return True

    def close(self) -> None:
        for log in self.logs:
            log.close()


def coordinator(cluster: Cluster, **settings) -> TransactionCoordinator:
    return TransactionCoordinator(NODE, TransactionSettings(**settings), cluster.image, cluster,
                                  cluster.controller_call, cluster.wait_metadata, cluster.append, cluster.next_id,
                                  cluster.send_markers, clock_ms=lambda: cluster.now)


async def eventually(coord: TransactionCoordinator, condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        coord.on_metadata()
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def txn_states(plog: PartitionLog, tid: str) -> list:
    """Every state of the id its partition's log holds, in log order."""
    found: list = []
    replay_records(plog, lambda r: found.append(parse_value(r.value)) if parse_key(r.key) == tid and r.value else None)
    return found


async def state_of(coord: TransactionCoordinator, tid: str) -> str:
    return (await coord.describe(tid)).state


@pytest.fixture
async def running(tmp_path):
    """A cluster and a running coordinator; stopped (and checked stopped) afterwards."""
    cluster = Cluster(tmp_path)
    coord = coordinator(cluster)
    task = asyncio.create_task(coord.run())
    await eventually(coord, lambda: len(coord.loaded_partitions()) == TXN_PARTITIONS, "partitions loaded")
    yield cluster, coord
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert coord.runtime.tasks == set() and coord.loaded_partitions() == {}
    cluster.close()


async def test_commit_is_answered_after_prepare_then_markers_then_complete(running):
    cluster, coord = running
    assert coord.loaded_partitions() == {0: 1, 1: 1}  # coordinator epoch = the leader epoch
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    assert (pid, epoch) == (1001, 0)
    await coord.add_partitions("tx", pid, epoch, [TP0, TP1])
    assert await coord.verify_partitions("tx", pid, epoch, [TP0, ("t", 5)]) == {TP0: True, ("t", 5): False}
    cluster.refuse[TP1] = [NotLeaderOrFollower("moving"), NotLeaderOrFollower("moving")]
    await coord.end_txn("tx", pid, epoch, commit=True)
    assert await state_of(coord, "tx") in ("PrepareCommit", "CompleteCommit")
    await eventually(coord, lambda: load(cluster.logs[txn_partition("tx", 2)]).txns["tx"].state.value ==
                     "CompleteCommit", "CompleteCommit in the log")
    assert await state_of(coord, "tx") == "CompleteCommit"
    assert cluster.markers == [TxnMarker(pid, 0, True, 1, (TP0, TP1)), TxnMarker(pid, 0, True, 1, (TP1,)),
                               TxnMarker(pid, 0, True, 1, (TP1,))]  # only the refused partition again
    await coord.end_txn("tx", pid, epoch, commit=True)  # a retry: answered OK, nothing written
    assert len(cluster.markers) == 3
    with pytest.raises(ProducerFenced):
        await coord.add_partitions("tx", pid, 1, [TP0])
    with pytest.raises(InvalidProducerIdMapping):
        await coord.end_txn("unknown", pid, epoch, commit=True)
    with pytest.raises(InvalidTransactionTimeout):
        await coord.init_producer_id("tx", 900_001)


async def test_add_offsets_describe_and_list(running):
    cluster, coord = running
    pid, epoch = await coord.init_producer_id("a", 60_000)
    await coord.init_producer_id("b", 60_000)
    tp = await coord.add_offsets("a", pid, epoch, "group-1")
    assert tp == ("__consumer_offsets", coordinator_partition("group-1", 50))
    description = await coord.describe("a")
    assert (description.state, description.producer_id, description.partitions, description.start_ms) == \
        ("Ongoing", pid, (tp,), cluster.now)
    rows, unknown = await coord.list_transactions(states=["Ongoing", "Nope"])
    assert [(r.transactional_id, r.state) for r in rows] == [("a", "Ongoing")] and unknown == ["Nope"]
    assert {r.transactional_id for r in (await coord.list_transactions())[0]} == {"a", "b"}
    with pytest.raises(TransactionalIdNotFound):
        await coord.describe("c")


async def test_a_new_producer_instance_fences_the_ongoing_transaction(running):
    cluster, coord = running
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    await coord.add_partitions("tx", pid, epoch, [TP0])
    with pytest.raises(ConcurrentTransactions):  # the old transaction is aborted first
        await coord.init_producer_id("tx", 60_000)
    with pytest.raises((ProducerFenced, ConcurrentTransactions)):  # the old instance is out
        await coord.end_txn("tx", pid, epoch, commit=True)
    await eventually(coord, lambda: coord.runtime.shards[txn_partition("tx", 2)].txns["tx"].state.value == "CompleteAbort",
                     "the fenced transaction aborted")
    # the abort carries the bumped epoch, so it goes out as version 2 (a late copy cannot end the next one)
    assert cluster.markers == [TxnMarker(pid, 1, False, 1, (TP0,), 2)]
    assert await coord.init_producer_id("tx", 60_000) == (pid, 2)


async def test_a_transaction_open_past_its_timeout_is_aborted(tmp_path):
    cluster = Cluster(tmp_path)
    coord = coordinator(cluster, abort_timed_out_interval_ms=1)
    task = asyncio.create_task(coord.run())
    try:
        await eventually(coord, lambda: len(coord.loaded_partitions()) == TXN_PARTITIONS, "partitions loaded")
        pid, epoch = await coord.init_producer_id("slow", 1_000)
        await coord.add_partitions("slow", pid, epoch, [TP1])
        cluster.now += 1_001
        await eventually(coord, lambda: coord.runtime.shards[txn_partition("slow", 2)].txns["slow"].state.value ==
                         "CompleteAbort", "the timed-out transaction aborted")
        assert cluster.markers == [TxnMarker(pid, 1, False, 1, (TP1,), 2)]
        with pytest.raises(ProducerFenced):
            await coord.end_txn("slow", pid, epoch, commit=True)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cluster.close()


async def test_idle_transactional_ids_expire_with_a_tombstone(tmp_path):
    cluster = Cluster(tmp_path)
    coord = coordinator(cluster, transactional_id_expiration_ms=5_000, remove_expired_interval_ms=1)
    task = asyncio.create_task(coord.run())
    try:
        await eventually(coord, lambda: len(coord.loaded_partitions()) == TXN_PARTITIONS, "partitions loaded")
        pid, epoch = await coord.init_producer_id("idle", 60_000)
        await coord.init_producer_id("busy", 60_000)
        busy_pid, _ = await coord.init_producer_id("busy", 60_000)
        await coord.add_partitions("busy", busy_pid, 1, [TP0])
        cluster.now += 5_000
        p = txn_partition("idle", 2)
        await eventually(coord, lambda: "idle" not in coord.runtime.shards[p].txns, "the idle id forgotten")
        assert "idle" not in load(cluster.logs[p]).txns  # the tombstone is in the log
        with pytest.raises(TransactionalIdNotFound):
            await coord.describe("idle")
        assert await state_of(coord, "busy") == "Ongoing"  # an open transaction never expires
        assert (await coord.init_producer_id("idle", 60_000))[1] == 0  # a new start for the id
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cluster.close()


async def test_a_new_coordinator_finishes_the_transactions_it_loads(tmp_path):
    cluster = Cluster(tmp_path)
    first = coordinator(cluster)
    task = asyncio.create_task(first.run())
    await eventually(first, lambda: len(first.loaded_partitions()) == TXN_PARTITIONS, "partitions loaded")
    pid, epoch = await first.init_producer_id("tx", 60_000)
    await first.add_partitions("tx", pid, epoch, [TP0, TP1])
    cluster.refuse[TP0] = [NotLeaderOrFollower("down")] * 10_000  # never written while the first one runs
    await first.end_txn("tx", pid, epoch, commit=False)
    await eventually(first, lambda: len(cluster.markers) >= 3, "markers retried")
    task.cancel()  # the first coordinator goes away mid-way, its marker work with it
    await asyncio.gather(task, return_exceptions=True)
    assert first.runtime.tasks == set()
    sent = len(cluster.markers)
    await asyncio.sleep(0.1)
    assert len(cluster.markers) == sent
    p = txn_partition("tx", 2)
    assert load(cluster.logs[p]).txns["tx"].state.value == "PrepareAbort"

    cluster.refuse.clear()
    for replica in cluster.replicas.values():
        replica.leader_epoch = 2  # this node leads again, in a new epoch
    second = coordinator(cluster)
    task = asyncio.create_task(second.run())
    try:
        await eventually(second, lambda: load(cluster.logs[p]).txns["tx"].state.value == "CompleteAbort",
                         "the loaded PrepareAbort completed")
        # the log's PrepareAbort names both partitions: each gets a marker again, in the new epoch
        assert cluster.markers[-1] == TxnMarker(pid, 0, False, 2, (TP0, TP1))
        assert await state_of(second, "tx") == "CompleteAbort"
        assert await second.init_producer_id("tx", 60_000) == (pid, 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cluster.close()


async def test_a_loaded_version_2_end_still_sends_version_2_markers(tmp_path):
    """The log keeps that a PrepareCommit bumped the epoch past its data (EndTxn v5): the
    coordinator that loads it writes the markers as version 2 too, so a partition leader
    still refuses a late copy once the producer's next transaction is open there."""
    cluster = Cluster(tmp_path)
    first = coordinator(cluster)
    task = asyncio.create_task(first.run())
    await eventually(first, lambda: len(first.loaded_partitions()) == TXN_PARTITIONS, "partitions loaded")
    pid, epoch = await first.init_producer_id("tx", 60_000)
    await first.add_partitions("tx", pid, epoch, [TP0])
    cluster.refuse[TP0] = [NotLeaderOrFollower("down")] * 10_000
    await first.end_txn("tx", pid, epoch, commit=True, bump_epoch=True)
    await eventually(first, lambda: len(cluster.markers) >= 2, "markers retried")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    p = txn_partition("tx", 2)
    assert load(cluster.logs[p]).txns["tx"].bumped_end
    cluster.refuse.clear()
    for replica in cluster.replicas.values():
        replica.leader_epoch = 2
    second = coordinator(cluster)
    task = asyncio.create_task(second.run())
    try:
        await eventually(second, lambda: load(cluster.logs[p]).txns["tx"].state.value == "CompleteCommit",
                         "the loaded PrepareCommit completed")
        assert cluster.markers[-1] == TxnMarker(pid, epoch + 1, True, 2, (TP0,), 2)
        assert not load(cluster.logs[p]).txns["tx"].bumped_end  # the Complete state ends it
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cluster.close()


async def test_no_marker_goes_out_for_a_prepare_state_not_yet_committed(running):
    """An abort's PrepareAbort is in this node's log but its acks=all wait failed (no
    follower has it): its markers wait until the partition commits it. Had they gone out,
    and the record then been cut by a leadership move, the next coordinator would let the
    client commit a transaction whose records a marker had already aborted. When this node
    stops leading the partition first, none go out at all."""
    cluster, coord = running
    p = txn_partition("tx", 2)
    replica = cluster.replicas[p]
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    await coord.add_partitions("tx", pid, epoch, [TP0])
    replica.hw_held_at = replica.log.log_end_offset  # the Prepare record will sit above it
    cluster.prepare_fails = NotEnoughReplicas("NOT_ENOUGH_REPLICAS_AFTER_APPEND: a follower fell behind")
    with pytest.raises(CoordinatorNotAvailable):
        await coord.end_txn("tx", pid, epoch, commit=False)
    await asyncio.sleep(0.3)  # several polls of the commit
    assert cluster.markers == [] and await state_of(coord, "tx") == "PrepareAbort"
    replica.hw_held_at = None  # the follower has it now
    await eventually(coord, lambda: load(replica.log).txns["tx"].state.value == "CompleteAbort", "the abort completed")
    assert cluster.markers == [TxnMarker(pid, epoch, False, 1, (TP0,))]

    pid, epoch = await coord.init_producer_id("tx", 60_000)
    await coord.add_partitions("tx", pid, epoch, [TP1])
    replica.hw_held_at = replica.log.log_end_offset
    with pytest.raises(CoordinatorNotAvailable):
        await coord.end_txn("tx", pid, epoch, commit=True)
    replica.is_leader = False  # the leadership moves before a follower has the record
    await eventually(coord, lambda: p not in coord.loaded_partitions(), "unloaded")
    replica.hw_held_at = None
    await asyncio.sleep(0.3)
    assert [m.partitions for m in cluster.markers] == [(TP0,)]  # none for the uncommitted PrepareCommit


async def test_an_addition_not_yet_committed_is_not_answered_as_made(running):
    """AddPartitionsToTxn whose Ongoing state is in this node's log but whose acks=all wait
    failed: neither its retry nor a leader's KIP-890 check is told the partition is in the
    transaction until the partition commits the record. Told earlier, a leader would let
    the producer's records in, and a new coordinator, loading a log cut below that record,
    would never send them a marker: a hanging transaction."""
    cluster, coord = running
    replica = cluster.replicas[txn_partition("tx", 2)]
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    replica.hw_held_at = replica.log.log_end_offset  # the Ongoing record will sit above it
    cluster.ongoing_fails = NotEnoughReplicas("NOT_ENOUGH_REPLICAS_AFTER_APPEND: a follower fell behind")
    with pytest.raises(CoordinatorNotAvailable):
        await coord.add_partitions("tx", pid, epoch, [TP0])
    cluster.ongoing_fails = None
    retry = asyncio.create_task(coord.add_partitions("tx", pid, epoch, [TP0]))
    check = asyncio.create_task(coord.verify_partitions("tx", pid, epoch, [TP0]))
    await asyncio.sleep(0.3)  # several polls of the commit
    assert not retry.done() and not check.done()
    replica.hw_held_at = None  # the follower has it now
    await asyncio.wait_for(retry, 5)
    assert await asyncio.wait_for(check, 5) == {TP0: True}

    replica.hw_held_at = replica.log.log_end_offset  # again, and then the leadership moves
    cluster.ongoing_fails = NotEnoughReplicas("NOT_ENOUGH_REPLICAS_AFTER_APPEND: a follower fell behind")
    with pytest.raises(CoordinatorNotAvailable):
        await coord.add_partitions("tx", pid, epoch, [TP1])
    check = asyncio.create_task(coord.verify_partitions("tx", pid, epoch, [TP1]))
    await asyncio.sleep(0.1)
    replica.is_leader = False
    with pytest.raises(CoordinatorNotAvailable):  # never "yes": the client finds the new coordinator
        await asyncio.wait_for(check, 5)


async def test_leadership_is_followed(running):
    cluster, coord = running
    tid = "tx"
    p = txn_partition(tid, 2)
    await coord.init_producer_id(tid, 60_000)
    cluster.replicas[p].is_leader = False
    await eventually(coord, lambda: p not in coord.loaded_partitions(), "unloaded")
    with pytest.raises(NotCoordinator):
        await coord.init_producer_id(tid, 60_000)
    cluster.replicas[p].is_leader, cluster.replicas[p].leader_epoch = True, 3
    await eventually(coord, lambda: coord.loaded_partitions().get(p) == 3, "loaded again at the new epoch")
    assert await coord.init_producer_id(tid, 60_000) == (1001, 1)  # the state came back from the log


async def test_locate_creates_the_state_topic_on_first_use(tmp_path):
    cluster = Cluster(tmp_path, with_txn_topic=False)
    coord = coordinator(cluster, state_log_partitions=3)
    task = asyncio.create_task(coord.run())
    try:
        with pytest.raises(NotCoordinator):
            await coord.init_producer_id("tx", 60_000)
        with pytest.raises(CoordinatorNotAvailable):
            await coord.locate("tx", create=False)
        assert await coord.locate("tx") is None  # created, elected here, loaded
        [args] = cluster.created
        assert (args["name"], args["partitions"], args["replication_factor"]) == (TXN_STATE_TOPIC, 3, 1)
        assert args["configs"]["min.insync.replicas"] == "1" and args["configs"]["cleanup.policy"] == "compact"
        assert (await coord.init_producer_id("tx", 60_000))[1] == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cluster.close()


async def test_shutdown_stops_marker_retries_and_owned_tasks(running):
    cluster, coord = running
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    await coord.add_partitions("tx", pid, epoch, [TP0])
    cluster.refuse[TP0] = [NotLeaderOrFollower("down")] * 10_000
    await coord.end_txn("tx", pid, epoch, commit=True)
    await eventually(coord, lambda: len(cluster.markers) >= 2, "markers retried")
    with pytest.raises(ConcurrentTransactions):  # the commit is completing: every request waits
        await coord.end_txn("tx", pid, epoch, commit=True)
    with pytest.raises(ConcurrentTransactions):
        await coord.init_producer_id("tx", 60_000)
    assert await state_of(coord, "tx") == "PrepareCommit"
    assert coord.runtime.tasks  # the marker work is running; the fixture stops it and checks


async def test_add_partitions_waits_for_the_last_transactions_markers(running, monkeypatch):
    """The next transaction's first AddPartitionsToTxn, sent while the last one's markers
    are still being written, is answered once they are (not CONCURRENT_TRANSACTIONS)."""
    monkeypatch.setattr("kraft.transactions.txn_coordinator.COMPLETION_WAIT_S", 60.0)  # a bound, not a timing
    cluster, coord = running
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    await coord.add_partitions("tx", pid, epoch, [TP0])
    cluster.refuse[TP0] = [NotLeaderOrFollower("moving")] * 2  # two retries, with their backoff
    await coord.end_txn("tx", pid, epoch, commit=True)
    assert await state_of(coord, "tx") == "PrepareCommit"
    await coord.add_partitions("tx", pid, epoch, [TP1])
    assert cluster.markers == [TxnMarker(pid, 0, True, 1, (TP0,))] * 3
    description = await coord.describe("tx")
    assert (description.state, description.partitions) == ("Ongoing", (TP1,))
    assert load(cluster.logs[txn_partition("tx", 2)]).txns["tx"].state.value == "Ongoing"


async def test_the_next_transaction_starts_behind_a_complete_state_not_yet_replicated(running, monkeypatch):
    """Once the markers are written, the Complete state counts as soon as it is in the
    coordinator's log: the next AddPartitionsToTxn appends its Ongoing state right behind
    it, whose own acks=all wait covers both. A Complete whose wait then fails stays
    applied (it is in the log; the followers copy it as they catch up)."""
    monkeypatch.setattr("kraft.transactions.txn_coordinator.COMPLETION_WAIT_S", 60.0)  # a bound, not a timing
    cluster, coord = running
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    await coord.add_partitions("tx", pid, epoch, [TP0])
    cluster.held = asyncio.Event()  # the Complete state's replication stands still
    await coord.end_txn("tx", pid, epoch, commit=True)
    await asyncio.wait_for(coord.add_partitions("tx", pid, epoch, [TP1]), 10)
    log = cluster.logs[txn_partition("tx", 2)]
    assert [m.state.value for m in txn_states(log, "tx")][-3:] == ["PrepareCommit", "CompleteCommit", "Ongoing"]
    cluster.replication_fails = NotEnoughReplicas("NOT_ENOUGH_REPLICAS_AFTER_APPEND: a follower fell behind")
    cluster.held.set()
    await eventually(coord, lambda: not coord.runtime.shards[txn_partition("tx", 2)].completions, "completion over")
    description = await coord.describe("tx")
    assert (description.state, description.partitions) == ("Ongoing", (TP1,))
    cluster.held = cluster.replication_fails = None
    await coord.end_txn("tx", pid, epoch, commit=True)
    await eventually(coord, lambda: load(log).txns["tx"].state.value == "CompleteCommit", "the second commit")


async def test_add_partitions_still_answers_concurrent_transactions_when_markers_hang(running, monkeypatch):
    """The wait is bounded; a request that stops waiting leaves the marker work running."""
    monkeypatch.setattr("kraft.transactions.txn_coordinator.COMPLETION_WAIT_S", 0.05)
    cluster, coord = running
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    await coord.add_partitions("tx", pid, epoch, [TP0])
    cluster.refuse[TP0] = [NotLeaderOrFollower("down")] * 10_000
    await coord.end_txn("tx", pid, epoch, commit=True)
    with pytest.raises(ConcurrentTransactions):
        await coord.add_partitions("tx", pid, epoch, [TP1])
    monkeypatch.setattr("kraft.transactions.txn_coordinator.COMPLETION_WAIT_S", 60.0)
    waiting = asyncio.create_task(coord.add_partitions("tx", pid, epoch, [TP1]))
    await eventually(coord, lambda: len(cluster.markers) >= 3, "markers retried while a request waits")
    waiting.cancel()  # its client went away
    with pytest.raises(asyncio.CancelledError):
        await waiting
    sent = len(cluster.markers)
    cluster.refuse.clear()
    await eventually(coord, lambda: coord.runtime.shards[txn_partition("tx", 2)].txns["tx"].state.value == "CompleteCommit",
                     "the commit completed after the request left")
    assert len(cluster.markers) > sent
    await coord.add_partitions("tx", pid, epoch, [TP1])
    assert await state_of(coord, "tx") == "Ongoing"


async def test_v2_end_bumps_the_epoch_writes_markers_with_it_and_answers_retries(running):
    """EndTxn v5 (transactions version 2): the answer is the next epoch, the markers carry
    it, a retry with the old epoch is answered the same without a second end, and the
    producer's next transaction starts at the new epoch."""
    cluster, coord = running
    pid, epoch = await coord.init_producer_id("tx", 60_000)
    await coord.add_partitions("tx", pid, epoch, [TP0])
    goes_on = await coord.end_txn("tx", pid, epoch, commit=True, bump_epoch=True)
    assert (goes_on.producer_id, goes_on.epoch) == (pid, 1)
    await eventually(coord, lambda: coord.runtime.shards[txn_partition("tx", 2)].txns["tx"].state.value == "CompleteCommit",
                     "the commit completed")
    assert cluster.markers == [TxnMarker(pid, 1, True, 1, (TP0,), 2)]
    retried = await coord.end_txn("tx", pid, epoch, commit=True, bump_epoch=True)
    assert (retried.producer_id, retried.epoch) == (pid, 1) and len(cluster.markers) == 1
    with pytest.raises(ProducerFenced):
        await coord.add_partitions("tx", pid, epoch, [TP1])
    await coord.add_partitions("tx", pid, 1, [TP1])
    goes_on = await coord.end_txn("tx", pid, 1, commit=False, bump_epoch=True)
    assert (goes_on.producer_id, goes_on.epoch) == (pid, 2)
    # the log holds what a new coordinator needs: the bumped epoch, the last one
    await eventually(coord, lambda: load(cluster.logs[txn_partition("tx", 2)]).txns["tx"].state.value ==
                     "CompleteAbort", "CompleteAbort in the log")
    loaded = load(cluster.logs[txn_partition("tx", 2)]).txns["tx"]
    assert (loaded.producer_id, loaded.producer_epoch, loaded.last_producer_epoch) == (pid, 2, 1)


async def test_v2_end_at_the_last_epoch_moves_to_a_fresh_producer_id(running):
    cluster, coord = running
    pid, _ = await coord.init_producer_id("tx", 60_000)
    meta = coord.runtime.shards[txn_partition("tx", 2)].txns["tx"]
    meta.producer_epoch = 32766  # as after 32766 transactions
    await coord.add_partitions("tx", pid, 32766, [TP0])
    goes_on = await coord.end_txn("tx", pid, 32766, commit=True, bump_epoch=True)
    assert goes_on.producer_id == cluster.next_pid != pid and goes_on.epoch == 0
    await eventually(coord, lambda: meta.state.value == "CompleteCommit", "the commit completed")
    assert cluster.markers == [TxnMarker(pid, 32767, True, 1, (TP0,), 2)]
    assert (meta.producer_id, meta.producer_epoch) == (goes_on.producer_id, 0)
    retried = await coord.end_txn("tx", pid, 32766, commit=True, bump_epoch=True)
    assert (retried.producer_id, retried.epoch) == (goes_on.producer_id, 0)
