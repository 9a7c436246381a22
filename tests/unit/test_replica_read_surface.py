"""Both doors read a replica through its read surface (replication/replica_reads.py):
no module outside the replication package reaches into a replica's log."""

from __future__ import annotations

from pathlib import Path

import kraft

KRAFT = Path(kraft.__file__).parent


def test_no_module_outside_replication_reaches_a_replicas_log():
    reaches = [f"{path.relative_to(KRAFT)}:{number}"
               for path in sorted(KRAFT.rglob("*.py")) if "replication" not in path.relative_to(KRAFT).parts
               for number, line in enumerate(path.read_text().splitlines(), 1) if "replica.log." in line]
    assert reaches == [], f"read through the replica's read surface instead: {reaches}"
