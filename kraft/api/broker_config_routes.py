"""A broker's configs (Confluent v3 `KafkaBrokerConfig`): the settings it runs with.

They are the cluster.toml settings, under the names cluster.toml uses (Kafka's), read
only: they change by editing the file and restarting. A client reads them to act as a
Kafka client would, for example `kraft produce` checks auto.create.topics.enable.
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.api import v3_views as views
from kraft.api.context import node_of
from kraft.api.http_body import json_response
from kraft.api.paths import base_url, check_cluster
from kraft.config.broker_settings import broker_settings
from kraft.errors import NotFound

BROKER_CONFIGS = "/v3/clusters/{cluster_id}/brokers/{broker_id}/configs"


def add_routes(app) -> None:
    app.router.add_get(BROKER_CONFIGS, list_configs)
    app.router.add_get(BROKER_CONFIGS + "/{name}", get_config)


def _broker(request, node: BrokerServices) -> int:
    check_cluster(request, node.cluster_id)
    raw = request.match_info["broker_id"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in node.image.brokers:
        raise NotFound(f"broker {raw} not found")
    return int(raw)


async def list_configs(request):
    node = node_of(request)
    broker = _broker(request, node)
    base = base_url(request)
    data = [views.broker_config_view(broker, name, value, explicit, node.cluster_id, base)
            for name, (value, explicit) in broker_settings(node.config).items()]
    return json_response(views.collection("KafkaBrokerConfigList", base, request.path, data))


async def get_config(request):
    node = node_of(request)
    broker = _broker(request, node)
    name = request.match_info["name"]
    settings = broker_settings(node.config)
    if name not in settings:
        raise NotFound(f"config {name!r} not found on broker {broker}")
    value, explicit = settings[name]
    return json_response(views.broker_config_view(broker, name, value, explicit, node.cluster_id,
                                                  base_url(request)))
