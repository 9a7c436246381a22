"""A controller whose Raft state was lost votes for no one until it has caught up from a
leader (the cluster proof: tests/cluster/test_wiped_voter.py). Here, on real Raft files:
the promise is on disk before anything else, so a restart before catching up keeps it."""

from __future__ import annotations

import socket

from kraft.quorum.raft import RaftQuorum
from kraft.quorum.raft_files import CATCH_UP_FIRST, RAFT_DIR

HOST = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def voters() -> dict[int, str]:
    return {n: f"{HOST}:{port}" for n, port in zip((1, 2, 3), free_ports(3))}


async def test_a_voter_told_to_catch_up_first_does_not_vote_across_a_restart(tmp_path):
    named = voters()  # the other two never start: no leader ever reaches it
    quorum = RaftQuorum(3, named, tmp_path, "a-raft-password", source_host=None)
    assert quorum.fresh()
    quorum.set_bootstrap_voters(named, catch_up_first=True)
    quorum.start()
    try:
        assert not quorum.is_voter() and not quorum.status().is_voter
    finally:
        quorum.stop()
    assert (tmp_path / RAFT_DIR / CATCH_UP_FIRST).exists()
    again = RaftQuorum(3, named, tmp_path, "a-raft-password", source_host=None)
    assert not again.fresh()  # its voter set is kept: no one tells it to catch up this time
    again.start()
    try:
        assert not again.is_voter() and not again.status().is_voter
    finally:
        again.stop()


async def test_a_new_clusters_voter_votes_from_the_start(tmp_path):
    quorum = RaftQuorum(3, voters(), tmp_path, "a-raft-password", source_host=None)
    quorum.start()
    try:
        assert quorum.is_voter() and quorum.status().is_voter
    finally:
        quorum.stop()
    assert not (tmp_path / RAFT_DIR / CATCH_UP_FIRST).exists()
