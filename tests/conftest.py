"""The suite: tests/unit (pure logic, real files), tests/sim (seeded simulations of
several nodes on an in-memory quorum and clock), tests/cluster (real node processes on
127.0.0.N loopback addresses). `./dev test -m "not cluster"` runs the first two.

`./dev test` runs the suite on two pytest-xdist workers (KRAFT_TEST_WORKERS=0 runs it in
one process, as `-s` needs). Each worker takes whole groups, in collection order:
- a module is a group of its own (its module-scoped cluster starts once);
- the modules on the shared cluster (tests/cluster/conftest.py) are one group, so they
  share one cluster on one worker;
- the modules that put a queueing discipline on the loopback device (tc: netem delay and
  loss, htb shaping; there is one root per device for the whole host) are one group, so
  they never overlap each other. iptables faults are safe side by side: each process
  has its own chain, each cluster its own addresses.
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

LOOPBACK_QDISC_MODULES = frozenset({"test_scenarios.py", "test_network_faults.py", "test_soak.py"})
SHARED_CLUSTER_FIXTURES = frozenset({"shared_cluster", "fresh_shared_cluster"})


def xdist_group_of(item) -> str:
    module = item.path.name
    if module in LOOPBACK_QDISC_MODULES:
        return "loopback-qdisc"
    if SHARED_CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "shared-cluster"
    return str(item.path.relative_to(item.config.rootpath))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(name=xdist_group_of(item)))
