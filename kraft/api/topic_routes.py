"""Topics, partitions, replicas and topic configs: v3 (and the v2 metadata reads).

Reads come from this node's image. Writes go to the active controller (locally or
forwarded); the answer waits until this node's image has the change, so a client
that creates a topic can read it back from the same node at once.
"""

from __future__ import annotations

from aiohttp import web

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.api.access_rules import IDENTITY_KEY, check_create_topic, visible
from kraft.api.authorized_operations import add_if_wanted
from kraft.api.catch_up import reads_latest_metadata
from kraft.api import v3_views as views
from kraft.api.context import node_of
from kraft.api.config_requests import alter_changes, put_value, validate_only
from kraft.api.http_body import json_response, read_json_object, v2_response
from kraft.api.paths import base_url, check_cluster
from kraft.broker.lookup import partition_or_404, topic_or_404
from kraft.metadata.effective_configs import described_topic_configs
from kraft.config.topic_names import refuse_client_change_of_internal, validate_topic_name
from kraft.errors import BadRequest, NotFound
from kraft.config.topic_names import is_internal_topic

V3 = "/v3/clusters/{cluster_id}/topics"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(V3, list_topics)
    r.add_post(V3, create_topic)
    r.add_get(V3 + "/{topic}", get_topic)
    r.add_delete(V3 + "/{topic}", delete_topic)
    r.add_patch(V3 + "/{topic}", update_partition_count)
    r.add_get(V3 + "/{topic}/partitions", list_partitions)
    r.add_get(V3 + "/{topic}/partitions/{partition}", get_partition)
    r.add_get(V3 + "/{topic}/partitions/{partition}/replicas", list_replicas)
    r.add_get(V3 + "/{topic}/partitions/{partition}/replicas/{broker}", get_replica)
    r.add_get(V3 + "/{topic}/configs", list_configs)
    r.add_post(V3 + "/{topic}/configs:alter", alter_configs)
    r.add_get(V3 + "/{topic}/configs/{name}", get_config)
    r.add_put(V3 + "/{topic}/configs/{name}", put_config)
    r.add_delete(V3 + "/{topic}/configs/{name}", reset_config)
    r.add_get("/topics", v2_list_topics)
    r.add_get("/topics/{topic}", v2_get_topic)
    r.add_get("/topics/{topic}/partitions", v2_list_partitions)
    r.add_get("/topics/{topic}/partitions/{partition}", v2_get_partition)


def _ctx(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    return node, node.image, base_url(request)


async def list_topics(request):
    node, image, base = _ctx(request)
    names = set(visible(request, "describe_topic", image.topic_ids))
    topics = sorted((t for t in image.topics.values() if t.name in names), key=lambda t: t.name)
    data = [add_if_wanted(request, views.topic_view(t, node.cluster_id, base), "TOPIC", t.name) for t in topics]
    return json_response(views.collection("KafkaTopicList", base, request.path, data))


async def create_topic(request):
    node, _, base = _ctx(request)
    body = await read_json_object(request)
    unknown = set(body) - {"topic_name", "partitions_count", "replication_factor", "configs",
                           "validate_only", "replicas_assignments"}
    if unknown:
        raise BadRequest(f"unknown field(s) in topic request: {', '.join(sorted(unknown))}")
    if "topic_name" not in body:
        raise BadRequest("topic_name is required")
    validate_topic_name(body["topic_name"])  # fail fast, even with no quorum
    if node.access.enabled and request.get(IDENTITY_KEY) is not None:
        check_create_topic(request, request[IDENTITY_KEY], body["topic_name"])
    refuse_client_change_of_internal(body["topic_name"], "create")  # the controller decides it too
    configs = _parse_config_list(body.get("configs", []))
    dry_run = validate_only(body)
    assignments = _replicas_assignments(body)
    result = await node.controller_call(controller_requests.CreateTopic(
        name=body["topic_name"],
        partitions=body.get("partitions_count"),
        replication_factor=body.get("replication_factor"),
        configs=configs,
        validate_only=dry_run,
        assignments=assignments,
    ))
    if dry_run:  # checked against the live cluster, nothing written
        view = views.planned_topic_view(result["topic_name"], result["partitions_count"],
                                        result["replication_factor"], node.cluster_id, base)
        return json_response({**view, "validate_only": True}, status=200)
    image = await node.wait_metadata(result.get("metadata_offset", 0))
    topic = topic_or_404(image, result["topic_name"])
    return json_response(views.topic_view(topic, node.cluster_id, base), status=201)


def _replicas_assignments(body: dict) -> list[tuple[int, list[int]]] | None:
    """Confluent v3's `replicas_assignments` ({"0": [1, 2], ...}): the client's own
    placement, instead of partitions_count and replication_factor (Kafka's rule)."""
    given = body.get("replicas_assignments")
    if given is None:
        return None
    if not isinstance(given, dict) or not given:
        raise BadRequest('replicas_assignments must be an object like {"0": [1, 2], "1": [2, 3]}')
    if body.get("partitions_count") is not None or body.get("replication_factor") is not None:
        raise BadRequest("give replicas_assignments or partitions_count and replication_factor, not both")
    out = []
    for partition, brokers in given.items():
        if not (partition.isascii() and partition.isdigit()) or not isinstance(brokers, list) \
                or not all(isinstance(b, int) and not isinstance(b, bool) for b in brokers):
            raise BadRequest(f"replicas_assignments[{partition!r}] must map a partition id to a list of broker ids")
        out.append((int(partition), brokers))
    return out


async def get_topic(request):
    node, image, base = _ctx(request)
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    return json_response(add_if_wanted(request, views.topic_view(topic, node.cluster_id, base), "TOPIC", topic.name))


async def delete_topic(request):
    node, image, _ = _ctx(request)
    refuse_client_change_of_internal(request.match_info["topic"], "delete")  # the controller decides it too
    # no local existence check: this node's image may lag; the controller decides
    result = await node.controller_call(controller_requests.DeleteTopic(name=request.match_info["topic"]))
    await node.wait_metadata(result.get("metadata_offset", 0))
    return web.Response(status=204)


async def update_partition_count(request):
    """Kafka's CreatePartitions: {"partitions_count": N} grows the topic to N partitions."""
    node, _, base = _ctx(request)
    body = await read_json_object(request)
    if set(body) - {"partitions_count", "validate_only"} or "partitions_count" not in body:
        raise BadRequest('body must be {"partitions_count": N}')
    name = validate_topic_name(request.match_info["topic"])
    refuse_client_change_of_internal(name, "add partitions to")  # a coordinator's partition: a hash modulo the count
    dry_run = validate_only(body)
    result = await node.controller_call(controller_requests.CreatePartitions(
        name=name, partitions_count=body["partitions_count"], validate_only=dry_run))
    if dry_run:
        view = views.planned_topic_view(name, result["partitions_count"], result["replication_factor"],
                                        node.cluster_id, base)
        return json_response({**view, "validate_only": True})
    image = await node.wait_metadata(result.get("metadata_offset", 0))
    return json_response(views.topic_view(topic_or_404(image, name), node.cluster_id, base))


async def list_partitions(request):
    node, image, base = _ctx(request)
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    data = [
        views.partition_view(topic, i, node.cluster_id, base, node.partition_offsets(topic.name, i))
        for i in range(len(topic.partitions))
    ]
    return json_response(views.collection("KafkaPartitionList", base, request.path, data))


async def get_partition(request):
    node, image, base = _ctx(request)
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    i = partition_or_404(topic, request.match_info["partition"])
    return json_response(views.partition_view(topic, i, node.cluster_id, base,
                                              node.partition_offsets(topic.name, i)))


async def list_replicas(request):
    node, image, base = _ctx(request)
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    i = partition_or_404(topic, request.match_info["partition"])
    data = [views.replica_view(topic, i, b, node.cluster_id, base)
            for b in topic.partitions[i].replicas]
    return json_response(views.collection("KafkaReplicaList", base, request.path, data))


async def get_replica(request):
    node, image, base = _ctx(request)
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    i = partition_or_404(topic, request.match_info["partition"])
    raw = request.match_info["broker"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in topic.partitions[i].replicas:
        raise NotFound(f"broker {raw} holds no replica of {topic.name}-{i}")
    return json_response(views.replica_view(topic, i, int(raw), node.cluster_id, base))


@reads_latest_metadata
async def list_configs(request):
    node, image, base = _ctx(request)
    name = topic_or_404(image, request.match_info["topic"], node.is_ready).name
    configs = described_topic_configs(image, node.topic_defaults, name)
    data = [views.config_view(name, k, config, node.cluster_id, base)
            for k, config in sorted(configs.items())]
    return json_response(views.collection("KafkaTopicConfigList", base, request.path, data))


@reads_latest_metadata
async def get_config(request):
    node, image, base = _ctx(request)
    name = topic_or_404(image, request.match_info["topic"], node.is_ready).name
    configs = described_topic_configs(image, node.topic_defaults, name)
    key = request.match_info["name"]
    if key not in configs:
        raise NotFound(f"config {key!r} not found for topic {name!r}")
    return json_response(views.config_view(name, key, configs[key], node.cluster_id, base))


async def put_config(request):
    node, image, _ = _ctx(request)
    value = put_value(await read_json_object(request))
    await _alter(node, request.match_info["topic"], {request.match_info["name"]: value})
    return web.Response(status=204)


async def reset_config(request):
    node, _, _ = _ctx(request)
    await _alter(node, request.match_info["topic"], {request.match_info["name"]: None})
    return web.Response(status=204)


async def alter_configs(request):
    node, _, _ = _ctx(request)
    changes, dry_run = alter_changes(await read_json_object(request))
    await _alter(node, request.match_info["topic"], changes, dry_run)
    return web.Response(status=204)


async def _alter(node: BrokerServices, topic: str, changes: dict, dry_run: bool = False) -> None:
    # no local existence check: a topic just created through another node may not be in
    # this node's image yet; the controller's image decides (40401 when truly unknown)
    result = await node.controller_call(controller_requests.AlterConfigs(
        topic=topic, changes=changes, validate_only=dry_run))
    await node.wait_metadata(result.get("metadata_offset", 0))


def _parse_config_list(raw) -> dict:
    if not isinstance(raw, list):
        raise BadRequest('configs must be a list of {"name": ..., "value": ...}')
    out = {}
    for entry in raw:
        if not isinstance(entry, dict) or set(entry) != {"name", "value"} or not isinstance(entry["name"], str):
            raise BadRequest('each config must be {"name": <string>, "value": ...}')
        out[entry["name"]] = entry["value"]
    return out


# -- v2 (REST Proxy) metadata reads ---------------------------------------------------
def _v2_partition(topic, i):
    part = topic.partitions[i]
    return {
        "partition": i,
        "leader": part.leader if part.online else -1,
        "replicas": [{"broker": b, "leader": b == part.leader, "in_sync": b in part.isr}
                     for b in part.replicas],
    }


async def v2_list_topics(request):
    # internal topics (__consumer_offsets) are hidden, as Kafka's topic listing does by default
    names = (t for t in node_of(request).image.topic_ids if not is_internal_topic(t))
    return v2_response(sorted(visible(request, "describe_topic", names)))


async def v2_get_topic(request):
    node = node_of(request)
    image = node.image
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    overrides = dict(image.topic_configs.get(topic.name, {}))
    return v2_response({
        "name": topic.name,
        "configs": overrides,
        "partitions": [_v2_partition(topic, i) for i in range(len(topic.partitions))],
    })


async def v2_list_partitions(request):
    topic = topic_or_404(node_of(request).image, request.match_info["topic"])
    return v2_response([_v2_partition(topic, i) for i in range(len(topic.partitions))])


async def v2_get_partition(request):
    topic = topic_or_404(node_of(request).image, request.match_info["topic"])
    i = partition_or_404(topic, request.match_info["partition"])
    return v2_response(_v2_partition(topic, i))
