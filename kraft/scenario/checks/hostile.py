"""Checkers for a cluster under abuse (the `hostile` scenario), pure over a History:

- served: the ordinary workload kept being served: from the first abuse to the heal, no
  stretch longer than a bound passed without a successful operation (an acknowledged
  write or a record read);
- nodes_alive: no node process died, unless a fault of the scenario (a kill, a stop,
  a power cut...) on that node came first;
- unfenced: no broker was fenced, with the same exception;
- hostile_answers: every answer to the abuse was one a client may get (an error, a
  refusal, a closed connection): never served where it must not be, never a 5xx,
  silence, an unreachable node or an internal detail.

Each says "not run" where its scenario gave it nothing to judge.
"""

from __future__ import annotations

from kraft.scenario.checks.common import MAX_EXAMPLES, CheckResult, Examples
from kraft.scenario.history import OK, History

ABUSE_PREFIX = "hostile-"
# faults that may end a node's process or get its broker fenced: such an outcome is theirs
_EXPLAINING = {"kill", "stop", "pause", "restart", "wipe", "power-cut", "disk-full", "decommission",
               "isolate", "isolate-with-clients", "partition", "one_way", "ring", "lossy", "slow", "netem"}
_NETWORK = {"isolate-with-clients", "partition", "one_way", "ring", "netem"}  # may reach beyond their targets


def explained(h: History, node: int, time_ms: float) -> bool:
    """Whether a fault of the scenario on `node` (or on the network) came before time_ms."""
    return any(f.time_ms <= time_ms and f.kind in _EXPLAINING and (node in f.target or f.kind in _NETWORK)
               for f in h.faults)


def abuse_window(h: History) -> tuple[float, float] | None:
    """From the first abuse event to the heal (or the last event), in run ms."""
    starts = [f.time_ms for f in h.faults if f.kind.startswith(ABUSE_PREFIX)]
    if not starts:
        return None
    end = h.heal_ms if h.heal_ms is not None else max(f.time_ms for f in h.faults)
    return min(starts), max(end, min(starts))


def check_served(h: History, served_gap_ms: float | None = None, max_examples: int = MAX_EXAMPLES,
                 **_) -> CheckResult:
    window = abuse_window(h)
    if served_gap_ms is None or window is None:
        return CheckResult("served", True, "not run (no abuse, or no bound on the gap)")
    lo, hi = window
    done = sorted([w.complete_ms for w in h.writes if w.outcome == OK and w.complete_ms is not None
                   and lo <= w.complete_ms <= hi] + [r.time_ms for r in h.reads if lo <= r.time_ms <= hi])
    points = [lo, *done, hi]
    gaps = sorted(((b - a, a) for a, b in zip(points, points[1:])), reverse=True)
    longest = gaps[0][0] if gaps else 0.0
    examples = Examples(max_examples)
    for gap, at in gaps:
        if gap <= served_gap_ms:
            break
        examples.add(f"no successful operation from {at:.0f} ms for {gap / 1000:.1f} s")
    ok = longest <= served_gap_ms
    return CheckResult("served", ok, f"{len(done)} successful operations under abuse; longest stretch without "
                       f"one {longest / 1000:.1f} s (bound {served_gap_ms / 1000:g} s)",
                       {"successes": len(done), "longest_gap_ms": int(longest), "bound_ms": int(served_gap_ms)},
                       examples.final())


def check_nodes_alive(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    if not h.watched:
        return CheckResult("nodes_alive", True, "not run (no node watch)")
    examples = Examples(max_examples)
    died = [(t, n, code) for t, n, code in h.node_exits if not explained(h, n, t)]
    for t, n, code in died:
        examples.add(f"node {n} exited at {t:.0f} ms with {_exit_text(code)}, no fault of the scenario on it")
    return CheckResult("nodes_alive", not died, f"node processes that died unprovoked: {len(died)}",
                       {"died": len(died), "exits_seen": len(h.node_exits)}, examples.final())


def _exit_text(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"exit code {code}"


def check_unfenced(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    if not h.watched:
        return CheckResult("unfenced", True, "not run (no node watch)")
    examples = Examples(max_examples)
    fenced = sorted({n for t, n in h.fenced_seen if not explained(h, n, t)})
    for n in fenced:
        first = min(t for t, b in h.fenced_seen if b == n)
        examples.add(f"broker {n} seen fenced from {first:.0f} ms, no fault of the scenario on it")
    return CheckResult("unfenced", not fenced, f"brokers fenced unprovoked: {len(fenced)}",
                       {"fenced": len(fenced)}, examples.final())


def check_hostile_answers(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    if not h.abuse_answers:
        return CheckResult("hostile_answers", True, "not run (no abuse)")
    examples = Examples(max_examples)
    bad = [a for a in h.abuse_answers if not a[5]]
    for t, kind, node, what, outcome, _ok in bad:
        examples.add(f"{kind} on node {node} at {t:.0f} ms: {what} -> {outcome}")
    return CheckResult("hostile_answers", not bad, f"{len(h.abuse_answers)} answers to abuse, "
                       f"{len(bad)} not as a client may be answered",
                       {"answers": len(h.abuse_answers), "bad": len(bad)}, examples.final())
