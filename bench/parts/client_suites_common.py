"""What the client suites of bench/client_suites.py share: the cache and the client
sources fetched into it, the exclusions file, one Result per test entry and the summary
written from them, and the kraft clusters the suites run against (Runner)."""

from __future__ import annotations

import json
import os
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

# bench/client_suites.py puts the repository and bench/ on sys.path before importing this
import oidc_token_server

from kraft.server.local_cluster import LocalCluster, security_toml

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KRAFT_CLIENT_SUITES_CACHE", Path.home() / ".cache" / "kraft-client-suites"))
EXCLUSIONS = REPO / "bench" / "client_suite_exclusions.toml"
# librdkafka's tests/scenarios/*.json, as kraft settings
SCENARIOS = {
    "default": {"auto.create.topics.enable": True},
    "noautocreate": {"auto.create.topics.enable": False},
    "sasl": {"auto.create.topics.enable": True},
    "ssl": {"auto.create.topics.enable": True},
    "oauthbearer": {"auto.create.topics.enable": True},
    "oidc": {"auto.create.topics.enable": True},
}
TOPIC_DEFAULTS = {"num.partitions": 4, "replication.factor": 3}
# the suites run against Kafka's broker defaults: an empty group's first rebalance waits
# 3 s for more members (0113 and 0118 count on consumers started together sharing it)
KAFKA_GROUP_DEFAULTS = {"group.initial.rebalance.delay.ms": 3000}


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- the client sources ---------------------------------------------------------------

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


# -- results and clusters ----------------------------------------------------------------

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
    """The clusters of one suite run, and the test process running against them (the
    librdkafka suite's own scenarios: client_suites_librdkafka_run.LibrdkafkaRunner)."""

    def __init__(self, tree: Path, out: Path, args) -> None:
        self.tree, self.out, self.args = tree, out, args
        self.cluster: LocalCluster | None = None
        self.secured: LocalCluster | None = None
        self.proc: subprocess.Popen | None = None
        self.scenario = "default"
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
