"""A damaged metadata snapshot rebuilt from the one before it and the entries since.

When the library writes a new snapshot, the current one is kept as `raft.snapshot.prev`
(a hard link: no copy), and the journal entries that compaction then drops, which the
new snapshot alone would hold, are kept beside it (`raft.snapshot.prev.entries`). If
the newest snapshot is found damaged at start, the previous one plus those entries plus
the journal's first two (the newest snapshot's last applied pair, which the library
keeps) rebuild it exactly: the same committed entries replayed through the same state
machine. Anything that does not line up (a missing file, a gap in the indexes) leaves
the controller refusing to start, as before: never a guess.

Every file here was written by this node into its own data dir, so unpickling it trusts
nothing from outside.
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

from kraft.metadata.state_machine import MetadataStateMachine
from kraft.quorum.raft_files import SNAPSHOT, journal_entries, read_snapshot, write_snapshot
from kraft.quorum.raft_voters import MEMBERSHIP, voters_in_log
from kraft.storage.log_directory import fsync_directory

PREVIOUS = "raft.snapshot.prev"
DROPPED = "raft.snapshot.prev.entries"
_REGULAR, _NO_OP, _VERSION = 0, 1, 3  # the library's command types


def keep_previous(directory: Path) -> None:
    """Before a new snapshot replaces the current one: keep the current one."""
    current = directory / SNAPSHOT
    if not current.exists():
        return
    tmp = directory / (PREVIOUS + ".tmp")
    tmp.unlink(missing_ok=True)
    os.link(current, tmp)
    os.replace(tmp, directory / PREVIOUS)
    fsync_directory(directory)


def save_dropped(directory: Path, entries: list) -> None:
    """The entries compaction is about to drop: (command, index, term) each."""
    tmp = directory / (DROPPED + ".tmp")
    with open(tmp, "wb") as f:
        f.write(pickle.dumps([(bytes(c), int(i), int(t)) for c, i, t in entries]))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / DROPPED)
    fsync_directory(directory)


def forget_dropped(directory: Path) -> None:
    """The journal was replaced wholesale (a snapshot from the leader): the kept entries
    no longer lead up to it."""
    (directory / DROPPED).unlink(missing_ok=True)


def rebuild_snapshot(directory: Path, journal: str) -> str | None:
    """Rebuild a damaged `raft.snapshot` in place; returns what was done, or None when
    the kept files cannot rebuild it (the caller then refuses to start)."""
    try:
        previous_state, (prev_last, _prev_before, cluster) = read_snapshot(directory / PREVIOUS)
        dropped = pickle.loads((directory / DROPPED).read_bytes())
        kept = journal_entries((directory / journal).read_bytes())
    except Exception:  # missing, damaged or foreign: nothing to rebuild from
        return None
    if len(kept) < 2 or not dropped:
        return None
    chain = list(dropped) + kept[:2]
    indexes = [index for _, index, _ in chain]
    if indexes != list(range(indexes[0], indexes[0] + len(indexes))) or indexes[0] > prev_last[1] + 1:
        return None  # a gap: these entries do not lead from the previous snapshot to the journal
    machine = MetadataStateMachine()
    machine.restore(previous_state)
    replayed = 0
    for command, index, _term in chain:
        if index <= prev_last[1] or not command:
            continue
        if command[0] == _REGULAR:
            call = pickle.loads(command[1:])
            if not (isinstance(call, tuple) and len(call) >= 2 and len(call[1]) == 1):
                return None  # not the one replicated method this quorum has
            machine.apply(call[1][0])
            replayed += 1
        elif command[0] == MEMBERSHIP and isinstance(cluster, dict):
            cluster = voters_in_log(cluster, [command])  # kraft's voter set rides in the snapshot
        elif command[0] not in (_NO_OP, _VERSION):
            return None
    damaged = directory / SNAPSHOT
    damaged.rename(directory / f"{SNAPSHOT}.damaged-{int(time.time())}")
    tmp = directory / (SNAPSHOT + ".tmp")
    write_snapshot(tmp, machine.snapshot(), (kept[1], kept[0], cluster))
    os.replace(tmp, damaged)
    fsync_directory(directory)
    return (f"rebuilt {damaged} from {PREVIOUS} (index {prev_last[1]}) and {replayed} entries up to "
            f"index {kept[1][1]}; the damaged file is kept beside it")
