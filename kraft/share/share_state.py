"""A share-partition's durable state, as records of __share_group_state (Kafka's share
coordinator's topic), and the replay of a partition's log into a shard.

One record per write, keyed by `group:topic id:partition` (Kafka's share coordinator
key: a topic deleted and made again under its name starts afresh), holding the whole
state: the start offset, the leader epoch of the leader that wrote it, and the state and
delivery count of each record in flight, in runs. On a compacted topic only the latest
survives. Keys and values are JSON, as the other internal topics' are. A write from a
leader of an older epoch than the stored one is fenced (a deposed leader cannot undo its
successor's acknowledgements), and so is a write from a leader that read the state before
an admin altered or deleted it (the state epoch, Kafka's: each alteration raises it).
Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from kraft.coordinator.loader import LOAD_CHUNK_BYTES, ReadableLog, replay_records
from kraft.coordinator.writes import NO_PRODUCER
from kraft.share.share_partition import DONE, RecordState
from kraft.storage.json_keys import parse_versioned_key, versioned_key
from kraft.storage.record import Record

KEY_VERSION = "share/1"
STORED = (RecordState.AVAILABLE, RecordState.ACKNOWLEDGED, RecordState.ARCHIVED)  # a lock is never stored
MAX_RECORDS = 100_000  # a state holds at most the window of records in flight (max record locks)


def state_key(group_id: str, topic_id: str, partition: int) -> str:
    return f"{group_id}:{topic_id}:{partition}"


def key_parts(key: str) -> tuple[str, str, int] | None:
    """(group, topic id, partition) of a state key (a group id may hold ':')."""
    parts = key.rsplit(":", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


class StateRun(NamedTuple):
    """Consecutive offsets in one state (share_partition.RecordState's numbers) and delivery count."""
    first_offset: int
    last_offset: int
    state: int
    delivery_count: int


@dataclass(frozen=True)
class ShareSnapshot:
    leader_epoch: int
    start_offset: int
    runs: tuple[StateRun, ...] = ()
    state_epoch: int = 0  # raised by each admin alteration: leaders that read an older one are fenced


def altered(stored: ShareSnapshot | None, start_offset: int) -> ShareSnapshot:
    """The state an admin's new start offset makes (AlterShareGroupOffsets): nothing in
    flight, and a new state epoch, so a leader still holding the old state cannot write
    over it."""
    if stored is None:
        return ShareSnapshot(0, start_offset)
    return ShareSnapshot(stored.leader_epoch, start_offset, (), stored.state_epoch + 1)


class FencedWrite(Exception):
    """A write from a leader older than the one that wrote the stored state."""


def as_json(snapshot: ShareSnapshot) -> dict[str, Any]:
    return {"leader_epoch": snapshot.leader_epoch, "start_offset": snapshot.start_offset,
            "state_epoch": snapshot.state_epoch,
            "runs": [[r.first_offset, r.last_offset, r.state, r.delivery_count] for r in snapshot.runs]}


def encode(snapshot: ShareSnapshot) -> bytes:
    return orjson.dumps(as_json(snapshot))


def decode(value: bytes | str | dict[str, Any]) -> ShareSnapshot | None:
    try:
        obj: Any = value if isinstance(value, dict) else orjson.loads(value)
        runs = tuple(StateRun(*(int(x) for x in run)) for run in obj["runs"])
        snapshot = ShareSnapshot(int(obj["leader_epoch"]), int(obj["start_offset"]), runs,
                                 int(obj.get("state_epoch", 0)))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    sound = all(r.first_offset <= r.last_offset and r.state in STORED for r in runs)
    return snapshot if sound and sum(r.last_offset - r.first_offset + 1 for r in runs) <= MAX_RECORDS else None


def state_record(key: str, snapshot: ShareSnapshot | None, now_ms: int) -> Record:
    """The record that stores the state; None: the tombstone that deletes it."""
    return Record(versioned_key(KEY_VERSION, key), None if snapshot is None else encode(snapshot), (), now_ms)


def in_flight(snapshot: ShareSnapshot) -> dict[str, int]:
    """The records from the start on, by stored state (a record held under a lock is
    stored available)."""
    counts = {state.name.lower(): 0 for state in STORED}
    for r in snapshot.runs:
        if r.last_offset >= snapshot.start_offset:
            counts[RecordState(r.state).name.lower()] += r.last_offset - max(r.first_offset, snapshot.start_offset) + 1
    return counts


def lag(snapshot: ShareSnapshot, high_watermark: int) -> int:
    """KIP-1226's share-group lag: records from the start up to the high watermark that
    are not done (acknowledged or archived)."""
    done = sum(min(r.last_offset, high_watermark - 1) - max(r.first_offset, snapshot.start_offset) + 1
               for r in snapshot.runs if r.state in DONE and r.last_offset >= snapshot.start_offset
               and r.first_offset < high_watermark)
    return max(0, high_watermark - snapshot.start_offset - done)


def check_fence(stored: ShareSnapshot | None, incoming: ShareSnapshot) -> None:
    if stored is not None and incoming.state_epoch < stored.state_epoch:
        raise FencedWrite(f"state epoch {incoming.state_epoch} is older than the stored state's "
                          f"({stored.state_epoch}): an admin altered the share-partition since it was read")
    if stored is not None and incoming.leader_epoch < stored.leader_epoch:
        raise FencedWrite(f"leader epoch {incoming.leader_epoch} is older than the stored state's "
                          f"({stored.leader_epoch})")


@dataclass
class ShareStateShard:
    """The share-partitions' states held by one __share_group_state partition."""

    leader_epoch: int
    states: dict[str, ShareSnapshot] = field(default_factory=dict)
    skipped: int = 0

    def replay(self, record: Record, producer_id: int = NO_PRODUCER) -> None:
        """One record of the log, in log order: at load, and once a write's record is in
        the log (kraft/coordinator/writes.py). The topic holds no transactional batches."""
        parts = parse_versioned_key(record.key, KEY_VERSION, 1)
        if parts is None or not isinstance(parts[0], str):
            self.skipped += 1
            return
        if record.value is None:
            self.states.pop(parts[0], None)
            return
        snapshot = decode(record.value)
        if snapshot is None:
            self.skipped += 1
            return
        self.states[parts[0]] = snapshot


def load(plog: ReadableLog, leader_epoch: int, chunk_bytes: int = LOAD_CHUNK_BYTES) -> ShareStateShard:
    shard = ShareStateShard(leader_epoch)
    replay_records(plog, shard.replay, chunk_bytes)
    return shard
