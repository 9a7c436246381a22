"""Long runs, excluded from the default suite: `./dev test -m soak`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kraft.scenario.faults.network import NetworkFaults
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
    10-15 s (power cuts included) for 1,000 s: every checker passes. Each seed runs as
    `kraft scenario run` in its own process, as a user would (one run's client threads
    cannot slow the next). The facts (writes per second, faults) are printed for the
    record, never asserted as timings; the JSON and HTML reports stay in tmp_path."""
    done = subprocess.run(
        [sys.executable, "-m", "kraft", "scenario", "run", "chaos", "--duration", "1000",
         "--seed", str(seed), "--report", str(tmp_path)],
        capture_output=True, text=True, timeout=1700)
    report_path = tmp_path / "chaos.json"
    assert report_path.exists(), (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    report = json.loads(report_path.read_text())
    assert report["skipped"] is None, report["skipped"]
    facts = report["facts"]
    print(f"chaos seed {seed}: {facts}; report {report_path}")
    failed = {r["name"]: r["summary"] for r in report["verdict"] if not r["ok"]}
    examples = {c["name"]: c["examples"][:5] for c in report["checks"] if not c["ok"]}
    assert not failed and done.returncode == 0, (failed, examples, str(report_path))
    assert facts["faults"] >= 60 and facts["writes_ok"] > 10_000


@pytest.mark.soak
@pytest.mark.cluster
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not NETWORK_OK, reason=f"the Jepsen soaks mix in network faults: {NETWORK_WHY}")
@pytest.mark.skipif(not POWER_OK, reason=f"the Jepsen soaks mix in power cuts: {POWER_WHY}")
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("workload", ["queue", "txn"])
def test_jepsen_workload_for_1000_seconds_finds_no_anomaly(workload, seed, tmp_path):
    """Jepsen's queue or transactional workload (12 client processes) for 1,000 s with a
    random fault every 10-15 s: no Jepsen anomaly and every lab check passes. The ops per
    second and the anomaly counts are printed for the record, never asserted as timings."""
    name = f"jepsen-{workload}-soak"
    done = subprocess.run(
        [sys.executable, "-m", "kraft", "scenario", "run", name, "--seed", str(seed), "--report", str(tmp_path)],
        capture_output=True, text=True, timeout=1700)
    report_path = tmp_path / f"{name}.json"
    assert report_path.exists(), (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    report = json.loads(report_path.read_text())
    assert report["skipped"] is None, report["skipped"]
    facts = report["facts"]
    print(f"{name} seed {seed}: {report['ops_per_second']} ops/s, anomalies {report['anomalies']}, "
          f"faults {facts['faults']}; report {report_path}")
    failed = {r["name"]: r["summary"] for r in report["verdict"] if not r["ok"]}
    assert not failed and done.returncode == 0, (failed, str(report_path))
    assert report["anomalies"] == {} and facts["faults"] >= 60
