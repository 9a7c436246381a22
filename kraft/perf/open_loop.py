"""Open-loop load: the schedule decides when each record is sent, never the client's speed.

A closed-loop client that waits for an answer before sending the next record slows down
with the server and never sends the records a slow server would have queued, so its
latencies hide the queueing (coordinated omission). Here every record has a scheduled
time fixed before the run; its latency is measured from that time, whether the client
managed to send it then or later.

Pure helpers (no I/O), used by bench/small_requests.py and its load processes
(kraft.perf.open_loop_clients). Times are time.monotonic() seconds: CLOCK_MONOTONIC is
one clock for every process of the machine, so a consumer process can subtract a
sender's scheduled time.
"""

from __future__ import annotations

from collections.abc import Iterator

from kraft.perf.stats import percentile

VALUE_PREFIX = 32  # bytes of a record value that carry "<scheduled time> <step>"


def scheduled_times(rate: float, seconds: float, start: float, sender: int = 0,
                    senders: int = 1) -> Iterator[float]:
    """The send times of one of `senders` processes sharing a fixed rate: together they
    send every 1/rate seconds from `start` for `seconds`; sender i takes every senders-th
    slot from slot i, so the combined schedule stays evenly spaced."""
    if rate <= 0 or senders < 1 or not 0 <= sender < senders:
        raise ValueError(f"bad schedule: rate {rate}, sender {sender} of {senders}")
    count = int(round(rate * seconds))
    for slot in range(sender, count, senders):
        yield start + slot / rate


def record_value(scheduled: float, step: int, size: int) -> bytes:
    """A value of `size` bytes (at least VALUE_PREFIX) starting with its scheduled time
    and step, readable by parse_record_value on whatever door it came through."""
    head = f"{scheduled:.6f} {step}".encode()
    if len(head) >= VALUE_PREFIX:
        raise ValueError(f"scheduled time {scheduled} does not fit the value prefix")
    return head.ljust(max(size, VALUE_PREFIX), b" ")


def parse_record_value(value: bytes) -> tuple[float, int] | None:
    """(scheduled time, step) of a value made by record_value; None for any other."""
    try:
        when, step = value[:VALUE_PREFIX].split()[:2]
        return float(when), int(step)
    except ValueError:
        return None


def latency_ms(seconds) -> dict:
    """Latencies in seconds -> {n, p50, p99, p999, max} in milliseconds (None when empty)."""
    ms = sorted(s * 1000.0 for s in seconds)
    if not ms:
        return {"n": 0, "p50": None, "p99": None, "p999": None, "max": None}
    return {"n": len(ms), "p50": percentile(ms, 50), "p99": percentile(ms, 99),
            "p999": percentile(ms, 99.9), "max": ms[-1]}


def kept_up(rate: float, pending_at_end: int, behind_at_end_s: float, undelivered: int,
            slack_s: float = 0.25) -> bool:
    """Whether a step kept pace with its schedule: when the schedule ended, the sender
    was less than `slack_s` behind it, fewer than `slack_s` worth of records were still
    waiting for their answer, and every record was delivered in the end. A server that
    cannot keep up shows as a queue that grows through the step and is large at its end."""
    return behind_at_end_s < slack_s and pending_at_end < max(rate * slack_s, 1) and undelivered == 0


def passed(step: dict, p99_limit_ms: float = 50.0) -> bool:
    """A step kept up and its p99 delivery latency was within the limit."""
    p99 = step["delivery_ms"]["p99"]
    return bool(step["kept_up"]) and p99 is not None and p99 <= p99_limit_ms


def knee_rate(steps: list[dict], p99_limit_ms: float = 50.0) -> float | None:
    """The highest rate that kept up with a p99 delivery latency within the limit; None
    when no step did. Each step: {"rate", "kept_up", "delivery_ms": {"p99", ...}}. A
    lower rate that missed (a latency spike on a shared machine) does not lower it:
    misses_below_knee lists those."""
    rates = [s["rate"] for s in steps if passed(s, p99_limit_ms)]
    return max(rates) if rates else None


def misses_below_knee(steps: list[dict], p99_limit_ms: float = 50.0) -> list[float]:
    knee = knee_rate(steps, p99_limit_ms)
    return sorted(s["rate"] for s in steps if knee is not None and s["rate"] < knee and not passed(s, p99_limit_ms))
