"""Translation into a topic's table: a partition leader's rounds, and the committer's.

A round starts from the offset the table says the partition was translated up to (the
current snapshot's summary holds every partition's, `kraft.offsets`), reads the records
committed since (never past the last stable offset; aborted transactions and control
records left out), writes them as Parquet data files and stages them (staged.py). The
table's committer commits every staged round in one snapshot whose summary moves each
partition's offset to where its round ended, and takes a round only while the table
still says what it started from: a second translator of the same partition (a leader
that has not yet learnt it was replaced) or a commit whose outcome was unknown and did
land cannot make rows appear twice. Files of a round that did not land are never
referenced.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pyiceberg.table import Table
from pyiceberg.table.update.snapshot import ExpireSnapshots

from kraft.iceberg.catalog import KraftCatalog, TableMoved
from kraft.iceberg.layout import Row
from kraft.iceberg.names import DLQ
from kraft.iceberg.round_files import round_files
from kraft.iceberg.staged import Staged, stage, staged, staged_dir

log = logging.getLogger(__name__)

OFFSETS = "kraft.offsets"  # snapshot summary: {"<partition>": next offset to translate}
SNAPSHOT_AGE_MS = 3_600_000  # snapshots older than this are expired at the next commit
COMMIT_TRIES = 8  # commits of one round: others' commits in between move the table on
MAX_CHAIN = 64  # staged rounds of one partition waiting for the committer (16 MiB each at most)


def translated(table: Table | None) -> dict[int, int]:
    """Each partition's next offset to translate, as the table's current snapshot says."""
    snapshot = table.current_snapshot() if table is not None else None
    text = snapshot.summary[OFFSETS] if snapshot is not None and snapshot.summary is not None else None
    return {int(p): int(o) for p, o in json.loads(text).items()} if text else {}


@dataclass(frozen=True)
class Start:
    """Where a round begins (None: never translated: at the log start), and the table's own
    offset for the partition (rounds staged in between wait for the committer)."""

    offset: int | None
    committed: int | None = None


class PartitionTranslation:
    """A partition leader's side of its rounds (on a worker thread): where the next round
    starts, and staging what it read for the table's committer (staged.py)."""

    def __init__(self, catalog: KraftCatalog, topic: str, partition: int, mode: str = "key_value",
                 spec_text: str = "(hour(kafka.timestamp))"):
        self.catalog, self.topic, self.partition = catalog, topic, partition
        self.mode, self.spec_text = mode, spec_text

    def start(self) -> Start | None:
        """Where the next round starts: after this partition's staged rounds that follow on
        from the table's offset (a chain the committer takes whole), else at that offset.
        None while MAX_CHAIN rounds already wait for the committer."""
        table = self.catalog.load(self.topic)
        if table is None:
            return Start(None, None)  # its first round makes it
        offset = translated(table).get(self.partition)
        files = self.catalog.files
        rounds = staged(files, staged_dir(table.metadata.location), table.metadata.format_version, self.partition)
        for round_ in rounds:
            if _behind(round_, offset):
                files.delete(round_.location)  # committed already, or refused: the table moved past its start
        chain = _chain([r for r in rounds if not _behind(r, offset)], offset)
        if len(chain) >= MAX_CHAIN:
            return None
        return Start(chain[-1].end if chain else offset, offset)

    def stage(self, start: Start, rows: list[Any], end: int, registry: Any = None) -> int:
        """Write `rows` (offsets start.offset.. up to end) as data files and stage them for
        the committer (which checks that they follow on from the table); the rows staged.
        `registry`: (state, parser), for the schema modes. No rows (an aborted transaction,
        markers): a round without files still moves the offset, so the table's lag reaches
        0 when the log ends in one."""
        if self.mode == "key_value":  # columns straight from the records: no object made per record
            written = round_files(self.catalog, self.topic, self.mode, self.spec_text, rows, None, self.partition)
        else:
            rows = [r if isinstance(r, Row) else Row(self.partition, r.offset, r.timestamp_ms, r.key, r.value, r.headers)
                    for r in rows]  # the log's records, made rows here, off the event loop
            written = round_files(self.catalog, self.topic, self.mode, self.spec_text, rows, registry)
        table = written.table
        stage(self.catalog.files, staged_dir(table.metadata.location), self.partition, start.offset, end,
              written.files, table.metadata.default_spec_id, written.dlq_files,
              written.dlq.metadata.default_spec_id if written.dlq is not None else 0)
        return len(rows) - written.refused


def _behind(round_: Staged, offset: int | None) -> bool:
    return offset is not None and (round_.start is None or round_.start < offset)


def _chain(rounds: list[Staged], offset: int | None) -> list[Staged]:
    """The rounds that follow on from `offset`, each starting where the one before ended
    (of two that start at one offset, the first by name: the committer takes the same)."""
    by_start: dict[int | None, Staged] = {}
    for round_ in sorted(rounds, key=lambda r: r.name):
        by_start.setdefault(round_.start, round_)
    chain: list[Staged] = []
    at = offset
    while at in by_start and len(chain) < 10_000:
        chain.append(by_start[at])
        if by_start[at].end == at:
            break  # a round that moves nothing cannot lead on
        at = by_start[at].end
    return chain


class TableCommitter:
    """The table's committer (its coordinator, broker/table_coordinator.py): for each partition,
    the staged rounds that follow on from where the table says, in one snapshot."""

    def __init__(self, catalog: KraftCatalog, topic: str):
        self.catalog, self.topic = catalog, topic

    def commit(self) -> int:
        """The rounds committed (0: none staged, or none still fit the table)."""
        table = self.catalog.load(self.topic)
        if table is None:
            return 0  # its partitions' first round makes it
        for _ in range(COMMIT_TRIES):
            offsets = translated(table)
            rounds = staged(self.catalog.files, staged_dir(table.metadata.location), table.metadata.format_version)
            by_partition: dict[int, list[Staged]] = {}
            for round_ in rounds:
                if _behind(round_, offsets.get(round_.partition)):
                    self.catalog.files.delete(round_.location)  # committed already, or refused
                else:
                    by_partition.setdefault(round_.partition, []).append(round_)
            taken = {p: chain for p, rs in by_partition.items() if (chain := _chain(rs, offsets.get(p)))}
            if not taken:
                return 0
            # the dead-letter rows first: if the table's commit then fails, the same rounds
            # are taken again and the dead-letter table's offsets skip what it has
            if any(r.dlq_files for chain in taken.values() for r in chain):
                self._commit_dead_letters(taken)
            for partition, chain in taken.items():
                offsets[partition] = chain[-1].end
            try:
                _append(table, offsets, [f for chain in taken.values() for r in chain for f in r.files])
            except TableMoved:
                table = self.catalog.load(self.topic) or table  # another committer (a leader being replaced) came first
                continue
            for chain in taken.values():
                for round_ in chain:
                    self.catalog.files.delete(round_.location)
            return sum(len(chain) for chain in taken.values())
        raise TableMoved(f"{self.topic}: the table kept moving; the next round retries")

    def _commit_dead_letters(self, taken: dict[int, list[Staged]]) -> None:
        name = self.topic + DLQ
        for _ in range(COMMIT_TRIES):
            dlq = self.catalog.load(name)
            if dlq is None:
                raise TableMoved(f"{name}: the table is not in this node's metadata yet")
            offsets = translated(dlq)
            files = []
            for partition, chain in taken.items():
                done = offsets.get(partition)
                files += [f for r in chain if done is None or r.end > done for f in r.dlq_files]
                offsets[partition] = chain[-1].end
            if not files:
                return
            try:
                _append(dlq, offsets, files)
                return
            except TableMoved:
                continue
        raise TableMoved(f"{name}: the table kept moving; the next round retries")


def _append(table: Table, offsets: dict[int, int], files: list[Any]) -> None:
    """One snapshot of `files`, its summary carrying every partition's offset; TableMoved
    when another commit came first."""
    summary = {OFFSETS: json.dumps({str(p): o for p, o in sorted(offsets.items())})}
    tx = table.transaction()
    # merge_append: past a hundred manifests it merges them, so a reader does not open
    # one manifest per round the table ever had
    with tx.update_snapshot(snapshot_properties=summary).merge_append() as append:
        for data_file in files:
            append.append_data_file(data_file)
    # the snapshot list is in every metadata file: rounds' snapshots past their hour go
    # (their data files stay: later snapshots hold them)
    ExpireSnapshots(tx).older_than(datetime.now(timezone.utc) - timedelta(milliseconds=SNAPSHOT_AGE_MS)).commit()
    tx.commit_transaction()
