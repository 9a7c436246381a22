"""The transaction coordinator of one node: the transactional ids of the
__transaction_state partitions it leads.

Which node coordinates transactional id t: the leader of partition hash(t) % N of
__transaction_state (txn_placement.py). It runs on the coordinator runtime
(kraft/coordinator/runtime.py), as the group coordinator does, with one shard
(`TxnShard`) per partition this node leads: the runtime loads a partition by replaying
its local log, with the partition's leader epoch as its coordinator epoch (what its
markers carry, so that partitions refuse a deposed coordinator's), and this coordinator
then finishes every transaction it finds in PrepareCommit or PrepareAbort (writes the
markers, then the Complete state: txn_completion.py). When it stops leading one, or the
leader epoch changes, the partition's transactional ids are forgotten here and its marker
work stops; the next leader takes over from the log. The runtime creates the topic
through the controller on first use (locate).

Each state change is a write operation of the runtime (kraft/coordinator/writes.py): a
plain function of the shard that decides the transit (txn_decisions.py) and returns its
record; the runtime runs one partition's operations one at a time, appends the record
with acks=all, replays it into the shard (`TxnShard.replay`, what a load replays) and
answers once it is committed. A loaded partition's cache therefore always holds what its
log holds. Writes and marker work run as tasks the runtime owns: a request that stops
waiting (its client went away) never leaves a transaction half changed, and `run()`
cancels and awaits them all on its way out.

EndTxn is answered once PrepareCommit / PrepareAbort is in the log; the markers are
written afterwards by a background task (txn_markers.py), retried with backoff until
every partition has one, and then the Complete state is appended (the producer's next
AddPartitionsToTxn, which Kafka would refuse with CONCURRENT_TRANSACTIONS meanwhile, waits
for that, up to COMPLETION_WAIT_S, and for the Complete state in this node's log only,
not replicated: the runtime replays a record once it is in this node's log). Open transactions
older than their timeout are aborted with an epoch bump (fencing their producer); idle
transactional ids are expired with a tombstone after transactional.id.expiration.ms.

Errors are raised as kraft/errors/ classes, as Kafka's coordinator answers for the
current request versions. A fenced producer gets ProducerFenced; Kafka answers older
versions INVALID_PRODUCER_EPOCH instead (InitProducerId below v4, AddPartitionsToTxn,
AddOffsetsToTxn and EndTxn below v2), which is the caller's translation. Transactions
version 2 (KIP-890 part 2): EndTxn v5+ bumps the epoch at every end (end_txn with
bump_epoch), and a partition leader adds a transactional batch's partition itself
(add_partitions, asked by the leader for Produce v12+).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from kraft.config.transaction_settings import TransactionSettings
from kraft.coordinator.loader import LoadableReplica
from kraft.coordinator.runtime import (AppendLocal, ControllerCall, CoordinatorLinks, CoordinatorRuntime,
                                       InternalTopic, LOCATE_WAIT_S, ReplicaLookup, WaitMetadata, mono_ms)
from kraft.errors import (
    BadRequest,
    ConcurrentTransactions,
    InvalidProducerIdMapping,
    NotCoordinator,
    OutcomeUnknown,
    TransactionalIdNotFound,
)
from kraft.groups.coordinator_placement import DEFAULT_OFFSETS_TOPIC_PARTITIONS, OFFSETS_TOPIC, coordinator_partition
from kraft.metadata.image import MetadataImage
from kraft.storage.record import Record
from kraft.transactions import txn_log
from kraft.transactions.txn_completion import id_committed, write_markers_then_complete
from kraft.transactions.txn_markers import SendMarkers
from kraft.transactions.txn_shard import Decide, TxnShard, write_transit
from kraft.transactions.txn_decisions import (
    EndDecision,
    InitDecision,
    InitFence,
    NeedProducerId,
    decide_add_partitions,
    decide_end_txn,
    decide_end_txn_bumping,
    end_answer,
    decide_init_producer_id,
    expirable,
    timed_out,
    verify_partitions,
)
from kraft.transactions.txn_metadata import (
    PREPARED,
    ProducerIdAndEpoch,
    TopicPartition,
    TransactionMetadata,
    TxnTransit,
    new_transaction,
    validate_timeout,
)
from kraft.transactions.txn_views import (
    TxnDescription,
    TxnListing,
    describe,
    list_transactions,
)
from kraft.transactions.txn_placement import TXN_STATE_TOPIC, txn_state_topic_configs

log = logging.getLogger(__name__)

# AddPartitionsToTxn that finds the id's last transaction still writing its markers waits
# up to this long for them before answering CONCURRENT_TRANSACTIONS (clients retry that
# only after a backoff: 20 ms for librdkafka and the Java client)
COMPLETION_WAIT_S = 0.5
COMMIT_WAIT_S = 5.0  # one wait for a Prepare state's commit (PartitionReplica.wait_committed), again while current
TOMBSTONES_PER_BATCH = 500
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


NextProducerId = Callable[[], Awaitable[int]]
A = TypeVar("A")


class TransactionCoordinator:
    def __init__(self, node_id: int, settings: TransactionSettings, image: Callable[[], MetadataImage],
                 replicas: ReplicaLookup | None, controller_call: ControllerCall,
                 wait_metadata: WaitMetadata, append_local: AppendLocal,
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
        self._next_producer_id = next_producer_id
        self._send_markers = send_markers
        self._replicas = replicas
        self._offsets_topic_partitions = offsets_topic_partitions
        self._clock = clock_ms
        topic = InternalTopic(TXN_STATE_TOPIC, TXN_STATE_TOPIC, TXN_STATE_TOPIC + "-{}", settings.state_log_partitions,
                              settings.state_log_replication_factor,
                              lambda rf: txn_state_topic_configs(rf, settings))
        links = CoordinatorLinks(image, replicas, controller_call, wait_metadata, append_local)
        self.runtime: CoordinatorRuntime[TxnShard] = CoordinatorRuntime(
            node_id, "transaction coordinator", topic, self, links, monotonic_ms)
        self.runtime.every(settings.abort_timed_out_interval_ms, self._abort_timed_out)
        self.runtime.every(settings.remove_expired_interval_ms, self._expire_ids)

    # -- the runtime's shards: loading and unloading ---------------------------------------
    def on_metadata(self) -> None:
        self.runtime.on_metadata()

    async def run(self) -> None:
        """Runs until cancelled; then cancels and awaits every task it started, and
        forgets every partition."""
        await self.runtime.run()

    def load(self, p: int, replica: LoadableReplica) -> TxnShard:
        started = time.monotonic()
        cache = txn_log.load(replica)  # the replay every write's record goes through too (TxnShard.replay)
        part = TxnShard(replica.leader_epoch, cache)
        log.info("transaction coordinator: loaded %s-%d at coordinator epoch %d (%d transactional ids%s) in %.3fs",
                 TXN_STATE_TOPIC, p, part.coordinator_epoch, len(cache.txns),
                 f", {cache.skipped} records skipped" if cache.skipped else "", time.monotonic() - started)
        for meta in list(part.txns.values()):
            if meta.state in PREPARED:  # the previous coordinator did not finish it
                log.info("transaction coordinator: finishing %s of %r (producer %d epoch %d) after loading",
                         meta.state.value, meta.transactional_id, meta.producer_id, meta.producer_epoch)
                self._start_completion(p, part, meta)
        return part

    def unloaded(self, p: int, part: TxnShard) -> None:
        part.completions.cancel_all()
        log.info("transaction coordinator: unloaded %s-%d (coordinator epoch %d)", TXN_STATE_TOPIC, p,
                 part.coordinator_epoch)

    def new_image(self, image: MetadataImage) -> None:
        pass  # nothing of this coordinator follows the image between requests

    # -- where a transactional id lives ------------------------------------------------------
    async def locate(self, transactional_id: str, create: bool = True, wait_s: float = LOCATE_WAIT_S) -> int | None:
        """None when this node coordinates the id and has loaded its partition; else the
        node id to send it to (FindCoordinator, key type 1). Creates __transaction_state on
        first use, as Kafka does. While the coordinator is being created, elected or
        loaded, waits (up to wait_s), then raises CoordinatorNotAvailable or
        CoordinatorLoadInProgress; with create=False it raises CoordinatorNotAvailable
        at once while the topic does not exist (and never creates it)."""
        return await self.runtime.locate(transactional_id, create, wait_s)

    def _owner(self, transactional_id: str) -> tuple[int, TxnShard]:
        """The id's partition and its shard, when this node coordinates it."""
        if not transactional_id:
            raise BadRequest("INVALID_REQUEST: the transactional id is empty")
        p = self.runtime.partition_of(transactional_id)
        if p is None:
            raise NotCoordinator(f"NOT_COORDINATOR: {TXN_STATE_TOPIC} does not exist yet; find the coordinator")
        part = self.runtime.take_over(p)
        if part is None:
            raise NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} does not coordinate transactional id "
                                 f"{transactional_id!r}; find the coordinator again")
        return p, part

    def is_current(self, p: int, coordinator_epoch: int, meta: TransactionMetadata) -> bool:
        """Is this still the coordinator of the id at that epoch, with that metadata?"""
        part = self.runtime.shards.get(p)
        return (part is not None and part.coordinator_epoch == coordinator_epoch
                and part.txns.get(meta.transactional_id) is meta)

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
            p, _ = self._owner(transactional_id)
            now = self._clock()

            def decide(part: TxnShard) -> tuple[TxnTransit | None, InitDecision]:
                meta = part.txns.get(transactional_id)
                if meta is None:
                    if fresh is None:
                        return None, NeedProducerId()
                    meta = new_transaction(transactional_id, fresh, transaction_timeout_ms, now)
                decision = decide_init_producer_id(meta, transaction_timeout_ms, expected, now, fresh)
                return (None if isinstance(decision, NeedProducerId) else decision.transit), decision

            decision = await self._write_ending(p, transactional_id, decide, "txn-init", now)
            if not isinstance(decision, NeedProducerId):
                break
            fresh = await self._new_producer_id()  # then decide again: anything may have changed
        transit = decision.transit
        if isinstance(decision, InitFence):
            log.info("transaction coordinator: fenced producer %d of %r (ongoing transaction aborted, epoch %d)",
                     transit.producer_id, transactional_id, transit.producer_epoch)
            raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: the ongoing transaction of {transactional_id!r} "
                                         "is being aborted; retry")
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
        p = await self._after_completion(transactional_id)
        now = self._clock()

        def decide(part: TxnShard) -> tuple[TxnTransit | None, None]:
            meta = self._initialized(part, transactional_id)
            return decide_add_partitions(meta, producer_id, producer_epoch, partitions, now), None

        await write_transit(self.runtime, p, transactional_id, decide, "txn-add", now)

    async def _after_completion(self, transactional_id: str) -> int:
        """The id's partition, once its last transaction's markers are written and its
        Complete state is in the log (waited for up to COMPLETION_WAIT_S)."""
        p, part = self._owner(transactional_id)
        meta = part.txns.get(transactional_id)
        if meta is not None and meta.state in PREPARED:
            await part.completions.settled(transactional_id, COMPLETION_WAIT_S)
            p, _ = self._owner(transactional_id)  # this node may have stopped coordinating it
        return p

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
        p, part = self._owner(transactional_id)
        replica = self._replicas.replica(TXN_STATE_TOPIC, p) if self._replicas is not None else None
        if await id_committed(replica, part, transactional_id, COMMIT_WAIT_S):  # it waited: look again
            p, part = self._owner(transactional_id)  # this node may have stopped coordinating it
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
            p, _ = self._owner(transactional_id)
            now = self._clock()

            def decide(part: TxnShard) -> tuple[TxnTransit | None, None]:
                meta = self._initialized(part, transactional_id)
                return decide_end_txn(meta, producer_id, producer_epoch, commit, now), None

            await self._write_ending(p, transactional_id, decide, "txn-end", now)
            return ProducerIdAndEpoch(producer_id, producer_epoch)
        fresh: int | None = None
        while True:
            # a retry usually comes while the markers of the end it retries are written
            p = await self._after_completion(transactional_id)
            now = self._clock()

            def decide_bumping(part: TxnShard) -> tuple[TxnTransit | None, EndDecision]:
                meta = self._initialized(part, transactional_id)
                decision = decide_end_txn_bumping(meta, producer_id, producer_epoch, commit, now, fresh)
                return (decision if isinstance(decision, TxnTransit) else None), decision

            decision = await self._write_ending(p, transactional_id, decide_bumping, "txn-end", now)
            if not isinstance(decision, NeedProducerId):
                break
            fresh = await self._new_producer_id()  # then decide again: anything may have changed
        if isinstance(decision, ProducerIdAndEpoch):
            return decision
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
        self.runtime.follow_leadership()  # partitions led since the last tick count too
        metas = [m for part in self.runtime.shards.values() for m in part.txns.values()]
        return list_transactions(metas, producer_ids, states, min_duration_ms, self._clock())

    def loaded_partitions(self) -> dict[int, int]:
        """Partition -> coordinator epoch, for every partition loaded here."""
        return {p: part.coordinator_epoch for p, part in sorted(self.runtime.shards.items())}

    async def _new_producer_id(self) -> int:
        if self._next_producer_id is None:
            raise NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} is not a broker")
        return await self._next_producer_id()

    @staticmethod
    def _initialized(part: TxnShard, transactional_id: str) -> TransactionMetadata:
        meta = part.txns.get(transactional_id)
        if meta is None:
            raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: no producer id was initialized for "
                                           f"transactional id {transactional_id!r}")
        return meta

    # -- writing state changes ------------------------------------------------------------
    async def write_complete(self, p: int, coordinator_epoch: int, meta: TransactionMetadata) -> None:
        tid = meta.transactional_id
        now = self._clock()

        def decide(part: TxnShard) -> tuple[TxnTransit | None, None]:
            if not self.is_current(p, coordinator_epoch, meta) or meta.state not in PREPARED:
                return None, None
            return meta.prepare_complete(now), None

        await write_transit(self.runtime, p, tid, decide, "txn-complete", now)

    async def _write_ending(self, p: int, transactional_id: str, decide: Decide[A], name: str, now_ms: int) -> A:
        """A write that may prepare the end of a transaction (PrepareCommit /
        PrepareAbort): its marker work starts once that state is in this node's log,
        whether or not the acks=all wait then goes well, and sends nothing before the
        state is committed (prepare_committed)."""
        prepared = False

        def deciding(part: TxnShard) -> tuple[TxnTransit | None, A]:
            nonlocal prepared
            transit, answer = decide(part)
            prepared = transit is not None and transit.state in PREPARED
            return transit, answer

        try:
            return await write_transit(self.runtime, p, transactional_id, deciding, name, now_ms)
        finally:
            part = self.runtime.shards.get(p)
            meta = part.txns.get(transactional_id) if part is not None else None
            if prepared and part is not None and meta is not None and meta.state in PREPARED:
                self._start_completion(p, part, meta)

    def _start_completion(self, p: int, part: TxnShard, meta: TransactionMetadata) -> None:
        tid = meta.transactional_id
        task = self.runtime.spawn(
            write_markers_then_complete(self, self._send_markers, p, part.coordinator_epoch, meta),
            f"txn-markers-{tid}")
        part.completions.started(tid, task)

    async def prepare_committed(self, p: int, coordinator_epoch: int, meta: TransactionMetadata) -> bool:
        """See txn_completion.write_markers_then_complete. A Prepare committed when its
        write answered passes at once; one whose acks=all wait failed waits on the
        partition's commits, as a produce's acks=all does (the coordinator epoch is the
        partition's leader epoch), and is given up when that leadership ends."""
        while self.is_current(p, coordinator_epoch, meta):
            part = self.runtime.shards.get(p)
            offset = part.cache.offsets.get(meta.transactional_id) if part is not None else None
            replica = self._replicas.replica(TXN_STATE_TOPIC, p) if self._replicas is not None else None
            if offset is None or replica is None:
                return offset is None
            if replica.high_watermark > offset:
                return True
            if not replica.is_leader or replica.leader_epoch != coordinator_epoch:
                return False  # the next leader's coordinator finishes it from its own log
            try:
                await replica.wait_committed(offset, coordinator_epoch, time.monotonic() + COMMIT_WAIT_S)
            except OutcomeUnknown:
                pass  # not committed yet (its bound), or the leadership moved: looked at again above
        return False

    def partition_exists(self, tp: TopicPartition) -> bool:
        topic = self._image().topic(tp[0])
        return topic is not None and 0 <= tp[1] < len(topic.partitions)

    # -- timers: timeouts and expiration -----------------------------------------------------
    def _abort_timed_out(self) -> None:
        for p, part in self.runtime.shards.items():
            for meta in timed_out(part.txns.values(), self._clock()):
                self.runtime.spawn(self._abort_if_timed_out(p, meta.transactional_id),
                                   f"txn-timeout-{meta.transactional_id}")

    async def _abort_if_timed_out(self, p: int, transactional_id: str) -> None:
        now = self._clock()

        def decide(part: TxnShard) -> tuple[TxnTransit | None, TxnTransit | None]:
            meta = part.txns.get(transactional_id)
            transit = meta.prepare_fence_abort(now) if meta is not None and timed_out([meta], now) else None
            return transit, transit

        transit = await self._write_ending(p, transactional_id, decide, "txn-timeout", now)
        if transit is not None:
            log.info("transaction coordinator: aborted the transaction of %r (producer %d): open longer than "
                     "its timeout %d ms; producer epoch now %d", transactional_id, transit.producer_id,
                     transit.timeout_ms, transit.producer_epoch)

    def _expire_ids(self) -> None:
        now = self._clock()
        for p, part in self.runtime.shards.items():
            idle = sorted(m.transactional_id for m in expirable(part.txns.values(), now,
                                                                self.settings.transactional_id_expiration_ms))
            for i in range(0, len(idle), TOMBSTONES_PER_BATCH):
                self.runtime.spawn(self._write_tombstones(p, idle[i:i + TOMBSTONES_PER_BATCH]), f"txn-expire-{p}")

    async def _write_tombstones(self, p: int, ids: list[str]) -> None:
        now = self._clock()

        def operation(part: TxnShard) -> tuple[list[Record], list[str]]:
            # still idle at its turn: a request may have used an id meanwhile
            idle = [m for tid in ids if (m := part.txns.get(tid)) is not None]
            expired = [m.transactional_id for m in expirable(idle, now, self.settings.transactional_id_expiration_ms)]
            return [txn_log.tombstone_record(tid, now) for tid in expired], expired

        try:
            expired = await self.runtime.write(p, operation, name="txn-expire")
        except Exception as exc:
            log.info("transaction coordinator: expiring %d transactional ids of %s-%d failed (%r); they stay",
                     len(ids), TXN_STATE_TOPIC, p, exc)
            return
        for tid in expired:
            log.info("transaction coordinator: transactional id %r expired", tid)
