"""The brokers' own requests on an open cluster (no [security] section, where every client
may do anything else): WriteTxnMarkers, the share coordinator's requests (FindCoordinator
key type 2, Initialize/Read/Write/Delete ShareGroupState, ReadShareGroupStateSummary),
AddPartitionsToTxn's batched form (v4+) and a Fetch naming a replica id, down to Fetch
v4. A plain client gets CLUSTER_AUTHORIZATION_FAILED (a replica fetch: TOPIC_AUTHORIZATION_FAILED
per partition, as Kafka answers it) and changes nothing; a connection logged in with the
brokers' own credential (kraft's broker client, as the nodes use it) is served."""

from __future__ import annotations

import datetime
import importlib
import time
import uuid

import pytest
from broker_wire import broker_call
from cluster_client import create_topic
from cluster_sharing import module_log
from kafka_wire import kafka_socket, leader_of, minimal_request, wire_call
from share_clients import BOUND_S, new_name, produce, share_group, topic_id
from test_share_admin import accept_some

from kraft.storage.record import Record
from kraft.storage.record_batch import decode_records, encode_batch, iter_batches

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")

NONE, TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED = 0, 29, 31
RETRIABLE = {14, 15, 16, 51}  # loading, not available, not coordinator, concurrent transactions
NOT_A_REPLICA = 99  # a broker id no partition has: the leader's view of its real followers is left alone


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def schema(api_key: int, version: int):
    from kio.index import load_request_schema
    return importlib.import_module(load_request_schema(api_key, version).__module__)


def plain(c, node: int, request):
    """One request from a client on an open cluster: no login at all."""
    with kafka_socket(c, node) as s:
        return wire_call(s, request)


def retried(attempt, code_of):
    """attempt() until its answer's code is not a retriable one (a coordinator loading)."""
    deadline = time.monotonic() + BOUND_S
    while True:
        answer = attempt()
        if code_of(answer) not in RETRIABLE or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def marker_codes(answer) -> list[int]:
    return [int(p.error_code) for marker in answer.markers for t in marker.topics for p in t.partitions]


def share_state_codes(answer) -> list[int]:
    return [int(p.error_code) for topic in answer.results for p in topic.partitions]


# -- WriteTxnMarkers -----------------------------------------------------------------------------
def open_transaction(c, tid: str, topic: str, value: bytes) -> tuple[int, int, int]:
    """(coordinator, producer id, epoch) of a transaction holding one record of `topic`-0, left open."""
    def find():
        return plain(c, 1, minimal_request(10, 6, key_type=1, coordinator_keys=(tid,))).coordinators[0]
    coordinator = retried(find, lambda f: int(f.error_code)).node_id
    init = retried(lambda: plain(c, coordinator, minimal_request(
        22, 4, transactional_id=tid, transaction_timeout=datetime.timedelta(seconds=60))), lambda a: int(a.error_code))
    assert int(init.error_code) == NONE, init
    pid, epoch = int(init.producer_id), int(init.producer_epoch)
    add = schema(24, 3)
    added = retried(lambda: plain(c, coordinator, add.AddPartitionsToTxnRequest(
        v3_and_below_transactional_id=tid, v3_and_below_producer_id=pid, v3_and_below_producer_epoch=epoch,
        v3_and_below_topics=(add.AddPartitionsToTxnTopic(name=topic, partitions=(0,)),))),
        lambda a: int(a.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code))
    assert int(added.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code) == NONE
    m = schema(0, 9)
    batch = encode_batch([Record(None, value, (), int(time.time() * 1000))], 0, -1, pid, epoch, 0, is_transactional=True)
    produced = plain(c, leader_of(c, topic, 0), m.ProduceRequest(
        transactional_id=tid, acks=-1, timeout=datetime.timedelta(seconds=10), topic_data=(m.TopicProduceData(
            name=topic, partition_data=(m.PartitionProduceData(index=0, records=batch),)),)))
    assert int(produced.responses[0].partition_responses[0].error_code) == NONE
    return coordinator, pid, epoch


def read_committed_until(c, topic: str, last: bytes) -> list[bytes]:
    """What a read_committed consumer reads of `topic`-0 from the start, up to `last`."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": f"{topic}-reader",
                                         "isolation.level": "read_committed", "enable.auto.commit": False})
    consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + BOUND_S
    try:
        while last not in values and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                values.append(message.value())
    finally:
        consumer.close()
    return values


def test_a_clients_commit_marker_is_refused_and_the_aborted_transaction_stays_hidden(cluster):
    topic, tid = "broker-only-markers", "broker-only-markers-txn"
    create_topic(cluster, topic, partitions=1)
    coordinator, pid, epoch = open_transaction(cluster, tid, topic, b"aborted")
    m = schema(27, 1)
    commit = m.WriteTxnMarkersRequest(markers=(m.WritableTxnMarker(
        producer_id=pid, producer_epoch=epoch, transaction_result=True, coordinator_epoch=0,
        topics=(m.WritableTxnMarkerTopic(name=topic, partition_indexes=(0,)),)),))
    leader = leader_of(cluster, topic, 0)
    with kafka_socket(cluster, leader) as s:  # a flood on one connection is logged once
        assert [marker_codes(wire_call(s, commit, n)) for n in (1, 2, 3)] == [[CLUSTER_AUTHORIZATION_FAILED]] * 3
    ended = plain(cluster, coordinator, minimal_request(26, 3, transactional_id=tid, producer_id=pid,
                                                        producer_epoch=epoch, committed=False))
    assert int(ended.error_code) == NONE
    producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers})
    producer.produce(topic, b"after", partition=0)
    assert producer.flush(30) == 0
    assert read_committed_until(cluster, topic, b"after") == [b"after"]
    assert module_log(cluster, leader).count("refused API 27 ") == 1


# -- the share coordinator's requests ------------------------------------------------------------
def share_state_requests(group: str, tid: uuid.UUID) -> list:
    """One request of each share-state API for partition 0 of topic `tid`, each able to
    change or reveal the state (a write to start over at offset 0, a delete)."""
    init, read, write, delete, summary = (schema(k, 0) for k in (83, 84, 85, 86, 87))
    return [
        init.InitializeShareGroupStateRequest(group_id=group, topics=(init.InitializeStateData(
            topic_id=tid, partitions=(init.PartitionData(partition=0, state_epoch=9, start_offset=0),)),)),
        read.ReadShareGroupStateRequest(group_id=group, topics=(read.ReadStateData(
            topic_id=tid, partitions=(read.PartitionData(partition=0, leader_epoch=99),)),)),
        write.WriteShareGroupStateRequest(group_id=group, topics=(write.WriteStateData(
            topic_id=tid, partitions=(write.PartitionData(partition=0, state_epoch=9, leader_epoch=99, start_offset=0,
                                                          state_batches=()),)),)),
        delete.DeleteShareGroupStateRequest(group_id=group, topics=(delete.DeleteStateData(
            topic_id=tid, partitions=(delete.PartitionData(partition=0),)),)),
        summary.ReadShareGroupStateSummaryRequest(group_id=group, topics=(summary.ReadStateSummaryData(
            topic_id=tid, partitions=(summary.PartitionData(partition=0, leader_epoch=99),)),)),
    ]


def test_a_client_can_neither_find_nor_change_a_share_groups_state(cluster):
    topic = new_name("broker-only-share")
    group = share_group(cluster, topic)
    produce(cluster, topic, [f"s{i}" for i in range(3)])
    accept_some(cluster, group, topic, 3, 2)  # the state: start offset 2
    tid = topic_id(cluster, topic)
    find = minimal_request(10, 6, key_type=2, coordinator_keys=(f"{group}:{tid.hex}:0",))
    assert [int(f.error_code) for f in plain(cluster, 1, find).coordinators] == [CLUSTER_AUTHORIZATION_FAILED]
    found = retried(lambda: broker_call(cluster, 1, find).coordinators[0], lambda f: int(f.error_code))
    assert int(found.error_code) == NONE
    read = schema(84, 0)
    state = read.ReadShareGroupStateRequest(group_id=group, topics=(read.ReadStateData(
        topic_id=tid, partitions=(read.PartitionData(partition=0, leader_epoch=-1),)),))

    def stored() -> tuple[int, int, list]:
        [part] = broker_call(cluster, found.node_id, state).results[0].partitions
        return int(part.error_code), part.start_offset, [(b.first_offset, b.last_offset) for b in part.state_batches]
    before = stored()
    assert before[:2] == (NONE, 2)
    for node in cluster.hosts:  # the coordinator, and the others
        for request in share_state_requests(group, tid):
            assert share_state_codes(plain(cluster, node, request)) == [CLUSTER_AUTHORIZATION_FAILED], request
    assert stored() == before  # nothing written, nothing deleted, no leader epoch taken


# -- AddPartitionsToTxn v4+ ----------------------------------------------------------------------
def test_the_batched_add_partitions_to_txn_is_the_brokers_own(cluster):
    topic, tid = "broker-only-verify", "broker-only-verify-txn"
    create_topic(cluster, topic, partitions=1)
    coordinator, pid, epoch = open_transaction(cluster, tid, topic, b"held")
    for version, verify_only in ((4, True), (5, False)):
        m = schema(24, version)
        request = m.AddPartitionsToTxnRequest(transactions=(m.AddPartitionsToTxnTransaction(
            transactional_id=tid, producer_id=pid, producer_epoch=epoch, verify_only=verify_only,
            topics=(m.AddPartitionsToTxnTopic(name=topic, partitions=(0,)),)),))
        refused = plain(cluster, coordinator, request)
        assert (int(refused.error_code), refused.results_by_transaction) == (CLUSTER_AUTHORIZATION_FAILED, ())
        served = broker_call(cluster, coordinator, request)
        assert int(served.error_code) == NONE
        [result] = served.results_by_transaction
        assert [int(p.partition_error_code) for t in result.topic_results for p in t.results_by_partition] == [NONE]
    ended = plain(cluster, coordinator, minimal_request(26, 3, transactional_id=tid, producer_id=pid,
                                                        producer_epoch=epoch, committed=False))
    assert int(ended.error_code) == NONE


# -- Fetch v4-v6 as a replica ----------------------------------------------------------------------
def replica_fetch(version: int, topic: str):
    m = schema(1, version)
    more = {"log_start_offset": -1} if version >= 5 else {}
    return m.FetchRequest(replica_id=NOT_A_REPLICA, max_wait=datetime.timedelta(0), min_bytes=0,
                          max_bytes=1 << 20, isolation_level=0, topics=(m.FetchTopic(topic=topic, partitions=(
                              m.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=1 << 20, **more),)),))


def test_a_fetch_v4_to_v6_as_a_replica_is_answered_and_only_a_broker_is_served(cluster):
    topic = "broker-only-old-fetch"
    create_topic(cluster, topic, partitions=1)
    producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap_servers})
    for value in (b"a", b"b"):
        producer.produce(topic, value, partition=0)
    assert producer.flush(30) == 0
    leader = leader_of(cluster, topic, 0)
    with kafka_socket(cluster, leader) as s:  # one connection: refused three times, still served after
        for n, version in enumerate((4, 5, 6), 1):
            [part] = wire_call(s, replica_fetch(version, topic), n).responses[0].partitions
            assert (int(part.error_code), bytes(part.records or b"")) == (TOPIC_AUTHORIZATION_FAILED, b"")
        metadata = wire_call(s, minimal_request(3, 9, topics=None), 4)
        assert sorted(b.node_id for b in metadata.brokers) == sorted(cluster.hosts)
    for version in (4, 5, 6):
        [part] = broker_call(cluster, leader, replica_fetch(version, topic)).responses[0].partitions
        records = bytes(part.records or b"")
        assert (int(part.error_code), part.high_watermark) == (NONE, 2)
        assert [r.value for pos, _ in iter_batches(records) for r in decode_records(records, pos)] == [b"a", b"b"]
