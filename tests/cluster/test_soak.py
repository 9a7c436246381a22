"""Long runs, excluded from the default suite: `./dev test -m soak`."""

from __future__ import annotations

import pytest

from kraft.scenario.network import NetworkFaults
from kraft.scenario.report import write_reports
from kraft.scenario.runner import RunOptions, run_scenario
from kraft.scenario.spec import load_scenario
from kraft.server import lazy_disks

NETWORK_OK, NETWORK_WHY = NetworkFaults.available()
POWER_OK, POWER_WHY = lazy_disks.available()


@pytest.mark.soak
@pytest.mark.cluster
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not NETWORK_OK, reason=f"chaos mixes in network faults: {NETWORK_WHY}")
@pytest.mark.skipif(not POWER_OK, reason=f"chaos mixes in power cuts: {POWER_WHY}")
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_chaos_at_jepsen_rates_for_1000_seconds(seed, tmp_path):
    """10 idempotent Kafka producers, 3 group members, a compacted topic, a fault every
    10-15 s (power cuts included) for 1,000 s: every checker passes. The facts (writes
    per second, faults) are printed for the record, never asserted as timings. The JSON
    and HTML reports (every checker's examples) are kept in the test's tmp_path."""
    result = run_scenario(load_scenario("chaos"), RunOptions(duration=1000, seed=seed))
    assert result.skipped is None, result.skipped
    json_report, _ = write_reports(result, tmp_path)
    print(f"chaos seed {seed}: {result.facts}; report {json_report}")
    failed = [f"{r.name}: {r.summary}" for r in result.verdict.rows if not r.ok]
    assert not failed, (failed, str(json_report), {c.name: c.examples[:5] for c in result.checks if not c.ok})
    assert result.facts["faults"] >= 60 and result.facts["writes_ok"] > 10_000
