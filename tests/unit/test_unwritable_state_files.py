"""State files that cannot be written (no file descriptor left) leave memory and disk
agreeing, and nothing that relies on them leaves the node.

The failure is real: the process's descriptor limit goes down to its lowest free
descriptor, so the next open() fails with EMFILE, as it does on a broker whose
descriptors a connection flood took.
"""

from __future__ import annotations

import contextlib
import os
import resource

import pytest
from pysyncobj.journal import MetaStorer

from kraft.quorum.raft_durable import DurableJournal
from kraft.storage.leader_epoch_cache import EpochEntry, LeaderEpochCache, read_checkpoint


@contextlib.contextmanager
def no_descriptors_left():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    probe = os.open(os.devnull, os.O_RDONLY)  # the lowest free descriptor number
    os.close(probe)
    resource.setrlimit(resource.RLIMIT_NOFILE, (probe, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_clamp_really_fails_opens(tmp_path):
    with no_descriptors_left(), pytest.raises(OSError) as failed:
        open(tmp_path / "x", "w")
    assert failed.value.errno == 24  # EMFILE


def test_a_term_and_vote_not_written_hold_back_every_message_until_they_are(tmp_path):
    journal = DurableJournal(str(tmp_path / "raft.journal"), str(tmp_path / "raft.snapshot"))
    on_disk = MetaStorer(str(tmp_path / "raft.journal.meta"))
    journal.setCurrentTerm(3, "node-a")
    assert journal.ready_to_send()
    with no_descriptors_left():
        # the library has already taken the new term and vote; a raise here would leave
        # its handler half done, so the write failure must not raise
        journal.setCurrentTerm(4, "node-b")
        assert journal.getCurrentTerm() == 4
        assert not journal.ready_to_send()  # a vote for node-b must not leave: a restart would forget it
        assert not journal.ready_to_send()
    assert on_disk.getMeta()["currentTerm"] == 3
    assert journal.ready_to_send()  # written now, before the message goes
    meta = on_disk.getMeta()
    assert (meta["currentTerm"], meta["votedForNodeId"]) == (4, "node-b")


def test_the_commit_index_write_failing_does_not_raise_and_is_retried(tmp_path):
    journal = DurableJournal(str(tmp_path / "raft.journal"), str(tmp_path / "raft.snapshot"))
    on_disk = MetaStorer(str(tmp_path / "raft.journal.meta"))
    journal.setRaftCommitIndex(7)
    with no_descriptors_left():
        journal.onOneSecondTimer()  # raising would end the library's whole tick
    assert on_disk.getMeta().get("raftCommitIndex") != 7
    journal.onOneSecondTimer()
    assert on_disk.getMeta()["raftCommitIndex"] == 7


def test_a_leader_epoch_not_written_is_not_taken_so_the_retry_writes_it(tmp_path):
    path = tmp_path / "leader-epoch-checkpoint"
    cache = LeaderEpochCache(path)
    assert cache.assign(1, 0)
    with no_descriptors_left(), pytest.raises(OSError):
        cache.assign(2, 10)
    assert cache.entries == (EpochEntry(1, 0),)  # memory agrees with the disk
    assert read_checkpoint(path) == [EpochEntry(1, 0)]
    assert cache.assign(2, 10)  # the retry (a replica taking leadership again) writes it
    assert read_checkpoint(path) == [EpochEntry(1, 0), EpochEntry(2, 10)]
    with no_descriptors_left(), pytest.raises(OSError):
        cache.truncate_from_end(10)
    assert read_checkpoint(path) == list(cache.entries) == [EpochEntry(1, 0), EpochEntry(2, 10)]


def test_a_snapshot_from_the_leader_not_fsynced_still_clears_the_log_and_holds_back_messages(tmp_path):
    # The library has already restored the state machine from the leader's snapshot when
    # it clears the log: keeping the old entries would apply them again on top of it.
    journal = DurableJournal(str(tmp_path / "raft.journal"), str(tmp_path / "raft.snapshot"))
    for idx in range(1, 6):
        journal.add(b"entry", idx, 1)
    assert journal.ready_to_send()
    (tmp_path / "raft.snapshot").write_bytes(b"the leader's snapshot")
    with no_descriptors_left():
        journal.clear()  # must not raise: the library would swallow it and answer success
        assert len(journal) == 0
        assert not journal.ready_to_send()  # the acknowledgement waits for the fsync
    assert journal.ready_to_send()
    assert journal.ready_to_send()
