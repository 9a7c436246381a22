"""A broker's configs (Confluent v3 `KafkaBrokerConfig`): every config it runs with under
Kafka's broker names, as Kafka's DescribeConfigs lists them: its own dynamic value
(DYNAMIC_BROKER_CONFIG), else the cluster-wide one, else cluster.toml's, else Kafka's
default (kraft.config.broker_dynamic). A client reads them to act as a Kafka client
would, for example `kraft produce` checks auto.create.topics.enable. Writes:
cluster_config_routes.
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.api import v3_views as views
from kraft.api.context import node_of
from kraft.api.http_body import json_response
from kraft.api.paths import base_url, check_cluster
from kraft.api.catch_up import reads_latest_metadata
from kraft.config.broker_dynamic import broker_configs
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


def broker_config_views(node: BrokerServices, broker: int, base: str) -> dict[str, dict]:
    """name -> the v3 view of each of the broker's configs."""
    table = broker_configs(node.config, broker, node.image.cluster_configs,
                           node.image.broker_configs.get(broker, {}))
    return {name: views.broker_config_view(broker, name, config.described, config.read_only, node.cluster_id, base)
            for name, config in table.items()}


@reads_latest_metadata
async def list_configs(request):
    node = node_of(request)
    broker = _broker(request, node)
    base = base_url(request)
    data = [view for _, view in sorted(broker_config_views(node, broker, base).items())]
    return json_response(views.collection("KafkaBrokerConfigList", base, request.path, data))


@reads_latest_metadata
async def get_config(request):
    node = node_of(request)
    broker = _broker(request, node)
    name = request.match_info["name"]
    found = broker_config_views(node, broker, base_url(request))
    if name not in found:
        raise NotFound(f"config {name!r} not found on broker {broker}")
    return json_response(found[name])
