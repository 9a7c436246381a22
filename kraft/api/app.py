"""The aiohttp application: routes of every area plus the error envelope.

Every error leaves as {"error_code", "message"} with the status implied by the
code. aiohttp's own HTTP errors (404 unknown path, 405 wrong method, 413) are turned
into the same envelope; an unexpected exception is logged with its traceback under an
id and answered 500 with that id only (never its text), and the server keeps serving.
"""

from __future__ import annotations

import logging
import math

from aiohttp import web

from kraft.api import (
    acl_routes,
    broker_config_routes,
    cluster_config_routes,
    cluster_routes,
    cluster_wide_routes,
    consume_routes,
    consumer_routes,
    share_consumer_routes,
    share_group_routes,
    decommission_routes,
    quorum_routes,
    group_routes,
    iceberg_routes,
    openapi,
    produce_routes,
    quota_routes,
    rebalance_routes,
    record_deletion_routes,
    topic_routes,
    user_routes,
)
from kraft.api.console import routes as console_routes
from kraft.api.catch_up import catch_up_on_unknown_topic
from kraft.api.cors import cors_middleware, peer_origins
from kraft.api.context import NODE_KEY
from kraft.broker.services import BrokerServices
from kraft.broker.unexpected_errors import client_message, log_with_id
from kraft.api.error_map import error_body
from kraft.api.security_middleware import security
from kraft.api.quota_middleware import client_quotas
from kraft.api.path_params import control_characters_refused, empty_parameter, label
from kraft.api.http_body import BUDGET_KEY, BodyBudget, body_budget, json_response
from kraft.errors import ERROR_CLASS_HEADER, KraftError, QuotaExceeded

log = logging.getLogger(__name__)
# the first path segments of Confluent Schema Registry's API (served on schema_registry_port)
REGISTRY_SEGMENTS = frozenset({"subjects", "schemas", "compatibility", "config", "mode", "contexts"})

@web.middleware
async def error_envelope(request: web.Request, handler):
    try:
        return await handler(request)
    except KraftError as exc:
        body, status = error_body(exc, name_class=ERROR_CLASS_HEADER in request.headers)
        response = json_response(body, status)
        if isinstance(exc, QuotaExceeded):  # HTTP's way to say when to come back
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith("<") else exc.reason
        if exc.status == 404:
            return _not_found(request)
        return json_response({"error_code": exc.status, "message": message}, exc.status)
    except Exception:  # a bug: say so without its details (they go to the log), keep serving
        incident = log_with_id(log, f"{request.method} {request.path}")
        message = client_message(request.app[NODE_KEY].node_id, incident)
        return json_response({"error_code": 500, "message": message}, 500)


def _not_found(request: web.Request) -> web.Response:
    missing = empty_parameter(request.app, request.path)
    if missing == "cluster_id":  # an unknown cluster is 404: so is none at all
        return json_response({"error_code": 404, "message": f"the cluster id is missing from the path "
                                                            f"{request.path} (GET /v3/clusters lists it)"}, 404)
    if missing is not None:
        return json_response({"error_code": 400, "message": f"the {label(missing)} in the path "
                                                            f"{request.path} is empty"}, 400)
    message = f"no such endpoint: {request.method} {request.path}"
    node = request.app[NODE_KEY].config.node_or_none(request.app[NODE_KEY].node_id)
    if request.path.lstrip("/").split("/", 1)[0] in REGISTRY_SEGMENTS and node is not None:
        # Confluent's registry is on 8081 by habit, which is kraft's HTTP port: say where it is
        message += (f": this is node {node.id}'s HTTP port, the REST API; the schema registry is on "
                    + (f"port {node.schema_registry_port}: {node.schema_registry_url}"
                       if node.schema_registry_url else "no port of this node (no schema_registry_port)"))
    return json_response({"error_code": 404, "message": message}, 404)


def build_app(node: BrokerServices) -> web.Application:
    # client_max_size bounds aiohttp's own buffering (request.read/post); our readers
    # enforce their own caps before buffering.
    cors = cors_middleware(node.config.http, peer_origins(node.config))
    app = web.Application(middlewares=[cors, error_envelope, security, client_quotas,
                                       control_characters_refused, body_budget, catch_up_on_unknown_topic],
                          client_max_size=64 * 1024 * 1024)
    app[NODE_KEY] = node
    app[BUDGET_KEY] = BodyBudget()
    cluster_wide_routes.add_routes(app)  # first: its "-" paths would match {topic} and {broker_id}
    cluster_routes.add_routes(app)
    decommission_routes.add_routes(app)
    quota_routes.add_routes(app)
    rebalance_routes.add_routes(app)
    quorum_routes.add_routes(app)
    broker_config_routes.add_routes(app)
    cluster_config_routes.add_routes(app)
    topic_routes.add_routes(app)
    record_deletion_routes.add_routes(app)
    produce_routes.add_routes(app)
    consume_routes.add_routes(app)
    consumer_routes.add_routes(app)
    share_consumer_routes.add_routes(app)
    share_group_routes.add_routes(app)
    group_routes.add_routes(app)
    acl_routes.add_routes(app)
    user_routes.add_routes(app)
    openapi.add_routes(app)
    iceberg_routes.add_routes(app)
    console_routes.add_routes(app)
    return app
