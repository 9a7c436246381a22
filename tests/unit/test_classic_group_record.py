"""A classic group of Kafka clients kept in its offsets partition, as Kafka keeps its
GroupMetadata: a coordinator that loads the partition after a failover has the group,
Stable, with its members, generation and assignment, so that the members' heartbeats
carry on there (no rejoin) and a describe finds the group at once; a group left without
members is gone after a load. Over a real partition log, with real asyncio."""

from __future__ import annotations

import asyncio

import orjson
from test_txn_group_coordinator import GROUP, loaded, log  # noqa: F401 (log: a fixture)

from kraft.errors import NotLeaderOrFollower
from kraft.groups import group_events as ev
from kraft.groups.classic_group import ClassicGroup
from kraft.groups.classic_group_record import group_from_value, group_value
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.groups.group_events import GroupError, GroupState
from kraft.groups.kafka_client_group import Joined, Refused, Synced
from kraft.kafka.handlers.group_api import assignment_bytes

SESSION_MS, REBALANCE_MS = 10_000, 30_000


async def stable_pair(coord: GroupCoordinator) -> tuple[Joined, Joined]:
    """Two consumers join and the leader assigns one partition to each: the group is Stable."""
    group = coord.kafka_client_group(GROUP)
    first = await group.join(None, "c0", SESSION_MS, REBALANCE_MS, "consumer", [("range", b"sub-0")],
                             frozenset({"t"}), 0)
    assert isinstance(first, Joined)
    assert isinstance(await group.sync(first.member_id, first.generation, 0, {first.member_id: b""}), Synced)
    # the second's join rebalances; the first rejoins as a known member and leads
    second_join = asyncio.ensure_future(group.join(None, "c1", SESSION_MS, REBALANCE_MS, "consumer",
                                                   [("range", b"sub-1")], frozenset({"t"}), 1))
    await asyncio.sleep(0)
    leader = await group.join(first.member_id, "c0", SESSION_MS, REBALANCE_MS, "consumer", [("range", b"sub-0")],
                              frozenset({"t"}), 2)
    follower = await second_join
    assert isinstance(leader, Joined) and isinstance(follower, Joined) and leader.leader_id == leader.member_id
    plan = {leader.member_id: (("t", 0),), follower.member_id: (("t", 1),)}
    given = {mid: assignment_bytes(tps) for mid, tps in plan.items()}
    follower_sync = asyncio.ensure_future(group.sync(follower.member_id, follower.generation, 3))
    await asyncio.sleep(0)
    synced = await group.sync(leader.member_id, leader.generation, 3, given, plan)
    assert isinstance(synced, Synced) and isinstance(await follower_sync, Synced)
    assert group.state is GroupState.STABLE
    return leader, follower


def test_a_stable_group_and_its_record_make_the_same_group_again():
    group = ClassicGroup(GROUP, {"t": 2}, member_id_prefix="old.", relay=True)
    joined = group.handle(ev.Join(None, "c0", SESSION_MS, REBALANCE_MS, ("range", "roundrobin"), frozenset({"t"}), 0,
                                  "consumer", (b"r", b"rr"), "static-0"))
    member_id = joined[0].member_id
    group.handle(ev.Sync(member_id, 1, 0, {member_id: b"bytes"}, {member_id: (("t", 0), ("t", 1))}))
    value = orjson.loads(orjson.dumps(group_value(group)))  # what the log holds: JSON
    again = group_from_value(GROUP, value, {"t": 2}, "new.", None, 500)
    assert again is not None and again.state is GroupState.STABLE
    assert (again.generation, again.protocol, again.leader_id, again.members) == (1, "range", member_id, (member_id,))
    member = again.member(member_id)
    assert (member.assignment, member.metadata, member.group_instance_id) == (b"bytes", {"range": b"r", "roundrobin": b"rr"},
                                                                               "static-0")
    assert again.assignment_of(member_id) == (("t", 0), ("t", 1))
    assert group_from_value(GROUP, {"members": "not a list"}, {}, "new.", None, 0) is None  # skipped, never a crash


async def test_a_new_coordinator_has_the_group_and_its_members_carry_on_without_rejoining(log):  # noqa: F811
    first, _ = await loaded(log)
    leader, follower = await stable_pair(first)

    second, _ = await loaded(log)  # the partition's next leader loads the same log
    described = second.describe(GROUP)
    assert described["state"] == "Stable" and described["generation"] == leader.generation
    assert {m["consumer_id"]: m["assignments"] for m in described["members"]} == {
        leader.member_id: [["t", 0]], follower.member_id: [["t", 1]]}
    group = second.kafka_client_group(GROUP)
    for member in (leader, follower):  # their generation is the group's: no rejoin
        assert group.heartbeat(member.member_id, member.generation, 10) is None
    synced = await group.sync(follower.member_id, follower.generation, 10)
    assert isinstance(synced, Synced) and synced.assignment == assignment_bytes((("t", 1),))


async def test_a_group_left_without_members_is_gone_after_a_load(log):  # noqa: F811
    first, _ = await loaded(log)
    leader, follower = await stable_pair(first)
    group = first.kafka_client_group(GROUP)
    assert group.leave(follower.member_id, 20) is None and group.leave(leader.member_id, 20) is None
    for task in list(first.runtime.tasks):  # the tombstone's write
        await task

    second, _ = await loaded(log)
    assert second.describe(GROUP) == {} and second.loaded_client_group(GROUP) is None


async def test_a_leaders_sync_is_answered_not_coordinator_when_the_group_cannot_be_stored(log):  # noqa: F811
    coord, appender = await loaded(log)
    group = coord.kafka_client_group(GROUP)
    joined = await group.join(None, "c0", SESSION_MS, REBALANCE_MS, "consumer", [("range", b"")], frozenset({"t"}), 0)
    assert isinstance(joined, Joined)
    # the write of the group's record fails, as on a node that no longer leads the partition
    appender.fail = NotLeaderOrFollower("NOT_LEADER_OR_FOLLOWER: a newer leader took over")
    refused = await group.sync(joined.member_id, joined.generation, 0, {joined.member_id: b"x"})
    assert isinstance(refused, Refused) and refused.error is GroupError.NOT_COORDINATOR  # find the coordinator again
