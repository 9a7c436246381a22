"""A partition's staged round: the data files a partition leader wrote and the offsets
they cover, waiting in the table's `kraft-staged/` directory for the table's committer.

The warehouse is where every node writes a table's files anyway (shared by the nodes of
a host, or an object store), so it also carries the hand-over: a partition leader stages
a round, and the committer (the table's coordinator, broker/table_coordinator.py) commits every staged
round in one snapshot. A staged file names the table offset its round started from; the
committer takes it only while the table still says that offset. So a file staged twice,
or by a leader that has been replaced, never adds rows twice.
"""

from __future__ import annotations

import base64
import json
import posixpath
import uuid
from dataclasses import dataclass
from typing import Any

from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.typedef import Record

from kraft.iceberg.warehouse import Warehouse

DIR = "kraft-staged"
MAX_STAGED_BYTES = 16 * 1024 * 1024  # a staged file larger than this is not one kraft wrote
# what a DataFile carries besides its content and format (always data, Parquet here)
_FIELDS = ("file_path", "record_count", "file_size_in_bytes", "column_sizes", "value_counts", "null_value_counts",
           "nan_value_counts", "lower_bounds", "upper_bounds", "split_offsets", "sort_order_id")


@dataclass(frozen=True)
class Staged:
    partition: int
    start: int | None  # the table's offset for the partition when the round began (None: none yet)
    end: int
    files: tuple[DataFile, ...]
    location: str  # the staged file itself
    dlq_files: tuple[DataFile, ...] = ()  # for the dead-letter table

    @property
    def name(self) -> str:
        return posixpath.basename(self.location)


def staged_dir(table_location: str) -> str:
    return f"{table_location.rstrip('/')}/{DIR}"


def stage(warehouse: Warehouse, directory: str, partition: int, start: int | None, end: int,
          files: list[DataFile], spec_id: int, dlq_files: list[DataFile] | None = None,
          dlq_spec_id: int = 0) -> str:
    """Write a staged round, whole or absent to the committer; `spec_id`: the partition
    spec the files were written with (`dlq_spec_id`: the dead-letter table's)."""
    body = json.dumps({"partition": partition, "start": start, "end": end, "spec_id": spec_id,
                       "files": [_file_json(f) for f in files], "dlq_spec_id": dlq_spec_id,
                       "dlq_files": [_file_json(f) for f in dlq_files or ()]}).encode()
    location = f"{directory}/{partition}-{uuid.uuid4().hex}.json"
    warehouse.put(location, body)
    return location


def staged(warehouse: Warehouse, directory: str, format_version: Any, partition: int | None = None) -> list[Staged]:
    """The rounds staged in `directory` (of one partition, when given). A file gone
    meanwhile (a commit dropped it) or not a round kraft wrote is left out; any other
    failure to read one (an object store's throttling, a reset) raises: a caller such as
    orphan removal must never take a round it could not read for one that is not there.
    (A half-written temporary file never has a final name.)"""
    names = sorted(n for n in warehouse.names(directory) if n.endswith(".json") and not n.startswith("."))
    out = []
    for name in names:
        if partition is not None and not name.startswith(f"{partition}-"):
            continue
        try:
            out.append(_read(warehouse, f"{directory}/{name}", format_version))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            continue
    return out


def _read(warehouse: Warehouse, location: str, format_version: Any) -> Staged:
    doc = json.loads(warehouse.read(location, MAX_STAGED_BYTES))
    start = doc["start"]
    files = tuple(_file_from(d, format_version, int(doc["spec_id"])) for d in doc["files"])
    dlq = tuple(_file_from(d, format_version, int(doc.get("dlq_spec_id", 0))) for d in doc.get("dlq_files", ()))
    return Staged(int(doc["partition"]), None if start is None else int(start), int(doc["end"]), files, location, dlq)


def _file_json(f: DataFile) -> dict[str, Any]:
    part = f.partition
    out: dict[str, Any] = {"partition": [_value(part[i]) for i in range(len(part))]}
    for name in _FIELDS:
        value = getattr(f, name)
        out[name] = {str(k): _value(v) for k, v in value.items()} if isinstance(value, dict) else value
    return out


def _file_from(d: dict[str, Any], format_version: Any, spec_id: int) -> DataFile:
    fields = {name: ({int(k): _unvalue(v) for k, v in d[name].items()} if isinstance(d[name], dict) else d[name])
              for name in _FIELDS}
    return DataFile.from_args(format_version, content=DataFileContent.DATA, file_format=FileFormat.PARQUET,
                              partition=Record(*(_unvalue(v) for v in d["partition"])), spec_id=spec_id,
                              key_metadata=None, equality_ids=None, **fields)


def _value(v: Any) -> Any:
    return {"b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v


def _unvalue(v: Any) -> Any:
    return base64.b64decode(v["b64"]) if isinstance(v, dict) else v
