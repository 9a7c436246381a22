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
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.table import Table
from pyiceberg.table.update.snapshot import ExpireSnapshots

from kraft.iceberg.catalog import KraftCatalog, TableMoved
from kraft.iceberg.layout import KEY_VALUE_SCHEMA, Row, key_value_table, parse_partition_spec
from kraft.iceberg.staged import Staged, drop, stage, staged, staged_dir

log = logging.getLogger(__name__)

OFFSETS = "kraft.offsets"  # snapshot summary: {"<partition>": next offset to translate}
SNAPSHOT_AGE_MS = 3_600_000  # snapshots older than this are expired at the next commit
COMMIT_TRIES = 8
MAX_CHAIN = 64  # staged rounds of one partition waiting for the committer (16 MiB each at most)  # commits of one round: others' commits to the table in between move it on


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

    def __init__(self, catalog: KraftCatalog, topic: str, partition: int):
        self.catalog, self.topic, self.partition = catalog, topic, partition

    def start(self) -> Start | None:
        """Where the next round starts: after this partition's staged rounds that follow on
        from the table's offset (a chain the committer takes whole), else at that offset.
        None while there is nothing to do: no table yet (its committer makes it), or
        MAX_CHAIN rounds already wait for the committer."""
        table = self.catalog.load(self.topic)
        if table is None:
            return None
        offset = translated(table).get(self.partition)
        rounds = staged(staged_dir(table.metadata.location), table.metadata.format_version, self.partition)
        for round_ in rounds:
            if _behind(round_, offset):
                drop(round_.path)  # committed already, or refused: the table moved past its start
        chain = _chain([r for r in rounds if not _behind(r, offset)], offset)
        if len(chain) >= MAX_CHAIN:
            return None
        return Start(chain[-1].end if chain else offset, offset)

    def stage(self, start: Start, rows: list[Row], end: int) -> int:
        """Write `rows` (offsets start.offset.. up to end) as data files and stage them for
        the committer (which checks that they follow on from the table); the rows staged."""
        table = self.catalog.load(self.topic)
        if table is None:
            return 0
        # no rows (an aborted transaction, markers): a round without files still moves the
        # offset, so the table's lag reaches 0 when the log ends in one
        files = list(_dataframe_to_data_files(table.metadata, key_value_table(rows), table.io, uuid.uuid4())) \
            if rows else []
        stage(staged_dir(table.metadata.location), self.partition, start.offset, end, files,
              table.metadata.default_spec_id)
        return len(rows)


def _behind(round_: Staged, offset: int | None) -> bool:
    return offset is not None and (round_.start is None or round_.start < offset)


def _chain(rounds: list[Staged], offset: int | None) -> list[Staged]:
    """The rounds that follow on from `offset`, each starting where the one before ended
    (of two that start at one offset, the first by name: the committer takes the same)."""
    by_start: dict[int | None, Staged] = {}
    for round_ in sorted(rounds, key=lambda r: r.path.name):
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
    """The table's committer (the leader of the topic's partition 0): for each partition,
    the staged rounds that follow on from where the table says, in one snapshot."""

    def __init__(self, catalog: KraftCatalog, topic: str, topic_id: str, spec_text: str):
        self.catalog, self.topic, self.topic_id, self.spec_text = catalog, topic, topic_id, spec_text

    def commit(self) -> int:
        """The rounds committed (0: none staged, or none still fit the table)."""
        table = self._table()
        for _ in range(COMMIT_TRIES):
            offsets = translated(table)
            rounds = staged(staged_dir(table.metadata.location), table.metadata.format_version)
            by_partition: dict[int, list[Staged]] = {}
            for round_ in rounds:
                if _behind(round_, offsets.get(round_.partition)):
                    drop(round_.path)  # committed already, or refused
                else:
                    by_partition.setdefault(round_.partition, []).append(round_)
            taken = {p: chain for p, rs in by_partition.items() if (chain := _chain(rs, offsets.get(p)))}
            if not taken:
                return 0
            for partition, chain in taken.items():
                offsets[partition] = chain[-1].end
            summary = {OFFSETS: json.dumps({str(p): o for p, o in sorted(offsets.items())})}
            tx = table.transaction()
            # merge_append: past a hundred manifests it merges them, so a reader does not
            # open one manifest per round the table ever had
            with tx.update_snapshot(snapshot_properties=summary).merge_append() as append:
                for chain in taken.values():
                    for round_ in chain:
                        for data_file in round_.files:
                            append.append_data_file(data_file)
            # the snapshot list is in every metadata file: rounds' snapshots past their
            # hour go (their data files stay: later snapshots hold them)
            ExpireSnapshots(tx).older_than(datetime.now(timezone.utc) - timedelta(milliseconds=SNAPSHOT_AGE_MS)).commit()
            try:
                tx.commit_transaction()
            except TableMoved:
                table = self._table()  # another committer (a leader being replaced) came first
                continue
            for chain in taken.values():
                for round_ in chain:
                    drop(round_.path)
            return sum(len(chain) for chain in taken.values())
        raise TableMoved(f"{self.topic}: the table kept moving; the next round retries")

    def _table(self) -> Table:
        table = self.catalog.load(self.topic)
        if table is None:
            try:
                self.catalog.create(self.topic, self.topic_id, KEY_VALUE_SCHEMA,
                                    parse_partition_spec(self.spec_text, KEY_VALUE_SCHEMA))
            except TableMoved:
                pass  # made by another committer
            table = self.catalog.load(self.topic)
            if table is None:
                raise TableMoved(f"{self.topic}: the table is not in this node's metadata yet")
        return table
