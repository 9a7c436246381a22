"""Which Jepsen client slots go with an isolated node, and the packet rules of the
isolate-with-clients fault (kraft/scenario/client_sides.py)."""

from __future__ import annotations

import random

import pytest

from kraft.scenario.client_sides import (
    CLIENT_GID_BASE,
    DropRule,
    client_gid,
    iptables_spec,
    isolation_rules,
    split_slots,
)

HOSTS = {1: "127.0.0.2", 2: "127.0.0.3", 3: "127.0.0.4"}


def test_a_share_of_the_slots_goes_with_the_node_and_the_rest_stays():
    side, rest = split_slots(12, 0.5, random.Random(1))
    assert len(side) == 6 and sorted(side + rest) == list(range(12)) and not set(side) & set(rest)
    assert split_slots(12, 0.5, random.Random(1)) == (side, rest)  # seeded
    assert len(split_slots(12, 0.25, random.Random(2))[0]) == 3


def test_each_side_keeps_at_least_one_client():
    assert len(split_slots(12, 0.01, random.Random(1))[0]) == 1
    side, rest = split_slots(12, 0.99, random.Random(1))
    assert len(side) == 11 and len(rest) == 1
    assert split_slots(2, 0.5, random.Random(1))[0] in ([0], [1])
    side, rest = split_slots(1, 0.5, random.Random(1))
    assert (side, rest) == ([0], [])  # one client: it goes with the node


@pytest.mark.parametrize("slots,share", [(0, 0.5), (4, 0.0), (4, 1.0), (4, 1.5)])
def test_a_split_that_means_nothing_is_refused(slots, share):
    with pytest.raises(ValueError):
        split_slots(slots, share, random.Random(1))


def test_the_rules_cut_the_node_from_the_others_its_clients_from_them_and_the_rest_from_it():
    rules = isolation_rules(1, HOSTS, [client_gid(0)], [client_gid(1), client_gid(2)])
    node_pairs = {(r.src, r.dst) for r in rules if r.gid is None}
    assert node_pairs == {("127.0.0.2", "127.0.0.3"), ("127.0.0.3", "127.0.0.2"),
                          ("127.0.0.2", "127.0.0.4"), ("127.0.0.4", "127.0.0.2")}
    by_group = {}
    for r in rules:
        if r.gid is not None:
            assert r.src is None  # every client comes from 127.0.0.1: only its group tells it apart
            by_group.setdefault(r.gid, set()).add(r.dst)
    assert by_group == {CLIENT_GID_BASE: {"127.0.0.3", "127.0.0.4"},
                        CLIENT_GID_BASE + 1: {"127.0.0.2"}, CLIENT_GID_BASE + 2: {"127.0.0.2"}}
    with pytest.raises(ValueError, match="unknown node"):
        isolation_rules(9, HOSTS, [], [])


def test_a_rule_as_iptables_arguments():
    assert iptables_spec(DropRule(47001, None, "127.0.0.3")) == [
        "-m", "owner", "--gid-owner", "47001", "-d", "127.0.0.3", "-j", "DROP"]
    assert iptables_spec(DropRule(None, "127.0.0.2", "127.0.0.3")) == [
        "-s", "127.0.0.2", "-d", "127.0.0.3", "-j", "DROP"]
