"""Transactions in a partition log: how an appended or replayed batch moves the producer
table and the aborted-transaction indexes, and how fetches query them.

A data batch goes to the table (a transactional one opens its producer's transaction);
a COMMIT or ABORT marker ends it, and an ABORT of a transaction that wrote here adds an
entry to the index of the segment the marker is in. Control batches that are no marker
(another control type, or one compaction emptied) change nothing.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from kraft.errors import RecordBatchError
from kraft.storage.producer_state import ProducerStateTable
from kraft.storage.record_batch import BatchHeader, ControlMarker, control_marker
from kraft.storage.segment import Segment
from kraft.storage.txn_index import AbortedTxn, TxnIndexEntry, collect


def marker_of(batch: bytes | bytearray | memoryview, pos: int = 0) -> ControlMarker | None:
    try:
        return control_marker(batch, pos)
    except RecordBatchError:  # CorruptBatchError too: the leader's bytes are followed, not judged
        return None


def apply(table: ProducerStateTable, segment: Segment, header: BatchHeader, batch: bytes | None = None,
          position: int = 0) -> None:
    """Record ``header``'s batch, just written to (or replayed from) ``segment``: its bytes
    ``batch``, or else at ``position`` there (only a marker's are read)."""
    if not header.is_control:
        table.record_header(header)
        return
    if batch is None:
        batch = segment.log.read(position, header.size)
    marker = marker_of(batch)
    if marker is None:
        return
    done = table.record_marker(header.producer_id, header.producer_epoch, marker.coordinator_epoch,
                               marker.commit, header.base_offset, header.max_timestamp)
    if done is not None and done.aborted:
        # Kafka's last stable offset of the entry: the first still open, else just past the marker
        stable = table.first_unstable_offset
        segment.txn_index.append(TxnIndexEntry(done.producer_id, done.first_offset, done.last_offset,
                                               done.last_offset + 1 if stable is None else stable))


def index_entries(segments: Sequence[Segment], start: int, upper: int) -> list[TxnIndexEntry]:
    """Index entries of the aborted transactions overlapping [start, upper), as Kafka's
    fetch collects them: from the segment holding ``start`` on (a marker follows its
    data), until an entry shows no later one can overlap."""
    if upper <= start or not segments:
        return []
    at = max(0, bisect_right(segments, start, key=lambda s: s.base_offset) - 1)
    out: list[TxnIndexEntry] = []
    for segment in segments[at:]:
        found, complete = collect(segment.txn_index.entries(), start, upper)
        out += found
        if complete:
            break
    return out


def aborted_transactions(segments: Sequence[Segment], start: int, upper: int) -> list[AbortedTxn]:
    return [entry.aborted_txn for entry in index_entries(segments, start, upper)]
