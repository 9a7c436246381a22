"""librdkafka's suite, run: the cluster of each scenario (SASL, OAUTHBEARER, OIDC, TLS),
test-runner once per test number against it, and each entry's result read from its
report (run_librdkafka; bench/client_suites_librdkafka.py makes the plan)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import librdkafka_ssl
import oidc_token_server
from parts.client_suites_common import (
    CACHE,
    KAFKA_GROUP_DEFAULTS,
    SCENARIOS,
    TOPIC_DEFAULTS,
    Result,
    Runner,
    load_exclusions,
    say,
    write_summary,
)
from parts.client_suites_librdkafka import (
    ANSI,
    FETCH_FROM_FOLLOWER,
    OAUTHBEARER_REQUIRED_SCOPE,
    OAUTHBEARER_SCENARIO,
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    OIDC_KEY_PASSWORD,
    OIDC_SCENARIO,
    OIDC_TOKEN_LIFETIME_S,
    OWN_SCENARIOS,
    RACKS,
    SASL_MECHANISM,
    SASL_PASSWORD,
    SASL_REAUTH_MS,
    SASL_SCENARIO,
    SASL_SCENARIOS,
    SASL_USER,
    SSL_SCENARIO,
    Entry,
    installed_librdkafka_version,
    librdkafka_tree,
    merged_runs,
    select,
    test_entries,
)

from kraft.server.local_cluster import LocalCluster, security_toml


class LibrdkafkaRunner(Runner):
    """Runner with the librdkafka scenarios' clusters, test.conf and test-runner."""

    def __init__(self, tree: Path, out: Path, args) -> None:
        super().__init__(tree, out, args)
        self.ssl: librdkafka_ssl.SslEnvironment | None = None  # the ssl scenario's, made once

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
                "OAUTHBEARER_CLIENT_PRIVATE_KEY": str(plain),
                "OAUTHBEARER_CLIENT_PRIVATE_KEY_ENCRYPTED": str(encrypted),
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
        env = {**os.environ, **certificates, **self.oidc_env(), "TESTS": number,
               "TEST_KAFKA_VERSION": self.args.kafka_version,
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
    runner = LibrdkafkaRunner(tree, out, args)
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
