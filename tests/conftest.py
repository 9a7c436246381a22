"""The suite: tests/unit (pure logic, real files), tests/sim (seeded simulations of
several nodes on an in-memory quorum and clock), tests/cluster (real node processes on
127.0.0.N loopback addresses). `./dev test -m "not cluster"` runs the first two.

`./dev test` runs the suite on three pytest-xdist workers (`KRAFT_TEST_WORKERS=0`: one
process; README, "Tests"). Each worker takes whole groups (GroupScheduling below):
- a module is a group of its own (its module-scoped cluster starts once);
- the modules on the shared cluster (tests/cluster/conftest.py) are one group, so they
  share one cluster on one worker;
- the modules that change the host for everyone are one group, run first, so they never overlap:
  a queueing discipline on the loopback device (tc netem and htb: one root per device
  for the whole host; even the lab's availability probes add and remove one), iptables,
  FUSE and tmpfs mounts. They run one after another on one worker while the other
  worker runs the rest.
"""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import pytest

try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # without pytest-xdist the suite runs in one process
    LoadScopeScheduling = None

# Each worker's clusters on their own loopback addresses (127.0.0.2+, 127.0.0.42+, 127.0.0.22+), so two
# clusters never race for one address and port; the fixed ranges modules choose
# themselves (60, 70, 80, 120, 150, 202+) are each used by one module only.
WORKER_FIRST_ADDRESS = {"gw0": 2, "gw1": 42, "gw2": 22}
_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker in WORKER_FIRST_ADDRESS:
    os.environ.setdefault("KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS", str(WORKER_FIRST_ADDRESS[_worker]))

# `kraft up` remembers the cluster it started (kraft.cli.profiles, under XDG_CONFIG_HOME):
# the suite's starts go to a config home of its own, never the user's current profile
_CONFIG_HOME = tempfile.TemporaryDirectory(prefix="kraft-test-config-home-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG_HOME.name


@pytest.fixture(autouse=True)
def _config_home_of_its_own(tmp_path_factory, monkeypatch):
    """Each test's commands see no profile but the ones it makes: a current profile left by
    another test's `kraft up` would otherwise name that (stopped) cluster to a command that
    expects ./cluster.toml."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))

HOST_FAULT_MODULES = frozenset({
    "test_scenarios.py", "test_network_faults.py", "test_soak.py", "test_power_cut_spacing.py",
    "test_disk_full.py", "test_lazy_fs.py", "test_metadata_storm.py", "test_readiness_cut_off.py",
    "test_multi_host.py", "test_hostile_scenario.py",
    "test_testing_faults.py", "test_testing_disk.py",  # kraft.testing's isolate (iptables) and slow disk (FUSE)
})
SHARED_CLUSTER_FIXTURES = ("shared_cluster", "fresh_shared_cluster")


def group_of(nodeid: str, rootpath: Path) -> str:
    """Which tests one worker takes together, from a test's id ("tests/x/test_m.py::test[p]")."""
    module = nodeid.split("::", 1)[0]
    if Path(module).name in HOST_FAULT_MODULES:
        return "host-faults"
    if _uses_shared_cluster(rootpath / module):
        return "shared-cluster"
    return module


@functools.cache
def _uses_shared_cluster(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return any(name in text for name in SHARED_CLUSTER_FIXTURES)


if LoadScopeScheduling is not None:
    class GroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with our groups as the scopes. Not xdist's loadgroup
        marks: under pytest 9.2 its "@group" suffix no longer reaches the node ids, and
        every module was split across the workers (two clusters per module, and a test
        on one worker not seeing a topic a test on the other had created)."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid, self.config.rootpath)

    def pytest_xdist_make_scheduler(config, log):
        return GroupScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None


def pytest_collection_modifyitems(session, config, items):
    """The host-fault group first (a stable sort): its long run starts at once on one
    worker while the other takes everything else."""
    items.sort(key=lambda item: group_of(item.nodeid, config.rootpath) != "host-faults")
