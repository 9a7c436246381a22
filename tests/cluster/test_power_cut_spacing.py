"""The chaos nemesis keeps to the design's promise (one replica losing its unsynced tail at
a time): a second node's power cut is skipped while the first is outside some ISR, and
goes ahead once the first is back in every ISR."""

from __future__ import annotations

import asyncio
import random

import pytest

from kraft.scenario import targets
from kraft.scenario.faults.actions import FaultActions
from kraft.config.scenarios import FaultSpec
from kraft.server import lazy_disks
from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster
POWER_OK, POWER_WHY = lazy_disks.available()


def cut(node: int) -> FaultSpec:
    return FaultSpec(fault="power-cut", target=f"node:{node}", at=0, duration=1,
                     one_unsynced_loss_at_a_time=True)


@pytest.mark.skipif(not POWER_OK, reason=f"power cuts unavailable: {POWER_WHY}")
def test_a_second_power_cut_waits_until_the_first_node_is_back_in_every_isr():
    with LocalCluster(3, lazy_fs=True) as c:
        c.start().wait_ready(timeout_s=60)
        status, body = http_json("POST", c.v3(1) + "/topics",
                                 {"topic_name": "t", "partitions_count": 2, "replication_factor": 3})
        assert status == 201, body
        c.wait_until(lambda: targets.out_of_sync_replicas(c) == set(), 30, "every replica in sync")
        events = []
        actions = FaultActions(c, None, random.Random(1),
                               lambda kind, nodes, detail: events.append((kind, nodes, detail)), "t")

        epoch_before = targets.broker_epochs(c)[1]
        asyncio.run(actions.apply(cut(1), 0.0))
        assert events[-1][:2] == ("power-cut", [1]), events[-1]
        assert not c.running(1)
        asyncio.run(actions.apply(cut(2), 0.5))
        assert events[-1][1] == [] and "skipped" in events[-1][2] and "[1]" in events[-1][2], events[-1]
        assert c.running(2)

        asyncio.run(actions.undo_due(1.0, everything=True))  # node 1 starts again
        # registered again after its unclean shutdown (which took it out of every ISR), then back
        c.wait_until(lambda: targets.broker_epochs(c).get(1, -1) > epoch_before
                     and 1 not in targets.out_of_sync_replicas(c), 60, "node 1 back in every ISR")
        asyncio.run(actions.apply(cut(2), 60.0))
        assert events[-1][:2] == ("power-cut", [2]), events[-1]
        assert not c.running(2)
