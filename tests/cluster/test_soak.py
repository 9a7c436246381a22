"""Long runs, excluded from the default suite: `./dev test -m soak`."""

from __future__ import annotations

import pytest

from kraft.scenario.network import NetworkFaults
from kraft.scenario.runner import RunOptions, run_scenario
from kraft.scenario.spec import load_scenario

NETWORK_OK, NETWORK_WHY = NetworkFaults.available()


@pytest.mark.soak
@pytest.mark.cluster
@pytest.mark.timeout(1200)
@pytest.mark.skipif(not NETWORK_OK, reason=f"chaos mixes in network faults: {NETWORK_WHY}")
@pytest.mark.parametrize("seed", [42])
def test_chaos_for_five_minutes(seed):
    result = run_scenario(load_scenario("chaos"), RunOptions(duration=300, seed=seed))
    failed = [f"{r.name}: {r.summary}" for r in result.verdict.rows if not r.ok]
    assert not failed, failed
    assert result.facts["faults"] >= 15 and result.facts["writes_ok"] > 3000
