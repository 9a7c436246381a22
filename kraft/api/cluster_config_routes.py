"""Dynamic broker configs over REST: cluster-wide (Confluent v3 `/broker-configs`, Kafka's
DYNAMIC_DEFAULT_BROKER_CONFIG) and per broker (`/brokers/{id}/configs`, Kafka's
DYNAMIC_BROKER_CONFIG), changed live through the controller. kraft.config.broker_dynamic
says which names are dynamic: the topic defaults under Kafka's broker names
(`log.retention.ms`, `message.max.bytes`, ...), the replication throttle rates, and
Kafka's thread pool and Kerberos login settings (kept, no effect). A broker's own value
wins over the cluster-wide one, which wins over cluster.toml; writes to cluster.toml's
other settings are refused with the way to change them.
"""

from __future__ import annotations

from aiohttp import web

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.api import v3_views as views
from kraft.api.catch_up import reads_latest_metadata
from kraft.api.config_requests import alter_changes, put_value
from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_json_object
from kraft.api.paths import base_url, check_cluster
from kraft.config.broker_dynamic import cluster_default_table
from kraft.config.config_sources import Described
from kraft.errors import NotFound

CLUSTER_CONFIGS = "/v3/clusters/{cluster_id}/broker-configs"
BROKER_CONFIGS = "/v3/clusters/{cluster_id}/brokers/{broker_id}/configs"
MAX_BROKER_ID = 2**31 - 1


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(CLUSTER_CONFIGS, list_configs)
    r.add_post(CLUSTER_CONFIGS + ":alter", alter_configs)
    r.add_get(CLUSTER_CONFIGS + "/{name}", get_config)
    r.add_put(CLUSTER_CONFIGS + "/{name}", put_config)
    r.add_delete(CLUSTER_CONFIGS + "/{name}", delete_config)
    r.add_post(BROKER_CONFIGS + ":alter", alter_broker_configs)
    r.add_put(BROKER_CONFIGS + "/{name}", put_broker_config)
    r.add_delete(BROKER_CONFIGS + "/{name}", delete_broker_config)


def _dynamic(node: BrokerServices) -> dict[str, Described]:
    """Kafka broker name -> each cluster-wide value set."""
    return {name: config.described for name, config in cluster_default_table(node.image.cluster_configs).items()}


@reads_latest_metadata
async def list_configs(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    base = base_url(request)
    data = [views.cluster_config_view(k, v, node.cluster_id, base) for k, v in _dynamic(node).items()]
    return json_response(views.collection("KafkaClusterConfigList", base, request.path, data))


@reads_latest_metadata
async def get_config(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    name = request.match_info["name"]
    dynamic = _dynamic(node)
    if name not in dynamic:
        raise NotFound(f"no cluster-wide value is set for {name!r}")
    return json_response(views.cluster_config_view(name, dynamic[name], node.cluster_id, base_url(request)))


async def put_config(request):
    value = put_value(await read_json_object(request))
    await _alter(request, {request.match_info["name"]: value}, False)
    return web.Response(status=204)


async def delete_config(request):
    await _alter(request, {request.match_info["name"]: None}, False)
    return web.Response(status=204)


async def alter_configs(request):
    changes, dry_run = alter_changes(await read_json_object(request))
    await _alter(request, changes, dry_run)
    return web.Response(status=204)


async def _alter(request, changes: dict, dry_run: bool) -> None:
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    result = await node.controller_call(controller_requests.AlterClusterConfigs(
        changes=changes, validate_only=dry_run))
    await node.wait_metadata(result.get("metadata_offset", 0))


async def put_broker_config(request):
    value = put_value(await read_json_object(request))
    await _alter_broker(request, {request.match_info["name"]: value}, False)
    return web.Response(status=204)


async def delete_broker_config(request):
    await _alter_broker(request, {request.match_info["name"]: None}, False)
    return web.Response(status=204)


async def alter_broker_configs(request):
    changes, dry_run = alter_changes(await read_json_object(request))
    await _alter_broker(request, changes, dry_run)
    return web.Response(status=204)


async def _alter_broker(request, changes: dict, dry_run: bool) -> None:
    """A broker's own dynamic values; the controller refuses the names that are not dynamic."""
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    raw = request.match_info["broker_id"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_BROKER_ID:
        raise NotFound(f"broker {raw} not found")
    result = await node.controller_call(controller_requests.AlterBrokerConfigs(
        broker_id=int(raw), changes=changes, validate_only=dry_run))
    await node.wait_metadata(result.get("metadata_offset", 0))
