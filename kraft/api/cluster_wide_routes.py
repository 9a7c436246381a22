"""Confluent v3 routes across the cluster: every topic's or every broker's configs (`-` for
"all"), the replicas a broker hosts, a partition's offsets, and replica reassignments.

Reassignments are listed from the image (the partitions with replicas adding or
removing); a partition not being reassigned is a 404, as the REST Proxy answers. Starting
or cancelling one (kraft's extension) asks the controller, which moves the replicas as
Kafka's AlterPartitionReassignments does (KIP-455).

These routes are added before the per-topic and per-broker ones: `-` is also a legal
topic name, and the first matching route wins.
"""

from __future__ import annotations

from aiohttp import web

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.api.catch_up import reads_latest_metadata
from kraft.api import v3_views as views
from kraft.api.broker_config_routes import broker_config_views
from kraft.api.access_rules import visible
from kraft.controller import reassignment
from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_json_object
from kraft.api.paths import base_url, check_cluster
from kraft.broker.lookup import partition_or_404, topic_or_404
from kraft.errors import BadRequest, NotFound
from kraft.metadata.effective_configs import described_topic_configs

V3 = "/v3/clusters/{cluster_id}"
OFFSET_TYPES = ("earliest", "latest")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(V3 + "/topics/-/configs", all_topic_configs)
    r.add_get(V3 + "/brokers/-/configs", all_broker_configs)
    r.add_get(V3 + "/brokers/{broker_id}/partition-replicas", broker_replicas)
    r.add_get(V3 + "/topics/-/partitions/-/reassignment", all_reassignments)
    r.add_get(V3 + "/topics/{topic}/partitions/-/reassignment", topic_reassignments)
    r.add_get(V3 + "/topics/{topic}/partitions/{partition}/reassignment", partition_reassignment)
    r.add_post(V3 + "/topics/{topic}/partitions/{partition}/reassignment", start_reassignment)
    r.add_delete(V3 + "/topics/{topic}/partitions/{partition}/reassignment", cancel_reassignment)
    r.add_get(V3 + "/topics/{topic}/partitions/{partition}/offset", partition_offset)


def _ctx(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    return node, node.image, base_url(request)


@reads_latest_metadata
async def all_topic_configs(request):
    node, image, base = _ctx(request)
    data = []
    for name in sorted(visible(request, "describe_topic_configs", image.topic_ids)):
        configs = described_topic_configs(image, node.topic_defaults, name)
        data += [views.config_view(name, k, config, node.cluster_id, base)
                 for k, config in sorted(configs.items())]
    return json_response(views.collection("KafkaTopicConfigList", base, request.path, data))


async def all_broker_configs(request):
    node, image, base = _ctx(request)
    data = [view for broker in sorted(image.brokers)
            for _, view in sorted(broker_config_views(node, broker, base).items())]
    return json_response(views.collection("KafkaBrokerConfigList", base, request.path, data))


async def broker_replicas(request):
    node, image, base = _ctx(request)
    raw = request.match_info["broker_id"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in image.brokers:
        raise NotFound(f"broker {raw} not found")
    broker = int(raw)
    shown = set(visible(request, "describe_topic", image.topic_ids))
    data = [views.replica_view(topic, index, broker, node.cluster_id, base)
            for topic, index, reg in image.all_partitions()
            if broker in reg.replicas and topic.name in shown]
    return json_response(views.collection("KafkaReplicaList", base, request.path, data))


async def all_reassignments(request):
    node, image, base = _ctx(request)
    shown = set(visible(request, "describe_topic", image.topic_ids))
    data = [views.reassignment_view(t, i, part, node.cluster_id, base)
            for t, i, part in reassignment.in_progress(image) if t in shown]
    return json_response(views.collection("KafkaReassignmentList", base, request.path, data))


async def topic_reassignments(request):
    node, image, base = _ctx(request)
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    data = [views.reassignment_view(t, i, part, node.cluster_id, base)
            for t, i, part in reassignment.in_progress(image, topic.name)]
    return json_response(views.collection("KafkaReassignmentList", base, request.path, data))


async def partition_reassignment(request):
    node, image, base = _ctx(request)
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    index = partition_or_404(topic, request.match_info["partition"])
    part = topic.partitions[index]
    if not part.reassigning:
        raise NotFound(f"no reassignment in progress for {topic.name}-{index}")
    return json_response(views.reassignment_view(topic.name, index, part, node.cluster_id, base))


async def start_reassignment(request):
    """(ext) Move a partition's replicas: body {"replicas": [broker ids]}, the new replicas
    catch up before the old ones leave (Kafka's AlterPartitionReassignments). 202 with the
    reassignment; 200 with no adding/removing when nothing had to catch up."""
    node, _, base = _ctx(request)
    body = await read_json_object(request)
    if set(body) != {"replicas"}:
        raise BadRequest('a reassignment is {"replicas": [broker ids]}')
    return await _reassign(request, node, base, body["replicas"])


async def cancel_reassignment(request):
    """(ext) Cancel the reassignment in progress: the partition goes back to its replicas."""
    node, _, base = _ctx(request)
    return await _reassign(request, node, base, None)


async def _reassign(request, node: BrokerServices, base, replicas):
    topic = request.match_info["topic"]
    index = partition_or_404(topic_or_404(node.image, topic, node.is_ready), request.match_info["partition"])
    result = await node.controller_call(controller_requests.Reassign(
        topic=topic, partition=index, replicas=replicas))
    image = await node.wait_metadata(result.get("metadata_offset", 0))
    # the topic may have been deleted meanwhile: a 404, not an AttributeError
    part = topic_or_404(image, topic, node.is_ready).partitions[index]
    view = views.reassignment_view(topic, index, part, node.cluster_id, base)
    return json_response(view, status=202 if part.reassigning else 200)


async def partition_offset(request):
    """listKafkaPartitionOffsets: the earliest offset and the latest (the high watermark),
    as the partition's leader sees them."""
    node, image, base = _ctx(request)
    topic = topic_or_404(image, request.match_info["topic"], node.is_ready)
    index = partition_or_404(topic, request.match_info["partition"])
    kind = request.query.get("offset_type")
    if kind is not None and kind not in OFFSET_TYPES:
        raise BadRequest(f"offset_type must be one of {', '.join(OFFSET_TYPES)}, got {kind!r}")
    earliest, latest = await node.partition_reader.offsets(topic.name, index)
    path = f"/v3/clusters/{node.cluster_id}/topics/{topic.name}/partitions/{index}/offset"
    return json_response({
        "kind": "KafkaPartitionWithOffsets",
        "metadata": {"self": f"{base}{path}",
                     "resource_name": f"crn:///kafka={node.cluster_id}/topic={topic.name}"
                                      f"/partition={index}/offset"},
        "cluster_id": node.cluster_id, "topic_name": topic.name, "partition_id": index,
        "earliest_offset": earliest, "latest_offset": latest,
    })
