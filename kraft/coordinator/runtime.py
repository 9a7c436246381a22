"""The coordinator runtime: one coordinator's shards (one per internal-topic partition
this node leads) and everything around them that is the same for every coordinator.

A coordinator hands the runtime its internal topic (`InternalTopic`) and a
`ShardBuilder`: `load(partition, replica)` replays the partition's log into a new shard,
`unloaded(partition, shard)` hears that it left this node, `new_image(image)` sees each
new metadata image. The runtime then

- follows leadership (each tick and on demand): loads a shard when this broker becomes
  leader of its partition, unloads it when it stops leading or leads in a newer epoch;
- locates a key's coordinator (`locate`, for FindCoordinator and REST forwarding),
  creating the topic through the controller on first use, and answers
  COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR the same
  way for every coordinator;
- runs a shard's write operations (`write`, writes.py): one at a time per partition,
  their records appended with acks=all on this node, never forwarding, and replayed
  into the shard through its `replay`, the answer returned once they are committed;
- runs timers (`every`) and owns the tasks a coordinator starts (`spawn`): on its way out
  `run()` cancels and awaits them all and unloads every shard.

Shards and their state machines stay with their coordinator; the runtime knows of a
shard only the leader epoch it was loaded at and its `replay`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from kraft.coordinator.leadership import follow_partitions
from kraft.coordinator.loader import LoadableReplica
from kraft.coordinator.placement import key_partition
from kraft.coordinator.writes import Operation, ReplayShard, ShardWrites, TxnProducer
from kraft.errors import (CoordinatorLoadInProgress, CoordinatorNotAvailable, KraftError, NotCoordinator,
                          OutcomeUnknown, RetriableError, TopicAlreadyExists)
from kraft.metadata.image import MetadataImage

log = logging.getLogger(__name__)

TICK_S = 0.25
APPEND_TIMEOUT_MS = 30_000  # Kafka's request.timeout.ms
LOCATE_WAIT_S = 15.0  # the topic's creation and leader elections fit well inside
LOCATE_RETRY_S = 0.1

T = TypeVar("T")


def mono_ms() -> int:
    return time.monotonic_ns() // 1_000_000


# controller_call(operation, payload): the active controller's answer (JSON objects both)
ControllerCall = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
# append_local(topic, partition, batch, timeout_ms, timestamp, on_appended): appends with
# acks=all on this node, never forwarding, and returns the base offset; on_appended (or
# None) is called with the base offset once the batch is in this node's log, before the
# followers have it
AppendLocal = Callable[[str, int, bytes, int, int, Callable[[int], None] | None], Awaitable[int]]
WaitMetadata = Callable[[int, float], Awaitable[bool]]
Duty = Callable[[], Awaitable[None] | None]


class ReplicaLookup(Protocol):
    def replica(self, topic: str, partition: int) -> Any: ...


class CoordinatorShard(ReplayShard, Protocol):
    """One partition's state machine, as the runtime sees it."""

    @property
    def leader_epoch(self) -> int: ...  # the partition's leader epoch when it was loaded


S = TypeVar("S", bound=CoordinatorShard)


class ShardBuilder(Protocol[S]):
    """What a coordinator gives the runtime: its shards' life cycle."""

    def load(self, partition: int, replica: LoadableReplica, /) -> S: ...  # replays the log; may raise DamagedLog

    def unloaded(self, partition: int, shard: S, /) -> None: ...

    def new_image(self, image: MetadataImage, /) -> None: ...


@dataclass(frozen=True)
class InternalTopic:
    name: str
    label: str  # how answers name the topic
    partition_format: str  # how answers name one partition: str.format with the number
    partitions: int  # created with this many
    replication_factor: int  # wanted; capped by the live brokers at creation
    configs: Callable[[int], dict[str, str]]  # by the replication factor it gets

    def partition_label(self, partition: int) -> str:
        return self.partition_format.format(partition)


@dataclass(frozen=True)
class CoordinatorLinks:
    """What a coordinator reaches outside itself: the same for every coordinator of a node.
    replicas is None on a controller-only node, which leads nothing and only forwards."""

    image: Callable[[], MetadataImage]
    replicas: ReplicaLookup | None
    controller_call: ControllerCall
    wait_metadata: WaitMetadata
    append_local: AppendLocal


@dataclass
class _Timer:
    interval_ms: int
    duty: Duty
    due_ms: int = field(default=0)


class CoordinatorRuntime(Generic[S]):
    def __init__(self, node_id: int, what: str, topic: InternalTopic, builder: ShardBuilder[S],
                 links: CoordinatorLinks, monotonic_ms: Callable[[], int] = mono_ms):
        """what: the coordinator's name in logs and answers ("transaction coordinator")."""
        self.node_id = node_id
        self.what = what
        self.topic = topic
        self.links = links
        self.shards: dict[int, S] = {}
        self.tasks: set[asyncio.Task[Any]] = set()  # every task this coordinator started and owns
        self.closed = False
        self._builder = builder
        self._mono = monotonic_ms
        self._damaged_seen: dict[int, int] = {}  # partition -> leader epoch of its last damaged load
        self._image_offset = -1  # the image new_image last saw
        self._timers: list[_Timer] = []
        self._wake = asyncio.Event()
        self._creating: asyncio.Task[None] | None = None
        self._writes: ShardWrites[S] = ShardWrites(self.shards.get, self._append_for_write, self.spawn,
                                                   self._not_loaded, self.unload, self._log_committed)

    # -- the loop: follow leadership, run timers ------------------------------------------
    def every(self, interval_ms: int, duty: Duty) -> None:
        """Run `duty` on the first tick `interval_ms` from now and every such period after;
        0: on every tick (each TICK_S and each new metadata image)."""
        self._timers.append(_Timer(interval_ms, duty, self._mono() + interval_ms))

    def on_metadata(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Runs until cancelled; then cancels and awaits every task it started, and
        unloads every shard."""
        try:
            while True:
                try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                    async with asyncio.timeout(TICK_S):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                await self._tick()
        finally:
            self.closed = True
            tasks = list(self.tasks)
            if self._creating is not None:
                tasks.append(self._creating)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
            for p in list(self.shards):
                self.unload(p)

    async def _tick(self) -> None:
        try:
            self.follow_leadership()
        except Exception:  # a bug or a damaged log must not stop the node
            log.exception("%s: following leadership failed; retrying", self.what)
        for timer in self._timers:
            now = self._mono()
            if now < timer.due_ms:
                continue
            timer.due_ms = now + timer.interval_ms
            try:
                done = timer.duty()
                if inspect.isawaitable(done):
                    await done
            except Exception:
                log.exception("%s duty failed; retrying", self.what)

    # -- loading and unloading by leadership -----------------------------------------------
    def follow_leadership(self) -> None:
        image, replicas = self.links.image(), self.links.replicas
        if replicas is None or self.closed:
            return  # not a broker: it leads nothing; or shut down
        follow_partitions(self.topic.name, image, replicas,
                          lambda p: self.shards[p].leader_epoch if p in self.shards else None,
                          self._load, self.unload, lambda: list(self.shards), self._damaged_seen, self.what)
        if image.offset != self._image_offset:
            self._image_offset = image.offset
            self._builder.new_image(image)

    def _load(self, p: int, replica: Any) -> None:
        self.shards[p] = self._builder.load(p, replica)

    def unload(self, p: int) -> None:
        shard = self.shards.pop(p, None)
        if shard is not None:
            self._builder.unloaded(p, shard)

    # -- where a key lives ------------------------------------------------------------------
    def partition_count(self) -> int | None:
        topic = self.links.image().topic(self.topic.name)
        return len(topic.partitions) if topic is not None else None

    def partition_of(self, key: str) -> int | None:
        """The key's partition; None while the topic does not exist."""
        count = self.partition_count()
        return key_partition(key, count) if count else None

    def loaded(self, key: str) -> tuple[int, S] | None:
        """The key's partition and shard when this node has it loaded."""
        p = self.partition_of(key)
        shard = self.shards.get(p) if p is not None else None
        return (p, shard) if p is not None and shard is not None else None

    def take_over(self, p: int) -> S | None:
        """The shard of partition p when this broker leads it, loaded now if it was not
        yet (raises CoordinatorLoadInProgress when that cannot be done now); None when
        this broker does not lead p."""
        shard = self.shards.get(p)
        if shard is not None:
            return shard
        replicas = self.links.replicas
        replica = replicas.replica(self.topic.name, p) if replicas is not None else None
        if replica is None or not replica.is_leader:
            return None
        return self._loaded_now(p)

    def _loaded_now(self, p: int) -> S:
        self.follow_leadership()
        shard = self.shards.get(p)
        if shard is None:
            raise CoordinatorLoadInProgress(f"COORDINATOR_LOAD_IN_PROGRESS: node {self.node_id} is taking over "
                                            f"{self.topic.partition_label(p)}; retry")
        return shard

    async def locate(self, key: str, create: bool = True, wait_s: float = LOCATE_WAIT_S,
                     absent: Callable[[], KraftError] | None = None) -> int | None:
        """None when this node coordinates the key and has loaded its partition; else the
        node id to send it to. Creates the topic on first use, as Kafka does. While the
        coordinator is being created, elected or loaded, waits (up to wait_s) as a Kafka
        client retries FindCoordinator, then raises CoordinatorNotAvailable or
        CoordinatorLoadInProgress. With create=False and no topic it raises at once:
        absent() when given, else CoordinatorNotAvailable (and never creates it)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return await self._locate_once(key, create, absent)
            except (CoordinatorNotAvailable, CoordinatorLoadInProgress):
                if (not create and self.partition_count() is None) or time.monotonic() + LOCATE_RETRY_S >= deadline:
                    raise
            await asyncio.sleep(LOCATE_RETRY_S)

    async def _locate_once(self, key: str, create: bool, absent: Callable[[], KraftError] | None) -> int | None:
        count, label = self.partition_count(), self.topic.label
        if count is None:
            if not create and absent is not None:
                raise absent()
            if create:
                await self._create_topic()
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {label} is being created; retry")
        p = key_partition(key, count)
        topic = self.links.image().topic(self.topic.name)
        if topic is None:  # deleted since it was counted: it is created again on next use
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {label} is gone; retry")
        leader = topic.partitions[p].leader
        if leader < 0:
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {self.topic.partition_label(p)} has no "
                                          "leader; retry")
        if leader != self.node_id:
            return leader
        if p not in self.shards:
            self._loaded_now(p)
        return None

    async def _create_topic(self) -> None:
        """One creation at a time per node; a concurrent creation elsewhere is fine."""
        self._refuse_closed()
        if self._creating is None or self._creating.done():
            self._creating = asyncio.create_task(self._create(), name=f"create-{self.topic.name}")
        try:
            await asyncio.shield(self._creating)
        except TopicAlreadyExists:
            pass
        except CoordinatorNotAvailable:
            raise
        except RetriableError as exc:
            # the controller is moving (NOT_CONTROLLER) or busy: to the client, as in Kafka,
            # the coordinator is not available yet, and locate() asks again meanwhile
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {self.topic.label} is not created yet "
                                          f"({exc}); retry") from None

    async def _create(self) -> None:
        # capped at the live hosts: a host holds one replica of a partition at most
        rf = max(1, min(self.topic.replication_factor, self.links.image().live_hosts()))
        result = await self.links.controller_call("create_topic", {
            "name": self.topic.name, "by_cluster": True, "partitions": self.topic.partitions,
            "replication_factor": rf, "configs": self.topic.configs(rf)})
        await self.links.wait_metadata(result.get("metadata_offset", 0), 5.0)

    # -- writing records and owning tasks -------------------------------------------------
    async def write(self, p: int, operation: Operation[S, T], producer: TxnProducer | None = None,
                    name: str = "write", settle: bool = True) -> T:
        """Run `operation` against partition p's shard in its turn, append and replay the
        records it returns, and return its answer once they are committed (writes.py).
        Raises NotCoordinator when p is not loaded here at its turn, and what the append
        raises."""
        self._refuse_closed()  # before the operation: a runtime shutting down runs none
        return await self._writes.write(p, operation, producer, name, settle)

    async def _append_for_write(self, p: int, batch: bytes, timestamp: int, on_appended: Callable[[int], None]) -> int:
        return await self.links.append_local(self.topic.name, p, batch, APPEND_TIMEOUT_MS, timestamp, on_appended)

    async def _log_committed(self, p: int, shard: S) -> None:
        """Once the whole of p's log here is committed, `shard` (what an operation read)
        still being p's. A shard replays its log to the end, so until then it may hold what
        an append whose acks=all wait failed left there, or what a load found above the
        high watermark: an answer read from that is not given (Kafka's runtime holds such a
        write's answer until the high watermark passes the shard's last written offset).
        Raises as Kafka's coordinators normalise it: NOT_COORDINATOR when the shard or the
        leadership is gone, COORDINATOR_NOT_AVAILABLE when the commit did not come in time."""
        replicas = self.links.replicas
        replica = replicas.replica(self.topic.name, p) if replicas is not None else None

        if replica is None:
            raise self._not_loaded(p)

        def still_ours() -> bool:
            return self.shards.get(p) is shard and replica.is_leader and replica.leader_epoch == shard.leader_epoch
        if not still_ours():
            raise self._not_loaded(p)
        end = replica.log_end_offset
        if replica.high_watermark >= end:
            return
        try:
            await replica.wait_committed(end - 1, shard.leader_epoch, time.monotonic() + APPEND_TIMEOUT_MS / 1000)
        except OutcomeUnknown:
            if not still_ours():
                raise self._not_loaded(p) from None
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {self.topic.partition_label(p)} has not "
                                          "committed what this answer would be read from; retry") from None

    def _not_loaded(self, p: int) -> KraftError:
        return NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} does not lead {self.topic.partition_label(p)} "
                              "now; find the coordinator again")

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """A task this coordinator owns: a request that stops waiting for it (its client
        went away) never leaves a change half made, and run() awaits it on its way out."""
        if self.closed:
            coro.close()
        self._refuse_closed()
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _refuse_closed(self) -> None:
        if self.closed:
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: node {self.node_id}'s {self.what} "
                                          "is shutting down; retry")

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # a request's task: its caller got the error (or left); a bug is logged loudly
            if isinstance(exc, KraftError):
                log.debug("%s task %s ended with %r", self.what, task.get_name(), exc)
            else:
                log.error("%s task %s failed", self.what, task.get_name(), exc_info=exc)
