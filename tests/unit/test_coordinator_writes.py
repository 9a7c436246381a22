"""The coordinator runtime's writes (kraft/coordinator/writes.py) with a toy shard over
real logs: operations of one partition one at a time in arrival order, each answered once
its append is committed, its records replayed through the shard's own replay (the one
its load uses), a failed append leaving the shard as its log says, and a fresh load of
the log giving the state the writes gave."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from coordinator_logs import LocalLogs, Replica

from kraft.coordinator.loader import replay_log
from kraft.coordinator import runtime as runtime_module
from kraft.coordinator.runtime import CoordinatorLinks, CoordinatorRuntime, InternalTopic
from kraft.coordinator.writes import NO_PRODUCER, TxnProducer
from kraft.errors import CoordinatorNotAvailable, BadRequest, NotCoordinator, NotEnoughReplicas
from kraft.storage.record import Record

NODE, TOPIC, PARTITIONS = 1, "__toy_state", 2


@dataclass
class Partition:
    leader: int = NODE


@dataclass
class Topic:
    partitions: list[Partition] = field(default_factory=lambda: [Partition() for _ in range(PARTITIONS)])


@dataclass
class Image:
    offset: int = 1
    topics: dict[str, Topic] = field(default_factory=lambda: {TOPIC: Topic()})

    def topic(self, name: str) -> Topic | None:
        return self.topics.get(name)


class Cluster(LocalLogs):
    """This node's logs of the toy topic, and the image that says it leads them."""

    def __init__(self, tmp_path):
        super().__init__(tmp_path, TOPIC, PARTITIONS)
        self.image = Image()


@dataclass
class Counters:
    """The toy shard: named counters, one record per change (key: name, value: the new
    count); a transactional batch's records are kept apart, by producer."""

    leader_epoch: int
    counts: dict[str, int] = field(default_factory=dict)
    by_producer: dict[int, list[str]] = field(default_factory=dict)
    offsets: list[int] = field(default_factory=list)  # of every record replayed

    def replay(self, record: Record, producer_id: int) -> None:
        assert record.key is not None and record.value is not None and record.offset is not None
        self.offsets.append(record.offset)
        if producer_id != NO_PRODUCER:
            self.by_producer.setdefault(producer_id, []).append(record.key.decode())
        self.counts[record.key.decode()] = int(record.value)

    def state(self) -> tuple:
        return self.counts, self.by_producer, self.offsets


class Toy:
    def __init__(self) -> None:
        self.loads = 0

    def load(self, p: int, replica: Replica) -> Counters:
        self.loads += 1
        shard = Counters(replica.leader_epoch)
        replay_log(replica, lambda header, records, position: [
            shard.replay(r, header.producer_id if header.is_transactional else NO_PRODUCER)
            for r in records if r.offset is not None and r.offset >= position])
        return shard

    def unloaded(self, p: int, shard: Counters) -> None:
        pass

    def new_image(self, image: Image) -> None:
        pass


def increment(name: str, seen: list[int] | None = None):
    """An operation: the counter's next value, read from the shard, never changed there."""
    def operation(shard: Counters) -> tuple[list[Record], int]:
        value = shard.counts.get(name, 0) + 1
        if seen is not None:
            seen.append(value)
        return [Record(name.encode(), str(value).encode(), (), 5)], value
    return operation


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.close()


def runtime(cluster: Cluster) -> tuple[CoordinatorRuntime, Toy]:
    toy = Toy()
    topic = InternalTopic(TOPIC, TOPIC, TOPIC + "-{}", PARTITIONS, 1, lambda rf: {})
    links = CoordinatorLinks(lambda: cluster.image, cluster, cluster.controller_call, cluster.wait_metadata,
                             cluster.append_local)
    rt = CoordinatorRuntime(NODE, "toy coordinator", topic, toy, links)
    rt.follow_leadership()
    return rt, toy


def fresh_load(cluster: Cluster, p: int) -> tuple:
    return Toy().load(p, cluster.replicas[p]).state()


async def test_one_partitions_operations_run_one_at_a_time_in_arrival_order(cluster):
    rt, _ = runtime(cluster)
    seen: list[int] = []
    answers = await asyncio.gather(*(rt.write(0, increment("a", seen)) for _ in range(20)))
    assert answers == list(range(1, 21)) and seen == answers  # each saw every earlier one
    assert rt.shards[0].counts == {"a": 20} and rt.shards[0].offsets == list(range(20))
    assert fresh_load(cluster, 0) == rt.shards[0].state()


async def test_an_answer_waits_for_the_commit_and_the_next_operation_sees_the_effects_before(cluster):
    rt, _ = runtime(cluster)
    cluster.hold = asyncio.Event()
    first = asyncio.create_task(rt.write(0, increment("a")))
    second = asyncio.create_task(rt.write(0, increment("a")))
    other = asyncio.create_task(rt.write(1, increment("b")))
    for _ in range(10):
        await asyncio.sleep(0)
    # both batches are in the log and replayed, in order; neither is answered yet
    assert rt.shards[0].counts == {"a": 2} and rt.shards[1].counts == {"b": 1}
    assert not first.done() and not second.done() and not other.done() and cluster.committed == []
    cluster.hold.set()
    assert (await first, await second, await other) == (1, 2, 1)
    assert sorted(cluster.committed) == [(0, 0), (0, 1), (1, 0)]


async def test_an_append_that_never_reached_the_log_changes_nothing(cluster):
    rt, _ = runtime(cluster)
    assert await rt.write(0, increment("a")) == 1
    cluster.before_append = NotEnoughReplicas("NOT_ENOUGH_REPLICAS: too few in sync")
    with pytest.raises(NotEnoughReplicas):
        await rt.write(0, increment("a"))
    assert rt.shards[0].counts == {"a": 1} and fresh_load(cluster, 0) == rt.shards[0].state()
    cluster.before_append = None
    assert await rt.write(0, increment("a")) == 2  # the next one starts from what the log says


async def test_a_failed_acks_wait_leaves_the_records_the_log_holds(cluster):
    rt, _ = runtime(cluster)
    cluster.acks_fail = NotEnoughReplicas("NOT_ENOUGH_REPLICAS: the followers did not catch up in time")
    with pytest.raises(NotEnoughReplicas):
        await rt.write(0, increment("a"))
    assert rt.shards[0].counts == {"a": 1} and fresh_load(cluster, 0) == rt.shards[0].state()


async def test_what_a_failed_acks_wait_left_is_answered_from_only_once_committed(cluster):
    """The failed append's records stay in the shard (its log holds them), but an operation
    that reads them answers only once the partition commits them: a retry told "done" from
    them could hear of a change that a new leader, its log cut below them, never had. A
    leadership that moves first ends the wait in an error."""
    rt, _ = runtime(cluster)
    look = lambda shard: ([], shard.counts.get("a", 0))  # noqa: E731
    cluster.acks_fail = NotEnoughReplicas("NOT_ENOUGH_REPLICAS_AFTER_APPEND: the followers did not catch up")
    with pytest.raises(NotEnoughReplicas):
        await rt.write(0, increment("a"))
    cluster.acks_fail = None
    reading = asyncio.create_task(rt.write(0, look))
    await asyncio.sleep(0.05)
    assert not reading.done() and await rt.write(1, look) == 0  # the other partition has nothing pending
    assert await rt.write(0, look, settle=False) == 1  # a duty's look, which no client waits on, goes on
    cluster.replicas[0].commit_all()  # the followers have it now
    assert await asyncio.wait_for(reading, 5) == 1

    cluster.acks_fail = NotEnoughReplicas("NOT_ENOUGH_REPLICAS_AFTER_APPEND: the followers did not catch up")
    with pytest.raises(NotEnoughReplicas):
        await rt.write(0, increment("a"))
    reading = asyncio.create_task(rt.write(0, look))
    await asyncio.sleep(0.05)
    cluster.replicas[0].leader_epoch = 2  # a new leader (this node again, at another epoch)
    cluster.replicas[0].commits.set()
    with pytest.raises(NotCoordinator):  # as Kafka's coordinators answer it: find the coordinator again
        await asyncio.wait_for(reading, 5)


async def test_what_is_never_committed_in_the_bound_is_coordinator_not_available(cluster, monkeypatch):
    rt, _ = runtime(cluster)
    cluster.acks_fail = NotEnoughReplicas("NOT_ENOUGH_REPLICAS_AFTER_APPEND: the followers did not catch up")
    with pytest.raises(NotEnoughReplicas):
        await rt.write(0, increment("a"))
    monkeypatch.setattr(runtime_module, "APPEND_TIMEOUT_MS", 50)
    with pytest.raises(CoordinatorNotAvailable):  # retriable: the client asks again, at this coordinator
        await asyncio.wait_for(rt.write(0, lambda shard: ([], shard.counts.get("a", 0))), 5)


async def test_a_fresh_load_of_the_log_gives_the_state_the_writes_gave(cluster):
    rt, toy = runtime(cluster)
    for name in ("a", "b", "a", "c", "a"):
        await rt.write(0, increment(name))
    await rt.write(0, increment("t"), TxnProducer(7, 0))
    await rt.write(0, lambda shard: ([Record(b"a", b"10", (), 5), Record(b"b", b"20", (), 5)], None))
    live = rt.shards[0].state()
    assert live[0] == {"a": 10, "b": 20, "c": 1, "t": 1} and live[1] == {7: ["t"]}
    cluster.replicas[0].leader_epoch = 2  # a new epoch: unloaded, then loaded from the log
    rt.follow_leadership()
    assert toy.loads == 3 and rt.shards[0].leader_epoch == 2 and rt.shards[0].state() == live


async def test_a_refusal_or_no_records_writes_nothing_and_the_queue_goes_on(cluster):
    rt, _ = runtime(cluster)

    def refuse(shard: Counters):
        raise BadRequest("INVALID_REQUEST: no")

    cluster.hold = asyncio.Event()
    appending = asyncio.create_task(rt.write(0, increment("a")))
    refused = asyncio.create_task(rt.write(0, refuse))
    reading = asyncio.create_task(rt.write(0, lambda shard: ([], shard.counts["a"])))
    with pytest.raises(BadRequest):
        await refused
    await asyncio.sleep(0.01)
    assert not reading.done()  # it read the append in flight: answered once that is committed
    cluster.hold.set()
    assert (await appending, await reading) == (1, 1)
    assert cluster.replicas[0].log.log_end_offset == 1


async def test_a_partition_not_loaded_is_not_coordinated_here(cluster):
    rt, _ = runtime(cluster)
    cluster.replicas[1].is_leader = False
    rt.follow_leadership()
    with pytest.raises(NotCoordinator, match=f"{TOPIC}-1"):
        await rt.write(1, increment("a"))


async def test_a_caller_that_stops_waiting_leaves_no_write_half_done_and_shutdown_awaits_it(cluster):
    rt, _ = runtime(cluster)
    running = asyncio.create_task(rt.run())
    cluster.hold = asyncio.Event()
    caller = asyncio.create_task(rt.write(0, increment("a")))
    await asyncio.sleep(0.01)
    caller.cancel()  # its client went away: the write goes on
    await asyncio.gather(caller, return_exceptions=True)
    assert len(rt.tasks) == 1 and rt.shards[0].counts == {"a": 1}
    running.cancel()  # shutdown: the runtime cancels and awaits what it owns
    await asyncio.gather(running, return_exceptions=True)
    assert rt.tasks == set() and rt.shards == {}
    with pytest.raises(CoordinatorNotAvailable, match="shutting down"):
        await rt.write(0, increment("a"))


async def test_a_write_that_changes_nothing_owns_no_task_and_waits_only_for_what_it_read(cluster):
    """A coordinator's tick looks at every group each turn and mostly changes none: such a
    look runs at once, with no task of the runtime's; after an append still waiting for
    its acknowledgement it answers only once that is committed (it may have read it)."""
    rt, _ = runtime(cluster)
    look = lambda shard: ([], shard.counts.get("a", 0))  # noqa: E731
    assert await rt.write(0, look) == 0 and rt.tasks == set()
    cluster.hold = asyncio.Event()
    first = asyncio.create_task(rt.write(0, increment("a")))
    for _ in range(10):
        await asyncio.sleep(0)
    reading = asyncio.create_task(rt.write(0, look))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not reading.done() and len(rt.tasks) == 1  # the append's task alone
    cluster.hold.set()
    assert (await first, await reading) == (1, 1) and rt.tasks == set()
