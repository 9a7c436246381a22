"""The open-loop benchmark's pure helpers: the schedule, the record value, percentiles,
the knee, and the py-spy summary (no timings are asserted)."""

from __future__ import annotations

import pytest

from kraft.perf.open_loop import (kept_up, knee_rate, latency_ms, misses_below_knee, parse_record_value,
                                  record_value, scheduled_times)
from kraft.perf.profile_summary import frame_name, summarise


def test_the_schedule_is_fixed_by_the_rate_not_by_the_sender():
    assert list(scheduled_times(4, 1.0, 10.0)) == [10.0, 10.25, 10.5, 10.75]


def test_senders_sharing_a_rate_interleave_into_one_even_schedule():
    both = sorted([*scheduled_times(1000, 0.01, 0.0, 0, 2), *scheduled_times(1000, 0.01, 0.0, 1, 2)])
    assert both == list(scheduled_times(1000, 0.01, 0.0))
    with pytest.raises(ValueError):
        list(scheduled_times(100, 1, 0, sender=2, senders=2))


def test_a_record_value_carries_its_scheduled_time_and_step():
    value = record_value(12345.678901, 7, 1024)
    assert len(value) == 1024
    assert parse_record_value(value) == (12345.678901, 7)
    assert parse_record_value(b"warm-up") is None


def test_latency_summary_in_milliseconds():
    summary = latency_ms([i / 1000 for i in range(1, 1001)])  # 1..1000 ms
    assert summary["n"] == 1000 and summary["max"] == 1000
    assert summary["p50"] == pytest.approx(500.5)
    assert summary["p99"] == pytest.approx(990.01)
    assert latency_ms([])["p99"] is None


def step(rate, p99, up=True):
    return {"rate": rate, "kept_up": up, "delivery_ms": {"p99": p99}}


def test_the_knee_is_the_highest_rate_that_kept_up_within_the_p99_limit():
    steps = [step(500, 5), step(1000, 60), step(2000, 9), step(4000, 8, up=False)]
    assert knee_rate(steps, 50) == 2000
    assert misses_below_knee(steps, 50) == [1000]
    assert knee_rate([step(500, 51)], 50) is None


def test_a_step_that_ends_with_a_queue_did_not_keep_up():
    assert kept_up(1000, pending_at_end=10, behind_at_end_s=0.0, undelivered=0)
    assert not kept_up(1000, pending_at_end=400, behind_at_end_s=0.0, undelivered=0)
    assert not kept_up(1000, pending_at_end=0, behind_at_end_s=1.0, undelivered=0)
    assert not kept_up(1000, pending_at_end=0, behind_at_end_s=0.0, undelivered=3)


def test_py_spy_stacks_add_up_per_function():
    raw = ("MainThread;run (asyncio/base_events.py:10);handle (/w/kraft/kafka/produce.py:5) 3\n"
           "MainThread;run (asyncio/base_events.py:10);handle (/w/kraft/kafka/produce.py:9) 1\n"
           "MainThread;run (asyncio/base_events.py:10) 6\n")
    profile = summarise(raw)
    assert profile.samples == 10 and profile.threads["MainThread"] == 10
    assert profile.own["handle (kraft/kafka/produce.py)"] == 4
    assert profile.own["run (asyncio/base_events.py)"] == 6
    assert profile.inclusive["handle (kraft/kafka/produce.py)"] == 4
    assert "run (asyncio/base_events.py)" not in profile.inclusive  # not ours: left out
    assert frame_name("f (/x/lib/python3.11/site-packages/aiohttp/web.py:3)") == "f (aiohttp/web.py)"
