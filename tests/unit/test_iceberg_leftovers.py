"""The warehouse's tables of deleted topics: found by their directory's topic id, and
only once nothing wrote to them for a while (a node behind on metadata must not take a
new topic's files)."""

from __future__ import annotations

import os
import time

from kraft.iceberg.leftovers import GRACE_S, kept_ids, leftovers, remove
from kraft.iceberg.warehouse import Warehouse

LIVE, GONE = "a" * 32, "b" * 32


def table(root, name):
    d = root / "kraft" / name
    (d / "metadata").mkdir(parents=True)
    (d / "metadata" / "00000.metadata.json").write_text("{}")
    return d


def age(directory, seconds):
    then = time.time() - seconds
    for path in (directory, directory / "metadata"):
        os.utime(path, (then, then))


def test_only_old_tables_of_gone_topics_are_found_and_removed(tmp_path):
    live = table(tmp_path, f"orders-{LIVE}")
    gone = table(tmp_path, f"my-topic-{GONE}")
    gone_dlq = table(tmp_path, f"my-topic-{GONE}-dlq")
    fresh = table(tmp_path, f"new-{'c' * 32}")  # a topic this node has not heard of yet
    other = table(tmp_path, "not-a-table")
    for d in (live, gone, gone_dlq, other):
        age(d, GRACE_S + 10)
    warehouse = Warehouse(tmp_path.as_uri())
    found = leftovers(warehouse, [LIVE])
    assert sorted(found) == sorted([str(gone), str(gone_dlq)])
    remove(warehouse, found)
    assert not gone.exists() and not gone_dlq.exists()
    assert live.exists() and fresh.exists() and other.exists()
    assert leftovers(Warehouse((tmp_path / "nowhere").as_uri()), []) == []


def test_a_kept_tables_directory_stays_after_its_topic_is_gone(tmp_path):
    kept = table(tmp_path, f"history-{GONE}")
    kept_dlq = table(tmp_path, f"history-{GONE}-dlq")
    dropped = table(tmp_path, f"scratch-{'d' * 32}")
    for d in (kept, kept_dlq, dropped):
        age(d, GRACE_S + 10)
    pointers = {"kept:history": (kept / "metadata" / "00000.metadata.json").as_uri(),
                "kept:history~dlq": (kept_dlq / "metadata" / "00000.metadata.json").as_uri(), LIVE: "file:///x"}
    assert kept_ids(pointers) == {GONE}
    assert leftovers(Warehouse(tmp_path.as_uri()), [LIVE, *kept_ids(pointers)]) == [str(dropped)]
