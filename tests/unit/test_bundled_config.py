"""The repository's cluster.toml (what `./dev up` and `kraft up` use from the checkout)
and the copy bundled in the package (used when there is none) are one and the same."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from kraft.config.cluster import load_cluster_config
from kraft.server.local_cluster import FREE_PORTS_FROM

ROOT = Path(__file__).resolve().parents[2]


def test_root_and_bundled_cluster_toml_are_identical():
    bundled = (importlib.resources.files("kraft") / "cluster.toml").read_bytes()
    assert (ROOT / "cluster.toml").read_bytes() == bundled


def test_the_default_cluster_is_three_nodes_on_this_machine():
    config = load_cluster_config(ROOT / "cluster.toml")
    assert [n.id for n in config.nodes] == [1, 2, 3]
    assert all(n.is_controller and n.is_broker for n in config.nodes)
    assert {n.host for n in config.nodes} == {"127.0.0.1"}


def test_kafkas_usual_address_reaches_a_broker_and_no_raft_port_is_near_it():
    """A Kafka client's habit, bootstrap.servers=localhost:9092, dials node 1's Kafka
    listener (it once landed on a Raft port, and the client blamed TLS); no Raft port is
    in 9090-9099, where a Kafka port is looked for."""
    config = load_cluster_config(ROOT / "cluster.toml")
    assert config.node(1).kafka_port == 9092
    assert config.kafka_bootstrap_servers.split(",")[0].endswith(":9092")
    near = [(n.id, n.raft_port) for n in config.nodes if n.raft_port is not None and 9090 <= n.raft_port <= 9099]
    assert not near, near


def test_the_bundled_ports_are_distinct_and_below_the_test_clusters_ports():
    """No two listeners share a port, and none is where LocalCluster picks its ports, so
    the suite's clusters never take one from a bundled cluster running beside them."""
    config = load_cluster_config(ROOT / "cluster.toml")
    ports = [p for n in config.nodes for p in (n.http_port, n.raft_port, n.kafka_port, n.inter_broker_port,
                                                n.schema_registry_port) if p is not None]
    assert len(ports) == len(set(ports)), ports
    assert max(ports) < FREE_PORTS_FROM, ports
