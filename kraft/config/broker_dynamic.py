"""Kafka's dynamic broker configs as kraft takes them: which names may change live, for
one broker (Kafka's DYNAMIC_BROKER_CONFIG, the resource BROKER "<id>") or for every
broker (DYNAMIC_DEFAULT_BROKER_CONFIG, the resource BROKER ""), their validation, and
what a broker's configs read as: its own value, else the cluster-wide one, else
cluster.toml's, else Kafka's default. Pure.

The dynamic names, after Kafka's DynamicBrokerConfig:
- the topic defaults under their broker names (`log.retention.ms`, `message.max.bytes`,
  `log.cleanup.policy`, ...), stored under the topic config they default. A broker's
  own value applies to the logs on that broker only (what it leads and what it
  follows). `min.insync.replicas` and `unclean.leader.election.enable` are read by the
  controller for a partition on all its replicas, so they are set cluster-wide or per
  topic, never per broker (as KRaft's controller reads no per-broker value of them);
- the replication throttle rates (replication_throttle.py), applied by that broker;
- Kafka's thread pool sizes and Kerberos login timings: kraft runs neither such pools
  nor a Kerberos login, so these are validated, stored and shown for Kafka's tools
  (kafka-configs, librdkafka's admin tests) and change nothing.
Every other broker setting is cluster.toml's: read only (edit the file and restart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kraft.config.broker_settings import StaticSetting, broker_settings, static_setting_names
from kraft.config.config_sources import Described, layered
from kraft.config.broker_synonyms import BROKER_NAME_OF, TOPIC_CONFIG_OF
from kraft.config.replication_throttle import DOC as THROTTLE_DOC
from kraft.config.replication_throttle import THROTTLE_RATES, UNLIMITED, parse_rate
from kraft.config.suggestion import did_you_mean
from kraft.config.topic_configs import (
    INT_MAX,
    LONG_MAX,
    CLUSTER_ONLY,
    TOPIC_CONFIGS,
    ConfigError,
    ConfigSpec,
    DoubleRange,
    IntRange,
    parse_config_value,
    parse_with_spec,
)

# topic configs the controller reads for every replica of a partition: no per-broker value
CONTROLLER_READ = frozenset({"min.insync.replicas", "unclean.leader.election.enable"})


def _pool(name: str, default: int, low: int = 1) -> ConfigSpec:
    return ConfigSpec(name, "int", str(default), "A Kafka thread pool's size; kraft has no such pool "
                      "(stored and shown, no effect).", IntRange(low, INT_MAX), applied=False)


# Kafka's dynamic broker configs kraft keeps without effect
STORED_ONLY: dict[str, ConfigSpec] = {spec.name: spec for spec in (
    _pool("background.threads", 10),
    _pool("num.io.threads", 8),
    _pool("num.network.threads", 3),
    _pool("num.replica.fetchers", 1),
    _pool("num.recovery.threads.per.data.dir", 2),
    _pool("log.cleaner.threads", 1, low=0),
    ConfigSpec("sasl.kerberos.min.time.before.relogin", "long", "60000",
               "Kafka's Kerberos login: least time between refresh attempts, ms; kraft has no Kerberos "
               "(stored and shown, no effect).", IntRange(0, LONG_MAX), applied=False),
    ConfigSpec("sasl.kerberos.ticket.renew.jitter", "double", "0.05",
               "Kafka's Kerberos login: random jitter added to the renewal time; kraft has no Kerberos "
               "(stored and shown, no effect).", DoubleRange(0.0, 1.0), applied=False),
    ConfigSpec("sasl.kerberos.ticket.renew.window.factor", "double", "0.8",
               "Kafka's Kerberos login: renew when this share of the ticket's life has passed; kraft has "
               "no Kerberos (stored and shown, no effect).", DoubleRange(0.0, 1.0), applied=False),
)}


class ReadOnlyConfig(ConfigError):
    """A broker setting that exists but does not change live (Kafka: INVALID_REQUEST)."""


def dynamic_value(broker_name: str, raw: object, per_broker: bool) -> tuple[str, str]:
    """(the name it is stored under, its canonical value) for a dynamic broker config set
    for one broker (`per_broker`) or for every broker. ConfigError for an unknown name
    or a bad value; ReadOnlyConfig for a name that cannot be set that way."""
    stored = stored_name(broker_name, per_broker)
    if raw is None:
        return stored, ""  # a removal: nothing to check
    if broker_name in THROTTLE_RATES:
        return stored, parse_rate(broker_name, raw)
    if broker_name in STORED_ONLY:
        return stored, parse_with_spec(STORED_ONLY[broker_name], raw)
    try:
        return stored, parse_config_value(stored, raw)
    except ConfigError as exc:
        raise ConfigError(broker_name, exc.reason) from None


def stored_name(broker_name: str, per_broker: bool) -> str:
    """The name a dynamic broker config is stored under (a topic default: the topic
    config's); ConfigError / ReadOnlyConfig as dynamic_value."""
    if broker_name in THROTTLE_RATES or broker_name in STORED_ONLY:
        return broker_name
    topic_name = TOPIC_CONFIG_OF.get(broker_name)
    if topic_name is not None:
        if per_broker and topic_name in CONTROLLER_READ:
            raise ReadOnlyConfig(broker_name, "is read by the controller for every replica of a partition: "
                                              "set it for every broker (the resource BROKER \"\", REST "
                                              "broker-configs) or per topic")
        return topic_name
    if broker_name in static_setting_names() or broker_name in CLUSTER_ONLY:
        raise ReadOnlyConfig(broker_name, "comes from cluster.toml and is read only (edit the file and restart)")
    if broker_name in BROKER_NAME_OF:
        raise ConfigError(broker_name, f'is a topic config (its broker name is "{BROKER_NAME_OF[broker_name]}")')
    names = [*TOPIC_CONFIG_OF, *THROTTLE_RATES, *STORED_ONLY]
    raise ConfigError(broker_name, "not a dynamic broker config kraft knows: the topic defaults under "
                                   "Kafka's broker names, the replication throttle rates, and Kafka's "
                                   f"thread pool and Kerberos login settings{did_you_mean(broker_name, names)}")


def dynamic_by_broker_name(stored: Mapping[str, str]) -> dict[str, str]:
    """Dynamic values as stored (topic defaults under topic names) by their broker names."""
    return {BROKER_NAME_OF.get(k, k): v for k, v in sorted(stored.items())
            if k in BROKER_NAME_OF or k in THROTTLE_RATES or k in STORED_ONLY}


@dataclass(frozen=True)
class BrokerConfig:
    described: Described  # value, source, synonyms (config_sources)
    read_only: bool
    kind: str | None  # Kafka's config type, where kraft knows it
    doc: str | None


BrokerConfigTable = dict[str, BrokerConfig]


def broker_configs(config, broker_id: int, cluster: Mapping[str, str], own: Mapping[str, str]) -> BrokerConfigTable:
    """Every config of the broker `broker_id`, as both doors describe it."""
    return broker_config_table(broker_settings(config, broker_id), config.topic_defaults, cluster, own)


def broker_config_table(static: Mapping[str, StaticSetting], topic_defaults: Mapping[str, str],
                        cluster: Mapping[str, str], own: Mapping[str, str]) -> BrokerConfigTable:
    """Every config of one broker under Kafka's broker names. static: cluster.toml's
    settings (broker_settings); topic_defaults: what its [topic_defaults] set, under topic
    names; cluster, own: the stored cluster-wide and per-broker values (topic defaults
    under topic names)."""
    out: BrokerConfigTable = {}
    for name, setting in static.items():
        out[name] = BrokerConfig(layered(name, default=setting.default,
                                         static=setting.value if setting.explicit else None),
                                 True, setting.kind, setting.doc)
    for broker_name, topic_name in TOPIC_CONFIG_OF.items():
        spec = TOPIC_CONFIGS[topic_name]
        out[broker_name] = BrokerConfig(_dynamic(broker_name, topic_name, spec.default, cluster, own,
                                                 topic_defaults.get(topic_name)), False, spec.kind, spec.doc)
    for name in THROTTLE_RATES:
        out[name] = BrokerConfig(_dynamic(name, name, str(UNLIMITED), cluster, own), False, "long", THROTTLE_DOC[name])
    for name, stored in STORED_ONLY.items():
        out[name] = BrokerConfig(_dynamic(name, name, stored.default, cluster, own), False, stored.kind, stored.doc)
    return dict(sorted(out.items()))


def _dynamic(broker_name: str, stored: str, default: str, cluster: Mapping[str, str], own: Mapping[str, str],
             static: str | None = None) -> Described:
    return layered(broker_name, default=default, static=static, cluster=cluster.get(stored), broker=own.get(stored))


def cluster_default_table(cluster: Mapping[str, str]) -> BrokerConfigTable:
    """The cluster-wide dynamic configs alone (the resource BROKER "", REST broker-configs)."""
    out: BrokerConfigTable = {}
    for broker_name, value in dynamic_by_broker_name(cluster).items():
        spec_name = TOPIC_CONFIG_OF.get(broker_name)
        kind, doc = config_kind_and_doc(broker_name, spec_name)
        out[broker_name] = BrokerConfig(layered(broker_name, default=None, cluster=value), False, kind, doc)
    return out


def config_kind_and_doc(broker_name: str, spec_name: str | None) -> tuple[str | None, str | None]:
    """A broker config's type and documentation, where kraft knows them."""
    if broker_name in THROTTLE_RATES:
        return "long", THROTTLE_DOC[broker_name]
    spec = STORED_ONLY.get(broker_name) or (TOPIC_CONFIGS.get(spec_name) if spec_name else None)
    return (spec.kind, spec.doc) if spec else (None, None)
