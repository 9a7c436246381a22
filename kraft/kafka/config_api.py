"""Configs for Kafka admin clients: DescribeConfigs (32), AlterConfigs (33),
IncrementalAlterConfigs (44).

Resources: a TOPIC (its effective configs, each with where its value comes from, as the
REST API shows them); a BROKER by id (cluster.toml's settings, read only, with the
cluster-wide dynamic values over them, and its replication throttle rates, Kafka's
DYNAMIC_BROKER_CONFIG, changed live); the BROKER named "" (the cluster-wide dynamic
defaults, Kafka's DYNAMIC_DEFAULT_BROKER_CONFIG, changed live through the controller).
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.config.broker_settings import broker_settings
from kraft.config.broker_synonyms import BROKER_NAME_OF, TOPIC_CONFIG_OF, cluster_values_by_broker_name
from kraft.config.replication_throttle import DOC as THROTTLE_DOC
from kraft.config.replication_throttle import THROTTLE_RATES, UNLIMITED
from kraft.config.topic_configs import TOPIC_CONFIGS
from kraft.kafka import error_codes, session
from kraft.metadata.effective_configs import broker_dynamic_config, effective_topic_configs

TOPIC, BROKER = 2, 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
CATCH_UP_S = 2.0

# Kafka's DescribeConfigs config_source numbers
SOURCE_CODES = {"DYNAMIC_TOPIC_CONFIG": 1, "DYNAMIC_BROKER_CONFIG": 2, "DYNAMIC_DEFAULT_BROKER_CONFIG": 3,
                "STATIC_BROKER_CONFIG": 4, "DEFAULT_CONFIG": 5}
TYPE_CODES = {"bool": 1, "string": 2, "int": 3, "long": 5, "double": 6, "list": 7}


def _entry(name: str, value: str | None, source: int, read_only: bool, spec_name: str | None = None) -> dict:
    """spec_name: the topic config whose type and documentation this entry has."""
    spec = TOPIC_CONFIGS.get(spec_name or name)
    if name in THROTTLE_RATES:
        return {"name": name, "value": value, "read_only": False, "config_source": source,
                "is_default": source == 5, "is_sensitive": False, "synonyms": [],
                "config_type": TYPE_CODES["long"], "documentation": THROTTLE_DOC[name]}
    return {"name": name, "value": value, "read_only": read_only, "config_source": source,
            "is_default": source == 5, "is_sensitive": False, "synonyms": [],
            "config_type": TYPE_CODES.get(spec.kind, 0) if spec else 0,
            "documentation": spec.doc if spec else None}


def topic_entries(node: BrokerServices, topic: str) -> list[dict]:
    configs = effective_topic_configs(node.image, node.topic_defaults, topic)
    return [_entry(k, v, SOURCE_CODES[src], False) for k, (v, src) in sorted(configs.items())]


def broker_entries(node: BrokerServices, broker_id: int) -> list[dict]:
    """cluster.toml's settings under Kafka's broker names (a topic default such as
    retention.ms is the broker's log.retention.ms), dynamic cluster-wide values over them;
    the broker's throttle rates (its own value, the cluster-wide one, or unlimited)."""
    dynamic = cluster_values_by_broker_name(node.image.cluster_configs)
    out = []
    for name in THROTTLE_RATES:
        value, source = broker_dynamic_config(node.image, broker_id, name) or (str(UNLIMITED), "DEFAULT_CONFIG")
        out.append(_entry(name, value, SOURCE_CODES[source], False))
    for name, (value, explicit) in broker_settings(node.config).items():
        kafka_name = BROKER_NAME_OF.get(name, name)
        spec = name if name in TOPIC_CONFIGS else None
        if kafka_name in dynamic:
            out.append(_entry(kafka_name, dynamic[kafka_name], 3, False, spec_name=spec))
        else:
            out.append(_entry(kafka_name, value, 4 if explicit else 5, True, spec_name=spec))
    return sorted(out, key=lambda e: e["name"])


def cluster_default_entries(node: BrokerServices) -> list[dict]:
    return [_entry(name, value, 3, False, spec_name=TOPIC_CONFIG_OF.get(name))
            for name, value in cluster_values_by_broker_name(node.image.cluster_configs).items()]


# -- DescribeConfigs -------------------------------------------------------------------------
async def describe_configs(node: BrokerServices, head, request) -> dict:
    await node.metadata_barrier(CATCH_UP_S)  # a value just changed through another broker is seen
    return {"throttle_time": 0, "results": [_describe_one(node, r) for r in request.resources]}


def _describe_one(node: BrokerServices, resource) -> dict:
    kind, name = int(resource.resource_type), resource.resource_name
    answer = {"error_code": error_codes.NONE, "error_message": None, "resource_type": kind,
              "resource_name": name, "configs": []}
    denied = _denied(node, "DESCRIBE_CONFIGS", kind, name)
    if denied is not None:
        answer.update(error_code=denied, error_message="DESCRIBE_CONFIGS is not authorized")
        return answer
    if kind == TOPIC:
        if node.image.topic(name) is None:
            answer.update(error_code=error_codes.UNKNOWN_TOPIC_OR_PARTITION, error_message=f"topic {name!r} not found")
            return answer
        entries = topic_entries(node, name)
    elif kind == BROKER and name == "":
        entries = cluster_default_entries(node)
    elif kind == BROKER and name.isascii() and name.isdigit() and int(name) in node.image.brokers:
        entries = broker_entries(node, int(name))  # one cluster.toml: the same static settings
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
async def incremental_alter_configs(node: BrokerServices, head, request) -> dict:
    return await _alter_each(node, request, _incremental_changes)


async def alter_configs(node: BrokerServices, head, request) -> dict:
    """The legacy whole-set form: what the request leaves out goes back to its default."""
    def whole_set(node: BrokerServices, resource) -> dict[str, str | None]:
        changes: dict[str, str | None] = {c.name: c.value for c in resource.configs}
        for name in _current_dynamic(node, resource):
            changes.setdefault(name, None)
        return changes
    return await _alter_each(node, request, whole_set)


async def _alter_each(node: BrokerServices, request, changes_of) -> dict:
    """Each resource's changes applied on their own: one refused does not stop the rest."""
    responses = []
    for resource in request.resources:
        denied = _denied(node, "ALTER_CONFIGS", int(resource.resource_type), resource.resource_name)
        if denied is not None:
            responses.append(_resource_answer(resource, denied, "ALTER_CONFIGS is not authorized"))
            continue
        try:
            await _apply(node, resource, changes_of(node, resource), bool(request.validate_only))
            responses.append(_resource_answer(resource, error_codes.NONE, None))
        except error_codes.REFUSALS as exc:
            responses.append(_resource_answer(resource, error_codes.code_of(exc), str(exc)))
    return {"throttle_time": 0, "responses": responses}


def _denied(node: BrokerServices, operation: str, kind: int, name: str) -> int | None:
    """TOPIC_/CLUSTER_AUTHORIZATION_FAILED when the principal may not; brokers' configs
    are the cluster's, as in Kafka."""
    if kind == TOPIC:
        return None if session.allowed(node, operation, "TOPIC", name) else 29
    return None if session.allowed(node, operation, "CLUSTER") else 31


def _resource_answer(resource, code: int, message: str | None) -> dict:
    return {"error_code": code, "error_message": message, "resource_type": int(resource.resource_type),
            "resource_name": resource.resource_name}


def _check_alterable(resource) -> None:
    kind, name = int(resource.resource_type), resource.resource_name
    if kind == TOPIC or (kind == BROKER and name == ""):
        return
    if kind == BROKER and name.isascii() and name.isdigit() and \
            all(c.name in THROTTLE_RATES for c in resource.configs):
        return
    if kind == BROKER:
        raise error_codes.Answer(error_codes.INVALID_REQUEST,
                                 f"broker {name}'s settings come from cluster.toml (read only), but for the "
                                 f"throttle rates ({', '.join(THROTTLE_RATES)}); change the topic defaults "
                                 "for every broker on the resource BROKER \"\"")
    raise error_codes.Answer(error_codes.INVALID_REQUEST, f"config resource type {kind} cannot be altered")


def _current_dynamic(node: BrokerServices, resource) -> list[str]:
    _check_alterable(resource)
    if int(resource.resource_type) == TOPIC:
        return list(node.image.topic_configs.get(resource.resource_name, {}))
    if resource.resource_name:
        return list(node.image.broker_configs.get(int(resource.resource_name), {}))
    return list(cluster_values_by_broker_name(node.image.cluster_configs))


def _incremental_changes(node: BrokerServices, resource) -> dict[str, str | None]:
    _check_alterable(resource)
    changes: dict[str, str | None] = {}
    current: dict[str, str] = {}
    if int(resource.resource_type) == TOPIC and node.image.topic(resource.resource_name) is not None:
        current = {k: v for k, (v, _) in effective_topic_configs(
            node.image, node.topic_defaults, resource.resource_name).items()}
    for config in resource.configs:
        op = int(config.config_operation)
        if op == SET:
            changes[config.name] = config.value
        elif op == DELETE:
            changes[config.name] = None
        elif op in (APPEND, SUBTRACT):
            spec = TOPIC_CONFIGS.get(config.name)
            if spec is None or spec.kind != "list" or int(resource.resource_type) != TOPIC:
                raise error_codes.Answer(error_codes.INVALID_CONFIG,
                                         f"APPEND and SUBTRACT apply to a topic's list configs; {config.name!r} is not one")
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
    elif resource.resource_name:
        result = await node.controller_call(controller_requests.AlterBrokerConfigs(
            broker_id=int(resource.resource_name), changes=changes, validate_only=validate_only))
    else:
        result = await node.controller_call(controller_requests.AlterClusterConfigs(
            changes=changes, validate_only=validate_only))
    if not validate_only:
        await node.wait_metadata(result.get("metadata_offset", 0))
