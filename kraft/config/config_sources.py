"""Where a config's value comes from, as Kafka's DescribeConfigs says it. Pure.

Every place a value may be set is a synonym: a topic's own value (DYNAMIC_TOPIC_CONFIG,
under the topic config's name), one broker's dynamic value (DYNAMIC_BROKER_CONFIG), the
cluster-wide dynamic value (DYNAMIC_DEFAULT_BROKER_CONFIG), what cluster.toml set
(STATIC_BROKER_CONFIG) and the built-in default (DEFAULT_CONFIG), the last four under
Kafka's broker name. The first one set, in that order, gives the value and the source;
the synonyms list every one set, in that order (Kafka's include_synonyms). Both front
doors describe configs through this rule.
"""

from __future__ import annotations

from typing import NamedTuple

TOPIC_CONFIG = "DYNAMIC_TOPIC_CONFIG"
BROKER_CONFIG = "DYNAMIC_BROKER_CONFIG"
CLUSTER_DEFAULT = "DYNAMIC_DEFAULT_BROKER_CONFIG"
STATIC = "STATIC_BROKER_CONFIG"
DEFAULT = "DEFAULT_CONFIG"


class Synonym(NamedTuple):  # tuples: every topic's configs are worked out this way, often
    name: str
    value: str | None
    source: str


class Described(NamedTuple):
    """A config's value, where it comes from, and every place it is set."""

    value: str | None
    source: str
    synonyms: tuple[Synonym, ...]

    @property
    def is_default(self) -> bool:
        return self.source == DEFAULT

    def with_value(self, value: str | None) -> Described:
        """The same config whose effective value is adjusted (kraft's min.insync.replicas cap)."""
        return self._replace(value=value)


def layered(broker_name: str, *, default: str | None, static: str | None = None,
            cluster: str | None = None, broker: str | None = None,
            topic: tuple[str, str] | None = None) -> Described:
    """One config from its layers (None: not set there); `topic` is (topic config name, value)."""
    found = [] if topic is None else [Synonym(topic[0], topic[1], TOPIC_CONFIG)]
    if broker is not None:
        found.append(Synonym(broker_name, broker, BROKER_CONFIG))
    if cluster is not None:
        found.append(Synonym(broker_name, cluster, CLUSTER_DEFAULT))
    if static is not None:
        found.append(Synonym(broker_name, static, STATIC))
    if default is not None:
        found.append(Synonym(broker_name, default, DEFAULT))
    if not found:
        return Described(None, DEFAULT, ())
    first = found[0]
    return Described(first.value, first.source, tuple(found))  # in the order of precedence


def winner(broker_name: str, *, default: str | None, static: str | None = None,
           cluster: str | None = None, broker: str | None = None,
           topic: tuple[str, str] | None = None) -> tuple[str | None, str]:
    """(value, source) as layered() gives them, without the synonyms: what the data
    path and the controller read for every topic, often."""
    if topic is not None:
        return topic[1], TOPIC_CONFIG
    for value, source in ((broker, BROKER_CONFIG), (cluster, CLUSTER_DEFAULT), (static, STATIC)):
        if value is not None:
            return value, source
    return default, DEFAULT
