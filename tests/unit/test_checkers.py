"""The nine scenario checkers on small hand-made histories: each passes a clean one and
fails a deliberately broken one."""

from __future__ import annotations

from kraft.scenario.checks.liveness import recovered
from kraft.scenario.checks.checkers import (
    CHECKERS,
    check_aborted_reads,
    check_duplicates,
    check_inconsistent_offsets,
    check_liveness,
    check_lost_writes,
    check_monotonic,
    check_order,
    check_replica_divergence,
    check_unclean_accounting,
    run_checkers,
)
from kraft.scenario.history import (
    FAIL,
    OK,
    UNKNOWN,
    FaultEvent,
    History,
    Read,
    Sample,
    Write,
)
from kraft.config.scenarios import CHECK_NAMES


def clean(writes: int = 6, partitions: int = 2, acks: str = "all") -> History:
    """p0 writes `writes` values round-robin over the partitions, all acknowledged; each
    partition is read in order by c<p>, fully read at the end, and identical on brokers
    1-3 (all in the ISR); samples show a steady leader 1 and a growing HW."""
    h = History("t", partitions)
    next_offset = {p: 0 for p in range(partitions)}
    for seq in range(1, writes + 1):
        p = seq % partitions
        w = Write("p0", seq, f"p0-{seq}", p, acks, invoke_ms=10.0 * seq, complete_ms=10.0 * seq + 5,
                  outcome=OK, offset=next_offset[p])
        next_offset[p] += 1
        h.writes.append(w)
        h.reads.append(Read(f"c{p}", p, w.offset, w.value, 10.0 * seq + 7))
    for p in range(partitions):
        records = [(r.offset, r.value) for r in h.reads if r.partition == p]
        h.final_reads[p] = list(records)
        h.final_end_offsets[p] = len(records)
        h.replica_logs[p] = {b: [(o, 1, v) for o, v in records] for b in (1, 2, 3)}
        h.final_isr[p] = [1, 2, 3]
        h.final_read_complete[p] = True
        for i, t in enumerate((0.0, 30.0, 100.0)):
            h.samples.append(Sample(t, p, 1, 1, [1, 2, 3], min(i, len(records)), 0, 1, 1))
    h.heal_ms = 30.0
    h.first_ok_after_heal_ms = 35.0
    return h


def write(h: History, seq: int) -> Write:
    return next(w for w in h.writes if w.seq == seq)


def drop_from_final(h: History, value: str) -> None:
    for p in h.final_reads:
        h.final_reads[p] = [(o, v) for o, v in h.final_reads[p] if v != value]


def test_checkers_are_the_ten_in_scenario_order_and_pass_a_clean_history():
    assert tuple(CHECKERS) == CHECK_NAMES
    results = run_checkers(clean(), bound_ms=1000)
    assert [r.name for r in results] == list(CHECK_NAMES)
    for r in results:
        assert r.ok, (r.name, r.summary, r.examples)
        assert r.summary and "\n" not in r.summary


# -- 1 lost writes ------------------------------------------------------------------------
def test_lost_writes_clean():
    r = check_lost_writes(clean())
    assert r.ok and r.counts["acknowledged"] == 6 and r.counts["lost"] == 0


def test_lost_writes_detects_missing_acknowledged_write():
    h = clean()
    drop_from_final(h, "p0-3")
    r = check_lost_writes(h)
    assert not r.ok
    assert r.counts["lost"] == 1 and r.counts["lost_acks_all"] == 1
    assert "p0-3" in r.examples[0] and "t-1" in r.examples[0] and "offset 1" in r.examples[0]


def test_a_lost_write_says_what_each_replica_holds_at_its_offset():
    """The example names the mechanism: hidden from the read while replicas keep it (with
    the producer batch and the markers after it), or replaced on a replica."""
    h = clean()
    drop_from_final(h, "p0-3")  # t-1 offset 1: every replica still has it
    w = write(h, 3)
    h.producer_batches[1] = [(1, 1, 42, 0, 0)]
    h.control_offsets[1] = [2, 5]
    h.replica_logs[1][3] = [(o, 1, "other" if o == 1 else v) for o, _, v in h.replica_logs[1][3]]
    example = check_lost_writes(h).examples[0]
    assert f"broker 1 has it at {w.offset}" in example and f"broker 2 has it at {w.offset}" in example
    assert "broker 3 has other at 1" in example
    assert "producer 42 epoch 0 wrote 1..1" in example and "next markers at 2, 5" in example


def test_lost_writes_acks1_counted_by_level():
    h = clean(acks="1")
    drop_from_final(h, "p0-2")
    r = check_lost_writes(h)
    assert not r.ok and r.counts["lost_acks_1"] == 1 and r.counts["acknowledged_acks_1"] == 6


def test_unknown_outcomes_are_never_lost_but_counted_when_found():
    h = clean()
    write(h, 2).outcome, write(h, 2).offset = UNKNOWN, None  # landed (it is in the final read)
    write(h, 3).outcome, write(h, 3).offset = UNKNOWN, None
    drop_from_final(h, "p0-3")  # did not land
    r = check_lost_writes(h)
    assert r.ok
    assert r.counts["unknown_outcome"] == 2 and r.counts["unknown_outcome_found"] == 1


def test_acks0_ok_writes_are_not_lost_writes():
    h = clean(acks="0")
    drop_from_final(h, "p0-4")
    r = check_lost_writes(h)
    assert r.ok and r.counts["acknowledged"] == 0 and r.counts["acks0_ok"] == 6


def test_lost_writes_examples_are_capped():
    h = clean(writes=40)
    for p in h.final_reads:
        h.final_reads[p] = []
    r = check_lost_writes(h)
    assert r.counts["lost"] == 40 and len(r.examples) <= 11 and "30 more" in r.examples[-1]


# -- 2 duplicates -------------------------------------------------------------------------
def test_duplicates_clean_even_with_rereads():
    h = clean()
    h.reads += [Read("c9", r.partition, r.offset, r.value, 500.0) for r in h.reads]
    r = check_duplicates(h)
    assert r.ok and r.counts["values"] == 6 and r.counts["duplicated"] == 0


def test_duplicates_detects_value_at_two_offsets():
    h = clean()
    for b in (1, 2, 3):
        h.replica_logs[0][b].append((3, 2, "p0-2"))  # p0-2 is already at t-0 offset 0
    r = check_duplicates(h)
    assert not r.ok and r.counts["duplicated"] == 1
    assert "p0-2" in r.examples[0] and "offset 0" in r.examples[0] and "offset 3" in r.examples[0]


def test_duplicates_a_retry_appended_twice_under_one_epoch_fails_and_names_the_writer():
    """The cluster's failure to deduplicate: one producer, one epoch, one sequence, twice."""
    h = clean()
    for b in (1, 2, 3):
        h.replica_logs[0][b].append((3, 2, "p0-2"))
    h.producer_batches[0] = [(0, 2, 7001, 0, 0), (3, 3, 7001, 0, 0)]
    r = check_duplicates(h)
    assert not r.ok and r.counts["duplicated"] == 1 and r.counts["client_resent"] == 0
    assert "offset 0, written by producer 7001 epoch 0 sequence 0" in r.examples[0]
    assert "offset 3, written by producer 7001 epoch 0 sequence 0" in r.examples[0]


def test_duplicates_tell_a_client_resend_under_a_bumped_epoch_apart():
    """Copies under two epochs of one producer: the client re-sent (its epoch is its own
    choice); counted and shown, and not the cluster's failure."""
    h = clean()
    for b in (1, 2, 3):
        h.replica_logs[0][b].append((3, 2, "p0-2"))
    h.producer_batches[0] = [(0, 2, 7001, 0, 0), (3, 3, 7001, 1, 0)]  # offsets 0-2 epoch 0; 3 epoch 1
    r = check_duplicates(h)
    assert r.ok and r.counts["duplicated"] == 0 and r.counts["client_resent"] == 1
    assert "1 more re-sent by their idempotent client" in r.summary
    assert r.examples[0].startswith("re-sent by the client under a new epoch: p0-2")
    assert "offset 3, written by producer 7001 epoch 1 sequence 0" in r.examples[0]


def test_duplicates_by_two_producers_or_an_unknown_writer_still_fail():
    h = clean()
    for b in (1, 2, 3):
        h.replica_logs[0][b].append((3, 2, "p0-2"))
    h.producer_batches[0] = [(0, 2, 7001, 0, 0), (3, 3, 7002, 1, 0)]  # another producer id
    assert not check_duplicates(h).ok
    h.producer_batches[0] = [(0, 2, 7001, 0, 0)]  # offset 3's writer unknown (not idempotent)
    assert not check_duplicates(h).ok


# -- 3 inconsistent offsets ---------------------------------------------------------------
def test_inconsistent_offsets_clean_ignores_uncommitted_replica_tail():
    h = clean()
    h.replica_logs[0][3].append((3, 2, "p0-99"))  # above the HW (3): may differ
    h.replica_logs[0][2].append((3, 2, "p0-98"))
    r = check_inconsistent_offsets(h)
    assert r.ok and r.counts["inconsistent"] == 0


def test_inconsistent_offsets_detects_read_disagreeing_with_final_read():
    h = clean()
    h.reads.append(Read("c5", 1, 0, "p0-77", 300.0))
    r = check_inconsistent_offsets(h)
    assert not r.ok and r.counts["inconsistent"] == 1
    assert "t-1 offset 0" in r.examples[0] and "p0-77" in r.examples[0]


def test_inconsistent_offsets_detects_committed_replica_record_disagreeing():
    h = clean()
    h.replica_logs[0][2][1] = (1, 1, "p0-66")
    assert not check_inconsistent_offsets(h).ok


# -- 4 replica divergence -----------------------------------------------------------------
def test_replica_divergence_clean():
    r = check_replica_divergence(clean())
    assert r.ok and r.counts["isr_replicas_compared"] == 4 and r.counts["divergent_partitions"] == 0


def test_replica_divergence_detects_differing_epoch_in_isr():
    h = clean()
    o, _, v = h.replica_logs[1][3][0]
    h.replica_logs[1][3][0] = (o, 2, v)
    r = check_replica_divergence(h)
    assert not r.ok and r.counts["divergent_partitions"] == 1
    assert "broker 3" in r.examples[0] and "epoch 2" in r.examples[0]


def test_replica_divergence_detects_short_isr_replica():
    h = clean()
    h.replica_logs[0][2].pop()
    r = check_replica_divergence(h)
    assert not r.ok and "more records" in r.examples[0]


def test_replica_divergence_outside_isr_and_above_hw_are_not_failures():
    h = clean()
    h.final_isr[0] = [1, 2]
    h.replica_logs[0][3] = h.replica_logs[0][3][:1]  # stale replica outside the ISR
    h.replica_logs[0][1].append((3, 2, "p0-50"))  # uncommitted tail on the leader
    r = check_replica_divergence(h)
    assert r.ok
    assert r.counts["outside_isr_replicas"] == 1 and r.counts["outside_isr_divergent"] == 1


# -- 5 order ------------------------------------------------------------------------------
def test_order_clean():
    r = check_order(clean())
    assert r.ok and r.counts["producer_pairs"] == 4 and r.counts["consumer_reads"] == 12


def test_order_detects_producer_reversal():
    h = clean()
    write(h, 4).offset = 0  # after p0-2 at offset 0 on t-0
    r = check_order(h)
    assert not r.ok and r.counts["producer_reversals"] == 1 and "p0-4" in r.examples[0]


def test_order_excuses_a_reversal_after_the_earlier_write_was_lost_but_not_otherwise():
    # acks=1: p0-2 acknowledged at offset 0 by a leader that died before replicating it;
    # the new leader gave offset 0 to p0-4. The loss is lost_writes' business.
    h = clean()
    write(h, 4).offset = 0
    drop_from_final(h, "p0-2")
    r = check_order(h)
    assert r.ok and r.counts["producer_reversals_after_loss"] == 1
    assert "1 more after a lost write" in r.summary
    h.final_read_complete[0] = False  # not known to be lost: a reversal again
    assert not check_order(h).ok


def test_order_detects_consumer_gap():
    h = clean()
    h.reads = [r for r in h.reads if not (r.partition == 0 and r.offset == 1)]
    r = check_order(h)
    assert not r.ok and r.counts["consumer_gaps"] == 1 and "c0" in r.examples[0]


def test_order_detects_consumer_reversal_without_fault():
    h = clean()
    h.reads.append(Read("c0", 0, 0, "p0-2", 200.0))
    r = check_order(h)
    assert not r.ok and r.counts["consumer_reversals"] == 1


def test_order_allows_reread_after_a_fault():
    h = clean()
    h.faults.append(FaultEvent(150.0, "kill", [1]))
    h.reads.append(Read("c0", 0, 0, "p0-2", 200.0))
    h.reads.append(Read("c0", 0, 1, "p0-4", 201.0))
    r = check_order(h)
    assert r.ok and r.counts["consumer_restarts"] == 1


def test_order_checks_the_final_read_too():
    h = clean()
    h.final_reads[1] = [(0, "p0-1"), (2, "p0-5")]
    r = check_order(h)
    assert not r.ok and "final read" in r.examples[0]


# -- 6 aborted reads ----------------------------------------------------------------------
def test_aborted_reads_clean_with_unseen_failed_write():
    h = clean()
    h.writes.append(Write("p0", 7, "p0-7", 1, "all", 70.0, 75.0, FAIL, None, "NOT_ENOUGH_REPLICAS"))
    r = check_aborted_reads(h)
    assert r.ok and r.counts["failed"] == 1 and r.counts["seen"] == 0


def test_aborted_reads_detects_failed_write_that_was_read():
    h = clean()
    w = write(h, 3)
    w.outcome, w.offset, w.error = FAIL, None, "NOT_ENOUGH_REPLICAS"
    r = check_aborted_reads(h)
    assert not r.ok and r.counts["seen"] == 1 and "p0-3" in r.examples[0]


def test_aborted_reads_detects_failed_write_only_in_a_replica_tail():
    h = clean()
    h.writes.append(Write("p0", 7, "p0-7", 1, "all", 70.0, 75.0, FAIL))
    h.replica_logs[1][2].append((3, 1, "p0-7"))
    r = check_aborted_reads(h)
    assert not r.ok and "broker 2" in r.examples[0]


# -- 7 monotonic --------------------------------------------------------------------------
def test_monotonic_clean_ignores_unknown_hw_and_no_leader():
    h = clean()
    h.samples.append(Sample(110.0, 0, None, 1, [1], None, 0, 1, 1))
    h.samples.append(Sample(120.0, 0, 2, 2, [2], 3, 0, 2, 2))
    r = check_monotonic(h)
    assert r.ok and r.counts["samples"] == 8


def test_monotonic_detects_hw_decrease():
    h = clean()
    h.samples.append(Sample(110.0, 1, 1, 1, [1, 2, 3], 0, 0, 1, 1))
    r = check_monotonic(h)
    assert not r.ok and r.counts["hw_decreases"] == 1 and "t-1" in r.examples[0]


def test_monotonic_detects_epoch_decrease():
    h = clean()
    h.samples.append(Sample(110.0, 0, 2, 3, [2], 3, 0, 1, 1))
    h.samples.append(Sample(120.0, 0, 2, 2, [2], 3, 0, 1, 1))
    r = check_monotonic(h)
    assert not r.ok and r.counts["epoch_decreases"] == 1


def test_monotonic_detects_two_leaders_in_one_epoch():
    h = clean()
    h.samples.append(Sample(110.0, 0, 2, 1, [2], 3, 0, 1, 1))
    r = check_monotonic(h)
    assert not r.ok and r.counts["epochs_with_two_leaders"] == 1
    assert "epoch 1" in r.examples[0] and "node 2" in r.examples[0]


def test_monotonic_detects_two_controllers_in_one_term():
    h = clean()
    h.samples.append(Sample(110.0, 0, 1, 1, [1], 3, 0, 3, 1))
    r = check_monotonic(h)
    assert not r.ok and r.counts["terms_with_two_controllers"] == 1


# -- 8 unclean accounting -----------------------------------------------------------------
def test_unclean_accounting_passes_without_loss():
    r = check_unclean_accounting(clean())
    assert r.ok and r.counts["lost"] == 0 and r.counts["unclean_elections"] == 0


def test_lost_write_with_later_unclean_election_is_attributed():
    h = clean()
    drop_from_final(h, "p0-3")  # t-1, acknowledged at 35 ms
    h.samples.append(Sample(140.0, 1, 2, 2, [2], 2, 1, 1, 1))
    r = check_unclean_accounting(h)
    assert r.ok and r.counts["attributed"] == 1 and r.counts["unclean_elections"] == 1
    assert "attributed" in r.examples[0] and "140 ms" in r.examples[0]
    assert not check_lost_writes(h).ok  # loss IS detected; it is only accounted for


def test_lost_write_without_unclean_election_is_not_attributed():
    h = clean()
    drop_from_final(h, "p0-3")
    r = check_unclean_accounting(h)
    assert not r.ok and r.counts["unattributed"] == 1 and "p0-3" in r.examples[0]


def test_unclean_election_before_the_write_or_on_another_partition_does_not_count():
    h = clean()
    drop_from_final(h, "p0-5")  # t-1, acknowledged at 55 ms
    h.samples.append(Sample(40.0, 1, 2, 2, [2], 1, 1, 1, 1))  # increase seen before the ack
    h.samples.append(Sample(140.0, 0, 2, 2, [2], 3, 1, 1, 1))  # later, but on t-0
    r = check_unclean_accounting(h)
    assert not r.ok and r.counts["attributed"] == 0 and r.counts["unclean_elections"] == 2


# -- 9 liveness ---------------------------------------------------------------------------
def test_liveness_clean():
    r = check_liveness(clean(), bound_ms=1000)
    assert r.ok and r.counts["recovery_ms"] == 5


def test_liveness_fails_when_recovery_exceeds_bound():
    h = clean()
    h.first_ok_after_heal_ms = 20030.0
    r = check_liveness(h)
    assert not r.ok and r.counts["recovery_ms"] == 20000 and "20.0 s" in r.examples[0]


def test_liveness_fails_without_ok_write_after_heal_and_derives_it_when_missing():
    h = clean()
    h.first_ok_after_heal_ms = None
    assert check_liveness(h).counts["recovery_ms"] == 5  # derived from the writes
    h.heal_ms = 1000.0
    r = check_liveness(h)
    assert not r.ok and r.counts["recovery_ms"] == -1


def test_liveness_fails_on_incomplete_final_read():
    h = clean()
    h.final_read_complete[1] = False
    r = check_liveness(h)
    assert not r.ok and r.counts["final_read_incomplete"] == 1 and "t-1" in r.examples[0]
    del h.final_read_complete[1]
    assert not check_liveness(h).ok


def test_liveness_without_heal_needs_one_ok_write():
    h = clean()
    h.heal_ms = h.first_ok_after_heal_ms = None
    assert check_liveness(h).ok
    for w in h.writes:
        w.outcome = UNKNOWN
    assert not check_liveness(h).ok


def test_recovered_needs_a_write_since_healing_and_every_isr_whole():
    h = clean()  # healed at 30 ms, writes acknowledged after it, samples at 100 ms with [1, 2, 3]
    assert recovered(h, 3)
    h.samples.append(Sample(110.0, 1, 1, 1, [1, 2], 2, 0, 1, 1))  # t-1's newest: a replica still out
    assert not recovered(h, 3) and recovered(h, 2)
    h.samples.append(Sample(120.0, 1, 1, 1, [1, 2, 3], 2, 0, 1, 1))
    assert recovered(h, 3)
    h.heal_ms = 1000.0  # no write and no sample since healing
    assert not recovered(h, 3)
    h.heal_ms = None
    assert not recovered(h, 3)


def test_history_json_round_trip_keeps_verdicts():
    h = clean()
    drop_from_final(h, "p0-3")
    again = History.from_json(h.to_json())
    assert [r.ok for r in run_checkers(again)] == [r.ok for r in run_checkers(h)]


# -- 10 access (security on) ---------------------------------------------------------------
def test_access_passes_when_every_intruder_attempt_was_refused_or_unanswered():
    from kraft.scenario.checks.checkers import check_access
    h = clean()
    assert check_access(h).ok and "not run" in check_access(h).summary  # security off
    h.access_probes = [(1.0, "produce as intruder", "http://n1", 403), (2.0, "read as intruder", "http://n2", 401),
                       (3.0, "delete the topic", "http://n3", 0)]
    result = check_access(h)
    assert result.ok and result.counts == {"attempts": 3, "refused": 2, "served": 0, "planted": 0}


def test_access_fails_on_a_served_attempt_and_on_an_intruder_value_in_a_log():
    from kraft.scenario.checks.checkers import check_access
    h = clean()
    h.access_probes = [(1.0, "grant itself an ACL", "http://n1", 201)]
    result = check_access(h)
    assert not result.ok and "grant itself an ACL" in result.examples[0]
    h = clean()
    h.access_probes = [(1.0, "produce as intruder", "http://n1", 403)]
    h.replica_logs[0][2].append((99, 1, "intruder-7"))
    result = check_access(h)
    assert not result.ok and result.counts["planted"] == 1 and "offset 99" in result.examples[0]


def test_elections_row_counts_the_raft_term_rise_over_the_run():
    from kraft.config.scenarios import Expectations
    from kraft.scenario.verdict import judge

    h = clean()  # every sample at Raft term 1
    verdict, facts = judge(Expectations(max_elections=0), [], h)
    row = next(r for r in verdict.rows if r.name == "elections")
    assert row.ok and facts["elections"] == 0 and row.summary == "Raft term 1 -> 1 over the run: 0 elections"
    h.samples.append(Sample(500.0, 0, 1, 1, [1, 2, 3], 6, 0, 2, 4))  # a re-election at term 4
    verdict, facts = judge(Expectations(max_elections=0), [], h)
    row = next(r for r in verdict.rows if r.name == "elections")
    assert not row.ok and facts["elections"] == 3 and row.actual == "3"
    assert judge(Expectations(max_elections=3), [], h)[0].ok
    assert not any(r.name == "elections" for r in judge(Expectations(), [], h)[0].rows)  # not asked: no row
    h.samples.clear()  # nothing sampled: nothing shows the term stayed, so the row cannot pass
    assert not judge(Expectations(max_elections=0), [], h)[0].ok
