"""A quorum of one voter (a 1-node cluster) elects itself as soon as it starts: its
election timer only spreads candidates apart, and a sole voter has none to spread."""

from __future__ import annotations

import asyncio
import socket

import pysyncobj.syncobj

from kraft.quorum.raft import RaftQuorum

HOST = "127.0.0.1"
LEAD_BOUND_S = 60.0  # a busy machine's first ticks, many times over


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


async def test_a_sole_voter_leads_without_waiting_out_its_election_timer(tmp_path, monkeypatch):
    # the Raft library's clock stands still: an election timer, however short, never runs
    # out, so only a voter that stands at once can lead
    stopped_at = pysyncobj.syncobj.monotonicTime()
    monkeypatch.setattr(pysyncobj.syncobj, "monotonicTime", lambda: stopped_at)
    quorum = RaftQuorum(1, {1: f"{HOST}:{free_port()}"}, tmp_path, "a-raft-password", source_host=None)
    quorum.start()
    try:
        for _ in range(int(LEAD_BOUND_S / 0.05)):
            if quorum.is_leader():
                break
            await asyncio.sleep(0.05)
        assert quorum.is_leader()
    finally:
        quorum.stop()
