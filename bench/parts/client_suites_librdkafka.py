"""librdkafka's suite, its parts that start nothing: the scenarios the script sets up,
the build of librdkafka and its test-runner, the test list of tests/test.c and the plan
made from it (bench/client_suites_librdkafka_run.py runs the plan)."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from parts.client_suites_common import CACHE, SCENARIOS, Result, say, source_tree

from kraft.config.cluster import RACK_AWARE_REPLICA_SELECTOR

TARBALL_URL = "https://github.com/confluentinc/librdkafka/archive/refs/tags/v{version}.tar.gz"
DEBIAN_BUILD_DEPS = ["build-essential", "pkg-config", "libssl-dev", "zlib1g-dev", "libzstd-dev",
                     "liblz4-dev", "libsasl2-dev", "rapidjson-dev",
                     "libcurl4-openssl-dev"]  # OAUTHBEARER/OIDC (sasl.oauthbearer.method=oidc, 0126)
# librdkafka: the script's own scenario "sasl" is a default-scenario cluster with kraft's
# [security] (SASL PLAIN/SCRAM, ACLs) for the tests that skip themselves without SASL
# credentials in test.conf; test-runner is told it runs the default scenario
SASL_SCENARIO = "sasl"
SASL_USER, SASL_PASSWORD, SASL_MECHANISM = "admin", "admin-secret", "SCRAM-SHA-256"
# and "oauthbearer" (unsecured JWTs; trivup's broker setting, the scope 0142's OAUTHBEARER
# sub-tests ask for) and "oidc" (tokens from the script's identity provider: its client, a
# super user, and a token lifetime short enough that clients refresh tokens and
# re-authenticate within a test)
OAUTHBEARER_SCENARIO, OIDC_SCENARIO = "oauthbearer", "oidc"
SASL_SCENARIOS = (SASL_SCENARIO, OAUTHBEARER_SCENARIO, OIDC_SCENARIO)
OAUTHBEARER_REQUIRED_SCOPE = "requiredScope"
OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_TOKEN_LIFETIME_S = "kraft-client", "kraft-secret", 10
OIDC_KEY_PASSWORD = "kraft-key-password"  # the JWT-bearer client's encrypted private key
# librdkafka: the script's own scenario "ssl" for 0097, which skips itself without the SSL_*
# variables trivup sets: brokers serving TLS with certificates of a CA made for the run
# (bench/librdkafka_ssl.py); --ssl-listener says whether they require client certificates
# (test.conf security.protocol=SSL) or take SASL over TLS (SASL_SSL, no client certificate
# asked, as Kafka's SASL_SSL listeners); test-runner is told it runs the default scenario
SSL_SCENARIO = "ssl"
# the tests run in the script's own scenarios, and in which
OWN_SCENARIO_TESTS = {"0135_sasl_credentials": (SASL_SCENARIO,),
                      "0142_reauthentication": (SASL_SCENARIO, OAUTHBEARER_SCENARIO),
                      "0126_oauthbearer_oidc": (OIDC_SCENARIO,), "0097_ssl_verify": (SSL_SCENARIO,)}
OWN_SCENARIOS = {*SASL_SCENARIOS, SSL_SCENARIO}
# KIP-368 session lifetime: 0142 re-authenticates within it while it produces and consumes
SASL_REAUTH_MS = 10_000
# trivup's broker.rack=RACK${appid}: 0101 (fetch from follower) counts three racks and sets
# client.rack to "RACK<broker id>"; every broker of the librdkafka clusters has one
RACKS = {1: "RACK1", 2: "RACK2", 3: "RACK3"}
# ... and with them KIP-392's selector, as trivup sets it (tests/cluster_testing.py): 0101's
# consumer reads from the follower in its client.rack
FETCH_FROM_FOLLOWER = {"replica.selector.class": RACK_AWARE_REPLICA_SELECTOR}
# test flags from librdkafka's tests/test.h
F_LOCAL, F_MANUAL, F_KNOWN_ISSUE = "TEST_F_LOCAL", "TEST_F_MANUAL", "TEST_F_KNOWN_ISSUE"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# -- the build -------------------------------------------------------------------------

def installed_librdkafka_version() -> str:
    import confluent_kafka
    return confluent_kafka.libversion()[0]


def ensure_build_deps() -> None:
    missing = [p for p in DEBIAN_BUILD_DEPS
               if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                 text=True).stdout.strip() != "install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"missing build dependencies (install them, or run as root on Debian): "
                         f"{' '.join(missing)}")
    say(f"apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", *missing], env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", *missing], env=env, check=True)



def librdkafka_tree(version: str, source: Path | None) -> Path:
    """librdkafka's source tree for `version`, built (library and tests/test-runner)."""
    tree = CACHE / f"librdkafka-{version}"
    built = tree / ".kraft-built"
    # a build made before a dependency was added (libcurl: OIDC) is made again
    deps_line = f"deps: {' '.join(DEBIAN_BUILD_DEPS)}"
    if (built.exists() and deps_line in built.read_text().splitlines()
            and (tree / "tests" / "test-runner").exists()):
        return tree
    source_tree(tree, source, CACHE / f"librdkafka-{version}.tar.gz", TARBALL_URL.format(version=version))
    ensure_build_deps()
    logs = tree / "kraft-build"
    logs.mkdir(exist_ok=True)
    # mklove reads configure.<name> in the current directory as modules: keep its log apart
    steps = [(["./configure", "--disable-gssapi"], tree, "configure"),
             (["make", "-j2", "libs"], tree, "make-libs"),
             (["make", "-j2", "test-runner"], tree / "tests", "make-tests")]
    for cmd, cwd, name in steps:
        say(f"building: {' '.join(cmd)} (log: {logs / name}.txt)")
        with open(logs / f"{name}.txt", "wb") as log:
            rc = subprocess.run(["nice", "-n", "10", *cmd], cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT).returncode
        if rc != 0:
            tail = (logs / f"{name}.txt").read_text(errors="replace").splitlines()[-30:]
            raise SystemExit(f"{' '.join(cmd)} failed ({rc}):\n" + "\n".join(tail))
    built.write_text(f"built {datetime.datetime.now(datetime.timezone.utc).isoformat()}\n{deps_line}\n")
    return tree


# -- the test list and the plan -----------------------------------------------------------

@dataclass
class Entry:
    name: str        # e.g. 0045_subscribe_update_topic_remove
    number: str      # 0045: TESTS= selects by number
    flags: str
    scenarios: list[str]
    min_version: tuple[int, ...] = (0,)


def test_entries(tree: Path) -> list[Entry]:
    """The `tests[]` table of tests/test.c."""
    text = (tree / "tests" / "test.c").read_text(errors="replace")
    table = text[text.index("struct test tests[] = {"):]
    table = table[:table.index("{NULL}")]
    entries = []
    for match in re.finditer(r"_TEST\(\s*(\w+)\s*,(.*?)\)\s*,\s*(?=_TEST\(|/\*|#|$)", table, re.S):
        name, rest = match.group(1), match.group(2)
        flags = rest.split(",")[0].strip()
        scen = re.search(r'\.scenario\s*=\s*"([^"]*)"', rest)
        minver = re.search(r"TEST_BRKVER\(\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+)\s*\)", rest)
        entries.append(Entry(name, name.split("_")[0], flags,
                             scen.group(1).split(",") if scen else ["default"],
                             tuple(int(x) for x in minver.groups()) if minver else (0,)))
    return entries



def merged_runs(runs: list[list[Result]], limit: dict) -> list[Result]:
    """The runs of one number, each limited to a sub-test pattern, as one result per entry:
    FAILED if a run failed, else PASSED if one passed, else SKIPPED; a pass says which
    sub-tests ran and why the others cannot apply."""
    merged = []
    for tries in zip(*runs):
        states = [r.state for r in tries]
        state = "FAILED" if "FAILED" in states else "PASSED" if "PASSED" in states else "SKIPPED"
        res = next(r for r in tries if r.state == state)
        res.duration_s = sum(r.duration_s for r in tries)
        if state == "PASSED":
            res.reason = (f"only the sub-tests matching {' or '.join(map(repr, limit['subtests']))}: "
                          f"[{limit['category']}] {limit['reason']}")
        merged.append(res)
    return merged


def select(entries: list[Entry], only: set[str] | None, exclusions: dict[str, dict],
           kafka_version: str):
    """(to run: {scenario: {number: [entries]}}, excluded results)."""
    claimed = tuple(int(x) for x in kafka_version.split("."))
    plan: dict[str, dict[str, list[Entry]]] = {}
    excluded: list[Result] = []
    for entry in entries:
        if only is not None and entry.number not in only and entry.name not in only:
            continue
        flags = entry.flags
        if F_MANUAL in flags:
            reason, category = "manual test (librdkafka runs it only when named)", "manual"
        elif re.search(r"\bTEST_F_KNOWN_ISSUE\b", flags):
            reason, category = ("librdkafka flags it TEST_F_KNOWN_ISSUE (a client bug it fails on "
                                "any broker); test-runner skips it unless given -k"), "known-issue"
        elif F_LOCAL in flags:
            reason, category = ("needs no broker: librdkafka's unit tests and tests of its "
                                "built-in mock cluster (test-runner -L leaves them out)"), "local"
        elif entry.min_version > claimed:
            reason = (f"needs Kafka {'.'.join(map(str, entry.min_version[:3]))} (TEST_BRKVER in test.c); "
                      f"the run claims {kafka_version} (test-runner would skip it)")
            category = "kafka-version"
        elif entry.name in exclusions:
            reason, category = exclusions[entry.name]["reason"], exclusions[entry.name]["category"]
        else:
            scens = OWN_SCENARIO_TESTS.get(entry.name) or tuple(s for s in entry.scenarios if s in SCENARIOS)[:1]
            if not scens:
                excluded.append(Result(entry.name, entry.number, ",".join(entry.scenarios), "EXCLUDED",
                                       "scenario not set up by this script: " + ",".join(entry.scenarios)))
                continue
            for scen in scens:
                plan.setdefault(scen, {}).setdefault(entry.number, []).append(entry)
            continue
        excluded.append(Result(entry.name, entry.number, ",".join(entry.scenarios), "EXCLUDED",
                               f"[{category}] {reason}"))
    return plan, excluded
