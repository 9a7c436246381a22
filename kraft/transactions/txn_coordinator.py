"""The transaction coordinator of one node: the transactional ids of the
__transaction_state partitions it leads.

Which node coordinates transactional id t: the leader of partition hash(t) % N of
__transaction_state (txn_placement.py). Built like the group coordinator
(kraft/groups/group_coordinator.py): each tick it follows the leadership of its replicas
of that topic; when it becomes leader of a partition it loads the partition by replaying
its local log, with the partition's leader epoch as its coordinator epoch (what its
markers carry, so that partitions refuse a deposed coordinator's), and it finishes every
transaction it finds in PrepareCommit or PrepareAbort (writes the markers, then the
Complete state). When it stops leading one, or the leader epoch changes, the partition's
transactional ids are forgotten here and its marker work stops; the next leader takes
over from the log. The topic is created through the controller on first use (locate).

Each state change is appended to the id's partition with acks=all, here and only here,
and applied to the cache once appended, so a loaded partition's cache always holds what
its log holds (Kafka's two steps: see txn_metadata.py). Appends and marker work run as
tasks this coordinator owns: a request that stops waiting (its client went away) never
leaves a transaction half changed, and `run()` cancels and awaits them all on its way out.

EndTxn is answered once PrepareCommit / PrepareAbort is in the log; the markers are
written afterwards by a background task (txn_markers.py), retried with backoff until
every partition has one, and then the Complete state is appended (the producer's next
AddPartitionsToTxn, which Kafka would refuse with CONCURRENT_TRANSACTIONS meanwhile, waits
for that, up to COMPLETION_WAIT_S). Open transactions
older than their timeout are aborted with an epoch bump (fencing their producer); idle
transactional ids are expired with a tombstone after transactional.id.expiration.ms.

Errors are raised as kraft/errors.py classes, as Kafka's coordinator answers for the
current request versions. A fenced producer gets ProducerFenced; Kafka answers older
versions INVALID_PRODUCER_EPOCH instead (InitProducerId below v4, AddPartitionsToTxn,
AddOffsetsToTxn and EndTxn below v2), which is the caller's translation. Transactions
version 2 (KIP-890 part 2): EndTxn v5+ bumps the epoch at every end (end_txn with
bump_epoch), and a partition leader adds a transactional batch's partition itself
(add_partitions, asked by the leader for Produce v12+).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kraft.errors import (
    BadRequest,
    ConcurrentTransactions,
    CoordinatorLoadInProgress,
    CoordinatorNotAvailable,
    InvalidProducerIdMapping,
    MessageTooLarge,
    NotCoordinator,
    KraftError,
    NotLeaderOrFollower,
    RetriableError,
    StorageError,
    TopicAlreadyExists,
    TransactionalIdNotFound,
    UnknownServerError,
    UnknownTopicOrPartition,
)
from kraft.groups.coordinator_placement import DEFAULT_OFFSETS_TOPIC_PARTITIONS, OFFSETS_TOPIC, coordinator_partition
from kraft.groups.partition_leadership import follow_partitions
from kraft.metadata.image import MetadataImage
from kraft.storage.record_batch import encode_batch
from kraft.transactions import txn_log
from kraft.transactions.txn_markers import MISSING, MarkerOutcome, SendMarkers, TxnMarker, backoff_s, marker_outcome
from kraft.transactions.txn_metadata import (
    DEAD,
    PREPARE_COMMIT,
    PREPARED,
    InitFence,
    NeedProducerId,
    ProducerIdAndEpoch,
    TopicPartition,
    TransactionMetadata,
    TxnDescription,
    TxnListing,
    TxnTransit,
    decide_add_partitions,
    decide_end_txn,
    decide_end_txn_bumping,
    end_answer,
    decide_init_producer_id,
    describe,
    expirable,
    list_transactions,
    new_transaction,
    timed_out,
    validate_timeout,
    verify_partitions,
)
from kraft.transactions.txn_placement import TXN_STATE_TOPIC, txn_partition, txn_state_topic_configs
from kraft.config.transaction_settings import TransactionSettings

log = logging.getLogger(__name__)

TICK_S = 0.25
APPEND_TIMEOUT_MS = 30_000  # Kafka's request.timeout.ms
MARKER_SEND_TIMEOUT_S = 60.0  # one send_markers call: longer than the leaders' acks=all wait
LOCATE_WAIT_S = 15.0
LOCATE_RETRY_S = 0.1
# AddPartitionsToTxn that finds the id's last transaction still writing its markers waits
# up to this long for them before answering CONCURRENT_TRANSACTIONS (clients retry that
# only after a backoff: 20 ms for librdkafka and the Java client)
COMPLETION_WAIT_S = 0.5
TOMBSTONES_PER_BATCH = 500
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1

T = TypeVar("T")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def mono_ms() -> int:
    return time.monotonic_ns() // 1_000_000


ControllerCall = Callable[[str, dict], Awaitable[dict]]
AppendLocal = Callable[[str, int, bytes, int, int], Awaitable[int]]
NextProducerId = Callable[[], Awaitable[int]]


class ReplicaLookup(Protocol):
    def replica(self, topic: str, partition: int) -> Any: ...


@dataclass
class LoadedTxnPartition:
    coordinator_epoch: int  # the partition's leader epoch when this node loaded it
    txns: dict[str, TransactionMetadata]
    # marker work of its transactions, by transactional id (one at a time per id)
    completions: dict[str, asyncio.Task] = field(default_factory=dict)


class TransactionCoordinator:
    def __init__(self, node_id: int, settings: TransactionSettings, image: Callable[[], MetadataImage],
                 replicas: ReplicaLookup | None, controller_call: ControllerCall,
                 wait_metadata: Callable[[int, float], Awaitable[bool]], append_local: AppendLocal,
                 next_producer_id: NextProducerId | None, send_markers: SendMarkers, *,
                 offsets_topic_partitions: int = DEFAULT_OFFSETS_TOPIC_PARTITIONS,
                 clock_ms: Callable[[], int] = wall_ms, monotonic_ms: Callable[[], int] = mono_ms):
        """replicas: this broker's replicas (None on a controller-only node, which leads
        nothing and only answers NOT_COORDINATOR); append_local(topic, partition, batch,
        timeout_ms, timestamp) appends with acks=all on this node, never forwarding, and
        returns the base offset; next_producer_id() hands out a producer id (a broker's
        ProducerIdAllocator.next_id); send_markers: txn_markers.py; offsets_topic_partitions:
        offsets.topic.num.partitions, for AddOffsetsToTxn before __consumer_offsets exists;
        clock_ms: wall clock (transaction times are stored and compared across nodes);
        monotonic_ms: paces the periodic duties."""
        self.node_id = node_id
        self.settings = settings
        self._image = image
        self._replicas = replicas
        self._controller_call = controller_call
        self._wait_metadata = wait_metadata
        self._append_local = append_local
        self._next_producer_id = next_producer_id
        self._send_markers = send_markers
        self._offsets_topic_partitions = offsets_topic_partitions
        self._clock = clock_ms
        self._mono = monotonic_ms
        self._loaded: dict[int, LoadedTxnPartition] = {}
        self._damaged_seen: dict[int, int] = {}  # partition -> leader epoch of its last damaged load
        self._tasks: set[asyncio.Task] = set()  # every task this coordinator started and owns
        self._wake = asyncio.Event()
        self._creating: asyncio.Task | None = None
        start = monotonic_ms()
        self._next_abort_check = start + settings.abort_timed_out_interval_ms
        self._next_expiration_check = start + settings.remove_expired_interval_ms
        self._closed = False

    # -- background: follow leadership, periodic duties --------------------------------------
    def on_metadata(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Runs until cancelled; then cancels and awaits every task it started, and
        forgets every partition."""
        try:
            while True:
                try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                    async with asyncio.timeout(TICK_S):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                try:
                    self._follow_leadership()
                    self._duties()
                except Exception:  # a bug or a damaged log must not stop the node
                    log.exception("transaction coordinator duty failed; retrying")
        finally:
            self._closed = True
            tasks = list(self._tasks)
            if self._creating is not None:
                tasks.append(self._creating)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
            for p in list(self._loaded):
                self._unload(p)

    def _duties(self) -> None:
        now = self._mono()
        if now >= self._next_abort_check:
            self._next_abort_check = now + self.settings.abort_timed_out_interval_ms
            self._abort_timed_out()
        if now >= self._next_expiration_check:
            self._next_expiration_check = now + self.settings.remove_expired_interval_ms
            self._expire_ids()

    def _spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        if self._closed:
            coro.close()
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: node {self.node_id}'s transaction "
                                          "coordinator is shutting down; retry")
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # a request's task: its caller got the error (or left); a bug is logged loudly
            if isinstance(exc, KraftError):
                log.debug("transaction coordinator task %s ended with %r", task.get_name(), exc)
            else:
                log.error("transaction coordinator task %s failed", task.get_name(), exc_info=exc)

    def _follow_leadership(self) -> None:
        image, rm = self._image(), self._replicas
        if rm is None or self._closed:
            return  # not a broker: it leads nothing; or shut down
        follow_partitions(TXN_STATE_TOPIC, image, rm,
                          lambda p: self._loaded[p].coordinator_epoch if p in self._loaded else None,
                          self._load, self._unload, lambda: list(self._loaded), self._damaged_seen,
                          "transaction coordinator")

    def _load(self, p: int, replica) -> None:
        started = time.monotonic()
        cache = txn_log.load(replica.log)
        part = self._loaded[p] = LoadedTxnPartition(replica.leader_epoch, cache.txns)
        log.info("transaction coordinator: loaded %s-%d at coordinator epoch %d (%d transactional ids%s) in %.3fs",
                 TXN_STATE_TOPIC, p, part.coordinator_epoch, len(cache.txns),
                 f", {cache.skipped} records skipped" if cache.skipped else "", time.monotonic() - started)
        now = self._clock()
        for meta in list(part.txns.values()):
            if meta.state in PREPARED:  # the previous coordinator did not finish it
                log.info("transaction coordinator: finishing %s of %r (producer %d epoch %d) after loading",
                         meta.state.value, meta.transactional_id, meta.producer_id, meta.producer_epoch)
                self._start_completion(p, part, meta, now)

    def _unload(self, p: int) -> None:
        part = self._loaded.pop(p, None)
        if part is None:
            return
        for task in part.completions.values():
            task.cancel()
        log.info("transaction coordinator: unloaded %s-%d (coordinator epoch %d)", TXN_STATE_TOPIC, p,
                 part.coordinator_epoch)

    # -- where a transactional id lives ------------------------------------------------------
    def _txn_partitions(self) -> int | None:
        topic = self._image().topic(TXN_STATE_TOPIC)
        return len(topic.partitions) if topic is not None else None

    def partition_for(self, transactional_id: str) -> int | None:
        """The __transaction_state partition of the id; None while the topic does not exist."""
        count = self._txn_partitions()
        return txn_partition(transactional_id, count) if count else None

    async def locate(self, transactional_id: str, create: bool = True, wait_s: float = LOCATE_WAIT_S) -> int | None:
        """None when this node coordinates the id and has loaded its partition; else the
        node id to send it to (FindCoordinator, key type 1). Creates __transaction_state on
        first use, as Kafka does. While the coordinator is being created, elected or
        loaded, waits (up to wait_s), then raises CoordinatorNotAvailable or
        CoordinatorLoadInProgress; with create=False it raises CoordinatorNotAvailable
        at once while the topic does not exist (and never creates it)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return await self._locate_once(transactional_id, create)
            except (CoordinatorNotAvailable, CoordinatorLoadInProgress):
                if (not create and self._txn_partitions() is None) or time.monotonic() + LOCATE_RETRY_S >= deadline:
                    raise
            await asyncio.sleep(LOCATE_RETRY_S)

    async def _locate_once(self, transactional_id: str, create: bool) -> int | None:
        count = self._txn_partitions()
        if count is None:
            if create:
                await self._create_topic()
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {TXN_STATE_TOPIC} is being created; retry")
        p = txn_partition(transactional_id, count)
        topic = self._image().topic(TXN_STATE_TOPIC)
        if topic is None:  # deleted since it was counted
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {TXN_STATE_TOPIC} is gone; retry")
        leader = topic.partitions[p].leader
        if leader < 0:
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {TXN_STATE_TOPIC}-{p} has no leader; retry")
        if leader != self.node_id:
            return leader
        if p not in self._loaded:
            self._follow_leadership()
            if p not in self._loaded:
                raise CoordinatorLoadInProgress(f"COORDINATOR_LOAD_IN_PROGRESS: node {self.node_id} is taking over "
                                                f"{TXN_STATE_TOPIC}-{p}; retry")
        return None

    async def _create_topic(self) -> None:
        """One creation at a time per node; a concurrent creation elsewhere is fine."""
        if self._closed:
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: node {self.node_id}'s transaction "
                                          "coordinator is shutting down; retry")
        if self._creating is None or self._creating.done():
            self._creating = asyncio.create_task(self._create(), name="create-transaction-state-topic")
        try:
            await asyncio.shield(self._creating)
        except TopicAlreadyExists:
            pass

    async def _create(self) -> None:
        live = [b for b in self._image().brokers.values() if not b.fenced]
        rf = max(1, min(self.settings.state_log_replication_factor, len(live)))
        result = await self._controller_call("create_topic", {
            "name": TXN_STATE_TOPIC, "by_cluster": True, "partitions": self.settings.state_log_partitions,
            "replication_factor": rf, "configs": txn_state_topic_configs(rf, self.settings)})
        await self._wait_metadata(result.get("metadata_offset", 0), 5.0)

    def _owner(self, transactional_id: str) -> tuple[int, LoadedTxnPartition]:
        """The id's partition and its cache, when this node coordinates it."""
        if not transactional_id:
            raise BadRequest("INVALID_REQUEST: the transactional id is empty")
        count = self._txn_partitions()
        if count is None:
            raise NotCoordinator(f"NOT_COORDINATOR: {TXN_STATE_TOPIC} does not exist yet; find the coordinator")
        p = txn_partition(transactional_id, count)
        part = self._loaded.get(p)
        if part is None:
            replica = self._replicas.replica(TXN_STATE_TOPIC, p) if self._replicas is not None else None
            if replica is None or not replica.is_leader:
                raise NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} does not coordinate transactional id "
                                     f"{transactional_id!r}; find the coordinator again")
            self._follow_leadership()
            part = self._loaded.get(p)
            if part is None:
                raise CoordinatorLoadInProgress(f"COORDINATOR_LOAD_IN_PROGRESS: node {self.node_id} is taking over "
                                                f"{TXN_STATE_TOPIC}-{p}; retry")
        return p, part

    def _current(self, p: int, coordinator_epoch: int, meta: TransactionMetadata) -> bool:
        """Is this still the coordinator of the id at that epoch, with that metadata?"""
        part = self._loaded.get(p)
        return (part is not None and part.coordinator_epoch == coordinator_epoch
                and part.txns.get(meta.transactional_id) is meta)

    # -- the requests -----------------------------------------------------------------------
    async def init_producer_id(self, transactional_id: str, transaction_timeout_ms: int,
                               producer_id: int = NO_PRODUCER_ID,
                               producer_epoch: int = NO_PRODUCER_EPOCH) -> tuple[int, int]:
        """InitProducerId with a transactional id: (producer id, epoch) to use. The
        producer id and epoch of the request (v3+, KIP-360) are the ones the client has,
        or -1, -1 for a new producer instance."""
        if (producer_id == NO_PRODUCER_ID) != (producer_epoch == NO_PRODUCER_EPOCH):
            raise BadRequest("INVALID_REQUEST: a producer id and epoch come together, or neither")
        expected = None if producer_id == NO_PRODUCER_ID else ProducerIdAndEpoch(producer_id, producer_epoch)
        if not transactional_id:
            raise BadRequest("INVALID_REQUEST: the transactional id is empty")
        validate_timeout(transaction_timeout_ms, self.settings.max_timeout_ms)
        fresh: int | None = None
        while True:
            p, part = self._owner(transactional_id)
            now = self._clock()
            meta = part.txns.get(transactional_id)
            if meta is None:
                if fresh is None:
                    fresh = await self._new_producer_id()
                    continue  # decide again: anything may have changed while waiting
                meta = part.txns[transactional_id] = new_transaction(transactional_id, fresh, transaction_timeout_ms,
                                                                      now)
                fresh = None
            decision = decide_init_producer_id(meta, transaction_timeout_ms, expected, now, fresh)
            if isinstance(decision, NeedProducerId):
                fresh = await self._new_producer_id()
                continue
            break
        epoch = part.coordinator_epoch
        if isinstance(decision, InitFence):
            log.info("transaction coordinator: fencing producer %d of %r (ongoing transaction aborted, epoch %d)",
                     meta.producer_id, transactional_id, decision.transit.producer_epoch)
            await asyncio.shield(self._spawn(self._write_end(p, epoch, meta, decision.transit, fence=True),
                                             f"txn-fence-{transactional_id}"))
            raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: the ongoing transaction of {transactional_id!r} "
                                         "is being aborted; retry")
        transit = decision.transit
        await asyncio.shield(self._spawn(self._append_transit(p, epoch, meta, transit),
                                         f"txn-init-{transactional_id}"))
        log.info("transaction coordinator: initialized %r with producer id %d epoch %d", transactional_id,
                 transit.producer_id, transit.producer_epoch)
        return transit.producer_id, transit.producer_epoch

    async def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                             partitions: Iterable[TopicPartition]) -> None:
        """AddPartitionsToTxn: the partitions join the ongoing transaction (starting one)
        once that is in the log. The caller checks that the topics exist and that the
        client may write them (Kafka answers those per partition before asking the
        coordinator).

        The first AddPartitionsToTxn of a transaction usually comes while the previous
        one is still writing its markers. Kafka answers CONCURRENT_TRANSACTIONS then, and
        the client retries after its backoff (20 ms), which bounded back-to-back
        transactions to about one per 40-50 ms here (bench/txn_bench.py); this waits up to
        COMPLETION_WAIT_S for that work instead, then answers what a retry would get."""
        p, part, meta = await self._after_completion(transactional_id)
        if meta is None:
            raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: no producer id was initialized for "
                                           f"transactional id {transactional_id!r}")
        transit = decide_add_partitions(meta, producer_id, producer_epoch, partitions, self._clock())
        if transit is None:
            return
        await asyncio.shield(self._spawn(self._append_transit(p, part.coordinator_epoch, meta, transit),
                                         f"txn-add-{transactional_id}"))

    async def _after_completion(self, transactional_id: str) -> tuple[int, LoadedTxnPartition,
                                                                       TransactionMetadata | None]:
        """The id's partition, cache and metadata, once its last transaction's markers
        are written (waited for up to COMPLETION_WAIT_S)."""
        p, part = self._owner(transactional_id)
        meta = part.txns.get(transactional_id)
        completing = part.completions.get(transactional_id)
        if meta is not None and meta.state in PREPARED and completing is not None:
            await asyncio.wait((completing,), timeout=COMPLETION_WAIT_S)  # never cancels it
            p, part = self._owner(transactional_id)  # this node may have stopped coordinating it
            meta = part.txns.get(transactional_id)
        return p, part, meta

    def offsets_partition(self, group_id: str) -> TopicPartition:
        """The group's __consumer_offsets partition (where TxnOffsetCommit writes)."""
        topic = self._image().topic(OFFSETS_TOPIC)
        count = len(topic.partitions) if topic is not None else self._offsets_topic_partitions
        return OFFSETS_TOPIC, coordinator_partition(group_id, count)

    async def add_offsets(self, transactional_id: str, producer_id: int, producer_epoch: int,
                          group_id: str) -> TopicPartition:
        """AddOffsetsToTxn: the group's offsets partition joins the transaction (KIP-98);
        returns that partition."""
        tp = self.offsets_partition(group_id)
        await self.add_partitions(transactional_id, producer_id, producer_epoch, [tp])
        return tp

    async def verify_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                                partitions: Iterable[TopicPartition]) -> dict[TopicPartition, bool]:
        """KIP-890 (AddPartitionsToTxn v4 with verify_only): for each partition, is it in
        this producer's ongoing transaction? Raises as add_partitions does for the
        producer (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS)."""
        _, part = self._owner(transactional_id)
        meta = part.txns.get(transactional_id)
        if meta is None:
            raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: no producer id was initialized for "
                                           f"transactional id {transactional_id!r}")
        return verify_partitions(meta, producer_id, producer_epoch, partitions)

    async def end_txn(self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool,
                      bump_epoch: bool = False) -> ProducerIdAndEpoch:
        """EndTxn: returns once PrepareCommit / PrepareAbort is in the log (the markers
        and the Complete state follow in the background), or at once for the retry of an
        EndTxn that already completed the same way. bump_epoch: transactions version 2
        (EndTxn v5+), the end moves the producer to its next epoch (or a fresh producer
        id); the producer to go on with is returned (the request's own without a bump)."""
        if not bump_epoch:
            p, part = self._owner(transactional_id)
            meta = part.txns.get(transactional_id)
            if meta is None:
                raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: no producer id was initialized for "
                                               f"transactional id {transactional_id!r}")
            transit = decide_end_txn(meta, producer_id, producer_epoch, commit, self._clock())
            if transit is not None:
                await asyncio.shield(self._spawn(self._write_end(p, part.coordinator_epoch, meta, transit,
                                                                 fence=False), f"txn-end-{transactional_id}"))
            return ProducerIdAndEpoch(producer_id, producer_epoch)
        fresh: int | None = None
        while True:
            # a retry usually comes while the markers of the end it retries are written
            p, part, meta = await self._after_completion(transactional_id)
            if meta is None:
                raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: no producer id was initialized for "
                                               f"transactional id {transactional_id!r}")
            decision = decide_end_txn_bumping(meta, producer_id, producer_epoch, commit, self._clock(), fresh)
            if isinstance(decision, NeedProducerId):
                fresh = await self._new_producer_id()
                continue  # decide again: anything may have changed while waiting
            break
        if isinstance(decision, ProducerIdAndEpoch):
            return decision
        await asyncio.shield(self._spawn(self._write_end(p, part.coordinator_epoch, meta, decision, fence=False),
                                         f"txn-end-{transactional_id}"))
        answer = end_answer(decision)
        log.debug("transaction coordinator: %r ends its transaction at producer %d epoch %d; goes on with %s",
                  transactional_id, decision.producer_id, decision.producer_epoch, answer)
        return answer

    async def describe(self, transactional_id: str) -> TxnDescription:
        """DescribeTransactions for one id (TransactionalIdNotFound when unknown here)."""
        _, part = self._owner(transactional_id)
        meta = part.txns.get(transactional_id)
        if meta is None:
            raise TransactionalIdNotFound(f"TRANSACTIONAL_ID_NOT_FOUND: {transactional_id!r}")
        return describe(meta)

    async def list_transactions(self, producer_ids: Iterable[int] = (), states: Iterable[str] = (),
                                min_duration_ms: int = -1) -> tuple[list[TxnListing], list[str]]:
        """ListTransactions over the ids this node coordinates now: (rows sorted by id,
        state filters that name no state)."""
        self._follow_leadership()  # partitions led since the last tick count too
        metas = [m for part in self._loaded.values() for m in part.txns.values()]
        return list_transactions(metas, producer_ids, states, min_duration_ms, self._clock())

    def loaded_partitions(self) -> dict[int, int]:
        """Partition -> coordinator epoch, for every partition loaded here."""
        return {p: part.coordinator_epoch for p, part in sorted(self._loaded.items())}

    async def _new_producer_id(self) -> int:
        if self._next_producer_id is None:
            raise NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} is not a broker")
        return await self._next_producer_id()

    # -- appending state changes ----------------------------------------------------------
    async def _append_transit(self, p: int, coordinator_epoch: int, meta: TransactionMetadata, transit: TxnTransit,
                              *, keep_pending_on_error: bool = False) -> None:
        """Append the prepared transit, then apply it (Kafka's appendTransactionToLog,
        with its mapping of append errors). On failure the pending change is dropped,
        unless keep_pending_on_error (the caller retries the same transit)."""
        tid = meta.transactional_id
        if not self._current(p, coordinator_epoch, meta):
            raise NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} no longer coordinates {tid!r}")
        now = self._clock()
        batch = encode_batch([txn_log.txn_record(tid, transit, now)], 0, -1)
        try:
            await self._append_local(TXN_STATE_TOPIC, p, batch, APPEND_TIMEOUT_MS, now)
        except BaseException as exc:
            if self._current(p, coordinator_epoch, meta) and (
                    not keep_pending_on_error or isinstance(exc, asyncio.CancelledError)):
                meta.clear_pending()
            error = _coordinator_error(exc, tid)
            if error is exc:
                raise
            raise error from exc
        if not self._current(p, coordinator_epoch, meta):
            raise NotCoordinator(f"NOT_COORDINATOR: the coordinator of {tid!r} changed during the append; "
                                 "find it again")
        meta.complete(transit)

    async def _write_end(self, p: int, coordinator_epoch: int, meta: TransactionMetadata, transit: TxnTransit,
                         *, fence: bool) -> None:
        """Append PrepareCommit / PrepareAbort, then start writing its markers."""
        try:
            await self._append_transit(p, coordinator_epoch, meta, transit)
        except BaseException:
            if fence and self._current(p, coordinator_epoch, meta):
                meta.failed_epoch_fence = True  # its bumped epoch stays in memory: reuse it
            raise
        part = self._loaded[p]  # _append_transit checked it is still current
        self._start_completion(p, part, meta, self._clock())

    def _start_completion(self, p: int, part: LoadedTxnPartition, meta: TransactionMetadata, now_ms: int) -> None:
        complete = meta.prepare_complete(now_ms)
        tid = meta.transactional_id
        task = self._spawn(self._complete(p, part.coordinator_epoch, meta, complete), f"txn-markers-{tid}")
        part.completions[tid] = task

        def done(task: asyncio.Task) -> None:
            if part.completions.get(tid) is task:
                del part.completions[tid]
        task.add_done_callback(done)

    async def _complete(self, p: int, coordinator_epoch: int, meta: TransactionMetadata, complete: TxnTransit) -> None:
        """Write the markers of a prepared transaction until every partition has one,
        then append its Complete state. Stops when this node stops coordinating it."""
        tid, commit = meta.transactional_id, meta.state is PREPARE_COMMIT
        remaining = set(meta.partitions)
        attempt = 0
        while True:
            if not self._current(p, coordinator_epoch, meta):
                return
            for tp in sorted(tp for tp in remaining if not self._partition_exists(tp)):
                log.info("transaction coordinator: %s is gone: no marker for it in %r", tp, tid)
                remaining.discard(tp)
                meta.remove_partition(tp)
            if not remaining:
                break
            marker = TxnMarker(meta.producer_id, meta.producer_epoch, commit, coordinator_epoch,
                               tuple(sorted(remaining)))
            answers: Any = {}
            try:
                async with asyncio.timeout(MARKER_SEND_TIMEOUT_S):  # a wiring that never answers
                    answers = (await self._send_markers([marker]))[0]
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the wiring's trouble: every partition is tried again
                log.info("transaction coordinator: markers of %r not sent (%r); retrying", tid, exc)
            if not self._current(p, coordinator_epoch, meta):
                return
            for tp in marker.partitions:
                answer = answers.get(tp, MISSING)
                outcome = marker_outcome(answer)
                if outcome is MarkerOutcome.WRITTEN:
                    remaining.discard(tp)
                    meta.remove_partition(tp)
                elif outcome is MarkerOutcome.ABANDON:
                    log.warning("transaction coordinator: %s refused the %s marker of %r (producer %d epoch %d, "
                                "coordinator epoch %d): %r; this coordinator stops completing it",
                                tp, "commit" if commit else "abort", tid, meta.producer_id, meta.producer_epoch,
                                coordinator_epoch, answer)
                    return
            if remaining:
                await asyncio.sleep(backoff_s(attempt))
                attempt += 1
        attempt = 0
        while True:
            if not self._current(p, coordinator_epoch, meta):
                return  # the next coordinator finishes it
            try:
                await self._append_transit(p, coordinator_epoch, meta, complete, keep_pending_on_error=True)
                log.debug("transaction coordinator: %r is %s", tid, complete.state.value)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._current(p, coordinator_epoch, meta):
                    log.info("transaction coordinator: %s of %r not appended (%r); retrying", complete.state.value,
                             tid, exc)
            await asyncio.sleep(backoff_s(attempt))
            attempt += 1

    def _partition_exists(self, tp: TopicPartition) -> bool:
        topic = self._image().topic(tp[0])
        return topic is not None and 0 <= tp[1] < len(topic.partitions)

    # -- timeouts and expiration ---------------------------------------------------------
    def _abort_timed_out(self) -> None:
        now = self._clock()
        for p, part in self._loaded.items():
            for meta in timed_out(part.txns.values(), now):
                transit = meta.prepare_fence_abort(now)
                log.info("transaction coordinator: aborting the transaction of %r (producer %d): open longer than "
                         "its timeout %d ms; producer epoch now %d", meta.transactional_id, meta.producer_id,
                         meta.timeout_ms, transit.producer_epoch)
                self._spawn(self._write_end(p, part.coordinator_epoch, meta, transit, fence=True),
                            f"txn-timeout-{meta.transactional_id}")

    def _expire_ids(self) -> None:
        now = self._clock()
        for p, part in self._loaded.items():
            idle = sorted(expirable(part.txns.values(), now, self.settings.transactional_id_expiration_ms),
                          key=lambda m: m.transactional_id)
            for i in range(0, len(idle), TOMBSTONES_PER_BATCH):
                chunk = [(m, m.prepare_dead()) for m in idle[i:i + TOMBSTONES_PER_BATCH]]
                self._spawn(self._write_tombstones(p, part.coordinator_epoch, chunk), f"txn-expire-{p}")

    async def _write_tombstones(self, p: int, coordinator_epoch: int,
                                expired: list[tuple[TransactionMetadata, TxnTransit]]) -> None:
        now = self._clock()
        records = [txn_log.tombstone_record(m.transactional_id, now) for m, _ in expired]
        ok = False
        try:
            await self._append_local(TXN_STATE_TOPIC, p, encode_batch(records, 0, -1), APPEND_TIMEOUT_MS, now)
            ok = True
        except Exception as exc:
            log.info("transaction coordinator: expiring %d transactional ids of %s-%d failed (%r); they stay",
                     len(expired), TXN_STATE_TOPIC, p, exc)
        finally:
            part = self._loaded.get(p)
            for meta, transit in expired:
                if part is None or not self._current(p, coordinator_epoch, meta):
                    continue
                if ok and meta.pending is DEAD and meta.producer_epoch == transit.producer_epoch:
                    del part.txns[meta.transactional_id]
                    log.info("transaction coordinator: transactional id %r expired", meta.transactional_id)
                else:
                    meta.clear_pending()


def _coordinator_error(exc: BaseException, transactional_id: str) -> BaseException:
    """What a failed append of the state log means to the coordinator's client (Kafka's
    mapping in TransactionStateManager.appendTransactionToLog)."""
    if isinstance(exc, asyncio.CancelledError):
        return exc
    if isinstance(exc, (NotLeaderOrFollower, StorageError)):
        return NotCoordinator(f"NOT_COORDINATOR: the state of {transactional_id!r} could not be appended here "
                              f"({type(exc).__name__}); find the coordinator again")
    if isinstance(exc, (UnknownTopicOrPartition, RetriableError)):
        return CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: the state of {transactional_id!r} could not be "
                                       f"appended ({type(exc).__name__}); retry")
    if isinstance(exc, MessageTooLarge):
        return UnknownServerError(f"the state of {transactional_id!r} is too large to append")
    return exc
