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
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))  # its sibling modules, also when loaded by path

import librdkafka_ssl  # noqa: E402
import oidc_token_server  # noqa: E402
from kraft.config.cluster import RACK_AWARE_REPLICA_SELECTOR  # noqa: E402
from kraft.server.local_cluster import LocalCluster, default_first_address, security_toml  # noqa: E402

CACHE = Path(os.environ.get("KRAFT_CLIENT_SUITES_CACHE", Path.home() / ".cache" / "kraft-client-suites"))
EXCLUSIONS = REPO / "bench" / "client_suite_exclusions.toml"
TARBALL_URL = "https://github.com/confluentinc/librdkafka/archive/refs/tags/v{version}.tar.gz"
KAFKA_PYTHON_URL = "https://github.com/dpkp/kafka-python/archive/refs/tags/{version}.tar.gz"
AIOKAFKA_URL = "https://github.com/aio-libs/aiokafka/archive/refs/tags/v{version}.tar.gz"
DEBIAN_BUILD_DEPS = ["build-essential", "pkg-config", "libssl-dev", "zlib1g-dev", "libzstd-dev",
                     "liblz4-dev", "libsasl2-dev", "rapidjson-dev",
                     "libcurl4-openssl-dev"]  # OAUTHBEARER/OIDC (sasl.oauthbearer.method=oidc, 0126)
# librdkafka's tests/scenarios/*.json, as kraft settings
SCENARIOS = {
    "default": {"auto.create.topics.enable": True},
    "noautocreate": {"auto.create.topics.enable": False},
    "sasl": {"auto.create.topics.enable": True},
    "ssl": {"auto.create.topics.enable": True},
    "oauthbearer": {"auto.create.topics.enable": True},
    "oidc": {"auto.create.topics.enable": True},
}
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
TOPIC_DEFAULTS = {"num.partitions": 4, "replication.factor": 3}
# the suites run against Kafka's broker defaults: an empty group's first rebalance waits
# 3 s for more members (0113 and 0118 count on consumers started together sharing it)
KAFKA_GROUP_DEFAULTS = {"group.initial.rebalance.delay.ms": 3000}
# test flags from librdkafka's tests/test.h
F_LOCAL, F_MANUAL, F_KNOWN_ISSUE = "TEST_F_LOCAL", "TEST_F_MANUAL", "TEST_F_KNOWN_ISSUE"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


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


def unpack(tarball: Path, dest: Path) -> None:
    """The tarball's one top directory becomes `dest`."""
    staging = dest.with_name(dest.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(staging, filter="data")
    tops = list(staging.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise SystemExit(f"{tarball}: expected one top directory, found {[t.name for t in tops]}")
    shutil.rmtree(dest, ignore_errors=True)
    tops[0].rename(dest)
    staging.rmdir()


def source_tree(tree: Path, source: Path | None, cached_tarball: Path, url: str) -> None:
    """Fill `tree` from `source` (a directory, copied; or a tarball), else from the cached
    tarball, downloaded from `url` when it is not cached yet."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if source is not None and source.is_dir():
        say(f"copying {source} to {tree}")
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(source, tree, symlinks=True)
        return
    tarball = source or cached_tarball
    if source is None and not tarball.exists():
        say(f"downloading {url}")
        part = tarball.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=120) as resp, open(part, "wb") as out:
            shutil.copyfileobj(resp, out)
        part.rename(tarball)
    say(f"unpacking {tarball}")
    unpack(tarball, tree)


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


# -- the test list -----------------------------------------------------------------------

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


def load_exclusions(suite: str) -> dict[str, dict]:
    data = tomllib.loads(EXCLUSIONS.read_text())
    out = {}
    for item in data.get(suite, []):
        for key in ("test", "category", "reason") + (("subtests",) if suite.endswith("-subtests") else ()):
            if not item.get(key):
                raise SystemExit(f"{EXCLUSIONS}: a [[{suite}]] entry lacks {key!r}: {item}")
        if suite.endswith("-subtests") and not all(isinstance(p, str) and p for p in item["subtests"]):
            raise SystemExit(f"{EXCLUSIONS}: a [[{suite}]] entry's subtests must be a list of texts: {item}")
        out[item["test"]] = item
    return out


# -- running -------------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    number: str
    scenario: str
    state: str                 # PASSED, FAILED, SKIPPED (by the test), EXCLUDED
    reason: str = ""
    duration_s: float = 0.0
    output_tail: list[str] = field(default_factory=list)
    node_logs: dict[str, list[str]] = field(default_factory=dict)


class Runner:
    def __init__(self, tree: Path, out: Path, args) -> None:
        self.tree, self.out, self.args = tree, out, args
        self.cluster: LocalCluster | None = None
        self.secured: LocalCluster | None = None
        self.proc: subprocess.Popen | None = None
        self.scenario = "default"
        self.ssl: librdkafka_ssl.SslEnvironment | None = None  # the ssl scenario's, made once
        self.idp: oidc_token_server.OidcTokenServer | None = None  # the oidc scenario's, stopped with its cluster

    def start_cluster(self, scenario: str, topic_defaults: dict = TOPIC_DEFAULTS,
                      groups: dict = KAFKA_GROUP_DEFAULTS) -> LocalCluster:
        self.stop_cluster()
        say(f"starting a 3-node kraft cluster for scenario {scenario!r}")
        cluster = LocalCluster(nodes=3, first_address=self.args.first_address,
                               topic_defaults=topic_defaults, cluster=SCENARIOS[scenario],
                               groups=groups)
        self.cluster = cluster
        cluster.start()
        cluster.wait_ready(timeout_s=90)
        return cluster

    def start_secured_cluster(self, users: dict[str, str], topic_defaults: dict, groups: dict) -> LocalCluster:
        """A 1-node cluster with SASL (PLAIN, SCRAM) and ACLs beside the main one, on its
        first address (a suite that names one host for both listeners); `admin` is its
        super user, and a resource no ACL names is open to everyone, as Kafka's
        allow.everyone.if.no.acl.found=true."""
        say("starting a 1-node kraft cluster with [security] (SASL and ACLs)")
        cluster = LocalCluster(nodes=1, first_address=self.args.first_address,
                               topic_defaults={**topic_defaults, "replication.factor": 1},
                               cluster=SCENARIOS["default"], groups=groups,
                               extra_toml=security_toml(users, super_users=("admin",), authentication=True,
                                                        allow_everyone_if_no_acl_found=True))
        self.secured = cluster
        cluster.start()
        cluster.wait_ready(timeout_s=90)
        return cluster

    def stop_cluster(self) -> None:
        clusters = [(self.scenario, self.cluster), ("secured", self.secured)]
        self.cluster = self.secured = None
        idp, self.idp = self.idp, None
        if idp is not None:
            idp.__exit__(None, None, None)
        for label, cluster in clusters:
            if cluster is None:
                continue
            logs = self.out / "node-logs"
            logs.mkdir(exist_ok=True)
            for node_id in cluster.hosts:
                path = cluster.log_path(node_id)
                if path.exists():
                    shutil.copy(path, logs / f"{label}-node-{node_id}.log")
            cluster.stop_all()
            cluster.close()

    def stop_test(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    def start_librdkafka_cluster(self, scenario: str) -> LocalCluster:
        """The cluster of a librdkafka scenario: every broker with a rack, and KIP-392's
        rack-aware replica selector (as trivup's clusters); for the sasl
        scenario kraft's [security] with the test.conf user as its super user; for the ssl
        scenario TLS with the run's certificates as well (the client certificate's user a
        super user too)."""
        import base64
        self.stop_cluster()
        sasl, tls = scenario in SASL_SCENARIOS, scenario == SSL_SCENARIO
        say(f"starting a 3-node kraft cluster for scenario {scenario!r}")
        basic = base64.b64encode(f"{SASL_USER}:{SASL_PASSWORD}".encode()).decode()
        security = ""
        if sasl:
            security = self.sasl_security(scenario)
        elif tls:
            security = security_toml({SASL_USER: SASL_PASSWORD}, super_users=(SASL_USER, self.ssl_env().client),
                                     **self.ssl_env().tls_settings(self.client_auth()))
        cluster = LocalCluster(nodes=3, first_address=self.args.first_address,
                               topic_defaults=TOPIC_DEFAULTS, cluster={**SCENARIOS[scenario], **FETCH_FROM_FOLLOWER},
                               groups=KAFKA_GROUP_DEFAULTS, racks=RACKS,
                               timeouts={"connections.max.reauth.ms": SASL_REAUTH_MS} if sasl else None,
                               extra_toml=security,
                               headers={"Authorization": f"Basic {basic}"} if sasl or tls else None)
        if tls:
            cluster.tls = self.ssl_env().client_context(with_certificate=self.client_auth() == "required")
        self.cluster = cluster
        with self.cpus(scenario, "brokers"):
            cluster.start()
        cluster.wait_ready(timeout_s=90)
        return cluster

    def sasl_security(self, scenario: str) -> str:
        """[security] of a SASL scenario: the SCRAM user (the cluster's own REST calls use
        it), and for the OAUTHBEARER ones the token validator (the oidc scenario's token
        server starts here); the token principals are super users."""
        if scenario == SASL_SCENARIO:
            return security_toml({SASL_USER: SASL_PASSWORD})
        mechanisms = {"sasl.enabled.mechanisms": ["OAUTHBEARER", SASL_MECHANISM]}
        if scenario == OAUTHBEARER_SCENARIO:
            return security_toml({SASL_USER: SASL_PASSWORD}, **mechanisms,
                                 **{"sasl.oauthbearer.allow.unsecured.jwt": True,
                                    "unsecuredValidatorRequiredScope": [OAUTHBEARER_REQUIRED_SCOPE]})
        self.idp = oidc_token_server.OidcTokenServer(client_id=OIDC_CLIENT_ID, client_secret=OIDC_CLIENT_SECRET,
                                                     lifetime_s=OIDC_TOKEN_LIFETIME_S).__enter__()
        say(f"OIDC token server on {self.idp.url('/')}")
        return security_toml({SASL_USER: SASL_PASSWORD}, super_users=(SASL_USER, OIDC_CLIENT_ID),
                             allow_everyone_if_no_acl_found=True, **mechanisms,
                             **{"sasl.oauthbearer.jwks.endpoint.url": self.idp.url("/jwks"),
                                "sasl.oauthbearer.expected.audience": [oidc_token_server.AUDIENCE]})

    def sasl_conf(self, scenario: str) -> str:
        """test.conf's SASL lines of a SASL scenario, as trivup writes them."""
        plaintext = "security.protocol=SASL_PLAINTEXT\n"
        if scenario == OAUTHBEARER_SCENARIO:
            return (f"{plaintext}sasl.mechanisms=OAUTHBEARER\nenable.sasl.oauthbearer.unsecure.jwt=true\n"
                    f"sasl.oauthbearer.config=principal={SASL_USER} scope={OAUTHBEARER_REQUIRED_SCOPE}\n")
        if scenario == OIDC_SCENARIO:
            assert self.idp is not None
            return (f"{plaintext}sasl.mechanisms=OAUTHBEARER\nsasl.oauthbearer.method=oidc\n"
                    f"sasl.oauthbearer.client.id={OIDC_CLIENT_ID}\n"
                    f"sasl.oauthbearer.client.secret={OIDC_CLIENT_SECRET}\n"
                    f"sasl.oauthbearer.scope=test\n"
                    f"sasl.oauthbearer.token.endpoint.url={self.idp.url('/token')}\n")
        return (f"{plaintext}sasl.mechanisms={SASL_MECHANISM}\n"
                f"sasl.username={SASL_USER}\nsasl.password={SASL_PASSWORD}\n")

    def oidc_env(self) -> dict[str, str]:
        """The token endpoints and the JWT-bearer client's keys 0126 reads, under trivup's
        variable names."""
        if self.idp is None:
            return {}
        plain, encrypted = self.idp.write_client_keys(self.out, OIDC_KEY_PASSWORD)
        return {"VALID_OIDC_URL": self.idp.url("/token"), "INVALID_OIDC_URL": self.idp.url("/token/invalid"),
                "EXPIRED_TOKEN_OIDC_URL": self.idp.url("/token/expired"),
                "OAUTHBEARER_CLIENT_PRIVATE_KEY": str(plain), "OAUTHBEARER_CLIENT_PRIVATE_KEY_ENCRYPTED": str(encrypted),
                "OAUTHBEARER_CLIENT_PRIVATE_KEY_PASSWORD": OIDC_KEY_PASSWORD}

    def cpus(self, scenario: str, who: str):
        """The ssl scenario's brokers and test-runner on different CPUs (librdkafka_ssl.py
        says why); elsewhere no constraint."""
        split = librdkafka_ssl.cpu_split() if scenario == SSL_SCENARIO else None
        return librdkafka_ssl.started_on(split and split[0 if who == "brokers" else 1])

    def ssl_env(self) -> librdkafka_ssl.SslEnvironment:
        """The ssl scenario's certificates, made once per run for the cluster's addresses."""
        if self.ssl is None:
            first = self.args.first_address
            self.ssl = librdkafka_ssl.build(self.out / "ssl", [f"127.0.0.{first + i}" for i in range(3)])
        return self.ssl

    def client_auth(self) -> str:
        """kraft's tls_client_auth for the ssl scenario's --ssl-listener."""
        return "required" if self.args.ssl_listener == "ssl" else "none"

    def write_conf(self, scenario: str) -> Path:
        assert self.cluster is not None
        conf = self.out / f"test-{scenario}.conf"
        login = (f"sasl.mechanisms={SASL_MECHANISM}\n"
                 f"sasl.username={SASL_USER}\nsasl.password={SASL_PASSWORD}\n")
        security = ""
        if scenario in SASL_SCENARIOS:
            security = self.sasl_conf(scenario)
        elif scenario == SSL_SCENARIO:
            client_certs = self.args.ssl_listener == "ssl"
            security = (f"security.protocol={'SSL' if client_certs else 'SASL_SSL'}\n"
                        + ("" if client_certs else login)
                        + "".join(f"{k}={v}\n" for k, v in self.ssl_env().conf.items()))
        conf.write_text(
            "# written by bench/client_suites.py\n"
            f"bootstrap.servers={self.cluster.bootstrap_servers}\n"
            f"test.timeout.multiplier={self.args.timeout_multiplier}\n"
            + security)
        return conf

    def log_offsets(self) -> dict[int, int]:
        assert self.cluster is not None
        return {n: (self.cluster.log_path(n).stat().st_size if self.cluster.log_path(n).exists() else 0)
                for n in self.cluster.hosts}

    def log_window(self, before: dict[int, int]) -> dict[str, list[str]]:
        """Each node's warnings and errors written while the test ran (at most 40 lines)."""
        assert self.cluster is not None
        out = {}
        for node_id, start in before.items():
            try:
                with open(self.cluster.log_path(node_id), "rb") as f:
                    f.seek(start)
                    lines = f.read().decode(errors="replace").splitlines()
            except OSError:
                continue
            notable = [ln for ln in lines if re.search(r"WARNING|ERROR|Traceback|CRITICAL", ln)]
            if notable:
                out[f"node-{node_id}"] = notable[-40:]
        return out

    def run_number(self, number: str, scenario: str, conf: Path, entries: list[Entry],
                   subtests: str | None = None, run: int = 0) -> list[Result]:
        """One test-runner of the number; `subtests`: its SUBTESTS (--subtests wins), `run`:
        which of the runs of a number limited to several sub-test patterns."""
        label = f"{scenario}-{number}" + (f"-{run}" if run else "")
        report = self.out / "reports" / f"{label}.json"
        output = self.out / "output" / f"{label}.txt"
        report.parent.mkdir(exist_ok=True)
        output.parent.mkdir(exist_ok=True)
        report.unlink(missing_ok=True)
        rdk_scenario = "default" if scenario in OWN_SCENARIOS else scenario
        certificates = self.ssl_env().variables if scenario == SSL_SCENARIO else {}  # SSL_*, as trivup's
        env = {**os.environ, **certificates, **self.oidc_env(), "TESTS": number, "TEST_KAFKA_VERSION": self.args.kafka_version,
               "RDKAFKA_TEST_CONF": str(conf), "TEST_REPORT": str(report),
               "TEST_SCENARIO": rdk_scenario, "LD_LIBRARY_PATH": f"{self.tree / 'src'}:{self.tree / 'src-cpp'}"}
        if self.args.subtests or subtests:
            env["SUBTESTS"] = self.args.subtests or subtests
        if self.args.group_protocol:
            env["TEST_CONSUMER_GROUP_PROTOCOL"] = self.args.group_protocol
        cmd = ["./test-runner", "-p1", "-L", "-s", rdk_scenario] + (["-Q"] if self.args.quick else [])
        before = self.log_offsets()
        started = time.monotonic()
        timed_out = False
        with open(output, "wb") as log, self.cpus(scenario, "client"):
            self.proc = subprocess.Popen(cmd, cwd=self.tree / "tests", env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            try:
                rc = self.proc.wait(self.args.test_timeout)
            except subprocess.TimeoutExpired:
                timed_out, rc = True, -9
            finally:
                self.stop_test()
        duration = time.monotonic() - started
        tail = ANSI.sub("", output.read_text(errors="replace")).splitlines()[-self.args.tail:]
        states: dict[str, dict] = {}
        try:
            states = json.loads(report.read_text()).get("tests", {})
        except (OSError, ValueError):
            pass
        results = []
        for entry in entries:
            got = states.get(entry.name)
            if got is None or timed_out:
                why = (f"no result: the test-runner was stopped after {self.args.test_timeout:.0f} s"
                       if timed_out else f"no result: the test-runner exited with {rc} before reporting")
                res = Result(entry.name, number, scenario, "FAILED", why, duration, tail)
            else:
                state = got.get("state", "?")
                state = {"PASSED": "PASSED", "SKIPPED": "SKIPPED"}.get(state, "FAILED")
                res = Result(entry.name, number, scenario, state, "", float(got.get("duration", 0)))
                if state != "PASSED":
                    res.reason = self.reason_from_output(output, entry.name, state)
                if state == "FAILED":
                    res.output_tail = tail
            if res.state == "FAILED":
                res.node_logs = self.log_window(before)
            results.append(res)
        return results

    @staticmethod
    def reason_from_output(output: Path, name: str, state: str) -> str:
        """Why the entry failed or skipped: test-runner's first `### Test "<name> (sub-test)"
        failed at ...` line with the message after it, else its summary line's text."""
        lines = ANSI.sub("", output.read_text(errors="replace")).splitlines()
        for i, line in enumerate(lines):
            if line.startswith(f'### Test "{name}') and " failed at " in line:
                where = line.strip("# ").split(" at ")[0]
                message = lines[i + 1].strip() if i + 1 < len(lines) else ""
                return f"{message} ({where})"
        for line in reversed(lines):
            if line.startswith("|") and f" {name} " in line:
                return line.split("|")[-1].strip() or state
        return state

    def cluster_healthy(self) -> bool:
        return self.cluster is not None and all(self.cluster.running(n) for n in self.cluster.hosts)


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


def write_summary(out: Path, meta: dict, results: list[Result], title: str = "") -> None:
    counts = {s: sum(1 for r in results if r.state == s) for s in ("PASSED", "FAILED", "SKIPPED", "EXCLUDED")}
    (out / "summary.json").write_text(json.dumps(
        {**meta, "counts": counts, "results": [r.__dict__ for r in results]}, indent=1))
    if title:
        about = f"{meta['started']} to {meta['finished']}; KAFKA_VERSION={meta['kafka_version']}."
    else:
        title = f"librdkafka {meta['librdkafka']}"
        about = (f"{meta['started']} to {meta['finished']}; TEST_KAFKA_VERSION={meta['kafka_version']}, "
                 f"{'quick mode (-Q)' if meta['quick'] else 'full mode'}, test.timeout.multiplier="
                 f"{meta['timeout_multiplier']}, group protocol {meta['group_protocol'] or 'classic'}.")
    lines = [f"# {title} test suite against kraft", "", about, "",
             "| passed | failed | skipped by the test | excluded |", "| --- | --- | --- | --- |",
             f"| {counts['PASSED']} | {counts['FAILED']} | {counts['SKIPPED']} | {counts['EXCLUDED']} |", "",
             "| test | scenario | state | s | reason |", "| --- | --- | --- | --- | --- |"]
    for r in sorted(results, key=lambda r: r.name):
        if r.state == "EXCLUDED" and r.reason.startswith("[local]"):
            continue
        reason = r.reason.replace("|", "/")[:200]
        lines.append(f"| {r.name} | {r.scenario} | {r.state} | {r.duration_s:.1f} | {reason} |")
    local = sum(1 for r in results if r.reason.startswith("[local]"))
    if local:
        lines += ["", f"{local} entries flagged TEST_F_LOCAL (no broker) are excluded and not listed."]
    lines.append("")
    for r in results:
        if r.state != "FAILED":
            continue
        lines += [f"## {r.name} (FAILED)", "", r.reason, "", "```", *r.output_tail, "```", ""]
        for node, log in r.node_logs.items():
            lines += [f"{node}, warnings and errors while it ran:", "", "```", *log[-15:], "```", ""]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def run_librdkafka(args) -> int:
    version = args.librdkafka_version or installed_librdkafka_version()
    tree = librdkafka_tree(version, Path(args.source).expanduser() if args.source else None)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = Path(args.out).expanduser() if args.out else CACHE / "results" / f"librdkafka-{version}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.tests.split(",")) if args.tests else None
    plan, results = select(test_entries(tree), only, load_exclusions("librdkafka"),
                           args.kafka_version)
    subtests = load_exclusions("librdkafka-subtests")
    total = sum(len(v) for v in plan.values())
    say(f"{total} test numbers to run, {len(results)} entries excluded; results in {out}")
    meta = {"suite": "librdkafka", "librdkafka": version, "kafka_version": args.kafka_version,
            "quick": args.quick, "timeout_multiplier": args.timeout_multiplier,
            "group_protocol": args.group_protocol, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    runner = Runner(tree, out, args)
    deadline = time.monotonic() + args.budget_s if args.budget_s else None
    try:
        for scenario, numbers in plan.items():
            runner.scenario = scenario
            runner.start_librdkafka_cluster(scenario)
            conf = runner.write_conf(scenario)
            for number, entries in sorted(numbers.items()):
                if deadline and time.monotonic() > deadline:
                    for e in entries:
                        results.append(Result(e.name, number, scenario, "NOT RUN", "time budget spent"))
                    continue
                if not runner.cluster_healthy():
                    say("a node has exited: restarting the cluster")
                    runner.start_librdkafka_cluster(scenario)
                    conf = runner.write_conf(scenario)
                say(f"{scenario} {number}: {', '.join(e.name for e in entries)}")
                limit = next((subtests[e.name] for e in entries if e.name in subtests), None)
                if limit is None or args.subtests:
                    got = runner.run_number(number, scenario, conf, entries)
                else:
                    got = merged_runs([runner.run_number(number, scenario, conf, entries, pattern, run)
                                       for run, pattern in enumerate(limit["subtests"], 1)], limit)
                for r in got:
                    say(f"  {r.name}: {r.state} {r.reason[:120]}")
                results.extend(got)
                meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
                write_summary(out, meta, results)
            runner.stop_cluster()
    finally:
        runner.stop_test()
        runner.stop_cluster()
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_summary(out, meta, results)
    say(f"summary: {out / 'summary.md'} and {out / 'summary.json'}")
    return 1 if any(r.state == "FAILED" for r in results) else 0


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
from kraft.kafka.apis import SERVED
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
