"""One partition's translation into its topic's table: a round at a time.

A round starts from the offset the table says the partition was translated up to (the
current snapshot's summary holds every partition's, `kraft.offsets`), reads the records
committed since (never past the last stable offset; aborted transactions and control
records left out), writes them as Parquet data files and commits them in one snapshot
whose summary moves this partition's offset to where the read ended. The commit lands
only while the table still says what the round started from: a second translator of
the same partition (a leader that has not yet learnt it was replaced) or a commit whose
outcome was unknown and did land cannot make rows appear twice. Files of a commit that
did not land are never referenced.
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

log = logging.getLogger(__name__)

OFFSETS = "kraft.offsets"  # snapshot summary: {"<partition>": next offset to translate}
SNAPSHOT_AGE_MS = 3_600_000  # snapshots older than this are expired at the next commit
COMMIT_TRIES = 8  # commits of one round: others' commits to the table in between move it on


def translated(table: Table | None) -> dict[int, int]:
    """Each partition's next offset to translate, as the table's current snapshot says."""
    snapshot = table.current_snapshot() if table is not None else None
    text = snapshot.summary[OFFSETS] if snapshot is not None and snapshot.summary is not None else None
    return {int(p): int(o) for p, o in json.loads(text).items()} if text else {}


@dataclass(frozen=True)
class Start:
    """Where a round begins: the table's offset for the partition (None: never translated)."""

    offset: int | None


@dataclass(frozen=True)
class Outcome:
    rows: int
    committed: bool  # False: another commit had moved the partition on; nothing of this round landed


class PartitionTranslation:
    """The table side of one partition's rounds (runs on a worker thread)."""

    def __init__(self, catalog: KraftCatalog, topic: str, topic_id: str, partition: int, spec_text: str):
        self.catalog, self.topic, self.topic_id, self.partition = catalog, topic, topic_id, partition
        self.spec_text = spec_text

    def start(self) -> Start:
        return Start(translated(self.catalog.load(self.topic)).get(self.partition))

    def commit(self, start: Start, rows: list[Row], end: int) -> Outcome:
        """Write `rows` (offsets start.offset.. up to end) and move the partition to `end`."""
        table = self._table()
        if translated(table).get(self.partition) != start.offset:
            return Outcome(len(rows), False)
        # no rows (an aborted transaction, markers): a snapshot without files still moves the
        # offset, so the table's lag reaches 0 when the log ends in one
        files = list(_dataframe_to_data_files(table.metadata, key_value_table(rows), table.io, uuid.uuid4())) \
            if rows else []
        for _ in range(COMMIT_TRIES):
            offsets = translated(table)
            if offsets.get(self.partition) != start.offset:
                return Outcome(len(rows), False)  # a commit of ours that seemed lost did land, or another translator's
            offsets[self.partition] = end
            summary = {OFFSETS: json.dumps({str(p): o for p, o in sorted(offsets.items())})}
            tx = table.transaction()
            # merge_append: past a hundred manifests it merges them, so a reader does not
            # open one manifest per round the table ever had
            with tx.update_snapshot(snapshot_properties=summary).merge_append() as append:
                for data_file in files:
                    append.append_data_file(data_file)
            # the snapshot list is in every metadata file: rounds' snapshots past their
            # hour go (their data files stay: later snapshots hold them)
            ExpireSnapshots(tx).older_than(datetime.now(timezone.utc) - timedelta(milliseconds=SNAPSHOT_AGE_MS)).commit()
            try:
                tx.commit_transaction()
                return Outcome(len(rows), True)
            except TableMoved:
                table = self._table()  # another partition's commit came first: on top of it
        raise TableMoved(f"{self.topic}-{self.partition}: the table kept moving; the next round retries")

    def _table(self) -> Table:
        table = self.catalog.load(self.topic)
        if table is None:
            try:
                self.catalog.create(self.topic, self.topic_id, KEY_VALUE_SCHEMA,
                                    parse_partition_spec(self.spec_text, KEY_VALUE_SCHEMA))
            except TableMoved:
                pass  # another partition's translator made it first
            table = self.catalog.load(self.topic)
            if table is None:
                raise TableMoved(f"{self.topic}: the table is not in this node's metadata yet")
        return table
