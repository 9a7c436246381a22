"""A table's housekeeping, run by its committer on its thread (Housekeeping.run).

- **Compaction.** Rounds write small files: a trickle of records makes one file per
  round for each partition of the spec it touches. Once one partition of the spec holds
  MIN_FILES small files, they are rewritten as one (up to COMPACT_BYTES at a time), in a
  snapshot that replaces them with the rows unchanged (Iceberg's overwrite) and carries
  the table's `kraft.offsets` as they were, so translation goes on where it was.
- **Orphans.** Files no snapshot holds any more are deleted: the small files a
  compaction replaced once the snapshots that held them expired, the manifest lists of
  expired snapshots, and the files of rounds that were dropped. Only files older than
  ORPHAN_AGE_S go, and never one a staged round names (it is not in a snapshot yet).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.table import Table

from kraft.iceberg.catalog import KraftCatalog, TableMoved
from kraft.iceberg.names import DLQ
from kraft.iceberg.staged import staged, staged_dir
from kraft.iceberg.warehouse import Warehouse

log = logging.getLogger(__name__)

SMALL_FILE_BYTES = 32 * 1024 * 1024  # a data file below this may be compacted with others
MIN_FILES = 16  # small files in one partition of the spec before they are rewritten as one
COMPACT_BYTES = 128 * 1024 * 1024  # read into memory by one rewrite at most
ORPHAN_AGE_S = 3 * 3600.0  # well past the snapshots' hour, and any round still being written
COMPACT_EVERY_S = 600.0
ORPHANS_EVERY_S = 3600.0
# a committer's first passes come sooner: the committer may move before a whole period
FIRST_COMPACT_S, FIRST_ORPHANS_S = 60.0, 300.0
TRIES = 4
OFFSETS = "kraft.offsets"


def compact(catalog: KraftCatalog, name: str, min_files: int = MIN_FILES) -> int:
    """Rewrite the small files of each partition of the spec holding min_files of them as
    one file; how many files were replaced (0: none needed it)."""
    for _ in range(TRIES):
        table = catalog.load(name)
        snapshot = table.current_snapshot() if table is not None else None
        if table is None or snapshot is None:
            return 0
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for task in table.scan().plan_files():
            f = task.file
            if f.file_size_in_bytes < SMALL_FILE_BYTES and not task.delete_files:
                part = f.partition
                groups.setdefault((f.spec_id, *(part[i] for i in range(len(part)))), []).append(task)
        victims = _within_budget([g for g in groups.values() if len(g) >= min_files], min_files)
        offsets = snapshot.summary[OFFSETS] if snapshot.summary is not None else None
        if not victims or not offsets:
            return 0  # (a table without kraft's offsets is not one kraft translates: left alone)
        tx = table.transaction()
        with tx.update_snapshot(snapshot_properties={OFFSETS: offsets}).overwrite() as rewrite:
            for tasks in victims:
                rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(tasks)
                for new in _dataframe_to_data_files(table.metadata, rows, table.io, uuid.uuid4()):
                    rewrite.append_data_file(new)
                for task in tasks:
                    rewrite.delete_data_file(task.file)
        try:
            tx.commit_transaction()
        except TableMoved:
            continue  # a round's commit came first (a leader being replaced): again, on top of it
        return sum(len(tasks) for tasks in victims)
    return 0


def _within_budget(groups: list[list[Any]], min_files: int) -> list[list[Any]]:
    """What one pass rewrites: of each group the smallest files first, as many groups as
    COMPACT_BYTES holds in all (a pass is the committer's time and the memory it reads
    into; the next pass takes on from there)."""
    taken, total = [], 0
    for tasks in groups:
        group = []
        for task in sorted(tasks, key=lambda t: t.file.file_size_in_bytes):
            if total + task.file.file_size_in_bytes > COMPACT_BYTES:
                break
            total += task.file.file_size_in_bytes
            group.append(task)
        if len(group) >= min_files:
            taken.append(group)
        else:
            total -= sum(t.file.file_size_in_bytes for t in group)
        if total >= COMPACT_BYTES:
            break
    return taken


def remove_orphans(table: Table, keep: set[str], files: Warehouse, now: float | None = None,
                   age_s: float = ORPHAN_AGE_S) -> int:
    """Delete the table's data and metadata files that none of its snapshots, its metadata
    log nor `keep` (the staged rounds' files) names and that are older than age_s; how
    many went."""
    root = files.path(table.metadata.location)
    if not root:
        return 0
    data, others = _referenced(table)
    data, others, keep = (_paths(files, s) for s in (data, others, keep))
    found = {path: mtime for sub in ("data", "metadata") for path, mtime in files.files(f"{root}/{sub}")}
    if not data <= found.keys():
        # a path spelt in a way the listing does not would make every file look orphaned
        log.warning("iceberg: %s: a data file is not where its manifest says; no orphan removed", table.name())
        return 0
    kept = data | others | keep
    now = time.time() if now is None else now
    removed = 0
    for path, mtime in found.items():
        if path not in kept and now - mtime >= age_s:
            files.remove(path)
            removed += 1
    return removed


def _referenced(table: Table) -> tuple[set[str], set[str]]:
    """The data files of every snapshot still in the table's metadata, and the other files
    it names: metadata files, manifest lists, manifests (each manifest read once:
    snapshots share most of theirs)."""
    meta = table.metadata
    others = {table.metadata_location, *(entry.metadata_file for entry in meta.metadata_log)}
    manifests: dict[str, Any] = {}
    for snapshot in meta.snapshots:
        others.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            manifests.setdefault(manifest.manifest_path, manifest)
    data: set[str] = set()
    for path, manifest in manifests.items():
        others.add(path)
        data.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io, discard_deleted=False))
    return data, others


def _paths(files: Warehouse, locations: set[str]) -> set[str]:
    return {p for p in map(files.path, locations) if p}


def staged_files(table: Table, files: Warehouse) -> set[str]:
    """The files the table's staged rounds name, its dead-letter table's included (a
    table's rounds stage both, in the table's directory)."""
    rounds = staged(files, staged_dir(table.metadata.location), table.metadata.format_version)
    return {f.file_path for r in rounds for f in (*r.files, *r.dlq_files)}


class Housekeeping:
    """When a topic's tables (its own and its dead-letter table) are next compacted and
    rid of orphans; run by the committer after its commits."""

    def __init__(self, catalog: KraftCatalog, topic: str, clock: Callable[[], float] = time.monotonic):
        self.catalog, self.topic, self._clock = catalog, topic, clock
        self._compact_at = clock() + FIRST_COMPACT_S
        self._orphans_at = clock() + FIRST_ORPHANS_S

    def run(self) -> None:
        now = self._clock()
        if now >= self._compact_at:
            self._compact_at = now + COMPACT_EVERY_S
            for name in (self.topic, self.topic + DLQ):
                replaced = compact(self.catalog, name)
                if replaced:
                    log.info("iceberg: %s: %d small files compacted", name, replaced)
        if now >= self._orphans_at:
            self._orphans_at = now + ORPHANS_EVERY_S
            table = self.catalog.load(self.topic)
            if table is None:
                return
            # the staged rounds before the table: a round committed in between is then in
            # the table's snapshots (its staged file gone), never in neither
            keep = staged_files(table, self.catalog.files)
            for t in (self.catalog.load(self.topic), self.catalog.load(self.topic + DLQ)):
                if t is not None:
                    removed = remove_orphans(t, keep, self.catalog.files)
                    if removed:
                        log.info("iceberg: %s: %d unreferenced files removed", t.name(), removed)
