"""Per-broker dynamic configs (kraft.config.broker_dynamic and the controller's records):
which names change live and where, and what a broker's configs read as."""

from __future__ import annotations

import pytest
from test_controller_logic import DEFAULTS, Cluster

from kraft.config.broker_dynamic import ReadOnlyConfig, broker_config_table, dynamic_value
from kraft.config.broker_settings import StaticSetting
from kraft.config.topic_configs import ConfigError
from kraft.controller.config_control import alter_broker_configs, alter_cluster_configs
from kraft.errors import InvalidConfig, ReadOnlyBrokerConfig
from kraft.metadata.effective_configs import effective_topic_configs
from kraft.metadata.image_codec import image_from_dict, image_to_dict

STATIC = {"auto.create.topics.enable": StaticSetting("true", False, "true", "bool"),
          "num.partitions": StaticSetting("3", False, "3", "int")}


def test_topic_defaults_are_stored_under_their_topic_names_and_checked_as_topic_configs():
    assert dynamic_value("log.retention.ms", "3600000", per_broker=True) == ("retention.ms", "3600000")
    assert dynamic_value("log.cleanup.policy", "delete,compact", per_broker=True) == (
        "cleanup.policy", "compact,delete")
    assert dynamic_value("message.max.bytes", 2000, per_broker=False) == ("max.message.bytes", "2000")
    with pytest.raises(ConfigError, match="log.retention.ms"):
        dynamic_value("log.retention.ms", "soon", per_broker=True)
    with pytest.raises(ConfigError, match='"log.retention.ms"'):  # the topic name, with its broker name
        dynamic_value("retention.ms", "1", per_broker=True)


def test_kafkas_pools_and_kerberos_settings_are_kept_with_their_types_checked():
    assert dynamic_value("background.threads", "9", per_broker=True) == ("background.threads", "9")
    assert dynamic_value("sasl.kerberos.min.time.before.relogin", 58000, per_broker=False)[1] == "58000"
    assert dynamic_value("sasl.kerberos.ticket.renew.jitter", "0.1", per_broker=True)[1] == "0.1"
    for name, value in (("background.threads", "0"), ("num.io.threads", "many"),
                        ("sasl.kerberos.ticket.renew.window.factor", "2")):
        with pytest.raises(ConfigError) as refused:
            dynamic_value(name, value, per_broker=True)
        assert not isinstance(refused.value, ReadOnlyConfig)


def test_read_only_names_are_told_apart_from_unknown_ones():
    for name in ("auto.create.topics.enable", "group.initial.rebalance.delay.ms", "num.partitions"):
        with pytest.raises(ReadOnlyConfig, match="cluster.toml"):
            dynamic_value(name, "1", per_broker=True)
    for name in ("min.insync.replicas", "unclean.leader.election.enable"):  # the controller's, for every replica
        with pytest.raises(ReadOnlyConfig, match="controller"):
            dynamic_value(name, "1", per_broker=True)
        assert dynamic_value(name, "1" if name == "min.insync.replicas" else "true", per_broker=False)
    with pytest.raises(ConfigError) as unknown:
        dynamic_value("backgroud.threads", "9", per_broker=True)
    assert not isinstance(unknown.value, ReadOnlyConfig) and "background.threads" in str(unknown.value)


def test_a_brokers_own_value_wins_over_the_cluster_wide_one_over_cluster_toml():
    table = broker_config_table(STATIC, {"retention.ms": "604800000"},
                                {"retention.ms": "7200000", "background.threads": "12"}, {"retention.ms": "3600000"})

    def shown(name):
        config = table[name]
        return config.described.value, config.described.source, config.read_only
    assert shown("log.retention.ms") == ("3600000", "DYNAMIC_BROKER_CONFIG", False)
    assert [(s.value, s.source) for s in table["log.retention.ms"].described.synonyms] == [
        ("3600000", "DYNAMIC_BROKER_CONFIG"), ("7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
        ("604800000", "STATIC_BROKER_CONFIG"), ("604800000", "DEFAULT_CONFIG")]
    assert shown("background.threads")[:2] == ("12", "DYNAMIC_DEFAULT_BROKER_CONFIG")
    assert shown("log.cleanup.policy") == ("delete", "DEFAULT_CONFIG", False)
    assert shown("auto.create.topics.enable")[2] is True and shown("num.partitions")[2] is True
    assert shown("sasl.kerberos.min.time.before.relogin")[:2] == ("60000", "DEFAULT_CONFIG")
    assert "retention.ms" not in table  # topic defaults go by their broker names


def test_records_for_one_broker_and_the_topic_configs_its_logs_read():
    c = Cluster(brokers=(1, 2))
    c.create("t", partitions=1, rf=2)
    c.run(alter_cluster_configs(c.image, DEFAULTS, {"log.retention.ms": "7200000"}))
    c.run(alter_broker_configs(c.image, 1, {"log.retention.ms": "3600000", "background.threads": "9"}))
    assert c.image.broker_configs[1] == {"retention.ms": "3600000", "background.threads": "9"}
    assert image_from_dict(image_to_dict(c.image)).broker_configs == c.image.broker_configs
    on_1 = effective_topic_configs(c.image, DEFAULTS, "t", broker_id=1)
    on_2 = effective_topic_configs(c.image, DEFAULTS, "t", broker_id=2)
    assert on_1["retention.ms"] == ("3600000", "DYNAMIC_BROKER_CONFIG")
    assert on_2["retention.ms"] == ("7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG")
    assert effective_topic_configs(c.image, DEFAULTS, "t")["retention.ms"][1] == "DYNAMIC_DEFAULT_BROKER_CONFIG"
    c.run(alter_broker_configs(c.image, 1, {"log.retention.ms": None}))
    assert effective_topic_configs(c.image, DEFAULTS, "t", broker_id=1)["retention.ms"][0] == "7200000"
    with pytest.raises(ReadOnlyBrokerConfig):
        alter_broker_configs(c.image, 1, {"min.insync.replicas": "1"})
    with pytest.raises(InvalidConfig):
        alter_broker_configs(c.image, 1, {"background.threads": "-1"})
