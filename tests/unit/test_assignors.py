"""Partition assignors: known layouts, determinism, balance and stickiness."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.groups.assignors import STRATEGIES, UnknownStrategyError, assign

TWO_TOPICS = {"t0": 3, "t1": 3}


def owners(assignment):
    return {tp: m for m, tps in assignment.items() for tp in tps}


def moved(previous, current):
    """Partitions that changed owner while their previous owner is still a member."""
    before, after = owners(previous), owners(current)
    return sum(1 for tp, m in before.items() if m in current and after.get(tp) != m)


# --- known layouts (the examples of Kafka's assignor documentation) ----------------------

def test_range_known_layout():
    got = assign("range", {"C1": ["t0", "t1"], "C0": ["t0", "t1"]}, TWO_TOPICS)
    assert got == {"C0": [("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)], "C1": [("t0", 2), ("t1", 2)]}


def test_range_first_members_get_the_extra_partitions():
    got = assign("range", {"a": ["t"], "b": ["t"], "c": ["t"]}, {"t": 7})
    assert got == {"a": [("t", 0), ("t", 1), ("t", 2)], "b": [("t", 3), ("t", 4)], "c": [("t", 5), ("t", 6)]}


def test_roundrobin_known_layout():
    got = assign("roundrobin", {"C0": ["t0", "t1"], "C1": ["t0", "t1"]}, TWO_TOPICS)
    assert got == {"C0": [("t0", 0), ("t0", 2), ("t1", 1)], "C1": [("t0", 1), ("t1", 0), ("t1", 2)]}


def test_roundrobin_skips_members_not_subscribed():
    members = {"C0": ["t0"], "C1": ["t0", "t1"], "C2": ["t0", "t1", "t2"]}
    got = assign("roundrobin", members, {"t0": 1, "t1": 2, "t2": 3})
    assert got == {"C0": [("t0", 0)], "C1": [("t1", 0)], "C2": [("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_unknown_topics_and_empty_subscriptions(strategy):
    got = assign(strategy, {"a": ["t", "missing"], "b": [], "c": ["empty"]}, {"t": 2, "empty": 0})
    assert got == {"a": [("t", 0), ("t", 1)], "b": [], "c": []}


def test_unknown_strategy_is_the_callers_fault():
    with pytest.raises(UnknownStrategyError, match="caller's fault"):
        assign("cooperative-magic", {"a": ["t"]}, {"t": 1})


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_deterministic_whatever_the_input_order(strategy):
    members = {f"m{i}": [f"t{j}" for j in range(4) if (i + j) % 3] for i in range(6)}
    partitions = {f"t{j}": j + 2 for j in range(4)}
    previous = assign("range", members, partitions)
    expected = assign(strategy, members, partitions, previous)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = dict(rng.sample(sorted(members.items()), len(members)))
        prev = {m: rng.sample(tps, len(tps)) for m, tps in rng.sample(sorted(previous.items()), len(previous))}
        assert assign(strategy, shuffled, dict(reversed(partitions.items())), prev) == expected


# --- stickiness --------------------------------------------------------------------------

def test_sticky_member_joins_moves_only_what_balance_needs():
    members = {m: ["t0", "t1"] for m in ("a", "b", "c")}
    partitions = {"t0": 10, "t1": 8}
    before = assign("sticky", members, partitions)
    after = assign("sticky", {**members, "d": ["t0", "t1"]}, partitions, before)
    # 18 partitions over 4 members: 5,5,4,4. Each of a, b, c had 6; d needs 4 of them.
    assert sorted(len(tps) for tps in after.values()) == [4, 4, 5, 5]
    assert moved(before, after) == 4
    for m in members:
        assert set(after[m]) <= set(before[m])
    rr = assign("roundrobin", {**members, "d": ["t0", "t1"]}, partitions)
    assert moved(before, rr) > 4


def test_sticky_member_leaves_moves_only_its_partitions():
    members = {m: ["t0", "t1"] for m in ("a", "b", "c", "d")}
    partitions = {"t0": 7, "t1": 6}
    before = assign("sticky", members, partitions)
    del members["b"]
    after = assign("sticky", members, partitions, before)
    assert moved(before, after) == 0
    for m in members:
        assert set(before[m]) <= set(after[m])
    assert max(map(len, after.values())) - min(map(len, after.values())) <= 1


def test_sticky_ignores_stale_junk_in_previous():
    previous = {"a": [("t", 0), ("t", 1), ("t", 99), ("gone", 0)], "b": [("t", 1), ("t", 2)], "ghost": [("t", 3)]}
    got = assign("sticky", {"a": ["t"], "b": ["t"]}, {"t": 4}, previous)
    assert owners(got).keys() == {("t", p) for p in range(4)}
    assert ("t", 0) in got["a"] and ("t", 2) in got["b"]
    assert [len(got["a"]), len(got["b"])] == [2, 2]


# --- properties --------------------------------------------------------------------------

TOPICS = ["t0", "t1", "t2", "t3"]


@st.composite
def groups(draw):
    partitions = {t: draw(st.integers(0, 9)) for t in TOPICS}
    ids = draw(st.lists(st.sampled_from([f"m{i}" for i in range(8)]), min_size=1, max_size=7, unique=True))
    homogeneous = draw(st.booleans())
    shared = draw(st.sets(st.sampled_from(TOPICS)))
    members = {m: sorted(shared if homogeneous else draw(st.sets(st.sampled_from(TOPICS)))) for m in ids}
    previous = draw(st.dictionaries(st.sampled_from([f"m{i}" for i in range(8)]),
                                    st.lists(st.tuples(st.sampled_from(TOPICS), st.integers(0, 9)), max_size=8)))
    return members, partitions, previous


def check_valid(members, partitions, got):
    assert set(got) == set(members)
    subscribed = [(t, p) for t in partitions if any(t in s for s in members.values()) for p in range(partitions[t])]
    flat = [tp for tps in got.values() for tp in tps]
    assert sorted(flat) == sorted(subscribed)  # every subscribed partition exactly once
    for m, tps in got.items():
        assert all(t in members[m] for t, _ in tps)


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
@settings(max_examples=300, deadline=None)
@given(groups(), st.sampled_from(STRATEGIES))
def test_every_subscribed_partition_assigned_exactly_once(group, strategy):
    members, partitions, previous = group
    check_valid(members, partitions, assign(strategy, members, partitions, previous))


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
@settings(max_examples=300, deadline=None)
@given(groups())
def test_sticky_is_balanced(group):
    members, partitions, previous = group
    got = assign("sticky", members, partitions, previous)
    for a, tps in got.items():
        for b in got:
            if any(t in members[b] for t, _ in tps):
                assert len(tps) <= len(got[b]) + 1, (a, b, got)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 30), st.integers(1, 8), st.integers(0, 4), st.data())
def test_sticky_moves_the_minimum_with_one_subscription(count, old_members, joined, data):
    """Start from any valid assignment, let members leave and join: the sticky assignor
    keeps the most partitions a balanced assignment can keep."""
    tps = [("t", p) for p in range(count)]
    owner = [data.draw(st.integers(0, old_members - 1)) for _ in tps]
    previous = {f"m{i}": [tp for tp, o in zip(tps, owner) if o == i] for i in range(old_members)}
    stay = data.draw(st.sets(st.sampled_from(sorted(previous))))
    members = {m: ["t"] for m in stay} | {f"new{i}": ["t"] for i in range(joined)}
    if not members:
        return
    got = assign("sticky", members, {"t": count}, previous)
    check_valid(members, {"t": count}, got)
    base, extra = divmod(count, len(members))
    kept = sorted((len(previous.get(m, [])) for m in members), reverse=True)
    best = sum(min(k, base + (i < extra)) for i, k in enumerate(kept))
    assert moved(previous, got) == sum(kept) - best
