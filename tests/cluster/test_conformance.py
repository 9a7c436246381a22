"""The HTTP API against OpenAPI documents, fuzzed by schemathesis on a real cluster:

- kraft's own document (`GET /openapi.json`, built from the routes) names every path the
  node serves, each one routed, and no generated request, however hostile, gets a 5xx
  other than the documented retriable 50003/50301 (the fuzzer deletes and re-creates
  the very topic it probes, so leaders move under it);
- Confluent's published v3 spec, when it is at ../shared/conformance (it is not copied
  into this repository): the same, and answers in the spec's content types and schemas.
  The status codes the spec leaves out on purpose (422/42206 for a refused value, 415
  for a wrong Content-Type, 404 for an unknown name, as Confluent's proxy answers them)
  are listed in the README and not checked here.

Each run is bounded in time and seeded: RUN_S in the default suite, longer with
KRAFT_CONFORMANCE_SECONDS (e.g. 600 for a soak of both documents).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cluster_client import create_topic

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

RUN_S = int(os.environ.get("KRAFT_CONFORMANCE_SECONDS", "20"))
CHECK = "no_server_error_but_a_retriable_one"  # tests/cluster/fuzz_checks.py
CONFLUENT_SPEC = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "confluent-kafka-rest-v3.yaml"
# One operation whose response schema in the published spec is invalid OpenAPI
# ("type: int64"), so no answer can be checked.
CONFLUENT_EXCLUDED = r"/partitions/\{partition_id\}/offset$"


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, "t1", 3)
        yield c


FUZZER_RACE = "AST constructor recursion depth mismatch"


def fuzz(cluster, tmp_path, schema: str, base: str, checks: str, extra=()) -> subprocess.CompletedProcess:
    """One bounded schemathesis run, path parameters pinned to things that exist."""
    config = tmp_path / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(
        f'"path.{k}" = {json.dumps(v)}\n' for k, v in {
            "cluster_id": cluster.cluster_id, "topic_name": "t1", "topic": "t1",
            "partition_id": 0, "partition": 0, "broker_id": 1}.items()))
    cmd = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", schema,
           "--url", base, "--checks", checks, "--phases", "examples,coverage,fuzzing",
           "--max-time", str(RUN_S), "-n", "10", "--seed", "7", "--no-shrink", "-w", "2",
           "--continue-on-failure", *extra]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_checks",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    for _ in range(2):
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_S * 4, check=False,
                                cwd=tmp_path, env=env)
        # CPython 3.11's ast module counts its recursion depth in state all threads share (gh-106905):
        # two of schemathesis' workers parsing at once (Hypothesis describing a lambda) can
        # fail its own check. A crash inside the fuzzer is no finding about kraft: run again.
        if FUZZER_RACE not in result.stdout:
            break
    return result


def failures(result: subprocess.CompletedProcess) -> str:
    """The parts of schemathesis' report that say what failed (its ERRORS section, then its
    FAILURES), for the assertion message."""
    out = result.stdout
    found = [i for i in (out.find("= ERRORS ="), out.find("= FAILURES =")) if i >= 0]
    return (out[min(found):min(found) + 10000] if found else out[-8000:]) + result.stderr[-2000:]


def test_the_own_document_names_every_served_path_and_each_is_routed(cluster):
    status, doc = http_json("GET", cluster.url(2) + "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3."), doc
    paths = doc["paths"]
    for path, method in (("/topics/{topic}", "post"), ("/v3/clusters/{cluster_id}/topics/{topic}", "patch"),
                         ("/consumers/{group}", "post"), ("/v3/clusters/{cluster_id}/broker-configs", "get"),
                         ("/brokers", "get"), ("/openapi.json", "get"), ("/status/ready", "get")):
        assert method in paths.get(path, {}), (path, method)
    assert not any(p.startswith("/internal/") for p in paths)
    for path, operations in paths.items():
        concrete = (path.replace("{cluster_id}", cluster.cluster_id).replace("{", "").replace("}", ""))
        for method in operations:
            status, body = http_json(method.upper(), cluster.url(1) + concrete, timeout=10)
            routed = not (status == 404 and isinstance(body, dict)
                          and str(body.get("message", "")).startswith("no such endpoint"))
            assert routed and status != 405 and status < 500, (method, path, status, body)


# Operations that would take the fuzzed broker (or a controller's vote) out of the cluster
# for the rest of the run; tests/cluster/test_decommission.py and test_quorum_voters.py
# cover them, bad input included.
DECOMMISSION = (("--exclude-path-regex", "commission$"),
                ("--exclude-path-regex", "quorum/voters"),
                ("--exclude-name", "DELETE /v3/clusters/{cluster_id}/brokers/{broker_id}"))


@pytest.mark.timeout(RUN_S * 8 + 120)  # two runs of RUN_S at most, each bounded by RUN_S * 4
def test_fuzzing_by_the_own_document_finds_no_server_error(cluster, tmp_path):
    result = fuzz(cluster, tmp_path, cluster.url(1) + "/openapi.json", cluster.url(1), CHECK,
                  tuple(arg for pair in DECOMMISSION for arg in pair))
    assert result.returncode == 0, failures(result)


@pytest.mark.skipif(not CONFLUENT_SPEC.exists(),
                    reason=f"Confluent's v3 spec is not at {CONFLUENT_SPEC} (it is read from there, never copied)")
@pytest.mark.timeout(RUN_S * 8 + 120)
def test_confluents_v3_spec_no_server_error_and_its_shapes(cluster, tmp_path):
    result = fuzz(cluster, tmp_path, str(CONFLUENT_SPEC), cluster.url(1) + "/v3",
                  f"{CHECK},content_type_conformance,response_schema_conformance",
                  ("--exclude-path-regex", CONFLUENT_EXCLUDED))
    assert result.returncode == 0, failures(result)
