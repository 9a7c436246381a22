"""(ext) Share groups over HTTP, in the v3 API's shapes: the list (every broker asked for
the share groups it coordinates) and one group (answered by its coordinator; another
node forwards): its members and, per partition of its topics, the stored start offset,
KIP-1226's lag and the records in flight by state, with its dead-letter topic and
configs. The console's share group pages read these.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from kraft.api.access_rules import visible
from kraft.api.consumer_routes import coordinated
from kraft.api.context import node_of
from kraft.api.http_body import json_response
from kraft.api.paths import base_url, check_cluster
from kraft.broker.services import BrokerServices
from kraft.errors import KraftError, NotFound
from kraft.internode.peers import PeerUnreachable
from kraft.share.share_state import ShareSnapshot, in_flight
from kraft.share.share_state import lag as share_lag

GROUPS = "/v3/clusters/{cluster_id}/share-groups"
GROUP = GROUPS + "/{group}"
LOCAL_PATH = "/internal/v1/share-groups"


def add_routes(app: web.Application) -> None:
    app.router.add_get(GROUPS, list_groups)
    app.router.add_get(GROUP, get_group)


def _self(request, node: BrokerServices, *parts: str) -> str:
    return "/".join([f"{base_url(request)}/v3/clusters/{node.cluster_id}/share-groups", *parts])


async def list_groups(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)

    async def ask(broker_id: int) -> list[dict]:
        if broker_id == node.node_id:
            return node.shares.summaries()
        try:
            status, body = await node.get_json_from(broker_id, LOCAL_PATH, timeout_s=3.0)
        except (PeerUnreachable, KraftError):  # a down broker: its groups' members join elsewhere
            return []
        return body.get("groups", []) if status == 200 and isinstance(body, dict) else []

    brokers = [b.broker_id for b in node.image.brokers.values() if not b.fenced]
    found: dict[str, dict] = {}
    for summaries in await asyncio.gather(*(ask(b) for b in brokers)):
        for summary in summaries:
            found.setdefault(summary["group_id"], summary)
    data = [{"kind": "KafkaShareGroup", "metadata": {"self": _self(request, node, g)}, "cluster_id": node.cluster_id,
             "share_group_id": g, "state": "STABLE", "members_count": found[g].get("members", 0)}
            for g in sorted(visible(request, "describe_group", found))]
    return json_response({"kind": "KafkaShareGroupList", "metadata": {"self": _self(request, node)}, "data": data})


@coordinated(create=False)
async def get_group(request, node: BrokerServices, _groups, group_id):
    group = node.shares.group(group_id)
    if group is None:
        raise NotFound(f"share group {group_id!r} not found (no members)")
    topics = sorted(set(visible(request, "describe_topic", {t for m in group.members.values() for t in m.topics})))
    partitions = [await _partition_view(node, group_id, topic, p)
                  for topic in topics for p in range(node.shares.partition_count(topic) or 0)]
    config = node.shares.config(group_id)
    return json_response({
        "kind": "KafkaShareGroup", "metadata": {"self": _self(request, node, group_id)},
        "cluster_id": node.cluster_id, "share_group_id": group_id, "state": "STABLE", "group_epoch": group.epoch,
        "coordinator_id": node.node_id,
        "members": [{"member_id": m.member_id, "client_id": m.client_id, "member_epoch": m.epoch,
                     "subscribed_topics": [t for t in m.topics if t in topics],
                     "assignments": [{"topic_name": t, "partition_id": p} for t, p in sorted(m.assigned) if t in topics]}
                    for m in group.members.values()],
        "partitions": partitions,
        "dead_letter_topic": config["errors.deadletterqueue.topic.name"] or None,
        "configs": config})


async def _partition_view(node: BrokerServices, group_id: str, topic: str, partition: int) -> dict[str, Any]:
    view: dict[str, Any] = {"topic_name": topic, "partition_id": partition, "start_offset": None, "lag": None,
                            "in_flight": in_flight(ShareSnapshot(-1, 0))}
    try:
        stored = await node.shares.stored(group_id, topic, partition)
        if stored is None:
            return view  # the group has not read it yet
        view["start_offset"], view["in_flight"] = stored.start_offset, in_flight(stored)
        _, high_watermark = await node.partition_reader.offsets(topic, partition)
        view["lag"] = share_lag(stored, high_watermark)
    except KraftError:
        pass  # a leader or the state's coordinator moving: shown without it
    return view

