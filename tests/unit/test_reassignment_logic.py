"""Moving replicas (KIP-455) as records: the new replicas are added first, the old ones
leave only once every new one is in the ISR, and leadership leaves a departing leader."""

from __future__ import annotations

import pytest
from test_controller_logic import DEFAULTS, Cluster

from kraft.controller import reassignment
from kraft.controller.partition_control import alter_partition
from kraft.errors import (InvalidReplicationFactor, InvalidValue, NotFound, PartitionNotFound, ReplicationFactorChange,
                          TopicNotFound)
from kraft.metadata.image_codec import image_from_dict, image_to_dict
from kraft.replication.leader_state import LeaderState


def four_brokers_with(name="r") -> Cluster:
    c = Cluster(brokers=(1, 2, 3, 4))
    c.create(name, partitions=1, rf=3)
    return c


def join_isr(c: Cluster, name: str, broker: int) -> None:
    part = c.part(name)
    leader = c.image.brokers[part.leader]
    c.run(alter_partition(c.image, DEFAULTS, f"id-{name}", 0, part.leader, leader.broker_epoch, part.leader_epoch,
                          part.partition_epoch, part.isr + (broker,)))


def test_new_replicas_join_first_and_the_old_leave_only_when_they_are_in_sync():
    c = four_brokers_with()
    before = c.part("r")
    newcomer = next(b for b in (1, 2, 3, 4) if b not in before.replicas)
    target = (newcomer,) + tuple(b for b in before.replicas if b != before.leader)
    answer = c.run(reassignment.reassign(c.image, "r", 0, target))
    assert answer["adding_replicas"] == [newcomer] and answer["removing_replicas"] == [before.leader]
    during = c.part("r")
    assert during.reassigning and set(during.replicas) == {1, 2, 3, 4}
    assert during.leader == before.leader and during.isr == before.isr  # nothing leaves yet
    assert during.target_replicas == target
    assert reassignment.finish_ready(c.image) == []  # the newcomer has not caught up
    join_isr(c, "r", newcomer)
    c.run_records(reassignment.finish_ready(c.image))
    after = c.part("r")
    assert after.replicas == target and not after.reassigning
    assert before.leader not in after.isr and after.leader in target and after.leader in after.isr
    assert after.leader_epoch == before.leader_epoch + 1
    assert reassignment.finish_ready(c.image) == []


def test_a_cancel_returns_to_the_original_replicas():
    c = four_brokers_with()
    before = c.part("r")
    newcomer = next(b for b in (1, 2, 3, 4) if b not in before.replicas)
    c.run(reassignment.reassign(c.image, "r", 0, (newcomer,) + before.replicas[1:]))
    with pytest.raises(InvalidValue):  # one at a time
        reassignment.reassign(c.image, "r", 0, before.replicas)
    c.run(reassignment.reassign(c.image, "r", 0, None))
    after = c.part("r")
    # as Kafka reverts: the original replicas, in the order the merged set had them
    assert set(after.replicas) == set(before.replicas) and after.isr == before.isr and not after.reassigning
    with pytest.raises(NotFound):
        reassignment.reassign(c.image, "r", 0, None)


def test_shrinking_or_reordering_needs_no_catch_up():
    c = four_brokers_with()
    before = c.part("r")
    keep = tuple(b for b in before.replicas if b != before.leader)
    c.run(reassignment.reassign(c.image, "r", 0, keep))
    after = c.part("r")
    assert after.replicas == keep and not after.reassigning and after.leader in keep
    assert c.run(reassignment.reassign(c.image, "r", 0, keep))["adding_replicas"] == []


@pytest.mark.parametrize("target, error", [((), InvalidValue), ((1, 1), InvalidValue), ((1, 9), InvalidReplicationFactor),
                                           (("1",), InvalidValue), ((True,), InvalidValue)])
def test_bad_targets_are_refused(target, error):
    c = four_brokers_with()
    with pytest.raises(error):
        reassignment.reassign(c.image, "r", 0, target)


def test_unknown_topics_and_partitions_are_refused():
    c = four_brokers_with()
    with pytest.raises(TopicNotFound):
        reassignment.reassign(c.image, "nope", 0, (1, 2))
    with pytest.raises(PartitionNotFound):
        reassignment.reassign(c.image, "r", 5, (1, 2))


def test_a_reassignment_survives_a_snapshot():
    c = four_brokers_with()
    before = c.part("r")
    newcomer = next(b for b in (1, 2, 3, 4) if b not in before.replicas)
    c.run(reassignment.reassign(c.image, "r", 0, (newcomer,) + before.replicas[1:]))
    restored = image_from_dict(image_to_dict(c.image)).topic("r").partitions[0]
    assert restored == c.part("r") and restored.adding == (newcomer,)


def test_the_leader_tracks_added_followers_and_forgets_removed_ones():
    state = LeaderState(1, (1, 2, 3), (1, 2, 3), 1, 1, leo=10, hw=10, now_ms=0)
    state.on_replicas_changed((1, 2, 3, 4), now_ms=5)
    assert set(state.followers) == {2, 3, 4}
    # the newcomer catches up: the leader proposes it for the ISR
    _, proposal = state.on_follower_fetch(4, 10, now_ms=6)
    assert proposal == (1, 2, 3, 4)
    state.on_isr_committed((1, 2, 3, 4), 2)
    state.on_replicas_changed((1, 2, 4), now_ms=7)
    state.on_isr_committed((1, 2, 4), 3)
    assert set(state.followers) == {2, 4} and state.shrink_proposal(now_ms=8, max_lag_ms=1000) is None


def test_a_request_that_allows_no_rf_change_moves_only_to_a_set_of_the_same_size():
    """KIP-860: growing or shrinking is refused, a move of the same size goes ahead."""
    c = four_brokers_with()
    replicas = c.part("r").replicas
    newcomer = next(b for b in (1, 2, 3, 4) if b not in replicas)
    for target in (replicas + (newcomer,), replicas[:2]):
        with pytest.raises(ReplicationFactorChange):
            reassignment.reassign(c.image, "r", 0, target, allow_rf_change=False)
    assert c.part("r").replicas == replicas and not c.part("r").reassigning
    moved = (newcomer,) + replicas[1:]
    assert c.run(reassignment.reassign(c.image, "r", 0, moved, allow_rf_change=False))["adding_replicas"] == [newcomer]
    assert sorted(c.run(reassignment.reassign(c.image, "r", 0, None))["replicas"]) == sorted(replicas)  # a cancel too
