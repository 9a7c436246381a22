"""The failure lab's share-group workload (docs/SCENARIOS.md, "The share-group workload")
on fresh clusters of real node processes with real confluent-kafka client processes: a
short `share-groups` run under leader, share-coordinator, group-coordinator and consumer
kills finds no anomaly, and its negative control (no dead-letter topic while consumers
reject records; `./dev test -m soak`) finds the records that left the group as `lost`.

Each test is one scenario run on its own cluster (127.0.0.N addresses of the worker's
range); nothing on the host changes (no iptables rule, no mount), so the module runs
beside the rest of the suite. The isolated-leader variant, `share-groups-isolated`,
needs root and iptables and runs by hand (`kraft scenario run share-groups-isolated`).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scenario_runs import SHORT_RECOVERY_S, options

from kraft.config.scenarios import load_scenario
from kraft.scenario.runner import run_scenario

pytestmark = pytest.mark.cluster

pytest.importorskip("confluent_kafka", reason="the share workload's clients are confluent-kafka (a test extra)")


def verdict_failures(result) -> list[str]:
    return [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})" for r in result.verdict.rows if not r.ok]


def test_a_short_share_run_under_kills_finds_no_anomaly(tmp_path):
    """20 s of the workload (2 s past the last kill's restart): the leader of t-0, the share
    coordinator of the group's t-0 state and the group's coordinator killed in turn, and
    consumers killed holding records. Nothing acknowledged is lost, no accepted record
    comes back, no count passes the limit, every rejected record is a dead letter; the
    records the killed consumers held came back; `kraft scenario check` judges the
    history the run wrote as the run did."""
    scenario = load_scenario("share-groups")
    result = run_scenario(scenario, options(scenario, 20, SHORT_RECOVERY_S, report_dir=tmp_path))
    assert result.skipped is None, result.skipped
    assert not verdict_failures(result), verdict_failures(result)
    assert result.facts["anomalies"] == {}
    kills = [e for e in result.history.faults if e.kind == "kill"]
    assert len(kills) == 3 and not any(e.detail.startswith("skipped") for e in kills), kills
    share = result.facts["share"]
    assert share["deliveries"] > 200 and share["accepted"] > 100, share
    assert share["rejected"] > 0 and share["dead letters"] >= share["rejected"], share
    assert share["redelivered after a kill"] >= 1 and share["killed holding records"] >= 1, share
    assert result.facts["final_poll_complete"]
    checked = subprocess.run([sys.executable, "-m", "kraft", "scenario", "check", str(result.history_path), "--json"],
                             capture_output=True, text=True, timeout=120)
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["valid"] and report["stats"] == share


@pytest.mark.soak  # about 17 s: the default suite keeps near its 12 minutes (the checks' failures: test_share_lab_checks)
def test_without_a_dead_letter_topic_rejected_records_are_found_lost(tmp_path):
    """The negative control: the group has no dead-letter topic, so each record a consumer
    rejects is archived and leaves the group; the checks must find them lost."""
    scenario = load_scenario("share-groups-no-dlq")
    result = run_scenario(scenario, options(scenario, recovery=SHORT_RECOVERY_S, report_dir=tmp_path))
    assert result.skipped is None, result.skipped
    assert not verdict_failures(result), verdict_failures(result)
    share = result.facts["share"]
    assert share["rejected"] > 0 and share["dead letters"] == 0, share
    assert result.facts["anomalies"] == {"lost": result.facts["anomalies"]["lost"]}
    assert result.facts["anomalies"]["lost"] >= share["rejected"], (result.facts["anomalies"], share)
    assert result.facts["final_poll_complete"]
