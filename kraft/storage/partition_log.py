"""A partition replica's log: an ordered list of segments in one directory.

Offsets are gapless: the leader stamps each appended batch with the log end
offset, a follower copies the leader's batches byte for byte and must continue
exactly where its log ends. The leader-epoch cache, the producer table
(idempotent and transactional produce) and the aborted-transaction indexes move with
every append, truncation and retention (see log_transactions). Not thread-safe: one
owner (the replica) drives it.

The log start is the first segment's base offset, or further on where DeleteRecords (or,
on a follower, the leader's log start) moved it inside a segment: that offset is kept in
``log-start-offset``; reads below it are out of range even where the bytes remain.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from kraft.storage import log_loader, log_transactions, producer_snapshots
from kraft.storage.leader_epoch_cache import LeaderEpochCache
from kraft.storage.log_config import LogConfig
from kraft.storage.log_cutting import LogCutting
from kraft.storage.log_directory import LogDirectory
from kraft.errors import CorruptBatchError, DamagedLog, InvalidAppend, LogClosed, OffsetOutOfRange, StaleLeaderEpoch
from kraft.storage.damage import Damage, scan_whole
from kraft.storage.file_slice import FileSlice
from kraft.storage.log_file import LogFile
from kraft.storage.log_loader import Loaded
from kraft.storage.log_reads import BrokenSegment, read_ranges, whole_and_sound
from kraft.storage.max_timestamp import MaxTimestamp, record_with_max_timestamp
from kraft.storage.producer_state import ProducerInfo
from kraft.storage.record import Record
from kraft.storage.record_batch import (
    BatchHeader,
    encode_batch,
    encode_control_batch,
    ensure_valid,
    iter_batches,
    restamp,
)
from kraft.storage.roll_fsyncs import RollFsyncs, Schedule
from kraft.storage.segment import INT32_MAX, Segment
from kraft.storage.txn_index import AbortedTxn

Clock = Callable[[], int]
DropCold = Callable[[LogFile, int, int], None]  # (file, start, end): drop those cached bytes


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class PartitionLog(LogCutting):
    """Use ``PartitionLog.open``. Truncation, retention and the log start: log_cutting.py."""

    def __init__(self, directory: LogDirectory, config: LogConfig, loaded: Loaded, clock_ms: Clock) -> None:
        self.directory = directory
        self.config = config
        self._segments = loaded.segments
        self.leader_epoch_cache = loaded.epochs
        self.producers = loaded.producers
        self._clock_ms = clock_ms
        self._unflushed_records = 0
        self._last_flush_ms = clock_ms()
        self._closed = False
        self.roll_fsyncs = RollFsyncs(directory, loaded.recovery_point)
        self.roll_fsyncs.before_write = self.leader_epoch_cache.sync  # what a load left unsynced
        self._drop_cold: DropCold | None = None
        # offset ranges found damaged (never served) and not yet repaired; see damage.py
        self._damage: list[Damage] = list(loaded.lost)
        self.on_damage: Callable[[], None] | None = None  # told of each damaged range found
        self.cuts = 0  # truncations and segment swaps so far: a scan of older bytes is stale
        self._start_floor = 0  # the log start where it lies inside the first segment

    @classmethod
    def open(cls, path: Path | str, config: LogConfig | None = None, *, clock_ms: Clock = monotonic_ms,
             unsynced_identity: bool = False, previous_run_closed: bool | None = None,
             fresh: bool = False) -> PartitionLog:
        """Open (or create) the log in ``path``. Without the clean-shutdown marker the
        newest segment is recovered batch by batch; with it the indexes are trusted.
        `unsynced_identity`: partition_dir.prepare wrote the directory's id without a
        fsync (LogDirectory.sync_identity); `previous_run_closed`: the broker's run state
        (LogDirectory); `fresh`: prepare made the directory just now (log_loader.new_log)."""
        config = config or LogConfig()
        directory = LogDirectory(path, unsynced_identity=unsynced_identity,
                                 previous_run_closed=previous_run_closed, made=fresh)
        if fresh:
            return cls(directory, config, log_loader.new_log(directory, config.index_interval_bytes), clock_ms)
        loaded = log_loader.load(directory, config.index_interval_bytes)
        log = cls(directory, config, loaded, clock_ms)
        log._restore_start(loaded.log_start)
        directory.clear_clean_shutdown()
        return log

    def _restore_start(self, start: int | None) -> None:
        if start is None or start <= self.log_start_offset:
            return
        if start > self.log_end_offset:
            # the unsynced tail was lost, but everything below the start was deleted anyway
            self.truncate_fully_and_start_at(start)
            return
        self._start_floor = start
        self._after_start_moved()  # a crash may have come between the file and the deletions

    # -- state ---------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return max(self._start_floor, self._segments[0].base_offset)

    @property
    def log_end_offset(self) -> int:
        """The next offset to be written (Kafka's LEO)."""
        return self._segments[-1].next_offset

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)

    @property
    def unflushed_records(self) -> int:
        """Records appended since the last fsync (what flush_messages counts)."""
        return self._unflushed_records

    @property
    def latest_epoch(self) -> int:
        return self.leader_epoch_cache.latest_epoch

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """OffsetsForLeaderEpoch answered from this log (see LeaderEpochCache.end_offset_for)."""
        return self.leader_epoch_cache.end_offset_for(epoch, self.log_end_offset)

    # -- transactions --------------------------------------------------------

    @property
    def first_unstable_offset(self) -> int | None:
        """The lowest first offset of an open transaction (never below the log start), or
        None. The last stable offset is min(high watermark, this): see last_stable_offset."""
        first = self.producers.first_unstable_offset
        return None if first is None else max(first, self.log_start_offset)

    def last_stable_offset(self, high_watermark: int) -> int:
        """Kafka's LSO: below the high watermark and every open transaction, and below an
        ended one whose marker the high watermark has not passed yet."""
        bound = self.producers.unstable_bound(high_watermark)
        return high_watermark if bound is None else min(high_watermark, max(bound, self.log_start_offset))

    def aborted_transactions(self, start_offset: int, upper_offset: int) -> list[AbortedTxn]:
        """Every aborted transaction whose offsets overlap [start_offset, upper_offset)."""
        self._check_open()
        return log_transactions.aborted_transactions(self._segments, start_offset, upper_offset)

    def producer_states(self) -> list[ProducerInfo]:
        """Every producer this partition remembers (DescribeProducers), by producer id."""
        return self.producers.producer_infos()

    # -- appends -------------------------------------------------------------

    def append(self, records: Iterable[Record] | bytes, leader_epoch: int, *, producer_id: int = -1,
               producer_epoch: int = -1, base_sequence: int = -1, is_transactional: bool = False) -> tuple[int, int]:
        """Leader path: assign the next offsets and ``leader_epoch`` to one batch, given
        as records or as a produced v2 batch (whose producer fields and transactional
        bit are kept; control batches come through append_marker only).
        Returns ``(base_offset, last_offset)``. An idempotent producer's retry of a
        batch still in its last five is not appended again: its original offsets are
        returned; a sequence gap or stale producer epoch raises ProducerSequenceError,
        a non-transactional batch of a producer with a transaction open InvalidTxnState."""
        self._check_open()
        if leader_epoch < self.latest_epoch:
            raise StaleLeaderEpoch(f"append in epoch {leader_epoch}, but epoch {self.latest_epoch} has begun")
        if isinstance(records, (bytes, bytearray, memoryview)):
            produced = _validated_produce(records)
            producer_id, producer_epoch = produced.producer_id, produced.producer_epoch
            base_sequence, count = produced.base_sequence, produced.record_count
            is_transactional = produced.is_transactional
        else:
            records = list(records)
            count = len(records)
        if is_transactional and producer_id < 0:
            raise InvalidAppend("a transactional batch needs a producer id")
        # checked and appended in one synchronous step: no other append can come between
        original = self.producers.check(producer_id, producer_epoch, base_sequence, count, is_transactional)
        if original is not None:
            return original.base_offset, original.last_offset
        base = self.log_end_offset
        if isinstance(records, (bytes, bytearray, memoryview)):
            batch = restamp(records, base, leader_epoch)
        else:
            batch = encode_batch(records, base, leader_epoch, producer_id, producer_epoch, base_sequence,
                                 is_transactional=is_transactional)
        header = BatchHeader.parse(batch)
        self._append_batch(batch, header)
        return header.base_offset, header.last_offset

    def append_marker(self, producer_id: int, producer_epoch: int, commit: bool, coordinator_epoch: int,
                      leader_epoch: int, *, timestamp_ms: int | None = None, transaction_version: int = 1) -> int:
        """Leader path of WriteTxnMarkers: append a COMMIT or ABORT marker for the producer's
        transaction (stamped now unless ``timestamp_ms``) and return its offset. Raises
        InvalidProducerEpoch for an epoch older than the producer's (or stale, see
        check_marker), TransactionCoordinatorFenced for a coordinator epoch older than the last marker's.
        A marker with a newer producer epoch fences the older one. A marker when no
        transaction is open here (an empty one, or a retry) is appended all the same."""
        self._check_open()
        if leader_epoch < self.latest_epoch:
            raise StaleLeaderEpoch(f"marker in epoch {leader_epoch}, but epoch {self.latest_epoch} has begun")
        self.producers.check_marker(producer_id, producer_epoch, coordinator_epoch, transaction_version)
        batch = encode_control_batch(producer_id, producer_epoch, commit, coordinator_epoch,
                                     self.log_end_offset, leader_epoch, timestamp_ms)
        header = BatchHeader.parse(batch)
        self._append_batch(batch, header)
        return header.base_offset

    def append_as_follower(self, data: bytes) -> tuple[int, int] | None:
        """Follower path: append the leader's batches as they are. They must start at
        the log end and be contiguous; a truncated last batch (a fetch response may
        end mid-batch) is ignored. Returns ``(first_offset, last_offset)`` or None."""
        self._check_open()
        expected = self.log_end_offset
        batches = []
        for pos, header in iter_batches(data):
            if header.base_offset != expected:
                raise InvalidAppend(f"follower batch starts at offset {header.base_offset}, log end is {expected}")
            ensure_valid(data, pos)
            batches.append((pos, header))
            expected = header.next_offset
        if not batches:
            return None
        whole = len(batches) == 1 and batches[0][1].size == len(data)
        for pos, header in batches:
            self._append_batch(bytes(data) if whole else bytes(data[pos:pos + header.size]), header)
        return batches[0][1].base_offset, batches[-1][1].last_offset

    def _append_batch(self, batch: bytes, header: BatchHeader) -> None:
        active = self._segments[-1]
        if self._should_roll(active, header):
            active = self.roll()
        # Epoch first: a crash between the two leaves the cache ahead of the log,
        # which open() trims; the reverse would lose the epoch's start.
        self.leader_epoch_cache.assign(header.leader_epoch, header.base_offset)
        active.append(batch, header)
        if self._damage and self._damage[-1].start >= header.base_offset:
            # a range lost at open (past the log end) is written anew: these bytes are sound
            self._damage = [d for d in self._damage if d.start < header.base_offset]
        if self._drop_cold is not None:
            cold = active.log.cold_range()
            if cold is not None:
                self._drop_cold(active.log, *cold)
        log_transactions.apply(self.producers, active, header, batch)
        self._unflushed_records += header.record_count
        if self.config.flush_messages is not None and self._unflushed_records >= self.config.flush_messages:
            self.flush()
        else:
            self.maybe_flush()

    def reconfigure(self, config: LogConfig) -> None:
        """New settings for an open log (a topic config change): the next append rolls or
        flushes under them, as Kafka applies segment.* and flush.* to open logs."""
        self._check_open()
        self.config = config

    def _should_roll(self, active: Segment, header: BatchHeader) -> bool:
        if active.is_empty:
            return False  # even an oversized batch needs a home
        config = self.config
        return (
            active.size + header.size > config.segment_bytes
            or (config.segment_ms is not None and active.first_timestamp is not None
                and header.max_timestamp - active.first_timestamp > config.segment_ms)
            or header.last_offset - active.base_offset > INT32_MAX
        )

    def roll(self) -> Segment:
        """Seal the active segment and start a new one at the log end. The sealed
        segment is fsynced here, or by the owner's worker when `flush_rolls_with` gave
        one (a 128 MiB fsync would stall an event loop for a good part of a second)."""
        self._check_open()
        active = self._segments[-1]
        if active.is_empty:
            return active
        if not self.roll_fsyncs.deferred:
            self.directory.sync_identity()  # before the segment's records are fsynced
        active.seal(fsync=not self.roll_fsyncs.deferred)
        producer_snapshots.write(self.directory.path, active.next_offset, self.producers)
        segment = Segment.create(self.directory.path, active.next_offset, self.config.index_interval_bytes)
        self._segments.append(segment)
        self.roll_fsyncs.rolled(self, active)
        return segment

    # -- fsync of rolled segments, off the event loop (see roll) ----------------
    def flush_rolls_with(self, schedule: Schedule) -> None:
        """From now on roll() calls schedule(log, segment) instead of fsyncing; the
        owner then runs log.fsync_sealed(segment) in a worker thread and, back on its
        loop, log.sealed_fsynced(segment) and (if that says so) write_recovery_point."""
        self.roll_fsyncs.schedule = schedule

    def sync_epochs_with(self, schedule: Callable[[LeaderEpochCache], None]) -> None:
        """From now on a new epoch's checkpoint entry is written by the owner's worker
        (schedule(cache) runs cache.sync() there), and always before a recovery point
        that passes it (see LeaderEpochCache.sync_with)."""
        self.leader_epoch_cache.sync_with(schedule)

    def drop_cold_pages_with(self, drop: DropCold) -> None:
        """From now on appends call drop(log_file, start, end) for the bytes behind each
        segment's newest CACHE_WINDOW_BYTES; the owner runs log_file.drop_cached(start,
        end) in a worker thread (see log_file)."""
        self._drop_cold = drop

    def fsync_sealed(self, segment: Segment) -> bool:
        return self.roll_fsyncs.fsync(segment)

    def sealed_fsynced(self, segment: Segment, ok: bool) -> bool:
        return self.roll_fsyncs.fsynced(segment, ok, [] if self._closed else self._segments)

    def write_recovery_point(self) -> None:
        self.roll_fsyncs.write()

    # -- reads ---------------------------------------------------------------

    def read(self, offset: int, max_bytes: int, max_offset: int | None = None) -> bytes:
        """Whole batches from the one holding ``offset``: up to ``max_bytes``, but at
        least one batch even when it is larger (as Kafka does, so a consumer never
        stalls), none reaching ``max_offset`` (e.g. the high watermark). Reading at
        the log end gives b""; outside [log start, log end] raises OffsetOutOfRange.
        Every batch's CRC is checked: a damaged batch is never returned. The read stops
        before it, or raises DamagedLog when it is the first one asked for."""
        for _ in range(2):
            parts = []
            for segment, position, length in self._locate(offset, max_bytes, max_offset):
                data = segment.log.read(position, length)
                if not whole_and_sound(data):
                    self._map_damage(segment)
                    break
                parts.append(data)
            else:
                return b"".join(parts)
        raise DamagedLog(f"{self.directory.path.name}: stored data at offset {offset} failed its checks")

    def read_slices(self, offset: int, max_bytes: int, max_offset: int | None = None) -> list[FileSlice]:
        """What ``read`` would return, as file ranges to send with sendfile; the caller
        closes each slice. CRCs are left to the client, as Kafka's brokers do; known
        damaged ranges are still refused."""
        return [segment.log.slice(position, length)
                for segment, position, length in self._locate(offset, max_bytes, max_offset)]

    def _locate(self, offset: int, max_bytes: int, max_offset: int | None) -> list[tuple[Segment, int, int]]:
        self._check_open()
        if not self.log_start_offset <= offset <= self.log_end_offset:
            raise OffsetOutOfRange.outside(offset, self.log_start_offset, self.log_end_offset)
        for _ in range(2):
            bound = self._damage_bound(offset, max_offset)
            try:
                return read_ranges(self._segments, offset, max_bytes, bound)
            except BrokenSegment as broken:  # a header walk met a batch that cannot be one
                self._map_damage(broken.segment)
        raise DamagedLog(f"{self.directory.path.name}: batch headers near offset {offset} are damaged")

    # -- damage ----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def damage(self) -> tuple[Damage, ...]:
        """Known damaged ranges, by start offset, until repair_from clears them."""
        return tuple(self._damage)

    def _damage_bound(self, offset: int, max_offset: int | None) -> int | None:
        """max_offset cut at the next damaged range; DamagedLog when ``offset`` is in one."""
        for d in self._damage:
            if d.end <= offset or d.start >= self.log_end_offset:
                continue
            if d.start <= offset:
                raise DamagedLog(f"{self.directory.path.name}: offsets {d.start}..{d.end - 1} are damaged "
                                 f"({d.reason}); not served until repaired")
            return d.start if max_offset is None else min(max_offset, d.start)
        return max_offset

    def _map_damage(self, segment: Segment | None) -> list[Damage]:
        """Walk ``segment`` (or every segment) for damage and remember what is found."""
        found: list[Damage] = []
        for s in ([segment] if segment is not None else self._segments):
            found += scan_whole(s.log.read, s.base_offset, s.next_offset, s.size)
        return self.note_damage(found)

    def note_damage(self, found: list[Damage]) -> list[Damage]:
        """Remember damaged ranges (a read's, the scrubber's); returns the new ones."""
        new = [d for d in dict.fromkeys(found) if d not in self._damage]
        self._damage = sorted(self._damage + new, key=lambda d: d.start)
        if new and self.on_damage is not None:
            self.on_damage()
        return new

    def map_damage(self) -> list[Damage]:
        """Walk every segment now (tests, `kraft` tools); returns the new ranges."""
        self._check_open()
        return self._map_damage(None)

    def repair_from(self, offset: int) -> int:
        """Repair: cut the log at ``offset`` (a damaged range's start or below) and forget
        every damaged range from there on; the leader's copy refills it. Returns the new
        log end offset."""
        end = self.truncate_to(offset)
        self._damage = [d for d in self._damage if d.start < offset]
        return end

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record stamped at or after ``timestamp``."""
        self._check_open()
        for segment in self._segments:
            if segment.max_timestamp >= timestamp and segment.next_offset > self.log_start_offset:
                try:
                    found = segment.offset_for_timestamp(timestamp, self.log_start_offset)
                except CorruptBatchError:
                    self._map_damage(segment)
                    raise DamagedLog(f"{self.directory.path.name}: a batch searched by time is damaged") from None
                if found is not None:
                    return found
        return None

    def record_with_max_timestamp(self, end: int) -> MaxTimestamp | None:
        """ListOffsets MAX_TIMESTAMP over [log start, end): see max_timestamp."""
        self._check_open()
        try:
            return record_with_max_timestamp(self._segments, self.log_start_offset, end)
        except CorruptBatchError:
            self._map_damage(None)
            raise DamagedLog(f"{self.directory.path.name}: a batch searched by time is damaged") from None

    # -- durability ----------------------------------------------------------

    def flush(self) -> None:
        """fsync the active segment, and any rolled one whose deferred fsync has not run
        yet (flush.messages / flush.ms promise everything appended so far)."""
        self._check_open()
        self.roll_fsyncs.fsync_pending_now()
        self._segments[-1].flush()
        self._unflushed_records = 0
        self._last_flush_ms = self._clock_ms()

    @property
    def unflushed(self) -> bool:  # records appended and not fsynced yet
        return bool(self._unflushed_records)

    def maybe_flush(self) -> bool:
        """Apply flush_ms: fsync if records are waiting and flush_ms has passed.
        Call it from a periodic task too, so quiet partitions get flushed."""
        flush_ms = self.config.flush_ms
        if flush_ms is None or not self._unflushed_records or self._clock_ms() - self._last_flush_ms < flush_ms:
            return False
        self.flush()
        return True

    def close(self, clean: bool = True, *, sync: bool = True) -> None:
        """Seal and fsync what changed (nothing for an untouched log, as Kafka), then mark it
        clean; ``clean=False`` only releases the files, as kill -9. ``sync=False``: neither
        fsync nor mark; the caller syncs the file system once for many (fs_sync), then marks."""
        if self._closed:
            return
        if clean:
            if sync:  # the id first: nothing of the log's is fsynced in a nameless directory
                self.roll_fsyncs.fsync_pending_now()
            self.leader_epoch_cache.sync(fsync=sync)
            if sync:  # not sealed: its max timestamp is found again by the next open's tail walk
                self._segments[-1].flush()
            if producer_snapshots.write_new(self.directory.path, self.log_end_offset, self.producers) and sync:
                self.directory.fsync()
        for segment in self._segments:
            segment.close()
        if clean and sync:
            self.directory.mark_clean_shutdown()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosed(f"log {self.directory.path} is closed")

    def __repr__(self) -> str:
        return f"PartitionLog({self.directory.path}, start={self.log_start_offset}, end={self.log_end_offset})"


def _validated_produce(data: bytes | bytearray | memoryview) -> BatchHeader:
    """A produced batch must be exactly one sound v2 batch: header and CRC-32C checked.

    Batches come from this cluster's own encoder (locally or from an authenticated peer),
    so the per-record walk is not repeated here; a listener for untrusted clients (the
    Kafka protocol) checks every record first (record_check.check_records)."""
    header = ensure_valid(data)
    if header.size != len(data):
        raise InvalidAppend(f"a produce must carry exactly one batch: {len(data)} bytes, batch is {header.size}")
    if header.is_control:
        raise InvalidAppend("control batches are written by the partition itself (append_marker)")
    if header.record_count < 1 or header.last_offset_delta != header.record_count - 1:
        raise InvalidAppend("produced batch must hold records with offset deltas 0, 1, 2, ...")
    return header
