"""A client at the wrong one of a node's ports is told which one it meant, where the
protocol lets it be told: a Kafka client at the HTTP port (kraft/server/connection_guard.py
answers and logs it; the hint is made here) and a REST path at the schema registry's port
(a 404 naming the HTTP port). HTTP at the Kafka port: kraft/kafka/connection/wrong_door.py; a
registry path at the HTTP port: kraft/api/app.py."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from kraft.config.node_config import NodeConfig
from kraft.registry.http import answer

# the first path segments of the REST API and the console (none is the registry's own), and
# the second of its /v1/... paths (the registry has /v1/metadata/... of its own)
REST_SEGMENTS = frozenset({"topics", "v3", "consumers", "share-consumers", "brokers", "console", "status",
                           "metrics", "openapi.json"})
REST_V1_SEGMENTS = frozenset({"brokers", "client-quotas", "cluster", "console", "lab", "node", "partitions",
                              "security"})


def is_rest_path(path: str) -> bool:
    first, _, rest = path.lstrip("/").partition("/")
    return first in REST_SEGMENTS or (first == "v1" and rest.split("/", 1)[0] in REST_V1_SEGMENTS)


def kafka_at_http_hint(node: NodeConfig) -> str:
    """What a Kafka client that dialled this node's HTTP port is told (and the log says)."""
    if node.kafka_address is None:
        return (f"this is node {node.id}'s HTTP port ({node.http_port}), the REST API, not a Kafka port; node "
                f"{node.id} is no broker: Kafka clients dial a broker's kafka_port (`kraft up` prints "
                f"the bootstrap.servers line)")
    return (f"this is node {node.id}'s HTTP port ({node.http_port}), the REST API, not a Kafka port: Kafka "
            f"clients dial its Kafka port, bootstrap.servers={node.kafka_address}")


def rest_path_at_registry(node: NodeConfig) -> Middleware:
    """The registry port's outermost middleware: an unknown path that is the REST API's
    (/topics, /v3/..., /consumers, ...) gets a 404 whose message names the HTTP port;
    every other answer passes as it is."""
    message = (f"this is node {node.id}'s schema registry port ({node.schema_registry_port}, Confluent Schema "
               f"Registry's API); the REST API is on port {node.http_port}: {node.http_url}")

    @web.middleware
    async def hint(request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        if (response.status == 404 and request.match_info.http_exception is not None
                and is_rest_path(request.path)):
            told = answer({"error_code": 404, "message": f"no such endpoint: {request.method} {request.path}: "
                                                         f"{message}"}, 404)
            if isinstance(response, web.Response) and response.content_type:
                told.content_type = response.content_type  # as the registry chose it for this client
            return told
        return response
    return hint
