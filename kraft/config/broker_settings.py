"""A broker's settings as Kafka names them: what cluster.toml set or defaulted. Pure.

Both front doors show them (REST `brokers/{id}/configs`, Kafka DescribeConfigs on a
BROKER resource); they change by editing the file and restarting, but for the topic
defaults, which are dynamic (broker_dynamic.py). Besides the Kafka-named keys of the
[cluster], [timeouts], [groups], [http] and [transactions] tables, the broker's identity
from its [[nodes]] entry under Kafka's names (node.id, listeners, log.dirs, broker.rack,
...), the two create-time topic defaults (num.partitions, default.replication.factor) and
what [security] sets that Kafka names (super.users, allow.everyone.if.no.acl.found,
ssl.client.auth). No secret is listed: the raft password, users' passwords and TLS files
have no entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from kraft.config.cluster import ClusterSection, GroupSettings, HttpSettings, Timeouts
from kraft.config.data_dir import PARTITIONS_DIR
from kraft.config.transaction_settings import KAFKA_NAMES, TransactionSettings
from kraft.config.topic_configs import TOPIC_CONFIGS, topic_default

# the create-time topic defaults of [topic_defaults] (not topic configs), by Kafka's broker names
CREATE_DEFAULT_NAMES = {"num.partitions": "num.partitions", "replication.factor": "default.replication.factor"}
BROKER_LISTENER = "BROKER"  # the inter-broker listener's name, when it is a listener of its own
IDENTITY_DOCS = {
    "node.id": ("int", "This node's id ([[nodes]] id)."),
    "broker.id": ("int", "This broker's id: its node id."),
    "process.roles": ("list", "What this node is: broker, controller or both ([[nodes]] roles)."),
    "listeners": ("string", "The Kafka listener this broker binds (bind_host or host, kafka_port); kraft's "
                            "quorum and HTTP ports speak other protocols and are not listed."),
    "advertised.listeners": ("string", "The Kafka listener clients are told to dial (host, kafka_port)."),
    "inter.broker.listener.name": ("string", "The listener the other brokers dial: BROKER (inter_broker_port, "
                                             "listed in listeners) or the clients' one."),
    "log.dirs": ("string", "The directory holding this broker's partitions (partitions/ in its [[nodes]] "
                           "data_dir), as DescribeLogDirs names it."),
    "controller.quorum.voters": ("list", "The metadata quorum's voters in cluster.toml, id@host:raft_port."),
    "broker.rack": ("string", "This broker's rack: replicas of a partition go to distinct racks where they can."),
}


@dataclass(frozen=True)
class StaticSetting:
    value: str | None
    explicit: bool  # set in cluster.toml (STATIC_BROKER_CONFIG) rather than defaulted (DEFAULT_CONFIG)
    default: str | None
    kind: str | None = None
    doc: str | None = None


def broker_settings(config, broker_id: int | None = None) -> dict[str, StaticSetting]:
    """name -> the setting, for the broker `broker_id` (its identity when cluster.toml
    lists it) or for every broker (None)."""
    out: dict[str, StaticSetting] = {}
    for section in _sections(config):
        out.update(_section_settings(section))
    out.update(_transaction_settings(config.transactions))
    out.update(_security_settings(config.security))
    for topic_name, broker_name in CREATE_DEFAULT_NAMES.items():
        spec = TOPIC_CONFIGS[topic_name]
        out[broker_name] = StaticSetting(topic_default(config.topic_defaults, topic_name),
                                         topic_name in config.topic_defaults, spec.default, spec.kind, spec.doc)
    node = next((n for n in config.nodes if n.id == broker_id and n.is_broker), None)
    if node is not None:
        out.update(_identity(config, node))
    return out


def _identity(config, node) -> dict[str, StaticSetting]:
    protocol = listener_protocol(config)
    host = f"[{node.host}]" if ":" in node.host else node.host
    bind = f"[{node.listen_host}]" if ":" in node.listen_host else node.listen_host
    voters = ",".join(f"{n.id}@{n.raft_address}" for n in config.nodes if n.is_controller)
    values = {
        "node.id": str(node.id), "broker.id": str(node.id),
        "process.roles": ",".join(r for r in ("broker", "controller") if r in node.roles),
        "listeners": ",".join([f"{protocol}://{bind}:{node.kafka_port}"]
                              + ([f"{BROKER_LISTENER}://{bind}:{node.inter_broker_port}"]
                                 if node.inter_broker_port else [])) if node.kafka_port else None,
        "inter.broker.listener.name": (BROKER_LISTENER if node.inter_broker_port else protocol)
        if node.kafka_port else None,
        "advertised.listeners": f"{protocol}://{host}:{node.kafka_port}" if node.kafka_port else None,
        "log.dirs": str(node.data_path / PARTITIONS_DIR),
        "controller.quorum.voters": voters,
        "broker.rack": node.rack,
    }
    return {name: StaticSetting(value, value is not None, None, *IDENTITY_DOCS[name])
            for name, value in values.items()}


def _transaction_settings(settings: TransactionSettings) -> dict[str, StaticSetting]:
    defaults = TransactionSettings()
    return {kafka_name: StaticSetting(str(getattr(settings, name)), kafka_name in settings.given,
                                      str(getattr(defaults, name)), "int")
            for name, kafka_name in KAFKA_NAMES.items()}


def _security_settings(security) -> dict[str, StaticSetting]:
    """Kafka's names for what [security] sets (without it, an open cluster: none of these)."""
    if security is None:
        return {}
    given = security.model_fields_set
    out = {"allow.everyone.if.no.acl.found": StaticSetting(
               _text(security.allow_everyone_if_no_acl_found), "allow_everyone_if_no_acl_found" in given, "false",
               "bool", "Without an ACL on a resource, allow everyone (true) or only super users (false)."),
           "ssl.client.auth": StaticSetting(security.tls_client_auth, "tls_client_auth" in given, "none", "string",
                                            "Client certificates: none, requested or required.")}
    if security.super_users:
        out["super.users"] = StaticSetting(";".join(f"User:{u}" for u in security.super_users), True, None,
                                           "list", "Principals every ACL check allows.")
    return out


def listener_protocol(config) -> str:
    """Kafka's security protocol name for the Kafka listener: TLS or not, SASL or not."""
    security = config.security
    if security is None:
        return "PLAINTEXT"
    tls = security.tls_cert is not None
    if security.authentication:
        return "SASL_SSL" if tls else "SASL_PLAINTEXT"
    return "SSL" if tls else "PLAINTEXT"


def _sections(config) -> tuple[BaseModel, ...]:
    return (config.cluster, config.timeouts, config.groups, config.http)


def static_setting_names() -> frozenset[str]:
    """The names that only cluster.toml sets (read only: not the dynamic topic defaults)."""
    sections = frozenset(info.alias for section in (ClusterSection, Timeouts, GroupSettings, HttpSettings)
                         for info in section.model_fields.values() if info.alias and "." in info.alias)
    security = frozenset({"allow.everyone.if.no.acl.found", "ssl.client.auth", "super.users"})
    return (sections | frozenset(IDENTITY_DOCS) | frozenset(CREATE_DEFAULT_NAMES.values())
            | frozenset(KAFKA_NAMES.values()) | security)


_KINDS = {bool: "bool", int: "int", float: "double", str: "string"}


def _text(value: object) -> str | None:
    if value is None:  # unset and without a default (Kafka's null)
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def _section_settings(section: BaseModel) -> dict[str, StaticSetting]:
    out = {}
    for field, info in type(section).model_fields.items():
        if info.alias is None or "." not in info.alias:  # name, id, password: not Kafka configs
            continue
        value = getattr(section, field)
        out[info.alias] = StaticSetting(_text(value), field in section.model_fields_set, _text(info.default),
                                        _KINDS.get(type(value), "string" if value is None else None))
    return out
