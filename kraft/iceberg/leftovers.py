"""The files of tables whose topic is gone: their directories under the warehouse, to
remove. A table's directory is `<warehouse>/kraft/<topic>-<topic id>` (`-dlq` after the id
for its dead-letter table), and a deleted topic's tables leave the catalog with it
(unless kept: iceberg.delete=false; a kept table's directory stays).
Only directories untouched for a while go: a node whose metadata is behind must not
take the files of a topic it has not heard of yet."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from kraft.iceberg.names import NAMESPACE
from kraft.metadata.records import KEPT_TABLE

GRACE_S = 300.0  # a directory written to this recently is never removed
_DIR = re.compile(r".+-([0-9a-f]{32})(-dlq)?")  # kraft's topic ids: 32 hex digits


def leftovers(warehouse: Path, live_topic_ids: Iterable[str], now: float | None = None) -> list[Path]:
    """The table directories whose topic id is not live, untouched for GRACE_S."""
    live = set(live_topic_ids)
    root = warehouse / NAMESPACE
    now = time.time() if now is None else now
    out = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    for entry in entries:
        found = _DIR.fullmatch(entry.name)
        if found is None or found.group(1) in live or not entry.is_dir(follow_symlinks=False):
            continue
        if now - _newest(Path(entry.path)) >= GRACE_S:
            out.append(Path(entry.path))
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


def remove(directories: Iterable[Path]) -> None:
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)  # another node of the host may be at it too


def _newest(directory: Path) -> float:
    """The latest change in the table's directory (its metadata and staged rounds)."""
    newest = directory.stat().st_mtime
    for sub in ("metadata", "kraft-staged"):
        try:
            newest = max(newest, (directory / sub).stat().st_mtime)
        except FileNotFoundError:
            pass
    return newest
