"""Hosts as failure domains: a machine of cluster.toml's [[hosts]] runs several brokers,
and no partition ever has two replicas on one machine. Creation refuses a replication
factor larger than the live hosts, spreads leaders over the hosts and then over each
host's processes, and still prefers racks; a client's own lists, reassignments,
rebalance plans and decommissions never put two replicas on one host. Built through the
controller's commands and the records they write, as a cluster would."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pytest
from test_controller_logic import DEFAULTS, Cluster
from test_decommission_logic import finish_moves

from kraft.api.error_map import http_status, rest_error_code
from kraft.controller import broker_control as bc
from kraft.controller import decommission as dc
from kraft.controller import reassignment
from kraft.controller.rebalance_planner import plan
from kraft.controller.topic_control import CreateTopic, create_partitions, create_topic
from kraft.errors import DecommissionRefused, InvalidReplicaAssignment, InvalidReplicationFactor
from kraft.kafka.wire import error_codes
from kraft.kafka.handlers.reassignment_api import _code as reassignment_code
from kraft.metadata.records import RegisterBroker

Layout = list[tuple[str | None, str | None, list[int]]]  # (host name, rack, broker ids)


def grid(hosts: int, processes: int, racks: int = 0) -> Layout:
    """`hosts` machines of `processes` brokers each (ids from 1), on `racks` racks in turn."""
    return [(f"h{h}", f"r{h % racks}" if racks else None, list(range(1 + h * processes, 1 + (h + 1) * processes)))
            for h in range(hosts)]


MIX: Layout = [("a", None, [1, 2]), ("b", None, [3, 4]), (None, None, [5]), (None, None, [6])]  # [[nodes]] beside


def register(c: Cluster, layout: Layout) -> None:
    for name, rack, ids in layout:
        for b in ids:
            c.run(bc.register_broker(c.image, RegisterBroker(broker_id=b, incarnation_id=f"a{b}", host="h",
                                                             http_port=1, rack=rack, host_name=name), DEFAULTS))
            c.heartbeat(b, now=0)


def cluster(layout: Layout) -> Cluster:
    c = Cluster(brokers=())
    register(c, layout)
    return c


def machine(layout: Layout) -> dict[int, str]:
    return {b: name or f"own-{b}" for name, _, ids in layout for b in ids}


def lists(c: Cluster, topic: str | None = None) -> list[tuple[int, ...]]:
    return [p.replicas for t, _, p in c.image.all_partitions() if topic is None or t.name == topic]


def co_located(replica_lists: Iterable[tuple[int, ...]], host: dict[int, str]) -> list[tuple[int, ...]]:
    return [r for r in replica_lists if len({host[b] for b in r}) < len(r)]


def manual(c: Cluster, name: str, assignments: list[tuple[int, list[int]]]) -> dict:
    req = CreateTopic(name, None, None, {}, assignments=assignments)
    return c.run(create_topic(c.image, req, DEFAULTS, topic_id=f"id-{name}"))


@pytest.mark.parametrize("layout", [grid(2, 3), grid(3, 2), grid(3, 4), grid(4, 2), grid(6, 2, racks=3),
                                    grid(4, 3, racks=2), MIX], ids=lambda layout: str(layout))
def test_creation_never_puts_two_replicas_of_a_partition_on_one_host(layout):
    c = cluster(layout)
    host = machine(layout)
    for rf in range(1, min(3, len(set(host.values()))) + 1):
        for partitions in range(1, 26):
            c.create(f"t{rf}-{partitions}", partitions=partitions, rf=rf)
    assert len(lists(c)) == sum(range(1, 26)) * min(3, len(set(host.values())))
    assert co_located(lists(c), host) == []


def test_more_replicas_than_hosts_is_refused_naming_the_hosts():
    c = cluster(grid(2, 3))
    with pytest.raises(InvalidReplicationFactor) as refused:
        c.create("t", partitions=3, rf=3)
    assert refused.value.message == ("replication factor 3 is larger than the 2 available hosts "
                                     "(6 brokers; no partition puts two replicas on one host)")
    assert error_codes.code_of(refused.value) == 38  # CreateTopics' INVALID_REPLICATION_FACTOR
    assert http_status(rest_error_code(refused.value)) == 422
    c.create("two", partitions=3, rf=2)
    assert "t" not in c.image.topic_ids and len(lists(c, "two")) == 3


@pytest.mark.parametrize("layout", [grid(3, 2), grid(2, 3), grid(6, 2, racks=3), grid(4, 3, racks=2)],
                         ids=lambda layout: str(layout))
def test_leaders_spread_over_the_hosts_then_over_each_hosts_processes(layout):
    c = cluster(layout)
    host = machine(layout)
    hosts, brokers = len(set(host.values())), len(host)
    c.create("first", partitions=hosts, rf=2)  # as many partitions as hosts: one leader on each
    assert sorted(host[r[0]] for r in lists(c, "first")) == sorted(set(host.values()))
    c.create("t", partitions=2 * brokers, rf=2)
    leaders = Counter(r[0] for r in lists(c, "t"))
    assert sorted(leaders.values()) == [2] * brokers, leaders  # every process of every host leads two
    for n in range(hosts):  # many small topics: their leaders go round the hosts too
        c.create(f"small-{n}", partitions=1, rf=2)
    small = Counter(host[lists(c, f"small-{n}")[0][0]] for n in range(hosts))
    assert sorted(small.values()) == [1] * hosts, small


@pytest.mark.parametrize("layout, rf, spread", [(grid(6, 2, racks=3), 3, 0), (grid(6, 2, racks=3), 2, 0),
                                                (grid(3, 4), 3, 0), (grid(4, 2), 3, 0), (MIX, 3, 2), (MIX, 2, 0)],
                         ids=str)
def test_replicas_spread_evenly_over_every_process(layout, rf, spread):
    """Exactly even over hosts alike; within `spread` where [[nodes]] entries (hosts of one
    broker each) stand beside hosts of two."""
    c = cluster(layout)
    brokers = len(machine(layout))
    c.create("t", partitions=4 * brokers, rf=rf)
    load = Counter(b for r in lists(c, "t") for b in r)
    assert len(load) == brokers and max(load.values()) - min(load.values()) <= spread, load
    c.create("u", partitions=16 * brokers, rf=rf)
    load = Counter(b for r in lists(c, "u") for b in r)
    assert len(load) == brokers and max(load.values()) - min(load.values()) <= spread, load


def test_racks_are_still_preferred_over_hosts():
    layout = grid(6, 2, racks=3)  # racks r0: hosts h0 and h3, r1: h1 and h4, r2: h2 and h5
    c = cluster(layout)
    rack = {b: r for _, r, ids in layout for b in ids}
    c.create("three", partitions=24, rf=3)
    c.create("two", partitions=24, rf=2)
    assert all(len({rack[b] for b in r}) == 3 for r in lists(c, "three"))
    assert all(len({rack[b] for b in r}) == 2 for r in lists(c, "two"))
    # more hosts than racks: every rack, then other hosts of the racks
    c.create("five", partitions=12, rf=5)
    assert all({rack[b] for b in r} == {"r0", "r1", "r2"} for r in lists(c, "five"))
    assert co_located(lists(c), machine(layout)) == []


def test_a_clients_own_lists_may_not_share_a_host():
    c = cluster(grid(3, 2))  # h0: 1, 2; h1: 3, 4; h2: 5, 6
    with pytest.raises(InvalidReplicaAssignment) as refused:
        manual(c, "t", [(0, [1, 3]), (1, [3, 4])])
    assert refused.value.message == ("partition 1 puts brokers 3 and 4 on one host (h1): a host holds one replica "
                                     "of a partition at most")
    assert error_codes.code_of(refused.value) == 39  # INVALID_REPLICA_ASSIGNMENT
    assert http_status(rest_error_code(refused.value)) == 422
    manual(c, "t", [(0, [1, 3]), (1, [4, 6])])
    assert lists(c, "t") == [(1, 3), (4, 6)]
    with pytest.raises(InvalidReplicaAssignment, match=r"partition 2 puts brokers 5 and 6 on one host \(h2\)"):
        create_partitions(c.image, "t", 3, [(5, 6)])
    c.run(create_partitions(c.image, "t", 3, [(5, 2)]))
    assert lists(c, "t")[2] == (5, 2)


def test_a_reassignment_may_not_put_two_replicas_on_one_host():
    c = cluster(grid(3, 2))
    manual(c, "t", [(0, [1, 3])])
    with pytest.raises(InvalidReplicaAssignment) as refused:
        reassignment.reassign(c.image, "t", 0, (1, 2))
    assert refused.value.message == ("replicas [1, 2] put brokers 1 and 2 on one host (h0): a host holds one "
                                     "replica of a partition at most")
    assert reassignment_code(refused.value) == 39 and http_status(rest_error_code(refused.value)) == 422
    answer = c.run(reassignment.reassign(c.image, "t", 0, (2, 5)))  # another process of h0, and h2
    assert answer["adding_replicas"] == [2, 5]


def test_the_rebalance_plan_never_co_locates_and_evens_a_new_hosts_share():
    layout = grid(2, 2)
    c = cluster(layout)
    c.create("t", partitions=12, rf=2)
    grown = layout + [("h2", None, [5, 6])]
    register(c, grown[2:])
    moves = plan(c.image)
    assert moves
    after = {(m.topic, m.partition): m.target for m in moves}
    final = [after.get((t.name, i), p.replicas) for t, i, p in c.image.all_partitions()]
    assert co_located(final, machine(grown)) == []
    load = Counter(b for r in final for b in r)
    assert max(load.values()) - min(load.values()) <= 1 and set(load) == {1, 2, 3, 4, 5, 6}, load


def test_the_rebalance_plan_keeps_hosts_apart_where_the_racks_would_allow_a_move():
    # racks r0: hosts h0 (1, 2) and h2 (5, 6); r1: h1 (3, 4). Rack r0 holds two replicas of
    # each partition already, so only the host rule keeps a process of h0 from taking a
    # replica beside 1
    layout = [("h0", "r0", [1, 2]), ("h1", "r1", [3, 4]), ("h2", "r0", [5, 6])]
    c = cluster(layout)
    manual(c, "t", [(0, [5, 3, 1]), (1, [1, 5, 3])])
    moves = plan(c.image)
    target = {m.partition: m.target for m in moves}
    final = [target.get(i, r) for i, r in enumerate(lists(c, "t"))]
    assert co_located(final, machine(layout)) == [], final
    assert sorted(Counter(b for r in final for b in r).values()) == [1, 1, 1, 1, 1, 1], final


def test_the_rebalance_plan_leaves_a_surplus_that_only_a_shared_host_could_take():
    c = cluster([("a", None, [1, 2]), (None, None, [3])])  # every partition: 3 and a process of host a
    c.create("t", partitions=6, rf=2)
    assert all(3 in r for r in lists(c, "t"))
    targets = [m.target for m in plan(c.image)]
    assert co_located(targets, {1: "a", 2: "a", 3: "own"}) == [], targets
    assert all(3 in r for r in targets)


def placed_before_hosts(layout: Layout, assignments: list[tuple[int, list[int]]]) -> Cluster:
    """Topic t placed while every broker was a [[nodes]] entry (a host of its own), then the
    same brokers registered again as the processes of `layout`'s hosts."""
    c = Cluster(brokers=tuple(machine(layout)))
    manual(c, "t", assignments)
    for name, _, ids in layout:
        for b in ids:
            c.run(bc.register_broker(c.image, RegisterBroker(broker_id=b, incarnation_id=f"b{b}", host="h",
                                                             http_port=1, host_name=name), DEFAULTS))
            c.heartbeat(b, now=0)
    return c


def test_the_rebalance_plan_separates_replicas_placed_before_their_brokers_named_a_host():
    layout = grid(3, 2)
    c = placed_before_hosts(layout, [(0, [1, 2]), (1, [3, 4]), (2, [5, 1]), (3, [2, 5])])
    assert co_located(lists(c, "t"), machine(layout)) == [(1, 2), (3, 4)]
    moves = plan(c.image)
    target = {m.partition: m.target for m in moves}
    final = [target.get(i, r) for i, r in enumerate(lists(c, "t"))]
    assert co_located(final, machine(layout)) == [], final
    assert final[0][0] == 1 and final[1][0] == 3  # the first replica stays, with its leadership
    load = Counter(b for r in final for b in r)
    assert max(load.values()) - min(load.values()) <= 1, final


def test_replicas_placed_before_hosts_may_be_reordered_and_moved_off_but_nothing_new_joins_them():
    layout = grid(3, 2)  # h0: 1, 2; h1: 3, 4; h2: 5, 6
    c = placed_before_hosts(layout, [(0, [1, 2, 3])])  # 1 and 2 on h0
    c.run(reassignment.reassign(c.image, "t", 0, (2, 1, 3)))  # a reorder adds nobody
    assert lists(c, "t") == [(2, 1, 3)]
    with pytest.raises(InvalidReplicaAssignment, match=r"brokers 3 and 4 on one host \(h1\)"):
        reassignment.reassign(c.image, "t", 0, (2, 1, 3, 4))
    c.run(dc.decommission(c.image, 3))  # its replica goes to a host apart from h0
    finish_moves(c)
    assert 3 not in c.image.brokers
    (replicas,) = lists(c, "t")
    assert replicas[:2] == (2, 1) and machine(layout)[replicas[2]] != "h0", replicas


def test_decommission_moves_a_replica_only_to_a_host_apart_from_the_others():
    layout = grid(3, 2)
    c = cluster(layout)
    c.create("t", partitions=12, rf=3)
    c.run(dc.decommission(c.image, 1))
    finish_moves(c)
    assert 1 not in c.image.brokers
    assert all(2 in r for r in lists(c, "t"))  # host h0's other process: the only one apart
    assert co_located(lists(c), machine(layout)) == []


def test_a_host_decommissioned_together_is_refused_as_a_whole_before_anything_moves():
    """Three hosts of two processes, RF 3: alone, broker 1 may go (its replicas to broker
    2, its host's other process); with broker 2 leaving together, nothing may take them,
    so the first is refused and no move starts (one at a time, broker 1's moves to 2 could
    finish before broker 2 were refused: a host half decommissioned)."""
    c = cluster(grid(3, 2))
    c.create("t", partitions=6, rf=3)
    with pytest.raises(DecommissionRefused, match="cannot decommission broker 1: topic 't' has replication factor 3"):
        dc.decommission(c.image, 1, together=[2])
    records, answer = dc.decommission(c.image, 1)  # alone it may go
    assert records and answer["decommissioning"]


def test_decommission_is_refused_when_no_broker_is_on_a_host_apart():
    c = cluster([("a", None, [1, 2]), ("b", None, [3, 4]), (None, None, [5])])
    c.create("t", partitions=1, rf=3)
    replicas = lists(c, "t")[0]
    with pytest.raises(DecommissionRefused) as refused:
        dc.decommission(c.image, 5)
    assert refused.value.message == (
        f"cannot decommission broker 5: topic 't' has replication factor 3 and partition 0 (replicas "
        f"{list(replicas)}) needs a live broker on a host none of its other replicas is on: brokers "
        f"{', '.join(str(b) for b in (1, 2, 3, 4) if b not in replicas)} are on hosts it uses (a, b), and a host "
        "holds one replica of a partition at most")
    assert http_status(rest_error_code(refused.value)) == 409
    assert 5 not in c.image.decommissioning


def test_a_new_host_lets_placement_use_its_brokers():
    c = cluster(grid(2, 2))
    with pytest.raises(InvalidReplicationFactor, match="larger than the 2 available hosts"):
        c.create("t", partitions=6, rf=3)
    register(c, [("h2", None, [5, 6])])
    assert c.image.live_hosts() == 3
    c.create("t", partitions=6, rf=3)
    assert all(len({(b - 1) // 2 for b in r}) == 3 for r in lists(c, "t"))
    assert {5, 6} <= {b for r in lists(c, "t") for b in r}


def test_a_host_whose_brokers_are_all_fenced_is_no_longer_a_live_host():
    c = cluster(grid(3, 2))
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [5]))
    assert c.image.live_hosts() == 3  # one process of h2 still runs
    c.create("t", partitions=3, rf=3)
    assert all(5 not in r for r in lists(c, "t"))
    c.run_records(bc.fence_brokers(c.image, DEFAULTS, [6]))
    assert c.image.live_hosts() == 2
    with pytest.raises(InvalidReplicationFactor) as refused:
        c.create("u", partitions=3, rf=3)
    assert refused.value.message == ("replication factor 3 is larger than the 2 available hosts "
                                     "(4 brokers; no partition puts two replicas on one host)")
    with pytest.raises(InvalidReplicationFactor, match="2 available hosts"):
        create_partitions(c.image, "t", 4)
