"""The files of tables whose topic is gone: their directories under the warehouse, to
remove. A table's directory is `<warehouse>/kraft/<topic>-<topic id>` (`-dlq` after the id
for its dead-letter table), and a deleted topic's tables leave the catalog with it
(unless kept: iceberg.delete=false; a kept table's directory stays).
Only directories untouched for a while go: a node whose metadata is behind must not
take the files of a topic it has not heard of yet."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping

from kraft.iceberg.names import NAMESPACE
from kraft.iceberg.warehouse import Warehouse
from kraft.metadata.records import KEPT_TABLE

GRACE_S = 300.0  # a directory written to this recently is never removed
_DIR = re.compile(r".+-([0-9a-f]{32})(-dlq)?")  # kraft's topic ids: 32 hex digits


def leftovers(warehouse: Warehouse, live_topic_ids: Iterable[str], now: float | None = None) -> list[str]:
    """The paths of the table directories whose topic id is not live, untouched for GRACE_S."""
    live = set(live_topic_ids)
    now = time.time() if now is None else now
    out = []
    for name, path in warehouse.directories(f"{warehouse.uri}/{NAMESPACE}"):
        found = _DIR.fullmatch(name)
        if found is None or found.group(1) in live:
            continue
        try:
            if now - warehouse.newest(path) >= GRACE_S:
                out.append(path)
        except FileNotFoundError:
            pass  # another node removed it first
    return out


def kept_ids(iceberg_tables: Mapping[str, str]) -> set[str]:
    """The topic ids in the directories of kept tables (their topics are gone)."""
    out = set()
    for key, location in iceberg_tables.items():
        if key.startswith(KEPT_TABLE):
            for part in location.split("/"):
                found = _DIR.fullmatch(part)
                if found is not None:
                    out.add(found.group(1))
    return out


def remove(warehouse: Warehouse, directories: Iterable[str]) -> None:
    for directory in directories:
        warehouse.remove_tree(directory)
