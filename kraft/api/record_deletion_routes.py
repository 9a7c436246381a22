"""(ext) Deleting a partition's oldest records: Kafka's DeleteRecords over REST.

Neither Confluent's v3 API nor Redpanda's proxy has it, so the path is kraft's own,
in v3's `:verb` style: `POST .../topics/{t}/partitions/{p}/records:delete` with
`{"before_offset": N}` (-1: the high watermark) and optionally `"timeout_ms"`. The
partition's leader (this node or the one it forwards to) moves the log start to N and
answers once every replica on a live broker has, with that low watermark. Needs DELETE
on the topic, as Kafka's DeleteRecords does.
"""

from __future__ import annotations

from aiohttp import web

from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_json_object, reject_unknown_fields
from kraft.api.paths import base_url, check_cluster
from kraft.broker.lookup import partition_or_404, topic_or_404
from kraft.errors import BadRequest, InvalidValue

PATH = "/v3/clusters/{cluster_id}/topics/{topic}/partitions/{partition}/records:delete"
DEFAULT_TIMEOUT_MS = 30_000
MAX_TIMEOUT_MS = 300_000
MAX_OFFSET = 2**63 - 1


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, delete_records)


def _int_field(body: dict, name: str, default: int | None = None) -> int:
    value = body.get(name, default)
    if value is None:
        raise BadRequest(f'{name} is required: {{"before_offset": N}} (-1: the high watermark)')
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer, got {value!r}")
    return value


async def delete_records(request):
    """(ext) Delete a partition's records before an offset (Kafka's DeleteRecords)."""
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    body = await read_json_object(request)
    reject_unknown_fields(body, {"before_offset", "timeout_ms"}, "delete-records request")
    offset = _int_field(body, "before_offset")
    timeout_ms = _int_field(body, "timeout_ms", DEFAULT_TIMEOUT_MS)
    if not -1 <= offset <= MAX_OFFSET:
        raise InvalidValue(f"before_offset must be an offset, or -1 for the high watermark; got {offset}")
    if not 0 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidValue(f"timeout_ms must be between 0 and {MAX_TIMEOUT_MS}, got {timeout_ms}")
    topic = topic_or_404(node.image, request.match_info["topic"], node.is_ready)
    index = partition_or_404(topic, request.match_info["partition"])
    low = await node.data_plane.delete_records(topic.name, index, offset, timeout_ms)
    path = f"/v3/clusters/{node.cluster_id}/topics/{topic.name}/partitions/{index}"
    return json_response({
        "kind": "KafkaDeletedRecords",
        "metadata": {"self": f"{base_url(request)}{path}",
                     "resource_name": f"crn:///kafka={node.cluster_id}/topic={topic.name}/partition={index}"},
        "cluster_id": node.cluster_id, "topic_name": topic.name, "partition_id": index,
        "low_watermark": low,
    })
