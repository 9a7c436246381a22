"""The leader's HW and ISR rules (pure), the fetch wire format and the partitioner."""

from __future__ import annotations

import pytest

from kraft.replication.leader_state import LeaderState
from kraft.broker.partitioner import RoundRobin, keyless_candidates, murmur2, partition_for_key


def leader(isr=(1, 2, 3), leo=0, hw=0, now=0):
    return LeaderState(1, (1, 2, 3), isr, leader_epoch=5, partition_epoch=7, leo=leo, hw=hw,
                       now_ms=now)


def test_hw_waits_for_every_isr_member_and_ignores_out_of_sync_replicas():
    s = leader(isr=(1, 2))
    s.on_append(10)
    assert s.hw == 0  # follower 2 has not fetched yet: unknown LEO holds the HW
    moved, _ = s.on_follower_fetch(2, 6, now_ms=1)
    assert moved and s.hw == 6
    s.on_follower_fetch(3, 0, now_ms=1)  # 3 is not in the ISR: it cannot hold the HW back
    assert s.hw == 6
    s.on_follower_fetch(2, 10, now_ms=2)
    assert s.hw == 10


def test_hw_stands_still_while_the_isr_is_below_min_isr():
    s = LeaderState(1, (1, 2, 3), (1,), leader_epoch=5, partition_epoch=7, leo=4, hw=4,
                    now_ms=0, min_isr=2)
    assert not s.on_append(10) and s.hw == 4  # acks=1 writes wait unseen by consumers
    s.on_follower_fetch(2, 10, now_ms=1)  # caught up, proposed into the ISR: not in it yet
    assert s.hw == 4
    assert s.on_isr_committed((1, 2), partition_epoch=8) and s.hw == 10
    assert s.on_isr_committed((1,), partition_epoch=9) is False
    s.on_append(12)
    assert s.hw == 10
    assert s.on_min_isr(1) and s.hw == 12  # min ISR lowered: the HW catches up at once


def test_hw_never_decreases():
    s = leader(isr=(1, 2), leo=10, hw=8)
    s.on_follower_fetch(2, 10, now_ms=1)
    assert s.hw == 10
    s.on_follower_fetch(2, 3, now_ms=2)  # a follower that truncated cannot pull the HW back
    assert s.hw == 10


def test_caught_up_followers_stay_lagging_ones_are_proposed_out():
    s = leader(now=0)
    s.on_append(5)
    s.on_follower_fetch(2, 5, now_ms=1000)  # caught up
    s.on_follower_fetch(3, 2, now_ms=1000)  # behind
    assert s.shrink_proposal(now_ms=5000, max_lag_ms=5000) is None
    assert s.shrink_proposal(now_ms=5001, max_lag_ms=5000) == (1, 2)
    assert s.pending_isr == (1, 2)
    assert s.shrink_proposal(now_ms=9000, max_lag_ms=5000) is None  # one change in flight


def test_follower_catching_up_to_the_leo_of_its_previous_fetch_counts_as_caught_up():
    s = leader(now=0)
    s.on_append(10)
    s.on_follower_fetch(2, 4, now_ms=1000)  # leader LEO at that time: 10
    s.on_append(20)
    s.on_follower_fetch(2, 10, now_ms=4000)  # reached what the leader had at t=1000
    assert s.followers[2].last_caught_up_ms == 1000


def test_pending_shrink_keeps_counting_the_leaving_replica_until_committed():
    s = leader(isr=(1, 2, 3), leo=10)
    s.on_follower_fetch(2, 10, now_ms=1)
    s.on_follower_fetch(3, 4, now_ms=1)
    assert s.hw == 4
    s._propose((1, 2))
    s.on_append(12)
    s.on_follower_fetch(2, 12, now_ms=2)
    assert s.hw == 4  # 3 may still be in the ISR: the maximal ISR holds the HW
    assert s.on_isr_committed((1, 2), partition_epoch=8)
    assert s.hw == 12 and s.isr == (1, 2) and s.pending_isr is None


def test_expansion_when_a_follower_reaches_the_hw_and_the_epoch_start():
    s = leader(isr=(1, 2), leo=10, hw=10)
    assert s.epoch_start_offset == 10
    _, proposal = s.on_follower_fetch(3, 7, now_ms=1)
    assert proposal is None
    _, proposal = s.on_follower_fetch(3, 10, now_ms=2)
    assert proposal == (1, 2, 3)


def test_hw_established_only_once_it_reaches_the_epoch_start():
    s = leader(isr=(1, 2), leo=10, hw=6)  # became leader with a stale HW
    assert not s.hw_established
    s.on_follower_fetch(2, 10, now_ms=1)
    assert s.hw == 10 and s.hw_established


def test_min_insync_uses_the_committed_isr():
    s = leader(isr=(1,))
    assert not s.can_ack_all(2) and s.can_ack_all(1)


def test_single_replica_leader_commits_on_append():
    s = LeaderState(1, (1,), (1,), 1, 1, leo=0, hw=0, now_ms=0)
    assert s.on_append(3) and s.hw == 3


@pytest.mark.parametrize("text,expected", [
    # Kafka's own test vectors for Utils.murmur2
    ("21", -973932308), ("foobar", -790332482), ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971), ("abc", 479470107),
])
def test_murmur2_matches_kafka(text, expected):
    assert murmur2(text.encode()) == expected


def test_key_partitioning_is_stable_and_round_robin_spreads():
    assert {partition_for_key(b"user-42", 12) for _ in range(5)} == {partition_for_key(b"user-42", 12)}
    rr = RoundRobin()
    assert [rr.next(3) for _ in range(6)] == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize("leaders,node,expected", [
    ((1, 2, 3, 1), 1, (0, 3)),         # the partitions this node leads
    ((1, 2, 3), 3, (2,)),
    ((1, 2, -1), 4, (0, 1)),           # leads none: those with a leader
    ((1, 2, 3), None, (0, 1, 2)),      # hosts no replicas (controller only)
    ((-1, -1), 1, (0, 1)),             # no leader anywhere: all (the write says why)
])
def test_keyless_records_prefer_partitions_led_here(leaders, node, expected):
    assert keyless_candidates(leaders, node) == expected
