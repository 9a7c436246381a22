"""A segment's aborted-transaction index: ``<base:020d>.txnindex`` (Kafka's TransactionIndex).

One entry per transaction whose ABORT marker lies in the segment, in marker order:
int16 version (0), int64 producer id, int64 first offset, int64 last offset (the
marker's), int64 last stable offset (the log's first unstable offset once this
transaction ended, or the marker's offset + 1). A fetch at read_committed collects the
entries overlapping what it returns; the last stable offset lets the walk over later
segments stop early.

The file is created by the first entry (most segments never get one), read once and
then kept in memory. It is derived from the log: recovery and truncation rebuild it
from the batches they replay, so a torn last entry is simply dropped.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from kraft.storage.fs_sync import fsync_path
from kraft.storage.log_directory import read_whole

SUFFIX = ".txnindex"
VERSION = 0
_ENTRY = struct.Struct(">hqqqq")


class AbortedTxn(NamedTuple):
    """What a read_committed fetch answers: skip ``producer_id``'s batches from ``first_offset``."""

    producer_id: int
    first_offset: int
    last_offset: int


class TxnIndexEntry(NamedTuple):
    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int

    @property
    def aborted_txn(self) -> AbortedTxn:
        return AbortedTxn(self.producer_id, self.first_offset, self.last_offset)


def collect(entries: Iterable[TxnIndexEntry], start: int, upper: int) -> tuple[list[TxnIndexEntry], bool]:
    """The entries overlapping [start, upper), and whether later segments can hold no
    more: once a transaction ended with the stable offset at or past ``upper``, every
    transaction begun below ``upper`` had ended."""
    found = []
    for entry in entries:
        if entry.last_offset >= start and entry.first_offset < upper:
            found.append(entry)
        if entry.last_stable_offset >= upper:
            return found, True
    return found, False


class TxnIndex:
    def __init__(self, path: Path, absent: bool = False) -> None:
        """`absent`: the caller knows the file is not there (a listing said so)."""
        self.path = path
        self._entries: list[TxnIndexEntry] | None = [] if absent else None
        self._dirty = False  # written since the last fsync

    def entries(self) -> list[TxnIndexEntry]:
        if self._entries is None:
            self._entries = self._load()
        return self._entries

    def _load(self) -> list[TxnIndexEntry]:
        try:
            data = read_whole(self.path)
        except FileNotFoundError:
            return []
        entries = []
        for pos in range(0, len(data) - _ENTRY.size + 1, _ENTRY.size):
            version, *fields = _ENTRY.unpack_from(data, pos)
            if version != VERSION:
                break  # not ours to read: treat the rest like a torn tail
            entries.append(TxnIndexEntry(*fields))
        if len(entries) * _ENTRY.size != len(data):
            os.truncate(self.path, len(entries) * _ENTRY.size)  # appends must stay aligned
        return entries

    def append(self, entry: TxnIndexEntry) -> None:
        entries = self.entries()
        with open(self.path, "ab") as f:
            f.write(_ENTRY.pack(VERSION, *entry))
        entries.append(entry)
        self._dirty = True

    def write_all(self, entries: Iterable[TxnIndexEntry]) -> None:
        """Replace the file with ``entries``, creating it even when there are none (a
        cleaned segment's file must replace the one it succeeds)."""
        self._entries = list(entries)
        self.path.write_bytes(b"".join(_ENTRY.pack(VERSION, *e) for e in self._entries))
        self._dirty = True

    def truncate_to(self, offset: int) -> None:
        """Forget the transactions whose marker is at ``offset`` or later (cut from the log)."""
        entries = self.entries()
        keep = len(entries)
        while keep and entries[keep - 1].last_offset >= offset:
            keep -= 1
        if keep == len(entries):
            return
        del entries[keep:]
        if keep:
            os.truncate(self.path, keep * _ENTRY.size)
            self._dirty = True
        else:
            self.path.unlink(missing_ok=True)

    def reset(self) -> None:
        self._entries = []
        self.path.unlink(missing_ok=True)

    def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        fsync_path(self.path, missing_ok=True)

    def delete(self) -> None:
        self.reset()
