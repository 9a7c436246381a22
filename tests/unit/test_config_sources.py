"""Where a config's value comes from (kraft.config.config_sources), as DescribeConfigs and
the REST configs routes show it: a topic config nobody set is Kafka's default, one
cluster.toml set is the file's, a dynamic cluster-wide value and a topic's own value
come before both; synonyms list every place a value is set, first the one that wins."""

from __future__ import annotations

from test_controller_logic import Cluster

from kraft.config.broker_dynamic import broker_configs
from kraft.config.cluster import load_cluster_config
from kraft.config.config_sources import layered, winner
from kraft.controller.config_control import alter_cluster_configs, alter_topic_configs
from kraft.metadata.effective_configs import described_topic_configs


def synonyms(config):
    return [(s.name, s.value, s.source) for s in config.synonyms]


def test_the_first_layer_set_wins_and_every_layer_set_is_a_synonym():
    config = layered("log.retention.ms", default="604800000", static="3600000", cluster="7200000",
                     topic=("retention.ms", "1000"))
    assert (config.value, config.source, config.is_default) == ("1000", "DYNAMIC_TOPIC_CONFIG", False)
    assert synonyms(config) == [("retention.ms", "1000", "DYNAMIC_TOPIC_CONFIG"),
                                ("log.retention.ms", "7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
                                ("log.retention.ms", "3600000", "STATIC_BROKER_CONFIG"),
                                ("log.retention.ms", "604800000", "DEFAULT_CONFIG")]
    unset = layered("broker.rack", default=None)
    assert (unset.value, unset.source, unset.is_default, unset.synonyms) == (None, "DEFAULT_CONFIG", True, ())


def test_the_hot_path_rule_picks_what_the_described_rule_picks():
    for mask in range(32):  # every combination of layers set
        layers = {key: f"v{i}" if mask >> i & 1 else None
                  for i, key in enumerate(("default", "static", "cluster", "broker"))}
        topic = ("retention.ms", "v4") if mask & 16 else None
        described = layered("log.retention.ms", topic=topic, **layers)
        assert winner("log.retention.ms", topic=topic, **layers) == (described.value, described.source), mask


def test_a_topic_config_takes_its_source_from_what_was_actually_set():
    c = Cluster()
    c.create("t", partitions=1, rf=3)
    static = {"retention.ms": "3600000"}  # what cluster.toml's [topic_defaults] set, nothing else
    configs = described_topic_configs(c.image, static, "t")
    assert (configs["retention.bytes"].value, configs["retention.bytes"].source) == ("-1", "DEFAULT_CONFIG")
    assert synonyms(configs["retention.bytes"]) == [("log.retention.bytes", "-1", "DEFAULT_CONFIG")]
    assert (configs["retention.ms"].value, configs["retention.ms"].source) == ("3600000", "STATIC_BROKER_CONFIG")

    c.run(alter_cluster_configs(c.image, static, {"log.retention.ms": "7200000"}))
    c.run(alter_topic_configs(c.image, static, "t", {"retention.bytes": "1000"}))
    configs = described_topic_configs(c.image, static, "t")
    assert (configs["retention.ms"].value, configs["retention.ms"].source) == (
        "7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG")
    assert [s.source for s in configs["retention.ms"].synonyms] == [
        "DYNAMIC_DEFAULT_BROKER_CONFIG", "STATIC_BROKER_CONFIG", "DEFAULT_CONFIG"]
    assert (configs["retention.bytes"].value, configs["retention.bytes"].source) == ("1000", "DYNAMIC_TOPIC_CONFIG")
    assert synonyms(configs["retention.bytes"])[0] == ("retention.bytes", "1000", "DYNAMIC_TOPIC_CONFIG")


def test_an_inherited_min_isr_above_the_replication_factor_is_capped_and_keeps_its_source():
    c = Cluster()
    c.create("one", partitions=1, rf=1)
    config = described_topic_configs(c.image, {"min.insync.replicas": "2"}, "one")["min.insync.replicas"]
    assert (config.value, config.source) == ("1", "STATIC_BROKER_CONFIG")
    assert synonyms(config)[0] == ("min.insync.replicas", "2", "STATIC_BROKER_CONFIG")  # what the file says


NODES = """
[transactions]
"transaction.max.timeout.ms" = 900000

[security]
super_users = ["admin"]
tls_client_auth = "none"
users = [{name = "admin", password = "admin-password"}]

[topic_defaults]
"num.partitions" = 4
"retention.bytes" = -1

[[nodes]]
id = 1
roles = ["controller", "broker"]
host = "127.0.0.5"
bind_host = "0.0.0.0"
http_port = 8081
raft_port = 9091
kafka_port = 19092
rack = "r1"
data_dir = "data/node-1"

[[nodes]]
id = 2
roles = ["broker"]
host = "127.0.0.6"
http_port = 8082
kafka_port = 29092
inter_broker_port = 29094
data_dir = "data/node-2"
"""


def test_a_broker_lists_its_identity_and_the_create_defaults_under_kafkas_names(tmp_path):
    path = tmp_path / "cluster.toml"
    path.write_text(NODES)
    config = load_cluster_config(path)

    def shown(broker_id, name):
        found = broker_configs(config, broker_id, {}, {})[name]
        return found.described.value, found.described.source, found.read_only
    assert shown(1, "listeners") == ("SASL_PLAINTEXT://0.0.0.0:19092", "STATIC_BROKER_CONFIG", True)
    assert shown(1, "advertised.listeners") == ("SASL_PLAINTEXT://127.0.0.5:19092", "STATIC_BROKER_CONFIG", True)
    assert shown(2, "advertised.listeners")[0] == "SASL_PLAINTEXT://127.0.0.6:29092"  # each broker its own
    assert shown(1, "inter.broker.listener.name")[0] == "SASL_PLAINTEXT"  # the clients' listener
    assert shown(2, "listeners")[0] == "SASL_PLAINTEXT://127.0.0.6:29092,BROKER://127.0.0.6:29094"
    assert shown(2, "inter.broker.listener.name")[0] == "BROKER"  # a listener of its own
    assert shown(1, "node.id")[0] == shown(1, "broker.id")[0] == "1"
    assert shown(1, "process.roles")[0] == "broker,controller" and shown(2, "process.roles")[0] == "broker"
    assert shown(2, "log.dirs")[0] == str(tmp_path / "data" / "node-2" / "partitions")
    assert shown(2, "controller.quorum.voters")[0] == "1@127.0.0.5:9091"
    assert shown(1, "broker.rack") == ("r1", "STATIC_BROKER_CONFIG", True)
    assert shown(2, "broker.rack") == (None, "DEFAULT_CONFIG", True)
    assert shown(1, "num.partitions") == ("4", "STATIC_BROKER_CONFIG", True)
    assert shown(1, "default.replication.factor") == ("3", "DEFAULT_CONFIG", True)
    assert shown(1, "log.retention.bytes") == ("-1", "STATIC_BROKER_CONFIG", False)  # set in the file
    assert shown(1, "log.retention.ms")[1] == "DEFAULT_CONFIG"
    assert "replication.factor" not in broker_configs(config, 1, {}, {})
    assert shown(1, "transaction.max.timeout.ms") == ("900000", "STATIC_BROKER_CONFIG", True)  # Kafka's default, set
    assert shown(1, "transaction.state.log.num.partitions") == ("50", "DEFAULT_CONFIG", True)
    assert shown(1, "super.users") == ("User:admin", "STATIC_BROKER_CONFIG", True)
    assert shown(1, "ssl.client.auth") == ("none", "STATIC_BROKER_CONFIG", True)
    assert shown(1, "allow.everyone.if.no.acl.found") == ("false", "DEFAULT_CONFIG", True)
    assert shown(1, "listeners")[0].startswith("SASL_PLAINTEXT://")  # [security] authenticates, no TLS
    listed = broker_configs(config, 1, {}, {})
    assert not any("password" in name for name in listed)  # no secret has an entry
    assert all("admin-password" not in (c.described.value or "") for c in listed.values())
