"""Idempotent produce: what a partition remembers of each producer's recent batches.

Per producer id: its epoch and the sequence ranges and offsets of its last 5 batches
(Kafka's max.in.flight for idempotence), in log order. The leader checks a produced
batch against it before appending; every replica records every appended batch, so a
new leader knows what the old one wrote. The table is a function of the log's
contents alone (no clock), so replicas agree and it can be rebuilt from batch headers.
Pure: no I/O.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

from kraft.errors import InvalidProducerEpoch, OutOfOrderSequence, UnknownProducerId

BATCHES_KEPT = 5
# Producers least recently appended are forgotten beyond this many per partition: a
# bound without a clock (replicas evict the same ones). A forgotten producer must
# start again at sequence 0.
MAX_PRODUCERS = 5000
SEQUENCE_MODULUS = 2**31  # sequences wrap after INT32_MAX, as in Kafka


class BatchSeq(NamedTuple):
    first_seq: int
    last_seq: int
    base_offset: int
    last_offset: int


class ProducerEntry(NamedTuple):
    epoch: int
    batches: tuple[BatchSeq, ...]  # oldest first, at most BATCHES_KEPT

    @property
    def next_seq(self) -> int:
        return (self.batches[-1].last_seq + 1) % SEQUENCE_MODULUS


def last_seq_of(first_seq: int, count: int) -> int:
    return (first_seq + count - 1) % SEQUENCE_MODULUS


class ProducerStateTable:
    def __init__(self, entries: OrderedDict[int, ProducerEntry] | None = None,
                 max_producers: int = MAX_PRODUCERS):
        self._entries: OrderedDict[int, ProducerEntry] = entries or OrderedDict()
        self._max = max_producers

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, producer_id: int) -> ProducerEntry | None:
        return self._entries.get(producer_id)

    def check(self, producer_id: int, epoch: int, first_seq: int, count: int) -> BatchSeq | None:
        """Before a leader append: None to append, the original BatchSeq for a retried
        batch, or raise OutOfOrderSequence / InvalidProducerEpoch (the producer's fault)."""
        if producer_id < 0 or first_seq < 0:
            return None  # not idempotent: nothing to check
        last_seq = last_seq_of(first_seq, count)
        entry = self._entries.get(producer_id)
        if entry is None:
            if first_seq != 0:
                raise UnknownProducerId(
                    f"producer {producer_id} is unknown here (no batch of it in the log), so "
                    f"its first sequence must be 0, got {first_seq}")
            return None
        if epoch < entry.epoch:
            raise InvalidProducerEpoch(
                f"producer {producer_id} epoch {epoch} is stale: epoch {entry.epoch} has written here")
        if epoch > entry.epoch:
            if first_seq != 0:
                raise OutOfOrderSequence(
                    f"producer {producer_id} begins epoch {epoch}, so its sequence must start "
                    f"at 0, got {first_seq}")
            return None
        for batch in entry.batches:
            if batch.first_seq == first_seq and batch.last_seq == last_seq:
                return batch
        if first_seq != entry.next_seq:
            raise OutOfOrderSequence(
                f"producer {producer_id} epoch {epoch}: expected sequence {entry.next_seq}, got "
                f"{first_seq} (records {first_seq}..{last_seq})")
        return None

    def record(self, producer_id: int, epoch: int, first_seq: int, count: int,
               base_offset: int, last_offset: int) -> None:
        """After any append (leader or follower, or a rebuild) of an idempotent batch."""
        if producer_id < 0 or first_seq < 0:
            return
        entry = self._entries.pop(producer_id, None)
        batch = BatchSeq(first_seq, last_seq_of(first_seq, count), base_offset, last_offset)
        if entry is None or epoch > entry.epoch:
            entry = ProducerEntry(epoch, (batch,))
        elif epoch == entry.epoch:
            entry = ProducerEntry(epoch, (entry.batches + (batch,))[-BATCHES_KEPT:])
        # an older epoch than recorded cannot have been accepted: keep what we had
        self._entries[producer_id] = entry  # moved to the end: most recently appended
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def record_header(self, header) -> None:
        """``header``: a BatchHeader (kraft.storage.record_batch) that was appended. The
        sequence range comes from lastOffsetDelta, as in Kafka: compaction may drop
        records from a batch but keeps its header's offsets and sequence."""
        self.record(header.producer_id, header.producer_epoch, header.base_sequence,
                    header.last_offset_delta + 1, header.base_offset, header.last_offset)

    # -- persistence (the shape written to snapshot files) ----------------------------------
    def to_json(self) -> list:
        return [[pid, e.epoch, [list(b) for b in e.batches]] for pid, e in self._entries.items()]

    @classmethod
    def from_json(cls, data: list, max_producers: int = MAX_PRODUCERS) -> ProducerStateTable:
        """Raises ValueError/TypeError on anything malformed (the caller falls back)."""
        entries: OrderedDict[int, ProducerEntry] = OrderedDict()
        for pid, epoch, batches in data:
            parsed = tuple(BatchSeq(*(int(x) for x in b)) for b in batches)
            if not isinstance(pid, int) or not isinstance(epoch, int) \
                    or not 0 < len(parsed) <= BATCHES_KEPT:
                raise ValueError(f"malformed producer entry for {pid!r}")
            entries[pid] = ProducerEntry(epoch, parsed)
        return cls(entries, max_producers)
