"""One built-in scenario run for the scenario test modules, with the expectations it failed."""

from __future__ import annotations

from kraft.config.scenarios import Scenario, load_scenario
from kraft.scenario.runner import RunOptions, run_scenario

# A test's shorter run: writes go on this long after healing, then until the runner sees
# a write acknowledged and every ISR whole again (runner._until_recovered), not for the
# scenario's fixed recovery period.
SHORT_RECOVERY_S = 1.0
# Each fault's own end (its undo: the node started again, the disk freed) comes at least
# this long before a shortened run heals, so every fault still plays out in full.
FAULT_END_MARGIN_S = 2.0


def options(scenario: Scenario, duration: float | None = None, recovery: float | None = None,
            **more) -> RunOptions:
    """seed 7; a duration shorter than the scenario's only where every fault still starts
    and ends inside it."""
    if duration is not None:
        for f in scenario.faults:
            assert f.at is not None and f.at + (f.duration or 0) + FAULT_END_MARGIN_S <= duration, \
                f"{scenario.name}: a fault at {f.at} s (for {f.duration} s) does not end {FAULT_END_MARGIN_S} s " \
                f"before {duration} s"
    return RunOptions(seed=7, duration=duration, recovery=recovery, **more)


def run(name: str, duration: float | None = None, recovery: float | None = None):
    result = run_scenario(scenario := load_scenario(name), options(scenario, duration, recovery))
    if result.skipped is None and (duration, recovery) != (None, None):
        assert result.facts["writes_ok"] > 50, f"the shorter run hardly wrote: {result.facts['writes_ok']}"
    failed = [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})"
              for r in (result.verdict.rows if result.verdict else []) if not r.ok]
    return result, failed
