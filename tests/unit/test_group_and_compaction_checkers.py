"""The consumer-group and compaction checkers on hand-made histories: each passes a
correct run and fails the violation it exists to catch, naming it."""

from kraft.scenario.checks.compaction import check_compaction
from kraft.scenario.checks.groups import check_group_delivery, check_group_offsets
from kraft.scenario.history import OK, UNKNOWN, History


def group_history(events, final_committed, consumed=(), final=None) -> History:
    h = History("t", 2)
    h.group_events = list(events)
    h.group_final_committed = dict(final_committed)
    h.group_consumed = list(consumed)
    h.final_reads = final if final is not None else {0: [], 1: []}
    return h


REBALANCE = [
    (0, "g0", "assign", 0, -1), (0, "g0", "assign", 1, -1),
    (100, "g0", "commit-ok", 0, 10), (200, "g0", "commit-ok", 0, 25), (210, "g0", "commit-ok", 1, 7),
    (300, "g0", "revoke", 1, -1), (310, "g1", "assign", 1, -1),
    (400, "g1", "commit-ok", 1, 12), (500, "g0", "commit-fail", 0, 3),  # fenced: never counted
]


def test_group_offsets_pass_a_run_whose_commits_only_move_forward():
    result = check_group_offsets(group_history(REBALANCE, {0: 25, 1: 12}))
    assert result.ok, result.summary
    assert result.counts["commits"] == 4 and result.counts["assignments"] == 3


def test_group_offsets_catch_a_commit_going_backwards_within_an_assignment():
    events = REBALANCE + [(600, "g0", "commit-ok", 0, 20)]
    result = check_group_offsets(group_history(events, {0: 25, 1: 12}))
    assert not result.ok and result.counts["backwards"] == 1
    assert "offset 20" in result.examples[0] and "after 25" in result.examples[0]


def test_a_new_assignment_may_start_lower_but_an_acknowledged_commit_must_not_be_lost():
    # g1 takes partition 0 later and commits from an older position: allowed within its
    # own assignment, but the group ending below the acknowledged 25 is a lost commit
    events = REBALANCE + [(700, "g1", "assign", 0, -1), (800, "g1", "commit-ok", 0, 18)]
    assert check_group_offsets(group_history(events, {0: 25, 1: 12})).ok
    result = check_group_offsets(group_history(events, {0: 18, 1: 12}))
    assert not result.ok and result.counts["lost"] == 1
    assert "offset 25" in result.examples[0] and "is 18" in result.examples[0]


def test_group_delivery_needs_every_record_consumed_and_as_the_log_holds_it():
    final = {0: [(0, "a"), (1, "b")], 1: [(0, "c")]}
    consumed = [(0, 0, "a"), (0, 1, "b"), (0, 1, "b"), (1, 0, "c")]
    good = check_group_delivery(group_history(REBALANCE, {}, consumed, final))
    assert good.ok and good.counts["redelivered"] == 1
    missed = check_group_delivery(group_history(REBALANCE, {}, consumed[:2], final))
    assert not missed.ok and missed.counts["missed"] == 1 and "t-1 offset 0 (c)" in missed.examples[0]
    wrong = check_group_delivery(group_history(REBALANCE, {}, consumed + [(1, 0, "x")], final))
    assert not wrong.ok and wrong.counts["wrong"] == 1


def test_group_checkers_say_not_run_without_a_group():
    h = History("t", 1)
    assert check_group_offsets(h).summary.startswith("not run")
    assert check_group_delivery(h).summary.startswith("not run")
    assert check_compaction(h).summary.startswith("not run")


def compacted(writes, final) -> History:
    h = History("t", 1)
    h.compacted_writes, h.compacted_final = list(writes), list(final)
    return h


WRITES = [("k1", "c-1", OK, 0), ("k2", "c-2", OK, 1), ("k1", "c-3", OK, 2), ("k2", "c-4", UNKNOWN, None)]


def test_compaction_passes_when_each_key_keeps_its_latest_value():
    # c-1 compacted away; k2's unanswered write landed at offset 3 and is now its latest
    assert check_compaction(compacted(WRITES, [(1, "k2", "c-2"), (2, "k1", "c-3")])).ok
    assert check_compaction(compacted(WRITES, [(2, "k1", "c-3"), (3, "k2", "c-4")])).ok


def test_compaction_fails_when_the_latest_value_is_dropped_or_an_older_one_kept():
    dropped = check_compaction(compacted(WRITES, [(1, "k2", "c-2")]))
    assert not dropped.ok and "key k1" in dropped.examples[0] and "is gone" in dropped.examples[0]
    stale = check_compaction(compacted(WRITES, [(0, "k1", "c-1"), (1, "k2", "c-2")]))
    assert not stale.ok and "replaced by 'c-1'" in stale.examples[0]
    foreign = check_compaction(compacted(WRITES, [(2, "k1", "c-3"), (5, "k2", "c-3")]))
    assert not foreign.ok and "never written for this key" in foreign.examples[0]
