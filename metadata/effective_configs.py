"""A topic's effective configs: its own overrides, then (on one broker's logs) that
broker's own dynamic values, then cluster-wide dynamic values, then cluster.toml's
[topic_defaults], then Kafka's defaults. Pure.

An inherited min.insync.replicas is capped at the topic's replication factor: the
cluster default of 2 must not make every acks=all write to an RF 1 topic fail. A value
set on the topic itself is kept as it is (creating a topic with one above its
replication factor is refused).
"""

from __future__ import annotations

from kraft.config.topic_configs import CLUSTER_ONLY, TOPIC_CONFIGS, typed_value
from kraft.metadata.image import MetadataImage

MIN_ISR = "min.insync.replicas"


def effective_topic_configs(image: MetadataImage, defaults: dict[str, str], topic: str,
                            broker_id: int | None = None) -> dict:
    """Every known topic config with its value and where it came from; with broker_id,
    as that broker's logs of the topic take them (its own dynamic values count)."""
    overrides = image.topic_configs.get(topic, {})
    own = image.broker_configs.get(broker_id, {}) if broker_id is not None else {}
    result = {}
    for name in TOPIC_CONFIGS:
        if name in CLUSTER_ONLY:  # num.partitions, replication.factor: shape a create, not a topic
            continue
        if name in overrides:
            result[name] = (overrides[name], "DYNAMIC_TOPIC_CONFIG")
        elif name in own:
            result[name] = (own[name], "DYNAMIC_BROKER_CONFIG")
        elif name in image.cluster_configs:
            result[name] = (image.cluster_configs[name], "DYNAMIC_DEFAULT_BROKER_CONFIG")
        elif name in defaults:
            result[name] = (defaults[name], "STATIC_BROKER_CONFIG")
        else:
            result[name] = (str(TOPIC_CONFIGS[name].default), "DEFAULT_CONFIG")
    value, source = result[MIN_ISR]
    image_topic = image.topic(topic)
    if source != "DYNAMIC_TOPIC_CONFIG" and image_topic is not None and image_topic.partitions:
        rf = len(image_topic.partitions[0].replicas)
        if int(value) > rf:
            result[MIN_ISR] = (str(rf), source)
    return result


def broker_dynamic_config(image: MetadataImage, broker_id: int, name: str) -> tuple[str, str] | None:
    """A broker's dynamic config (its own value, then the cluster-wide one) with its
    source, as Kafka's DescribeConfigs names it; None when neither is set."""
    own = image.broker_configs.get(broker_id, {})
    if name in own:
        return own[name], "DYNAMIC_BROKER_CONFIG"
    if name in image.cluster_configs:
        return image.cluster_configs[name], "DYNAMIC_DEFAULT_BROKER_CONFIG"
    return None


def topic_config(image: MetadataImage, defaults: dict[str, str], topic: str, name: str):
    value, _ = effective_topic_configs(image, defaults, topic)[name]
    return typed_value(name, value)


def min_isr(image: MetadataImage, defaults: dict[str, str], topic: str) -> int:
    """The topic's effective min.insync.replicas (capped as above)."""
    return topic_config(image, defaults, topic, MIN_ISR)
