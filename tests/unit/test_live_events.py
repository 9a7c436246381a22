"""The failure lab's live feed: each tick carries write totals and only what is new."""

from kraft.scenario.history import FAIL, OK, FaultEvent, History, Sample, Write
from kraft.scenario.live_events import LiveFeed


def _write(seq: int, outcome: str | None) -> Write:
    return Write("p0", seq, f"p0-{seq}", 0, "all", invoke_ms=seq, complete_ms=None if outcome is None else seq + 1,
                 outcome=outcome)


def test_a_tick_counts_outcomes_and_sends_each_fault_and_sample_once():
    h = History("t", 1)
    feed = LiveFeed(h, events=None)
    h.writes += [_write(0, OK), _write(1, OK), _write(2, FAIL), _write(3, None)]
    h.faults.append(FaultEvent(100.0, "kill", [2], "leader of t-0"))
    h.samples.append(Sample(50.0, 0, 2, 0, [1, 2, 3], 2, 0, 1, 1))
    first = feed.tick(1.0)
    assert (first["ok"], first["fail"], first["unknown"], first["in_flight"]) == (2, 1, 0, 1)
    assert [f["kind"] for f in first["faults"]] == ["kill"] and len(first["samples"]) == 1
    h.samples.append(Sample(600.0, 0, 1, 1, [1, 3], 2, 0, 1, 1))
    second = feed.tick(1.5)
    assert second["faults"] == [] and [s["leader"] for s in second["samples"]] == [1]
