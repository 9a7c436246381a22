"""Every (API, version) pair ApiVersions advertises, on a real socket to a real node:
the request (encoded by kio, as a client of that version puts it on the wire) is
decoded and answered with a well-formed response of the same version, with no
UNKNOWN_SERVER_ERROR inside. Then what the newer versions add, where a client notices:
KIP-951's leader hints in Produce v10+ (also after a leader change), batched
FindCoordinator (v4+) from kafka-python's admin client and on the wire,
TRANSACTION_ABORTABLE (Produce v11) for a partition the transaction does not hold, and
offsets committed and fetched by topic id (OffsetCommit / OffsetFetch v10).
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import socket
import time

import pytest
from kio.schema.index import api_key_map
from broker_wire import broker_call
from cluster_client import create_topic
from kafka_wire import entity_frame, leader_of, minimal_request, recv_frame, wire_call

from kraft.kafka.connection.apis import SERVED
from kraft.server.local_cluster import LocalCluster
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

pytestmark = pytest.mark.cluster

TOPIC = "every-version"
GROUP = "every-version-group"
NOT_LEADER_OR_FOLLOWER = 6
UNKNOWN_TOPIC_ID = 100
INVALID_REQUEST = 42
CLUSTER_AUTHORIZATION_FAILED = 31
INVALID_TXN_STATE = 48
TRANSACTION_ABORTABLE = 120

PAIRS = [(key, version) for key, api in sorted(SERVED.items())
         for version in range(api.min_version, api.max_version + 1)]


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, TOPIC, 1)
        yield c


def request_module(api_key: int, version: int):
    """kio's module of that request version (its nested entity classes)."""
    from kio.index import load_request_schema
    return importlib.import_module(load_request_schema(api_key, version).__module__)


def one_record(value: bytes) -> bytes:
    # stamped now: a record of 1970 is past retention, and the log may drop it before it is read
    return encode_batch([Record(None, value, (), int(time.time() * 1000))], 0, -1)


def request_for(key: int, version: int, topic_id=None):
    """The emptiest request of that version, with what a few APIs need to say something
    (Produce v13+ names the test topic by its id)."""
    if key == 0:  # Produce: one record to the test topic (sent to its leader)
        m = request_module(0, version)
        named = {"topic_id": topic_id} if version >= 13 else {"name": TOPIC}
        topic = m.TopicProduceData(**named, partition_data=(
            m.PartitionProduceData(index=0, records=one_record(b"v%d" % version)),))
        return minimal_request(0, version, acks=-1, timeout=datetime.timedelta(seconds=10), topic_data=(topic,))
    if key == 10:  # FindCoordinator: a real group (v0-v3 one key, v4+ a batch of one)
        return minimal_request(10, version, key=GROUP, coordinator_keys=(GROUP,)) if version >= 4 else \
            minimal_request(10, version, key=GROUP)
    if key == 17:
        return minimal_request(17, version, mechanism="PLAIN")
    if key == 18 and version >= 3:
        return minimal_request(18, version, client_software_name="every-version", client_software_version="1.0")
    return minimal_request(key, version)


def error_codes_in(entity) -> list[int]:
    """Every error code anywhere in a decoded answer."""
    found = []
    for f in dataclasses.fields(entity):
        value = getattr(entity, f.name)
        if f.name.endswith("error_code") and value is not None:
            found.append(int(getattr(value, "value", value)))
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if dataclasses.is_dataclass(item):
                found.extend(error_codes_in(item))
    return found


@pytest.mark.parametrize("key,version", PAIRS, ids=[f"{api_key_map[k]}-v{v}" for k, v in PAIRS])
def test_every_advertised_version_is_answered_well_formed(cluster, key, version):
    node = leader_of(cluster, TOPIC, 0) if key == 0 else 1
    conf = cluster.config.node(node)
    topic_id = topic_id_of(cluster) if key == 0 and version >= 13 else None
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        s.sendall(entity_frame(request_for(key, version, topic_id), 4242, "every-version"))
        frame = recv_frame(s)
    from kio.index import load_response_schema
    from kio.serial import entity_reader
    cls = load_response_schema(key, version)
    header, head_size = entity_reader(cls.__header_schema__)(frame, 0)
    assert header.correlation_id == 4242
    answer, body_size = entity_reader(cls)(frame, head_size)
    assert head_size + body_size == len(frame), f"{len(frame) - head_size - body_size} bytes after the answer"
    codes = error_codes_in(answer)
    assert -1 not in codes, answer
    if key in (0, 10):  # the produce is stored; the group's coordinator is found
        assert codes and set(codes) == {0}, answer


# -- what the newer versions add ------------------------------------------------------------
def leader_seen_by(c, node: int, topic: str = TOPIC) -> tuple[int, int]:
    """(leader, leader epoch) of partition 0 in `node`'s Metadata answer."""
    import uuid

    from kio.schema.metadata.v12.request import MetadataRequestTopic
    conf = c.config.node(node)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        answer = wire_call(s, minimal_request(3, 12, topics=(MetadataRequestTopic(name=topic, topic_id=uuid.UUID(int=0)),)))
    part = answer.topics[0].partitions[0]
    return int(part.leader_id), int(part.leader_epoch)


def topic_id_of(c, topic: str = TOPIC):
    """The topic's id, as node 1's Metadata answer names it."""
    import uuid

    from kio.schema.metadata.v12.request import MetadataRequestTopic
    conf = c.config.node(1)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        answer = wire_call(s, minimal_request(3, 12, topics=(MetadataRequestTopic(name=topic, topic_id=uuid.UUID(int=0)),)))
    return answer.topics[0].topic_id


def test_produce_v13_names_topics_by_id_and_an_unknown_id_is_refused(cluster):
    """KIP-516: Produce v13 carries topic ids; the answer names the same id, and an id no
    topic has is UNKNOWN_TOPIC_ID with nothing stored."""
    import uuid
    m = request_module(0, 13)
    known = topic_id_of(cluster)
    stranger = uuid.uuid4()
    request = minimal_request(0, 13, acks=-1, timeout=datetime.timedelta(seconds=10), topic_data=tuple(
        m.TopicProduceData(topic_id=tid, partition_data=(m.PartitionProduceData(index=0, records=one_record(v)),))
        for tid, v in ((known, b"by id"), (stranger, b"nowhere"))))
    conf = cluster.config.node(leader_of(cluster, TOPIC, 0))
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        answer = wire_call(s, request)
    by_id = {t.topic_id: t.partition_responses[0] for t in answer.responses}
    assert int(by_id[known].error_code) == 0 and int(by_id[known].base_offset) >= 0, answer
    assert int(by_id[stranger].error_code) == UNKNOWN_TOPIC_ID, answer


def produce_to(c, node: int, version: int, batch: bytes, transactional_id: str | None = None):
    """A Produce of `batch` to partition 0 of the test topic, sent to `node`: its answer."""
    m = request_module(0, version)
    request = minimal_request(0, version, transactional_id=transactional_id, acks=-1,
                              timeout=datetime.timedelta(seconds=10), topic_data=(
                                  m.TopicProduceData(name=TOPIC, partition_data=(
                                      m.PartitionProduceData(index=0, records=batch),)),))
    conf = c.config.node(node)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        return wire_call(s, request)


def assert_leader_hint(c, answer, leader: int, epoch: int) -> None:
    part = answer.responses[0].partition_responses[0]
    assert int(part.error_code.value) == NOT_LEADER_OR_FOLLOWER
    assert (part.current_leader.leader_id, part.current_leader.leader_epoch) == (leader, epoch)
    conf = c.config.node(leader)
    assert [(e.node_id, e.host, e.port) for e in answer.node_endpoints] == [(leader, conf.host, conf.kafka_port)]


def test_produce_v10_to_a_follower_names_the_leader_its_epoch_and_endpoint(cluster):
    leader, epoch = leader_seen_by(cluster, 1)
    follower = next(n for n in cluster.hosts if n != leader)
    assert_leader_hint(cluster, produce_to(cluster, follower, 10, one_record(b"hint")), leader, epoch)
    answer = produce_to(cluster, follower, 9, one_record(b"no hint"))  # v9 has no such fields
    assert int(answer.responses[0].partition_responses[0].error_code.value) == NOT_LEADER_OR_FOLLOWER


def test_a_confluent_kafka_producer_follows_the_leader_hint_of_a_moved_leader(cluster):
    """librdkafka sends Produce v10 and takes a NOT_LEADER_OR_FOLLOWER answer's hint
    straight into its metadata cache (its METADATAUPDATE debug line says so)."""
    import logging
    import re

    from cluster_client import call
    confluent_kafka = pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AdminClient
    topic = create_topic(cluster, "every-version-moved", 1)
    lines: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    log = logging.getLogger("every-version-librdkafka")
    log.addHandler(Lines())
    log.setLevel(logging.DEBUG)
    producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all",
                                         "debug": "metadata", "topic.metadata.refresh.interval.ms": 600000,
                                         "logger": log})
    delivered: list = []
    producer.produce(topic, b"before", partition=0, on_delivery=lambda err, msg: delivered.append(err))
    assert producer.flush(30) == 0 and delivered == [None]
    old_leader, _ = leader_seen_by(cluster, 1, topic)
    new_leader = next(n for n in cluster.hosts if n != old_leader)
    rest = [n for n in cluster.hosts if n != new_leader]
    status, body = call("POST", f"{cluster.v3(1)}/topics/{topic}/partitions/0/reassignment",
                        {"replicas": [new_leader, *rest]})  # only a reorder: done at once
    assert status in (200, 202), body
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    deadline = time.monotonic() + 30
    while leader_seen_by(cluster, old_leader, topic)[0] != new_leader and time.monotonic() < deadline:
        admin.elect_leaders(confluent_kafka.ElectionType.PREFERRED,
                            [confluent_kafka.TopicPartition(topic, 0)]).result(timeout=20)
        time.sleep(0.3)
    leader, epoch = leader_seen_by(cluster, old_leader, topic)
    assert leader == new_leader
    producer.produce(topic, b"after", partition=0, on_delivery=lambda err, msg: delivered.append(err))
    assert producer.flush(30) == 0 and delivered == [None, None]
    hint = re.compile(rf"{re.escape(topic)}\(.*\)\[0\]: updated with leader {leader} and epoch {epoch}")
    assert any(hint.search(line) for line in lines), [line for line in lines if "METADATAUPDATE" in line or
                                                       "updated with leader" in line]


def test_batched_find_coordinator_from_kafka_pythons_admin_client(cluster):
    from kafka.admin import KafkaAdminClient
    from kafka.protocol.metadata import FindCoordinatorRequest
    confluent_kafka = pytest.importorskip("confluent_kafka")
    groups = [f"{GROUP}-{i}" for i in range(4)]
    for group in groups:  # each group exists: it has committed an offset
        consumer = confluent_kafka.Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": group})
        try:
            consumer.commit(offsets=[confluent_kafka.TopicPartition(TOPIC, 0, 1)], asynchronous=False)
        finally:
            consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, request_timeout_ms=20000)
    try:
        described = admin.describe_groups(groups)  # one FindCoordinator for all four groups
        assert admin._manager.broker_version_data.api_version(FindCoordinatorRequest) == 6
    finally:
        admin.close()
    assert sorted(described) == groups
    assert all(d["error"] is None and d["group_state"] == "Empty" for d in described.values()), described


def test_find_coordinator_v6_batch_answers_each_key_and_finds_share_coordinators(cluster):
    conf = cluster.config.node(1)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        single = wire_call(s, minimal_request(10, 3, key=GROUP), 1)
        batch = wire_call(s, minimal_request(10, 6, key_type=0, coordinator_keys=(GROUP, "")), 2)
        txn = wire_call(s, minimal_request(10, 6, key_type=1, coordinator_keys=("every-version-txn",)), 3)
        share_key = f"{GROUP}:{topic_id_of(cluster).hex}:0"  # a share-partition state: group:topic id:partition
        share = minimal_request(10, 6, key_type=2, coordinator_keys=(share_key, ""))
        refused = wire_call(s, share, 4)  # a client's: only the brokers ask for share coordinators
    share = broker_call(cluster, 1, share)
    assert int(single.error_code.value) == 0
    found, empty = batch.coordinators
    assert (found.key, int(found.error_code.value), found.node_id, found.port) == \
        (GROUP, 0, single.node_id, single.port)  # the same coordinator as the one-key version
    assert int(empty.error_code.value) == 24  # INVALID_GROUP_ID: each key is answered on its own
    assert int(txn.coordinators[0].error_code.value) == 0 and txn.coordinators[0].node_id in cluster.hosts
    assert [int(c.error_code.value) for c in refused.coordinators] == [CLUSTER_AUTHORIZATION_FAILED, INVALID_REQUEST]
    assert [int(c.error_code.value) for c in share.coordinators] == [0, INVALID_REQUEST]  # an empty key refused
    assert share.coordinators[0].node_id in cluster.hosts


def begin_transaction(c, tid: str) -> tuple[int, int, int]:
    """(coordinator node, producer id, epoch) of a transactional producer initialised on the wire."""
    conf = c.config.node(1)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        found = wire_call(s, minimal_request(10, 6, key_type=1, coordinator_keys=(tid,)))
    coordinator = found.coordinators[0].node_id
    conf = c.config.node(coordinator)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        init = wire_call(s, minimal_request(22, 5, transactional_id=tid,
                                            transaction_timeout=datetime.timedelta(seconds=60)))
    assert int(init.error_code.value) == 0, init
    return coordinator, int(init.producer_id), int(init.producer_epoch)


def test_produce_v11_to_a_partition_outside_the_transaction_is_transaction_abortable(cluster):
    tid = "every-version-txn-abortable"
    _, pid, epoch = begin_transaction(cluster, tid)
    batch = encode_batch([Record(None, b"not added")], 0, -1, pid, epoch, 0, is_transactional=True)
    leader, _ = leader_seen_by(cluster, 1)
    codes = {version: int(produce_to(cluster, leader, version, batch, tid).responses[0]
                          .partition_responses[0].error_code.value) for version in (10, 11)}
    assert codes == {10: INVALID_TXN_STATE, 11: TRANSACTION_ABORTABLE}


def test_txn_offset_commit_without_add_offsets_is_refused_transaction_abortable_from_v4(cluster):
    tid, group = "every-version-txn-offsets", f"{GROUP}-txn"
    coordinator, pid, epoch = begin_transaction(cluster, tid)

    def txn_commit(version: int) -> int:
        m = request_module(28, version)
        topic = m.TxnOffsetCommitRequestTopic(name=TOPIC, partitions=(m.TxnOffsetCommitRequestPartition(
            partition_index=0, committed_offset=1, committed_leader_epoch=-1, committed_metadata=""),))
        found = wire_call_to(cluster, 1, minimal_request(10, 6, key_type=0, coordinator_keys=(group,)))
        answer = wire_call_to(cluster, found.coordinators[0].node_id, minimal_request(
            28, version, transactional_id=tid, group_id=group, producer_id=pid, producer_epoch=epoch,
            topics=(topic,)))
        return int(answer.topics[0].partitions[0].error_code.value)

    assert (txn_commit(3), txn_commit(4)) == (INVALID_TXN_STATE, TRANSACTION_ABORTABLE)
    added = wire_call_to(cluster, coordinator, minimal_request(25, 4, transactional_id=tid, producer_id=pid,
                                                                producer_epoch=epoch, group_id=group))
    assert int(added.error_code.value) == 0
    assert txn_commit(4) == 0


def wire_call_to(c, node: int, request):
    conf = c.config.node(node)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        return wire_call(s, request)


def test_offsets_committed_and_fetched_by_topic_id_from_v10(cluster):
    import uuid

    from kio.schema.offset_commit.v10 import request as commit10
    from kio.schema.offset_fetch.v9 import request as fetch9
    from kio.schema.offset_fetch.v10 import request as fetch10
    group = f"{GROUP}-by-id"
    topic_id = topic_id_of(cluster)
    unknown = uuid.uuid4()
    conf = cluster.config.node(1)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        coordinator = wire_call(s, minimal_request(10, 6, key_type=0, coordinator_keys=(group,))).coordinators[0]
    conf = cluster.config.node(coordinator.node_id)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
        committed = wire_call(s, commit10.OffsetCommitRequest(
            group_id=group, generation_id_or_member_epoch=-1, member_id="", group_instance_id=None, topics=tuple(
                commit10.OffsetCommitRequestTopic(topic_id=tid, partitions=(commit10.OffsetCommitRequestPartition(
                    partition_index=0, committed_offset=1, committed_leader_epoch=-1, committed_metadata="by id"),))
                for tid in (topic_id, unknown))), 1)
        by_name = wire_call(s, fetch9.OffsetFetchRequest(groups=(fetch9.OffsetFetchRequestGroup(
            group_id=group, topics=(fetch9.OffsetFetchRequestTopics(name=TOPIC, partition_indexes=(0,)),)),)), 2)
        by_id = wire_call(s, fetch10.OffsetFetchRequest(groups=(fetch10.OffsetFetchRequestGroup(
            group_id=group, topics=tuple(fetch10.OffsetFetchRequestTopics(topic_id=tid, partition_indexes=(0,))
                                         for tid in (topic_id, unknown))),)), 3)
        every = wire_call(s, fetch10.OffsetFetchRequest(groups=(fetch10.OffsetFetchRequestGroup(
            group_id=group, topics=None),)), 4)
    assert [(t.topic_id, int(t.partitions[0].error_code.value)) for t in committed.topics] == \
        [(topic_id, 0), (unknown, 100)]  # UNKNOWN_TOPIC_ID
    part = by_name.groups[0].topics[0].partitions[0]
    assert (int(part.committed_offset), part.metadata) == (1, "by id")  # the same offset, by name
    known, missing = by_id.groups[0].topics
    assert (known.topic_id, int(known.partitions[0].committed_offset), known.partitions[0].metadata) == \
        (topic_id, 1, "by id")
    assert (missing.topic_id, int(missing.partitions[0].error_code.value)) == (unknown, 100)
    assert [(t.topic_id, [int(p.committed_offset) for p in t.partitions]) for t in every.groups[0].topics] == \
        [(topic_id, [1])]


def test_after_a_leader_change_a_stale_produce_is_pointed_at_the_new_leader(cluster):
    """Last in the module: it stops the leader (the cluster is closed after it)."""
    old_leader, old_epoch = leader_seen_by(cluster, 1)
    cluster.stop(old_leader)
    witness = next(n for n in cluster.hosts if n != old_leader)
    deadline = time.monotonic() + 30
    while (seen := leader_seen_by(cluster, witness))[0] in (old_leader, -1) and time.monotonic() < deadline:
        time.sleep(0.2)
    new_leader, new_epoch = seen
    assert new_leader not in (old_leader, -1) and new_epoch > old_epoch
    follower = next(n for n in cluster.hosts if n not in (old_leader, new_leader))
    deadline = time.monotonic() + 30  # the follower's metadata catches up with the election
    while leader_seen_by(cluster, follower) != seen and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_leader_hint(cluster, produce_to(cluster, follower, 11, one_record(b"stale")), new_leader, new_epoch)
