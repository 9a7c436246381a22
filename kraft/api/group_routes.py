"""v3 consumer groups and lag (Confluent REST Proxy v3 shapes), and deleting a group.

A group is known to its coordinator only, so a group's endpoints are answered there
(forwarded like the v2 consumer calls), and the list asks every broker for the groups
it coordinates. Lag per partition = the leader's high watermark - the committed
offset (with nothing committed: the partition's readable records).

Wherever the coordinator moved, a read finds the group: a new coordinator loads its
groups from the offsets partition (classic groups of Kafka clients included, as Kafka
keeps them), a read waits while the coordinator is elected or loads (up to the locate
wait; then 50003, retriable), and a read that found no group on an image that had not
caught up with the cluster's asks once more after it has (found_after_catch_up).
"""

from __future__ import annotations

import asyncio
import time
from functools import wraps

from aiohttp import web

from kraft.broker.services import BrokerServices
from kraft.internode.peers import PeerUnreachable
from kraft.errors import CoordinatorNotAvailable, KraftError, NotFound
from kraft.api.catch_up import CATCH_UP_TIMEOUT_S
from kraft.api.group_offsets import group_offsets
from kraft.api.consumer_routes import coordinated
from kraft.api.access_rules import visible
from kraft.api.authorized_operations import add_if_wanted
from kraft.api.context import node_of
from kraft.api.access_rules import IDENTITY_KEY
from kraft.api.http_body import json_response, read_json_object
from kraft.api.paths import base_url, check_cluster
from kraft.broker.lookup import partition_or_404, topic_or_404

GROUPS = "/v3/clusters/{cluster_id}/consumer-groups"
GROUP = GROUPS + "/{group}"
READY_WAIT_S = 5.0  # a restarted node is ready (registered, unfenced) about a second after it serves
READY_POLL_S = 0.1
STATES = {"Stable": "STABLE", "Empty": "EMPTY", "PreparingRebalance": "PREPARING_REBALANCE",
          "CompletingRebalance": "COMPLETING_REBALANCE", "Dead": "DEAD",
          "Assigning": "ASSIGNING", "Reconciling": "RECONCILING"}  # the last two: KIP-848 consumer groups


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(GROUPS, list_groups)
    r.add_get(GROUP, get_group)
    r.add_delete(GROUP, delete_group)
    r.add_post(GROUP + "/offsets:alter", alter_offsets)
    r.add_get(GROUP + "/consumers", list_consumers)
    r.add_get(GROUP + "/consumers/{consumer}", get_consumer)
    r.add_get(GROUP + "/consumers/{consumer}/assignments", list_assignments)
    r.add_get(GROUP + "/consumers/{consumer}/assignments/{topic}/partitions/{partition}", get_assignment)
    r.add_get(GROUP + "/lag-summary", lag_summary)
    r.add_get(GROUP + "/lags", list_lags)
    r.add_get(GROUP + "/lags/{topic}/partitions/{partition}", get_lag)


def found_after_catch_up(route):
    """A group read that found no group runs once more when this node's metadata was
    behind the cluster's: right after a failover or a restart, the image that routed it
    may have named the group's old coordinator, or (a node just restarted, not ready yet)
    not even hold the offsets topic. A 404 only for a group truly absent."""
    @wraps(route)
    async def read(request):
        node = node_of(request)
        seen = node.image.offset
        try:
            return await route(request)
        except NotFound:
            if not await _moved_on(node, seen):
                raise
        return await route(request)
    return read


async def _moved_on(node: BrokerServices, seen: int) -> bool:
    """Has this node's image moved past `seen` once caught up (ready, then at the
    controller's committed offset)? A node not ready within READY_WAIT_S cannot tell
    whether a group exists: a retriable error, never a 404."""
    deadline = time.monotonic() + READY_WAIT_S
    while not node.is_ready():
        if time.monotonic() >= deadline:
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: node {node.node_id} has not caught up with "
                                          f"the cluster's metadata yet ({node.readiness()[1]}); retry")
        await asyncio.sleep(READY_POLL_S)
    await node.metadata_barrier(CATCH_UP_TIMEOUT_S)
    return node.image.offset != seen


def _self(request, node: BrokerServices, *parts: str) -> str:
    return "/".join([f"{base_url(request)}/v3/clusters/{node.cluster_id}/consumer-groups", *parts])


def group_view(request, node: BrokerServices, d: dict) -> dict:
    g = d["group_id"]
    return add_if_wanted(request, {"kind": "KafkaConsumerGroup",
            "metadata": {"self": _self(request, node, g), "resource_name": f"crn:///kafka={node.cluster_id}/group={g}"},
            "cluster_id": node.cluster_id, "consumer_group_id": g, "is_simple": d["is_simple"],
            "partition_assignor": d["partition_assignor"], "state": STATES.get(d["state"], "UNKNOWN"),
            "type": d.get("group_type", "classic").upper(),  # CLASSIC, or CONSUMER (KIP-848)
            "is_mixed_consumer_group": d.get("is_mixed", False),  # a consumer group with classic members
            "generation_id": d["generation"],  # ext
            "coordinator": {"related": f"{base_url(request)}/v3/clusters/{node.cluster_id}/brokers/{d['coordinator_id']}"},
            "consumers": {"related": _self(request, node, g, "consumers")},
            "lag_summary": {"related": _self(request, node, g, "lag-summary")}}, "GROUP", g)


def _member_key(m: dict) -> str:
    """What a consumer's links name: its member id, or its instance name while it has none
    (an instance that has not joined, or lost its membership); both resolve."""
    return m["consumer_id"] or m["instance_id"]


def consumer_view(request, node: BrokerServices, group_id: str, m: dict) -> dict:
    key = _member_key(m)
    return {"kind": "KafkaConsumer",
            "metadata": {"self": _self(request, node, group_id, "consumers", key)},
            "cluster_id": node.cluster_id, "consumer_group_id": group_id, "consumer_id": m["consumer_id"],
            "instance_id": m["instance_id"], "client_id": m["client_id"],
            "assignments": {"related": _self(request, node, group_id, "consumers", key, "assignments")}}


def assignment_view(request, node: BrokerServices, group_id: str, consumer_id: str, topic: str, partition: int) -> dict:
    base = f"{base_url(request)}/v3/clusters/{node.cluster_id}"
    return {"kind": "KafkaConsumerAssignment",
            "metadata": {"self": _self(request, node, group_id, "consumers", consumer_id, "assignments",
                                       topic, "partitions", str(partition)),
                         "resource_name": f"crn:///kafka={node.cluster_id}/group={group_id}"
                                          f"/consumer={consumer_id}/assignment={topic}-{partition}"},
            "cluster_id": node.cluster_id, "consumer_group_id": group_id, "consumer_id": consumer_id,
            "topic_name": topic, "partition_id": partition,
            "partition": {"related": f"{base}/topics/{topic}/partitions/{partition}"},
            "lag": {"related": _self(request, node, group_id, "lags", topic, "partitions", str(partition))}}


def _described(groups, group_id: str) -> dict:
    d = groups.describe(group_id)
    if not d:
        raise NotFound(f"consumer group {group_id!r} not found")
    return d


async def list_groups(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    found: dict[str, dict] = {}
    brokers = [b for b in node.image.brokers.values() if not b.fenced]

    async def ask(broker_id: int) -> list[dict]:
        if broker_id == node.node_id:
            return node.groups.summaries()
        try:
            status, body = await node.get_json_from(broker_id, "/internal/v1/groups", timeout_s=3.0)
        except (PeerUnreachable, KraftError):  # a down broker: its groups are moving
            return []
        return body.get("groups", []) if status == 200 and isinstance(body, dict) else []

    for summaries in await asyncio.gather(*(ask(b.broker_id) for b in brokers)):
        for d in summaries:
            found.setdefault(d["group_id"], d)
    data = [group_view(request, node, found[g]) for g in sorted(visible(request, "describe_group", found))]
    return json_response({"kind": "KafkaConsumerGroupList",
                          "metadata": {"self": _self(request, node)}, "data": data})


@found_after_catch_up
@coordinated(create=False)
async def get_group(request, node: BrokerServices, groups, group_id):
    return json_response(group_view(request, node, _described(groups, group_id)))


@coordinated(create=False)
async def delete_group(request, node: BrokerServices, groups, group_id):
    """Kafka's DeleteGroups: only a group without members; its committed offsets go
    (404 for a group with neither members nor offsets, 40906 while it has members)."""
    await groups.delete_group(group_id)
    return web.Response(status=204)


@coordinated(create=False)
async def alter_offsets(request, node: BrokerServices, groups, group_id):
    """Kafka's alterConsumerGroupOffsets: an empty group's committed offsets set, e.g. to
    reset it to the earliest offsets (READ on the group, and on each topic, as Kafka's
    OffsetCommit asks). 40906 while the group has members."""
    wanted = group_offsets(await read_json_object(request))
    who = request.get(IDENTITY_KEY)
    for topic_name, partition in wanted:
        partition_or_404(topic_or_404(node.image, topic_name), str(partition))
        node.access.require(who, "consume", topic_name)
    await groups.alter_offsets(group_id, {key: (offset, "") for key, offset in wanted.items()})
    return web.Response(status=204)


@found_after_catch_up
@coordinated(create=False)
async def list_consumers(request, node: BrokerServices, groups, group_id):
    d = _described(groups, group_id)
    return json_response({"kind": "KafkaConsumerList", "metadata": {"self": _self(request, node, group_id, "consumers")},
                          "data": [consumer_view(request, node, group_id, m) for m in d["members"]]})


@found_after_catch_up
@coordinated(create=False)
async def get_consumer(request, node: BrokerServices, groups, group_id):
    m = _member(groups, group_id, request.match_info["consumer"])
    return json_response(consumer_view(request, node, group_id, m))


def _member(groups, group_id: str, wanted: str) -> dict:
    for m in _described(groups, group_id)["members"]:
        if wanted in (m["consumer_id"], m["instance_id"]):
            return m
    raise NotFound(f"consumer {wanted!r} not found in group {group_id!r}")


@found_after_catch_up
@coordinated(create=False)
async def list_assignments(request, node: BrokerServices, groups, group_id):
    m = _member(groups, group_id, request.match_info["consumer"])
    shown = set(visible(request, "describe_topic", {t for t, _ in m["assignments"]}))
    data = [assignment_view(request, node, group_id, _member_key(m), t, p) for t, p in m["assignments"]
            if t in shown]
    return json_response({"kind": "KafkaConsumerAssignmentList",
                          "metadata": {"self": _self(request, node, group_id, "consumers", _member_key(m),
                                                     "assignments"), "next": None},
                          "data": data})


@found_after_catch_up
@coordinated(create=False)
async def get_assignment(request, node: BrokerServices, groups, group_id):
    m = _member(groups, group_id, request.match_info["consumer"])
    topic, raw = request.match_info["topic"], request.match_info["partition"]
    for t, p in m["assignments"]:
        if t == topic and raw.isascii() and raw.isdigit() and p == int(raw):
            return json_response(assignment_view(request, node, group_id, _member_key(m), t, p))
    raise NotFound(f"{topic}-{raw} is not assigned to consumer {_member_key(m)!r}")


async def group_lags(request, node: BrokerServices, groups, group_id: str) -> list[dict]:
    """One row per partition the group owns or has committed: offsets, lag, owner; only
    of topics the caller may DESCRIBE (Kafka's OffsetFetch for a whole group leaves the
    others out)."""
    d = _described(groups, group_id)
    owners = {tuple(tp): m for m in d["members"] for tp in m["assignments"]}
    committed = {(c["topic"], c["partition"]): c["offset"] for c in d["committed"]}
    shown = set(visible(request, "describe_topic", {t for t, _ in set(owners) | set(committed)}))
    partitions = sorted(tp for tp in set(owners) | set(committed) if tp[0] in shown)
    stable = groups.reads_committed(group_id)

    async def ends(tp):
        try:
            return await node.partition_reader.offsets(tp[0], tp[1], stable=stable)
        except KraftError:
            return None  # leader moving or topic gone: shown without lag

    rows = []
    for tp, edge in zip(partitions, await asyncio.gather(*(ends(tp) for tp in partitions))):
        if node.image.topic(tp[0]) is None:
            continue
        current = committed.get(tp, -1)
        end = edge[1] if edge is not None else -1
        lag = -1 if edge is None else max(0, end - (current if current >= 0 else edge[0]))
        owner = owners.get(tp, {})
        rows.append({"topic_name": tp[0], "partition_id": tp[1], "current_offset": current,
                     "log_end_offset": end, "lag": lag, "consumer_id": owner.get("consumer_id", ""),
                     "instance_id": owner.get("instance_id"), "client_id": owner.get("client_id", "")})
    return rows


def lag_view(request, node: BrokerServices, group_id: str, row: dict) -> dict:
    return {"kind": "KafkaConsumerLag",
            "metadata": {"self": _self(request, node, group_id, "lags", row["topic_name"], "partitions",
                                       str(row["partition_id"]))},
            "cluster_id": node.cluster_id, "consumer_group_id": group_id, **row}


@found_after_catch_up
@coordinated(create=False)
async def list_lags(request, node: BrokerServices, groups, group_id):
    rows = await group_lags(request, node, groups, group_id)
    return json_response({"kind": "KafkaConsumerLagList", "metadata": {"self": _self(request, node, group_id, "lags")},
                          "data": [lag_view(request, node, group_id, r) for r in rows]})


@found_after_catch_up
@coordinated(create=False)
async def get_lag(request, node: BrokerServices, groups, group_id):
    topic = request.match_info["topic"]
    partition = partition_or_404(node.data_plane.topic_or_404(topic), request.match_info["partition"])
    for row in await group_lags(request, node, groups, group_id):
        if (row["topic_name"], row["partition_id"]) == (topic, partition):
            return json_response(lag_view(request, node, group_id, row))
    raise NotFound(f"group {group_id!r} has no offset or owner for {topic}-{partition}")


@found_after_catch_up
@coordinated(create=False)
async def lag_summary(request, node: BrokerServices, groups, group_id):
    rows = await group_lags(request, node, groups, group_id)
    top = max(rows, key=lambda r: r["lag"], default=None)
    owner = [top["consumer_id"] or top["instance_id"]] if top and (top["consumer_id"] or top["instance_id"]) else []
    body = {"kind": "KafkaConsumerGroupLagSummary", "metadata": {"self": _self(request, node, group_id, "lag-summary")},
            "cluster_id": node.cluster_id, "consumer_group_id": group_id,
            "total_lag": sum(max(r["lag"], 0) for r in rows), "max_lag": top["lag"] if top else 0,
            "max_lag_consumer_id": top["consumer_id"] if top else "",
            "max_lag_instance_id": top["instance_id"] if top else None,
            "max_lag_client_id": top["client_id"] if top else "",
            "max_lag_topic_name": top["topic_name"] if top else "",
            "max_lag_partition_id": top["partition_id"] if top else 0,
            # links must resolve: with no lag row (or no owner) they name the collections
            "max_lag_consumer": {"related": _self(request, node, group_id, "consumers", *owner)},
            "max_lag_partition": {"related": f"{base_url(request)}/v3/clusters/{node.cluster_id}/topics"
                                             + (f"/{top['topic_name']}/partitions/{top['partition_id']}"
                                                if top else "")}}
    return json_response(body)
