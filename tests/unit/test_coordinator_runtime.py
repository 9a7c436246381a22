"""The coordinator runtime with a toy shard: what a new coordinator gets for free (loading
and unloading by leadership, locating, the error answers, writes, timers, owned tasks;
the writes' ordering and failures: test_coordinator_writes.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from kraft.coordinator.placement import key_partition
from kraft.coordinator.runtime import APPEND_TIMEOUT_MS, CoordinatorLinks, CoordinatorRuntime, InternalTopic
from kraft.coordinator.writes import TxnProducer
from kraft.errors import CoordinatorLoadInProgress, CoordinatorNotAvailable, NotController, NotFound
from kraft.storage.record import Record
from kraft.storage.record_batch import decode_records, iter_batches

NODE, TOPIC, PARTITIONS = 1, "__toy_state", 3


@dataclass
class EmptyLog:
    log_start_offset: int = 0
    log_end_offset: int = 0

    def read(self, offset: int, max_bytes: int) -> bytes:
        return b""


@dataclass
class Replica:
    is_leader: bool
    leader_epoch: int
    log: EmptyLog = field(default_factory=EmptyLog)


@dataclass
class Partition:
    leader: int


@dataclass
class Topic:
    partitions: list[Partition]


@dataclass
class Image:
    offset: int = 0
    topics: dict[str, Topic] = field(default_factory=dict)
    brokers: dict = field(default_factory=dict)

    def topic(self, name: str) -> Topic | None:
        return self.topics.get(name)

    def live_hosts(self) -> int:  # every broker a host of its own
        return sum(1 for b in self.brokers.values() if not b.fenced)


@dataclass
class Cluster:
    """This node's image and replicas, and what it asked the controller and appended."""

    image: Image = field(default_factory=Image)
    replicas: dict[int, Replica] = field(default_factory=dict)
    created: list[dict] = field(default_factory=list)
    appended: list[tuple] = field(default_factory=list)

    def replica(self, topic: str, p: int) -> Replica | None:
        return self.replicas.get(p) if topic == TOPIC else None

    def lead(self, p: int, epoch: int = 0, leader: int = NODE) -> None:
        self.image.topics[TOPIC].partitions[p].leader = leader
        self.replicas[p] = Replica(leader == NODE, epoch)
        self.image.offset += 1

    async def controller_call(self, command: str, body: dict) -> dict:
        self.created.append(dict(body, command=command))
        return {"metadata_offset": 0}

    async def wait_metadata(self, offset: int, timeout_s: float) -> bool:
        return True

    async def append_local(self, topic: str, p: int, batch: bytes, timeout_ms: int, timestamp: int,
                           on_appended=None) -> int:
        self.appended.append((topic, p, batch, timeout_ms, timestamp))
        if on_appended is not None:
            on_appended(40)
        return 40


@dataclass
class ToyShard:
    leader_epoch: int
    count: int = 0
    replayed: list[tuple] = field(default_factory=list)

    def replay(self, record: Record, producer_id: int) -> None:
        self.replayed.append((record.offset, record.value, producer_id))


class ToyCoordinator:
    """A third coordinator: only its shard's life cycle."""

    def __init__(self) -> None:
        self.loads: list[tuple[int, int]] = []
        self.unloads: list[int] = []
        self.images: list[int] = []

    def load(self, p: int, replica: Replica) -> ToyShard:
        self.loads.append((p, replica.leader_epoch))
        return ToyShard(replica.leader_epoch)

    def unloaded(self, p: int, shard: ToyShard) -> None:
        self.unloads.append(p)

    def new_image(self, image: Image) -> None:
        self.images.append(image.offset)


def runtime(cluster: Cluster, clock: list[int] | None = None) -> tuple[CoordinatorRuntime, ToyCoordinator]:
    toy = ToyCoordinator()
    topic = InternalTopic(TOPIC, TOPIC, TOPIC + "-{}", PARTITIONS, 3, lambda rf: {"cleanup.policy": "compact"})
    links = CoordinatorLinks(lambda: cluster.image, cluster, cluster.controller_call,
                             cluster.wait_metadata, cluster.append_local)
    ticks = clock if clock is not None else [0]
    return CoordinatorRuntime(NODE, "toy coordinator", topic, toy, links, lambda: ticks[0]), toy


def with_topic(cluster: Cluster) -> Cluster:
    cluster.image.topics[TOPIC] = Topic([Partition(-1) for _ in range(PARTITIONS)])
    return cluster


def test_shards_follow_leadership_and_its_epochs():
    cluster = with_topic(Cluster())
    rt, toy = runtime(cluster)
    cluster.lead(0, epoch=4)
    cluster.lead(1, epoch=1, leader=2)
    rt.follow_leadership()
    assert toy.loads == [(0, 4)] and set(rt.shards) == {0} and toy.images == [2]
    cluster.lead(0, epoch=5)  # a new epoch of the same leader: unloaded, then loaded again
    rt.follow_leadership()
    assert toy.unloads == [0] and toy.loads == [(0, 4), (0, 5)] and rt.shards[0].leader_epoch == 5
    cluster.lead(0, epoch=6, leader=2)
    rt.follow_leadership()
    assert rt.shards == {} and toy.unloads == [0, 0]
    rt.follow_leadership()
    assert toy.images == [2, 3, 4]  # once per image


async def test_locate_answers_as_every_coordinator_does():
    cluster = Cluster()
    rt, _ = runtime(cluster)
    with pytest.raises(NotFound):  # without the topic and without creating it
        await rt.locate("k", create=False, absent=lambda: NotFound("no such key"))
    with pytest.raises(CoordinatorNotAvailable, match="is being created"):
        await rt.locate("k", wait_s=0)
    assert cluster.created[0]["name"] == TOPIC and cluster.created[0]["replication_factor"] == 1
    with_topic(cluster)
    p = key_partition("k", PARTITIONS)
    with pytest.raises(CoordinatorNotAvailable, match=f"{TOPIC}-{p} has no leader"):
        await rt.locate("k", wait_s=0)
    cluster.lead(p, leader=2)
    assert await rt.locate("k") == 2
    cluster.image.topics[TOPIC].partitions[p].leader = NODE  # elected, its replica not yet leading
    with pytest.raises(CoordinatorLoadInProgress, match=f"taking over {TOPIC}-{p}"):
        await rt.locate("k", wait_s=0)
    cluster.lead(p)
    assert await rt.locate("k") is None and rt.loaded("k") == (p, rt.shards[p])
    assert rt.take_over((p + 1) % PARTITIONS) is None  # not led here


async def test_writes_go_to_the_partition_with_acks_all_timeout():
    cluster = with_topic(Cluster())
    rt, _ = runtime(cluster)
    cluster.lead(2)
    rt.follow_leadership()
    answer = await rt.write(2, lambda shard: ([Record(b"k", b"v", (), 7)], "written"), TxnProducer(5, 1))
    topic, p, batch, timeout_ms, timestamp = cluster.appended[0]
    assert (answer, topic, p, timeout_ms, timestamp) == ("written", TOPIC, 2, APPEND_TIMEOUT_MS, 7)
    (pos, header), = iter_batches(batch)
    assert header.is_transactional and header.producer_id == 5
    assert [r.value for r in decode_records(batch, pos)] == [b"v"]
    assert rt.shards[2].replayed == [(40, b"v", 5)]


async def test_timers_run_paced_and_run_ends_by_awaiting_its_tasks_and_unloading():
    cluster = with_topic(Cluster())
    clock = [0]
    rt, toy = runtime(cluster, clock)
    every_tick, paced = [], []
    rt.every(0, lambda: every_tick.append(clock[0]))
    rt.every(100, lambda: paced.append(clock[0]))
    cluster.lead(0)
    running = asyncio.create_task(rt.run())
    for now in (0, 50, 100, 150, 250):
        clock[0] = now
        rt.on_metadata()
        await asyncio.sleep(0.01)
    assert paced == [100, 250] and len(every_tick) >= 5 and 0 in rt.shards
    worker = rt.spawn(asyncio.sleep(3600), "a long write")
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert worker.cancelled() and rt.tasks == set() and rt.shards == {} and toy.unloads == [0]
    with pytest.raises(CoordinatorNotAvailable, match="shutting down"):
        rt.spawn(asyncio.sleep(0), "too late")


async def test_a_controller_that_moves_while_the_topic_is_created_is_retried_not_answered():
    """NOT_CONTROLLER (the controller moving, as after a full restart) while the internal
    topic is created on first use: the client is told COORDINATOR_NOT_AVAILABLE (Kafka's
    answer, which clients retry), and a locate that may wait asks again meanwhile."""
    cluster = Cluster()
    refusals = [NotController("NOT_CONTROLLER: node 2 is not the active controller; retry")] * 2
    created = cluster.controller_call

    async def moving_controller(command: str, body: dict) -> dict:
        if refusals:
            raise refusals.pop()
        with_topic(cluster)
        cluster.lead(key_partition("k", PARTITIONS), leader=2)
        return await created(command, body)
    cluster.controller_call = moving_controller  # type: ignore[method-assign]
    rt, _ = runtime(cluster)
    with pytest.raises(CoordinatorNotAvailable, match="not created yet.*NOT_CONTROLLER"):
        await rt.locate("k", wait_s=0)
    assert await rt.locate("k", wait_s=5) == 2 and not refusals and len(cluster.created) == 1
