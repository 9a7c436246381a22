"""A broker's settings as Kafka names them: what cluster.toml set or defaulted.

Both front doors show them (REST `brokers/{id}/configs`, Kafka DescribeConfigs on a
BROKER resource); they change by editing the file and restarting, but for the topic
defaults, which are dynamic (broker_dynamic.py).
"""

from __future__ import annotations

from pydantic import BaseModel

from kraft.config.cluster import ClusterSection, GroupSettings, HttpSettings, Timeouts
from kraft.config.topic_configs import DEFAULT_TOPIC_CONFIGS


def broker_settings(config) -> dict[str, tuple[str, bool]]:
    """name -> (value as Kafka writes it, set in the file rather than defaulted)."""
    out: dict[str, tuple[str, bool]] = {}
    for section in _sections(config):
        out.update(_section_settings(section))
    for name, value in sorted(config.topic_defaults.items()):
        out[name] = (value, DEFAULT_TOPIC_CONFIGS.get(name) != value)
    return out


def _sections(config) -> tuple[BaseModel, ...]:
    return (config.cluster, config.timeouts, config.groups, config.http)


def static_setting_names() -> frozenset[str]:
    """The names of the settings above that only cluster.toml sets (not the topic defaults)."""
    return frozenset(info.alias for section in (ClusterSection, Timeouts, GroupSettings, HttpSettings)
                     for info in section.model_fields.values() if info.alias and "." in info.alias)


def _section_settings(section: BaseModel) -> dict[str, tuple[str, bool]]:
    out = {}
    for field, info in type(section).model_fields.items():
        if info.alias is None or "." not in info.alias:  # name, id, password: not Kafka configs
            continue
        value = getattr(section, field)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out[info.alias] = (text, field in section.model_fields_set)
    return out
