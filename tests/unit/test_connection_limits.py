"""The Kafka listener's connection limits (Kafka's max.connections, max.connections.per.ip
and max.connections.per.ip.overrides): pure counting, no sockets."""

from __future__ import annotations

import pytest

from kraft.config.cluster import ClusterSection
from kraft.config.connection_overrides import parse_overrides
from kraft.kafka.connection_limits import ConnectionLimits


def test_one_address_takes_no_more_than_its_share():
    limits = ConnectionLimits(total=10, per_address=3)
    assert [limits.admit("127.0.0.9") for _ in range(3)] == [None] * 3
    refused = limits.admit("127.0.0.9")
    assert refused is not None and "max.connections.per.ip 3" in refused
    assert limits.admit("127.0.0.8") is None  # another address is still let in
    assert limits.held == 4


def test_the_listener_limit_holds_over_every_address():
    limits = ConnectionLimits(total=4, per_address=3)
    for host in ("a", "a", "b", "c"):
        assert limits.admit(host) is None
    assert "max.connections 4" in limits.admit("d")
    limits.release("a")
    assert limits.admit("d") is None


def test_overrides_name_their_own_counts():
    limits = ConnectionLimits(total=100, per_address=2, overrides=parse_overrides("10.0.0.1:5, [::1]:0"))
    assert [limits.admit("10.0.0.1") for _ in range(5)] == [None] * 5
    assert limits.admit("10.0.0.1") is not None
    assert limits.admit("::1") is not None  # 0: that address may not connect at all


def test_released_addresses_are_forgotten():
    limits = ConnectionLimits(total=100, per_address=2)
    limits.admit("x")
    limits.release("x")
    assert limits.held == 0 and limits.held_by("x") == 0 and not limits._held


@pytest.mark.parametrize("text", ["127.0.0.1", "127.0.0.1:-1", ":3", "host:many"])
def test_bad_overrides_are_refused_with_the_rule(text):
    with pytest.raises(ValueError, match="host:count"):
        parse_overrides(text)


def test_settings_defaults_and_validation():
    section = ClusterSection.model_validate({})
    assert (section.max_connections, section.max_connections_per_ip) == (1000, 250)
    assert section.sasl_server_max_receive_size == 524288
    assert parse_overrides("fe80::1:7,host.example:2") == {"fe80::1": 7, "host.example": 2}
    with pytest.raises(Exception, match="host:count"):
        ClusterSection.model_validate({"max.connections.per.ip.overrides": "nohostcount"})
