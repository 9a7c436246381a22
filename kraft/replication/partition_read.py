"""One read of a partition, for every reader: a follower, a consumer, a REST read.

Kafka has one `Partition.fetchRecords` with the reader's isolation as a parameter; so
does kraft. A door turns its request into a `ReadRequest` (offset, max bytes, isolation,
the epoch the reader last fetched in), hands it with the replica's bounds to `plan_read`,
which applies the KIP-320 check and the one bound rule (read_bounds.py), and then takes
the records the plan allows with `take` — as bytes or, for the Kafka door's zero-copy
answers, as file slices. What differs between readers is only their isolation:

- a follower (REPLICA) reads up to the log end; a log that diverged from the leader's is
  told where to truncate, down to the log start when it fetched in an epoch this log no
  longer knows (a follower can truncate; it never reads past what it asked for);
- a consumer reads below the HW, or below the last stable offset (read_committed) with
  the aborted transactions there, whose records the client drops; a consumer that
  fetched in an epoch this log does not know is out of range (it resets its position).

Checks first, then reads: a follower's fetch is recorded between the two (its ISR
bookkeeping), as in Kafka's ReplicaManager. Pure apart from the log's reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from kraft.errors import OffsetOutOfRange
from kraft.replication.read_bounds import Isolation, read_end
from kraft.storage.file_slice import FileSlice
from kraft.storage.txn_index import AbortedTxn


class Bounds(NamedTuple):
    """What the reader's bounds are made of: the log's start, the HW and the last stable
    offset as this replica knows them (a follower replica's: the HW its leader told it)."""
    log_start: int
    high_watermark: int
    last_stable: int


class Diverging(NamedTuple):
    """KIP-320: the reader's log diverges from this one at (epoch, end offset)."""
    epoch: int
    end_offset: int


class ReadRequest(NamedTuple):  # a tuple, not a dataclass: one is made per partition read
    offset: int
    max_bytes: int
    isolation: Isolation
    last_fetched_epoch: int = -1  # KIP-320; -1: not given


class ReadableLog(Protocol):
    """The log reads a plan needs (PartitionLog)."""

    @property
    def log_end_offset(self) -> int: ...

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]: ...

    def read(self, offset: int, max_bytes: int, max_offset: int | None = None) -> bytes: ...

    def read_slices(self, offset: int, max_bytes: int, max_offset: int | None = None) -> list[FileSlice]: ...

    def aborted_transactions(self, start_offset: int, upper_offset: int) -> list[AbortedTxn]: ...


class ReadPlan(NamedTuple):
    request: ReadRequest
    bounds: Bounds
    end: int  # the read stops before this offset; nothing to read yet when <= the offset
    diverging: Diverging | None = None  # answered instead of records

    @property
    def has_records(self) -> bool:
        return self.diverging is None and self.request.offset < self.end


@dataclass(slots=True)
class Taken:
    """What a plan read: bytes or file slices, and the aborted transactions among them
    (read_committed only)."""
    records: bytes = b""
    slices: list[FileSlice] = field(default_factory=list)
    aborted: list[AbortedTxn] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.records) + sum(part.length for part in self.slices)


def plan_read(log: ReadableLog, request: ReadRequest, bounds: Bounds) -> ReadPlan:
    """Where `request` may read in `log`, or where the reader's log diverges from it.
    Raises OffsetOutOfRange outside the log (or, for a consumer, when the epoch it last
    fetched in is unknown here)."""
    diverging = _diverging(log, request, bounds.log_start)
    log_end = log.log_end_offset
    if diverging is not None:
        return ReadPlan(request, bounds, request.offset, diverging)
    end = read_end(request.offset, bounds.log_start, log_end, bounds.high_watermark, bounds.last_stable,
                   request.isolation)
    if end is None:
        raise OffsetOutOfRange(f"offset {request.offset} is out of range: valid offsets are "
                               f"{bounds.log_start}..{log_end}", request.offset, bounds.log_start, log_end)
    return ReadPlan(request, bounds, end)


def take(log: ReadableLog, plan: ReadPlan, max_bytes: int | None = None, as_slices: bool = False) -> Taken:
    """The whole batches the plan allows, from its offset, up to max_bytes (the request's
    when not given: a door may have less left of its answer's budget); a batch larger
    than that still comes whole, so no reader stalls."""
    if not plan.has_records:
        return Taken()
    request = plan.request
    limit = request.max_bytes if max_bytes is None else max_bytes
    if as_slices:
        taken = Taken(slices=log.read_slices(request.offset, limit, max_offset=plan.end))
    else:
        taken = Taken(records=log.read(request.offset, limit, max_offset=plan.end))
    if request.isolation is Isolation.COMMITTED and taken.size:
        # every one overlapping what may be read: the client keeps those it meets
        taken.aborted = log.aborted_transactions(request.offset, plan.end)
    return taken


def _diverging(log: ReadableLog, request: ReadRequest, log_start: int) -> Diverging | None:
    """Kafka's check of the epoch the reader last fetched in: where this log's copy of
    that epoch ends, when the reader's position is past it."""
    if request.last_fetched_epoch < 0:
        return None
    epoch, end = log.end_offset_for_epoch(request.last_fetched_epoch)
    replica = request.isolation is Isolation.REPLICA
    if epoch < 0 or end < 0:  # an epoch older than this log remembers
        if replica:
            return Diverging(-1, log_start)
        raise OffsetOutOfRange(f"leader epoch {request.last_fetched_epoch} is not in this log",
                               request.offset, log_start, log.log_end_offset)
    if epoch < request.last_fetched_epoch or end < request.offset:
        # a follower truncates to the end, never past the offset it asked from
        return Diverging(epoch, max(0, min(end, request.offset)) if replica else end)
    return None
