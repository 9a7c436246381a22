"""The Python clients' suites: kafka-python's test/integration and aiokafka's functional
tests, each a pytest run in the client's repository against a kraft cluster
(run_kafka_python, run_aiokafka)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from parts.client_suites_common import (
    CACHE,
    KAFKA_GROUP_DEFAULTS,
    REPO,
    TOPIC_DEFAULTS,
    Result,
    Runner,
    load_exclusions,
    say,
    source_tree,
    write_summary,
)

from kraft.server.local_cluster import LocalCluster

KAFKA_PYTHON_URL = "https://github.com/dpkp/kafka-python/archive/refs/tags/{version}.tar.gz"
AIOKAFKA_URL = "https://github.com/aio-libs/aiokafka/archive/refs/tags/v{version}.tar.gz"


# -- kafka-python ---------------------------------------------------------------------------

def kafka_python_tree(version: str, source: Path | None) -> Path:
    """kafka-python's repository at the tag `version` (its source distribution on PyPI leaves
    out test/service.py and test/conftest.py, which the integration tests import)."""
    tree = CACHE / f"kafka-python-{version}"
    if (tree / "test" / "integration" / "conftest.py").is_file():
        return tree
    source_tree(tree, source, CACHE / f"kafka-python-{version}.tar.gz", KAFKA_PYTHON_URL.format(version=version))
    return tree


FITTING_VERSION = """
import sys
from kafka.protocol.broker_version_data import BROKER_API_VERSIONS
from kraft.kafka.connection.apis import SERVED
for version in sorted(BROKER_API_VERSIONS, reverse=True):
    table = BROKER_API_VERSIONS[version]
    if all(table[k][1] <= SERVED[k].max_version for k in table if k in SERVED):
        print(".".join(map(str, version)))
        break
"""


def fitting_kafka_version(tree: Path) -> str:
    """The newest Kafka version whose request versions, in kafka-python's own table, kraft
    serves: given KAFKA_VERSION, the integration fixture pins the clients' api_version to it,
    and kafka-python then sends that table's versions whatever ApiVersions answered."""
    got = subprocess.run([sys.executable, "-c", FITTING_VERSION], cwd=tree, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO}"})
    if got.returncode != 0 or not got.stdout.strip():
        raise SystemExit(f"could not match kafka-python's version table to kraft's: {got.stderr[-500:]}")
    return got.stdout.strip()


def junit_results(xml_path: Path) -> list[Result]:
    import xml.etree.ElementTree as ET
    results = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        res = Result(name, "", "default", "PASSED", "", float(case.get("time") or 0))
        for child in case:
            if child.tag in ("failure", "error"):
                res.state = "FAILED"
                res.reason = (child.get("message") or child.tag).splitlines()[0][:300]
                res.output_tail = (child.text or "").splitlines()[-40:]
            elif child.tag == "skipped":
                res.state, res.reason = "SKIPPED", (child.get("message") or "")[:300]
        results.append(res)
    return results


def run_pytest_suite(args, suite: str, version: str, tree: Path, pytest_args: list[str],
                     suite_env, topic_defaults: dict = TOPIC_DEFAULTS,
                     groups: dict = KAFKA_GROUP_DEFAULTS) -> int:
    """A Python client's pytest suite in `tree` against a 3-node cluster: the exclusions
    deselected, `suite_env(runner, cluster)` giving the environment that points the suite at
    the cluster, the JUnit report read into summary.md and summary.json."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = Path(args.out).expanduser() if args.out else CACHE / "results" / f"{suite}-{version}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    exclusions = load_exclusions(suite)
    meta = {"suite": suite, "librdkafka": "", "client_version": version,
            "kafka_version": args.kafka_version, "quick": False, "timeout_multiplier": 1,
            "group_protocol": None, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    runner = Runner(tree, out, args)
    try:
        cluster = runner.start_cluster("default", topic_defaults, groups)
        cmd = [sys.executable, "-m", "pytest", *pytest_args, "-p", "no:cacheprovider",
               "--timeout", str(args.test_timeout), "-q", "-rN", "--tb=native",
               f"--junitxml={out / 'junit.xml'}"]
        for item in exclusions.values():
            cmd += ["--deselect", item["test"]]
        if args.tests:
            cmd += ["-k", args.tests]
        env = {**os.environ, **suite_env(runner, cluster)}
        say(f"pytest {' '.join(pytest_args)} in {tree} (Kafka version claimed: {args.kafka_version})")
        with open(out / "pytest-output.txt", "wb") as log:
            runner.proc = subprocess.Popen(["nice", "-n", "10", *cmd], cwd=tree, env=env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
            try:
                runner.proc.wait(args.budget_s or None)
            except subprocess.TimeoutExpired:
                say("time budget spent: pytest interrupted (its report keeps the tests that ended)")
                os.killpg(runner.proc.pid, signal.SIGINT)  # pytest then writes its JUnit report
                try:
                    runner.proc.wait(60)
                except subprocess.TimeoutExpired:
                    pass
            finally:
                runner.stop_test()
        results = junit_results(out / "junit.xml") if (out / "junit.xml").exists() else []
    finally:
        runner.stop_test()
        runner.stop_cluster()
    for item in exclusions.values():
        results.append(Result(item["test"], "", "default", "EXCLUDED", f"[{item['category']}] {item['reason']}"))
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_summary(out, meta, results, title=f"{suite} {version}")
    say(f"summary: {out / 'summary.md'} and {out / 'summary.json'}")
    return 1 if any(r.state == "FAILED" for r in results) else 0


def run_kafka_python(args) -> int:
    import kafka
    version = args.kafka_python_version or kafka.__version__
    tree = kafka_python_tree(version, Path(args.source).expanduser() if args.source else None)
    if args.kafka_version == "auto":
        args.kafka_version = fitting_kafka_version(tree)

    def point_at(runner: Runner, cluster: LocalCluster) -> dict:
        # the fixture insists on a Kafka distribution's directory even for an external
        # broker: an empty one (a test that runs Kafka's scripts then fails, and says so)
        no_kafka = runner.out / "no-kafka-distribution"
        no_kafka.mkdir(exist_ok=True)
        first = cluster.bootstrap_servers.split(",")[0]
        return {"KAFKA_VERSION": args.kafka_version, "KAFKA_URI": f"PLAINTEXT://{first}",
                "KAFKA_ROOT": str(no_kafka)}

    return run_pytest_suite(args, "kafka-python", version, tree, ["test/integration", "-o", "addopts="],
                            point_at)


# -- aiokafka ---------------------------------------------------------------------------------

# the settings of aiokafka's test container (Kafka's shipped server.properties with
# NUM_PARTITIONS=2): auto creation on, 2 partitions, no initial rebalance delay
AIOKAFKA_TOPIC_DEFAULTS = {"num.partitions": 2, "replication.factor": 3}
AIOKAFKA_GROUPS = {"group.initial.rebalance.delay.ms": 0}
# the container's SASL users (docker/scripts/kafka_server_jaas.conf); admin is its super user
AIOKAFKA_USERS = {"admin": "admin", "test": "test", "test2": "test2"}
BROKER_TEST_MARKERS = re.compile(r"\b(setup_test_class|KafkaIntegrationTestCase|kafka_server)\b")


def aiokafka_tree(version: str, source: Path | None) -> Path:
    """aiokafka's repository at the tag v`version` (its source distribution on PyPI may
    leave out tests/)."""
    tree = CACHE / f"aiokafka-{version}"
    if (tree / "tests" / "conftest.py").is_file():
        return tree
    source_tree(tree, source, CACHE / f"aiokafka-{version}.tar.gz", AIOKAFKA_URL.format(version=version))
    return tree


def broker_test_files(tests_dir: Path) -> list[str]:
    """The test modules that use a broker (aiokafka's conftest hands them `kafka_server`),
    relative to the tree: the unit-test modules stay out, and with them their imports
    (pytest-mock) that a cluster run does not need."""
    return sorted(f"{tests_dir.name}/{path.relative_to(tests_dir).as_posix()}"
                  for path in tests_dir.rglob("test_*.py")
                  if BROKER_TEST_MARKERS.search(path.read_text(errors="replace")))


def run_aiokafka(args) -> int:
    import aiokafka
    version = args.aiokafka_version or aiokafka.__version__
    tree = aiokafka_tree(version, Path(args.source).expanduser() if args.source else None)

    def point_at(runner: Runner, cluster: LocalCluster) -> dict:
        secured = runner.start_secured_cluster(AIOKAFKA_USERS, AIOKAFKA_TOPIC_DEFAULTS, AIOKAFKA_GROUPS)
        host, port = cluster.bootstrap_servers.split(",")[0].rsplit(":", 1)
        sasl_host, sasl_port = secured.bootstrap_servers.split(",")[0].rsplit(":", 1)
        assert sasl_host == host, (sasl_host, host)  # the suite names one host for both
        return {"KRAFT_AIOKAFKA_HOST": host, "KRAFT_AIOKAFKA_PORT": port,
                "KRAFT_AIOKAFKA_SASL_PORT": sasl_port,
                "KRAFT_AIOKAFKA_ADMIN": f"admin:{AIOKAFKA_USERS['admin']}", "PYTHONSAFEPATH": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "bench"), os.environ.get("PYTHONPATH")]))}

    # the image name only carries the Kafka version the tests read (`..._<version>`);
    # PYTHONSAFEPATH and --import-mode=append: the installed aiokafka of that version (with
    # its C extensions, which conftest.py insists on) rather than the tree's uncompiled package
    pytest_args = [*broker_test_files(tree / "tests"), "-p", "aiokafka_kraft_plugin",
                   "--docker-image", f"kraft:kafka_{args.kafka_version}", "--import-mode=append",
                   # newer pytest-asyncio warns when it is unset, and the suite makes warnings errors
                   "-o", "asyncio_default_fixture_loop_scope=function"]
    return run_pytest_suite(args, "aiokafka", version, tree, pytest_args, point_at,
                            AIOKAFKA_TOPIC_DEFAULTS, AIOKAFKA_GROUPS)
