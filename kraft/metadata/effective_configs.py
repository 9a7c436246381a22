"""A topic's effective configs: its own overrides, then (on one broker's logs) that
broker's own dynamic values, then cluster-wide dynamic values, then what cluster.toml's
[topic_defaults] set, then Kafka's defaults (kraft.config.config_sources: the one rule,
with the sources and synonyms DescribeConfigs shows). Pure.

`defaults` is what cluster.toml's [topic_defaults] set, nothing filled in: a value the
file did not set is Kafka's default (DEFAULT_CONFIG), not the file's (STATIC_BROKER_CONFIG).

An inherited min.insync.replicas is capped at the topic's replication factor: the
cluster default of 2 must not make every acks=all write to an RF 1 topic fail. A value
set on the topic itself is kept as it is (creating a topic with one above its
replication factor is refused).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from kraft.config.broker_synonyms import BROKER_NAME_OF
from kraft.config.config_sources import TOPIC_CONFIG, Described, layered, winner
from kraft.config.topic_configs import CLUSTER_ONLY, TOPIC_CONFIGS, typed_value
from kraft.metadata.image import MetadataImage

MIN_ISR = "min.insync.replicas"
UNCLEAN = "unclean.leader.election.enable"
Config = TypeVar("Config")  # what the rule makes of one config's layers


def described_topic_configs(image: MetadataImage, defaults: dict[str, str], topic: str,
                            broker_id: int | None = None) -> dict[str, Described]:
    """Every known topic config with its value, source and synonyms; with broker_id, as
    that broker's logs of the topic take them (its own dynamic values count)."""
    result = _each_config(image, defaults, topic, broker_id, layered)
    value, source = result[MIN_ISR][:2]
    assert value is not None  # every topic config has a default (ConfigSpec.default: str)
    capped = _capped_min_isr(image, topic, value, source)
    if capped != value:
        result[MIN_ISR] = result[MIN_ISR].with_value(capped)
    return result


def effective_topic_configs(image: MetadataImage, defaults: dict[str, str], topic: str,
                            broker_id: int | None = None) -> dict[str, tuple[str, str]]:
    """name -> (value, source), as described_topic_configs without the synonyms."""
    # every topic config has a default (ConfigSpec.default: str): winner's value is never None
    result = cast(dict[str, tuple[str, str]], _each_config(image, defaults, topic, broker_id, winner))
    value, source = result[MIN_ISR]
    result[MIN_ISR] = (_capped_min_isr(image, topic, value, source), source)
    return result


def _each_config(image: MetadataImage, defaults: dict[str, str], topic: str, broker_id: int | None,
                 rule: Callable[..., Config]) -> dict[str, Config]:
    overrides = image.topic_configs.get(topic, {})
    own = image.broker_configs.get(broker_id, {}) if broker_id is not None else {}
    cluster = image.cluster_configs
    result: dict[str, Config] = {}
    for name, spec in TOPIC_CONFIGS.items():
        if name in CLUSTER_ONLY:  # num.partitions, replication.factor: shape a create, not a topic
            continue
        result[name] = rule(BROKER_NAME_OF.get(name, name), default=spec.default, static=defaults.get(name),
                            cluster=cluster.get(name), broker=own.get(name),
                            topic=(name, overrides[name]) if name in overrides else None)
    return result


def _capped_min_isr(image: MetadataImage, topic: str, value: str, source: str) -> str:
    image_topic = image.topic(topic)
    if source != TOPIC_CONFIG and image_topic is not None and image_topic.partitions:
        rf = len(image_topic.partitions[0].replicas)
        if int(value) > rf:
            return str(rf)
    return value


def broker_dynamic_config(image: MetadataImage, broker_id: int, name: str) -> tuple[str, str] | None:
    """A broker's dynamic config (its own value, then the cluster-wide one) with its
    source, as Kafka's DescribeConfigs names it; None when neither is set."""
    own = image.broker_configs.get(broker_id, {})
    if name in own:
        return own[name], "DYNAMIC_BROKER_CONFIG"
    if name in image.cluster_configs:
        return image.cluster_configs[name], "DYNAMIC_DEFAULT_BROKER_CONFIG"
    return None


def topic_config(image: MetadataImage, defaults: dict[str, str], topic: str, name: str) -> Any:
    value, _ = effective_topic_configs(image, defaults, topic)[name]
    return typed_value(name, value)


def min_isr(image: MetadataImage, defaults: dict[str, str], topic: str) -> int:
    """The topic's effective min.insync.replicas (capped as above)."""
    value: int = topic_config(image, defaults, topic, MIN_ISR)  # typed_value: an int for it
    return value


class TopicSettings:
    """Each topic's min ISR and unclean-election switch, worked out once per topic for a
    walk over many partitions (readiness, fencing, elections, a batch of ISR changes):
    the effective configs are a merge of several maps, too dear to redo per partition."""

    def __init__(self, image: MetadataImage, defaults: dict[str, str]) -> None:
        self._image, self._defaults = image, defaults
        self._min_isr: dict[str, int] = {}
        self._unclean: dict[str, bool] = {}

    def min_isr(self, topic: str) -> int:
        value = self._min_isr.get(topic)
        if value is None:
            value = self._min_isr[topic] = min_isr(self._image, self._defaults, topic)
        return value

    def unclean(self, topic: str) -> bool:
        value = self._unclean.get(topic)
        if value is None:
            value = self._unclean[topic] = bool(topic_config(self._image, self._defaults, topic, UNCLEAN))
        return value
