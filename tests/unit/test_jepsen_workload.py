"""The pure parts of the lab's Jepsen workloads: the op generator, the history lines and
rate, the writes they lend the lab's checkers, the verdict rows and expectations, the
report fields; and the lab's checks with transaction markers in the logs. The client
processes themselves run in tests/cluster/test_scenarios.py."""

from __future__ import annotations

import json
import random

import pytest

from kraft.scenario.checks.order import check_order
from kraft.scenario.history import FAIL, OK, UNKNOWN, History, Read, Write
from kraft.scenario.jepsen.checks import ANOMALY_NAMES, check_jepsen_history
from kraft.scenario.jepsen.gen import Mix, OpGenerator, key_of, partition_of
from kraft.scenario.jepsen.history import parse_history
from kraft.scenario.jepsen.record import (
    OpStats,
    completion_line,
    invoke_line,
    mirror_writes,
    nemesis_line,
    settle_writes,
)
from kraft.scenario.report import write_reports
from kraft.scenario.runner import RunResult, _tail_of_markers
from kraft.config.scenarios import ScenarioError, load_scenario, load_scenario_text
from kraft.scenario.verdict import Verdict, judge, jepsen_rows


# --- the generator ---------------------------------------------------------------------

def ops(mode: str, n: int, seed: int = 1, mix: Mix = Mix()) -> list[dict]:
    gen = OpGenerator(mode, "t", 4, random.Random(seed), mix)
    return [gen.first()] + [gen.next() for _ in range(n)]


def test_the_generator_is_seeded_and_every_value_is_unique():
    assert ops("queue", 500, seed=3) == ops("queue", 500, seed=3)
    assert ops("queue", 500, seed=3) != ops("queue", 500, seed=4)
    values = [m[2] for op in ops("txn", 2000) if op["f"] in ("send", "txn") for m in op["value"] if m[0] == "send"]
    assert len(values) == len(set(values)) > 2000


def test_a_new_client_first_assigns_or_subscribes():
    firsts = {OpGenerator("queue", "t", 4, random.Random(s)).first()["f"] for s in range(20)}
    assert firsts == {"assign", "subscribe"}
    firsts_ops = [OpGenerator("queue", "t", 4, random.Random(s)).first() for s in range(20)]
    sub = next(o for o in firsts_ops if o["f"] == "subscribe")
    assert sub["value"] == ["t-0", "t-1", "t-2", "t-3"]  # the topic: every key


def test_queue_ops_are_single_sends_and_polls_in_the_asked_mix():
    got = ops("queue", 4000, mix=Mix(poll_share=0.25, reassign_share=0.0, crash_share=0.0))[1:]
    assert {o["f"] for o in got} == {"send", "poll"}
    polls = sum(o["f"] == "poll" for o in got)
    assert 800 < polls < 1200
    sends = [o for o in got if o["f"] == "send"]
    assert all(len(o["value"]) == 1 and o["value"][0][1] in {key_of("t", p) for p in range(4)} for o in sends)


def test_txn_ops_send_to_several_keys_with_polls_among_the_sends():
    got = [o for o in ops("txn", 500, mix=Mix(reassign_share=0.0, crash_share=0.0)) if o["f"] == "txn"]
    assert len(got) == 500
    for o in got:
        sends = [m for m in o["value"] if m[0] == "send"]
        assert 2 <= len(sends) <= 4 and 1 <= len(o["value"]) - len(sends) <= 2
    assert any(len({m[1] for m in o["value"] if m[0] == "send"}) >= 2 for o in got)


def test_crashes_and_reassignments_come_at_their_share():
    got = ops("queue", 10_000, mix=Mix(crash_share=0.01, reassign_share=0.05))[1:]
    crashes = sum(o["f"] == "crash" for o in got)
    reassigns = sum(o["f"] in ("assign", "subscribe") for o in got)
    assert 50 < crashes < 160 and 350 < reassigns < 650
    with pytest.raises(ValueError):
        OpGenerator("bank", "t", 4, random.Random(1))


def test_txn_ops_marked_to_abort_come_at_their_share_and_only_when_asked():
    assert not any(o.get("abort") for o in ops("txn", 2000))
    assert ops("txn", 500, seed=5) == ops("txn", 500, seed=5, mix=Mix(abort_share=0.0))  # seeds keep their ops
    got = [o for o in ops("txn", 4000, mix=Mix(abort_share=0.1, reassign_share=0.0, crash_share=0.0))
           if o["f"] == "txn"]
    assert 300 < sum(bool(o.get("abort")) for o in got) < 500
    line = invoke_line(0, 1, 0, next(o for o in got if o.get("abort")))
    assert set(line) == {"index", "time_ns", "process", "type", "f", "value"}  # the history holds the ops only


def test_the_negative_controls_knobs_are_checked():
    with pytest.raises(ScenarioError, match="acks"):
        load_scenario_text('name = "j"\n[workload]\njepsen = "txn"\nacks = "1"', "test")
    with pytest.raises(ScenarioError, match="Jepsen workload"):
        load_scenario_text('name = "j"\n[[faults]]\nat = 1\nfault = "isolate-with-clients"', "test")
    with pytest.raises(ScenarioError):
        load_scenario_text('name = "j"\n[workload]\njepsen = "queue"\nisolation = "dirty"', "test")
    s = load_scenario_text('name = "j"\n[workload]\njepsen = "queue"\nacks = "1"\n'
                           '[[faults]]\nat = 1\nfault = "isolate-with-clients"\ntarget = "leader:t-0"', "test")
    assert s.needs_client_sides and s.needs_network and s.workload.acks == "1"
    assert not load_scenario("jepsen-queue").needs_client_sides


def test_keys_name_partitions_of_the_topic():
    assert key_of("orders-x", 3) == "orders-x-3" and partition_of("orders-x-3") == 3


# --- the history lines -------------------------------------------------------------------

def test_recorded_lines_are_a_history_the_checks_read():
    send = {"f": "send", "value": [["send", "t-0", 1]]}
    poll = {"f": "poll", "value": [["poll"]]}
    lines = [
        invoke_line(0, 10, 0, send),
        nemesis_line(15, "kill", [2], "SIGKILL"),
        completion_line(1, 20, 0, send, {"type": "ok", "value": [["send", "t-0", [0, 1]]]}),
        invoke_line(2, 30, 1, poll),
        completion_line(3, 40, 1, poll, {"type": "ok", "value": [["poll", {"t-0": [[0, 1]]}]],
                                         "rebalanced_keys": ["t-1"], "done": True}),
        invoke_line(4, 50, 2, send),
        completion_line(5, 60, 2, send, {"type": "info", "value": send["value"], "error": "timed out"}),
    ]
    text = [json.dumps(line) for line in lines]
    h = parse_history(text)
    assert [op.type for op in h.completions] == ["ok", "ok", "info"]
    assert h.completions[1].rebalanced_keys == frozenset({"t-1"})
    assert json.loads(text[-1])["error"] == "timed out" and "done" not in json.loads(text[4])
    report = check_jepsen_history(h)
    assert report.valid and report.anomalies() == {}


def test_the_rate_counts_send_poll_and_txn_completions_over_their_span():
    s = OpStats()
    assert s.per_second() == 0.0
    s.invoked("assign", 0)  # not a workload op: the span starts at the first send
    s.invoked("send", 1_000_000_000)
    for i in range(10):
        s.completed("send", "ok", 1_500_000_000 + i)
    s.completed("poll", "info", 2_000_000_000, invoked_ns=1_000_000_000)
    s.completed("assign", "ok", 9_000_000_000)
    assert s.counts == {"send ok": 10, "poll info": 1}
    assert s.per_second() == 11.0 and s.per_second(("ok",)) == 10.0
    assert s.timeline() == {1: [10, 0, 0.0, 0.0], 2: [0, 1, 1000.0, 1000.0]}  # second -> ok, not ok, mean, max


# --- the writes lent to the lab's checkers -----------------------------------------------

def test_each_send_is_a_write_settled_by_the_ops_outcome():
    send = {"f": "send", "value": [["send", "t-2", 7]]}
    [w] = mirror_writes(3, send, 5.0)
    assert (w.producer, w.seq, w.value, w.partition, w.acks, w.outcome) == ("j3", 7, "7", 2, "all", None)
    settle_writes([w], send, {"type": "ok", "value": [["send", "t-2", [41, 7]]]}, 9.0)
    assert (w.outcome, w.offset, w.complete_ms, w.error) == (OK, 41, 9.0, None)
    [w] = mirror_writes(3, send, 5.0)
    settle_writes([w], send, {"type": "fail", "value": send["value"], "error": "refused"}, 9.0)
    assert w.outcome == FAIL and "refused" in w.error


def test_an_aborted_transactions_sends_are_unknown_not_failed():
    """Its records are in the logs (behind an abort marker): the lab's aborted_reads,
    which reads the logs, must not count them as failed writes that appeared."""
    txn = {"f": "txn", "value": [["send", "t-0", 1], ["poll"], ["send", "t-1", 2]]}
    writes = mirror_writes(0, txn, 1.0)
    assert [(w.value, w.partition) for w in writes] == [("1", 0), ("2", 1)]
    settle_writes(writes, txn, {"type": "fail", "value": [["send", "t-0", [5, 1]], ["poll", {}],
                                                          ["send", "t-1", [None, 2]]]}, 2.0)
    assert [w.outcome for w in writes] == [UNKNOWN, UNKNOWN] and "aborted" in writes[0].error
    writes = mirror_writes(0, txn, 1.0)
    settle_writes(writes, txn, {"type": "info", "value": txn["value"]}, 2.0)
    assert [w.outcome for w in writes] == [UNKNOWN, UNKNOWN]
    assert mirror_writes(0, {"f": "poll", "value": [["poll"]]}, 1.0) == []


# --- transaction markers in the lab's own checks ---------------------------------------------

def test_offsets_only_markers_take_are_no_gap_in_a_read():
    h = History("t", 1)
    for o, v in ((0, "1"), (1, "2"), (3, "3"), (6, "4")):  # 2 a marker; 4 and 5 missing
        h.reads.append(Read("c0", 0, o, v, float(o)))
    h.control_offsets = {0: [2, 4]}
    result = check_order(h)
    assert result.counts["marker_skips"] == 1 and result.counts["consumer_gaps"] == 1 and not result.ok
    h.control_offsets = {0: [2, 4, 5]}
    assert check_order(h).ok


def test_a_final_read_that_stopped_before_markers_only_is_complete():
    h = History("t", 2)
    h.final_end_offsets = {0: 10, 1: 10}
    h.final_read_complete = {0: False, 1: False}
    h.final_read_tail = {0: 8, 1: 7}
    h.control_offsets = {0: [3, 8, 9], 1: [8, 9]}  # partition 1: offset 7 holds data nobody was shown
    _tail_of_markers(h)
    assert h.final_read_complete == {0: True, 1: False}
    assert History.from_json(json.loads(json.dumps(h.to_json()))).final_read_tail == {0: 8, 1: 7}


# --- expectations, verdict, report -----------------------------------------------------------

LOST = [
    {"index": 0, "process": 0, "type": "invoke", "f": "send", "value": [["send", "t-0", 1]]},
    {"index": 1, "process": 0, "type": "ok", "f": "send", "value": [["send", "t-0", [0, 1]]]},
    {"index": 2, "process": 0, "type": "invoke", "f": "send", "value": [["send", "t-0", 2]]},
    {"index": 3, "process": 0, "type": "ok", "f": "send", "value": [["send", "t-0", [1, 2]]]},
    {"index": 4, "process": 1, "type": "invoke", "f": "poll", "value": [["poll"]]},
    {"index": 5, "process": 1, "type": "ok", "f": "poll", "value": [["poll", {"t-0": [[1, 2]]}]]},
]


def lost_report():
    return check_jepsen_history(parse_history(json.dumps(line) for line in LOST))


def scenario(expect: str = ""):
    return load_scenario_text(f'name = "j"\n[workload]\njepsen = "queue"\n{expect}', "test")


def test_an_unexpected_anomaly_fails_the_verdict_and_an_expected_one_passes_it():
    report = lost_report()
    assert report.anomalies() == {"lost-write": 1}
    rows = {r.name: r for r in jepsen_rows(scenario().expect, report, True)}
    assert not rows["jepsen"].ok and not rows["jepsen lost-write"].ok and "value 1" in rows["jepsen lost-write"].summary
    expect = scenario('[expect]\nanomalies = { "lost-write" = "found" }').expect
    rows = {r.name: r for r in jepsen_rows(expect, report, True)}
    assert rows["jepsen"].ok and rows["jepsen lost-write"].ok
    clean = check_jepsen_history(parse_history(json.dumps(line) for line in LOST[:4]))
    rows = {r.name: r for r in jepsen_rows(expect, clean, True)}
    assert rows["jepsen"].ok and not rows["jepsen lost-write"].ok  # a negative control that found nothing
    assert list(rows) == ["jepsen lost-write", "jepsen"]


def test_a_final_poll_short_of_the_end_fails_the_jepsen_row():
    clean = check_jepsen_history(parse_history(json.dumps(line) for line in LOST[:4]))
    [row] = jepsen_rows(scenario().expect, clean, False)
    assert not row.ok and "did NOT reach" in row.summary


def test_scenarios_name_only_known_anomalies():
    with pytest.raises(ScenarioError, match="unknown anomalies"):
        scenario('[expect]\nanomalies = { "lost-writes" = "found" }')
    with pytest.raises(ScenarioError):
        scenario('[expect]\nanomalies = { "lost-write" = "maybe" }')
    assert "lost-write" in ANOMALY_NAMES and "G-single" in ANOMALY_NAMES
    assert scenario().workload.needs_kafka_client


def test_the_built_in_jepsen_scenarios():
    queue, txn, control = (load_scenario(n) for n in ("jepsen-queue", "jepsen-txn", "jepsen-queue-unclean"))
    assert (queue.workload.jepsen, txn.workload.jepsen, control.workload.jepsen) == ("queue", "txn", "queue")
    for s in (queue, txn):
        assert {f.fault for f in s.faults} == {"kill", "isolate"} and s.needs_network
        assert any(f.target.startswith(("group-coordinator:", "txn-coordinator:")) for f in s.faults)
        assert s.expect.anomalies == {}
    assert control.expect.anomaly("lost-write") == "found" and control.expect.unclean_elections == "some"


def test_each_fault_class_has_a_negative_control_that_must_find_its_anomaly():
    controls = {"jepsen-queue-unclean": "lost-write",  # leader-kill
                "jepsen-txn-coordinator-kill-uncommitted": "G1a",
                "jepsen-queue-controller-pause-acks1": "lost-write",
                "jepsen-queue-leader-isolated-with-clients-acks1": "lost-write",
                "jepsen-queue-power-cut-all": "lost-write",
                "jepsen-queue-rebalance-storm-resume-committed": "nonmonotonic-poll"}
    for name, anomaly in controls.items():
        s = load_scenario(name)
        assert s.workload.jepsen and s.expect.anomaly(anomaly) == "found", name
    knobs = {n: load_scenario(n).workload for n in controls}
    assert knobs["jepsen-queue-controller-pause-acks1"].acks == "1"
    assert knobs["jepsen-queue-leader-isolated-with-clients-acks1"].acks == "1"
    assert knobs["jepsen-txn-coordinator-kill-uncommitted"].isolation == "read_uncommitted"
    assert knobs["jepsen-queue-rebalance-storm-resume-committed"].assign_resume == "committed"
    clean = [load_scenario(f"jepsen-{w}-leader-isolated-with-clients") for w in ("queue", "txn")]
    assert all(s.needs_client_sides and s.expect.anomalies == {} and s.workload.acks == "all" for s in clean)


def test_the_json_report_carries_the_rate_the_anomalies_and_the_history(tmp_path):
    history = tmp_path / "run" / "j.history.jsonl"
    history.parent.mkdir()
    history.write_text("".join(json.dumps(line) + "\n" for line in LOST))
    h = History("t", 1)
    h.writes.append(Write("j0", 1, "1", 0, "all", 1.0, 2.0, OK, 0))
    report = lost_report()
    verdict, facts = judge(scenario().expect, [], h, report, True)
    facts["ops_per_second"] = 123.4
    facts["ops_timeline"] = {"0": [5, 1, 12.5, 40.0]}
    result = RunResult(scenario(), history=h, checks=[], verdict=verdict, facts=facts, jepsen=report,
                       history_path=history)
    json_path, html_path = write_reports(result, tmp_path / "reports")
    data = json.loads(json_path.read_text())
    assert data["ops_per_second"] == 123.4 and data["anomalies"] == {"lost-write": 1}
    assert data["jepsen"]["failed"] == ["lost-write"] and not data["passed"]
    assert (tmp_path / "reports" / "j.history.jsonl").read_text() == history.read_text()
    page = html_path.read_text()
    assert "Jepsen's checks" in page and "lost-write" in page and "op latency ms (max)" in page
    clean = RunResult(scenario(), history=h, checks=[], verdict=Verdict(), facts={}, jepsen=None)
    data = json.loads(write_reports(clean, tmp_path / "other")[0].read_text())
    assert data["anomalies"] is None and data["ops_per_second"] is None
