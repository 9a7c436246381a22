"""The replication throttle as pure logic: its rates come from the image (a broker's own
value over the cluster-wide one, unlimited when neither is set), it covers only replicas
being added by a reassignment and not yet in sync, and its byte budget refills at the
rate, keeps at most one second's worth, and goes into debt for a batch larger than it."""

from __future__ import annotations

import pytest
from test_controller_logic import DEFAULTS, Cluster
from test_decommission_logic import join_isr_at

from kraft.controller import reassignment
from kraft.controller.config_control import alter_broker_configs, alter_cluster_configs
from kraft.config.replication_throttle import FOLLOWER_RATE, LEADER_RATE
from kraft.errors import BrokerNotFound, InvalidConfig, ReadOnlyBrokerConfig
from kraft.metadata.image_codec import image_from_dict, image_to_dict
from kraft.replication.replication_throttle import ByteBudget, ReplicationThrottle


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_refills_at_the_rate_keeps_one_second_and_lends_one_batch():
    clock = Clock()
    budget = ByteBudget(clock)
    assert budget.available() == float("inf")  # unlimited until a rate is set
    budget.set_rate(1000)
    assert budget.available() == 0  # a new limit starts from nothing saved
    clock.now += 0.5
    assert budget.available() == pytest.approx(500)
    clock.now += 10
    assert budget.available() == pytest.approx(1000)  # one second's worth at most
    budget.spend(3000)  # a batch larger than the budget still goes: then debt
    assert budget.available() == pytest.approx(-2000)
    clock.now += 2.5
    assert budget.available() == pytest.approx(500)
    budget.set_rate(None)
    assert budget.available() == float("inf")


def test_rates_come_from_the_broker_then_the_cluster_and_only_catching_up_replicas_are_throttled():
    c = Cluster(brokers=(1, 2, 3, 4))
    c.create("t", partitions=1, rf=2)
    throttle = ReplicationThrottle(broker_id=4, clock=Clock())
    throttle.on_metadata(c.image)
    assert throttle.leader.rate is None and throttle.follower.rate is None
    c.run(alter_cluster_configs(c.image, DEFAULTS, {LEADER_RATE: "5000", FOLLOWER_RATE: 7000}))
    c.run(alter_broker_configs(c.image, 4, {FOLLOWER_RATE: "9000"}))
    throttle.on_metadata(c.image)
    assert (throttle.leader.rate, throttle.follower.rate) == (5000, 9000)
    key = (c.image.topic("t").topic_id, 0)
    assert c.part("t").replicas == (1, 2) and c.part("t").leader == 1
    assert not throttle.follower_throttles(key) and throttle.follower_throttled() == []
    c.run(reassignment.reassign(c.image, "t", 0, (1, 4)))  # 4 joins, 2 leaves once 4 is in sync
    throttle.on_metadata(c.image)
    leader_side = ReplicationThrottle(broker_id=1, clock=Clock())
    leader_side.on_metadata(c.image)
    assert throttle.follower_throttles(key)  # broker 4 catches up: its fetches are throttled
    assert throttle.follower_throttled() == [key] and leader_side.follower_throttled() == []
    assert leader_side.leader_throttles(key, 4)
    assert not leader_side.leader_throttles(key, 2)  # an in-sync follower never is
    join_isr_at(c, "t", 0, 4)
    throttle.on_metadata(c.image)
    assert not throttle.follower_throttles(key)  # in sync: no longer throttled
    assert throttle.follower_throttled() == []
    c.run(alter_broker_configs(c.image, 4, {FOLLOWER_RATE: None}))
    throttle.on_metadata(c.image)
    assert throttle.follower.rate == 7000  # back to the cluster-wide value
    assert image_from_dict(image_to_dict(c.image)).broker_configs == c.image.broker_configs


def test_bad_throttle_values_and_read_only_broker_configs_are_refused():
    c = Cluster(brokers=(1, 2))
    for value in ("fast", "-5", "0", True, 1.5):
        with pytest.raises(InvalidConfig):
            alter_broker_configs(c.image, 1, {LEADER_RATE: value})
    with pytest.raises(ReadOnlyBrokerConfig, match="cluster.toml"):
        alter_broker_configs(c.image, 1, {"num.partitions": "5"})
    with pytest.raises(BrokerNotFound):
        alter_broker_configs(c.image, 9, {LEADER_RATE: "100"})
    with pytest.raises(InvalidConfig):
        alter_cluster_configs(c.image, DEFAULTS, {FOLLOWER_RATE: "lots"})
