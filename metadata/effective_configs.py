"""A topic's effective configs: its own overrides, then cluster-wide dynamic values,
then cluster.toml's [topic_defaults], then Kafka's defaults. Pure."""

from __future__ import annotations

from kraft.config.topic_configs import TOPIC_CONFIGS, typed_value
from kraft.metadata.image import MetadataImage


def effective_topic_configs(image: MetadataImage, defaults: dict[str, str], topic: str) -> dict:
    """Every known topic config with its value and where it came from."""
    overrides = image.topic_configs.get(topic, {})
    result = {}
    for name in TOPIC_CONFIGS:
        if name in overrides:
            result[name] = (overrides[name], "DYNAMIC_TOPIC_CONFIG")
        elif name in image.cluster_configs:
            result[name] = (image.cluster_configs[name], "DYNAMIC_DEFAULT_BROKER_CONFIG")
        elif name in defaults:
            result[name] = (defaults[name], "STATIC_BROKER_CONFIG")
        else:
            result[name] = (str(TOPIC_CONFIGS[name].default), "DEFAULT_CONFIG")
    return result


def topic_config(image: MetadataImage, defaults: dict[str, str], topic: str, name: str):
    value, _ = effective_topic_configs(image, defaults, topic)[name]
    return typed_value(name, value)
