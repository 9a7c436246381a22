"""The `hostile-requests` failure scenario: requests built so that the work is large or
that reach past a client's own (broker-only APIs and Fetch v4-v6 as a replica from a
client, a share member's session used from another connection, 100,000 acknowledgement
batches, a backtracking JSON Schema pattern, 1,000 idle connections from four addresses
beside a newcomer, FULL_TRANSITIVE registrations, REST reads of one-byte records with no
max_bytes) against a live cluster under an ordinary workload, judged by the checkers:
nothing acknowledged lost, the workload served throughout, no broker fenced, every
abuse answered as a client may be (docs/SCENARIOS.md)."""

from __future__ import annotations

import pytest

from kraft.config.scenarios import load_scenario
from kraft.scenario.runner import RunOptions, run_scenario

pytestmark = pytest.mark.cluster


def test_requests_built_to_make_work_fence_no_broker_and_lose_nothing(tmp_path):
    result = run_scenario(load_scenario("hostile-requests"), RunOptions(seed=7, report_dir=tmp_path))
    assert result.skipped is None, result.skipped
    failed = [f"{r.name}: expected {r.expected}, got {r.actual} ({r.summary})"
              for r in result.verdict.rows if not r.ok]
    examples = {c.name: c.examples for c in result.checks if not c.ok}
    assert not failed, (failed, examples)
    ends = {f.detail.split(":")[0]: f.detail for f in result.history.faults if f.kind == "end-abuse"}
    assert set(ends) == {"hostile-broker-apis", "hostile-share-acks", "hostile-redos", "hostile-transitive",
                         "hostile-wide-read", "hostile-share-hijack", "hostile-idle-connections"}, ends
    assert not [d for d in ends.values() if "cancelled" in d or "failed:" in d], ends
    answers = [a for a in result.history.abuse_answers]
    kinds = {a[1] for a in answers}
    assert kinds == set(ends), kinds  # every abuse reached a node and was answered
    assert result.facts["writes_ok"] > 100, "the workload hardly ran"
