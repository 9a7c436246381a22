"""Raft state on disk before anyone relies on it.

pysyncobj writes its journal through mmap and its term/vote/commit file with a rename,
and never flushes either, so a power cut can make a voter forget entries it
acknowledged or a vote it cast: Raft's safety rests on both being durable. Kafka's
KRaft flushes the leader's log before counting its own append and a voter's log before
it acknowledges, and fsyncs its quorum-state file before a rename. kraft does the same
around the library:

- `DurableJournal` wraps its FileJournal. Changes mark it dirty; the adapter calls
  `sync()` before any Raft message leaves (a follower's acknowledgement, a leader's
  AppendEntries, whose entries it counts once a follower answers) and before an entry
  is applied (a single voter commits without sending anything). One msync covers all
  the entries one message carried.
- Before the journal drops entries that a snapshot now holds (compaction, or a snapshot
  received from the leader), the snapshot file and its directory are fsynced first.
- `DurableMetaStorer` writes the term, vote and commit index with fsync of the
  temporary file, rename, fsync of the directory.
- A term or vote that cannot be written (no file descriptor left, a full disk) does not
  raise into the library: it changes its own state first and then writes, so a raise
  midway would leave it half-changed (a leader that saw a newer term and never stepped
  down). The write is retried before every message instead, and while it fails no
  message leaves: nothing reflects a term or vote that a restart would forget. A
  snapshot from the leader that cannot be fsynced is held the same way.
- A journal msync that fails stops the node (exit status 70): the kernel may have
  dropped the pages, and a retried msync could claim success for them.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from pysyncobj.journal import FileJournal, MetaStorer

from kraft.quorum import raft_fallback
from kraft.storage.fs_sync import fsync_path
from pysyncobj.pickle import dumps

log = logging.getLogger(__name__)
UNSAVED_LOG_S = 10.0  # a term/vote write that keeps failing is logged at most this often
HALT_EXIT_CODE = 70  # EX_SOFTWARE: the Raft journal could not be made durable


def _halt(message: str) -> None:
    """Stop the process at once (any thread): no shutdown step may act on state that
    is not on disk."""
    log.critical("%s", message)
    logging.shutdown()  # the line above reaches the node's log first
    os._exit(HALT_EXIT_CODE)


class DurableMetaStorer(MetaStorer):
    def storeMeta(self, meta):  # noqa: N802 (the library's name)
        path = Path(self.getPath())
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(dumps(meta))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_path(path.parent)


class DurableJournal:
    """Delegates to pysyncobj's FileJournal; see the module docstring for when it syncs."""

    def __init__(self, journal_file: str, snapshot_file: str):
        self._inner = FileJournal(journal_file)
        meta = DurableMetaStorer(journal_file + ".meta")
        self._inner._FileJournal__metaStorer = meta
        self._snapshot = Path(snapshot_file)
        self._dir = Path(journal_file).parent
        self._dirty = True  # the file may have been created or changed before this process
        self._meta_unsaved = False  # a term/vote the library holds that is not on disk yet
        self._snapshot_unsynced = False  # a snapshot the log was cleared for, not fsynced yet
        self._unsaved_logged: dict[str, float] = {}
        fsync_path(self._dir)  # the journal file's own creation

    # -- what the library calls -------------------------------------------------------
    def add(self, command, idx, term):
        self._inner.add(command, idx, term)
        self._dirty = True

    def deleteEntriesFrom(self, entryFrom):  # noqa: N802, N803
        self._inner.deleteEntriesFrom(entryFrom)
        self._dirty = True

    def deleteEntriesTo(self, entryTo):  # noqa: N802, N803
        # kept beside the previous snapshot, so a damaged new one can be rebuilt (raft_fallback)
        raft_fallback.save_dropped(self._dir, [self._inner[i] for i in range(min(entryTo, len(self._inner)))])
        self._sync_snapshot()  # the entries dropped here live on only in the snapshot
        self._inner.deleteEntriesTo(entryTo)
        self._dirty = True
        self.sync()

    def clear(self):
        # Called once a snapshot from the leader has replaced the state machine: the log
        # must be cleared now whatever happens, or the library would apply the old
        # entries again on top of the snapshot's state. A snapshot that cannot be
        # fsynced yet (no descriptor left) holds back every message until it is, the
        # acknowledgement of this snapshot included.
        raft_fallback.forget_dropped(self._dir)
        try:
            self._sync_snapshot()
        except OSError as exc:
            self._snapshot_unsynced = True
            self._log_unsaved(f"Raft snapshot from the leader not fsynced ({exc}): this node sends "
                              "nothing until it is", "snapshot")
        self._inner.clear()
        self._dirty = True
        if not self._snapshot_unsynced:
            self.sync()

    def setCurrentTerm(self, term, votedForNodeId):  # noqa: N802, N803
        self._meta_unsaved = True
        self._store_term_and_vote(term, votedForNodeId)

    def _store_term_and_vote(self, term, voted_for) -> None:
        try:
            self._inner.setCurrentTerm(term, voted_for)
        except OSError as exc:
            self._log_unsaved(f"Raft term {term} and vote not written ({exc}): this node sends "
                              "nothing until they are", "term")
            return
        self._meta_unsaved = False

    def onOneSecondTimer(self):  # noqa: N802
        # the library stores the commit index here (a hint: a restart learns it again); a
        # raise would end the library's whole tick, and it retries the write each second
        try:
            self._inner.onOneSecondTimer()
        except OSError as exc:
            self._log_unsaved(f"Raft commit index not written, retried: {exc}", "commit index")

    def _log_unsaved(self, message: str, kind: str) -> None:
        now = time.monotonic()  # each kind its own clock: one must not hide another
        if now - self._unsaved_logged.get(kind, -UNSAVED_LOG_S) >= UNSAVED_LOG_S:
            self._unsaved_logged[kind] = now
            log.error("%s", message)

    def __getitem__(self, item):
        return self._inner[item]

    def __len__(self):
        return len(self._inner)

    def __getattr__(self, name):  # set/getRaftCommitIndex, setCurrentTerm, flush, ...
        return getattr(self._inner, name)

    # -- what the adapter calls ---------------------------------------------------------
    def sync(self) -> None:
        if self._dirty:
            try:
                self._inner.flush()  # msync(MS_SYNC): the mapped journal's pages are on disk
            except OSError as exc:
                # After a failed msync the kernel may have dropped the dirty pages and a
                # retry can report success: a voter that cannot trust its journal stops,
                # as Kafka halts when its metadata log dir fails.
                _halt(f"the Raft journal could not be written to disk ({exc}); stopping the node")
            self._dirty = False

    def ready_to_send(self) -> bool:
        """Before a message leaves: the term and vote are on disk (written again if their
        last write failed), the snapshot the log was last cleared for, and the journal.
        False: the message must not leave."""
        if self._meta_unsaved:
            self._store_term_and_vote(self._inner.getCurrentTerm(), self._inner.getVotedForNodeId())
            if self._meta_unsaved:
                return False
        if self._snapshot_unsynced:
            try:
                self._sync_snapshot()
            except OSError:
                return False
            self._snapshot_unsynced = False
        self.sync()
        return True

    def _sync_snapshot(self) -> None:
        if self._snapshot.exists():
            fsync_path(self._snapshot)
        fsync_path(self._dir)
