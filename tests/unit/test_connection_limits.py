"""The Kafka listener's connection limits (Kafka's max.connections, max.connections.per.ip
and max.connections.per.ip.overrides) and which connection a full listener closes for a
newcomer: pure counting, no sockets."""

from __future__ import annotations

import pytest

from kraft.config.cluster import ClusterSection
from kraft.config.connection_overrides import parse_overrides
from kraft.kafka.connection.connection_limits import Admission, ConnectionLimits


class Conn:
    """A connection as the limits see it: anything hashable, named for the assertions."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _admit(limits: ConnectionLimits, host: str, name: str | None = None):
    conn = Conn(name or host)
    return conn, limits.admit(host, conn)


def test_one_address_takes_no_more_than_its_share():
    limits = ConnectionLimits(total=10, per_address=3)
    assert [_admit(limits, "127.0.0.9")[1].refused for _ in range(3)] == [None] * 3
    refused = _admit(limits, "127.0.0.9")[1].refused
    assert refused is not None and "max.connections.per.ip 3" in refused
    assert _admit(limits, "127.0.0.8")[1].refused is None  # another address is still let in
    assert limits.held == 4


def test_a_full_listener_of_served_clients_refuses_the_newcomer():
    limits = ConnectionLimits(total=4, per_address=3)
    held = [_admit(limits, host)[0] for host in ("a", "a", "b", "c")]
    for conn in held:
        limits.served(conn)
    refused = _admit(limits, "d")[1]
    assert refused.refused is not None and "max.connections 4" in refused.refused and refused.evicted is None
    limits.release(held[0])
    assert _admit(limits, "d")[1] == Admission()


def test_a_full_listener_closes_its_oldest_unserved_connection_for_a_newcomer():
    limits = ConnectionLimits(total=4, per_address=3)
    served, _ = _admit(limits, "client", "served")
    limits.served(served)
    silent = [_admit(limits, "flood", f"silent{i}")[0] for i in range(3)]
    newcomer, admission = _admit(limits, "newcomer")
    assert admission == Admission(evicted=silent[0])  # the oldest of them, never the served one
    assert (limits.held, limits.held_by("flood"), limits.unserved) == (4, 2, 3)
    # the next newcomer takes the next oldest: the flood's, not the newcomer before it
    assert _admit(limits, "other")[1].evicted is silent[1]


def test_an_evicted_connection_is_released_once():
    limits = ConnectionLimits(total=1, per_address=1)
    old, _ = _admit(limits, "flood")
    new, admission = _admit(limits, "client")
    assert admission.evicted is old
    limits.release(old)  # its task ends later and releases it again: nothing more happens
    assert (limits.held, limits.held_by("client"), limits.held_by("flood")) == (1, 1, 0)


def test_a_full_address_cannot_evict_others():
    """The per-address limit is checked first: an address at its share takes nobody's slot."""
    limits = ConnectionLimits(total=3, per_address=2)
    _admit(limits, "a")
    _admit(limits, "a")
    _admit(limits, "b")
    admission = _admit(limits, "a")[1]
    assert admission.evicted is None and "max.connections.per.ip 2" in admission.refused


def test_overrides_name_their_own_counts():
    limits = ConnectionLimits(total=100, per_address=2, overrides=parse_overrides("10.0.0.1:5, [::1]:0"))
    assert [_admit(limits, "10.0.0.1")[1].refused for _ in range(5)] == [None] * 5
    assert _admit(limits, "10.0.0.1")[1].refused is not None
    assert _admit(limits, "::1")[1].refused is not None  # 0: that address may not connect at all


def test_released_addresses_are_forgotten():
    limits = ConnectionLimits(total=100, per_address=2)
    conn, _ = _admit(limits, "x")
    limits.release(conn)
    assert limits.held == 0 and limits.held_by("x") == 0 and limits.unserved == 0 and not limits._held


@pytest.mark.parametrize("text", ["127.0.0.1", "127.0.0.1:-1", ":3", "host:many"])
def test_bad_overrides_are_refused_with_the_rule(text):
    with pytest.raises(ValueError, match="host:count"):
        parse_overrides(text)


def test_settings_defaults_and_validation():
    section = ClusterSection.model_validate({})
    assert (section.max_connections, section.max_connections_per_ip) == (1000, 250)
    assert section.sasl_server_max_receive_size == 524288
    assert section.connections_first_request_timeout_ms == 10_000
    assert parse_overrides("fe80::1:7,host.example:2") == {"fe80::1": 7, "host.example": 2}
    with pytest.raises(Exception, match="host:count"):
        ClusterSection.model_validate({"max.connections.per.ip.overrides": "nohostcount"})
