"""The pytest plugin (entry point pytest11 "kraft"): fixtures for a real kraft cluster.

    def test_orders(kraft_cluster, kraft_topic):
        p = Producer({"bootstrap.servers": kraft_cluster.bootstrap_servers})

Fixtures: kraft_cluster (one cluster per session by default; ini kraft_cluster_scope),
kraft_cluster_options (override it in a conftest.py for the shape), kraft_topic (a fresh
topic per test), kraft_cluster_factory (clusters of any shape, closed after the test).
Markers kraft_network_faults and kraft_disk_faults: the test is skipped, with the
reason, where those faults cannot run (root and iptables; root and FUSE).
"""

from __future__ import annotations

from typing import Literal, cast

import pytest

# kraft itself is imported when a fixture or marker needs it: a pytest run that uses
# neither pays nothing for the plugin being installed

Scope = Literal["session", "package", "module", "class", "function"]
SCOPES = ("session", "package", "module", "class", "function")


def pytest_addoption(parser) -> None:
    parser.addini("kraft_nodes", "nodes of the kraft_cluster fixture's cluster (1 or 3; default 3)", default="3")
    parser.addini("kraft_cluster_scope", f"the kraft_cluster fixture's scope: {', '.join(SCOPES)} (default session)",
                  default="session")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "kraft_network_faults: needs network faults (root and iptables); "
                                       "skipped with the reason elsewhere")
    config.addinivalue_line("markers", "kraft_disk_faults: needs disk faults (root and FUSE, a cluster "
                                       "with lazy_fs=True); skipped with the reason elsewhere")


def pytest_runtest_setup(item) -> None:
    if item.get_closest_marker("kraft_network_faults") is not None:
        from kraft.scenario.faults.netfilter import iptables_available
        ok, why = iptables_available()
        if not ok:
            pytest.skip(f"kraft network faults unavailable: {why}")
    if item.get_closest_marker("kraft_disk_faults") is not None:
        from kraft.server.lazy_disks import available
        ok, why = available()
        if not ok:
            pytest.skip(f"kraft disk faults unavailable: {why}")


def _cluster_scope(fixture_name: str, config: pytest.Config) -> Scope:
    scope = config.getini("kraft_cluster_scope").strip() or "session"
    if scope not in SCOPES:
        raise pytest.UsageError(f"kraft_cluster_scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return cast(Scope, scope)


def _started(tmp_path_factory, **options):
    from kraft.testing.cluster import Cluster, ClusterStartError
    try:
        return Cluster(data_dir=tmp_path_factory.mktemp("kraft"), **options).start()
    except ClusterStartError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def kraft_cluster_options(pytestconfig) -> dict:
    """The kraft_cluster's shape: Cluster's arguments (nodes, topic_defaults, groups, ...).
    Override this fixture in a conftest.py to change it."""
    raw = pytestconfig.getini("kraft_nodes").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"kraft_nodes must be a positive whole number, not {raw!r}")
    return {"nodes": int(raw)}


@pytest.fixture(scope=_cluster_scope)
def kraft_cluster(tmp_path_factory, kraft_cluster_options):
    """A running kraft cluster: .bootstrap_servers, .rest_url, .admin, .new_topic() and
    the fault methods (.kill_leader(topic, p), .pause(node), ...)."""
    cluster = _started(tmp_path_factory, **kraft_cluster_options)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def kraft_topic(kraft_cluster) -> str:
    """A fresh topic (1 partition) on kraft_cluster, named for no other test."""
    return kraft_cluster.new_topic()


@pytest.fixture
def kraft_cluster_factory(tmp_path_factory):
    """kraft_cluster_factory(nodes=1, **options) -> a started Cluster, closed after the test."""
    made: list = []

    def make(**options):
        cluster = _started(tmp_path_factory, **options)
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.close()
