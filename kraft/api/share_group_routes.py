"""(ext) Share groups over HTTP, in the v3 API's shapes: the list (every broker asked for
the share groups it coordinates and those it holds state of) and one group (answered by
its coordinator; another node forwards; an empty group is one with stored state): its
members and, per partition of its topics, its start and end offsets, high watermark,
KIP-1226's lag and the records in flight by state (_partition_view), with its
dead-letter topic and configs; deleting an empty share group and altering its start
offsets (Kafka's DeleteGroups and AlterShareGroupOffsets). The console's share group pages use these.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kraft.api.access_rules import check, visible
from kraft.api.authorized_operations import add_if_wanted
from kraft.api.consumer_routes import coordinated
from kraft.api.context import node_of
from kraft.api.group_offsets import group_offsets
from kraft.api.http_body import json_response, read_json_object
from kraft.api.paths import base_url, check_cluster
from kraft.broker.services import BrokerServices
from kraft.errors import KraftError, NotFound
from kraft.share.share_state import ShareSnapshot, in_flight

GROUPS = "/v3/clusters/{cluster_id}/share-groups"
GROUP = GROUPS + "/{group}"


def add_routes(app: web.Application) -> None:
    app.router.add_get(GROUPS, list_groups)
    app.router.add_get(GROUP, get_group)
    app.router.add_delete(GROUP, delete_group)
    app.router.add_post(GROUP + "/offsets:alter", alter_offsets)


def _self(request, node: BrokerServices, *parts: str) -> str:
    return "/".join([f"{base_url(request)}/v3/clusters/{node.cluster_id}/share-groups", *parts])


async def list_groups(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    found = await node.share_admin.cluster_summaries()
    data = [{"kind": "KafkaShareGroup", "metadata": {"self": _self(request, node, g)}, "cluster_id": node.cluster_id,
             "share_group_id": g, "state": "STABLE" if found[g].get("members") else "EMPTY",
             "members_count": found[g].get("members", 0)}
            for g in sorted(visible(request, "describe_group", found))]
    return json_response({"kind": "KafkaShareGroupList", "metadata": {"self": _self(request, node)}, "data": data})


@coordinated(create=False)
async def get_group(request, node: BrokerServices, _groups, group_id):
    group = node.shares.group(group_id)
    members = list(group.members.values()) if group is not None else []
    if group is not None:
        named = {t for m in members for t in m.topics}
    else:  # an empty share group: the topics it has stored state for
        named = {where[0] for key in await node.share_admin.states(group_id)
                 if (where := node.share_admin.named(key)) is not None}
        if not named:
            raise NotFound(f"share group {group_id!r} not found")
    topics = sorted(set(visible(request, "describe_topic", named)))
    partitions = [await _partition_view(node, group_id, topic, p)
                  for topic in topics for p in range(node.shares.partition_count(topic) or 0)]
    config = node.shares.config(group_id)
    return json_response(add_if_wanted(request, {
        "kind": "KafkaShareGroup", "metadata": {"self": _self(request, node, group_id)},
        "cluster_id": node.cluster_id, "share_group_id": group_id, "state": "STABLE" if members else "EMPTY",
        "group_epoch": group.epoch if group is not None else 0, "coordinator_id": node.node_id,
        "members": [{"member_id": m.member_id, "client_id": m.client_id, "member_epoch": m.epoch,
                     "subscribed_topics": [t for t in m.topics if t in topics],
                     "assignments": [{"topic_name": t, "partition_id": p} for t, p in sorted(m.assigned) if t in topics]}
                    for m in members],
        "partitions": partitions,
        "dead_letter_topic": config["errors.deadletterqueue.topic.name"] or None,
        "configs": config}, "GROUP", group_id))


@coordinated(create=False)
async def delete_group(request, node: BrokerServices, _groups, group_id):
    """Kafka's DeleteGroups of a share group: its stored state goes (it must be empty)."""
    await node.share_admin.delete_group(group_id)
    return web.Response(status=204)


@coordinated(create=False)
async def alter_offsets(request, node: BrokerServices, _groups, group_id):
    """Kafka's AlterShareGroupOffsets: each named share-partition starts at the offset
    given, what was in flight forgotten (the group must be empty; READ on each topic)."""
    wanted = group_offsets(await read_json_object(request))
    for topic in sorted({t for t, _ in wanted}):
        check(request, "consume", topic)
    outcome = await node.share_admin.alter_offsets(group_id, wanted)
    for error in outcome.values():
        if error is not None:
            raise error
    return web.Response(status=204)


async def _partition_view(node: BrokerServices, group_id: str, topic: str, partition: int) -> dict[str, Any]:
    """One share-partition, numbers that add up (KIP-932's states, KIP-1226's lag):
    SPSO start_offset, SPEO end_offset (the next record never handed out), the high
    watermark; in_flight: the records from SPSO to SPEO by state (available, acquired,
    acknowledged, archived); not_yet_delivered: SPEO to the high watermark; lag: the
    records from SPSO to the high watermark not done, so available + acquired +
    not_yet_delivered. From the partition leader's live share-partition when it holds
    one (source "leader"), else from the stored state (source "stored": no leader holds
    it, so nothing is acquired; a record held under a lock is stored available)."""
    view: dict[str, Any] = {"topic_name": topic, "partition_id": partition, "start_offset": None,
                            "end_offset": None, "high_watermark": None, "lag": None, "not_yet_delivered": None,
                            "in_flight": {**in_flight(ShareSnapshot(-1, 0)), "acquired": 0}, "source": None}
    try:
        live = await node.share_leaders.live_view(group_id, topic, partition)
    except KraftError:
        live = None  # a leader moving, or one that cannot say: the stored state
    try:
        if live is None:
            stored = await node.shares.stored(group_id, topic, partition)
            if stored is None:
                return view  # the group has not read it yet
            live = {"start_offset": stored.start_offset, "in_flight": {**in_flight(stored), "acquired": 0},
                    "end_offset": max([stored.start_offset] + [r.last_offset + 1 for r in stored.runs]),
                    "high_watermark": await node.partition_reader.high_watermark(topic, partition),
                    "source": "stored"}
    except KraftError:
        return view  # a leader or the state's coordinator moving: shown without it
    counts = {state: int(live["in_flight"].get(state, 0))
              for state in ("available", "acquired", "acknowledged", "archived")}
    start, end, high = int(live["start_offset"]), int(live["end_offset"]), int(live["high_watermark"])
    view.update(start_offset=start, end_offset=end, high_watermark=high, in_flight=counts,
                source=live.get("source", "leader"), not_yet_delivered=max(0, high - end),
                lag=max(0, high - start - counts["acknowledged"] - counts["archived"]))
    return view
