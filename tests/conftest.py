"""The suite: tests/unit (pure logic, real files), tests/sim (seeded simulations of
several nodes on an in-memory quorum and clock), tests/cluster (real node processes on
127.0.0.N loopback addresses). `./dev test -m "not cluster"` runs the first two.

`./dev test` runs the suite on three pytest-xdist workers (`KRAFT_TEST_WORKERS=0`: one
process; docs/TEST_SUITE.md). Each worker takes whole groups (GroupScheduling below):
- a module is a group of its own (its module-scoped cluster starts once), except the
  modules in ONE_GROUP_PER_TEST, whose tests each start their own cluster: each of their
  tests is a group, so their minutes spread over the workers;
- the modules on the shared cluster (tests/cluster/conftest.py) are one group, so they
  share one cluster on one worker;
- the modules that change the host for everyone are one group, so they never overlap:
  a queueing discipline on the loopback device (tc netem and htb: one root per device
  for the whole host; even the lab's availability probes add and remove one), iptables,
  network namespaces with a bridge, a thousand connections and 256 MiB of frames at once.
  A mount (FUSE, tmpfs) under a test's own directory and a pause or kill of its own
  nodes change nothing for anyone else: those modules are groups of their own.

The groups go out longest first (group_rank), so no long group starts last while the
other workers run dry: the host-fault group, then the shared cluster, then LONG_MODULES,
then the other cluster modules, then the simulations and fuzz runs, then the unit
modules (seconds each, they fill the workers' ends). xdist's own order (most tests
first) put modules of a few long tests, such as the process scenarios, at the very end.
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
# themselves (60, 70, 80, 106-108, 120, 150, 202+, 230-233) are each used by one module only.
WORKER_FIRST_ADDRESS = {"gw0": 2, "gw1": 42, "gw2": 22}
_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker in WORKER_FIRST_ADDRESS:
    os.environ.setdefault("KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS", str(WORKER_FIRST_ADDRESS[_worker]))

# `kraft up` remembers the cluster it started (kraft.client.profiles, under XDG_CONFIG_HOME):
# the suite's starts go to a config home of its own, never the user's current profile
_CONFIG_HOME = tempfile.TemporaryDirectory(prefix="kraft-test-config-home-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG_HOME.name
# `kraft scenario run` records each run for the console's failure lab
# (kraft/api/console/lab_records.py): the suite's runs go to a directory of its own, which
# the nodes it starts read too, never the user's
_LAB_RUNS = tempfile.TemporaryDirectory(prefix="kraft-test-lab-runs-")
os.environ["KRAFT_LAB_RUNS"] = _LAB_RUNS.name


@pytest.fixture(autouse=True)
def _config_home_of_its_own(tmp_path_factory, monkeypatch):
    """Each test's commands see no profile but the ones it makes: a current profile left by
    another test's `kraft up` would otherwise name that (stopped) cluster to a command that
    expects ./cluster.toml."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))

HOST_FAULT_MODULES = frozenset({
    "test_scenarios.py", "test_network_faults.py", "test_soak.py",  # iptables, tc on lo, netem probes
    "test_multi_host.py",  # network namespaces, a bridge, an iptables FORWARD rule
    "test_hostile_scenario.py",  # 1,100 connections and 256 MiB of frames announced
    "test_testing_faults.py",  # kraft.testing's isolate (iptables)
})
SHARED_CLUSTER_FIXTURES = ("shared_cluster", "fresh_shared_cluster")
# each test starts its own cluster (a scenario run, a LocalCluster), none is module-scoped
ONE_GROUP_PER_TEST = frozenset({"test_process_scenarios.py", "test_disk_scenarios.py",
                                "test_data_path_faults.py", "test_storage_damage.py", "test_cluster_failover.py"})
# modules of half a minute and more on 2 cores, longest first (seconds alone in one process
# on a busy 2-core machine; a scenario test of ONE_GROUP_PER_TEST takes 25-45 s)
LONG_MODULES = ("test_conformance.py",  # 65
                "test_oauthbearer.py",  # 64
                "test_dev_script.py",  # 60
                "test_security_kafka.py",  # 59
                "test_metadata_storm.py",  # 42
                "test_hostile_requests_scenario.py",  # 40
                "test_partition_scale.py",  # 20 alone, 400 partitions
                "test_fuzz.py",  # 41
                "test_process_scenarios.py", "test_disk_scenarios.py",
                "test_log_cleaner.py",  # 38
                "test_kafka_connection_limits.py",  # 37
                "test_raft_prevote.py")  # 33


def group_of(nodeid: str, rootpath: Path) -> str:
    """Which tests one worker takes together, from a test's id ("tests/x/test_m.py::test[p]")."""
    module = nodeid.split("::", 1)[0]
    name = Path(module).name
    if name in HOST_FAULT_MODULES:
        return "host-faults"
    if name in ONE_GROUP_PER_TEST:
        return nodeid
    if _uses_shared_cluster(rootpath / module):
        return "shared-cluster"
    return module


def group_rank(group: str) -> tuple[int, int]:
    """Where a group goes out: longest first (the module docstring)."""
    if group == "host-faults":
        return (0, 0)
    if group == "shared-cluster":
        return (1, 0)
    module = Path(group.split("::", 1)[0])
    if module.name in LONG_MODULES:
        return (2, LONG_MODULES.index(module.name))
    return ({"cluster": 3, "unit": 5}.get(module.parent.name, 4), 0)


@functools.cache
def _uses_shared_cluster(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return any(name in text for name in SHARED_CLUSTER_FIXTURES)


if LoadScopeScheduling is not None:
    class GroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with our groups as the scopes, handed out in the
        collection's order (group_rank) rather than xdist's most-tests-first. Not xdist's
        loadgroup marks: under pytest 9.2 its "@group" suffix no longer reaches the node
        ids, and every module was split across the workers (two clusters per module, and
        a test on one worker not seeing a topic a test on the other had created)."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid, self.config.rootpath)

    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") != "loadgroup":
            return None
        config.option.loadscopereorder = False  # the collection's order is group_rank's
        return GroupScheduling(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """The groups in group_rank's order (a stable sort: within a rank, the order the
    collection and tests/cluster/conftest.py gave, so the shared-cluster modules that need
    it fresh stay first)."""
    items.sort(key=lambda item: group_rank(group_of(item.nodeid, config.rootpath)))
