"""Liveness: after healing, writes succeed again within a bound and the final read
reaches the end of every partition. A pure function over a History.
"""

from __future__ import annotations

from kraft.scenario.checks.common import MAX_EXAMPLES, CheckResult, Examples, where
from kraft.scenario.history import OK, History

DEFAULT_BOUND_MS = 15000


def first_ok_after(h: History, t: float) -> float | None:
    """When the first write acknowledged at or after t completed (any acks level)."""
    times = [w.complete_ms for w in h.writes
             if w.outcome == OK and w.complete_ms is not None and w.complete_ms >= t]
    return min(times, default=None)


def recovered(h: History, replication_factor: int) -> bool:
    """Since healing a write was acknowledged, and every partition's newest sample
    taken since shows an ISR of replication_factor replicas."""
    if h.heal_ms is None or first_ok_after(h, h.heal_ms) is None:
        return False
    isr = {s.partition: s.isr for s in h.samples if s.time_ms >= h.heal_ms}
    return len(isr) == h.partitions and all(len(members) >= replication_factor for members in isr.values())


def check_liveness(h: History, bound_ms: float = DEFAULT_BOUND_MS,
                   max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """With heal_ms recorded: some write was acknowledged at most bound_ms after it
    (first_ok_after_heal_ms, or derived from the writes when that is not filled in).
    Without heal_ms (no faults, nothing healed): at least one write was acknowledged in
    the run. Either way, final_read_complete is True for every partition of the topic
    (a missing entry counts as incomplete)."""
    examples = Examples(max_examples)
    ok_writes = sum(1 for w in h.writes if w.outcome == OK)
    counts = {"ok_writes": ok_writes, "bound_ms": int(bound_ms), "partitions": h.partitions}
    writes_ok = True
    if h.heal_ms is not None:
        first = h.first_ok_after_heal_ms
        if first is None:
            first = first_ok_after(h, h.heal_ms)
        if first is None:
            writes_ok = False
            counts["recovery_ms"] = -1
            examples.add(f"no write acknowledged after healing at {h.heal_ms:.0f} ms")
            part1 = f"no acknowledged write after healing (bound {bound_ms / 1000:g} s)"
        else:
            recovery = first - h.heal_ms
            counts["recovery_ms"] = int(round(recovery))
            writes_ok = recovery <= bound_ms
            if not writes_ok:
                examples.add(f"healed at {h.heal_ms:.0f} ms, first acknowledged write at "
                             f"{first:.0f} ms: {recovery / 1000:.1f} s > {bound_ms / 1000:g} s")
            part1 = (f"first acknowledged write {recovery / 1000:.2f} s after healing "
                     f"(bound {bound_ms / 1000:g} s)")
    else:
        writes_ok = ok_writes > 0
        if not writes_ok:
            examples.add("no write was acknowledged during the run")
        part1 = f"{ok_writes} acknowledged writes (nothing healed)"
    incomplete = [p for p in range(h.partitions) if h.final_read_complete.get(p) is not True]
    counts["final_read_incomplete"] = len(incomplete)
    for p in incomplete:
        end = h.final_end_offsets.get(p)
        got = len(h.final_reads.get(p, []))
        examples.add(f"{where(h, p)}: final read incomplete ({got} records read"
                     + (f", end offset {end})" if end is not None else ", end offset unknown)"))
    complete = h.partitions - len(incomplete)
    summary = f"{part1}; final read complete on {complete} of {h.partitions} partitions"
    return CheckResult("liveness", writes_ok and not incomplete, summary, counts, examples.final())
