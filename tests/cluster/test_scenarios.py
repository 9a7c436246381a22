"""Short versions of the built-in failure scenarios, on real clusters with real faults.

Each run starts its own cluster of node processes, injects the scenario's faults, and
judges the checkers against the scenario's expectations (docs/SCENARIOS.md). Network
scenarios need root and iptables (the test command installs iptables when it runs as
root); without them they are skipped with the reason. Their rules and qdiscs are the
host's, so this module runs in the host-fault group (tests/conftest.py); the scenarios
whose faults are a node's own disk are in test_disk_scenarios.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scenario_runs import SHORT_RECOVERY_S, options, run

from kraft.scenario.faults.network import NetworkFaults
from kraft.config.scenarios import load_scenario
from kraft.scenario.runner import RunOptions, run_scenario
from kraft.server import lazy_disks

pytestmark = pytest.mark.cluster
NETWORK_OK, NETWORK_WHY = NetworkFaults.available()
POWER_OK, POWER_WHY = lazy_disks.available()


@pytest.mark.soak  # about 50 s: the default suite keeps near its 12 minutes (decommission, rebalance and
# quorum changes under load have their own tests: test_decommission, test_rebalance, test_quorum_voters)
def test_grow_and_shrink_moves_partitions_under_load_and_loses_nothing():
    """Two brokers join, a rebalance moves replicas onto them, a leader is killed, one new
    broker is decommissioned and stopped, all under acks=all writes: every check passes,
    and each membership change really happened (not skipped)."""
    result, failed = run("grow-and-shrink")
    assert not failed, failed
    events = {(f.kind, tuple(f.target)): f.detail for f in result.history.faults}
    assert "joined" in events[("add-broker", (4,))] and "joined" in events[("add-broker", (5,))]
    rebalanced = events[("rebalance", ())]
    assert "started" in rebalanced and not rebalanced.split("started: ")[1].startswith("0 replicas"), rebalanced
    assert "decommissioned" in events[("decommission", (4,))], events


@pytest.mark.skipif(not NETWORK_OK, reason=f"network faults unavailable: {NETWORK_WHY}")
def test_isolate_leader():
    # 15 s of faults, not the scenario's 25: its one fault is healed at 12 s
    result = run_scenario(load_scenario("isolate-leader"), RunOptions(duration=15, seed=7))
    assert result.skipped is None, result.skipped
    failed = [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})" for r in result.verdict.rows if not r.ok]
    assert not failed, failed
    assert result.facts["faults"] == 1
    undone = [e for e in result.history.faults if e.kind == "heal" and e.target]
    assert undone and undone[0].time_ms < result.history.heal_ms, result.history.faults  # healed on its own time
    divergence = next(c for c in result.checks if c.name == "replica_divergence")
    assert divergence.counts["isr_replicas_compared"] == 2, divergence.summary  # the ex-leader back and compared


@pytest.mark.skipif(not NETWORK_OK, reason=f"chaos mixes in network faults: {NETWORK_WHY}")
@pytest.mark.skipif(not POWER_OK, reason=f"chaos mixes in power cuts: {POWER_WHY}")
def test_chaos_short_run_with_groups_and_a_compacted_topic():
    """19 s of the chaos scenario (the 1,000 s runs are soak): Kafka producers, group
    members and the compacted topic's writer all ran, and every checker passes. Seed 11
    draws one fault, at 12 s, undone by 18 s; 25 s drew the same fault and no other."""
    result = run_scenario(load_scenario("chaos"), RunOptions(duration=19, seed=11))
    assert result.skipped is None, result.skipped
    failed = [f"{r.name}: {r.summary}" for r in result.verdict.rows if not r.ok]
    assert not failed, (failed, {c.name: c.examples[:5] for c in result.checks if not c.ok})
    checks = {c.name: c for c in result.checks}
    assert result.facts["faults"] >= 1 and result.facts["writes_ok"] > 1000
    assert checks["group_offsets"].counts["commits"] > 10
    assert checks["group_delivery"].counts["records"] >= result.facts["writes_ok"]
    assert checks["compaction"].counts["keys"] == 50
    assert checks["compaction"].counts["remaining"] < checks["compaction"].counts["acknowledged"]


def _jepsen_run(name: str, report_dir):
    result = run_scenario(load_scenario(name), RunOptions(seed=7, report_dir=report_dir))
    assert result.skipped is None, result.skipped
    failed = [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})" for r in result.verdict.rows if not r.ok]
    return result, failed


JEPSEN_FAULT_CLASSES = ("leader-kill", "coordinator-kill", "controller-pause", "leader-isolated",
                        "leader-isolated-with-clients", "power-cut", "rebalance-storm")
# each fault class's negative control (docs/SCENARIOS.md) and the anomaly it must find
JEPSEN_NEGATIVE_CONTROLS = {
    "jepsen-queue-unclean": "lost-write",  # leader-kill: its own test below
    "jepsen-txn-coordinator-kill-uncommitted": "G1a",
    "jepsen-queue-controller-pause-acks1": "lost-write",
    "jepsen-queue-leader-isolated-with-clients-acks1": "lost-write",
    "jepsen-queue-power-cut-all": "lost-write",
    "jepsen-queue-rebalance-storm-resume-committed": "nonmonotonic-poll",
}


def _skip_without_the_fault(name: str) -> None:
    if "leader-isolated" in name and not NETWORK_OK:
        pytest.skip(f"network faults unavailable: {NETWORK_WHY}")
    if "power-cut" in name and not POWER_OK:
        pytest.skip(f"power cuts need the lazy filesystem: {POWER_WHY}")


@pytest.mark.soak  # about 40 s each, 14 of them
@pytest.mark.parametrize("name", [f"jepsen-{w}-{c}" for w in ("queue", "txn") for c in JEPSEN_FAULT_CLASSES])
def test_jepsen_workloads_under_each_fault_class_find_no_anomaly(name, tmp_path):
    """Each fault class alone under each workload (docs/SCENARIOS.md): no Jepsen anomaly,
    every lab check passes, and every fault the scenario names was applied."""
    _skip_without_the_fault(name)
    result, failed = _jepsen_run(name, tmp_path)
    assert not failed, failed
    assert result.facts["anomalies"] == {}
    assert not any(e.detail.startswith("skipped") for e in result.history.faults), result.history.faults
    assert sum(n for op, n in result.facts["ops"].items() if op.endswith(" ok")) > 50, result.facts["ops"]
    if name.endswith("with-clients"):  # half the client slots went with each isolated leader
        cuts = [e for e in result.history.faults if e.kind == "isolate-with-clients"]
        assert len(cuts) == 2 and all(e.detail.startswith("client slots [") for e in cuts), cuts


@pytest.mark.soak  # about 40-70 s each, 5 of them (jepsen-queue-unclean has its own test below)
@pytest.mark.parametrize("name", [n for n in JEPSEN_NEGATIVE_CONTROLS if n != "jepsen-queue-unclean"])
def test_each_fault_classs_negative_control_finds_its_anomaly(name, tmp_path):
    """A guarantee switched off under each fault class (acks=1, no fsync, read_uncommitted,
    positions forgotten at reassignment): the anomaly the real cluster then shows must be
    found, so a checker that cannot fail would show here; `kraft scenario check` on the
    history fails the same way."""
    _skip_without_the_fault(name)
    result, failed = _jepsen_run(name, tmp_path)
    assert not failed, failed
    anomaly = JEPSEN_NEGATIVE_CONTROLS[name]
    assert result.facts["anomalies"].get(anomaly, 0) > 0, result.facts["anomalies"]
    assert not any(e.detail.startswith("skipped") for e in result.history.faults), result.history.faults
    code, report = _check_cli(tmp_path / f"{name}.history.jsonl")
    assert code == 1 and anomaly in report["failed"], report["failed"]


def _check_cli(path) -> tuple[int, dict]:
    """`kraft scenario check` on a recorded history, as anyone would run it."""
    ran = subprocess.run([sys.executable, "-m", "kraft", "scenario", "check", str(path), "--json"],
                         capture_output=True, text=True, timeout=120)
    return ran.returncode, json.loads(ran.stdout)


@pytest.mark.skipif(not NETWORK_OK, reason=f"the Jepsen scenarios isolate a leader: {NETWORK_WHY}")
@pytest.mark.soak  # about 37 s each: the default suite keeps its 12 minutes (transactions under kill -9: test_transactions_faults)
@pytest.mark.parametrize("name,f", [("jepsen-queue", "send"), ("jepsen-txn", "txn")])
def test_jepsen_workloads_find_no_anomaly_under_kills_and_an_isolated_leader(name, f, tmp_path):
    """Real confluent-kafka client processes under a leader kill, a coordinator kill and
    an isolated leader: Jepsen's checks find nothing and every lab check passes; the
    history in the report directory is one `kraft scenario check` reads the same way."""
    result, failed = _jepsen_run(name, tmp_path)
    assert not failed, failed
    assert result.facts["anomalies"] == {}
    faults = [e for e in result.history.faults if e.kind in ("kill", "isolate")]
    assert len(faults) == 3 and not any(e.detail.startswith("skipped") for e in faults), faults
    ops = result.facts["ops"]
    assert ops.get(f"{f} ok", 0) > 50, ops
    assert result.facts["final_poll_complete"] and result.facts["writes_ok"] > 100
    history = tmp_path / f"{name}.history.jsonl"
    assert result.history_path == history
    code, report = _check_cli(history)
    assert code == 0 and report["valid"] and report["stats"]["ops"] == result.jepsen.stats["ops"]
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert {line["f"] for line in lines if line["process"] == "nemesis"} >= {"kill", "isolate", "heal"}
    assert {"assign", "subscribe", f, "poll"} <= {line["f"] for line in lines}  # the final client polls


@pytest.mark.soak  # about 40 s; the default suite keeps the unclean-loss control for the lab's own checks
def test_jepsen_queue_unclean_negative_control_finds_lost_writes(tmp_path):
    """With min ISR 1 and unclean election on, a stale follower is elected: Jepsen's
    lost-write must be found (a checker that cannot fail would show here), and the lab's
    lost_writes attributes the loss to the recorded unclean election."""
    result, failed = _jepsen_run("jepsen-queue-unclean", tmp_path)
    assert not failed, failed
    assert result.facts["anomalies"].get("lost-write", 0) > 0 and result.facts["unclean_elections"] >= 1
    checks = {c.name: c for c in result.checks}
    assert not checks["lost_writes"].ok and checks["unclean_accounting"].ok
    code, report = _check_cli(tmp_path / "jepsen-queue-unclean.history.jsonl")
    assert code == 1 and "lost-write" in report["failed"]


@pytest.mark.skipif(not NETWORK_OK, reason=f"share-groups-isolated isolates nodes: {NETWORK_WHY}")
@pytest.mark.soak  # about 30 s: the default suite runs share-groups (kills) in test_share_scenarios.py
def test_share_groups_under_isolated_leader_and_share_coordinator_find_no_anomaly(tmp_path):
    """The share-group workload while the leader of t-0, later the share coordinator of the
    group's state of t-0, is cut off: no share anomaly, every lab check passes."""
    scenario = load_scenario("share-groups-isolated")
    result = run_scenario(scenario, options(scenario, None, SHORT_RECOVERY_S, report_dir=tmp_path))
    assert result.skipped is None, result.skipped
    failed = [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})" for r in result.verdict.rows if not r.ok]
    assert not failed, failed
    assert result.facts["anomalies"] == {}
    isolations = [e for e in result.history.faults if e.kind == "isolate"]
    assert len(isolations) == 2 and not any(e.detail.startswith("skipped") for e in isolations), isolations
    assert result.facts["share"]["accepted"] > 100 and result.facts["final_poll_complete"]
