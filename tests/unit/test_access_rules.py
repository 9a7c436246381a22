"""Every HTTP route has an access rule: a new endpoint cannot ship unguarded."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from types import SimpleNamespace

from kraft.api.access_rules import RULES
from kraft.server.http_app import node_app
from kraft.config.cluster import load_cluster_config_text


def served_routes() -> set[tuple[str, str]]:
    text = (importlib.resources.files("kraft") / "cluster.toml").read_text()
    node = SimpleNamespace(config=load_cluster_config_text(text, "cluster.toml", Path.cwd()))
    app = node_app(node)
    return {(route.method, route.resource.canonical) for route in app.router.routes()
            if route.method != "HEAD" and not route.resource.canonical.startswith("/internal/")}


def test_every_client_route_has_a_rule_and_every_rule_a_route():
    served = served_routes()
    assert served - set(RULES) == set(), "routes without an access rule"
    assert set(RULES) - served == set(), "rules for routes that do not exist"
