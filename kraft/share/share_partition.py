"""One share-partition: the records of one partition in flight for one share group.

Kafka's SharePartition, without I/O: the start offset (SPSO: every record below it is
done), the end offset (SPEO: the next record never handed out) and, between them, each
record's state and delivery count. A member acquires available records under a lock
of `lock_ms`; it accepts them (acknowledged), releases them (available again) or
rejects them (archived); a lock that runs out releases the record. A record released
after `delivery_limit` deliveries is archived instead: it never comes back.
The clock is passed in, so the rules are tested without waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from kraft.errors.kafka_codes import INVALID_RECORD_STATE, INVALID_REQUEST



class RecordState(IntEnum):  # Kafka's numbering (it persists these in __share_group_state)
    AVAILABLE = 0
    ACQUIRED = 1
    ACKNOWLEDGED = 2
    ARCHIVED = 4


class AckType(IntEnum):  # ShareAcknowledge's acknowledge types
    GAP = 0
    ACCEPT = 1
    RELEASE = 2
    REJECT = 3
    RENEW = 4  # KIP-1222: keep the lock


DONE = (RecordState.ACKNOWLEDGED, RecordState.ARCHIVED)


@dataclass
class InFlight:
    state: RecordState
    delivery_count: int
    member: str | None = None
    lock_deadline_ms: int = 0


@dataclass(frozen=True)
class Acquired:
    """A run of consecutive offsets acquired with one delivery count (ShareFetch's AcquiredRecords)."""
    first_offset: int
    last_offset: int
    delivery_count: int


@dataclass(frozen=True)
class Batch:
    """What the log holds: a batch's first and last offset, and whether it is never handed
    out (a control batch; for a read_committed group, an aborted transaction's batch)."""
    base_offset: int
    last_offset: int
    withheld: bool = False


@dataclass(frozen=True)
class Ack:
    """One acknowledgement batch: offsets first..last, one type for all or one per offset."""
    first_offset: int
    last_offset: int
    types: tuple[int, ...]


@dataclass(frozen=True)
class DeadLetter:
    """A record archived because it failed: rejected by a consumer, or released (or its
    lock run out) at the delivery limit. KIP-1191 writes it to the group's dead-letter topic."""
    offset: int
    delivery_count: int
    rejected: bool


class AckRefused(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class SharePartition:
    def __init__(self, start_offset: int, lock_ms: int, delivery_limit: int, max_locks: int):
        self.start = start_offset
        self.end = start_offset
        self.lock_ms = lock_ms
        self.delivery_limit = delivery_limit
        self.max_locks = max_locks
        self.records: dict[int, InFlight] = {}
        self.dead: list[DeadLetter] = []  # archived for failing, not yet written to a dead-letter topic
        # (kept in the window and stored as available until they are: share_broker._bury)

    # -- what a fetch reads ------------------------------------------------------------
    def acquired_count(self) -> int:
        return sum(1 for r in self.records.values() if r.state is RecordState.ACQUIRED)

    def fetch_offset(self) -> int | None:
        """Where the next read starts: the first available record in flight, else the
        end; None while every lock this partition may hold is held, or the window from
        the start holds max_locks records and none of them is available."""
        if self.acquired_count() >= self.max_locks:
            return None
        available = [o for o, r in self.records.items() if r.state is RecordState.AVAILABLE]
        if available:
            return min(available)
        return self.end if self.end - self.start < self.max_locks else None

    def next_lock_deadline(self) -> int | None:
        deadlines = [r.lock_deadline_ms for r in self.records.values() if r.state is RecordState.ACQUIRED]
        return min(deadlines) if deadlines else None

    def log_start_moved(self, log_start: int) -> None:
        """Records deleted from the log (retention, DeleteRecords) leave the partition."""
        if log_start > self.start:
            for offset in [o for o in self.records if o < log_start]:
                del self.records[offset]
            self.start = log_start
            self.end = max(self.end, log_start)

    def acquire(self, member: str, batches: Iterable[Batch], max_records: int, now_ms: int,
                record_limit: bool = False) -> list[Acquired]:
        """Acquire for `member` what is available in `batches` (read from the log below
        its high watermark): released records one by one up to max_records, records
        never handed out a whole batch at a time (max_records may be passed to finish a
        batch, as in Kafka; with record_limit, Kafka 4.2's share.acquire.mode=record_limit,
        never), but never more than the locks left: the rest of a larger batch waits for
        the next fetch. Withheld batches are archived, never handed out."""
        limit = max_records if record_limit else 2**63
        room = self.max_locks - self.acquired_count()
        taken: list[int] = []
        counts: dict[int, int] = {}
        for batch in batches:
            if len(taken) >= min(max_records, room):
                break
            if batch.last_offset >= self.end and self.end - self.start >= self.max_locks:
                break  # the window from the start is full: its oldest records must be done first
            for offset in range(max(batch.base_offset, self.start), batch.last_offset + 1):
                if offset >= self.end and (len(taken) >= min(room, limit) or self.end - self.start >= self.max_locks):
                    break  # a batch larger than the locks left is handed out in parts (a million tiny records)
                if offset >= self.end:  # never handed out: the rest of the batch goes
                    self.end = offset + 1
                    if batch.withheld:
                        self.records[offset] = InFlight(RecordState.ARCHIVED, 0)
                        continue
                    self.records[offset] = InFlight(RecordState.ACQUIRED, 1, member, now_ms + self.lock_ms)
                    taken.append(offset)
                    counts[offset] = 1
                    continue
                record = self.records.get(offset)
                if record is None or record.state is not RecordState.AVAILABLE or len(taken) >= min(max_records, room):
                    continue
                if record.delivery_count >= self.delivery_limit:  # worn out (a limit lowered, a count restored)
                    record.state = RecordState.ARCHIVED
                    self.dead.append(DeadLetter(offset, record.delivery_count, rejected=False))
                    continue
                record.state, record.member = RecordState.ACQUIRED, member
                record.delivery_count += 1
                record.lock_deadline_ms = now_ms + self.lock_ms
                taken.append(offset)
                counts[offset] = record.delivery_count
        self._advance()
        return _runs(sorted(taken), counts)

    # -- acknowledgements ----------------------------------------------------------------
    def acknowledge(self, member: str, acks: Iterable[Ack], now_ms: int, renew_allowed: bool = False) -> None:
        """Apply every acknowledgement, or none: a record not acquired by `member`, a
        type out of range or a count of types that fits neither form raises AckRefused."""
        planned: list[tuple[int, AckType]] = []
        acks = list(acks)
        if sum(max(0, a.last_offset - a.first_offset + 1) for a in acks) > len(self.records):
            raise AckRefused(INVALID_RECORD_STATE, "more records acknowledged than are in flight")
        if (problem := ack_shape_problem(acks, self.max_locks)) is not None:
            raise AckRefused(INVALID_REQUEST, problem)
        for ack in acks:
            for i, offset in enumerate(range(ack.first_offset, ack.last_offset + 1)):
                kind = _ack_type(ack.types[0] if len(ack.types) == 1 else ack.types[i], renew_allowed)
                record = self.records.get(offset)
                if record is None or record.state is not RecordState.ACQUIRED or record.member != member:
                    raise AckRefused(INVALID_RECORD_STATE, f"offset {offset} is not acquired by this member")
                planned.append((offset, kind))
        for offset, kind in planned:
            record = self.records[offset]
            if kind is AckType.ACCEPT:
                record.state, record.member = RecordState.ACKNOWLEDGED, None
            elif kind in (AckType.REJECT, AckType.GAP):
                record.state, record.member = RecordState.ARCHIVED, None
                if kind is AckType.REJECT:
                    self.dead.append(DeadLetter(offset, record.delivery_count, rejected=True))
            elif kind is AckType.RELEASE:
                self._release(offset, record)
            else:  # RENEW
                record.lock_deadline_ms = now_ms + self.lock_ms
        self._advance()

    def release_member(self, member: str) -> int:
        """Every record `member` holds goes back (its share session closed); how many."""
        held = [(o, r) for o, r in self.records.items() if r.state is RecordState.ACQUIRED and r.member == member]
        for offset, record in held:
            self._release(offset, record)
        self._advance()
        return len(held)

    def expire_locks(self, now_ms: int) -> int:
        """Records whose lock ran out go back; how many."""
        expired = [(o, r) for o, r in self.records.items()
                   if r.state is RecordState.ACQUIRED and r.lock_deadline_ms <= now_ms]
        for offset, record in expired:
            self._release(offset, record)
        self._advance()
        return len(expired)

    # -- what is kept durable (share_state) ------------------------------------------------
    def runs(self) -> list[tuple[int, int, int, int]]:
        """The records in flight as (first, last, state, delivery count) runs; a record
        held under a lock is kept as available (a lock does not outlive its leader), and
        so is one archived whose dead letter is not written yet (it comes back rather than
        leave the group silently)."""
        runs: list[tuple[int, int, int, int]] = []
        unburied = {d.offset for d in self.dead}
        for offset in sorted(self.records):
            record = self.records[offset]
            state = RecordState.AVAILABLE if record.state is RecordState.ACQUIRED or offset in unburied \
                else record.state
            last = runs[-1] if runs else None
            if last is not None and last[1] + 1 == offset and last[2:] == (state, record.delivery_count):
                runs[-1] = (last[0], offset, last[2], last[3])
            else:
                runs.append((offset, offset, int(state), record.delivery_count))
        return runs

    def restore(self, start_offset: int, runs: Iterable[tuple[int, int, int, int]]) -> None:
        """Take the state a previous leader stored: nothing is held by anyone."""
        self.start, self.end, self.records = start_offset, start_offset, {}
        for first, last, state, count in runs:
            for offset in range(max(first, start_offset), last + 1):
                kind = RecordState(state)
                self.records[offset] = InFlight(RecordState.AVAILABLE if kind is RecordState.ACQUIRED else kind, count)
                self.end = max(self.end, offset + 1)
        self._advance()

    # -- what describe shows -----------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = {s.name.lower(): 0 for s in RecordState}
        for record in self.records.values():
            out[record.state.name.lower()] += 1
        return out

    def lag(self, high_watermark: int) -> int:
        """KIP-1226: records at or past the start that are not yet done."""
        done = sum(1 for o, r in self.records.items() if r.state in DONE and o >= self.start)
        return max(0, high_watermark - self.start - done)

    def _release(self, offset: int, record: InFlight) -> None:
        record.member = None
        record.state = RecordState.ARCHIVED if record.delivery_count >= self.delivery_limit else RecordState.AVAILABLE
        if record.state is RecordState.ARCHIVED:
            self.dead.append(DeadLetter(offset, record.delivery_count, rejected=False))

    def buried(self, written: Iterable[DeadLetter]) -> None:
        """These dead letters are in the dead-letter topic (or there is none to write them to)."""
        gone = set(written)
        self.dead = [d for d in self.dead if d not in gone]
        self._advance()

    def _advance(self) -> None:
        unburied = {d.offset for d in self.dead}
        while self.start < self.end:
            record = self.records.get(self.start)
            if record is not None and (record.state not in DONE or self.start in unburied):
                return
            self.records.pop(self.start, None)  # done, or an offset the log does not hold
            self.start += 1


def ack_shape_problem(acks: Sequence[Ack], max_records: int) -> str | None:
    """Why a share-partition's acknowledgements fit no state of it, or None: Kafka's checks
    (each range in order, after the one before it, with one type for all its records or
    one per record), and no more records than it can have in flight (`max_records`,
    share.partition.max.record.locks). One step per batch, and none past the first problem."""
    if len(acks) > max_records:  # each batch covers a record at least
        return f"{len(acks)} acknowledgement batches; a share-partition has at most {max_records} records in flight"
    total, previous_last = 0, -1
    for ack in acks:
        if ack.last_offset < ack.first_offset or ack.first_offset <= previous_last:
            return f"acknowledgement range {ack.first_offset}..{ack.last_offset} is reversed or out of order"
        width = ack.last_offset - ack.first_offset + 1
        total += width
        if total > max_records:
            return f"more than {max_records} records acknowledged; a share-partition has no more in flight"
        if len(ack.types) not in (1, width):
            return f"{len(ack.types)} acknowledge types for {width} records"
        previous_last = ack.last_offset
    return None


def _ack_type(value: int, renew_allowed: bool) -> AckType:
    try:
        kind = AckType(value)
    except ValueError:
        raise AckRefused(INVALID_REQUEST, f"unknown acknowledge type {value}") from None
    if kind is AckType.RENEW and not renew_allowed:
        raise AckRefused(INVALID_REQUEST, "RENEW needs ShareAcknowledge or ShareFetch v2")
    return kind


def _runs(offsets: list[int], counts: dict[int, int]) -> list[Acquired]:
    runs: list[Acquired] = []
    for offset in offsets:
        last = runs[-1] if runs else None
        if last is not None and last.last_offset + 1 == offset and last.delivery_count == counts[offset]:
            runs[-1] = Acquired(last.first_offset, offset, last.delivery_count)
        else:
            runs.append(Acquired(offset, offset, counts[offset]))
    return runs
