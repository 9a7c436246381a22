"""Loading a shard: replay a partition's local log, batch by batch, in log order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kraft.storage.record import Record
from kraft.storage.record_batch import BatchHeader, decode_records, iter_batches

LOAD_CHUNK_BYTES = 1024 * 1024


class ReadableLog(Protocol):
    @property
    def log_start_offset(self) -> int: ...

    @property
    def log_end_offset(self) -> int: ...

    def read(self, offset: int, max_bytes: int) -> bytes: ...


class LoadableReplica(ReadableLog, Protocol):
    """A replica this node leads, as a shard is loaded from it."""

    leader_epoch: int


# (header, its records, position): records before position were replayed already (a read
# starts at a batch boundary, so the first batch of a chunk may hold some)
ApplyBatch = Callable[[BatchHeader, list[Record], int], None]


def replay_log(plog: ReadableLog, apply: ApplyBatch, chunk_bytes: int = LOAD_CHUNK_BYTES) -> None:
    """Hand every batch of the log from its start to its end to `apply`, once."""
    position, end = plog.log_start_offset, plog.log_end_offset
    while position < end:
        data = plog.read(position, chunk_bytes)
        next_position = position
        for pos, header in iter_batches(data):
            if header.next_offset > position:
                apply(header, decode_records(data, pos, verify=False), position)
            next_position = header.next_offset
        if next_position <= position:
            break  # nothing readable: never spin
        position = next_position


def replay_records(plog: ReadableLog, replay: Callable[[Record], None], chunk_bytes: int = LOAD_CHUNK_BYTES) -> None:
    """Hand every record of the log's data batches to `replay`, once, in log order
    (control batches, which an internal topic holds only when transactions write it,
    are passed over)."""
    def apply(header: BatchHeader, records: list[Record], position: int) -> None:
        if not header.is_control:
            for record in records:
                if record.offset is not None and record.offset >= position:
                    replay(record)

    replay_log(plog, apply, chunk_bytes)
