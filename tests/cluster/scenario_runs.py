"""One built-in scenario run for the scenario test modules, with the expectations it failed."""

from __future__ import annotations

from kraft.config.scenarios import load_scenario
from kraft.scenario.runner import RunOptions, run_scenario


def run(name: str):
    result = run_scenario(load_scenario(name), RunOptions(seed=7))
    failed = [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})"
              for r in (result.verdict.rows if result.verdict else []) if not r.ok]
    return result, failed
