"""Compaction of transactional data, the rules only (after Kafka's cleaner): which
batches belong to aborted transactions, and which markers may go. Pure.

A pass walks batches in offset order from the log start. The aborted transactions
come from the aborted-transaction index: a transactional batch of a producer that
falls inside one of its aborted ranges is aborted data (it counts for no key and is
removed). A COMMIT or ABORT marker may go once no batch of its transaction is kept
before it (so a replay of the cleaned log never finds a transaction without its end)
and its segment is older than delete.retention.ms (``expired``), unless it is its
producer's last batch, which keeps the producer's epoch. A kept ABORT marker keeps
its index entry only while data of its transaction is kept, as a replay would find.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from kraft.storage.compaction import BatchRef
from kraft.storage.txn_index import TxnIndexEntry


class TxnCleaning:
    def __init__(self, aborted: Iterable[TxnIndexEntry]) -> None:
        self._pending = deque(sorted(aborted, key=lambda e: e.first_offset))
        self._aborted: dict[int, TxnIndexEntry] = {}  # producer id -> its aborted transaction being walked
        self._kept: set[int] = set()  # producers with a kept batch of their current transaction

    def _reach(self, offset: int) -> None:
        while self._pending and self._pending[0].first_offset <= offset:
            entry = self._pending.popleft()
            self._aborted.setdefault(entry.producer_id, entry)

    def is_aborted(self, batch: BatchRef) -> bool:
        """For a data batch: does it belong to an aborted transaction?"""
        if batch.is_control or not batch.is_transactional:
            return False
        self._reach(batch.last_offset)
        return batch.producer_id in self._aborted

    def kept(self, batch: BatchRef) -> None:
        """A data batch was kept (whole, trimmed or as a header)."""
        if batch.is_transactional and not batch.is_control:
            self._kept.add(batch.producer_id)

    def marker(self, batch: BatchRef, expired: bool, must_keep: bool) -> tuple[bool, TxnIndexEntry | None]:
        """For a control batch: (keep it?, the index entry to keep with it)."""
        if batch.marker is None:
            return True, None  # not a marker: nothing here to decide
        self._reach(batch.last_offset)
        data_kept = batch.producer_id in self._kept
        self._kept.discard(batch.producer_id)
        entry = self._aborted.pop(batch.producer_id, None)
        keep = data_kept or must_keep or not expired
        if entry is not None and entry.last_offset != batch.base_offset:
            entry = None  # an entry that is not this marker's: the log and index disagree, trust the log
        return keep, (entry if keep and data_kept and batch.marker is False else None)
