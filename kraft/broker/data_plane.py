"""Produce and read for both doors: choose partitions, find leaders, forward.

Produce has three entries, each returning a PendingDelivery: what was appended (its
Delivery) and ``committed()``, which returns once acks allow.
- ``append_records``: the REST door's records (checked for the whole request first by
  ``check_client_records``), appended on the partition's leader wherever it is: a node
  that does not lead it sends the batch, as RecordBatch v2 bytes, to the leader's
  internal produce endpoint.
- ``append_client_batch``: the Kafka door's batch, checked whole, for a partition this
  broker leads (Kafka clients find the leader themselves).
- ``append_batch``: a batch that met the rules, appended; the two above end here, as do
  the coordinators' records and a batch another node's REST door forwarded.
Every client write meets ``client_writes``' rules once. Reads go through the replica's
read surface (replication/replica_reads.py), as Kafka's Fetch does. The replication
layer's errors become KraftErrors here, so doors only translate those.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kraft.broker.lookup import topic_or_404
from kraft.broker.leader_remote import LeaderRemote
from kraft.metadata.effective_configs import effective_topic_configs
from kraft.broker.isolation import Aborted
from kraft.errors import (
    ConcurrentTransactions,
    CoordinatorLoadInProgress,
    CoordinatorNotAvailable,
    InvalidProducerEpoch,
    InvalidTxnState,
    LeaderNotAvailable,
    NotCoordinator,
    NotEnoughReplicas,
    NotLeaderOrFollower,
    OutcomeUnknown,
    PartitionNotFound,
    PartitionNotInTransaction,
    PolicyViolation,
    ProducerFenced,
    ProducerSequenceError,
    UnknownTopicOrPartition,
)
from kraft.broker.unacked_writes import UnackedWrites
from kraft.broker.partitioner import RoundRobin, keyless_candidates, partition_for_key
from kraft.broker.sliced_work import run_sliced
from kraft.metadata.image import MetadataImage, TopicImage
from kraft.replication.replica_manager import ReplicaManager
from kraft.broker import client_writes
from kraft.broker.schema_id_cache import SchemaIdCache
from kraft.broker.schema_ids import KeyValue, Side, check_schema_ids, named_ids, validated_sides
from kraft.storage.record import Record
from kraft.storage.record_batch import BatchHeader, decode_records
from kraft.storage.record_check import SLICE_RECORDS

T = TypeVar("T")

# (transactional id, producer id, producer epoch, topic, partition, seconds to answer
# within, add) -> is the partition in that producer's open transaction? (the
# coordinator's answer, KIP-890; with add, transactions version 2: the coordinator adds
# it first, starting a transaction if none is open)
VerifyTxn = Callable[[str, int, int, str, int, float, bool], Awaitable[bool]]

ACKS = {"0": 0, "1": 1, "all": -1, "-1": -1}
LEADER_OPEN_WAIT_S = 2.0  # a new partition's log opens within a loop turn or an fsync or two
FORWARD_RETRY_BACKOFF_S = 0.1  # Kafka's retry.backoff.ms
# A transactional batch is appended only if the coordinator's yes came within this much
# of the produce's start (and half its timeout): a client that stopped waiting retries
# the batch or, in an abort, gives its sequence number to the next transaction's record,
# which a late append of this batch would then shadow as its duplicate.
VERIFY_BOUND_S = 2.0
# What the coordinator answers while it cannot decide (moving, loading, completing the
# last transaction), or not in time: retriable, and "not written" to the client. Kafka's
# leaders answer these as NOT_ENOUGH_REPLICAS, which every client retries.
VERIFY_UNDECIDED = (NotCoordinator, CoordinatorNotAvailable, CoordinatorLoadInProgress,
                    ConcurrentTransactions, TimeoutError)


@dataclass(frozen=True)
class Idempotence:
    """(ext) An idempotent producer's request: its id and epoch, and the sequence number
    of the request's first record (the rest follow consecutively, per partition)."""

    producer_id: int
    producer_epoch: int
    sequence: int


@dataclass
class Delivery:
    partition: int
    offset: int
    timestamp: int
    log_append_time: int = -1  # the broker's stamp when the topic is LogAppendTime


@dataclass(frozen=True)
class PendingDelivery:
    """An appended batch; ``committed()`` returns its Delivery once acks allow."""

    delivery: Delivery
    _wait: Callable[[], Awaitable[None]] | None

    async def committed(self) -> Delivery:
        if self._wait is not None:
            await self._wait()
        return self.delivery


@dataclass
class Traffic:
    """Client records this broker took as leader and served to consumers (Kafka's
    BrokerTopicMetrics: MessagesInPerSec, BytesInPerSec, BytesOutPerSec; replication apart)."""
    messages_in: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class DataPlane:
    def __init__(self, node_id: int, image: Callable[[], MetadataImage], topic_defaults: dict[str, str],
                 replicas: ReplicaManager | None, leaders: LeaderRemote, ready: Callable[[], bool],
                 verify_txn: VerifyTxn | None = None):
        """replicas: this broker's replica manager (None on a controller-only node, which
        forwards everything); ready() says whether this node's image has caught up;
        verify_txn asks a transaction's coordinator whether a partition is in it (or
        has it added)."""
        self.node_id = node_id
        self._verify_txn = verify_txn
        self._image = image
        self._topic_defaults = topic_defaults
        self._replicas = replicas
        self._leaders = leaders
        self._ready = ready
        self._round_robin = RoundRobin()
        # topic name -> (the TopicImage it was computed from, its keyless candidates)
        self._keyless: dict[str, tuple[TopicImage, tuple[int, ...]]] = {}
        self._configs_image: MetadataImage | None = None
        self._configs: dict[str, dict[str, str]] = {}  # topic -> configs, for _configs_image
        self.unacked = UnackedWrites()  # acks=0 writes after the answer; run() by the node
        self.schema_ids = SchemaIdCache()  # the node's registry, once it has one, fills it
        # the registry's current (state, parser), for Iceberg topics' schema modes; set with it
        self.registry_state: Callable[[], Awaitable[tuple[Any, Any]]] | None = None
        self.traffic = Traffic()

    def topic_or_404(self, topic: str):
        return topic_or_404(self._image(), topic, self._ready)

    def configs(self, topic: str) -> dict[str, str]:
        """The topic's effective configs (shared: read, never change them). Worked out
        once per metadata image: every produce reads them, and working them out each
        time was about 1 % of a node's event loop under small requests."""
        image = self._image()
        if image is not self._configs_image:  # images are replaced, never changed
            self._configs_image, self._configs = image, {}
        found = self._configs.get(topic)
        if found is None:
            eff = effective_topic_configs(image, self._topic_defaults, topic, self.node_id)
            found = self._configs[topic] = {k: v for k, (v, _) in eff.items()}
        return found

    async def check_client_records(self, topic: str, records: list[Record]) -> None:
        """A REST request's records, all checked before any is written (client_writes,
        and schema ids where the topic validates them)."""
        configs = self.configs(topic)
        client_writes.check_client_records(records, configs, topic)
        if sides := validated_sides(configs):
            await self._check_schema_ids(topic, sides, lambda: [(r.key, r.value) for r in records], len(records))

    async def _check_schema_ids(self, topic: str, sides: tuple[Side, ...],
                                records: Callable[[], list[KeyValue]], count: int) -> None:
        """Both doors' schema ID validation (schema_ids.py), for a topic that validates keys
        or values (validated_sides: a topic that does not opens no record for it). A batch
        of many records is opened and checked on a worker thread: it shares the GIL with
        the loop in short turns, so the loop keeps serving others meanwhile."""
        run = _on_a_thread if count > SLICE_RECORDS else _here
        pairs = await run(records)
        known = await self.schema_ids.resolve(await run(lambda: named_ids(pairs, sides)))
        await run(lambda: check_schema_ids(pairs, sides, topic, known))

    def choose_partitions(self, topic: str, entries) -> list[int]:
        """entries: (partition or None, Record). Keyless records of one request stick
        to one partition (like Kafka's sticky partitioner), chosen round-robin among
        those this node leads (partitioner.keyless_candidates)."""
        image_topic = self.topic_or_404(topic)
        count = len(image_topic.partitions)
        sticky = None
        out = []
        for partition, record in entries:
            if partition is None:
                if record.key is not None:
                    partition = partition_for_key(record.key, count)
                else:
                    if sticky is None:
                        candidates = self._keyless_candidates(image_topic)
                        sticky = candidates[self._round_robin.next(len(candidates))]
                    partition = sticky
            elif isinstance(partition, bool) or not isinstance(partition, int) \
                    or not 0 <= partition < count:
                raise PartitionNotFound(f"partition {partition!r} not found: topic {topic!r} "
                                        f"has partitions 0..{count - 1}")
            out.append(partition)
        return out

    def _keyless_candidates(self, image_topic: TopicImage) -> tuple[int, ...]:
        cached = self._keyless.get(image_topic.name)
        if cached is not None and cached[0] is image_topic:  # images are replaced, never changed
            return cached[1]
        here = self.node_id if self._replicas is not None else None
        candidates = keyless_candidates([p.leader for p in image_topic.partitions], here)
        if len(self._keyless) > 10_000:  # deleted topics' entries: dropped now and then
            self._keyless.clear()
        self._keyless[image_topic.name] = (image_topic, candidates)
        return candidates

    # -- produce: every entry returns what was appended, and committed() for when it commits --
    async def append_records(self, topic: str, partition: int, records: list[Record], acks: int,
                             timeout_ms: int, producer: Idempotence | None = None) -> PendingDelivery:
        """The REST door's records for one partition, which check_client_records passed,
        appended on its leader wherever it is (forwarded from here). The Delivery holds
        the first record's offset (for a retried idempotent batch, the offset it was
        first written at); acks=0 hands the write over and holds offset -1."""
        configs = self.configs(topic)
        if producer is None:
            batch = client_writes.encode_checked(records, configs)
            if acks == 0 and self.unacked.running:
                self.leader_of(topic, partition)  # no such partition / no leader: say so now
                timestamp = records[0].timestamp_ms
                await self.unacked.hand_over(topic, partition, lambda: self._append_committed(
                    topic, partition, batch, 0, timeout_ms, timestamp))
                return PendingDelivery(Delivery(partition, -1, timestamp), None)
        else:
            batch = client_writes.encode_checked(records, configs, producer.producer_id,
                                                 producer.producer_epoch, producer.sequence)
        return await self.append_batch(topic, partition, batch, acks, timeout_ms, records[0].timestamp_ms)

    async def append_client_batch(self, topic: str, partition: int, data: bytes, acks: int,
                                  timeout_ms: int, transactional_id: str | None = None,
                                  add_to_txn: bool = False) -> PendingDelivery:
        """The Kafka door's batch for a partition this broker leads (clients find the
        leader themselves), checked whole (client_writes) and appended. A transactional
        batch is appended only to a partition its transaction holds (KIP-890); with
        add_to_txn (transactions version 2, Produce v12+) the coordinator adds the
        partition to the transaction first, within the same bound."""
        # between slices of a large batch's checks, the loop serves others
        configs = self.configs(topic)
        batch, header = await run_sliced(client_writes.client_batch_checks(data, configs, topic))
        if sides := validated_sides(configs):
            await self._check_schema_ids(topic, sides, lambda: [(r.key, r.value) for r in decode_records(
                batch, verify=False)], header.record_count)
        if header.is_transactional:
            bound_s = VERIFY_BOUND_S if timeout_ms <= 0 else min(VERIFY_BOUND_S, timeout_ms / 2000)
            await self._check_in_transaction(transactional_id, header.producer_id, header.producer_epoch,
                                             topic, partition, time.monotonic() + bound_s, add_to_txn)
        pending = await self.append_batch(topic, partition, batch, acks, timeout_ms,
                                          header.base_timestamp, local_only=True)
        if batch is not data and (stamped := BatchHeader.parse(batch).append_time) is not None:
            pending.delivery.log_append_time = stamped  # client_writes stamped it (LogAppendTime)
        return pending

    async def _check_in_transaction(self, transactional_id: str | None, producer_id: int, epoch: int,
                                    topic: str, partition: int, deadline: float, add: bool = False) -> None:
        if not transactional_id:
            raise InvalidTxnState(f"INVALID_TXN_STATE: a transactional batch for {topic}-{partition} "
                                  "came without a transactional id")
        replica = await self.leader_replica(topic, partition)
        entry = replica.producer_entry(producer_id)
        if entry is not None and entry.epoch == epoch and entry.txn_first_offset is not None:
            return  # its transaction already wrote here: the coordinator said yes then
        undecided = ("NOT_ENOUGH_REPLICAS: could not verify that {topic}-{partition} is in the transaction "
                     "of {tid!r} ({why}); retry")
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                in_transaction = self._verify_txn is not None and await self._verify_txn(
                    transactional_id, producer_id, epoch, topic, partition, deadline - time.monotonic(), add)
        except ProducerFenced as exc:
            # as Kafka's partition leaders answer a Produce: producers take INVALID_PRODUCER_EPOCH
            # there as being fenced (librdkafka: a fatal _FENCED), PRODUCER_FENCED as abortable
            raise InvalidProducerEpoch(f"{topic}-{partition}: {exc.message}") from None
        except VERIFY_UNDECIDED as exc:
            why = "no answer in time" if isinstance(exc, TimeoutError) else exc.kafka_name
            raise NotEnoughReplicas(undecided.format(topic=topic, partition=partition, tid=transactional_id,
                                                     why=why)) from None
        if not in_transaction:
            raise PartitionNotInTransaction(
                f"INVALID_TXN_STATE: {topic}-{partition} is not in the open transaction of {transactional_id!r} "
                f"(producer {producer_id}, epoch {epoch}): add it first (AddPartitionsToTxn)")
        if time.monotonic() > deadline:  # the yes came late: the client may have moved on
            raise NotEnoughReplicas(undecided.format(topic=topic, partition=partition, tid=transactional_id,
                                                     why="the answer came too late"))
        # KIP-890's guard: a marker that arrived while the coordinator answered ended the
        # transaction it said yes for; appending now would open one nobody will close.
        # Not so when the marker moved the producer to this batch's epoch: with
        # transactions version 2 that is the previous transaction's end (its markers
        # carry the bumped epoch), which the coordinator waited for before adding; also
        # when that transaction held this partition without writing here (no entry)
        now = replica.producer_entry(producer_id)
        previous_ended = (add and (entry is None or entry.epoch < epoch) and now is not None
                          and now.epoch == epoch)
        if now != entry and (now is None or now.txn_first_offset is None) and not previous_ended:
            raise InvalidTxnState(f"INVALID_TXN_STATE: the transaction of {transactional_id!r} on "
                                  f"{topic}-{partition} ended while this batch was checked")

    async def write_marker(self, topic: str, partition: int, producer_id: int, producer_epoch: int,
                           commit: bool, coordinator_epoch: int, timeout_ms: int, transaction_version: int = 1) -> None:
        """WriteTxnMarkers for one partition this broker leads: the marker appended and
        committed (acks=all), or the error that says why not."""
        replica = await self.leader_replica(topic, partition)
        try:
            last, epoch = replica.append_marker(producer_id, producer_epoch, commit, coordinator_epoch,
                                                transaction_version)
        except ProducerSequenceError as exc:
            raise type(exc)(f"{topic}-{partition}: {exc.detail}") from None
        await replica.wait_committed(last, epoch, time.monotonic() + timeout_ms / 1000)

    async def append_batch(self, topic: str, partition: int, batch: bytes, acks: int,
                           timeout_ms: int, timestamp: int, local_only: bool = False) -> PendingDelivery:
        """A batch that met the client rules (or the cluster's own: coordinators' records,
        a batch another node's REST door forwarded), appended: in the leader's log (or
        forwarded and answered) when this returns; ``committed()`` waits for acks=all.
        Split so that a connection may take its next produce while this one replicates,
        with appends in arrival order. local_only: NOT_LEADER rather than forward."""
        rm = self._replicas
        # as a Kafka producer retries, a leader's refusal that wrote nothing (its image lags a
        # topic created a moment ago, or leadership moved) is sent again within half the bound
        retry_until = time.monotonic() + timeout_ms / 2000
        while (leader := self._produce_leader(topic, partition)) != self.node_id or rm is None:
            if local_only:
                raise NotLeaderOrFollower(f"NOT_LEADER: node {self.node_id} does not lead {topic}-{partition}")
            try:
                return PendingDelivery(await self._forward_produce(leader, topic, partition, batch, acks,
                                                                   timeout_ms, timestamp), None)
            except (UnknownTopicOrPartition, NotLeaderOrFollower):
                if time.monotonic() + FORWARD_RETRY_BACKOFF_S >= retry_until:
                    raise
            await asyncio.sleep(FORWARD_RETRY_BACKOFF_S)
        try:
            # the request's own bound, halved so its answer still comes in time: on a loaded
            # machine the open may take seconds (an fsync behind others)
            open_wait_s = max(LEADER_OPEN_WAIT_S, timeout_ms / 2000)
            replica = await self._opened_leader_replica(rm, topic, partition, open_wait_s)
            base, last, epoch = replica.append(batch, acks == -1)
        except ProducerSequenceError as exc:  # the producer's fault: named as in Kafka
            raise type(exc)(f"{topic}-{partition}: {exc.detail}") from None
        self.traffic.messages_in += last - base + 1
        self.traffic.bytes_in += len(batch)
        delivery = Delivery(partition, -1 if acks == 0 else base, timestamp)
        if acks != -1:
            return PendingDelivery(delivery, None)
        deadline = time.monotonic() + timeout_ms / 1000
        return PendingDelivery(delivery, lambda: replica.wait_committed(last, epoch, deadline))

    def _produce_leader(self, topic: str, partition: int) -> int:
        part = self.topic_or_404(topic).partitions
        if not 0 <= partition < len(part):
            raise PartitionNotFound(f"partition {partition} not found")
        if (leader := part[partition].leader) < 0:
            raise LeaderNotAvailable(f"LEADER_NOT_AVAILABLE: {topic}-{partition} has no leader (offline)")
        return leader

    async def _append_committed(self, topic: str, partition: int, batch: bytes, acks: int,
                                timeout_ms: int, timestamp: int) -> Delivery:
        return await (await self.append_batch(topic, partition, batch, acks, timeout_ms, timestamp)).committed()

    async def _opened_leader_replica(self, rm, topic: str, partition: int,
                                     wait_s: float = LEADER_OPEN_WAIT_S):
        """The image names this node the leader, but the replica manager opens a new
        partition's log a moment after the metadata arrives (a just-created topic):
        wait that moment (up to wait_s) rather than answer NOT_LEADER."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return rm.leader_replica(topic, partition)
            except NotLeaderOrFollower:
                if (time.monotonic() >= deadline
                        or self.topic_or_404(topic).partitions[partition].leader != self.node_id):
                    raise
            await asyncio.sleep(0.01)

    async def _forward_produce(self, leader, topic, partition, batch, acks, timeout_ms, timestamp):
        try:
            base = await self._leaders.produce(leader, topic, partition, batch, acks, timeout_ms)
        except ConnectionError as exc:
            raise OutcomeUnknown(f"NOT_LEADER or unreachable leader {leader} for {topic}-{partition} "
                                 f"({exc}); outcome unknown, retry") from None
        return Delivery(partition, -1 if acks == 0 else base, timestamp)

    async def leader_replica(self, topic: str, partition: int):
        """This broker's leader replica of the partition, once its log is open, or the
        error that says why not (both doors read through here)."""
        image_topic = self._image().topic(topic)
        if image_topic is None or not 0 <= partition < len(image_topic.partitions):
            raise UnknownTopicOrPartition(f"{topic}-{partition} is not a partition of this cluster")
        if self._replicas is None:
            raise NotLeaderOrFollower("this node hosts no replicas")
        return await self._opened_leader_replica(self._replicas, topic, partition)

    async def consumer_replica(self, topic: str, partition: int, followers_too: bool):
        """The replica a consumer's Kafka fetch reads: the leader's, or (KIP-392, Fetch
        v11+) this broker's follower replica; NOT_LEADER_OR_FOLLOWER where it has none."""
        if followers_too and self._replicas is not None:
            replica = self._replicas.replica(topic, partition)
            image_topic = self._image().topic(topic)
            leader = (image_topic.partitions[partition].leader
                      if image_topic is not None and 0 <= partition < len(image_topic.partitions) else -1)
            # a follower of a leader elsewhere; not one whose image still names this node
            if replica is not None and not replica.is_leader and leader not in (-1, self.node_id):
                return replica
        return await self.leader_replica(topic, partition)

    async def delete_records(self, topic: str, partition: int, offset: int, timeout_ms: int,
                             local_only: bool = False) -> int:
        """DeleteRecords for one partition: its leader moves the log start to ``offset``
        (-1: the high watermark) and waits until every replica on a live broker has done
        the same; returns that low watermark. A REST request reaches the leader from any
        node; a Kafka client asks the leader itself (``local_only``)."""
        if not local_only:
            leader = self.leader_of(topic, partition)
            if leader != self.node_id or self._replicas is None:
                return await self._forward_delete_records(leader, topic, partition, offset, timeout_ms)
        replica = await self.leader_replica(topic, partition)
        policy = self.configs(topic).get("cleanup.policy", "delete")
        if "delete" not in policy.split(","):  # Kafka's rule: compacted-only logs keep their records
            raise PolicyViolation(f"POLICY_VIOLATION: records of {topic} cannot be deleted: its "
                                  f"cleanup.policy is {policy!r}")
        target = replica.delete_records_before(offset)
        return await replica.wait_low_watermark(target, lambda: set(self._image().unfenced_broker_ids()),
                                                time.monotonic() + timeout_ms / 1000)

    async def _forward_delete_records(self, leader: int, topic: str, partition: int, offset: int,
                                      timeout_ms: int) -> int:
        try:
            return await self._leaders.delete_records(leader, topic, partition, offset, timeout_ms)
        except ConnectionError as exc:
            raise OutcomeUnknown(f"NOT_LEADER or unreachable leader {leader} for {topic}-{partition} "
                                 f"({exc}); outcome unknown, retry") from None

    def log_start_offset(self, topic: str, partition: int) -> int:
        """The partition's log start offset on this broker; -1 where it has no replica."""
        replica = self._replicas.replica(topic, partition) if self._replicas is not None else None
        return -1 if replica is None else replica.log_start_offset

    async def read(self, topic: str, partition: int, offset: int, max_bytes: int,
                   timeout_ms: int) -> bytes:
        replica = await self.leader_replica(topic, partition)
        taken = await replica.read_committed(offset, max_bytes, time.monotonic() + timeout_ms / 1000)
        self.traffic.bytes_out += taken.size
        return taken.records

    async def read_stable(self, topic: str, partition: int, offset: int, max_bytes: int,
                          timeout_ms: int) -> tuple[bytes, list[Aborted]]:
        """A read_committed consumer's read: batches below the LSO, and the aborted
        transactions among them (whose records it must drop)."""
        replica = await self.leader_replica(topic, partition)
        taken = await replica.read_committed(offset, max_bytes, time.monotonic() + timeout_ms / 1000, stable=True)
        self.traffic.bytes_out += taken.size
        return taken.records, [Aborted(a.producer_id, a.first_offset) for a in taken.aborted]

    async def offsets(self, topic: str, partition: int, stable: bool = False) -> tuple[int, int]:
        """(log start, HW), or (log start, LSO) when `stable`."""
        replica = await self.leader_replica(topic, partition)
        start, hw = replica.readable_range()
        return start, replica.last_stable_offset() if stable else hw

    async def offset_for_timestamp(self, topic: str, partition: int, timestamp: int,
                                   stable: bool = False) -> tuple[int, int] | None:
        return (await self.leader_replica(topic, partition)).offset_for_timestamp(timestamp, stable)

    def leader_of(self, topic: str, partition: int) -> int:
        part = self.topic_or_404(topic).partitions
        if not 0 <= partition < len(part):
            raise PartitionNotFound(f"partition {partition} not found: topic {topic!r} has "
                                    f"partitions 0..{len(part) - 1}")
        leader = part[partition].leader
        if leader < 0:
            raise LeaderNotAvailable(f"LEADER_NOT_AVAILABLE: {topic}-{partition} has no leader (offline)")
        return leader


async def _here(work: Callable[[], T]) -> T:
    return work()


async def _on_a_thread(work: Callable[[], T]) -> T:
    return await asyncio.to_thread(work)
