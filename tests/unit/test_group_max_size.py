"""Group size limits, pure: group.max.size in the classic group (Kafka's
acceptJoiningMember) and group.consumer.max.size in the KIP-848 consumer group (Kafka's
throwIfConsumerGroupIsFull), and both settings in cluster.toml."""

import itertools

import pytest

from kraft.config.cluster import ConfigFileError, GroupSettings, load_cluster_config_text
from kraft.groups.classic_group import ClassicGroup
from kraft.groups.consumer_group import (ClassicJoin, ClassicJoined, ConsumerGroup, ConsumerGroupError, GroupConfig,
                                         Heartbeat, Refusal)
from kraft.groups.group_events import ErrorResponse, GroupError, GroupState, Join, JoinPending, JoinResponse, Sync
from kraft.groups.group_member import GroupConfig as ClassicConfig
from kraft.groups.rest_instance_group import RestInstanceGroup
from kraft.groups.consumer_instance import ConsumerInstance, InstanceConfig

TOPICS = {"t": 4}


def of(effects, cls):
    return [e for e in effects if isinstance(e, cls)]


def join(g, member_id=None, now=0):
    return g.handle(Join(member_id, "c", 10_000, 5_000, ("range",), frozenset({"t"}), now, "consumer", (b"",)))


def stable_classic(limit: int, members: int) -> tuple[ClassicGroup, list[str]]:
    g = ClassicGroup("g", TOPICS, ClassicConfig(max_size=limit), relay=True)
    ids = []
    for _ in range(members):
        ids.append(of(join(g), JoinPending)[0].member_id)
        for mid in ids[:-1]:
            join(g, mid)
        g.handle(Sync(ids[0], g.generation, 0, {mid: b"" for mid in ids}))
        for mid in ids[1:]:
            g.handle(Sync(mid, g.generation, 0))
    assert g.state is GroupState.STABLE and len(g.members) == members
    return g, ids


def test_a_full_classic_group_refuses_a_new_member_but_not_its_own():
    g, [a, b] = stable_classic(2, 2)
    [refused] = join(g)  # the error first, and nothing else happens
    assert isinstance(refused, ErrorResponse) and refused.error is GroupError.GROUP_MAX_SIZE_REACHED
    assert refused.error.code == 81 and g.state is GroupState.STABLE and g.members == (a, b)
    assert of(join(g, b, now=10), JoinResponse)  # a member rejoining is fine


def test_while_preparing_a_rebalance_the_members_that_rejoined_count():
    g, [a, b] = stable_classic(3, 2)
    g.handle(Join(a, "c", 10_000, 5_000, ("range",), frozenset({"u"}), 10, "consumer", (b"",)))  # a rebalance
    assert g.state is GroupState.PREPARING_REBALANCE
    g.config = ClassicConfig(max_size=1)  # a lowered limit (as after a restart with a new setting)
    [refused, *rest] = join(g, b, now=20)  # b has not rejoined yet and one has: b is out
    assert refused.error is GroupError.GROUP_MAX_SIZE_REACHED and b not in g.members
    assert g.state is GroupState.COMPLETING_REBALANCE and g.members == (a,)  # a's join phase could end
    [new] = of(join(g, now=30), ErrorResponse)
    assert new.error is GroupError.GROUP_MAX_SIZE_REACHED


def test_an_empty_classic_group_takes_its_first_member_whatever_the_limit():
    g = ClassicGroup("g", TOPICS, ClassicConfig(max_size=1), relay=True)
    a = of(join(g), JoinPending)[0].member_id
    assert g.members == (a,)
    assert of(join(g), ErrorResponse)[0].error is GroupError.GROUP_MAX_SIZE_REACHED  # preparing: a counts


def test_a_rest_instance_past_the_limit_is_refused_with_the_reason():
    g = RestInstanceGroup("g", TOPICS, "p.", ClassicConfig(max_size=1))
    first, second = (ConsumerInstance("g", name, InstanceConfig(), 0) for name in ("i1", "i2"))
    for instance in (first, second):
        g.add(instance)
        instance.topics = frozenset({"t"})
    assert g.subscribe(first, 0) is None and len(first.owned) == 4
    error, message = g.subscribe(second, 0)
    assert error is GroupError.GROUP_MAX_SIZE_REACHED and "group.max.size" in message
    assert second.member_id is None and len(first.owned) == 4


def consumer_group(limit: int) -> ConsumerGroup:
    ids = itertools.count(1)
    return ConsumerGroup("g", GroupConfig(max_size=limit), lambda: f"m{next(ids)}")


def kip848_join(group: ConsumerGroup, member_id: str = "", instance_id=None):
    return group.heartbeat(Heartbeat(member_id, 0, 0, instance_id=instance_id, rebalance_timeout_ms=30_000,
                                     topic_names=("t",)), TOPICS)


def test_a_full_consumer_group_refuses_members_it_does_not_know():
    group = consumer_group(2)
    a, b = kip848_join(group), kip848_join(group)
    refused = kip848_join(group)
    assert isinstance(refused, Refusal) and refused.error is ConsumerGroupError.GROUP_MAX_SIZE_REACHED
    assert refused.error.code == 81 and set(group.members) == {a.member_id, b.member_id}
    assert kip848_join(group, "client-chosen-id").error is ConsumerGroupError.GROUP_MAX_SIZE_REACHED
    assert not isinstance(group.heartbeat(Heartbeat(a.member_id, a.member_epoch, 1), TOPICS), Refusal)
    classic = group.classic_join(ClassicJoin(None, 1, 10_000, 30_000, (("range", b""),), frozenset({"t"})), TOPICS)
    assert classic.error is ConsumerGroupError.GROUP_MAX_SIZE_REACHED
    group.heartbeat(Heartbeat(b.member_id, -1, 2), TOPICS)  # b leaves: room for one
    assert isinstance(group.classic_join(ClassicJoin(None, 3, 10_000, 30_000, (("range", b""),),
                                                     frozenset({"t"})), TOPICS), ClassicJoined)


def test_a_static_members_new_process_counts_as_new_in_a_full_consumer_group():
    # as Kafka: the size check comes before the instance id is looked at
    group = consumer_group(1)
    a = kip848_join(group, instance_id="box")
    group.heartbeat(Heartbeat(a.member_id, -2, 1, instance_id="box"), TOPICS)
    assert kip848_join(group, "new-process", "box").error is ConsumerGroupError.GROUP_MAX_SIZE_REACHED


def test_the_limits_are_cluster_toml_settings_with_kafkas_defaults_and_bounds(tmp_path):
    defaults = GroupSettings.model_validate({})
    assert defaults.classic_max_size == defaults.consumer_max_size == 2**31 - 1
    both = GroupSettings.model_validate({"group.max.size": 5, "group.consumer.max.size": 7})
    assert (both.classic_max_size, both.consumer_max_size) == (5, 7)
    nodes = "".join(f'[[nodes]]\nid = {i}\nroles = ["controller", "broker"]\nhost = "127.0.0.1"\n'
                    f'http_port = {8080 + i}\nkafka_port = {19090 + i}\nraft_port = {9090 + i}\ndata_dir = "d{i}"\n' for i in (1, 2, 3))
    for name, value in (("group.max.size", 0), ("group.consumer.max.size", 2**31), ("group.max.size", '"10"')):
        with pytest.raises(ConfigFileError) as refused:
            load_cluster_config_text(f'[cluster]\nname = "c"\n[groups]\n"{name}" = {value}\n' + nodes,
                                     base_dir=tmp_path)
        assert name in str(refused.value)
