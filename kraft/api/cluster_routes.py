"""Cluster, brokers, producer ids (ext), quorum, health, readiness and metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kraft.broker.services import BrokerServices
from kraft.api import v3_views as views
from kraft.api.access_rules import IDENTITY_KEY
from kraft.api.authorized_operations import add_if_wanted
from kraft.api.context import node_of
from kraft.api.http_body import json_response, v2_response
from kraft.api.paths import base_url, check_cluster
from kraft.api.process_usage import usage
from kraft.errors import BadRequest, BrokerNotAvailable, NotFound
from kraft.metadata import host_summary
from kraft.metadata.image import MetadataImage
from kraft.metadata.write_readiness import acks_all_problems


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v3/clusters", list_clusters)
    r.add_get("/v3/clusters/{cluster_id}", get_cluster)
    r.add_get("/v3/clusters/{cluster_id}/brokers", list_brokers)
    r.add_get("/brokers", v2_list_brokers)
    r.add_get("/v3/clusters/{cluster_id}/brokers/{broker_id}", get_broker)
    r.add_get("/v3/clusters/{cluster_id}/quorum", quorum)
    r.add_post("/v3/clusters/{cluster_id}/producers", create_producer)
    r.add_get("/v1/cluster/health_overview", health_overview)
    r.add_get("/v1/node/storage", node_storage)
    r.add_get("/v1/cluster/storage", cluster_storage)
    r.add_get("/status/ready", ready)
    r.add_get("/metrics", metrics)


async def list_clusters(request):
    node = node_of(request)
    base = base_url(request)
    data = [add_if_wanted(request, _cluster_view(node, base), "CLUSTER")]
    return json_response(views.collection("KafkaClusterList", base, request.path, data))


async def get_cluster(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    return json_response(add_if_wanted(request, _cluster_view(node, base_url(request)), "CLUSTER"))


def _cluster_view(node, base: str) -> dict:
    return views.cluster_view(node.image, node.cluster_id, base, node.config.cluster.name,
                              node.config.security is not None)


async def list_brokers(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    base = base_url(request)
    image = node.image
    data = [views.broker_view(image, b, node.cluster_id, base) for b in sorted(image.brokers)]
    return json_response(views.collection("KafkaBrokerList", base, request.path, data))


async def v2_list_brokers(request):
    """REST Proxy v2: the ids of the registered brokers."""
    return v2_response({"brokers": sorted(node_of(request).image.brokers)})


async def get_broker(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    raw = request.match_info["broker_id"]
    image = node.image
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in image.brokers:
        raise NotFound(f"broker {raw} not found")
    return json_response(views.broker_view(image, int(raw), node.cluster_id, base_url(request)))


async def create_producer(request):
    """(ext) A producer id for idempotent produce; the request body is not used.

    Ids come from blocks granted to brokers, so a controller-only node asks a broker."""
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    if node.producer_ids is None:
        brokers = sorted(b for b, reg in node.image.brokers.items() if not reg.fenced)
        if not brokers:
            raise BrokerNotAvailable("no unfenced broker to allocate a producer id; retry")
        status, body, ctype = await node.proxy_request(brokers[0], "POST", request.path_qs, {},
                                                       what="broker", on_behalf=request.get(IDENTITY_KEY))
        return web.Response(body=body, status=status, content_type=ctype)
    producer_id = await node.producer_ids.next_id()
    return json_response({"kind": "KraftProducer", "cluster_id": node.cluster_id,
                          "producer_id": producer_id, "producer_epoch": 0})


async def quorum(request):
    """The fields of kafka-metadata-quorum.sh describe --status/--replication.

    Only the Raft leader knows its followers' progress, so other nodes ask it.
    """
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    if request.query.get("local") == "1":  # a peer asking; never forward again
        return json_response(node.quorum_local_description())
    return json_response(await node.quorum_description())


async def health_overview(request):
    node = node_of(request)
    image = node.image
    # the nodes this node's cluster.toml names, and every broker that registered (one
    # added later may be in no file but its own); a decommissioned broker is gone
    gone = decommissioned(image)
    controllers = {n.id for n in node.config.controllers}
    all_nodes = sorted(({n.id for n in node.config.nodes} | set(image.brokers)) - (gone - controllers))
    brokers = ({n.id for n in node.config.brokers} | set(image.brokers)) - gone
    down = sorted(b for b in all_nodes if b in brokers and (b not in image.brokers or image.brokers[b].fenced))
    leaderless, under = [], []
    for topic, index, part in image.all_partitions():
        ref = {"ns": "kafka", "topic": topic.name, "partition_id": index}
        if not part.online:
            leaderless.append(ref)
        elif part.under_replicated:
            under.append(ref)
    controller = image.controller_id if image.controller_id >= 0 else -1
    storage = await storage_of_brokers(node)
    damaged = [{"node_id": view["node_id"], **d} for view in storage for d in view.get("damaged_replicas", [])]
    failed_dirs = sorted(b for b, reg in image.brokers.items() if reg.log_dir_failed)
    per_broker = _broker_rows(node, brokers, storage)
    return json_response({
        "is_healthy": not down and not leaderless and controller >= 0 and not failed_dirs
        and not any(not d["healthy_copy"] for d in damaged),
        "nodes_with_failed_log_dir": failed_dirs,
        "controller_id": controller,
        "all_nodes": all_nodes,
        "nodes_down": down,
        "leaderless_partitions": leaderless,
        "leaderless_count": len(leaderless),
        "under_replicated_partitions": under,
        "under_replicated_count": len(under),
        "damaged_replicas": damaged,
        "damaged_count": len(damaged),
        # what would make an acks=all write fail now (`kraft up` says ready only without any)
        "acks_all_problems": acks_all_problems(image, node.topic_defaults, below=node.below_min_isr),
        # (ext) each broker's host, partitions, CPU and memory, and the same summed per host
        "brokers": per_broker,
        "hosts": host_summary.host_rows(per_broker),
    })


def _broker_rows(node: BrokerServices, brokers: set[int], storage: list[dict]) -> list[dict]:
    """A registered broker's host is the one it registered with; one not registered
    (down since its start), the host cluster.toml gives it."""
    registered = host_summary.registered_hosts(node.image)
    hosts = {}
    for b in brokers:
        configured = node.config.node_or_none(b)
        hosts[b] = registered[b] if b in registered else configured.host_name if configured else None
    usage_of = {view["node_id"]: view["process"] for view in storage if isinstance(view.get("process"), dict)}
    return host_summary.broker_rows(hosts, host_summary.partition_counts(node.image), usage_of)


def decommissioned(image: MetadataImage) -> set[int]:
    """Brokers taken out for good: no longer expected up, whatever the files say."""
    return {b for b in image.decommissioning if b not in image.brokers}


def local_storage(node: BrokerServices) -> dict:
    replicas = node.replica_manager
    if replicas is None:
        return {"node_id": node.node_id, "broker": False}
    # (ext) the process's CPU and memory ride along: the hosts view reads them from every broker
    return {"node_id": node.node_id, "broker": True, **replicas.storage_view(), "process": usage()}


async def node_storage(request):
    """This node's storage: replicas under repair, scrubber progress (ext)."""
    return json_response(local_storage(node_of(request)))


async def storage_of_brokers(node: BrokerServices) -> list[dict]:
    """Every broker's storage view; one that does not answer says so."""
    async def one(broker_id: int) -> dict:
        if broker_id == node.node_id:
            return local_storage(node)
        try:
            status, body = await node.get_json_from(broker_id, "/v1/node/storage")
            if status == 200 and isinstance(body, dict):
                return body
            return {"node_id": broker_id, "broker": True, "unreachable": f"HTTP {status}"}
        except Exception as exc:  # a node down is part of the answer, not an error
            return {"node_id": broker_id, "broker": True, "unreachable": str(exc) or type(exc).__name__}
    brokers = sorted(({n.id for n in node.config.brokers} | set(node.image.brokers)) - decommissioned(node.image))
    return list(await asyncio.gather(*(one(b) for b in brokers)))


async def cluster_storage(request):
    """Every broker's storage view (ext): `kraft storage status`."""
    return json_response({"nodes": await storage_of_brokers(node_of(request))})


async def ready(request):
    """?acks=all: also whether the cluster, as this node sees it, takes an acks=all write
    (what `kraft up` waits for). Open to all, so the reasons name no topic."""
    node = node_of(request)
    ok, reason = node.readiness()
    wanted = request.query.get("acks")
    if wanted is not None and wanted != "all":
        raise BadRequest(f"acks: only acks=all is asked here, got {wanted[:20]!r}")
    if ok and wanted == "all" and (problems := acks_all_problems(node.image, node.topic_defaults, named=False,
                                                                          below=node.below_min_isr)):
        ok, reason = False, "; ".join(problems)
    return json_response({"ready": ok, "reason": reason}, status=200 if ok else 503)


async def metrics(request):
    body = generate_latest(node_of(request).metrics_registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
