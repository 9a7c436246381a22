"""Cluster tests: real node processes on loopback. The helpers beside this file
(cluster_client, consumer_client) are importable from every test module here.

One shared cluster: a module that needs only a healthy default 3-node cluster
(LocalCluster(nodes=3), no special settings) takes the `shared_cluster` fixture instead of
starting its own, which saves a start (several seconds of three Python processes coming up
on a busy machine) per module. The rules for a module on it:

- its topic and group names are its own (no other module on the shared cluster uses them);
- it leaves no cluster-wide state behind (dynamic broker configs, ACLs, ...) and does not
  assert on what other modules made (an exact topic list, a node's whole log: use
  `module_log`, which starts where this module's use of the cluster began);
- it may stop, kill or pause a node: before the next module gets the cluster, every node
  is started again if it is down, resumed, and waited for until every node is ready, every
  broker unfenced and no partition under-replicated; if that does not happen in time the
  shared cluster is replaced by a fresh one.

A module that must see a fresh cluster (tests/cluster/test_first_use.py) takes
`fresh_shared_cluster`: it gets the shared cluster only if no module has used it yet, and
those modules are ordered first. The shared-cluster modules run one after another (their
relative order kept) and the cluster is stopped after the last of them, so its processes
do not sit beside the fault tests. It has its own loopback addresses (SHARED_FIRST_ADDRESS),
away from the ones network-fault tests cut off.
"""
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cluster_sharing import shared  # noqa: E402
from console_shots import SCREENSHOTS  # noqa: E402


@pytest.fixture(scope="module")
def shared_cluster():
    """The session's shared healthy 3-node cluster (see the module docstring)."""
    return shared.hand_out()


@pytest.fixture(scope="module")
def fresh_shared_cluster():
    """The shared cluster, guaranteed unused by any other module before this one."""
    return shared.hand_out(fresh=True)


def _uses_shared(item) -> int:
    names = getattr(item, "fixturenames", ())
    if "fresh_shared_cluster" in names:
        return 1
    if "shared_cluster" in names:
        return 2
    return 0


def pytest_collection_modifyitems(session, config, items):
    """The shared-cluster modules first and together (a stable sort: modules and tests keep
    their order), the ones that need it fresh before the others."""
    items.sort(key=lambda item: {1: 0, 2: 1, 0: 2}[_uses_shared(item)])


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the shared cluster once the last test that uses it is done."""
    if _uses_shared(item) and (nextitem is None or not _uses_shared(nextitem)):
        shared.close()


def pytest_sessionfinish(session, exitstatus):
    shared.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say where the browser tests' screenshots are (kept as the run's artifacts)."""
    shots = sorted(SCREENSHOTS.glob("*.png")) if SCREENSHOTS.is_dir() else []
    started = getattr(config, "_kraft_started", 0.0)
    if any(p.stat().st_mtime >= started for p in shots):
        terminalreporter.write_line(f"console screenshots: {SCREENSHOTS} ({len(shots)} pages)")


def pytest_configure(config):
    config._kraft_started = time.time()
