"""Idempotent and transactional produce: what a partition remembers of each producer.

Per producer id: its epoch, the sequence ranges and offsets of its last 5 batches
(Kafka's max.in.flight for idempotence), in log order, the first offset of its open
transaction on this partition and the coordinator epoch of the last marker seen. The
leader checks a produced batch or a marker against it before appending; every replica
records every appended batch, so a new leader knows what the old one wrote. The table
is a function of the log's contents alone (no clock), so replicas agree and it can be
rebuilt from the batches. Recording never refuses: a follower or a replay follows the
log the leader checked. Pure: no I/O.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # record_batch is not needed at run time
    from kraft.storage.record_batch import BatchHeader
from kraft.errors import (
    InvalidProducerEpoch,
    InvalidTxnState,
    OutOfOrderSequence,
    TransactionCoordinatorFenced,
    UnknownProducerId,
)

BATCHES_KEPT = 5
# Producers least recently appended are forgotten beyond this many per partition: a
# bound without a clock (replicas evict the same ones). A forgotten producer must
# start again at sequence 0. One with an open transaction is never forgotten: the
# last stable offset waits for its marker.
MAX_PRODUCERS = 5000
SEQUENCE_MODULUS = 2**31  # sequences wrap after INT32_MAX, as in Kafka
# Ended transactions remembered until the high watermark passes their marker; older
# ones are surely replicated, whatever the caller's high watermark.
MAX_UNREPLICATED = 10_000
NO_EPOCH = -1


class BatchSeq(NamedTuple):
    first_seq: int
    last_seq: int
    base_offset: int
    last_offset: int


class ProducerEntry(NamedTuple):
    epoch: int
    batches: tuple[BatchSeq, ...]  # oldest first, at most BATCHES_KEPT; none when only markers came in this epoch
    coordinator_epoch: int = NO_EPOCH  # of the last marker seen
    txn_first_offset: int | None = None  # first offset of its open transaction here
    last_timestamp: int = -1  # max timestamp of its last batch or marker

    @property
    def next_seq(self) -> int:
        return (self.batches[-1].last_seq + 1) % SEQUENCE_MODULUS if self.batches else 0

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


class CompletedTxn(NamedTuple):
    producer_id: int
    first_offset: int
    last_offset: int  # the marker's offset
    aborted: bool


class ProducerInfo(NamedTuple):
    """One producer as DescribeProducers answers it."""

    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_timestamp: int
    coordinator_epoch: int
    current_txn_start_offset: int  # -1: no open transaction


def last_seq_of(first_seq: int, count: int) -> int:
    return (first_seq + count - 1) % SEQUENCE_MODULUS


class ProducerStateTable:
    def __init__(self, entries: OrderedDict[int, ProducerEntry] | None = None,
                 max_producers: int = MAX_PRODUCERS):
        self._entries: OrderedDict[int, ProducerEntry] = entries or OrderedDict()
        self._max = max_producers
        # producer id -> first offset of its open transaction, in offset order: the first
        # one is the first unstable offset
        open_txns = sorted((e.txn_first_offset, pid) for pid, e in self._entries.items()
                           if e.txn_first_offset is not None)
        self._open: dict[int, int] = {pid: first for first, pid in open_txns}
        # (first offset, marker offset) of ended transactions, in marker order (see last_stable_offset)
        self._unreplicated: deque[tuple[int, int]] = deque(maxlen=MAX_UNREPLICATED)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, producer_id: int) -> ProducerEntry | None:
        return self._entries.get(producer_id)

    # -- leader checks -----------------------------------------------------------------------
    def check(self, producer_id: int, epoch: int, first_seq: int, count: int,
              is_transactional: bool = False) -> BatchSeq | None:
        """Before a leader append of a data batch: None to append, the original BatchSeq
        for a retried batch, or raise OutOfOrderSequence / InvalidProducerEpoch /
        InvalidTxnState (the producer's fault). A batch with a producer id but no
        sequence (a coordinator's write) is checked for its epoch and transaction only."""
        if producer_id < 0:
            return None  # not idempotent: nothing to check
        entry = self._entries.get(producer_id)
        if entry is None:
            if first_seq > 0:
                raise UnknownProducerId(
                    f"producer {producer_id} is unknown here (no batch of it in the log), so "
                    f"its first sequence must be 0, got {first_seq}")
            return None
        if epoch < entry.epoch:
            raise InvalidProducerEpoch(
                f"producer {producer_id} epoch {epoch} is stale: epoch {entry.epoch} has written here")
        if first_seq >= 0:
            if epoch > entry.epoch:
                if first_seq != 0:
                    raise OutOfOrderSequence(
                        f"producer {producer_id} begins epoch {epoch}, so its sequence must start "
                        f"at 0, got {first_seq}")
            else:
                last_seq = last_seq_of(first_seq, count)
                for batch in entry.batches:
                    if batch.first_seq == first_seq and batch.last_seq == last_seq:
                        return batch
                if first_seq != entry.next_seq:
                    raise OutOfOrderSequence(
                        f"producer {producer_id} epoch {epoch}: expected sequence {entry.next_seq}, got "
                        f"{first_seq} (records {first_seq}..{last_seq})")
        if entry.txn_first_offset is not None and not is_transactional:
            raise InvalidTxnState(
                f"producer {producer_id} has a transaction open here since offset "
                f"{entry.txn_first_offset}: a non-transactional write must wait for its end")
        return None

    def check_marker(self, producer_id: int, epoch: int, coordinator_epoch: int,
                     transaction_version: int = 1) -> None:
        """Before a leader appends a COMMIT or ABORT marker: raise InvalidProducerEpoch for
        an epoch older than the producer's, TransactionCoordinatorFenced for a coordinator
        epoch older than the last marker's (a zombie coordinator).

        Transactions version 2 (and every fence): a marker carries the epoch after its
        transaction's, so one at the epoch an open transaction here was written in ended
        an earlier transaction and arrived late (a delayed request): it would abort the
        wrong one (Kafka's KAFKA-19446). At that epoch with nothing open it is a retry."""
        entry = self._entries.get(producer_id)
        if entry is None:
            return
        if epoch < entry.epoch:
            raise InvalidProducerEpoch(
                f"marker for producer {producer_id} has epoch {epoch}, older than its epoch {entry.epoch}")
        if transaction_version >= 2 and epoch == entry.epoch and entry.txn_first_offset is not None:
            raise InvalidProducerEpoch(
                f"marker for producer {producer_id} at epoch {epoch} is stale: the transaction open here "
                f"since offset {entry.txn_first_offset} was written in that epoch, so its marker comes "
                f"with the next")
        if coordinator_epoch < entry.coordinator_epoch:
            raise TransactionCoordinatorFenced(
                f"marker for producer {producer_id} comes from coordinator epoch {coordinator_epoch}; "
                f"epoch {entry.coordinator_epoch} has written a marker here")

    # -- recording (every replica, every appended or replayed batch) ---------------------------
    def record(self, producer_id: int, epoch: int, first_seq: int, count: int,
               base_offset: int, last_offset: int, *, is_transactional: bool = False,
               timestamp: int = -1) -> None:
        """After any append (leader or follower, or a rebuild) of a data batch."""
        if producer_id < 0:
            return
        entry = self._entries.pop(producer_id, None)
        if entry is None:
            entry = ProducerEntry(epoch, ())
        elif epoch > entry.epoch:
            entry = entry._replace(epoch=epoch, batches=())
        if first_seq >= 0 and epoch == entry.epoch:
            # an older epoch than recorded cannot have been accepted: its sequences are not kept
            batch = BatchSeq(first_seq, last_seq_of(first_seq, count), base_offset, last_offset)
            entry = entry._replace(batches=(entry.batches + (batch,))[-BATCHES_KEPT:])
        if is_transactional and entry.txn_first_offset is None:
            entry = entry._replace(txn_first_offset=base_offset)
            self._open[producer_id] = base_offset
        self._entries[producer_id] = entry._replace(last_timestamp=timestamp)  # at the end: most recent
        self._evict()

    def record_header(self, header: BatchHeader) -> None:
        """``header``: a BatchHeader (kraft.storage.record_batch) of a data batch that was
        appended. The sequence range comes from lastOffsetDelta, as in Kafka: compaction
        may drop records from a batch but keeps its header's offsets and sequence."""
        self.record(header.producer_id, header.producer_epoch, header.base_sequence,
                    header.last_offset_delta + 1, header.base_offset, header.last_offset,
                    is_transactional=header.is_transactional, timestamp=header.max_timestamp)

    def record_marker(self, producer_id: int, epoch: int, coordinator_epoch: int, commit: bool,
                      offset: int, timestamp: int = -1) -> CompletedTxn | None:
        """After a marker is appended at ``offset``: the transaction it ended, None when
        the producer had none open here (an empty transaction, or a retried marker). A
        newer epoch fences the old one: its later batches are refused."""
        if producer_id < 0:
            return None
        entry = self._entries.pop(producer_id, None) or ProducerEntry(epoch, ())
        completed = None
        if entry.txn_first_offset is not None:
            completed = CompletedTxn(producer_id, entry.txn_first_offset, offset, not commit)
            del self._open[producer_id]
            self._unreplicated.append((entry.txn_first_offset, offset))
        if epoch > entry.epoch:
            entry = entry._replace(epoch=epoch, batches=())
        self._entries[producer_id] = entry._replace(
            coordinator_epoch=max(entry.coordinator_epoch, coordinator_epoch),
            txn_first_offset=None, last_timestamp=timestamp)
        self._evict()
        return completed

    def _evict(self) -> None:
        while len(self._entries) > self._max:
            newest = next(reversed(self._entries))
            victim = next((pid for pid, e in self._entries.items()
                           if e.txn_first_offset is None and pid != newest), None)
            if victim is None:
                return  # the others all have a transaction open: the bound waits for their ends
            del self._entries[victim]

    # -- transactions ------------------------------------------------------------------------
    @property
    def first_unstable_offset(self) -> int | None:
        """The lowest first offset of an open transaction, None when none is open."""
        return next(iter(self._open.values()), None)

    def unstable_bound(self, high_watermark: int) -> int | None:
        """The first unstable offset counting, as Kafka does, ended transactions whose
        marker is not below ``high_watermark`` yet (replicated data, unreplicated outcome)."""
        pending = self._unreplicated
        while pending and pending[0][1] < high_watermark:
            pending.popleft()
        firsts = [first for first, _ in pending]
        first_open = self.first_unstable_offset
        if first_open is not None:
            firsts.append(first_open)
        return min(firsts, default=None)

    def producer_infos(self) -> list[ProducerInfo]:
        return [ProducerInfo(pid, e.epoch, e.last_seq, e.last_timestamp, e.coordinator_epoch,
                             -1 if e.txn_first_offset is None else e.txn_first_offset)
                for pid, e in sorted(self._entries.items())]

    # -- persistence (the shape written to snapshot files) ----------------------------------
    def to_json(self) -> list[list[Any]]:
        return [[pid, e.epoch, [list(b) for b in e.batches], e.coordinator_epoch,
                 -1 if e.txn_first_offset is None else e.txn_first_offset, e.last_timestamp]
                for pid, e in self._entries.items()]

    @classmethod
    def from_json(cls, data: list[list[Any]], max_producers: int = MAX_PRODUCERS) -> ProducerStateTable:
        """Entries as to_json writes them, or as version 1 snapshots did ([pid, epoch,
        batches]: no transactions then). Raises ValueError/TypeError on anything
        malformed (the caller falls back)."""
        entries: OrderedDict[int, ProducerEntry] = OrderedDict()
        for item in data:
            if len(item) == 3:
                (pid, epoch, batches), coordinator_epoch, txn_first, timestamp = item, NO_EPOCH, -1, -1
                if not batches:
                    raise ValueError(f"malformed producer entry for {pid!r}")
            else:
                pid, epoch, batches, coordinator_epoch, txn_first, timestamp = item
            parsed = tuple(BatchSeq(*(int(x) for x in b)) for b in batches)
            if not all(isinstance(x, int) for x in (pid, epoch, coordinator_epoch, txn_first, timestamp)) \
                    or len(parsed) > BATCHES_KEPT:
                raise ValueError(f"malformed producer entry for {pid!r}")
            entries[pid] = ProducerEntry(epoch, parsed, coordinator_epoch,
                                         None if txn_first < 0 else txn_first, timestamp)
        return cls(entries, max_producers)
