"""Configs for Kafka admin clients: DescribeConfigs (32), AlterConfigs (33),
IncrementalAlterConfigs (44).

Resources: a TOPIC (its effective configs, each with where its value comes from, as the
REST API shows them); a BROKER by id (every config of that broker, its dynamic ones,
Kafka's DYNAMIC_BROKER_CONFIG, set live through the controller: kraft.config.broker_dynamic
says which; cluster.toml's others read only); the BROKER named "" (the cluster-wide
dynamic defaults, Kafka's DYNAMIC_DEFAULT_BROKER_CONFIG); a GROUP by id (KIP-932's
share-group settings, kraft.config.group_configs; a group need not exist to have them).
"""

from __future__ import annotations

from dataclasses import dataclass

from kraft.broker.acl_needs import ClientOperation
from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.config.broker_dynamic import (
    BrokerConfig,
    broker_configs,
    cluster_default_table,
    dynamic_by_broker_name,
    stored_name,
)
from kraft.config.config_sources import Described
from kraft.config.group_configs import SPECS as GROUP_CONFIGS
from kraft.config.group_configs import effective as effective_group_configs
from kraft.config.topic_configs import TOPIC_CONFIGS, ConfigError
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.metadata.effective_configs import described_topic_configs, effective_topic_configs

TOPIC, BROKER, GROUP = 2, 4, 32
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
CATCH_UP_S = 2.0

# Kafka's DescribeConfigs config_source numbers
SOURCE_CODES = {"DYNAMIC_TOPIC_CONFIG": 1, "DYNAMIC_BROKER_CONFIG": 2, "DYNAMIC_DEFAULT_BROKER_CONFIG": 3,
                "STATIC_BROKER_CONFIG": 4, "DEFAULT_CONFIG": 5, "GROUP_CONFIG": 8}
TYPE_CODES = {"bool": 1, "string": 2, "int": 3, "long": 5, "double": 6, "list": 7}


@dataclass(frozen=True)
class Asked:
    """What the request asks for besides the values (v1+ include_synonyms, v3+ include_documentation)."""

    synonyms: bool = False
    documentation: bool = False


def _entry(name: str, config: Described, read_only: bool, kind: str | None, doc: str | None, asked: Asked) -> dict:
    """One config as DescribeConfigs answers it."""
    return {"name": name, "value": config.value, "read_only": read_only,
            "config_source": SOURCE_CODES[config.source], "is_default": config.is_default,
            "is_sensitive": False,
            "synonyms": [{"name": s.name, "value": s.value, "source": SOURCE_CODES[s.source]}
                         for s in config.synonyms] if asked.synonyms else [],
            "config_type": TYPE_CODES.get(kind, 0) if kind else 0,
            "documentation": doc if asked.documentation else None}


def _broker_entry(name: str, config: BrokerConfig, asked: Asked) -> dict:
    return _entry(name, config.described, config.read_only, config.kind, config.doc, asked)


def topic_entries(node: BrokerServices, topic: str, asked: Asked) -> list[dict]:
    configs = described_topic_configs(node.image, node.topic_defaults, topic)
    return [_entry(name, config, False, TOPIC_CONFIGS[name].kind, TOPIC_CONFIGS[name].doc, asked)
            for name, config in sorted(configs.items())]


def broker_entries(node: BrokerServices, broker_id: int, asked: Asked) -> list[dict]:
    """Every config of the broker under Kafka's broker names (a topic default such as
    retention.ms is the broker's log.retention.ms): its own dynamic value, else the
    cluster-wide one, else cluster.toml's, else Kafka's default."""
    table = broker_configs(node.config, broker_id, node.image.cluster_configs,
                           node.image.broker_configs.get(broker_id, {}))
    return [_broker_entry(name, config, asked) for name, config in table.items()]


def group_entries(node: BrokerServices, group_id: str, asked: Asked) -> list[dict]:
    own = node.image.group_configs.get(group_id, {})
    out = []
    for name, (value, set_here) in sorted(effective_group_configs(own, node.config.groups).items()):
        source = "GROUP_CONFIG" if set_here else "DEFAULT_CONFIG"
        kind = GROUP_CONFIGS[name].kind
        out.append({"name": name, "value": value, "read_only": False, "config_source": SOURCE_CODES[source],
                    "is_default": not set_here, "is_sensitive": False, "synonyms": [],
                    "config_type": TYPE_CODES[kind],
                    "documentation": GROUP_CONFIGS[name].doc if asked.documentation else None})
    return out


def cluster_default_entries(node: BrokerServices, asked: Asked) -> list[dict]:
    return [_broker_entry(name, config, asked)
            for name, config in cluster_default_table(node.image.cluster_configs).items()]


# -- DescribeConfigs -------------------------------------------------------------------------
async def describe_configs(node: BrokerServices, ctx: RequestContext, request) -> dict:
    await node.metadata_barrier(CATCH_UP_S)  # a value just changed through another broker is seen
    asked = Asked(bool(getattr(request, "include_synonyms", False)),  # v1+
                  bool(getattr(request, "include_documentation", False)))  # v3+
    return {"throttle_time": 0, "results": [_describe_one(node, ctx, r, asked) for r in request.resources]}


def _describe_one(node: BrokerServices, ctx: RequestContext, resource, asked: Asked) -> dict:
    kind, name = int(resource.resource_type), resource.resource_name
    answer = {"error_code": error_codes.NONE, "error_message": None, "resource_type": kind,
              "resource_name": name, "configs": []}
    denied = _denied(ctx, _DESCRIBE, kind, name)
    if denied is not None:
        answer.update(error_code=denied, error_message="DESCRIBE_CONFIGS is not authorized")
        return answer
    if kind == TOPIC:
        if node.image.topic(name) is None:
            answer.update(error_code=error_codes.UNKNOWN_TOPIC_OR_PARTITION, error_message=f"topic {name!r} not found")
            return answer
        entries = topic_entries(node, name, asked)
    elif kind == GROUP and name:
        entries = group_entries(node, name, asked)
    elif kind == BROKER and name == "":
        entries = cluster_default_entries(node, asked)
    elif kind == BROKER and name.isascii() and name.isdigit() and int(name) in node.image.brokers:
        entries = broker_entries(node, int(name), asked)  # one cluster.toml: every broker's settings
    else:
        answer.update(error_code=error_codes.INVALID_REQUEST,
                      error_message=f"no config resource of type {kind} named {name!r}")
        return answer
    keys = resource.configuration_keys
    if keys is not None:
        entries = [e for e in entries if e["name"] in set(keys)]
    answer["configs"] = entries
    return answer


# -- AlterConfigs and IncrementalAlterConfigs -------------------------------------------------
async def incremental_alter_configs(node: BrokerServices, ctx: RequestContext, request) -> dict:
    return await _alter_each(node, ctx, request, _incremental_changes)


async def alter_configs(node: BrokerServices, ctx: RequestContext, request) -> dict:
    """The legacy whole-set form: what the request leaves out goes back to its default."""
    def whole_set(node: BrokerServices, resource) -> dict[str, str | None]:
        changes: dict[str, str | None] = {c.name: c.value for c in resource.configs}
        for name in _current_dynamic(node, resource):
            changes.setdefault(name, None)
        return changes
    return await _alter_each(node, ctx, request, whole_set)


async def _alter_each(node: BrokerServices, ctx: RequestContext, request, changes_of) -> dict:
    """Each resource's changes applied on their own: one refused does not stop the rest."""
    responses = []
    for resource in request.resources:
        denied = _denied(ctx, _ALTER, int(resource.resource_type), resource.resource_name)
        if denied is not None:
            responses.append(_resource_answer(resource, denied, "ALTER_CONFIGS is not authorized"))
            continue
        try:
            await _apply(node, resource, changes_of(node, resource), bool(request.validate_only))
            responses.append(_resource_answer(resource, error_codes.NONE, None))
        except error_codes.REFUSALS as exc:
            responses.append(_resource_answer(resource, error_codes.code_of(exc), str(exc)))
    return {"throttle_time": 0, "responses": responses}


_DESCRIBE, _ALTER = 0, 1
# (describe or alter) -> the client operation on a topic's configs, on the cluster's
_CONFIG_OPERATIONS: dict[int, tuple[ClientOperation, ClientOperation]] = {
    _DESCRIBE: ("describe_topic_configs", "describe_cluster_configs"),
    _ALTER: ("alter_topic_configs", "alter_cluster_configs")}


def _denied(ctx: RequestContext, change: int, kind: int, name: str) -> int | None:
    """TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED when the principal may not; brokers'
    configs are the cluster's, as in Kafka."""
    on_topic, on_cluster = _CONFIG_OPERATIONS[change]
    if kind == GROUP:
        return None if ctx.allowed("describe_group_configs" if change == _DESCRIBE else "alter_group_configs",
                                   name) else 30
    if kind == TOPIC:
        return None if ctx.allowed(on_topic, name) else 29
    return None if ctx.allowed(on_cluster) else 31


def _resource_answer(resource, code: int, message: str | None) -> dict:
    return {"error_code": code, "error_message": message, "resource_type": int(resource.resource_type),
            "resource_name": resource.resource_name}


def _check_alterable(node: BrokerServices, resource) -> None:
    kind, name = int(resource.resource_type), resource.resource_name
    if kind == TOPIC or (kind == BROKER and name == "") or (kind == GROUP and name):
        return
    if kind == BROKER:
        if not (name.isascii() and name.isdigit()) or int(name) not in node.image.brokers:
            raise error_codes.Answer(error_codes.INVALID_REQUEST, f"no broker {name!r} is registered")
        return
    raise error_codes.Answer(error_codes.INVALID_REQUEST, f"config resource type {kind} cannot be altered")


def _current_dynamic(node: BrokerServices, resource) -> list[str]:
    _check_alterable(node, resource)
    if int(resource.resource_type) == TOPIC:
        return list(node.image.topic_configs.get(resource.resource_name, {}))
    if int(resource.resource_type) == GROUP:
        return list(node.image.group_configs.get(resource.resource_name, {}))
    if resource.resource_name:
        return list(dynamic_by_broker_name(node.image.broker_configs.get(int(resource.resource_name), {})))
    return list(dynamic_by_broker_name(node.image.cluster_configs))


def _current_values(node: BrokerServices, resource) -> dict[str, str]:
    """What APPEND and SUBTRACT start from: a topic's effective configs, or a broker's
    (its own, the cluster-wide or cluster.toml's value) under broker names."""
    kind, name = int(resource.resource_type), resource.resource_name
    if kind == TOPIC:
        if node.image.topic(name) is None:
            return {}
        return {k: v for k, (v, _) in effective_topic_configs(node.image, node.topic_defaults, name).items()}
    own = node.image.broker_configs.get(int(name), {}) if name else {}
    table = broker_configs(node.config, int(name) if name else -1, node.image.cluster_configs, own)
    return {k: c.described.value or "" for k, c in table.items()}


def _list_config(resource, config_name: str) -> bool:
    """Is this a list config of the resource (what APPEND and SUBTRACT apply to)?"""
    if int(resource.resource_type) == GROUP:
        return False  # no group config is a list
    if int(resource.resource_type) == TOPIC:
        spec = TOPIC_CONFIGS.get(config_name)
    else:
        try:
            spec = TOPIC_CONFIGS.get(stored_name(config_name, per_broker=bool(resource.resource_name)))
        except ConfigError:
            return False
    return spec is not None and spec.kind == "list"


def _incremental_changes(node: BrokerServices, resource) -> dict[str, str | None]:
    _check_alterable(node, resource)
    changes: dict[str, str | None] = {}
    current: dict[str, str] | None = None
    for config in resource.configs:
        op = int(config.config_operation)
        if op == SET:
            changes[config.name] = config.value
        elif op == DELETE:
            changes[config.name] = None
        elif op in (APPEND, SUBTRACT):
            if not _list_config(resource, config.name):
                raise error_codes.Answer(error_codes.INVALID_CONFIG,
                                         f"APPEND and SUBTRACT apply to list configs; {config.name!r} is not one")
            if current is None:
                current = _current_values(node, resource)
            items = [v for v in (changes.get(config.name) or current.get(config.name, "")).split(",") if v]
            given = [v for v in (config.value or "").split(",") if v]
            items = items + [v for v in given if v not in items] if op == APPEND else [v for v in items if v not in given]
            changes[config.name] = ",".join(items)
        else:
            raise error_codes.Answer(error_codes.INVALID_REQUEST, f"unknown config operation {op}")
    return changes


async def _apply(node: BrokerServices, resource, changes: dict[str, str | None], validate_only: bool) -> None:
    if not changes:  # nothing to change is a success, as in Kafka
        return
    if int(resource.resource_type) == TOPIC:
        result = await node.controller_call(controller_requests.AlterConfigs(
            topic=resource.resource_name, changes=changes, validate_only=validate_only))
    elif int(resource.resource_type) == GROUP:
        result = await node.controller_call(controller_requests.AlterGroupConfigs(
            group_id=resource.resource_name, changes=changes, validate_only=validate_only))
    elif resource.resource_name:
        result = await node.controller_call(controller_requests.AlterBrokerConfigs(
            broker_id=int(resource.resource_name), changes=changes, validate_only=validate_only))
    else:
        result = await node.controller_call(controller_requests.AlterClusterConfigs(
            changes=changes, validate_only=validate_only))
    if not validate_only:
        await node.wait_metadata(result.get("metadata_offset", 0))
