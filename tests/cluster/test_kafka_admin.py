"""Kafka admin clients against the Kafka listener: kafka-python's KafkaAdminClient and
confluent-kafka's AdminClient create, grow, configure and delete topics, and see the
cluster and its groups; every change is what the REST API then shows."""

from __future__ import annotations

import time

import pytest
from cluster_client import call

pytestmark = pytest.mark.cluster

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra: ./dev test installs it")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import admin as cadmin  # noqa: E402
from kafka import admin as kadmin, errors as kerrors  # noqa: E402


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


@pytest.fixture
def kp_admin(cluster):
    client = kadmin.KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, request_timeout_ms=15000)
    yield client
    client.close()


@pytest.fixture
def ck_admin(cluster):
    return cadmin.AdminClient({"bootstrap.servers": cluster.bootstrap_servers})


def rest_topic(c, name, node=2, until=None, within_s=5.0):
    """REST's view of a topic; with `until`, once it holds: metadata reaches the other
    brokers a heartbeat after the change (as in Kafka), so a test polls for it."""
    deadline = time.monotonic() + within_s
    while True:
        status, body = call("GET", f"{c.v3(node)}/topics/{name}")
        if until is None or until(status, body) or time.monotonic() > deadline:
            return status, body
        time.sleep(0.1)


def gone(status, body) -> bool:
    return status == 404


def rest_partition_count(c, name, expected, node=2):
    status, body = rest_topic(c, name, node, until=lambda s, b: s == 200 and b["partitions_count"] == expected)
    return body.get("partitions_count") if status == 200 else None


def rest_config(c, topic, name, node=3):
    status, body = call("GET", f"{c.v3(node)}/topics/{topic}/configs/{name}")
    assert status == 200, body
    return body["value"]


def done(futures: dict) -> dict:
    return {key: f.result(timeout=30) for key, f in futures.items()}


# -- kafka-python ----------------------------------------------------------------------------
def test_kafka_python_admin_creates_topics_that_rest_then_shows(cluster, kp_admin):
    kp_admin.create_topics([kadmin.NewTopic("kpa-new", 4, 2, topic_configs={"retention.ms": "3600000"})])
    status, body = rest_topic(cluster, "kpa-new")
    assert status == 200, body
    assert body["partitions_count"] == 4 and body["replication_factor"] == 2
    assert rest_config(cluster, "kpa-new", "retention.ms") == "3600000"
    assert "kpa-new" in kp_admin.list_topics()


def test_kafka_python_admin_gets_kafka_errors_for_refused_creates(cluster, kp_admin):
    kp_admin.create_topics([kadmin.NewTopic("kpa-dup", 1, 1)])
    with pytest.raises(kerrors.TopicAlreadyExistsError):
        kp_admin.create_topics([kadmin.NewTopic("kpa-dup", 1, 1)])
    with pytest.raises(kerrors.InvalidReplicationFactorError):
        kp_admin.create_topics([kadmin.NewTopic("kpa-rf9", 1, 9)])
    with pytest.raises(kerrors.InvalidTopicError):
        kp_admin.create_topics([kadmin.NewTopic("no-spaces-allowed!", 1, 1)])
    with pytest.raises(kerrors.InvalidConfigurationError):
        kp_admin.create_topics([kadmin.NewTopic("kpa-badcfg", 1, 1, topic_configs={"retention.ms": "soon"})])
    for refused in ("kpa-rf9", "kpa-badcfg"):
        assert rest_topic(cluster, refused)[0] == 404
    assert not {"kpa-rf9", "no-spaces-allowed!", "kpa-badcfg"} & set(kp_admin.list_topics())


def test_kafka_python_admin_grows_alters_and_deletes(cluster, kp_admin):
    kp_admin.create_topics([kadmin.NewTopic("kpa-life", 2, 3)])
    kp_admin.create_partitions({"kpa-life": kadmin.NewPartitions(5)})
    assert rest_partition_count(cluster, "kpa-life", 5) == 5
    with pytest.raises(kerrors.InvalidPartitionsError):  # a topic never shrinks
        kp_admin.create_partitions({"kpa-life": kadmin.NewPartitions(3)})
    kp_admin.alter_configs([kadmin.ConfigResource(kadmin.ConfigResourceType.TOPIC, "kpa-life",
                                                  configs={"segment.bytes": "1048576"})])
    assert rest_config(cluster, "kpa-life", "segment.bytes") == "1048576"
    kp_admin.delete_topics(["kpa-life"])
    assert rest_topic(cluster, "kpa-life", until=gone)[0] == 404


def test_kafka_python_admin_describes_the_cluster(cluster, kp_admin):
    described = kp_admin.describe_cluster()
    status, body = call("GET", cluster.v3(1))
    assert status == 200, body
    assert described["cluster_id"] == body["cluster_id"]
    assert sorted(b["broker_id"] for b in described["brokers"]) == [1, 2, 3]
    assert described["controller_id"] in (1, 2, 3)
    ports = sorted(b["port"] for b in described["brokers"])
    assert ports == sorted(int(s.rsplit(":", 1)[1]) for s in cluster.bootstrap_servers.split(","))


# -- confluent-kafka -------------------------------------------------------------------------
def test_confluent_admin_lists_topics_and_brokers(cluster, ck_admin):
    """librdkafka's AdminClient sends Metadata v12 with a byte more than that version has,
    which Kafka ignores; it was once answered by closing the connection."""
    done(ck_admin.create_topics([cadmin.NewTopic("cka-listed", 2, 3)]))
    metadata = ck_admin.list_topics(timeout=15)
    assert "cka-listed" in metadata.topics and len(metadata.topics["cka-listed"].partitions) == 2
    assert sorted(metadata.brokers) == [1, 2, 3]


def test_confluent_admin_creates_describes_and_alters_configs_incrementally(cluster, ck_admin):
    done(ck_admin.create_topics([cadmin.NewTopic("cka-cfg", 3, 3, config={"cleanup.policy": "delete"})]))
    resource = cadmin.ConfigResource("topic", "cka-cfg")
    configs = done(ck_admin.describe_configs([resource]))[resource]
    assert configs["cleanup.policy"].value == "delete"
    assert configs["cleanup.policy"].source == cadmin.ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["retention.ms"].source != cadmin.ConfigSource.DYNAMIC_TOPIC_CONFIG.value

    change = cadmin.ConfigResource("topic", "cka-cfg", incremental_configs=[
        cadmin.ConfigEntry("cleanup.policy", "compact", incremental_operation=cadmin.AlterConfigOpType.APPEND),
        cadmin.ConfigEntry("max.message.bytes", "65536", incremental_operation=cadmin.AlterConfigOpType.SET)])
    done(ck_admin.incremental_alter_configs([change]))
    assert set(rest_config(cluster, "cka-cfg", "cleanup.policy").split(",")) == {"delete", "compact"}
    assert rest_config(cluster, "cka-cfg", "max.message.bytes") == "65536"

    reset = cadmin.ConfigResource("topic", "cka-cfg", incremental_configs=[
        cadmin.ConfigEntry("max.message.bytes", None, incremental_operation=cadmin.AlterConfigOpType.DELETE)])
    done(ck_admin.incremental_alter_configs([reset]))
    status, body = call("GET", f"{cluster.v3(1)}/topics/cka-cfg/configs/max.message.bytes")
    assert status == 200 and body["is_default"] is True, body

    bad = cadmin.ConfigResource("topic", "cka-cfg", incremental_configs=[
        cadmin.ConfigEntry("retention.ms", "-7", incremental_operation=cadmin.AlterConfigOpType.SET)])
    with pytest.raises(confluent_kafka.KafkaException) as refused:
        done(ck_admin.incremental_alter_configs([bad]))
    assert refused.value.args[0].code() == confluent_kafka.KafkaError.INVALID_CONFIG


def test_broker_configs_show_cluster_wide_values_and_refuse_changes_to_cluster_toml_settings(cluster, ck_admin):
    status, body = call("PUT", f"{cluster.v3(1)}/broker-configs/log.retention.ms", {"value": "86400000"})
    assert status == 204, body

    broker = cadmin.ConfigResource("broker", "2")
    configs = done(ck_admin.describe_configs([broker]))[broker]
    assert configs["log.retention.ms"].value == "86400000"
    assert configs["log.retention.ms"].source == cadmin.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
    assert configs["auto.create.topics.enable"].is_read_only

    one_broker = cadmin.ConfigResource("broker", "2", incremental_configs=[
        cadmin.ConfigEntry("auto.create.topics.enable", "false", incremental_operation=cadmin.AlterConfigOpType.SET)])
    with pytest.raises(confluent_kafka.KafkaException) as refused:
        done(ck_admin.incremental_alter_configs([one_broker]))
    assert refused.value.args[0].code() == confluent_kafka.KafkaError.INVALID_REQUEST
    assert call("DELETE", f"{cluster.v3(1)}/broker-configs/log.retention.ms")[0] == 204


def test_confluent_admin_grows_and_deletes_topics_and_guards_the_offsets_topic(cluster, ck_admin):
    done(ck_admin.create_topics([cadmin.NewTopic("cka-life", 1, 1)]))
    done(ck_admin.create_partitions([cadmin.NewPartitions("cka-life", 4)]))
    assert rest_partition_count(cluster, "cka-life", 4) == 4
    done(ck_admin.delete_topics(["cka-life"]))
    assert rest_topic(cluster, "cka-life", until=gone)[0] == 404
    with pytest.raises(confluent_kafka.KafkaException):
        done(ck_admin.delete_topics(["__consumer_offsets"]))
    with pytest.raises(confluent_kafka.KafkaException) as missing:
        done(ck_admin.delete_topics(["cka-never-was"]))
    assert missing.value.args[0].code() == confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART


def outcomes(futures: dict) -> dict:
    """Each topic's result: None when it succeeded, else its Kafka error code."""
    out = {}
    for name, future in futures.items():
        try:
            future.result(timeout=60)
            out[name] = None
        except confluent_kafka.KafkaException as exc:
            out[name] = exc.args[0].code()
    return out


def test_one_request_of_many_topics_answers_each_by_its_own_result(cluster, ck_admin):
    """The topics of one request go to the controller together: each still gets its own
    answer, whatever its neighbours' (created, already there, refused), and all are there."""
    done(ck_admin.create_topics([cadmin.NewTopic("cka-many-there", 1, 1)]))
    fresh = [f"cka-many-{i}" for i in range(60)]
    asked = [cadmin.NewTopic(name, 1, 1) for name in fresh[:30]] + [
        cadmin.NewTopic("cka-many-there", 1, 1), cadmin.NewTopic("cka many bad", 1, 1),
        cadmin.NewTopic("cka-many-rf9", 1, 9)] + [cadmin.NewTopic(name, 1, 1) for name in fresh[30:]]
    got = outcomes(ck_admin.create_topics(asked, operation_timeout=60))
    errors = confluent_kafka.KafkaError
    assert got == {**{name: None for name in fresh}, "cka-many-there": errors.TOPIC_ALREADY_EXISTS,
                   "cka many bad": errors.TOPIC_EXCEPTION,
                   "cka-many-rf9": errors.INVALID_REPLICATION_FACTOR}
    listed = set(ck_admin.list_topics(timeout=20).topics)
    assert set(fresh) <= listed and "cka-many-rf9" not in listed
    gone_too = outcomes(ck_admin.delete_topics(fresh + ["cka-many-never-was"], operation_timeout=60))
    assert gone_too == {**{name: None for name in fresh}, "cka-many-never-was": errors.UNKNOWN_TOPIC_OR_PART}
    assert not set(fresh) & set(ck_admin.list_topics(timeout=20).topics)


def test_confluent_admin_lists_and_describes_a_kafka_clients_group(cluster, ck_admin):
    done(ck_admin.create_topics([cadmin.NewTopic("cka-group", 2, 3)]))
    consumer = confluent_kafka.Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "cka-g",
                                         "client.id": "who-am-i", "session.timeout.ms": 6000})
    try:
        consumer.subscribe(["cka-group"])
        deadline = time.monotonic() + 40
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert len(consumer.assignment()) == 2
        listed = ck_admin.list_consumer_groups().result(timeout=30)
        assert "cka-g" in {g.group_id for g in listed.valid}
        described = done(ck_admin.describe_consumer_groups(["cka-g"]))["cka-g"]
        assert described.state == confluent_kafka.ConsumerGroupState.STABLE
        (member,) = described.members
        assert member.client_id == "who-am-i"
        assert sorted(tp.partition for tp in member.assignment.topic_partitions) == [0, 1]
        # the same group through the REST door, while it has its member (an empty group
        # with no committed offsets is dropped at the coordinator's next tick)
        status, body = call("GET", f"{cluster.v3(1)}/consumer-groups/cka-g")
        assert status == 200, body
    finally:
        consumer.close()
