"""Replacing segment files with their cleaned rewrite so that a crash at any point
leaves either the old or the new segment set (Kafka's .cleaned/.swap steps).

Inside a partition directory:
    cleaning/      cleaned segments being written (fsynced before commit)
    cleaned-swap/  the same directory after ``commit``: its one rename is the point
                   of no return. It holds the new segment files and ``manifest``
                   (line 1: base offsets of the old segments replaced; line 2: of
                   the new ones, since moved files can no longer be listed).

``complete`` moves the new files over the old ones, deletes replaced segments that
have no successor of the same base, then removes the directory; it is idempotent,
so a crash inside it is finished by ``recover`` at the next open. ``recover``
discards an uncommitted ``cleaning/``.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from kraft.storage.log_directory import INDEX_SUFFIXES, LOG_SUFFIX, fsync_directory

STAGING_NAME = "cleaning"
SWAP_NAME = "cleaned-swap"
MANIFEST_NAME = "manifest"


def fresh_staging(partition_dir: Path) -> Path:
    """An empty staging directory (a leftover from an abandoned pass is dropped)."""
    staging = Path(partition_dir) / STAGING_NAME
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def discard_staging(partition_dir: Path) -> None:
    shutil.rmtree(Path(partition_dir) / STAGING_NAME, ignore_errors=True)


def commit(partition_dir: Path, replaced_bases: Iterable[int], new_bases: Iterable[int]) -> None:
    """Make the staged rewrite durable and decided: from here the new set wins."""
    partition_dir = Path(partition_dir)
    staging = partition_dir / STAGING_NAME
    with open(staging / MANIFEST_NAME, "w") as f:
        f.write(" ".join(str(b) for b in sorted(replaced_bases)) + "\n")
        f.write(" ".join(str(b) for b in sorted(new_bases)) + "\n")
        f.flush()
        os.fsync(f.fileno())
    fsync_directory(staging)
    os.rename(staging, partition_dir / SWAP_NAME)
    fsync_directory(partition_dir)


def complete(partition_dir: Path) -> list[int] | None:
    """Finish a committed swap; the new segments' base offsets, or None if none was pending."""
    partition_dir = Path(partition_dir)
    swap = partition_dir / SWAP_NAME
    if not swap.is_dir():
        return None
    replaced_line, new_line = ((swap / MANIFEST_NAME).read_text().split("\n") + ["", ""])[:2]
    replaced = {int(b) for b in replaced_line.split()}
    new_bases = {int(b) for b in new_line.split()}
    for f in swap.iterdir():
        if f.name != MANIFEST_NAME:
            os.replace(f, partition_dir / f.name)
    for base in replaced - new_bases:
        _delete_segment_files(partition_dir, base)
    fsync_directory(partition_dir)
    shutil.rmtree(swap)
    fsync_directory(partition_dir)
    return sorted(new_bases)


def recover(partition_dir: Path) -> None:
    """At open, before segments are listed: drop an uncommitted pass, finish a committed one."""
    discard_staging(partition_dir)
    complete(partition_dir)


def _delete_segment_files(partition_dir: Path, base: int) -> None:
    stem = f"{base:020d}"
    (partition_dir / (stem + LOG_SUFFIX)).unlink(missing_ok=True)  # the log first: orphans are indexes
    for suffix in INDEX_SUFFIXES:
        (partition_dir / (stem + suffix)).unlink(missing_ok=True)
