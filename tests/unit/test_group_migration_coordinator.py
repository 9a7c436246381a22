"""The group coordinator converting groups (KIP-848's online upgrade and downgrade) over
a real offsets partition log, per group.consumer.migration.policy: a Stable classic
group becomes a consumer group when a KIP-848 member joins, and a classic one again
when that member leaves; the consumer group's record goes with it."""

from __future__ import annotations

import pytest
from test_txn_group_coordinator import GROUP, NODE, Appender, Replicas, image, log  # noqa: F401 (log: a fixture)

from kraft.config.cluster import GroupSettings
from kraft.errors import CoordinatorNotAvailable, GroupIdNotFound
from kraft.groups.consumer_group import ClassicJoin, ClassicJoined, ConsumerGroupError, Heartbeat, Refusal
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.storage.partition_log import PartitionLog


async def coordinator_with(log, policy: str, **groups) -> GroupCoordinator:  # noqa: F811
    async def no_controller(path: str, body: dict) -> dict:
        raise AssertionError("the offsets topic exists")

    async def no_wait(offset: int, timeout_s: float) -> bool:
        return True

    snapshot = image()
    # no initial rebalance delay, as test clusters: nothing here ticks the groups' clocks
    settings = GroupSettings.model_validate({"group.consumer.migration.policy": policy,
                                             "group.initial.rebalance.delay.ms": 0, **groups})
    replicas = Replicas(log)
    coord = GroupCoordinator(NODE, settings, lambda: snapshot, replicas, no_controller, no_wait,
                             Appender(log, replicas.offsets))
    assert await coord.locate(GROUP) is None
    coord.loaded.topic_counts = {"t": 2}
    return coord


async def stable_classic_member(coord: GroupCoordinator) -> str:
    group = coord.kafka_client_group(GROUP)
    joined = await group.join(None, "classic", 10_000, 5_000, "consumer", [("range", b"")], frozenset({"t"}), 0)
    synced = await group.sync(joined.member_id, joined.generation, 0, {joined.member_id: b"x"},
                              {joined.member_id: (("t", 0), ("t", 1))})
    assert group.state.value == "Stable" and synced.assignment == b"x"
    return joined.member_id


def kip848_join(now: int = 10) -> Heartbeat:
    return Heartbeat("k1", 0, now, rebalance_timeout_ms=5_000, topic_names=("t",), owned=frozenset())


async def test_a_kip848_member_converts_a_stable_classic_group_and_leaving_converts_it_back(log):  # noqa: F811
    coord = await coordinator_with(log, "bidirectional")
    classic_id = await stable_classic_member(coord)
    answer = await coord.consumer_heartbeat(GROUP, kip848_join())
    assert answer.member_id == "k1" and answer.assignment == frozenset()  # the classic member still owns both
    group = coord.consumer_group(GROUP)
    assert group is not None and coord.loaded_client_group(GROUP) is None
    assert group.members[classic_id].classic is not None and group.members[classic_id].assigned == {("t", 0), ("t", 1)}
    assert coord.describe(GROUP)["is_mixed"] is True
    left = await coord.consumer_heartbeat(GROUP, Heartbeat("k1", -1, 20))
    assert left.member_epoch == -1
    back = coord.loaded_client_group(GROUP)
    assert back is not None and back.coordinator.members == (classic_id,)
    assert coord.consumer_group(GROUP) is None and coord.describe(GROUP).get("group_type") != "consumer"
    reloaded = await coordinator_with(log, "bidirectional")  # the record went with the conversion
    assert reloaded.consumer_group(GROUP) is None


async def test_the_policy_disabled_keeps_the_classic_group_and_refuses_as_kafka(log):  # noqa: F811
    coord = await coordinator_with(log, "disabled")
    await stable_classic_member(coord)
    with pytest.raises(GroupIdNotFound):
        await coord.consumer_heartbeat(GROUP, kip848_join())
    assert coord.loaded_client_group(GROUP) is not None and coord.consumer_group(GROUP) is None


async def test_upgrade_only_never_converts_back(log):  # noqa: F811
    coord = await coordinator_with(log, "upgrade")
    await stable_classic_member(coord)
    await coord.consumer_heartbeat(GROUP, kip848_join())
    await coord.consumer_heartbeat(GROUP, Heartbeat("k1", -1, 20))
    group = coord.consumer_group(GROUP)
    assert group is not None and group.only_classic_members and coord.loaded_client_group(GROUP) is None


async def test_a_classic_group_that_is_rebalancing_converts_only_once_stable(log):  # noqa: F811
    coord = await coordinator_with(log, "bidirectional")
    group = coord.kafka_client_group(GROUP)
    joined = await group.join(None, "classic", 10_000, 5_000, "consumer", [("range", b"")], frozenset({"t"}), 0)
    assert group.state.value == "CompletingRebalance"
    with pytest.raises(CoordinatorNotAvailable):
        await coord.consumer_heartbeat(GROUP, kip848_join())
    await group.sync(joined.member_id, joined.generation, 0, {joined.member_id: b"x"}, {joined.member_id: ()})
    assert (await coord.consumer_heartbeat(GROUP, kip848_join())).member_id == "k1"


async def test_a_group_converts_only_when_its_members_fit_the_other_kinds_size_limit(log, tmp_path):  # noqa: F811
    coord = await coordinator_with(log, "bidirectional", **{"group.consumer.max.size": 1, "group.max.size": 1})
    await stable_classic_member(coord)
    refused = await coord.consumer_heartbeat(GROUP, kip848_join())  # 1 classic + 1 would be 2 > 1
    assert isinstance(refused, Refusal) and refused.error is ConsumerGroupError.GROUP_MAX_SIZE_REACHED
    assert coord.loaded_client_group(GROUP) is not None and coord.consumer_group(GROUP) is None  # still classic

    # a log of its own: the first coordinator's group is in `log`, and a load takes it up
    other = PartitionLog.open(tmp_path / "other-offsets")
    try:
        await _two_classic_members_stay_a_consumer_group(await coordinator_with(other, "bidirectional",
                                                                               **{"group.max.size": 1}))
    finally:
        other.close()


async def _two_classic_members_stay_a_consumer_group(roomy: GroupCoordinator) -> None:
    await stable_classic_member(roomy)
    await roomy.consumer_heartbeat(GROUP, kip848_join())  # the classic member is in the consumer group now
    second = await roomy.classic_join(GROUP, ClassicJoin(None, 20, 10_000, 5_000, (("range", b""),),
                                                          frozenset({"t"})))
    assert isinstance(second, ClassicJoined)
    await roomy.consumer_heartbeat(GROUP, Heartbeat("k1", -1, 30))  # the KIP-848 member leaves
    group = roomy.consumer_group(GROUP)  # two classic members do not fit group.max.size 1: no downgrade
    assert group is not None and group.only_classic_members and len(group.members) == 2
    assert roomy.loaded_client_group(GROUP) is None
