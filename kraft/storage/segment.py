"""One log segment: ``<base>.log`` plus its sparse ``.index`` and ``.timeindex``, and
the aborted-transaction index ``.txnindex`` when an ABORT marker landed in it.

Batches arrive already stamped with offsets; the segment only places them, keeps
its two sparse indexes in step and can find, read, cut and rebuild them. Relative
offsets in the indexes are offsets minus the segment's base offset (int32). The
transaction index is filled by the partition log, which knows the producers' state.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from kraft.errors import CorruptBatchError
from kraft.storage.log_file import LogFile
from kraft.storage.record_batch import (
    HEADER_SIZE,
    BatchHeader,
    decode_records,
    iter_batches,
)
from kraft.storage.sparse_index import OFFSET_ENTRY, TIME_ENTRY, SparseIndex
from kraft.storage.txn_index import SUFFIX as TXN_INDEX_SUFFIX
from kraft.storage.txn_index import TxnIndex

INT32_MAX = 2**31 - 1
NO_TIMESTAMP = -1


def segment_stem(base_offset: int) -> str:
    return f"{base_offset:020d}"


class Segment:
    """Use ``Segment.create`` or ``Segment.open``; the constructor only opens files."""

    def __init__(self, directory: Path, base_offset: int, index_interval_bytes: int, new: bool = False,
                 names: frozenset[str] | None = None) -> None:
        """`names`: the directory's listing (LogDirectory.listed), which says which index
        files are there: none is looked for that is not (an empty log's never are)."""
        stem = segment_stem(base_offset)  # a join per file: with_name costs twice as much
        self.base_offset = base_offset
        self.index_interval_bytes = index_interval_bytes
        self.log = LogFile(directory / (stem + ".log"), new=new)
        def missing(suffix: str) -> bool:
            return new or (names is not None and stem + suffix not in names)
        self.offset_index = SparseIndex(directory / (stem + ".index"), OFFSET_ENTRY, absent=missing(".index"))
        self.time_index = SparseIndex(directory / (stem + ".timeindex"), TIME_ENTRY, absent=missing(".timeindex"))
        self.txn_index = TxnIndex(directory / (stem + TXN_INDEX_SUFFIX), absent=missing(TXN_INDEX_SUFFIX))
        self.next_offset = base_offset
        self.max_timestamp = NO_TIMESTAMP
        self.offset_of_max_timestamp = base_offset
        self.first_timestamp: int | None = None  # first batch's max timestamp: segment.ms rolls from it
        self._bytes_since_index = 0

    @classmethod
    def create(cls, directory: Path, base_offset: int, index_interval_bytes: int) -> Segment:
        segment = cls(directory, base_offset, index_interval_bytes)
        segment.log.truncate(0)  # a leftover file at this base belongs to a deleted past
        segment.offset_index.reset()
        segment.time_index.reset()
        segment.txn_index.reset()
        return segment

    @classmethod
    def create_new(cls, directory: Path, base_offset: int, index_interval_bytes: int) -> Segment:
        """The first segment of a log whose directory was made just now: only the .log file
        is made here (it must not exist); the indexes make theirs at their first entry."""
        return cls(directory, base_offset, index_interval_bytes, new=True)

    @classmethod
    def open(
        cls,
        directory: Path,
        base_offset: int,
        index_interval_bytes: int,
        *,
        recover: bool = False,
        on_batch: Callable[[BatchHeader], None] | None = None,
        names: frozenset[str] | None = None,
    ) -> Segment:
        """Open an existing segment; trust its indexes unless ``recover`` or they look wrong."""
        segment = cls(directory, base_offset, index_interval_bytes, names=names)
        if recover or not segment._load_indexes():
            segment.recover(on_batch)
        return segment

    # -- state ---------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.log.size

    @property
    def is_empty(self) -> bool:
        return self.log.size == 0

    # -- writing -------------------------------------------------------------

    def append(self, batch: bytes, header: BatchHeader | None = None) -> None:
        """Append one stamped batch; its offsets must follow this segment's end."""
        header = header or BatchHeader.parse(batch)
        if header.base_offset != self.next_offset:
            raise ValueError(f"segment {self.base_offset}: batch at {header.base_offset}, expected {self.next_offset}")
        position = self.log.append(batch)
        try:
            self._track(position, header)
        except OSError:  # an index entry could not be written: the batch goes too
            self.truncate_to(header.base_offset)
            raise

    def _track(self, position: int, header: BatchHeader) -> None:
        # Index a batch once more than index_interval_bytes were written since the
        # last entry: the sparse rule Kafka documents for index.interval.bytes.
        if self.first_timestamp is None:
            self.first_timestamp = header.max_timestamp
        if header.max_timestamp > self.max_timestamp:
            self.max_timestamp = header.max_timestamp
            self.offset_of_max_timestamp = header.last_offset
        if self._bytes_since_index > self.index_interval_bytes:
            self.offset_index.append(header.last_offset - self.base_offset, position)
            self._index_max_timestamp()
            self._bytes_since_index = 0
        self._bytes_since_index += header.size
        self.next_offset = header.next_offset

    def _index_max_timestamp(self) -> None:
        last = self.time_index.last()
        if self.max_timestamp > (last[0] if last else NO_TIMESTAMP):
            self.time_index.append(self.max_timestamp, self.offset_of_max_timestamp - self.base_offset)

    def seal(self, fsync: bool = True) -> None:
        """The segment stops being active: record its final max timestamp, fsync
        (unless the caller has the fsync done later, off the event loop)."""
        self._index_max_timestamp()
        if fsync:
            self.flush()

    def truncate_to(self, offset: int) -> int:
        """Drop every batch that holds ``offset`` or later; return the bytes removed."""
        found = self.find_position(offset)
        if found is None:
            return 0
        position, header = found
        removed = self.log.size - position
        self.log.truncate(position)
        cut = header.base_offset - self.base_offset
        self.offset_index.truncate_keys_from(cut)
        self.time_index.truncate_values_from(cut)
        self.txn_index.truncate_to(header.base_offset)
        self._rescan_tail()
        return removed

    def recover(self, on_batch: Callable[[BatchHeader], None] | None = None) -> int:
        """Validate every batch from the start, cut the first bad one and all after it,
        rebuild both indexes; return the bytes cut. ``on_batch`` sees each good batch.
        Index files are made by their first entry: none for an empty log (a restart after
        kill -9 of thousands of new logs would otherwise make two files each)."""
        self.offset_index.reset(make=False)
        self.time_index.reset(make=False)
        self.next_offset = self.base_offset
        self.max_timestamp = NO_TIMESTAMP
        self.offset_of_max_timestamp = self.base_offset
        self.first_timestamp = None
        self._bytes_since_index = 0
        valid_end = 0
        try:
            for position, header in self.log.batches(0, verify=True):
                if header.base_offset != self.next_offset:
                    raise CorruptBatchError(f"batch at byte {position} has offset {header.base_offset}, expected {self.next_offset}")
                if header.last_offset - self.base_offset > INT32_MAX:
                    raise CorruptBatchError(f"batch at byte {position} overflows the segment's relative offsets")
                self._track(position, header)
                valid_end = position + header.size
                if on_batch is not None:
                    on_batch(header)
        except CorruptBatchError:
            pass  # everything from valid_end on is a torn or corrupt tail
        cut = self.log.size - valid_end
        if cut:
            self.log.truncate(valid_end)
        self.txn_index.truncate_to(self.next_offset)  # the replay of the producers refills the rest
        return cut

    # -- reading -------------------------------------------------------------

    def find_position(self, offset: int) -> tuple[int, BatchHeader] | None:
        """Position and header of the first batch whose last offset >= ``offset``."""
        entry = self.offset_index.floor(offset - self.base_offset)
        for position, header in self.log.batches(entry[1] if entry else 0):
            if header.last_offset >= offset:
                return position, header
        return None

    def read(self, offset: int, max_bytes: int, max_offset: int | None = None,
             min_one: bool = True) -> tuple[bytes, int]:
        """The bytes of ``locate``'s batches and the offset just after them, in one
        read of the budget, cut at the last whole batch in memory."""
        position, length, next_offset, settled = self._bounds(offset, max_bytes, max_offset, min_one)
        if settled:
            return (self.log.read(position, length) if length else b""), next_offset
        data = self.log.read(position, length)
        end, next_offset = _whole_batches(iter_batches(data), 0, max_offset, next_offset)
        return (data if end == len(data) else data[:end]), next_offset

    def locate(self, offset: int, max_bytes: int, max_offset: int | None = None,
               min_one: bool = True) -> tuple[int, int, int]:
        """Whole batches from the one holding ``offset``: at most ``max_bytes`` of them
        (but the first whole when ``min_one``), none reaching ``max_offset``, found by
        their headers alone. Returns their (position, length) in the file (length 0:
        none) and the offset just after them."""
        position, length, next_offset, settled = self._bounds(offset, max_bytes, max_offset, min_one)
        if settled:
            return position, length, next_offset
        end, next_offset = _whole_batches(self.log.batches(position, position + length, stop_short=True),
                                          position, max_offset, next_offset)
        return position, end - position, next_offset

    def _bounds(self, offset: int, max_bytes: int, max_offset: int | None,
                min_one: bool) -> tuple[int, int, int, bool]:
        """(position, length, next offset, settled). Settled: the answer as it is.
        Otherwise length is the budget from position, still to be cut at the last
        whole batch below max_offset, and next offset is where nothing was taken."""
        found = self.find_position(offset)
        if found is None:
            return 0, 0, self.next_offset, True
        position, first = found
        if max_offset is not None and first.last_offset >= max_offset:
            return position, 0, first.base_offset, True
        want = min(max_bytes, self.log.size - position)
        if first.size > want:
            if min_one:
                return position, first.size, first.next_offset, True
            return position, 0, first.base_offset, True
        return position, want, first.base_offset, False

    def offset_for_timestamp(self, timestamp: int, min_offset: int = 0) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record at or after ``min_offset`` (the log
        start) stamped at or after ``timestamp``."""
        if self.max_timestamp < timestamp:
            return None
        # Records up to a time-index entry's offset are no later than its
        # timestamp, so scanning may start at the last entry below the target.
        entry = self.time_index.lower(timestamp)
        start = 0
        if entry is not None:
            located = self.offset_index.floor(entry[1])
            start = located[1] if located else 0
        for position, header in self.log.batches(start):
            if header.max_timestamp >= timestamp and header.last_offset >= min_offset:
                for record in decode_records(self.log.read(position, header.size)):
                    if record.timestamp_ms >= timestamp and record.offset is not None \
                            and record.offset >= min_offset:
                        return record.offset, record.timestamp_ms
        return None

    # -- loading -------------------------------------------------------------

    def _load_indexes(self) -> bool:
        """Trust the index files after a clean shutdown, checking they fit the log;
        only the batches after the last offset-index entry are walked. Missing files are
        trusted as empty for an empty log only (create_new makes them at the first entry);
        a log with records and no index file is walked whole (recover), as after kill -9."""
        empty = self.is_empty
        if not (self.offset_index.load(missing_ok=empty) and self.time_index.load(missing_ok=empty)):
            return False
        last = self.offset_index.last()
        if last is not None and last[1] >= self.log.size:
            return False
        try:
            if last is not None:
                header = BatchHeader.parse(self.log.read(last[1], HEADER_SIZE))
                if header.last_offset != self.base_offset + last[0]:
                    return False
            self._rescan_tail()
            if self.size:
                self.first_timestamp = BatchHeader.parse(self.log.read(0, HEADER_SIZE)).max_timestamp
        except CorruptBatchError:
            return False
        time_last = self.time_index.last()
        return time_last is None or self.base_offset + time_last[1] < self.next_offset

    def _rescan_tail(self) -> None:
        """Recompute end offset and max timestamp from the indexes plus a walk of the tail."""
        last = self.offset_index.last()
        start = last[1] if last else 0
        time_last = self.time_index.last()
        if time_last is not None:
            self.max_timestamp, self.offset_of_max_timestamp = time_last[0], self.base_offset + time_last[1]
        else:
            self.max_timestamp, self.offset_of_max_timestamp = NO_TIMESTAMP, self.base_offset
        self.next_offset = self.base_offset
        for _, header in self.log.batches(start):
            self.next_offset = header.next_offset
            if header.max_timestamp > self.max_timestamp:
                self.max_timestamp, self.offset_of_max_timestamp = header.max_timestamp, header.last_offset
        self._bytes_since_index = self.log.size - start
        if self.is_empty:
            self.first_timestamp = None

    # -- lifecycle -----------------------------------------------------------

    def flush(self) -> None:
        self.log.fsync()
        self.offset_index.flush()
        self.time_index.flush()
        self.txn_index.flush()

    def close(self) -> None:
        self.log.close()
        self.offset_index.close()
        self.time_index.close()

    def delete(self) -> None:
        """Remove the files; the log first so a crash midway leaves only index orphans."""
        self.close()
        self.log.path.unlink(missing_ok=True)
        self.offset_index.delete()
        self.time_index.delete()
        self.txn_index.delete()

    def __repr__(self) -> str:
        return f"Segment(base={self.base_offset}, next={self.next_offset}, size={self.size})"


def _whole_batches(batches: Iterable[tuple[int, BatchHeader]], start: int, max_offset: int | None, next_offset: int) -> tuple[int, int]:
    """(end position, next offset) after the run of ``batches`` (position, header)
    that stays below ``max_offset``; ``start`` and ``next_offset`` when none does."""
    end = start
    for position, header in batches:
        if max_offset is not None and header.last_offset >= max_offset:
            break
        end, next_offset = position + header.size, header.next_offset
    return end, next_offset
