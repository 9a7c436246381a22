"""Committed offsets as records of the offsets topic, and the coordinator's view of them.

A commit is one record per partition, keyed by (group, topic, partition): on a
compacted topic only the latest survives, and replaying a partition's log from the
start rebuilds every group's committed offsets (how a new coordinator loads them).
A tombstone (value None) deletes the commit. Keys and values are JSON so that the
topic stays readable with the ordinary consume API. Pure.

Transactional commits (TxnOffsetCommit, KIP-98/447) are the same records in a
transactional batch of the producer: they stay pending, invisible to readers, until
the transaction's marker (a control batch of that producer) follows them in the log.
A COMMIT marker makes each pending offset visible unless a commit later in the log
already replaced it (Kafka orders a transaction's offsets and plain commits by their
position in the log, not by when the marker came); an ABORT marker drops them. A
tombstone drops the key's pending offsets too. The coordinator's writes go through
the same replay once their records are in the log (kraft/coordinator/writes.py), so a
load of the log rebuilds the state the writes made.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import orjson

from kraft.coordinator.writes import NO_PRODUCER
from kraft.groups.classic_group_record import parse_classic_key
from kraft.groups.consumer_group_record import parse_group_key, parse_group_value
from kraft.storage.json_keys import parse_versioned_key, versioned_key
from kraft.storage.record import Record
from kraft.storage.record_batch import BatchHeader

KEY_VERSION = "offset/1"
_CONTROL_KEY = struct.Struct(">hh")  # a control record's key: version, type
CONTROL_ABORT, CONTROL_COMMIT = 0, 1

Key = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class CommittedOffset:
    offset: int  # the next offset to consume, as in Kafka
    metadata: str
    commit_timestamp_ms: int
    log_offset: int = -1  # where the commit sits in the offsets topic (orders replays)
    # The topic's id when committed: a commit for a deleted topic must not apply to a new
    # topic of the same name (Kafka deletes such offsets; here they simply stop matching).
    topic_id: str = ""
    leader_epoch: int = -1  # the consumer's committed leader epoch (KIP-320); -1: none given


def offset_key(group: str, topic: str, partition: int) -> bytes:
    return versioned_key(KEY_VERSION, group, topic, partition)


def commit_record(group: str, topic: str, partition: int, offset: int, metadata: str,
                  now_ms: int, topic_id: str = "", leader_epoch: int = -1) -> Record:
    fields = {"offset": offset, "metadata": metadata, "commit_timestamp": now_ms, "topic_id": topic_id}
    if leader_epoch >= 0:
        fields["leader_epoch"] = leader_epoch
    value = orjson.dumps(fields)
    return Record(offset_key(group, topic, partition), value, (), now_ms)


def tombstone_record(group: str, topic: str, partition: int, now_ms: int) -> Record:
    return Record(offset_key(group, topic, partition), None, (), now_ms)


def parse_key(key: bytes | None) -> tuple[str, str, int] | None:
    """(group, topic, partition) of an offset record's key; None for anything else, so a
    stray record in the topic is skipped rather than crashing a coordinator's load."""
    parts = parse_versioned_key(key, KEY_VERSION, 3)
    if (parts is not None and isinstance(parts[0], str) and isinstance(parts[1], str)
            and isinstance(parts[2], int) and not isinstance(parts[2], bool)):
        return parts[0], parts[1], parts[2]
    return None


def parse_value(value: bytes, log_offset: int) -> CommittedOffset | None:
    try:
        obj = orjson.loads(value)
        return CommittedOffset(int(obj["offset"]), str(obj.get("metadata", "")),
                               int(obj.get("commit_timestamp", 0)), log_offset, str(obj.get("topic_id", "")),
                               int(obj.get("leader_epoch", -1)))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def marker_is_commit(key: bytes | None) -> bool | None:
    """The outcome a transaction marker's record key names (Kafka's control record key:
    int16 version, int16 type; 0 ABORT, 1 COMMIT); None for any other control record."""
    if key is None or len(key) < _CONTROL_KEY.size:
        return None
    version: int
    kind: int
    version, kind = _CONTROL_KEY.unpack_from(key)
    if version < 0 or kind not in (CONTROL_ABORT, CONTROL_COMMIT):
        return None
    return kind == CONTROL_COMMIT


class OffsetCache:
    """Committed offsets of the groups of one offsets-topic partition, and the pending
    offsets of the transactions open on it."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[tuple[str, int], CommittedOffset]] = {}
        # producer id -> group -> (topic, partition) -> its pending offset (Kafka's
        # pendingTransactionalOffsets)
        self._pending: dict[int, dict[str, dict[Key, CommittedOffset]]] = {}
        self._open_by_group: dict[str, set[int]] = {}  # group -> producers with pending offsets
        # KIP-848 consumer groups of this partition, as their latest records hold them
        self.consumer_groups: dict[str, dict[str, Any]] = {}
        # classic groups of Kafka clients of this partition, as their latest records hold them
        self.classic_groups: dict[str, dict[str, Any]] = {}

    def replay(self, record: Record, producer_id: int = NO_PRODUCER) -> None:
        """Apply one record of the offsets topic, in log order; of a transactional batch
        of ``producer_id``, a commit becomes pending until the producer's marker."""
        self._replay(record, None if producer_id == NO_PRODUCER else producer_id)

    def replay_marker(self, producer_id: int, commit: bool) -> None:
        """Apply a transaction marker (a control batch) of ``producer_id``, in log order."""
        self.complete(producer_id, commit)

    def _replay(self, record: Record, producer_id: int | None) -> None:
        key = parse_key(record.key)
        if key is None:
            self._replay_consumer_group(record)
            return
        group, topic, partition = key
        if record.value is None:
            self.forget(group, topic, partition, record.offset)
            return
        assert record.offset is not None  # records read back from a log carry offsets
        committed = parse_value(record.value, record.offset)
        if committed is None:
            return
        if producer_id is None:
            self.put(group, topic, partition, committed)
        else:
            self._set_pending(producer_id, group, (topic, partition), committed)

    def _replay_consumer_group(self, record: Record) -> None:
        """A group's record: a KIP-848 consumer group's or a classic group's."""
        if (group_id := parse_group_key(record.key)) is not None:
            groups, parse = self.consumer_groups, parse_group_value
        elif (group_id := parse_classic_key(record.key)) is not None:
            groups, parse = self.classic_groups, parse_group_value  # the same JSON value rule
        else:
            return  # a stray record: skipped, never a failed load
        if record.value is None:  # a tombstone: the group was deleted
            groups.pop(group_id, None)
        elif (value := parse(record.value)) is not None:
            groups[group_id] = value

    def put(self, group: str, topic: str, partition: int, committed: CommittedOffset) -> None:
        """Later log positions win: a transaction's offset made visible by its marker
        never replaces a commit later in the log."""
        offsets = self._groups.setdefault(group, {})
        old = offsets.get((topic, partition))
        if old is None or committed.log_offset >= old.log_offset:
            offsets[(topic, partition)] = committed

    def forget(self, group: str, topic: str, partition: int, log_offset: int | None = None) -> None:
        """A tombstone: the commit and every pending offset of that key are gone (Kafka).
        With the tombstone's log offset, a commit later in the log stays."""
        offsets = self._groups.get(group)
        old = offsets.get((topic, partition)) if offsets is not None else None
        if offsets is not None and old is not None and (log_offset is None or old.log_offset < log_offset):
            del offsets[(topic, partition)]
            if not offsets:
                del self._groups[group]
        for producer_id in list(self._open_by_group.get(group, ())):
            by_group = self._pending[producer_id]
            pending = by_group[group]
            pending.pop((topic, partition), None)
            if not pending:
                self._close(producer_id, group)

    # -- transactions ------------------------------------------------------------------------
    def complete(self, producer_id: int, commit: bool) -> None:
        """The producer's transaction ended on this partition (its marker is in the log):
        its pending offsets become visible (commit) or are dropped (abort). A pending
        offset never replaces a commit later in the log."""
        by_group = self._pending.pop(producer_id, None)
        if by_group is None:
            return
        for group, pending in by_group.items():
            opened = self._open_by_group.get(group)
            if opened is not None:
                opened.discard(producer_id)
                if not opened:
                    del self._open_by_group[group]
            if commit:
                for (topic, partition), committed in pending.items():
                    self.put(group, topic, partition, committed)

    def has_pending(self, group: str, topic: str, partition: int) -> bool:
        """Does an open transaction hold an offset for this key (require_stable)?"""
        return any((topic, partition) in self._pending[p][group] for p in self._open_by_group.get(group, ()))

    def pending_of_group(self, group: str) -> set[Key]:
        """Every (topic, partition) of the group with a pending transactional offset."""
        keys: set[Key] = set()
        for producer_id in self._open_by_group.get(group, ()):
            keys.update(self._pending[producer_id][group])
        return keys

    def pending(self, producer_id: int, group: str, topic: str, partition: int) -> CommittedOffset | None:
        return self._pending_entry(producer_id, group, (topic, partition))

    def open_producers(self) -> list[int]:
        """Producers with pending offsets on this partition."""
        return sorted(self._pending)

    def _pending_entry(self, producer_id: int, group: str, key: Key) -> CommittedOffset | None:
        return self._pending.get(producer_id, {}).get(group, {}).get(key)

    def _set_pending(self, producer_id: int, group: str, key: Key, committed: CommittedOffset) -> None:
        """A later commit of the same transaction replaces an earlier one (log order)."""
        self._pending.setdefault(producer_id, {}).setdefault(group, {})[key] = committed
        self._open_by_group.setdefault(group, set()).add(producer_id)

    def _close(self, producer_id: int, group: str) -> None:
        """The producer holds no pending offset of this group any more."""
        by_group = self._pending[producer_id]
        del by_group[group]
        if not by_group:
            del self._pending[producer_id]
        opened = self._open_by_group[group]
        opened.discard(producer_id)
        if not opened:
            del self._open_by_group[group]

    def keys_of_group(self, group: str) -> set[Key]:
        """Every (topic, partition) the group has an offset for, committed or pending, of
        any topic incarnation: what deleting the group must tombstone."""
        return set(self._groups.get(group, {})) | self.pending_of_group(group)

    def get(self, group: str, topic: str, partition: int) -> CommittedOffset | None:
        return self._groups.get(group, {}).get((topic, partition))

    def of_group(self, group: str) -> dict[tuple[str, int], CommittedOffset]:
        return dict(self._groups.get(group, {}))

    def groups(self) -> list[str]:
        """Groups with a committed offset (pending ones are not shown until committed)."""
        return sorted(self._groups)


def replay_batch(cache: OffsetCache, header: BatchHeader, records: list[Record], position: int) -> None:
    """One batch of an offsets partition's log, in log order: plain commits, a
    transaction's commits (pending) or its marker. Records before ``position`` were
    replayed already."""
    if header.is_control:
        if header.base_offset >= position:
            for record in records:  # one record: the marker
                commit = marker_is_commit(record.key)
                if commit is not None:
                    cache.replay_marker(header.producer_id, commit)
        return
    for record in records:
        assert record.offset is not None  # records read back from a log carry offsets
        if record.offset < position:
            continue
        cache.replay(record, header.producer_id if header.is_transactional else NO_PRODUCER)
