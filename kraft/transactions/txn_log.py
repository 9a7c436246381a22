"""Transaction states as records of __transaction_state, and the replay of a partition's
log into the coordinator's cache.

One record per state change, keyed by the transactional id: on a compacted topic only
the latest survives, and replaying a partition from its start rebuilds every id's state
(how a new coordinator loads it). Expiration writes a tombstone (value None). Keys and
values are JSON, like the offsets topic's (kraft/groups/offset_store.py), so the topic
stays readable with the ordinary consume API; a value holds the whole state (Kafka's
TransactionLogValue, plus the previous producer id and epoch that KIP-360 retries need
across a change of coordinator, and transactions version 2's next producer id). Records
that do not parse are skipped and counted, so a stray record never stops a
coordinator's load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kraft.coordinator.loader import LOAD_CHUNK_BYTES, ReadableLog, replay_records
from kraft.storage.json_keys import parse_versioned_key, versioned_key
from kraft.storage.record import Record
from kraft.transactions.txn_metadata import TransactionMetadata, TxnState, TxnTransit

KEY_VERSION = "txn/1"


def txn_key(transactional_id: str) -> bytes:
    return versioned_key(KEY_VERSION, transactional_id)


def encode_value(t: TxnTransit) -> bytes:
    return orjson.dumps({
        "producer_id": t.producer_id, "previous_producer_id": t.previous_producer_id,
        "producer_epoch": t.producer_epoch, "last_producer_epoch": t.last_producer_epoch,
        "timeout_ms": t.timeout_ms, "state": t.state.value,
        "partitions": [[topic, p] for topic, p in sorted(t.partitions)],
        "start_ms": t.start_ms, "update_ms": t.update_ms, "next_producer_id": t.next_producer_id,
        **({"bumped_end": True} if t.bumped_end else {}),
    })


def txn_record(transactional_id: str, transit: TxnTransit, now_ms: int) -> Record:
    return Record(txn_key(transactional_id), encode_value(transit), (), now_ms)


def tombstone_record(transactional_id: str, now_ms: int) -> Record:
    return Record(txn_key(transactional_id), None, (), now_ms)


def parse_key(key: bytes | None) -> str | None:
    """The transactional id of a record's key; None for anything else."""
    parts = parse_versioned_key(key, KEY_VERSION, 1)
    return parts[0] if parts is not None and isinstance(parts[0], str) else None


def _int(obj: dict[str, Any], name: str) -> int:
    value = obj[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(name)
    return value


def parse_value(value: bytes) -> TxnTransit | None:
    """The state a record's value holds; None when it is not one."""
    try:
        obj: Any = orjson.loads(value)
        if not isinstance(obj, dict):
            return None
        state = TxnState(obj["state"])
        partitions = frozenset((str(topic), int(p)) for topic, p in obj["partitions"])
        return TxnTransit(_int(obj, "producer_id"), _int(obj, "previous_producer_id"), _int(obj, "producer_epoch"),
                          _int(obj, "last_producer_epoch"), _int(obj, "timeout_ms"), state, partitions,
                          _int(obj, "start_ms"), _int(obj, "update_ms"),
                          _int(obj, "next_producer_id") if "next_producer_id" in obj else -1,  # older records
                          obj.get("bumped_end") is True)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


@dataclass
class TxnCache:
    """The transactional ids of one __transaction_state partition, as its log says."""

    txns: dict[str, TransactionMetadata] = field(default_factory=dict)
    skipped: int = 0  # records that were not transaction states
    # transactional id -> the offset of its last record (markers wait until it is committed)
    offsets: dict[str, int] = field(default_factory=dict)

    def replay(self, record: Record) -> None:
        """Apply one record of the log, in log order: at load, and once a write's record
        is in the log (kraft/coordinator/writes.py)."""
        tid = parse_key(record.key)
        if tid is None:
            self.skipped += 1
            return
        if record.value is None:
            self.txns.pop(tid, None)
            self.offsets.pop(tid, None)
            return
        transit = parse_value(record.value)
        if transit is None or transit.state is TxnState.DEAD:
            self.skipped += 1
            return
        if record.offset is not None:
            self.offsets[tid] = record.offset
        meta = self.txns.get(tid)
        if meta is None:
            self.txns[tid] = TransactionMetadata.from_transit(tid, transit)
        else:  # the same id's next state: work on it (its markers) keeps following it
            meta.apply(transit)

    def replay_all(self, records: Iterable[Record]) -> TxnCache:
        for record in records:
            self.replay(record)
        return self


def load(plog: ReadableLog, chunk_bytes: int = LOAD_CHUNK_BYTES) -> TxnCache:
    """Replay a partition's local log from its start to its end (control batches, which
    this topic never holds, are passed over)."""
    cache = TxnCache()
    replay_records(plog, cache.replay, chunk_bytes)
    return cache
