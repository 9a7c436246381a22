"""The pure parts of the lab's share-group workload: its checks over hand-made histories
(each rule with a history that passes and one that fails it), the history parser, the op
generator, the scenario files and the verdict rows. The client processes and a real
cluster: tests/cluster/test_share_scenarios.py."""

from __future__ import annotations

import random

import orjson
import pytest

from kraft.config.scenarios import SHARE_ANOMALY_NAMES, Expectations, ScenarioError, load_scenario, \
    load_scenario_text
from kraft.scenario.jepsen.gen import Mix
from kraft.scenario.jepsen.history import HistoryError
from kraft.scenario.share.checks import check_share_history
from kraft.scenario.share.gen import ACCEPT, REJECT, RELEASE, ShareOps, deliveries
from kraft.scenario.share.history import is_share_history, parse_share_history
from kraft.scenario.verdict import jepsen_rows

LIMIT = 3


def dead_letter(key: str, offset: int, value: int | None, count: int = 1, group: str = "g", topic: str = "t",
                message: str = "Offset rejected by client.") -> list:
    partition = int(key.rsplit("-", 1)[1])
    return [0, None, value, {"__dlq.errors.topic": topic, "__dlq.errors.partition": str(partition),
                             "__dlq.errors.offset": str(offset), "__dlq.errors.group": group,
                             "__dlq.errors.delivery.count": str(count), "__dlq.errors.message": message}]


class Hist:
    """A history written as the workload writes one: an invoke, then its completion."""

    def __init__(self, dead_letter_topic: str | None = "dlq.t"):
        self.lines = [orjson.dumps({"process": "setup", "type": "info", "f": "share-group", "value": {
            "topic": "t", "group": "g", "delivery_limit": LIMIT, "lock_ms": 3000,
            "dead_letter_topic": dead_letter_topic}}).decode()]
        self.index = 0
        self.letters = 0

    def _line(self, process, type_: str, f: str, value) -> int:
        self.lines.append(orjson.dumps({"index": self.index, "process": process, "type": type_, "f": f,
                                        "value": value}).decode())
        self.index += 1
        return self.index - 1

    def op(self, process, f: str, invoked, type_: str, completed) -> int:
        self._line(process, "invoke", f, invoked)
        return self._line(process, type_, f, completed)

    def send(self, key: str, offset: int | None, value: int, type_: str = "ok", process=0) -> int:
        return self.op(process, "send", [["send", key, value]], type_, [["send", key, [offset, value]]])

    def poll(self, process, records: dict) -> int:
        return self.op(process, "poll", [["poll"]], "ok", [["poll", records]])

    def ack(self, process, acks: list, type_: str = "ok") -> int:
        return self.op(process, "ack", [a[:4] for a in acks], type_, acks)

    def crash(self, process) -> int:
        return self.op(process, "crash", None, "info", None)

    def nemesis(self) -> None:
        self.lines.append(orjson.dumps({"process": "nemesis", "type": "info", "f": "kill", "value": [1]}).decode())

    def dead_letters(self, records: list) -> int:
        for r in records:
            r[1] = self.letters
            self.letters += 1
        return self.op("final", "dead-letters", "dlq.t", "ok", records)

    def report(self):
        return check_share_history(parse_share_history(self.lines))


def found(h: Hist) -> dict[str, int]:
    return h.report().anomalies()


def clean() -> Hist:
    """Three values: one accepted at once, one released then rejected (a dead letter),
    one held by a consumer that was killed, then accepted by another."""
    h = Hist()
    h.send("t-0", 0, 1)
    h.send("t-0", 1, 2)
    h.send("t-1", 0, 3)
    h.nemesis()
    h.poll(10, {"t-0": [[0, 1, 1], [1, 2, 1]]})
    h.ack(10, [["t-0", 0, 1, ACCEPT, "ok"], ["t-0", 1, 2, RELEASE, "ok"]])
    h.poll(11, {"t-0": [[1, 2, 2]]})
    h.ack(11, [["t-0", 1, 2, REJECT, "ok"]])
    h.poll(10, {"t-1": [[0, 3, 1]]})
    h.crash(10)
    h.poll(11, {"t-1": [[0, 3, 2]]})
    h.ack(11, [["t-1", 0, 3, ACCEPT, "ok"]])
    h.dead_letters([dead_letter("t-0", 1, 2, count=2)])
    return h


def test_a_history_that_keeps_every_promise_has_no_anomaly_and_counts_the_kill():
    report = clean().report()
    assert report.anomalies() == {} and report.valid
    s = report.stats
    assert (s["deliveries"], s["redeliveries"], s["accepted"], s["rejected"], s["released"]) == (5, 2, 2, 1, 1)
    assert (s["dead letters"], s["killed holding records"], s["held at a kill"], s["redelivered after a kill"]) \
        == (1, 1, 1, 1)
    assert "1 of 1 records held by a killed consumer delivered again" in report.summary


def test_a_value_never_accepted_nor_dead_lettered_is_lost():
    h = clean()
    h.send("t-1", 1, 4)
    h.poll(11, {"t-1": [[1, 4, 1]]})
    h.ack(11, [["t-1", 1, 4, ACCEPT, "fail"]])  # refused: surely not taken
    report = h.report()
    assert report.anomalies() == {"lost": 1}
    [case] = next(f for f in report.findings if f.name == "lost").cases
    assert case.values == [4] and case.key == "t-1" and "accept fail" in case.text


def test_an_accept_of_unknown_outcome_may_have_taken_and_an_unacknowledged_send_is_not_owed():
    h = clean()
    h.send("t-1", 1, 4)
    h.poll(11, {"t-1": [[1, 4, 1]]})
    h.ack(11, [["t-1", 1, 4, ACCEPT, "info"]])
    h.send("t-1", None, 5, type_="info")  # the producer never learned whether it landed
    assert found(h) == {}
    assert h.report().stats["accepted, outcome unknown"] == 1


def test_a_rejected_record_without_a_dead_letter_topic_is_lost_not_missing():
    """The negative control's shape: the group has no dead-letter topic."""
    h = Hist(dead_letter_topic=None)
    h.send("t-0", 0, 1)
    h.poll(10, {"t-0": [[0, 1, 1]]})
    h.ack(10, [["t-0", 0, 1, REJECT, "ok"]])
    assert found(h) == {"lost": 1}


def test_a_record_worn_out_at_the_limit_is_done_when_it_is_a_dead_letter():
    h = Hist()
    h.send("t-0", 0, 1)
    for count in range(1, LIMIT + 1):
        h.poll(10, {"t-0": [[0, 1, count]]})
        h.ack(10, [["t-0", 0, 1, RELEASE, "ok"]])
    assert found(h) == {"lost": 1}  # archived at the limit, and no dead letter read (yet)
    h.dead_letters([dead_letter("t-0", 0, 1, count=LIMIT, message="Offset delivery count limit reached.")])
    assert found(h) == {}


def test_a_second_ok_accept_or_an_accept_and_a_dead_letter_is_accepted_twice():
    h = Hist()
    h.send("t-0", 0, 1)
    h.poll(10, {"t-0": [[0, 1, 1]]})
    h.poll(11, {"t-0": [[0, 1, 2]]})  # the lock ran out while 10 held it
    h.ack(10, [["t-0", 0, 1, ACCEPT, "ok"]])  # must have been refused
    h.ack(11, [["t-0", 0, 1, ACCEPT, "ok"]])
    assert found(h) == {"accepted-twice": 1}
    again = Hist()
    again.send("t-0", 0, 1)
    again.poll(10, {"t-0": [[0, 1, 1]]})
    again.ack(10, [["t-0", 0, 1, ACCEPT, "ok"]])
    again.dead_letters([dead_letter("t-0", 0, 1)])
    assert found(again) == {"accepted-twice": 1}


def test_a_dead_letter_of_a_rejection_with_an_unknown_outcome_may_come_with_an_accept():
    """The leader wrote the dead letter, then failed before it stored the rejection: the
    record came back and was accepted. A rejection that failed explains nothing."""
    h = Hist()
    h.send("t-0", 0, 1)
    h.poll(10, {"t-0": [[0, 1, 1]]})
    h.ack(10, [["t-0", 0, 1, REJECT, "info"]])
    h.poll(11, {"t-0": [[0, 1, 2]]})
    h.ack(11, [["t-0", 0, 1, ACCEPT, "ok"]])
    h.dead_letters([dead_letter("t-0", 0, 1)])
    assert found(h) == {}
    refused = Hist()
    refused.send("t-0", 0, 1)
    refused.poll(10, {"t-0": [[0, 1, 1]]})
    refused.ack(10, [["t-0", 0, 1, REJECT, "fail"]])
    refused.poll(11, {"t-0": [[0, 1, 2]]})
    refused.ack(11, [["t-0", 0, 1, ACCEPT, "ok"]])
    refused.dead_letters([dead_letter("t-0", 0, 1)])
    assert found(refused) == {"accepted-twice": 1}


def test_a_record_delivered_after_its_accept_completed_ok_is_redelivered_after_accept():
    h = Hist()
    h.send("t-0", 0, 1)
    h.poll(10, {"t-0": [[0, 1, 1]]})
    h.ack(10, [["t-0", 0, 1, ACCEPT, "ok"]])
    h.poll(11, {"t-0": [[0, 1, 2]]})
    h.ack(11, [["t-0", 0, 1, RELEASE, "ok"]])
    report = h.report()
    assert report.anomalies() == {"redelivered-after-accept": 1}
    assert "accepted ok by process 10" in report.findings[2].cases[0].text


def test_a_record_whose_acknowledgement_failed_may_come_back():
    h = Hist()
    h.send("t-0", 0, 1)
    h.poll(10, {"t-0": [[0, 1, 1]]})
    h.ack(10, [["t-0", 0, 1, ACCEPT, "fail"]])
    h.poll(11, {"t-0": [[0, 1, 2]]})
    h.ack(11, [["t-0", 0, 1, ACCEPT, "info"]], type_="info")  # the client died: unknown
    h.poll(12, {"t-0": [[0, 1, 3]]})
    h.ack(12, [["t-0", 0, 1, ACCEPT, "ok"]])
    assert found(h) == {}


def test_a_delivery_count_above_the_limit_or_below_one_is_over_limit():
    h = Hist()
    h.send("t-0", 0, 1)
    h.poll(10, {"t-0": [[0, 1, LIMIT]]})
    h.ack(10, [["t-0", 0, 1, ACCEPT, "ok"]])
    assert found(h) == {}
    h.send("t-0", 1, 2)
    h.poll(10, {"t-0": [[1, 2, LIMIT + 1]]})
    h.send("t-0", 2, 3)
    h.poll(10, {"t-0": [[2, 3, 0]]})
    h.ack(10, [["t-0", 1, 2, ACCEPT, "ok"], ["t-0", 2, 3, ACCEPT, "ok"]])
    assert found(h) == {"over-limit": 2}


@pytest.mark.parametrize("letter,problem", [
    (dead_letter("t-0", 1, 2, group="other"), "group 'other'"),
    (dead_letter("t-0", 1, 2, topic="u"), "topic 'u'"),
    (dead_letter("t-0", 0, 2), "holds value 1, the dead letter 2"),
    (dead_letter("t-0", 7, 2), "names no record"),
    (dead_letter("t-0", 1, 2, count=LIMIT + 1), "delivery count '4'"),
])
def test_a_dead_letter_whose_headers_do_not_name_its_record_is_bad(letter, problem):
    h = Hist()
    h.send("t-0", 0, 1)
    h.send("t-0", 1, 2)
    h.poll(10, {"t-0": [[0, 1, 1], [1, 2, 1]]})
    h.ack(10, [["t-0", 0, 1, ACCEPT, "ok"], ["t-0", 1, 2, REJECT, "ok"]])
    h.dead_letters([letter])
    report = h.report()
    assert report.anomalies() == {"bad-dead-letter": 1}, report.anomalies()
    assert problem in next(f for f in report.findings if f.name == "bad-dead-letter").cases[0].text


def test_a_dead_letter_without_a_copy_is_known_by_its_headers():
    h = Hist()
    h.send("t-0", 0, 1)
    h.poll(10, {"t-0": [[0, 1, 1]]})
    h.ack(10, [["t-0", 0, 1, REJECT, "ok"]])
    h.dead_letters([dead_letter("t-0", 0, None)])
    assert found(h) == {}


def test_a_value_rejected_ok_must_be_a_dead_letter_once_the_topic_was_read():
    h = Hist()
    h.send("t-0", 0, 1)
    h.poll(10, {"t-0": [[0, 1, 1]]})
    h.ack(10, [["t-0", 0, 1, REJECT, "ok"]])
    assert found(h) == {"lost": 1}  # not read: lost judges it, missing cannot
    h.dead_letters([])
    assert found(h) == {"lost": 1, "dead-letter-missing": 1}


def test_a_dead_letter_read_again_by_a_new_drain_process_counts_once():
    h = clean()  # its drain read one dead letter, at offset 0
    h.letters = 0  # a new drain process reads from the beginning
    h.dead_letters([dead_letter("t-0", 1, 2, count=2)])
    assert h.report().stats["dead letters"] == 1 and found(h) == {}
    h.dead_letters([dead_letter("t-0", 1, 2, count=2)])  # a second copy, at offset 1
    assert h.report().stats["dead letters"] == 2


def test_the_parser_refuses_what_is_not_a_share_history():
    lines = clean().lines
    assert is_share_history(lines[0]) and not is_share_history(lines[1]) and not is_share_history("{")
    with pytest.raises(HistoryError, match="line 1"):
        parse_share_history(lines[1:])
    with pytest.raises(HistoryError, match="no invoke"):
        parse_share_history([lines[0], lines[2]])
    with pytest.raises(HistoryError, match="not JSON"):
        parse_share_history([lines[0], "{"])
    with pytest.raises(HistoryError, match="does not parse"):
        parse_share_history([lines[0], lines[1].replace('"send"', '"poll"', 1),
                             lines[2].replace('"send"', '"poll"')])


# --- the generator -----------------------------------------------------------------------

def test_acknowledgements_come_in_the_asked_shares_and_the_drain_accepts_everything():
    ops = ShareOps("t", 2, random.Random(5), Mix(crash_share=0.0), release_share=0.2, reject_share=0.1)
    delivered = [["t-0", i, i, 1] for i in range(5000)]
    [ack] = [ops.after_poll(delivered)]
    kinds = [a[3] for a in ack["value"]]
    assert ack["f"] == "ack" and [a[:3] for a in ack["value"]] == [d[:3] for d in delivered]
    assert 400 < kinds.count(REJECT) < 600 and 900 < kinds.count(RELEASE) < 1100
    assert {a[3] for a in ops.after_poll(delivered, accept_all=True)["value"]} == {ACCEPT}
    assert ops.after_poll([]) is None


def test_a_crash_comes_only_after_a_poll_that_returned_records_and_values_are_unique():
    ops = ShareOps("t", 2, random.Random(1), Mix(crash_share=0.25))
    follows = [ops.after_poll([["t-1", 0, 1, 1]])["f"] for _ in range(400)]
    assert 60 < follows.count("crash") < 140 and set(follows) == {"crash", "ack"}
    sends = [ops.send()["value"][0] for _ in range(200)]
    assert len({v for _, _, v in sends}) == 200 and {k for _, k, _ in sends} == {"t-0", "t-1"}
    reply = {"type": "ok", "value": [["poll", {"t-1": [[4, 9, 2]], "t-0": [[3, 8, 1]]}]]}
    assert deliveries(reply) == [["t-0", 3, 8, 1], ["t-1", 4, 9, 2]]


# --- the scenarios and the verdict -------------------------------------------------------

def test_the_built_in_share_scenarios_load_as_documented():
    s = load_scenario("share-groups")
    assert s.workload.jepsen == "share" and s.workload.clients > s.topic.partitions
    assert {f.target for f in s.faults} == {"leader:t-0", "share-coordinator:share:t-0", "group-coordinator:share"}
    control = load_scenario("share-groups-no-dlq")
    assert not control.workload.share_dead_letters and control.workload.reject_share > 0
    assert control.expect.anomaly("lost") == "found" and control.faults == ()
    assert load_scenario("share-groups-isolated").needs_network


def test_share_settings_are_checked():
    base = 'name = "x"\n[workload]\njepsen = "share"\n'
    with pytest.raises(ScenarioError, match="acks"):
        load_scenario_text(base + 'acks = "1"\n', "x")
    with pytest.raises(ScenarioError, match="more than every record"):
        load_scenario_text(base + "release_share = 0.7\nreject_share = 0.5\n", "x")
    with pytest.raises(ScenarioError, match="share_lock_ms"):
        load_scenario_text(base + "share_lock_ms = 500\n", "x")
    with pytest.raises(ScenarioError, match="unknown anomalies"):
        load_scenario_text(base + '[expect]\nanomalies = { "lots" = "found" }\n', "x")
    assert set(SHARE_ANOMALY_NAMES) <= set(Expectations(anomalies={n: "any" for n in SHARE_ANOMALY_NAMES}).anomalies)


def test_the_verdict_rows_judge_share_anomalies_as_jepsen_ones():
    lost = Hist(dead_letter_topic=None)
    lost.send("t-0", 0, 1)
    lost.poll(10, {"t-0": [[0, 1, 1]]})
    lost.ack(10, [["t-0", 0, 1, REJECT, "ok"]])
    report = lost.report()
    control = {r.name: r for r in jepsen_rows(Expectations(anomalies={"lost": "found"}), report, True)}
    assert control["jepsen lost"].ok and control["jepsen"].ok and "t-0@0 value 1" in control["jepsen lost"].summary
    plain = {r.name: r for r in jepsen_rows(Expectations(), report, True)}
    assert not plain["jepsen lost"].ok and not plain["jepsen"].ok
    undrained = jepsen_rows(Expectations(), clean().report(), False)[-1]
    assert not undrained.ok and "did NOT account for every acknowledged value" in undrained.summary
