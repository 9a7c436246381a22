"""kraft's tables as pyiceberg sees them, for the translators' worker threads.

A table is a topic's: namespace `kraft`, name the topic's. Its files live under the
warehouse (`<warehouse>/kraft/<topic>-<topic id>`: a topic created again under the same
name starts a new table); its pointer, the current metadata file, lives in the metadata
image and moves only through the controller's compare-and-set (controller/
iceberg_control.py). pyiceberg writes the metadata files; `commit` is how a new one
becomes current, or TableMoved when another commit got there first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NoReturn

from pyiceberg.catalog import MetastoreCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER

from kraft.iceberg.names import DLQ, NAMESPACE, Pointers, live_key, pointer_key, table_names
from kraft.iceberg.warehouse import Warehouse
# kraft checks each commit's precondition itself (the partition's translated offset), so
# pyiceberg must not retry a commit on its own over a table that moved on
PARSED_KEPT = 64  # parsed metadata files kept (two tables of each topic this node translates, and more)
TABLE_PROPERTIES = {
    "commit.retry.num-retries": "0",
    # each commit writes a metadata file: the hundred latest stay (a reader may still be
    # reading one it loaded), older ones are deleted after a commit, as in Iceberg's Java
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
}

# (topic, topic id, based on, new metadata location) -> None once the pointer moved;
# TableMoved when it was not based_on any more
Commit = Callable[[str, str, "str | None", str], None]


class TableMoved(Exception):
    """A commit refused: the table's pointer was not what the commit began from. Not
    pyiceberg's CommitFailedException on purpose: on that pyiceberg deletes the files the
    attempt wrote, and an attempt refused on a retry may have landed the first time
    (then later snapshots hold its files). Files of an attempt that did not land are
    left unreferenced instead."""


class KraftCatalog(MetastoreCatalog):
    def __init__(self, warehouse: Warehouse, image: Callable[[], Pointers], commit: Commit):
        super().__init__("kraft", warehouse=warehouse.uri, **warehouse.io_properties())
        self.files = warehouse  # the staged rounds and housekeeping's listings
        self._image = image
        self._commit = commit
        self._lock = threading.Lock()
        self._parsed: OrderedDict[str, TableMetadata] = OrderedDict()

    # -- what the translators use ----------------------------------------------------------
    def load(self, name: str, kept: bool = False) -> Table | None:
        """The table (a topic's, or its dead-letter table `<topic>~dlq`) as the local image
        points to it; None before its first commit. kept: a deleted topic's kept table
        too (for readers; translators load live topics' tables only)."""
        image = self._image()
        key = (pointer_key if kept else live_key)(image, name)
        location = image.iceberg_tables.get(key) if key is not None else None
        if location is None:
            return None
        io = self._load_file_io(location=location)
        with self._lock:
            metadata = self._parsed.get(location)
            if metadata is not None:
                self._parsed.move_to_end(location)
        if metadata is None:
            # a metadata file never changes (each commit writes a new one): parsed once, kept
            # while recent, since every partition's round loads the table
            metadata = FromInputFile.table_metadata(io.new_input(location))
            with self._lock:
                self._parsed[location] = metadata
                while len(self._parsed) > PARSED_KEPT:
                    self._parsed.popitem(last=False)
        return Table(identifier=(NAMESPACE, name), metadata=metadata, metadata_location=location, io=io,
                     catalog=self)

    def create(self, name: str, schema: Schema, spec: PartitionSpec, properties: dict[str, str] | None = None) -> None:
        """The table's first metadata file, made current if no other commit made one."""
        key = live_key(self._image(), name)
        if key is None:
            raise NoSuchTableError(f"no topic for table {NAMESPACE}.{name}")
        topic = name.removesuffix(DLQ)
        location = f"{self.properties['warehouse'].rstrip('/')}/{NAMESPACE}/{topic}-{key.replace(DLQ, '-dlq')}"
        staged = self._create_staged_table((NAMESPACE, name), schema, location, spec, UNSORTED_SORT_ORDER,
                                           {**TABLE_PROPERTIES, **(properties or {})})
        self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
        self._commit(topic, key, None, staged.metadata_location)

    # -- pyiceberg's Catalog ---------------------------------------------------------------
    def load_table(self, identifier: str | tuple[str, ...]) -> Table:
        namespace, name = self._split(identifier)
        table = self.load(name, kept=True) if namespace == NAMESPACE else None
        if table is None:
            raise NoSuchTableError(f"no table {namespace}.{name}")
        return table

    def commit_table(self, table: Table, requirements: tuple[Any, ...], updates: tuple[Any, ...]) -> CommitTableResponse:
        namespace, name = self._split(table.name())
        current = self.load(name)
        if current is None or current.metadata_location != table.metadata_location:
            raise TableMoved(f"table {namespace}.{name} moved on")
        key = live_key(self._image(), name)
        if key is None:
            raise NoSuchTableError(f"no table {namespace}.{name}")
        staged = self._update_and_stage_table(current, (namespace, name), requirements, updates)
        self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
        self._commit(name.removesuffix(DLQ), key, current.metadata_location, staged.metadata_location)
        return CommitTableResponse.model_validate({"metadata": staged.metadata,
                                                   "metadata-location": staged.metadata_location})

    def list_tables(self, namespace: str | tuple[str, ...]) -> list[tuple[str, ...]]:
        return [(NAMESPACE, name) for name in table_names(self._image())]

    def list_namespaces(self, namespace: str | tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        return [(NAMESPACE,)]

    def load_namespace_properties(self, namespace: str | tuple[str, ...]) -> dict[str, str]:
        return {}

    def _split(self, identifier: str | tuple[str, ...]) -> tuple[str, str]:
        parts = self.identifier_to_tuple(identifier)
        if len(parts) != 2:
            raise NoSuchTableError(f"no table {'.'.join(parts)}")
        return parts[0], parts[1]

    # the tables are the topics': made, dropped and renamed only with them
    def _refused(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("the tables of kraft's catalog are its topics'")

    create_table = register_table = drop_table = rename_table = purge_table = _refused  # type: ignore[assignment]
    create_namespace = drop_namespace = update_namespace_properties = _refused  # type: ignore[assignment]
    list_views = load_view = drop_view = view_exists = register_view = _refused  # type: ignore[assignment]
