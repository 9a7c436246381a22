"""Per-broker dynamic configs (Kafka's DYNAMIC_BROKER_CONFIG) through both doors:
confluent-kafka's AdminClient (IncrementalAlterConfigs, AlterConfigs, DescribeConfigs on
the resource BROKER "<id>") and the REST routes `/v3/clusters/{cid}/brokers/{b}/configs`.
Stored in the metadata log; a broker's own value wins over the cluster-wide one, which
wins over cluster.toml's; a topic default set for one broker applies to that broker's
logs only. DescribeConfigs answers Kafka's sources and synonyms (a topic config nobody set
is DEFAULT_CONFIG, one cluster.toml set STATIC_BROKER_CONFIG) and a broker's identity
settings (listeners, node.id, log.dirs, ...) to confluent-kafka and kafka-python alike,
and the REST configs routes the same. Nodes in this process (InProcessCluster)."""

from __future__ import annotations

import base64

import pytest
from cluster_client import call, create_topic
from inproc_cluster import InProcessCluster
from kafka_wire import kafka_socket, wire_call
from kio.schema.incremental_alter_configs.v1.request import (
    AlterableConfig,
    AlterConfigsResource,
    IncrementalAlterConfigsRequest,
)
from kio.schema.describe_configs.v4.request import DescribeConfigsRequest, DescribeConfigsResource
from kio.static.primitive import i8

from kraft.server.local_cluster import default_first_address, http_json, security_toml

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra: ./dev test installs it")
from kafka import admin as kadmin  # noqa: E402

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka.admin import (  # noqa: E402
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourceType,
)

SET, DELETE, APPEND, SUBTRACT = (AlterConfigOpType.SET, AlterConfigOpType.DELETE, AlterConfigOpType.APPEND,
                                 AlterConfigOpType.SUBTRACT)
DYNAMIC_BROKER = ConfigSource.DYNAMIC_BROKER_CONFIG.value
DYNAMIC_DEFAULT = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
DEFAULT = ConfigSource.DEFAULT_CONFIG.value


@pytest.fixture(scope="module")
def cluster():
    # cluster.toml sets one topic default (STATIC_BROKER_CONFIG); every other is Kafka's
    with InProcessCluster(nodes=3, topic_defaults={"delete.retention.ms": 3600000}) as c:
        c.start().wait_ready(timeout_s=40)
        yield c


@pytest.fixture
def admin(cluster):
    return AdminClient({"bootstrap.servers": cluster.bootstrap_servers})


def alter(admin, broker: str, *changes: tuple[str, str | None, AlterConfigOpType]) -> None:
    resource = ConfigResource(ResourceType.BROKER, broker, incremental_configs=[
        ConfigEntry(name, value, incremental_operation=op) for name, value, op in changes])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=20)


def refused(admin, broker: str, name: str, value: str) -> int:
    """The error code IncrementalAlterConfigs answers for this one SET."""
    with pytest.raises(confluent_kafka.KafkaException) as caught:
        alter(admin, broker, (name, value, SET))
    return caught.value.args[0].code()


def described(admin, broker: str) -> dict:
    [future] = admin.describe_configs([ConfigResource(ResourceType.BROKER, broker)]).values()
    return {name: (entry.value, entry.source) for name, entry in future.result(timeout=20).items()}


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated")
def test_configs_set_for_one_broker_show_on_that_broker_only(cluster, admin):
    # librdkafka's 0081 admin test sets these (and APPENDs then SUBTRACTs a list config)
    alter(admin, "1", ("sasl.kerberos.min.time.before.relogin", "58000", SET),
          ("background.threads", "9", SET), ("log.cleanup.policy", "compact", APPEND))
    one, two = described(admin, "1"), described(admin, "2")
    assert one["sasl.kerberos.min.time.before.relogin"] == ("58000", DYNAMIC_BROKER)
    assert one["background.threads"] == ("9", DYNAMIC_BROKER)
    assert one["log.cleanup.policy"] == ("compact,delete", DYNAMIC_BROKER)
    assert two["background.threads"] == ("10", DEFAULT) and two["log.cleanup.policy"][0] == "delete"
    status, body = call("GET", cluster.v3(3) + "/brokers/1/configs/background.threads")
    assert status == 200 and (body["value"], body["source"], body["is_read_only"]) == (
        "9", "DYNAMIC_BROKER_CONFIG", False), body

    alter(admin, "1", ("background.threads", "", DELETE), ("log.cleanup.policy", "compact", SUBTRACT))
    one = described(admin, "1")
    assert one["background.threads"] == ("10", DEFAULT)
    assert one["log.cleanup.policy"] == ("delete", DYNAMIC_BROKER)
    # the legacy AlterConfigs replaces the broker's whole dynamic set: what it leaves out goes
    [future] = admin.alter_configs([ConfigResource(ResourceType.BROKER, "1", set_config={
        "sasl.kerberos.min.time.before.relogin": "61000"})]).values()
    future.result(timeout=20)
    one = described(admin, "1")
    assert one["sasl.kerberos.min.time.before.relogin"] == ("61000", DYNAMIC_BROKER)
    assert one["log.cleanup.policy"][1] != DYNAMIC_BROKER
    assert call("DELETE", cluster.v3(1) + "/brokers/1/configs/sasl.kerberos.min.time.before.relogin")[0] == 204
    assert described(admin, "1")["sasl.kerberos.min.time.before.relogin"] == ("60000", DEFAULT)


def test_a_brokers_own_value_wins_over_the_cluster_wide_one(cluster, admin):
    assert call("PUT", cluster.v3(1) + "/broker-configs/log.retention.ms", {"value": "7200000"})[0] == 204
    status, body = call("PUT", cluster.v3(2) + "/brokers/2/configs/log.retention.ms", {"value": "3600000"})
    assert status == 204, body
    try:
        assert described(admin, "2")["log.retention.ms"] == ("3600000", DYNAMIC_BROKER)
        assert described(admin, "3")["log.retention.ms"] == ("7200000", DYNAMIC_DEFAULT)
        status, body = call("GET", cluster.v3(1) + "/brokers/3/configs/log.retention.ms")
        assert (body["value"], body["source"]) == ("7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"), body
        status, body = call("POST", cluster.v3(3) + "/brokers/2/configs:alter",
                            {"data": [{"name": "log.retention.ms", "operation": "DELETE"}]})
        assert status == 204, body
        assert described(admin, "2")["log.retention.ms"] == ("7200000", DYNAMIC_DEFAULT)
    finally:
        call("DELETE", cluster.v3(1) + "/broker-configs/log.retention.ms")


def leaders(admin, topic: str) -> dict[int, int]:
    """partition -> its leader's broker id"""
    metadata = admin.list_topics(topic, timeout=20).topics[topic]
    return {p.id: p.leader for p in metadata.partitions.values()}


def test_a_topic_default_set_for_one_broker_applies_to_its_own_logs_only(cluster, admin):
    topic = create_topic(cluster, "per-broker-max-bytes", 3)
    by_partition = leaders(admin, topic)
    small_partition = next(p for p, leader in by_partition.items() if leader == 1)
    other_partition = next(p for p, leader in by_partition.items() if leader != 1)
    alter(admin, "1", ("message.max.bytes", "2000", SET))
    try:
        outcomes: dict[int, object] = {}
        producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all",
                                             "linger.ms": 0})
        for partition in (small_partition, other_partition):
            producer.produce(topic, value=b"x" * 10_000, partition=partition,
                             on_delivery=lambda err, msg, p=partition: outcomes.__setitem__(p, err))
        assert producer.flush(30) == 0
        # broker 1 leads the first: its own limit refuses the batch; the second's leader
        # takes it and broker 1, its follower, copies it (followers check no limit, as in Kafka)
        assert outcomes[small_partition] is not None
        assert outcomes[small_partition].code() == confluent_kafka.KafkaError.MSG_SIZE_TOO_LARGE
        assert outcomes[other_partition] is None
    finally:
        alter(admin, "1", ("message.max.bytes", "", DELETE))


def test_bad_changes_get_kafkas_codes_and_rest_errors(cluster, admin):
    codes = confluent_kafka.KafkaError
    assert refused(admin, "1", "background.threads", "0") == codes.INVALID_CONFIG
    assert refused(admin, "1", "log.retention.ms", "soon") == codes.INVALID_CONFIG
    assert refused(admin, "1", "no.such.config", "1") == codes.INVALID_CONFIG
    assert refused(admin, "1", "auto.create.topics.enable", "false") == codes.INVALID_REQUEST  # cluster.toml's
    # read by the controller for all of a partition's replicas: cluster-wide or per topic only
    assert refused(admin, "1", "min.insync.replicas", "1") == codes.INVALID_REQUEST
    # no such broker: a client sends a broker's resource to that broker, so only the raw wire asks this
    with kafka_socket(cluster, 2) as s:
        answer = wire_call(s, IncrementalAlterConfigsRequest(validate_only=False, resources=(AlterConfigsResource(
            resource_type=i8(4), resource_name="99", configs=(
                AlterableConfig(name="background.threads", config_operation=i8(0), value="9"),)),)))
    [resource] = answer.responses
    assert int(resource.error_code.value) == codes.INVALID_REQUEST, resource
    with pytest.raises(confluent_kafka.KafkaException) as caught:
        alter(admin, "1", ("background.threads", "4", APPEND))  # not a list config
    assert caught.value.args[0].code() == codes.INVALID_CONFIG
    for path, body, expected in (
            ("/brokers/1/configs/background.threads", {"value": "0"}, 42206),
            ("/brokers/1/configs/auto.create.topics.enable", {"value": "false"}, 42206),
            ("/brokers/1/configs/min.insync.replicas", {"value": "1"}, 42206),
            ("/brokers/99/configs/background.threads", {"value": "9"}, 404)):
        status, answer = call("PUT", cluster.v3(2) + path, body)
        assert (status if expected == 404 else answer.get("error_code")) == expected, (path, status, answer)
        assert "Traceback" not in str(answer) and "/kraft/" not in str(answer)
    # nothing of the refused changes was stored
    one = described(admin, "1")
    assert one["background.threads"] == ("10", DEFAULT) and one["min.insync.replicas"][1] != DYNAMIC_BROKER


# -- where each value comes from, on every client and REST ------------------------------------
TOPIC_CONFIG, STATIC = ConfigSource.DYNAMIC_TOPIC_CONFIG.value, ConfigSource.STATIC_BROKER_CONFIG.value


def rest_config(cluster, path: str) -> dict:
    status, body = call("GET", cluster.v3(3) + path)
    assert status == 200, body
    return body


def test_topic_configs_say_where_each_value_comes_from_with_kafkas_synonyms(cluster, admin):
    topic = create_topic(cluster, "config-sources", 1, configs={"max.message.bytes": 65536})
    assert call("PUT", cluster.v3(1) + "/broker-configs/log.retention.ms", {"value": "7200000"})[0] == 204
    try:
        resource = ConfigResource(ResourceType.TOPIC, topic)
        [future] = admin.describe_configs([resource]).values()  # librdkafka asks for synonyms
        configs = future.result(timeout=20)
        sources = {name: (configs[name].value, configs[name].source) for name in
                   ("retention.bytes", "delete.retention.ms", "retention.ms", "max.message.bytes")}
        assert sources == {"retention.bytes": ("-1", DEFAULT),  # nobody set it
                           "delete.retention.ms": ("3600000", STATIC),  # cluster.toml
                           "retention.ms": ("7200000", DYNAMIC_DEFAULT),  # cluster-wide, dynamic
                           "max.message.bytes": ("65536", TOPIC_CONFIG)}  # the topic's own
        assert configs["retention.bytes"].is_default and not configs["delete.retention.ms"].is_default
        synonyms = {(s.name, s.value, s.source) for s in configs["max.message.bytes"].synonyms.values()}
        assert ("max.message.bytes", "65536", TOPIC_CONFIG) in synonyms
        assert ("message.max.bytes", "1048576", DEFAULT) in synonyms

        kp = kadmin.KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, request_timeout_ms=15000)
        try:
            plain = kp.describe_configs([kadmin.ConfigResource(kadmin.ConfigResourceType.TOPIC, topic)],
                                        config_filter="all")["topic"][topic]
            with_synonyms = kp.describe_configs([kadmin.ConfigResource(kadmin.ConfigResourceType.TOPIC, topic)],
                                                include_synonyms=True, config_filter="all")["topic"][topic]
        finally:
            kp.close()
        assert plain["retention.bytes"]["config_source"] == "DEFAULT_CONFIG"
        assert plain["retention.bytes"]["synonyms"] == []  # not asked for
        assert plain["delete.retention.ms"]["config_source"] == "STATIC_BROKER_CONFIG"
        assert [(s["name"], s["value"], s["source"]) for s in with_synonyms["retention.ms"]["synonyms"]] == [
            ("log.retention.ms", "7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
            ("log.retention.ms", "604800000", "DEFAULT_CONFIG")]

        rest = rest_config(cluster, f"/topics/{topic}/configs/delete.retention.ms")
        assert (rest["value"], rest["source"], rest["is_default"]) == ("3600000", "STATIC_BROKER_CONFIG", False)
        assert rest["synonyms"] == [
            {"name": "log.cleaner.delete.retention.ms", "value": "3600000", "source": "STATIC_BROKER_CONFIG"},
            {"name": "log.cleaner.delete.retention.ms", "value": "86400000", "source": "DEFAULT_CONFIG"}]
        rest = rest_config(cluster, f"/topics/{topic}/configs/retention.bytes")
        assert (rest["source"], rest["is_default"]) == ("DEFAULT_CONFIG", True)
    finally:
        call("DELETE", cluster.v3(1) + "/broker-configs/log.retention.ms")


def test_a_broker_lists_its_listeners_and_identity_as_kafka_does(cluster, admin):
    node = cluster.config.node(2)
    [future] = admin.describe_configs([ConfigResource(ResourceType.BROKER, "2")]).values()
    configs = future.result(timeout=20)
    expected = {"advertised.listeners": f"PLAINTEXT://{node.kafka_address}", "node.id": "2", "broker.id": "2",
                "process.roles": "broker,controller", "log.dirs": str(node.data_path / "partitions"),
                "num.partitions": "3", "default.replication.factor": "3"}
    assert {name: configs[name].value for name in expected} == expected
    for name in expected:  # cluster.toml's: read only
        assert configs[name].is_read_only and not configs[name].is_sensitive, name
    assert configs["advertised.listeners"].source == STATIC
    assert configs["num.partitions"].source == DEFAULT  # the file leaves it out
    assert (configs["broker.rack"].value, configs["broker.rack"].source) == (None, DEFAULT)
    assert configs["controller.quorum.voters"].value.split(",")[1] == f"2@{node.raft_address}"

    kp = kadmin.KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, request_timeout_ms=15000)
    try:
        found = kp.describe_configs([kadmin.ConfigResource(kadmin.ConfigResourceType.BROKER, 2)],
                                    config_filter="all")["broker"]["2"]
    finally:
        kp.close()
    listeners = found["advertised.listeners"]
    assert (listeners["value"], listeners["config_source"], listeners["read_only"], listeners["is_sensitive"],
            listeners["config_type"]) == (expected["advertised.listeners"], "STATIC_BROKER_CONFIG", True, False,
                                          "STRING")

    rest = rest_config(cluster, "/brokers/2/configs/advertised.listeners")
    assert (rest["value"], rest["source"], rest["is_read_only"]) == (
        expected["advertised.listeners"], "STATIC_BROKER_CONFIG", True)
    assert rest["synonyms"] == [{"name": "advertised.listeners", "value": expected["advertised.listeners"],
                                 "source": "STATIC_BROKER_CONFIG"}]


def test_documentation_comes_only_when_asked_for(cluster):
    with kafka_socket(cluster, 1) as s:
        for asked in (False, True):
            answer = wire_call(s, DescribeConfigsRequest(include_synonyms=False, include_documentation=asked, resources=(
                DescribeConfigsResource(resource_type=i8(4), resource_name="1", configuration_keys=("log.retention.ms",)),)))
            [entry] = answer.results[0].configs
            assert (entry.name, entry.documentation is not None) == ("log.retention.ms", asked)


# -- ACLs: a broker's configs are the cluster's, on both doors (as Kafka checks them) -------
USERS = {"admin": "admin-password", "alice": "alice-password"}
ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
ALICE_HTTP = {"Authorization": "Basic " + base64.b64encode(b"alice:alice-password").decode()}


@pytest.fixture(scope="module")
def secured():
    # beside the module's other cluster: three addresses further on
    with InProcessCluster(nodes=3, extra_toml=security_toml(USERS), headers=ADMIN_HTTP,
                          first_address=default_first_address() + 3) as c:
        c.start().wait_ready(timeout_s=40)
        yield c


def grant_on_cluster(c, operation: str) -> None:
    acl = {"resource_type": "CLUSTER", "resource_name": "kafka-cluster", "pattern_type": "LITERAL",
           "principal": "User:alice", "host": "*", "operation": operation, "permission": "ALLOW"}
    status, body = http_json("POST", c.v3(1) + "/acls", acl, headers=ADMIN_HTTP)
    assert status == 201, body


def test_describing_and_changing_a_brokers_configs_need_the_clusters_acls(secured):
    alice = AdminClient({"bootstrap.servers": secured.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "alice",
                         "sasl.password": "alice-password"})
    codes = confluent_kafka.KafkaError
    with pytest.raises(confluent_kafka.KafkaException) as denied:
        described(alice, "1")
    assert denied.value.args[0].code() == codes.CLUSTER_AUTHORIZATION_FAILED
    put = ("PUT", secured.v3(2) + "/brokers/1/configs/background.threads", {"value": "9"})
    assert http_json(*put, headers=ALICE_HTTP)[0] == 403
    grant_on_cluster(secured, "DESCRIBE_CONFIGS")
    assert described(alice, "1")["background.threads"] == ("10", DEFAULT)
    assert described(alice, "1")["advertised.listeners"][0].startswith("SASL_PLAINTEXT://")  # SASL, no TLS
    assert refused(alice, "1", "background.threads", "9") == codes.CLUSTER_AUTHORIZATION_FAILED
    assert http_json(*put, headers=ALICE_HTTP)[0] == 403
    grant_on_cluster(secured, "ALTER_CONFIGS")
    alter(alice, "1", ("background.threads", "9", SET))
    assert http_json(*put[:2], {"value": "11"}, headers=ALICE_HTTP)[0] == 204
    assert described(alice, "1")["background.threads"] == ("11", DYNAMIC_BROKER)
