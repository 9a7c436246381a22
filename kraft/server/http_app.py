"""The node's one HTTP port: the REST API and the web console (kraft.api.app), the
failure lab's API (kraft/api/console/lab_routes.py: runs start processes on this machine,
so the node adds it, not the API), the console's schema decoding (with the node's
registry, kraft/api/console/schema_routes.py) and the other nodes' door (/internal/v1/...)."""

from __future__ import annotations

from aiohttp import web

from kraft.api.app import build_app
from kraft.api.schema_lookup import attach_registry
from kraft.broker.services import BrokerServices
from kraft.api.console import lab_routes, schema_routes
from kraft.server import internode_routes
from kraft.registry.service import SchemaRegistry


def node_app(services: BrokerServices, registry: SchemaRegistry | None = None) -> web.Application:
    """`registry`: the schema registry this node serves, if it has one (the REST door's
    schema formats and the console's schema pages use it)."""
    app = build_app(services)
    attach_registry(app, registry)
    lab_routes.add_routes(app)
    schema_routes.add_routes(app, registry)
    internode_routes.add_routes(app)  # the other nodes' door, on the same port
    return app
