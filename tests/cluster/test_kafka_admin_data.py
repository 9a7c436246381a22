"""The admin APIs about data, from the real clients: DeleteRecords (confluent-kafka's and
kafka-python's admin clients, and REST), ListOffsets' max timestamp, DescribeTopicPartitions
with its cursor, DescribeLogDirs, AlterReplicaLogDirs, and GetTelemetrySubscriptions on the wire. One cluster
with ACLs on: the clients are `admin` (a super user); `nobody` has no ACL at all, `guest`
only DESCRIBE on one topic (so that its client finds the leader and the broker says no)."""

from __future__ import annotations

import base64
import datetime
import time
import uuid

import pytest
from cluster_client import assert_envelope, call
from kafka_wire import kafka_socket, sasl_plain, wire_call

from kraft.server.local_cluster import LocalCluster, http_json, security_toml
from kraft.testing.elections import elect

pytestmark = pytest.mark.cluster

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra: ./dev test installs it")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import KafkaError, TopicPartition  # noqa: E402
from confluent_kafka import admin as cadmin  # noqa: E402
from kafka import admin as kadmin, errors as kerrors  # noqa: E402
from kafka.protocol.consumer.offsets import OffsetSpec as KpOffsetSpec  # noqa: E402
from kafka.structs import TopicPartitionReplica  # noqa: E402

SECURITY = security_toml({"admin": "admin-password", "nobody": "nobody-password", "guest": "guest-password"})
ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
NOBODY_HTTP = {"Authorization": "Basic " + base64.b64encode(b"nobody:nobody-password").decode()}
# what librdkafka's admin client answers while its metadata lags a leader change (or a
# restart: "no leaders found" until the brokers are back in Metadata); it leaves the
# retry to its caller
STALE_METADATA = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                  KafkaError.FENCED_LEADER_EPOCH, KafkaError.UNKNOWN_LEADER_EPOCH, KafkaError._NOENT)
# librdkafka's admin client looks the leader up first; Metadata's UNKNOWN_TOPIC_OR_PARTITION
# leaves it none, which it reports itself as _NOENT ("No leaders found")
NO_SUCH_TOPIC = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._NOENT)
ALL_TOPIC_OPERATIONS = sum(1 << op for op in (3, 4, 5, 6, 7, 8, 10, 11))


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, extra_toml=SECURITY, headers=ADMIN_HTTP) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def ck_conf(c, user: str = "admin") -> dict:
    return {"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": user, "sasl.password": f"{user}-password"}


def kp_conf(c, user: str = "admin") -> dict:
    return dict(bootstrap_servers=c.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-256", sasl_plain_username=user, sasl_plain_password=f"{user}-password")


@pytest.fixture(scope="module")
def ck_admin(cluster):
    return cadmin.AdminClient(ck_conf(cluster))


@pytest.fixture(scope="module")
def kp_admin(cluster):
    client = kadmin.KafkaAdminClient(**kp_conf(cluster), request_timeout_ms=30000)
    yield client
    client.close()


def rest(c, method: str, path: str, body=None, node: int = 1, headers=None):
    """A v3 call as admin, retried while retriable (a leader moving)."""
    return call(method, c.v3(node) + path, body, headers=headers or ADMIN_HTTP)


def create(c, name: str, partitions: int = 1, configs: dict | None = None) -> None:
    doc: dict = {"topic_name": name, "partitions_count": partitions, "replication_factor": 3}
    if configs:
        doc["configs"] = [{"name": k, "value": v} for k, v in configs.items()]
    status, body = rest(c, "POST", "/topics", doc)
    assert status == 201, body

    def everywhere():  # every node serves it, every partition has its full ISR
        for node in (1, 2, 3):
            status, body = http_json("GET", f"{c.v3(node)}/topics/{name}/partitions", headers=ADMIN_HTTP)
            if status != 200 or any(len(p["isr"]) != 3 or p["leader_id"] is None for p in body["data"]):
                return False
        return True
    c.wait_until(everywhere, 30, f"topic {name} on every node with its full ISR")


def produce(c, topic: str, count: int, partition: int = 0, timestamps: list[int] | None = None) -> None:
    producer = confluent_kafka.Producer({**ck_conf(c), "acks": "all", "linger.ms": 5})
    failed: list = []
    for i in range(count):
        extra = {"timestamp": timestamps[i]} if timestamps else {}
        producer.produce(topic, f"v{i}".encode(), partition=partition,
                         on_delivery=lambda err, msg: err and failed.append(err), **extra)
    assert producer.flush(30) == 0 and not failed, failed


def partition_view(c, topic: str, partition: int = 0, node: int = 1) -> dict:
    status, body = rest(c, "GET", f"/topics/{topic}/partitions/{partition}", node=node)
    assert status == 200, body
    return body


def earliest(ck_admin, topic: str, partition: int = 0, c=None) -> int:
    """ListOffsets EARLIEST, retried (bounded: about 45 s) through STALE_METADATA: after
    a leader change or a restart of every node librdkafka's admin client may keep its
    old view for a while; with the cluster given, a new client is made now and then."""
    tp = TopicPartition(topic, partition)
    client, last = ck_admin, None
    for attempt in range(1, 226):
        try:
            return client.list_offsets({tp: cadmin.OffsetSpec.earliest()})[tp].result(30).offset
        except confluent_kafka.KafkaException as exc:
            last = exc.args[0]
            if last.code() not in STALE_METADATA:
                raise
            if c is not None and attempt % 25 == 0:
                client = cadmin.AdminClient(ck_conf(c))
            time.sleep(0.2)
    raise AssertionError(f"no leader answered ListOffsets for {topic}-{partition} (last: {last})")


def offsets_from_the_beginning(c, topic: str, count: int, partition: int = 0) -> list[int]:
    """What a fresh confluent-kafka consumer reads from the beginning: at most `count`."""
    consumer = confluent_kafka.Consumer({**ck_conf(c), "group.id": f"dr-{uuid.uuid4()}",
                                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, partition, confluent_kafka.OFFSET_BEGINNING)])
    got: list[int] = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got.append(msg.offset())
    finally:
        consumer.close()
    return got


def kp_beginning(c, topic: str, partition: int = 0) -> int:
    consumer = kafka.KafkaConsumer(**kp_conf(c), enable_auto_commit=False, request_timeout_ms=30000)
    try:
        tp = kafka.TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        return consumer.position(tp)
    finally:
        consumer.close()


def assert_starts_at(c, ck_admin, topic: str, start: int, end: int) -> None:
    assert earliest(ck_admin, topic, c=c) == start
    assert offsets_from_the_beginning(c, topic, end - start) == list(range(start, end))
    assert kp_beginning(c, topic) == start


def lead_with(c, topic: str, order: list[int]) -> None:
    """Put `order[0]` first among the replicas and ask for a preferred election (Kafka's
    ElectLeaders), rather than waiting for the controller's own move (every few seconds)."""
    status, body = rest(c, "POST", f"/topics/{topic}/partitions/0/reassignment", {"replicas": order})
    assert status in (200, 202), body

    def leading() -> bool:
        if partition_view(c, topic)["leader_id"] == order[0]:
            # and serving: a new leader answers LEADER_NOT_AVAILABLE until its high
            # watermark is established, which kafka-python's DeleteRecords does not retry
            return http_json("GET", f"{c.url(order[0])}/topics/{topic}/partitions/0/offsets",
                             headers=ADMIN_HTTP)[0] == 200
        elect(ck_conf(c), topic, 0, "preferred")  # refused until the new order applies: asked again
        return False
    c.wait_until(leading, 40, f"{order[0]} leading {topic}", interval_s=0.3)


def error_code(future) -> int:
    with pytest.raises(confluent_kafka.KafkaException) as caught:
        future.result(30)
    return caught.value.args[0].code()


# -- DeleteRecords -------------------------------------------------------------------------

def test_delete_records_moves_the_start_on_every_replica_across_leader_changes_and_a_restart(cluster, ck_admin):
    c = cluster
    create(c, "dr-life")
    produce(c, "dr-life", 100)
    tp = TopicPartition("dr-life", 0, 40)
    assert ck_admin.delete_records([tp])[tp].result(30).low_watermark == 40
    assert_starts_at(c, ck_admin, "dr-life", 40, 100)

    replicas = partition_view(c, "dr-life")["replica_ids"]
    leaders = {partition_view(c, "dr-life")["leader_id"]}
    for turn in (1, 2):  # every replica leads once: each answers from its own log start
        order = replicas[turn:] + replicas[:turn]
        lead_with(c, "dr-life", order)
        leaders.add(order[0])
        assert_starts_at(c, ck_admin, "dr-life", 40, 100)
    assert leaders == set(replicas)

    for node in (1, 2, 3):  # kill -9: the start was durable when the client was answered
        c.kill(node)
    c.start().wait_ready(timeout_s=90)
    c.wait_until(lambda: partition_view(c, "dr-life")["leader_id"] is not None, 60, "a leader after the restart")
    assert_starts_at(c, ck_admin, "dr-life", 40, 100)


def test_kafka_python_deletes_to_the_high_watermark_after_a_leader_change(cluster, ck_admin, kp_admin):
    c = cluster
    create(c, "dr-hw")
    produce(c, "dr-hw", 30)
    replicas = partition_view(c, "dr-hw")["replica_ids"]
    lead_with(c, "dr-hw", replicas[1:] + replicas[:1])
    answer = kp_admin.delete_records({kafka.TopicPartition("dr-hw", 0): -1})  # -1: the high watermark
    assert answer[kafka.TopicPartition("dr-hw", 0)]["low_watermark"] == 30
    produce(c, "dr-hw", 5)
    assert_starts_at(c, ck_admin, "dr-hw", 30, 35)


def test_delete_records_refusals_carry_kafkas_error_codes(cluster, ck_admin, kp_admin):
    c = cluster
    create(c, "dr-bad")
    create(c, "dr-compacted", configs={"cleanup.policy": "compact"})
    produce(c, "dr-bad", 10)

    def ck_delete(admin, topic: str, offset: int) -> int:
        tp = TopicPartition(topic, 0, offset)
        return error_code(admin.delete_records([tp])[tp])

    assert ck_delete(ck_admin, "dr-bad", 11) == KafkaError.OFFSET_OUT_OF_RANGE  # past the high watermark
    assert ck_delete(ck_admin, "dr-missing", 1) in NO_SUCH_TOPIC
    with pytest.raises(kerrors.UnknownTopicOrPartitionError):  # from Metadata, before any DeleteRecords
        kp_admin.delete_records({kafka.TopicPartition("dr-missing", 0): 1})
    assert rest(c, "GET", "/topics/dr-missing")[0] == 404  # and no lookup created it
    assert ck_delete(ck_admin, "dr-compacted", 0) == KafkaError.POLICY_VIOLATION
    status, body = rest(c, "POST", "/acls", {"resource_type": "TOPIC", "resource_name": "dr-bad",
                                              "pattern_type": "LITERAL", "principal": "User:guest", "host": "*",
                                              "operation": "DESCRIBE", "permission": "ALLOW"})
    assert status == 201, body
    guest = cadmin.AdminClient(ck_conf(c, "guest"))  # may see the topic, not delete from it
    assert ck_delete(guest, "dr-bad", 5) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    with pytest.raises(kerrors.OffsetOutOfRangeError):
        kp_admin.delete_records({kafka.TopicPartition("dr-bad", 0): 500})
    assert earliest(ck_admin, "dr-bad") == 0  # nothing refused moved anything

    # a topic the cluster does not have, asked of a broker directly (no metadata lookup first)
    from kio.schema.delete_records.v2.request import DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic
    with kafka_socket(c) as s:
        sasl_plain(s, "admin", "admin-password")
        answer = wire_call(s, DeleteRecordsRequest(timeout=_ms(5000), topics=(DeleteRecordsTopic(
            name="dr-nowhere", partitions=(DeleteRecordsPartition(partition_index=0, offset=1),)),)), 3)
    part = answer.topics[0].partitions[0]
    assert int(part.error_code.value) == 3 and part.low_watermark == -1  # UNKNOWN_TOPIC_OR_PARTITION


def _ms(value: int):
    import datetime
    return datetime.timedelta(milliseconds=value)


def test_rest_deletes_records_through_any_node_and_refuses_bad_input(cluster):
    c = cluster
    create(c, "rest-dr")
    create(c, "rest-dr-compacted", configs={"cleanup.policy": "compact"})
    produce(c, "rest-dr", 20)
    leader = partition_view(c, "rest-dr")["leader_id"]
    other = next(n for n in (1, 2, 3) if n != leader)  # forwarded to the leader
    path = "/topics/rest-dr/partitions/0/records:delete"
    status, body = rest(c, "POST", path, {"before_offset": 5}, node=other)
    assert status == 200, body
    assert body["kind"] == "KafkaDeletedRecords" and body["low_watermark"] == 5 and body["partition_id"] == 0
    status, body = rest(c, "POST", path, {"before_offset": -1, "timeout_ms": 10000}, node=leader)
    assert status == 200 and body["low_watermark"] == 20, body
    status, body = http_json("GET", f"{c.url(other)}/topics/rest-dr/partitions/0/offsets", headers=ADMIN_HTTP)
    assert status == 200 and body["beginning_offset"] == 20, body

    for doc, code in (({}, 400), ({"before_offset": "5"}, 400), ({"before_offset": 5, "at": 1}, 400),
                      ({"before_offset": -7}, 42206), ({"before_offset": 1, "timeout_ms": -1}, 42206),
                      ({"before_offset": 21}, 40402)):
        assert_envelope(*rest(c, "POST", path, doc), code=code)
    assert_envelope(*rest(c, "POST", "/topics/rest-nowhere/partitions/0/records:delete", {"before_offset": 1}),
                    code=40401)
    assert_envelope(*rest(c, "POST", "/topics/rest-dr/partitions/7/records:delete", {"before_offset": 1}),
                    code=40402)
    assert_envelope(*rest(c, "POST", "/topics/rest-dr-compacted/partitions/0/records:delete", {"before_offset": 0}),
                    code=42206)
    assert_envelope(*rest(c, "POST", path, {"before_offset": 20}, headers=NOBODY_HTTP), code=40301)


# -- ListOffsets ---------------------------------------------------------------------------

def test_list_offsets_finds_the_record_with_the_largest_timestamp(cluster, ck_admin, kp_admin):
    c = cluster
    create(c, "lo-times")
    produce(c, "lo-times", 5, timestamps=[1_000, 5_000, 3_000, 5_000, 2_000])
    tp = TopicPartition("lo-times", 0)

    def listed(spec, **kwargs):
        return ck_admin.list_offsets({tp: spec}, **kwargs)[tp].result(30)

    top = listed(cadmin.OffsetSpec.max_timestamp())
    assert (top.offset, top.timestamp) == (1, 5_000)  # the first of the two
    assert listed(cadmin.OffsetSpec.earliest()).offset == 0
    assert listed(cadmin.OffsetSpec.latest()).offset == 5
    assert listed(cadmin.OffsetSpec.latest(), isolation_level=confluent_kafka.IsolationLevel.READ_COMMITTED).offset == 5
    assert listed(cadmin.OffsetSpec.for_timestamp(2_500)).offset == 1
    kp_top = kp_admin.list_partition_offsets({kafka.TopicPartition("lo-times", 0): KpOffsetSpec.MAX_TIMESTAMP})
    assert (kp_top[kafka.TopicPartition("lo-times", 0)].offset, kp_top[kafka.TopicPartition("lo-times", 0)].timestamp) \
        == (1, 5_000)

    deleted = TopicPartition("lo-times", 0, 2)  # the first 5,000 goes: the second one is the top now
    assert ck_admin.delete_records([deleted])[deleted].result(30).low_watermark == 2
    top = listed(cadmin.OffsetSpec.max_timestamp())
    assert (top.offset, top.timestamp) == (3, 5_000)
    missing = TopicPartition("lo-nowhere", 0)
    assert error_code(ck_admin.list_offsets({missing: cadmin.OffsetSpec.max_timestamp()})[missing]) in NO_SUCH_TOPIC


def _leader_of(c, topic: str) -> int:
    status, body = rest(c, "GET", f"/topics/{topic}/partitions/0")
    assert status == 200, body
    return body["leader_id"]


def test_list_offsets_v11_has_no_pending_upload_offset_and_v10_does_not_know_the_value(cluster):
    """KIP-1023's -6 (earliest offset not yet in remote storage): nothing is tiered here,
    so v11 answers no offset, as Kafka does without remote storage; a v10 request naming
    it asks for something its version does not have."""
    from kio.schema.list_offsets.v10.request import ListOffsetsPartition as P10, ListOffsetsRequest as R10, \
        ListOffsetsTopic as T10
    from kio.schema.list_offsets.v11.request import ListOffsetsPartition as P11, ListOffsetsRequest as R11, \
        ListOffsetsTopic as T11
    c = cluster
    create(c, "lo-pending")
    produce(c, "lo-pending", 3)
    leader = _leader_of(c, "lo-pending")
    ms = datetime.timedelta(seconds=10)
    with kafka_socket(c, leader) as s:
        sasl_plain(s, "admin", "admin-password")
        new = wire_call(s, R11(replica_id=-1, isolation_level=0, timeout=ms, topics=(T11(name="lo-pending", partitions=(
            P11(partition_index=0, current_leader_epoch=-1, timestamp=-6),
            P11(partition_index=0, current_leader_epoch=-1, timestamp=-1))),)), 3)
        old = wire_call(s, R10(replica_id=-1, isolation_level=0, timeout=ms, topics=(T10(name="lo-pending", partitions=(
            P10(partition_index=0, current_leader_epoch=-1, timestamp=-6),)),)), 4)
    pending, latest = new.topics[0].partitions
    assert (int(pending.error_code.value), int(pending.offset), int(pending.leader_epoch)) == (0, -1, -1)
    assert (int(latest.error_code.value), int(latest.offset)) == (0, 3)
    assert int(old.topics[0].partitions[0].error_code.value) == 35  # UNSUPPORTED_VERSION


def test_metadata_v13_answers_without_a_top_level_error(cluster):
    """KIP-1102's top-level code would tell a client to rebootstrap; it is none here."""
    from kio.schema.metadata.v13.request import MetadataRequest, MetadataRequestTopic
    c = cluster
    create(c, "md-v13")
    with kafka_socket(c) as s:
        sasl_plain(s, "admin", "admin-password")
        answer = wire_call(s, MetadataRequest(topics=(MetadataRequestTopic(topic_id=uuid.UUID(int=0), name="md-v13"),),
                                              allow_auto_topic_creation=False,
                                              include_topic_authorized_operations=False), 3)
    assert int(answer.error_code.value) == 0
    assert sorted(int(b.node_id) for b in answer.brokers) == [1, 2, 3]
    (topic,) = answer.topics
    assert (topic.name, int(topic.error_code.value), len(topic.partitions)) == ("md-v13", 0, 1)


# -- DescribeTopicPartitions -------------------------------------------------------------

def test_describe_topic_partitions_pages_with_its_cursor(cluster, kp_admin, ck_admin):
    c = cluster
    create(c, "dtp-a", partitions=5)
    create(c, "dtp-b", partitions=2)
    seen: list[tuple[str, int, int]] = []
    cursor = None
    for _ in range(5):  # 3 pages expected; bounded
        page = kp_admin.describe_topic_partitions(["dtp-missing", "dtp-b", "dtp-a"], response_partition_limit=3,
                                                  cursor=cursor)
        for topic in page["topics"]:
            if topic["name"] == "dtp-missing":
                seen.append((topic["name"], -1, topic["error_code"]))
                continue
            assert topic["error_code"] == 0 and topic["topic_authorized_operations"] == ALL_TOPIC_OPERATIONS
            for p in topic["partitions"]:
                assert p["error_code"] == 0 and p["leader_id"] in p["replica_nodes"]
                assert sorted(p["isr_nodes"]) == [1, 2, 3] and not p["offline_replicas"]
                assert not p["eligible_leader_replicas"] and not p["last_known_elr"]  # a healthy ISR: empty ELR
                seen.append((topic["name"], p["partition_index"], 0))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [("dtp-a", i, 0) for i in range(5)] + [("dtp-b", 0, 0), ("dtp-b", 1, 0), ("dtp-missing", -1, 3)]

    nobody = kadmin.KafkaAdminClient(**kp_conf(c, "nobody"), request_timeout_ms=30000)
    try:
        page = nobody.describe_topic_partitions(["dtp-a"])
        assert [(t["name"], t["error_code"]) for t in page["topics"]] == [("dtp-a", 29)]  # TOPIC_AUTHORIZATION_FAILED
        assert nobody.describe_topic_partitions([])["topics"] == []  # every topic it may see: none
    finally:
        nobody.close()

    described = ck_admin.describe_topics(confluent_kafka.TopicCollection(["dtp-a"]))["dtp-a"].result(30)
    assert [p.id for p in described.partitions] == list(range(5))


# -- DescribeLogDirs -----------------------------------------------------------------------

def test_describe_log_dirs_shows_each_brokers_partitions(cluster, kp_admin):
    c = cluster
    create(c, "ld-sizes", partitions=2)
    produce(c, "ld-sizes", 20, partition=0)
    produce(c, "ld-sizes", 3, partition=1)

    def sizes():
        out = {}
        for broker in kp_admin.describe_log_dirs(topic_partitions={"ld-sizes": [0, 1]}):
            (log_dir,) = broker["log_dirs"]
            assert log_dir["error_code"] == 0 and log_dir["log_dir"].endswith("partitions")
            assert log_dir["total_bytes"] >= log_dir["usable_bytes"] > 0
            assert [t["name"] for t in log_dir["topics"]] == ["ld-sizes"]
            for p in log_dir["topics"][0]["partitions"]:
                assert not p["is_future_key"] and p["offset_lag"] >= 0
                out[(broker["broker"], p["partition_index"])] = (p["partition_size"], p["offset_lag"])
        return out
    # every broker holds both partitions; once replication has caught up, the same bytes each
    got = c.wait_until(lambda: (s := sizes()) and len(set(v for k, v in s.items() if k[1] == 0)) == 1 and s, 30,
                       "replicas of equal size")
    assert len(got) == 6
    assert all(size > 0 and lag == 0 for size, lag in got.values())
    assert got[(1, 0)][0] > got[(1, 1)][0]  # 20 records take more room than 3

    every = kp_admin.describe_log_dirs(brokers=[1])
    assert "ld-sizes" in [t["name"] for t in every[0]["log_dirs"][0]["topics"]]
    nobody = kadmin.KafkaAdminClient(**kp_conf(c, "nobody"), request_timeout_ms=30000)
    try:
        denied = nobody.describe_log_dirs(topic_partitions={"ld-sizes": [0]}, brokers=[1])
    finally:
        nobody.close()
    assert denied == [{"broker": 1, "log_dirs": []}]


def test_alter_replica_log_dirs_takes_the_one_move_a_single_log_dir_allows(cluster, kp_admin):
    create(cluster, "ld-move")

    def hosted_on_2():  # a new topic's ISR is all its replicas at once; broker 2 opens its own a moment later
        [broker] = kp_admin.describe_log_dirs(brokers=[2])
        (log_dir,) = broker["log_dirs"]
        return "ld-move" in [t["name"] for t in log_dir["topics"]] and log_dir
    log_dir = cluster.wait_until(hosted_on_2, 30, "broker 2 hosting its replica of ld-move")
    here = TopicPartitionReplica("ld-move", 0, 2)
    # to the dir it is in: nothing to move (what kafka-python's own test asks)
    assert kp_admin.alter_replica_log_dirs({here: log_dir["log_dir"]}) == {here: kerrors.NoError}
    elsewhere = kp_admin.alter_replica_log_dirs({here: "/no/such/dir"})
    assert elsewhere == {here: kerrors.LogDirNotFoundError}
    missing = TopicPartitionReplica("ld-move", 7, 2)  # no such partition: no replica here
    assert kp_admin.alter_replica_log_dirs({missing: log_dir["log_dir"]}) == {missing: kerrors.ReplicaNotAvailableError}
    nobody = kadmin.KafkaAdminClient(**kp_conf(cluster, "nobody"), request_timeout_ms=30000)
    try:  # ALTER on the cluster, as Kafka asks
        denied = nobody.alter_replica_log_dirs({here: log_dir["log_dir"]})
    finally:
        nobody.close()
    assert denied == {here: kerrors.ClusterAuthorizationFailedError}


# -- GetTelemetrySubscriptions and ApiVersions --------------------------------------------------

def test_an_empty_telemetry_subscription_and_the_advertised_versions(cluster):
    from kio.schema.api_versions.v3.request import ApiVersionsRequest
    from kio.schema.get_telemetry_subscriptions.v0.request import GetTelemetrySubscriptionsRequest
    with kafka_socket(cluster) as s:
        versions = wire_call(s, ApiVersionsRequest(client_software_name="wire", client_software_version="1"))
        served = {int(a.api_key): (int(a.min_version), int(a.max_version)) for a in versions.api_keys}
        assert served[2] == (1, 11) and served[21] == (0, 2) and served[34] == (1, 2) and served[35] == (1, 5)
        assert served[71] == (0, 0) and served[75] == (0, 0) and 72 not in served  # no PushTelemetry
        sasl_plain(s, "admin", "admin-password")
        first = wire_call(s, GetTelemetrySubscriptionsRequest(client_instance_id=uuid.UUID(int=0)), 3)
        assert int(first.error_code.value) == 0 and first.client_instance_id.int != 0
        assert first.requested_metrics == () and first.push_interval.total_seconds() > 0
        again = wire_call(s, GetTelemetrySubscriptionsRequest(client_instance_id=first.client_instance_id), 4)
        assert again.client_instance_id == first.client_instance_id and again.requested_metrics == ()
