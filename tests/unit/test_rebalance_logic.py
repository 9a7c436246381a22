"""Rebalancing as pure logic: the planner evens replicas and preferred leaders over the
live brokers with as few replica moves as the imbalance needs, keeps partitions spread
over racks, and placement of new topics honours racks; carrying a plan out starts its
moves as reassignments under a bound, ends it when none is left, and a cancel reverts
the moves under way. All of it lives in the image, so a snapshot keeps it."""

from __future__ import annotations

from collections import Counter

import pytest
from test_controller_logic import DEFAULTS, Cluster
from test_decommission_logic import join_isr_at

from kraft.controller import broker_control as bc
from kraft.controller import rebalance as rb
from kraft.controller import decommission as dc
from kraft.controller import reassignment
from kraft.controller.placement import place_replicas
from kraft.controller.rebalance_planner import plan
from kraft.errors import InvalidValue, NotFound, RebalanceInProgress
from kraft.metadata.image_codec import image_from_dict, image_to_dict
from kraft.metadata.records import RegisterBroker


def with_racks(racks: dict[int, str | None]) -> Cluster:
    c = Cluster(brokers=())
    for b, rack in racks.items():
        c.run(bc.register_broker(c.image, RegisterBroker(broker_id=b, incarnation_id=f"a{b}", host="h",
                                                         http_port=1, rack=rack), DEFAULTS))
        c.heartbeat(b, now=0)
    return c


def replica_counts(c: Cluster, brokers) -> dict[int, int]:
    load = Counter(b for _, _, p in c.image.all_partitions() for b in p.replicas)
    return {b: load[b] for b in brokers}


def leader_counts(c: Cluster, brokers, lists=None) -> dict[int, int]:
    lists = lists or [p.replicas for _, _, p in c.image.all_partitions()]
    leads = Counter(r[0] for r in lists)
    return {b: leads[b] for b in brokers}


def grown_by_two() -> Cluster:
    """Three brokers with topics, then brokers 4 and 5 join empty."""
    c = Cluster(brokers=(1, 2, 3))
    c.create("a", partitions=12, rf=3)
    c.create("b", partitions=5, rf=2)
    for b in (4, 5):
        c.register(b)
        c.heartbeat(b, now=0)
    return c


def carry_out(c: Cluster, rounds: int = 50) -> None:
    """The controller's duties as the cluster runs them: start moves, let new replicas
    catch up, complete them. Bounded."""
    for _ in range(rounds):
        c.run_records(rb.advance(c.image))
        for topic, index, part in list(c.image.all_partitions()):
            for b in part.adding:
                if b not in c.part(topic.name, index).isr:
                    join_isr_at(c, topic.name, index, b)
        c.run_records(reassignment.finish_ready(c.image))
        if not c.image.rebalance.running:
            return


def test_the_plan_evens_replicas_and_leaders_moving_only_the_surplus():
    c = grown_by_two()
    before = replica_counts(c, (1, 2, 3, 4, 5))
    assert before[4] == before[5] == 0
    moves = plan(c.image)
    target = {(m.topic, m.partition): m.target for m in moves}
    lists = [target.get((t.name, i), p.replicas) for t, i, p in c.image.all_partitions()]
    after = Counter(b for r in lists for b in r)
    assert max(after.values()) - min(after.values()) <= 1, after
    total = sum(before.values())
    # as few as possible: exactly what the two new brokers must receive
    assert sum(m.moved_replicas for m in moves) == sum(after[b] for b in (4, 5)) == 2 * (total // 5)
    leads = leader_counts(c, (1, 2, 3, 4, 5), lists)
    assert max(leads.values()) - min(leads.values()) <= 1, leads
    assert all(len(set(r)) == len(r) for r in lists)


def test_a_balanced_cluster_has_nothing_to_move_and_planning_is_reproducible():
    c = Cluster(brokers=(1, 2, 3, 4))
    c.create("a", partitions=8, rf=2)
    assert plan(c.image) == []
    grown = grown_by_two()
    assert plan(grown.image) == plan(grown.image)


def test_leaders_are_evened_by_reordering_without_moving_data():
    c = Cluster(brokers=(1, 2, 3))
    c.create("a", partitions=6, rf=3)
    # every preferred leader on broker 1 (replicas keep their brokers, only the order changes)
    for index in range(6):
        part = c.part("a", index)
        order = (1,) + tuple(b for b in part.replicas if b != 1)
        c.run(reassignment.reassign(c.image, "a", index, order))
    moves = plan(c.image)
    assert moves and all(m.moved_replicas == 0 for m in moves)
    lists = {(m.topic, m.partition): m.target for m in moves}
    leads = Counter(lists.get(("a", i), c.part("a", i).replicas)[0] for i in range(6))
    assert sorted(leads.values()) == [2, 2, 2], leads


def test_moves_keep_partitions_spread_over_racks():
    # racks x: 1, 2; y: 3, 4; then 5 joins rack x and 6 rack y
    c = with_racks({1: "x", 2: "x", 3: "y", 4: "y"})
    c.create("a", partitions=12, rf=2)
    rack = {1: "x", 2: "x", 3: "y", 4: "y", 5: "x", 6: "y"}
    assert all({rack[b] for b in p.replicas} == {"x", "y"} for _, _, p in c.image.all_partitions())
    for b in (5, 6):
        c.run(bc.register_broker(c.image, RegisterBroker(broker_id=b, incarnation_id=f"a{b}", host="h",
                                                         http_port=1, rack=rack[b]), DEFAULTS))
        c.heartbeat(b, now=0)
    moves = plan(c.image)
    target = {(m.topic, m.partition): m.target for m in moves}
    lists = [target.get((t.name, i), p.replicas) for t, i, p in c.image.all_partitions()]
    assert all({rack[b] for b in r} == {"x", "y"} for r in lists), lists
    after = Counter(b for r in lists for b in r)
    assert max(after.values()) - min(after.values()) <= 1, after


def test_placement_puts_replicas_on_distinct_racks():
    c = with_racks({1: "x", 2: "x", 3: "x", 4: "y", 5: "y", 6: "z"})
    placed = place_replicas(c.image, 12, 3)
    rack = {1: "x", 2: "x", 3: "x", 4: "y", 5: "y", 6: "z"}
    assert all(len({rack[b] for b in r}) == 3 for r in placed), placed
    assert len({r[0] for r in placed}) == 6  # leaders still spread over every broker
    # more replicas than racks: every rack used, then the rest anywhere else
    assert all({rack[b] for b in r} == {"x", "y", "z"} and len(set(r)) == 4 for r in place_replicas(c.image, 6, 4))
    # without racks the placement is what it was (each broker a rack of its own)
    plain = Cluster(brokers=(1, 2, 3, 4))
    assert place_replicas(plain.image, 4, 3) == [(1, 2, 3), (2, 3, 4), (3, 4, 1), (4, 1, 2)]


def test_execute_carries_the_plan_out_under_the_bound_and_finishes():
    c = grown_by_two()
    planned = rb.dry_run(c.image)
    assert planned["replicas_to_move"] > 0 and c.image.rebalance is None  # a dry run changes nothing
    answer = c.run(rb.execute(c.image, max_moves_in_flight=2))
    assert answer["replicas_to_move"] == planned["replicas_to_move"]
    with pytest.raises(RebalanceInProgress):
        rb.execute(c.image)
    c.run_records(rb.advance(c.image))
    assert 0 < rb.status(c.image)["moves_in_flight"] <= 2
    carry_out(c)
    done = rb.status(c.image)
    assert done["state"] == "finished" and done["moves_done"] == done["moves_total"] > 0, done
    counts = replica_counts(c, (1, 2, 3, 4, 5))
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    assert rb.dry_run(c.image)["moves"] == []
    # a snapshot keeps the latest rebalance
    assert image_from_dict(image_to_dict(c.image)).rebalance == c.image.rebalance


def test_cancel_reverts_the_moves_under_way_and_starts_no_more():
    c = grown_by_two()
    c.run(rb.execute(c.image, max_moves_in_flight=3))
    c.run_records(rb.advance(c.image))
    moving = [(t.name, i, p) for t, i, p in c.image.all_partitions() if p.reassigning]
    assert len(moving) == 3
    answer = c.run(rb.cancel(c.image))
    assert answer["moves_reverted"] == 3
    assert not any(p.reassigning for _, _, p in c.image.all_partitions())
    for name, index, part in moving:  # back to where they were
        assert c.part(name, index).replicas == tuple(b for b in part.replicas if b not in part.adding)
    assert rb.advance(c.image) == []
    shown = rb.status(c.image)
    assert shown["state"] == "cancelled" and shown["moves_in_flight"] == 0 and shown["moves_done"] == 0
    assert shown["moves_cancelled"] == shown["moves_total"]
    with pytest.raises(NotFound):
        rb.cancel(c.image)


def test_a_partition_changed_since_the_plan_is_skipped_and_bad_bounds_are_refused():
    c = grown_by_two()
    c.run(rb.execute(c.image, max_moves_in_flight=1))
    first = c.image.rebalance.moves[-1]
    topic = c.image.topics[first.topic_id].name
    c.run(reassignment.reassign(c.image, topic, first.partition, tuple(reversed(first.replicas))))
    carry_out(c)
    shown = rb.status(c.image)
    assert shown["state"] == "finished" and shown["moves_skipped"] == 1, shown
    with pytest.raises(InvalidValue):
        rb.execute(c.image, max_moves_in_flight=0)


def test_moves_to_a_broker_being_decommissioned_are_skipped():
    c = grown_by_two()
    c.run(rb.execute(c.image, max_moves_in_flight=1))
    to_five = [m for m in c.image.rebalance.moves if 5 in m.target and 5 not in m.replicas]
    assert len(to_five) > 1
    c.run(dc.decommission(c.image, 5))
    carry_out(c)
    shown = rb.status(c.image)
    assert shown["state"] == "finished" and shown["moves_skipped"] == len(to_five), shown
    assert not any(5 in p.replicas for _, _, p in c.image.all_partitions())
