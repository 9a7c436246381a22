"""Client test suites as the judge: librdkafka's, kafka-python's and aiokafka's own
integration tests against a kraft cluster.

Not part of the default test suite (librdkafka's alone builds a C library and runs for
about 40 minutes). docs/CLIENT_SUITES.md says what it does, how to read its summary and
why each exclusion in bench/client_suite_exclusions.toml cannot apply.

    .venv/bin/python bench/client_suites.py librdkafka                 # every applicable test
    .venv/bin/python bench/client_suites.py librdkafka --tests 0001,0012
    .venv/bin/python bench/client_suites.py librdkafka --source ~/librdkafka-2.16.0.tar.gz
    .venv/bin/python bench/client_suites.py kafka-python               # test/integration, KAFKA_URI
    .venv/bin/python bench/client_suites.py aiokafka                   # tests/, bench/aiokafka_kraft_plugin.py

librdkafka steps:
1. librdkafka's source at the release tag of the installed confluent-kafka's librdkafka
   (GitHub's tarball of tag v<version>; --source takes a local tarball or tree instead),
   the Debian build dependencies (apt-get, when run as root and missing), then
   `./configure`, `make libs` and `make -C tests test-runner` at nice 10 with -j2, once:
   the build is cached under ~/.cache/kraft-client-suites/librdkafka-<version>/.
2. A 3-node kraft cluster (LocalCluster on 127.0.0.<first>..) with the settings of
   librdkafka's default test scenario (tests/scenarios/default.json: auto topic creation,
   4 partitions, replication factor 3), every broker with a rack and KIP-392's rack-aware
   replica selector, as trivup sets them; a second cluster with
   auto creation off for the tests of the `noautocreate` scenario, a third with SASL
   (kraft's [security], SCRAM credentials in test.conf) for the tests that need it, a
   fourth serving TLS with certificates made for the run (bench/librdkafka_ssl.py) for 0097,
   and two serving OAUTHBEARER: unsecured JWTs (`oauthbearer`, 0142 again), and OIDC
   (`oidc`, 0126) against bench/oidc_token_server.py, whose JWKS the cluster checks tokens
   with and whose endpoints test-runner is given as VALID_OIDC_URL, INVALID_OIDC_URL and
   EXPIRED_TOKEN_OIDC_URL, and its JWT-bearer client's keys as
   OAUTHBEARER_CLIENT_PRIVATE_KEY[_ENCRYPTED|_PASSWORD] (trivup's names).
3. Each test number alone: `TESTS=<nnnn> ./test-runner -p1 -L` (-L: the tests that need
   no broker, librdkafka's unit and mock-cluster tests, are not run), a per-test time
   limit, the test's report file read for each test entry's state.
4. summary.json and summary.md in the output directory, with each failure's output tail
   and the window of each node's log the test ran in.

The command line is here; the suites are in client_suites_common.py (what they share),
client_suites_librdkafka.py (build, test list, plan), client_suites_librdkafka_run.py
(running the plan) and client_suites_python.py (kafka-python, aiokafka).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))  # its sibling modules, also when loaded by path

# the suites live in client_suites_*.py; their names are here too, where the CLI and the
# tests (tests/unit/test_client_suite_*.py) find them
from parts.client_suites_common import Result, Runner, load_exclusions, say, write_summary  # noqa: E402, F401
from parts.client_suites_librdkafka import Entry, merged_runs, select, test_entries  # noqa: E402, F401
from parts.client_suites_librdkafka_run import LibrdkafkaRunner, run_librdkafka  # noqa: E402, F401
from parts.client_suites_python import broker_test_files, run_aiokafka, run_kafka_python  # noqa: E402, F401
from kraft.server.local_cluster import default_first_address  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="suite", required=True)
    lib = sub.add_parser("librdkafka", help="librdkafka's tests/ integration suite")
    lib.add_argument("--librdkafka-version", help="release tag to build (default: the installed "
                     "confluent-kafka's librdkafka)")
    lib.add_argument("--source", help="a local librdkafka tarball or source tree of that version "
                     "(for machines without GitHub access)")
    lib.add_argument("--tests", help="comma-separated test numbers or entry names (default: all)")
    lib.add_argument("--subtests", help="SUBTESTS: only the sub-tests whose name holds this text "
                     "(to look past a failing sub-test of a long test such as 0081)")
    lib.add_argument("--kafka-version", default="3.9.0", help="TEST_KAFKA_VERSION (default 3.9.0)")
    lib.add_argument("--group-protocol", choices=["classic", "consumer"], default=None,
                     help="TEST_CONSUMER_GROUP_PROTOCOL (default: the suite's, classic)")
    lib.add_argument("--ssl-listener", choices=["ssl", "sasl_ssl"], default="ssl",
                     help="the ssl scenario's brokers (0097): TLS requiring client certificates "
                          "(security.protocol=SSL, default), or SASL over TLS asking for none (SASL_SSL)")
    lib.add_argument("--quick", action="store_true",
                     help="test-runner -Q: fewer messages, and every sub-test not marked quick is "
                          "left out (some tests then run nothing): a smoke run, not a verdict")
    # 0113 alone runs about 16 minutes on two busy cores (its u_ variations take 107 s each)
    lib.add_argument("--test-timeout", type=float, default=1500.0, help="seconds per test number")
    lib.add_argument("--timeout-multiplier", type=float, default=2.0,
                     help="test.timeout.multiplier in test.conf (default 2: a shared 2-core machine)")
    lib.add_argument("--budget-s", type=float, default=0, help="stop starting tests after this long")
    lib.add_argument("--first-address", type=int, default=default_first_address(),
                     help="the cluster's first 127.0.0.N (default KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS or 2)")
    lib.add_argument("--tail", type=int, default=40, help="output lines kept per failure")
    lib.add_argument("--out", help="results directory (default under the cache)")
    kp = sub.add_parser("kafka-python", help="kafka-python's test/integration suite (KAFKA_URI)")
    kp.add_argument("--kafka-python-version", help="default: the installed kafka-python's")
    kp.add_argument("--kafka-version", default="auto",
                    help="KAFKA_VERSION (default: the newest whose request versions kraft serves)")
    aio = sub.add_parser("aiokafka", help="aiokafka's functional tests (tests/, through a pytest plugin)")
    aio.add_argument("--aiokafka-version", help="default: the installed aiokafka's")
    aio.add_argument("--kafka-version", default="2.8.1",
                     help="the Kafka version the tests are told (default 2.8.1, the newest of aiokafka's CI)")
    for pytest_suite in (kp, aio):
        pytest_suite.add_argument("--source", help="a local tarball or tree of the client's repository at that tag")
        pytest_suite.add_argument("--tests", help="pytest -k expression")
        pytest_suite.add_argument("--test-timeout", type=float, default=300.0,
                                  help="seconds per test (pytest-timeout)")
        pytest_suite.add_argument("--budget-s", type=float, default=0, help="stop pytest after this long")
        pytest_suite.add_argument("--first-address", type=int, default=default_first_address(),
                                  help="the cluster's first 127.0.0.N (default KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS or 2)")
        pytest_suite.add_argument("--out", help="results directory (default under the cache)")
    args = parser.parse_args(argv)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    try:
        runs = {"librdkafka": run_librdkafka, "kafka-python": run_kafka_python, "aiokafka": run_aiokafka}
        return runs[args.suite](args)
    except KeyboardInterrupt:
        say("interrupted: cluster and test-runner stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
