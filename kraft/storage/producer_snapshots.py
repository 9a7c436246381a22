"""Producer state on disk: snapshots beside the segments, plus a replay of the batches.

``<offset:020d>.producer`` holds the producer table as it was after every batch below
``offset`` (Kafka's ``.snapshot`` files), open transactions and coordinator epochs
included (version 2; version 1 files, written before transactions, still load). One
is written when a segment rolls and at clean shutdown, so opening a log replays at
most the batches after the newest usable snapshot: none after a clean shutdown, the
segments in doubt after kill -9, the whole log when there is no snapshot at all (a
log written before this existed). A snapshot is only a shortcut: one that is
unreadable (e.g. torn by a power loss; they are not fsynced) is deleted and an older
one, or the log itself, is used instead.

The replay reads headers only, and the bodies of control batches (a marker's type is
in its record). It also rewrites the aborted-transaction index of every segment from
where it starts, so the index always agrees with the table it came with.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from kraft.storage import log_transactions
from kraft.storage.log_directory import read_whole
from kraft.storage.producer_state import ProducerStateTable
from kraft.storage.segment import Segment

log = logging.getLogger(__name__)

SUFFIX = ".producer"
VERSION = 2
READABLE_VERSIONS = (1, 2)


def snapshot_offsets(directory: Path, names: Iterable[str] | None = None) -> list[int]:
    """`names`: the directory's listing, if the caller holds one."""
    out = []
    for name in os.listdir(directory) if names is None else names:
        stem, dot, suffix = name.rpartition(".")
        if dot and "." + suffix == SUFFIX and len(stem) == 20 and stem.isascii() and stem.isdigit():
            out.append(int(stem))
    return sorted(out)


def _path(directory: Path, offset: int) -> Path:
    return directory / f"{offset:020d}{SUFFIX}"


def write_new(directory: Path, offset: int, table: ProducerStateTable) -> bool:
    """Write unless a snapshot at `offset` is there already (Kafka takes one only at a
    new offset): a clean stop of an idle log writes none. True when written."""
    if _path(directory, offset).exists():
        return False
    write(directory, offset, table)
    return True


def write(directory: Path, offset: int, table: ProducerStateTable) -> None:
    """In place, no temp file and rename: a torn snapshot does not parse and is only a
    shortcut (see load), and a clean stop writes thousands, one file creation each."""
    _path(directory, offset).write_bytes(json.dumps({"version": VERSION, "offset": offset,
                                                     "producers": table.to_json()}).encode())


def delete_after(directory: Path, offset: int, names: Iterable[str] | None = None) -> list[int]:
    """Snapshots past ``offset`` describe batches a truncation removes; the offsets of
    those kept. `names`: the directory's listing, if the caller holds one."""
    kept = []
    for o in snapshot_offsets(directory, names):
        if o > offset:
            _path(directory, o).unlink(missing_ok=True)
        else:
            kept.append(o)
    return kept


def delete_before(directory: Path, offset: int) -> None:
    """After retention: snapshots below the new log start are never the newest usable one."""
    for o in snapshot_offsets(directory):
        if o < offset:
            _path(directory, o).unlink(missing_ok=True)


def _read(directory: Path, offset: int) -> ProducerStateTable:
    data = json.loads(read_whole(_path(directory, offset)))
    if data.get("version") not in READABLE_VERSIONS or data.get("offset") != offset:
        raise ValueError("unknown version or offset mismatch")
    return ProducerStateTable.from_json(data["producers"])


def load(directory: Path, segments: Sequence[Segment], replay_from: int | None = None,
         names: Iterable[str] | None = None) -> ProducerStateTable:
    """The table for the log as it is now: newest usable snapshot + the batches after it.
    ``replay_from``: replay at least from there (a snapshot at or below it), so the
    segments from there on get their transaction index rebuilt (recovery's doubt).
    `names`: the directory's listing, if the caller holds one."""
    kept = delete_after(directory, segments[-1].next_offset, names)
    table, start = None, segments[0].base_offset
    for offset in reversed(kept):
        if replay_from is not None and offset > replay_from:
            continue
        try:
            table, start = _read(directory, offset), offset
            break
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("producer snapshot %s unusable (%s); trying an older one",
                        _path(directory, offset), exc)
            _path(directory, offset).unlink(missing_ok=True)
    if table is None:
        table = ProducerStateTable()
    replay(segments, start, table)
    return table


def replay(segments: Sequence[Segment], start: int, table: ProducerStateTable) -> None:
    """Record every batch at or after ``start``; the transaction indexes from ``start`` on
    are rebuilt on the way."""
    for segment in segments:
        if segment.next_offset <= start:
            continue
        segment.txn_index.truncate_to(max(start, segment.base_offset))
        position = 0
        if segment.base_offset < start:
            found = segment.find_position(start)
            if found is None:
                continue
            position = found[0]
        for at, header in segment.log.batches(position, segment.log.size):
            if header.base_offset >= start:
                log_transactions.apply(table, segment, header, position=at)
