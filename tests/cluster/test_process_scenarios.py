"""Failure scenarios whose faults are the node processes' own (kill, pause, restart,
corrupt a segment): short versions on real clusters, judged by the checkers against each
scenario's expectations (docs/SCENARIOS.md).

They change nothing on the host (no iptables rule, no queueing discipline, no mount), so
they run beside the rest of the suite, each test a worker group of its own
(tests/conftest.py); the scenarios with network faults are in test_scenarios.py, which
runs in the host-fault group, the ones with power cuts and full disks in
test_disk_scenarios.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scenario_runs import SHORT_RECOVERY_S, options, run

from kraft.config.scenarios import builtin_names, load_scenario
from kraft.scenario.runner import run_scenario

pytestmark = pytest.mark.cluster

PROCESS_FAULTS = ["secured-failover"]
# Run by `./dev test -m soak` (about 45 s each), to keep the default suite near its
# 12-minute aim: test_scenarios.py's short chaos run kills, stops, pauses and cuts the
# power of leaders, followers and controllers with Kafka clients; power-cut-leader and
# quorum-power-cut take down a leader and the active controller; the negative controls
# check that the checkers see loss.
MORE_PROCESS_FAULTS = ["leader-kill", "leader-pause", "controller-kill", "all-controllers-kill",
                       "follower-wipe", "kafka-leader-kill", "baseline", "isr-shrink",
                       "last-replica-standing", "acks1-leader-kill"]


# The default suite's runs end 2 s after the last fault's own end (secured-failover's
# restart at 17 s) and write 1 s after healing, then until the cluster has recovered.
SHORTER = {"secured-failover": 20}


@pytest.mark.parametrize("name", PROCESS_FAULTS + [pytest.param(n, marks=pytest.mark.soak)
                                                   for n in MORE_PROCESS_FAULTS])
def test_scenario_expectations_hold(name):
    short = name in SHORTER
    result, failed = run(name, SHORTER.get(name), SHORT_RECOVERY_S if short else None)
    assert result.skipped is None, result.skipped
    assert not failed, failed
    assert result.facts["writes_ok"] > 50, "the workload hardly ran"
    if name != "baseline":
        assert result.facts["faults"] >= 1, "no fault was injected"
    if short:  # the shorter run still had every fault of the scenario
        assert result.facts["faults"] == len(result.scenario.faults), result.history.faults
    if name == "secured-failover":  # the intruder kept trying through the faults
        access = next(c for c in result.checks if c.name == "access")
        assert access.counts["attempts"] > 30 and access.counts["refused"] > 20, access.summary


def test_unclean_loss_negative_control_detects_and_attributes_loss():
    result, failed = run("unclean-loss", recovery=SHORT_RECOVERY_S)
    assert not failed, failed
    checks = {c.name: c for c in result.checks}
    assert not checks["lost_writes"].ok and checks["lost_writes"].counts["lost"] > 0
    assert checks["unclean_accounting"].ok
    assert checks["unclean_accounting"].counts["attributed"] == checks["lost_writes"].counts["lost"]
    assert result.facts["unclean_elections"] >= 1


def test_scenario_cli_lists_runs_and_reports(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "kraft", "scenario", "list"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == builtin_names() and "unclean-loss" in names and "chaos" in names
    custom = tmp_path / "mine.toml"
    custom.write_text('name = "mine"\ndescription = "one kill"\n[workload]\nduration = 5\n'
                      'recovery = 1\n[[faults]]\nat = 1\nfault = "kill"\ntarget = "random"\n'
                      'duration = 2\n[expect]\nchecks = { liveness = "any" }\n')
    # without --report: a new directory under $TMPDIR, said before the run and kept after it
    ran = subprocess.run([sys.executable, "-m", "kraft", "scenario", "run", str(custom)], capture_output=True,
                         text=True, timeout=240, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    said = re.search(r"^reports go to (\S+) ", ran.stdout, flags=re.M)
    assert said, ran.stdout[:2000]
    reports = Path(said.group(1))
    assert reports.parent == tmp_path and reports.name.startswith("kraft-scenarios-"), reports
    report = json.loads((reports / "mine.json").read_text())
    assert report["passed"] and report["facts"]["faults"] == 1
    page = (reports / "mine.html").read_text()
    assert "<svg" in page and "lost_writes" in page
    bad = subprocess.run([sys.executable, "-m", "kraft", "scenario", "run", "no-such"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no scenario named" in bad.stderr


def test_corrupt_segment_is_never_served_and_repaired():
    result, failed = run("corrupt-segment", recovery=SHORT_RECOVERY_S)
    assert result.skipped is None, result.skipped
    assert not failed, failed
    corrupted = [f for f in result.history.faults if f.kind == "corrupt"]
    assert len(corrupted) == 2 and all(f.target and "bytes at byte" in f.detail for f in corrupted), corrupted
    # the damaged leader gave up leadership (a new epoch), and every replica is back in sync
    epochs = {s.leader_epoch for s in result.history.samples if s.time_ms > corrupted[0].time_ms}
    assert max(epochs) > min(s.leader_epoch for s in result.history.samples)
    assert sorted(result.history.final_isr[0]) == [1, 2, 3]


@pytest.mark.parametrize("name,f,duration", [("jepsen-queue-leader-kill", "send", 17),
                                             ("jepsen-txn-coordinator-kill", "txn", 19)])
def test_short_jepsen_runs_under_kills_find_no_anomaly(name, f, duration, tmp_path):
    """Jepsen's two workloads for 17 and 19 s (2 s past the second kill's restart) with
    real confluent-kafka client processes: partition leaders (queue) or transaction
    coordinators (txn) killed twice. Jepsen's
    checks find nothing, every lab check passes, and `kraft scenario check` reads the
    history the run wrote as the run itself judged it. (Network faults, power cuts and
    the negative controls: test_scenarios.py and `./dev test -m soak`.)"""
    scenario = load_scenario(name)
    result = run_scenario(scenario, options(scenario, duration, SHORT_RECOVERY_S, report_dir=tmp_path))
    assert result.skipped is None, result.skipped
    failed = [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})" for r in result.verdict.rows if not r.ok]
    assert not failed, failed
    assert result.facts["anomalies"] == {}
    kills = [e for e in result.history.faults if e.kind == "kill"]
    assert len(kills) == 2 and not any(e.detail.startswith("skipped") for e in kills), kills
    assert result.facts["ops"].get(f"{f} ok", 0) > 20, result.facts["ops"]
    assert result.facts["final_poll_complete"]
    checked = subprocess.run([sys.executable, "-m", "kraft", "scenario", "check", str(result.history_path), "--json"],
                             capture_output=True, text=True, timeout=120)
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["valid"] and report["stats"]["ops"] == result.jepsen.stats["ops"]


def test_a_follower_controller_paused_five_times_causes_no_election():
    """Each time a paused controller came back, the quorum re-elected (its election timer
    had run out while it was stopped): pre-vote keeps the healthy leader, so the Raft
    term does not move over five pauses of a controller that is not the active one."""
    result, failed = run("controller-follower-pause", 29, SHORT_RECOVERY_S)  # the last resume at 27 s
    assert result.skipped is None, result.skipped
    pauses = [f for f in result.history.faults if f.kind == "pause" and not f.detail.startswith("skipped")]
    assert len(pauses) == 5, result.history.faults
    row = next(r for r in result.verdict.rows if r.name == "elections")
    assert row.ok and result.facts["elections"] == 0, row.summary
    assert not failed, failed
