"""The repository's cluster.toml (what `./dev up` and `kraft up` use from the checkout)
and the copy bundled in the package (used when there is none) are one and the same."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from kraft.config.cluster import load_cluster_config

ROOT = Path(__file__).resolve().parents[2]


def test_root_and_bundled_cluster_toml_are_identical():
    bundled = (importlib.resources.files("kraft") / "cluster.toml").read_bytes()
    assert (ROOT / "cluster.toml").read_bytes() == bundled


def test_the_default_cluster_is_three_nodes_on_this_machine():
    config = load_cluster_config(ROOT / "cluster.toml")
    assert [n.id for n in config.nodes] == [1, 2, 3]
    assert all(n.is_controller and n.is_broker for n in config.nodes)
    assert {n.host for n in config.nodes} == {"127.0.0.1"}
