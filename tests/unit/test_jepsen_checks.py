"""Jepsen's Kafka checks (kraft/scenario/jepsen_*.py) on small hand-made histories: each
anomaly is found, named and shown with the right example; clean queue-style and
txn-style histories pass; bad input is refused with its line; the CLI's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kraft.scenario.jepsen.checks import check_jepsen_history
from kraft.scenario.jepsen.findings import Finding, JepsenReport
from kraft.scenario.jepsen.history import INFO, HistoryError, parse_history


class Recorder:
    """Writes a history one op at a time: each call appends an invoke and its completion."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.index = 0
        self.ops: list[int] = []  # completion indexes, in call order

    def _op(self, process, f, invoked, type_, value, **extra) -> int:
        for t, v in (("invoke", invoked), (type_, value)):
            self.lines.append(json.dumps({"index": self.index, "time_ns": self.index * 1000, "process": process,
                                          "type": t, "f": f, "value": v, **(extra if t != "invoke" else {})}))
            self.index += 1
        self.ops.append(self.index - 1)
        return self.index - 1

    def send(self, process, *sends, type_="ok", f="send") -> int:
        """sends: (key, value, offset); offset None = not known (and left out when not ok)."""
        invoked = [["send", k, v] for k, v, _ in sends]
        done = [["send", k, [o, v]] if type_ == "ok" or o is not None else ["send", k, v] for k, v, o in sends]
        return self._op(process, f, invoked, type_, done)

    def poll(self, process, reads: dict, type_="ok", **extra) -> int:
        return self._op(process, "poll", [["poll"]], type_, [["poll", reads]], **extra)

    def txn(self, process, mops, type_="ok") -> int:
        invoked = [["send", m[1], m[2][1]] if m[0] == "send" else ["poll"] for m in mops]
        return self._op(process, "txn", invoked, type_, mops)

    def assign(self, process, keys, f="assign") -> int:
        return self._op(process, f, keys, "ok", keys)

    def crash(self, process) -> int:
        return self._op(process, "crash", None, "info", None)

    def check(self, strict: bool = False) -> JepsenReport:
        return check_jepsen_history(parse_history(self.lines), strict=strict)


def finding(report: JepsenReport, name: str) -> Finding:
    return next(f for f in report.findings if f.name == name)


def found(report: JepsenReport) -> dict[str, int]:
    return {f.name: f.count for f in report.findings if f.count}


# --- each anomaly ---------------------------------------------------------------

def test_lost_write_is_an_acknowledged_send_that_a_later_read_passed_over():
    r = Recorder()
    w = r.send(0, ("1", 10, 0))
    r.send(0, ("1", 11, 1))
    reader = r.poll(1, {"1": [[1, 11]]})
    report = r.check()
    assert found(report) == {"lost-write": 1}
    assert not report.valid and [f.name for f in report.failed] == ["lost-write"]
    ex = finding(report, "lost-write").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([w, reader], "1", [0, 1], [10, 11])


def test_lost_write_needs_a_read_past_it_and_a_send_that_surely_happened():
    r = Recorder()
    r.send(0, ("1", 10, None), type_="info")  # may never have happened
    r.send(0, ("1", 11, 1))
    r.send(0, ("1", 12, 2))  # beyond every read: unseen, not lost
    r.poll(1, {"1": [[1, 11]]})
    report = r.check()
    assert found(report) == {}
    assert report.valid and report.unseen == {"1": [12]}


def test_an_info_send_read_once_must_be_read_wherever_it_was_passed():
    r = Recorder()
    info = r.send(0, ("1", 10, None), ("2", 20, None), type_="info")
    r.send(1, ("1", 11, 1))
    r.poll(2, {"2": [[0, 20]]})  # proves the info op happened
    r.poll(3, {"1": [[0, 10], [1, 11]]}, type_="fail")  # a failed poll still tells offsets
    r.poll(4, {"1": [[1, 11]]})
    report = r.check()
    assert found(report) == {"lost-write": 1}
    assert finding(report, "lost-write").example().ops[0] == info


def test_duplicate_is_one_value_at_two_offsets():
    r = Recorder()
    w = r.send(0, ("1", 10, 0))
    p = r.poll(1, {"1": [[0, 10], [1, 10]]})
    report = r.check()
    assert found(report) == {"duplicate": 1}
    ex = finding(report, "duplicate").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([w, p], "1", [0, 1], [10])


def test_inconsistent_offsets_is_one_offset_with_two_values():
    r = Recorder()
    w1 = r.send(0, ("1", 10, 0))
    w2 = r.send(1, ("1", 11, 0))
    r.poll(2, {"1": [[0, 11]]})
    report = r.check()
    assert "inconsistent-offsets" in found(report)
    ex = finding(report, "inconsistent-offsets").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([w1, w2], "1", [0], [10, 11])
    assert "inconsistent-offsets" in [f.name for f in report.failed]


def test_g1a_is_an_ok_read_of_a_failed_send():
    r = Recorder()
    w = r.send(0, ("1", 10, None), type_="fail")
    p = r.poll(1, {"1": [[0, 10]]})
    report = r.check()
    assert found(report) == {"G1a": 1}
    ex = finding(report, "G1a").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([w, p], "1", [0], [10])


def test_precommitted_read_is_an_op_reading_its_own_send():
    r = Recorder()
    t = r.txn(0, [["send", "1", [0, 10]], ["poll", {"1": [[0, 10]]}]])
    report = r.check()
    assert found(report) == {"precommitted-read": 1}
    ex = finding(report, "precommitted-read").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([t], "1", [0], [10])


def test_nonmonotonic_send_is_a_process_sending_below_its_previous_send():
    r = Recorder()
    a = r.send(0, ("1", 10, 5))
    b = r.send(0, ("1", 11, 3))
    r.send(1, ("1", 12, 4))
    report = r.check()
    assert found(report) == {"nonmonotonic-send": 1}
    ex = finding(report, "nonmonotonic-send").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([a, b], "1", [5, 3], [10, 11])


def test_int_nonmonotonic_send_and_int_send_skip_within_one_op():
    r = Recorder()
    backwards = r.send(0, ("1", 10, 5), ("1", 11, 3))
    skip = r.send(1, ("2", 20, 0), ("2", 22, 2))
    r.send(2, ("2", 21, 1))
    report = r.check()
    # the interleaving also makes a ww cycle between ops 1 and 2 (G0, allowed as well)
    assert found(report) == {"int-nonmonotonic-send": 1, "int-send-skip": 1, "G0": 1}
    ex = finding(report, "int-nonmonotonic-send").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([backwards], "1", [5, 3], [10, 11])
    ex = finding(report, "int-send-skip").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([skip], "2", [0, 2], [20, 22])
    assert "offset 1 (value 21)" in ex.text
    # sends of concurrent transactions interleave: reported, allowed, failed only when strict
    assert ex.allowed and [f.name for f in report.failed] == ["int-nonmonotonic-send"]
    assert "int-send-skip" in [f.name for f in r.check(strict=True).failed]


def queue(r: Recorder, key: str = "1", n: int = 3, base: int = 10) -> list[int]:
    """Process 9 sends n values to key at offsets 0..n-1, process 8 reads them all."""
    for i in range(n):
        r.send(9, (key, base + i, i))
    r.poll(8, {key: [[i, base + i] for i in range(n)]})
    return [base + i for i in range(n)]


def test_nonmonotonic_poll_is_a_process_polling_again_what_it_had_read():
    r = Recorder()
    queue(r)
    a = r.poll(0, {"1": [[0, 10], [1, 11]]})
    b = r.poll(0, {"1": [[1, 11], [2, 12]]})
    report = r.check()
    assert found(report) == {"nonmonotonic-poll": 1}
    ex = finding(report, "nonmonotonic-poll").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([a, b], "1", [1, 1], [11, 11])


def test_int_nonmonotonic_poll_is_one_poll_going_back():
    r = Recorder()
    queue(r)
    p = r.poll(0, {"1": [[1, 11], [0, 10]]})
    report = r.check()
    assert found(report) == {"int-nonmonotonic-poll": 1}
    ex = finding(report, "int-nonmonotonic-poll").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([p], "1", [1, 0], [11, 10])


def test_poll_skip_is_a_process_jumping_over_values_the_log_holds():
    r = Recorder()
    queue(r, n=4)
    a = r.poll(0, {"1": [[0, 10]]})
    b = r.poll(0, {"1": [[3, 13]]})
    report = r.check()
    assert found(report) == {"poll-skip": 1}
    ex = finding(report, "poll-skip").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values, ex.size) == ([a, b], "1", [0, 3], [10, 13], 2)
    assert "offset 1 (value 11), offset 2 (value 12)" in ex.text


def test_gaps_without_values_are_no_skip():
    """Transaction markers take offsets nobody reads: dense positions ignore them."""
    r = Recorder()
    r.send(9, ("1", 10, 0))
    r.send(9, ("1", 11, 5))
    r.poll(0, {"1": [[0, 10]]})
    r.poll(0, {"1": [[5, 11]]})
    r.poll(1, {"1": [[0, 10], [5, 11]]})
    assert found(r.check()) == {}


def test_int_poll_skip_is_one_poll_jumping_over_values():
    r = Recorder()
    queue(r)
    p = r.poll(0, {"1": [[0, 10], [2, 12]]})
    report = r.check()
    assert found(report) == {"int-poll-skip": 1}
    ex = finding(report, "int-poll-skip").example()
    assert (ex.ops, ex.key, ex.offsets, ex.values) == ([p], "1", [0, 2], [10, 12])
    # a key rebalanced during the op is not judged
    r2 = Recorder()
    queue(r2)
    r2.poll(0, {"1": [[0, 10], [2, 12]]}, rebalanced_keys=["1"])
    assert found(r2.check()) == {}


def test_assign_crash_and_info_end_a_process_epoch():
    r = Recorder()
    queue(r)
    r.poll(0, {"1": [[0, 10], [1, 11]]})
    r.crash(0)
    r.poll(0, {"1": [[0, 10]]})  # a fresh client starts again: fine
    r.assign(0, ["2"])  # drops key 1 from the epoch
    r.poll(0, {"1": [[0, 10]]})
    r.assign(0, ["1", "2"])  # keeps key 1
    r.poll(0, {"1": [[0, 10]]})  # back to where the last poll ended: nonmonotonic
    report = r.check()
    assert found(report) == {"nonmonotonic-poll": 1}
    r2 = Recorder()
    queue(r2)
    r2.poll(0, {"1": [[0, 10], [1, 11]]}, type_="info")
    r2.poll(0, {"1": [[0, 10]]})
    assert found(r2.check()) == {}


def test_poll_skip_of_a_subscribed_process_is_allowed():
    r = Recorder()
    queue(r, n=4)
    r.assign(0, ["1"], f="subscribe")
    r.poll(0, {"1": [[0, 10]]})
    r.poll(0, {"1": [[3, 13]]})
    report = r.check()
    assert found(report) == {"poll-skip": 1} and report.valid
    assert finding(report, "poll-skip").example().allowed
    assert not r.check(strict=True).valid


def test_g0_is_a_cycle_of_sends_and_allowed():
    r = Recorder()
    t1 = r.send(0, ("x", 1, 0), ("y", 2, 1))
    t2 = r.send(1, ("x", 3, 1), ("y", 4, 0))
    report = r.check()
    assert found(report) == {"G0": 1} and report.valid
    ex = finding(report, "G0").example()
    assert sorted(ex.ops) == [t1, t2] and ex.size == 2 and sorted(ex.values) == [1, 2, 3, 4]
    assert "-ww" in ex.text and ex.allowed
    assert [f.name for f in r.check(strict=True).failed] == ["G0"]


def test_g1c_of_reads_alone_fails():
    r = Recorder()
    t1 = r.txn(0, [["send", "x", [0, 1]], ["poll", {"y": [[0, 2]]}]])
    t2 = r.txn(1, [["send", "y", [0, 2]], ["poll", {"x": [[0, 1]]}]])
    report = r.check()
    assert found(report) == {"G1c": 1}
    assert [f.name for f in report.failed] == ["G1c"]
    ex = finding(report, "G1c").example()
    assert sorted(ex.ops) == [t1, t2] and ex.text.count("-wr") == 2 and not ex.allowed


def test_g1c_through_a_ww_edge_is_allowed():
    r = Recorder()
    t1 = r.txn(0, [["send", "x", [0, 1]], ["poll", {"y": [[0, 2]]}]])
    t2 = r.txn(1, [["send", "x", [1, 3]], ["send", "y", [0, 2]]])
    r.poll(2, {"x": [[0, 1], [1, 3]]})
    report = r.check()
    assert found(report) == {"G1c": 1} and report.valid
    ex = finding(report, "G1c").example()
    assert sorted(ex.ops) == [t1, t2] and "-ww" in ex.text and "-wr" in ex.text and ex.allowed


def test_g_single_is_a_cycle_with_one_anti_dependency():
    r = Recorder()
    r.send(9, ("x", 1, 0))
    t1 = r.txn(0, [["poll", {"x": [[0, 1]], "y": [[0, 5]]}]])
    t2 = r.txn(1, [["send", "x", [1, 2]], ["send", "y", [0, 5]]])
    r.poll(2, {"x": [[0, 1], [1, 2]]})
    report = r.check()
    assert found(report) == {"G-single": 1} and report.valid  # polls are not snapshots
    ex = finding(report, "G-single").example()
    assert ex.ops == [t1, t2] and ex.text.count("-rw") == 1 and "-wr" in ex.text
    assert [f.name for f in r.check(strict=True).failed] == ["G-single"]


# --- clean histories ------------------------------------------------------------

def test_clean_queue_history_passes():
    """Three producers, two assigned consumers that poll in order, a crashed consumer
    that starts over, an info send that never landed, final polls of everything."""
    r = Recorder()
    offsets = {"1": 0, "2": 0}
    sent: dict[str, list[list[int]]] = {"1": [], "2": []}
    value = 100
    for round_ in range(6):
        for producer in (0, 1, 2):
            key = "1" if (round_ + producer) % 2 else "2"
            r.send(producer, (key, value, offsets[key]))
            sent[key].append([offsets[key], value])
            offsets[key] += 2 if producer == 2 else 1  # a gap: a marker nobody reads
            value += 1
    r.send(0, ("1", 999, None), type_="info")
    for consumer, key in ((10, "1"), (11, "2")):
        r.assign(consumer, [key])
        records = sent[key]
        r.poll(consumer, {key: records[:3]})
        r.poll(consumer, {key: []})
        r.poll(consumer, {key: records[3:]})
    r.poll(12, {"1": sent["1"][:2]})
    r.crash(12)
    r.assign(12, ["1", "2"])
    r.poll(12, {"1": sent["1"], "2": sent["2"]})
    report = r.check(strict=True)
    assert found(report) == {} and report.valid and report.unseen == {}


def test_clean_txn_history_passes():
    """Transactions one after another, each polling what the last one sent and sending
    to two keys; a failed transaction whose sends nobody reads."""
    r = Recorder()
    r.assign(0, ["x", "y"])
    last = {"x": [], "y": []}
    for i in range(5):
        mops = []
        if i:
            mops.append(["poll", {"x": [last["x"]], "y": [last["y"]]}])
        last = {"x": [i, 10 + i], "y": [i, 20 + i]}
        mops += [["send", "x", last["x"]], ["send", "y", last["y"]]]
        r.txn(0, mops)
    r.txn(1, [["send", "x", [None, 99]]], type_="fail")
    r.poll(2, {"x": [[i, 10 + i] for i in range(5)], "y": [[i, 20 + i] for i in range(5)]})
    report = r.check(strict=True)
    assert found(report) == {} and report.valid and report.unseen == {}


# --- the format -----------------------------------------------------------------

GOOD_INVOKE = '{"index": 0, "process": 0, "type": "invoke", "f": "send", "value": [["send", "1", 5]]}'


@pytest.mark.parametrize("line, reason", [
    ("{not json", "not JSON"),
    ('[1, 2]', "JSON object"),
    ('{"index": 1, "process": 0, "type": "ok", "f": "write", "value": []}', "f must be one of"),
    ('{"index": 1, "process": 0, "type": "done", "f": "send", "value": []}', "type must be one of"),
    ('{"index": 1, "process": 1.5, "type": "ok", "f": "send", "value": []}', "process must be"),
    ('{"index": 1, "process": 0, "type": "ok", "f": "send", "value": [["send", "1", "x"]]}', "sent value"),
    ('{"index": 1, "process": 0, "type": "ok", "f": "send", "value": [["send", "1", [-1, 5]]]}', "sent value"),
    ('{"index": 1, "process": 0, "type": "ok", "f": "send", "value": [["write", "1", 5]]}', "micro-op 0"),
    ('{"index": 1, "process": 0, "type": "ok", "f": "send", "value": {"1": 5}}', "list of micro-ops"),
    ('{"index": 1, "process": 0, "type": "ok", "f": "send", "value": [["send", "", 5]]}', "a key must be"),
    ('{"index": 0, "process": 0, "type": "ok", "f": "send", "value": [["send", "1", [0, 5]]]}',
     "index 0 appears twice"),
    ('{"index": 1, "process": 0, "type": "invoke", "f": "send", "value": [["send", "1", 6]]}', "invokes again"),
    ('{"index": 1, "process": 0, "type": "ok", "f": "poll", "value": [["poll", {"1": [[0, 5]]}]]}', "invoke of 'send'"),
    ('{"index": 1, "process": 3, "type": "ok", "f": "send", "value": [["send", "1", [0, 5]]]}', "no invoke before it"),
    ('{"index": 1, "process": 0, "type": "ok", "f": "send", "value": [["poll", {"1": [[0]]}]]}',
     "not [offset, int value]"),
    ('{"index": 1, "time_ms": "soon", "process": 0, "type": "ok", "f": "send", "value": []}', "time_ms must be"),
])
def test_bad_lines_are_refused_with_their_line_number(line, reason):
    with pytest.raises(HistoryError) as err:
        parse_history([GOOD_INVOKE, "", line])
    assert err.value.line == 3 and reason in str(err.value) and str(err.value).startswith("line 3: ")


def test_parsing_pairs_ops_defaults_indexes_skips_the_nemesis_and_completes_invokes():
    h = parse_history([
        '{"process": 0, "type": "invoke", "f": "send", "value": [["send", 1, 5]]}',
        '{"process": "nemesis", "type": "info", "f": "start-partition", "value": null}',
        '{"process": 1, "type": "invoke", "f": "poll", "value": [["poll"]]}',
        '{"process": 0, "type": "ok", "f": "send", "time_ms": 2, "value": [["send", 1, [0, 5]]]}',
        '{"process": 1, "type": "ok", "f": "poll", "value": [["poll", {"1": [[0, 5]]}]]}',
        '{"process": 1, "type": "invoke", "f": "send", "value": [["send", "1", 6]]}',
    ])
    assert [op.index for op in h.ops] == [0, 1, 2, 3, 4]
    send, poll, pending = h.completions
    assert send.invoke_index == 0 and send.time_ns == 2_000_000 and send.sends()["1"][0].offset == 0
    assert poll.invoke_index == 1 and poll.reads() == {"1": [(0, 5)]}
    assert pending.type == INFO and pending.synthetic and pending.invoke_index == 4 and pending.index == 5


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_a_large_clean_history_has_no_anomaly():
    """40k completed ops: sends of 4 producers to 8 keys, two-key transactions, and one
    reader per key that polls what its key got since its last poll (nothing skipped).
    (How long a check takes is a benchmark's business, not a test's.)"""
    r = Recorder()
    offsets = dict.fromkeys(map(str, range(8)), 0)
    value = 0
    for i in range(10_000):
        key, other = str(i % 8), str((i + 3) % 8)
        new: dict[str, list[list[int]]] = {key: [], other: []}
        r.send(i % 4, (key, value, offsets[key]))
        new[key].append([offsets[key], value])
        r.txn(8, [["send", key, [offsets[key] + 1, value + 1]], ["send", other, [offsets[other], value + 2]]])
        new[key].append([offsets[key] + 1, value + 1])
        new[other].append([offsets[other], value + 2])
        offsets[key] += 2
        offsets[other] += 1
        value += 3
        r.poll(100 + int(key), {key: new[key]})
        r.poll(100 + int(other), {other: new[other]})
    report = check_jepsen_history(parse_history(r.lines))
    assert report.stats["ops"] == 40_000
    assert not report.failed, report.failed


# --- the command ----------------------------------------------------------------

def run_check(*args):
    return subprocess.run([sys.executable, "-m", "kraft", "scenario", "check", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_cli_exit_codes_and_output(tmp_path):
    clean = Recorder()
    queue(clean)
    (tmp_path / "clean.jsonl").write_text("\n".join(clean.lines) + "\n")
    lost = Recorder()
    lost.send(0, ("1", 10, 0))
    lost.send(0, ("1", 11, 1))
    lost.poll(1, {"1": [[1, 11]]})
    (tmp_path / "lost.jsonl").write_text("\n".join(lost.lines) + "\n")
    (tmp_path / "bad.jsonl").write_text(GOOD_INVOKE + "\n{oops\n")
    (tmp_path / "empty.jsonl").write_text("\n")

    ok = run_check(tmp_path / "clean.jsonl")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verdict: PASS" in ok.stdout and "lost-write" in ok.stdout

    bad = run_check(tmp_path / "lost.jsonl")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    line = next(x for x in bad.stdout.splitlines() if x.startswith("lost-write"))
    assert "1  FAIL" in line and "value 10 at offset 0" in line
    assert "verdict: FAIL: lost-write" in bad.stdout

    as_json = run_check(tmp_path / "lost.jsonl", "--json")
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert data["valid"] is False and data["failed"] == ["lost-write"]
    assert data["anomalies"]["lost-write"]["example"]["values"] == [10, 11]
    assert data["unseen"]["count"] == 1

    for path, reason in ((tmp_path / "bad.jsonl", "line 2: not JSON"), (tmp_path / "missing.jsonl", "cannot read"),
                         (tmp_path / "empty.jsonl", "holds no client ops")):
        unreadable = run_check(path)
        assert unreadable.returncode == 2
        assert unreadable.stdout == "" and len(unreadable.stderr.strip().splitlines()) == 1
        assert reason in unreadable.stderr and "Traceback" not in unreadable.stderr
