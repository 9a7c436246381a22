"""The node's one HTTP port: the REST API and the web console (kraft.api.app), the
failure lab's API (kraft/console/lab_routes.py: runs start processes on this machine,
so the node adds it, not the API), and the other nodes' door (/internal/v1/...)."""

from __future__ import annotations

from aiohttp import web

from kraft.api.app import build_app
from kraft.broker.services import BrokerServices
from kraft.console import lab_routes
from kraft.internode import routes as internode_routes


def node_app(services: BrokerServices) -> web.Application:
    app = build_app(services)
    lab_routes.add_routes(app)
    internode_routes.add_routes(app)  # the other nodes' door, on the same port
    return app
