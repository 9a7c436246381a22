"""The suite: tests/unit (pure logic, real files), tests/sim (seeded simulations of
several nodes on an in-memory quorum and clock), tests/cluster (real node processes on
127.0.0.N loopback addresses). `./dev test -m "not cluster"` runs the first two.

`KRAFT_TEST_WORKERS=2 ./dev test` runs the suite on two pytest-xdist workers (one
process is the default; README, "Tests"). Each worker takes whole groups:
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

import os

import pytest

# Each worker's clusters on their own loopback addresses (127.0.0.2+, 127.0.0.42+), so two
# clusters never race for one address and port; the fixed ranges modules choose
# themselves (60, 70, 80, 120, 150, 202+) are each used by one module only.
WORKER_FIRST_ADDRESS = {"gw0": 2, "gw1": 42}
_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker in WORKER_FIRST_ADDRESS:
    os.environ.setdefault("KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS", str(WORKER_FIRST_ADDRESS[_worker]))

HOST_FAULT_MODULES = frozenset({
    "test_scenarios.py", "test_network_faults.py", "test_soak.py", "test_power_cut_spacing.py",
    "test_disk_full.py", "test_lazy_fs.py", "test_metadata_storm.py", "test_readiness_cut_off.py",
})
SHARED_CLUSTER_FIXTURES = frozenset({"shared_cluster", "fresh_shared_cluster"})


def xdist_group_of(item) -> str:
    module = item.path.name
    if module in HOST_FAULT_MODULES:
        return "host-faults"
    if SHARED_CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "shared-cluster"
    return str(item.path.relative_to(item.config.rootpath))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Mark each test's group; the host-fault group first (a stable sort), so its long
    run starts at once on one worker while the other takes everything else."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(name=xdist_group_of(item)))
    items.sort(key=lambda item: xdist_group_of(item) != "host-faults")
