"""Decommissioning a broker as records: its replicas move off through reassignments
(bounded in flight, leadership first), it takes no new replicas, it is unregistered
once empty and may not register again until recommissioned; recommission cancels the
moves under way. A restarted controller knows all of it from the log (the image)."""

from __future__ import annotations

import pytest
from test_controller_logic import DEFAULTS, Cluster

from kraft.controller import broker_control as bc
from kraft.controller import decommission as dc
from kraft.controller import reassignment
from kraft.controller.partition_control import alter_partition
from kraft.controller.placement import manual_assignment, place_replicas
from kraft.errors import (
    BrokerDecommissioned,
    BrokerNotFound,
    DecommissionRefused,
    InvalidReplicaAssignment,
    InvalidReplicationFactor,
)
from kraft.metadata.image_codec import image_from_dict, image_to_dict


def on(c: Cluster, broker: int) -> list[tuple[str, int]]:
    return [(t.name, i) for t, i, p in c.image.all_partitions() if broker in p.replicas]


def finish_moves(c: Cluster, rounds: int = 20) -> None:
    """Run the controller's duties as the cluster would: start moves, let every new
    replica catch up, complete them, unregister when empty. Bounded."""
    for _ in range(rounds):
        c.run_records(dc.advance(c.image))
        for topic, index, part in list(c.image.all_partitions()):
            for b in part.adding:
                if b not in c.part(topic.name, index).isr:
                    join_isr_at(c, topic.name, index, b)
        c.run_records(reassignment.finish_ready(c.image))
        if not any(b in c.image.brokers for b in c.image.decommissioning):
            return


def join_isr_at(c: Cluster, name: str, index: int, broker: int) -> None:
    part = c.part(name, index)
    leader = c.image.brokers[part.leader]
    c.run(alter_partition(c.image, DEFAULTS, f"id-{name}", index, part.leader, leader.broker_epoch,
                          part.leader_epoch, part.partition_epoch, part.isr + (broker,)))


def four_with_topics() -> Cluster:
    c = Cluster(brokers=(1, 2, 3, 4))
    c.create("a", partitions=12, rf=3)
    c.create("b", partitions=4, rf=2)
    return c


def test_every_replica_moves_off_evenly_then_the_broker_is_unregistered():
    c = four_with_topics()
    held = on(c, 4)
    assert held
    answer = c.run(dc.decommission(c.image, 4))
    assert answer["decommissioning"] and c.image.decommissioning == {4: len(held)}
    first = dc.advance(c.image)
    assert 0 < len(first) <= dc.MAX_MOVES_IN_FLIGHT  # bounded
    finish_moves(c)
    assert on(c, 4) == [] and 4 not in c.image.brokers
    for topic, _, part in c.image.all_partitions():
        assert len(part.replicas) == (3 if topic.name == "a" else 2) and part.leader in part.isr
    counts = [sum(b in p.replicas for _, _, p in c.image.all_partitions()) for b in (1, 2, 3)]
    assert max(counts) - min(counts) <= 1, counts
    done = dc.status(c.image, 4)
    assert done["state"] == "decommissioned" and done["finished"] and done["replicas_left"] == 0
    assert done["partitions_done"] == len(held)


def test_leadership_leaves_the_broker_as_its_move_starts():
    c = four_with_topics()
    led = [(t.name, i) for t, i, p in c.image.all_partitions() if p.leader == 4]
    assert led
    c.run(dc.decommission(c.image, 4))
    c.run_records(dc.advance(c.image))
    for name, index in led:
        part = c.part(name, index)
        if 4 in part.removing:
            assert part.leader != 4 and part.leader in part.isr


def test_a_decommissioning_broker_gets_no_new_replicas():
    c = four_with_topics()
    c.run(dc.decommission(c.image, 4))
    assert all(4 not in r for r in place_replicas(c.image, 6, 3))
    spare = next((t.name, i) for t, i, p in c.image.all_partitions() if 4 not in p.replicas)
    replicas = c.part(*spare).replicas
    with pytest.raises(InvalidReplicationFactor, match="decommissioned"):
        reassignment.reassign(c.image, spare[0], spare[1], replicas[1:] + (4,))
    with pytest.raises(InvalidReplicaAssignment, match="decommissioned"):
        manual_assignment(c.image, [(0, (1, 4))])


def test_refused_when_the_others_cannot_hold_the_replication_factor_or_it_is_the_last():
    c = Cluster(brokers=(1, 2, 3))
    c.create("three", partitions=2, rf=3)
    with pytest.raises(DecommissionRefused, match="replication factor 3"):
        dc.decommission(c.image, 3)
    with pytest.raises(BrokerNotFound):
        dc.decommission(c.image, 9)
    alone = Cluster(brokers=(1,))
    with pytest.raises(DecommissionRefused, match="last broker"):
        dc.decommission(alone.image, 1)


def test_recommission_cancels_the_moves_under_way_and_placement_uses_it_again():
    c = four_with_topics()
    before = {(t.name, i): set(p.replicas) for t, i, p in c.image.all_partitions()}
    c.run(dc.decommission(c.image, 4))
    c.run_records(dc.advance(c.image))
    moving = [(t.name, i) for t, i, p in c.image.all_partitions() if 4 in p.removing]
    assert moving
    answer = c.run(dc.recommission(c.image, 4))
    assert answer["moves_cancelled"] == len(moving)
    assert not c.image.decommissioning and 4 in c.image.brokers
    for name, index in moving:
        part = c.part(name, index)
        assert not part.reassigning and set(part.replicas) == before[(name, index)]
    assert any(4 in r for r in place_replicas(c.image, 8, 3))
    assert dc.advance(c.image) == []
    with pytest.raises(DecommissionRefused, match="not being decommissioned"):
        dc.recommission(c.image, 4)


def test_a_decommissioned_broker_may_not_register_until_recommissioned():
    c = four_with_topics()
    c.run(dc.decommission(c.image, 4))
    finish_moves(c)
    assert 4 not in c.image.brokers
    with pytest.raises(BrokerDecommissioned):
        c.register(4, incarnation="again")
    c.run(dc.recommission(c.image, 4))
    c.register(4, incarnation="again")
    assert 4 in c.image.brokers


def test_the_decommission_survives_a_snapshot():
    c = four_with_topics()
    c.run(dc.decommission(c.image, 4))
    restored = image_from_dict(image_to_dict(c.image))
    assert restored.decommissioning == c.image.decommissioning
    assert dc.status(restored, 4)["state"] == "decommissioning"


def test_two_brokers_leave_at_once_even_where_they_share_a_partition():
    c = Cluster(brokers=(1, 2, 3, 4, 5))
    c.create("a", partitions=10, rf=3)
    assert any({4, 5} <= set(p.replicas) for _, _, p in c.image.all_partitions())
    c.run(dc.decommission(c.image, 4))
    c.run(dc.decommission(c.image, 5))
    finish_moves(c, rounds=40)
    assert on(c, 4) == on(c, 5) == [] and not {4, 5} & set(c.image.brokers)
    assert all(len(p.replicas) == 3 for _, _, p in c.image.all_partitions())


def test_a_dead_broker_can_be_decommissioned_its_replicas_rebuilt_from_the_others():
    c = four_with_topics()
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [4]))
    c.run(dc.decommission(c.image, 4))
    finish_moves(c)
    assert on(c, 4) == [] and 4 not in c.image.brokers


def test_a_partition_no_live_broker_can_take_waits_and_is_reported():
    c = four_with_topics()
    c.run(dc.decommission(c.image, 4))
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [3]))  # now only 1 and 2 can take replicas
    c.run_records(dc.advance(c.image))
    stuck = [(t.name, i) for t, i, p in c.image.all_partitions()
             if set(p.replicas) == {1, 2, 4} and not p.reassigning]
    assert stuck
    report = dc.status(c.image, 4)
    assert {(f["topic"], f["partition"]) for f in report["allocation_failures"]} == set(stuck)
    for name, index in stuck:
        assert not c.part(name, index).reassigning and 4 in c.part(name, index).replicas
