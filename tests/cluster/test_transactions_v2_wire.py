"""Transactions version 2 (KIP-890 part 2) on the wire, with kio-encoded requests: no
client on this machine speaks it yet (librdkafka 2.16, kafka-python, aiokafka end their
transactions with EndTxn v3 or v4), so the requests are the ones a Kafka 4 client sends.

- ApiVersions finalizes transaction.version 2 (what makes a client use it); read with
  kafka-python's describe_features and raw (v3 leaves out a supported range from 0).
- A TV2 producer: Produce v12 into partitions it never added (the leader has the
  coordinator add them), TxnOffsetCommit v5 without AddOffsetsToTxn, EndTxn v5 answering
  the next epoch; commit then abort; read_committed reads exactly the committed records,
  and the markers carry the bumped epochs.
- The epoch before an end is fenced: its late batch is INVALID_PRODUCER_EPOCH (on a
  partition the markers reached and on one they did not), its EndTxn PRODUCER_FENCED.
- EndTxn v5 retries: the same answer, nothing written twice; the other outcome refused;
  an abort with nothing open only moves to the next epoch.

TV1 clients are the subject of test_transactions_wire.py (unchanged behaviour).
"""

from __future__ import annotations

import datetime

import pytest
from test_transactions_wire import (
    ADMIN_HTTP,
    DEADLINE_S,
    INVALID_PRODUCER_EPOCH,
    INVALID_TXN_STATE,
    NONE,
    PRODUCER_FENCED,
    READ_COMMITTED,
    READ_UNCOMMITTED,
    SECURITY,
    USERS,
    Wire,
    batches,
    data_values,
    fetch,
    find_coordinator,
    init_producer,
    leader,
    make_topic,
    read_all,
    sasl,
    schema,
    txn_batch,
    wait_stable,
)

from test_transactions_wire import retried as retried_as_client

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")

NOT_ENOUGH_REPLICAS = 19
# what a client retries: the coordinator loading, moving or completing, a leader's undecided check
RETRIABLE = {14, 15, 16, 51, NOT_ENOUGH_REPLICAS}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, extra_toml=SECURITY, headers=ADMIN_HTTP) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def retried(attempt):
    """As test_transactions_wire.retried, a leader's undecided check retried too."""
    return retried_as_client(attempt, retriable=RETRIABLE)


def produce_v12(c: LocalCluster, topic: str, partition: int, batch: bytes, tid: str) -> int:
    """The error code of one transactional Produce v12 (acks=all) at the leader, retried."""
    m = schema("produce", 12)
    request = m.ProduceRequest(transactional_id=tid, acks=-1, timeout=datetime.timedelta(seconds=10), topic_data=(
        m.TopicProduceData(name=topic, partition_data=(m.PartitionProduceData(index=partition, records=batch),)),))

    def attempt():
        with Wire(c, leader(c, topic, partition)) as w:
            part = w.call(request).responses[0].partition_responses[0]
        return int(part.error_code), part
    return retried(attempt)[0]


def end_txn_v5(c: LocalCluster, tid: str, pid: int, epoch: int, commit: bool) -> tuple[int, int, int]:
    """(error code, producer id, epoch) of EndTxn v5 at the coordinator, retried."""
    request = schema("end_txn", 5).EndTxnRequest(transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                                                 committed=commit)

    def attempt():
        with Wire(c, find_coordinator(c, tid)) as w:
            answer = w.call(request)
        return int(answer.error_code), answer
    error, answer = retried(attempt)
    return error, int(answer.producer_id), int(answer.producer_epoch)


def txn_offset_commit_v5(c: LocalCluster, tid: str, pid: int, epoch: int, group: str, topic: str,
                         offset: int) -> int:
    """The error code of TxnOffsetCommit v5 (partition 0 of topic) at the group's coordinator."""
    m = schema("txn_offset_commit", 5)
    request = m.TxnOffsetCommitRequest(
        transactional_id=tid, group_id=group, producer_id=pid, producer_epoch=epoch, generation_id=-1,
        member_id="", group_instance_id=None, topics=(m.TxnOffsetCommitRequestTopic(name=topic, partitions=(
            m.TxnOffsetCommitRequestPartition(partition_index=0, committed_offset=offset, committed_leader_epoch=-1,
                                              committed_metadata=""),)),))

    def attempt():
        found = schema("find_coordinator", 4)
        with Wire(c, 1) as w:
            [where] = w.call(found.FindCoordinatorRequest(key_type=0, coordinator_keys=(group,))).coordinators
        if int(where.error_code) != NONE:
            return int(where.error_code), where
        with Wire(c, int(where.node_id)) as w:
            answer = w.call(request)
        return int(answer.topics[0].partitions[0].error_code), answer
    return retried(attempt)[0]


def committed_offset(c: LocalCluster, group: str, topic: str) -> int:
    """The group's committed offset of partition 0, as confluent-kafka reads it."""
    consumer = confluent_kafka.Consumer({**sasl(c), "group.id": group, "enable.auto.commit": False})
    try:
        [found] = consumer.committed([confluent_kafka.TopicPartition(topic, 0)], timeout=DEADLINE_S)
    finally:
        consumer.close()
    return found.offset


def markers(c: LocalCluster, topic: str, partition: int) -> list[tuple[int, bool]]:
    """(producer epoch, commit?) of each control batch in the partition, in order."""
    part = fetch(c, topic, partition, READ_UNCOMMITTED)
    out = []
    for header, records in batches(part.records):
        if header.is_control:
            [record] = records
            out.append((header.producer_epoch, record.key[3] == 1))  # key: version int16, type int16
    return out


# -- the feature ------------------------------------------------------------------------------
def test_api_versions_finalizes_transaction_version_2(cluster):
    kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra")
    admin = kafka.KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
                                   sasl_mechanism="PLAIN", sasl_plain_username="admin",
                                   sasl_plain_password=USERS["admin"], request_timeout_ms=15_000)
    try:
        features = admin.describe_features()
    finally:
        admin.close()
    assert features["transaction.version"]["finalized"] == (2, 2), features
    with Wire(cluster, 2) as w:
        v4 = w.call(schema("api_versions", 4).ApiVersionsRequest(client_software_name="tv2",
                                                                 client_software_version="1"))
        v3 = w.call(schema("api_versions", 3).ApiVersionsRequest(client_software_name="tv2",
                                                                 client_software_version="1"))
    assert [(f.name, int(f.min_version), int(f.max_version)) for f in v4.supported_features] == \
        [("share.version", 0, 1), ("transaction.version", 0, 2)]
    assert list(v3.supported_features) == []  # KIP-1022: a range from 0 confuses older clients
    for answer in (v3, v4):
        assert [(f.name, int(f.min_version_level), int(f.max_version_level)) for f in answer.finalized_features] \
            == [("share.version", 1, 1), ("transaction.version", 2, 2)] and int(answer.finalized_features_epoch) >= 0
        served = {int(k.api_key): int(k.max_version) for k in answer.api_keys}
        assert served[0] >= 12 and served[26] >= 5 and served[28] >= 5  # what TV2 clients send


# -- a TV2 producer ------------------------------------------------------------------------------
def test_a_tv2_producer_commits_and_aborts_adding_partitions_with_its_batches(cluster):
    topic = make_topic(cluster, "tv2-flow", 2)
    tid, group = "tv2-flow-1", "tv2-flow-group"
    pid, epoch = init_producer(cluster, tid)
    # no AddPartitionsToTxn, no AddOffsetsToTxn: the batches and the offsets add their partitions
    assert produce_v12(cluster, topic, 0, txn_batch(pid, epoch, 0, [b"c-0-0", b"c-0-1"]), tid) == NONE
    assert produce_v12(cluster, topic, 1, txn_batch(pid, epoch, 0, [b"c-1-0"]), tid) == NONE
    assert txn_offset_commit_v5(cluster, tid, pid, epoch, group, topic, 42) == NONE
    assert end_txn_v5(cluster, tid, pid, epoch, commit=True) == (NONE, pid, epoch + 1)
    # the next transaction, at the new epoch (its sequences start again at 0)
    assert produce_v12(cluster, topic, 0, txn_batch(pid, epoch + 1, 0, [b"a-0-0"]), tid) == NONE
    assert produce_v12(cluster, topic, 1, txn_batch(pid, epoch + 1, 0, [b"a-1-0"]), tid) == NONE
    assert txn_offset_commit_v5(cluster, tid, pid, epoch + 1, group, topic, 99) == NONE
    assert end_txn_v5(cluster, tid, pid, epoch + 1, commit=False) == (NONE, pid, epoch + 2)
    # a real read_committed consumer (confluent-kafka) reads exactly the committed records;
    # the aborted ones are in the log, so it had something to leave out
    assert read_all(cluster, topic, 2, "read_committed") == {0: [b"c-0-0", b"c-0-1"], 1: [b"c-1-0"]}
    assert read_all(cluster, topic, 2, "read_uncommitted") == {0: [b"c-0-0", b"c-0-1", b"a-0-0"],
                                                                1: [b"c-1-0", b"a-1-0"]}
    # each end's markers carry the epoch it moved to
    assert markers(cluster, topic, 0) == markers(cluster, topic, 1) == [(epoch + 1, True), (epoch + 2, False)]
    assert committed_offset(cluster, group, topic) == 42  # the aborted 99 never counts


def one_committed_transaction(c: LocalCluster, name: str, partitions: int) -> tuple[str, str, int, int]:
    """A topic and a TV2 producer that committed b"one" to its partition 0 (EndTxn v5
    answered the next epoch): (topic, transactional id, producer id, the epoch it used)."""
    topic, tid = make_topic(c, name, partitions), f"{name}-1"
    pid, epoch = init_producer(c, tid)
    assert produce_v12(c, topic, 0, txn_batch(pid, epoch, 0, [b"one"]), tid) == NONE
    assert end_txn_v5(c, tid, pid, epoch, commit=True) == (NONE, pid, epoch + 1)
    return topic, tid, pid, epoch


def test_the_epoch_before_an_end_is_fenced(cluster):
    topic, tid, pid, epoch = one_committed_transaction(cluster, "tv2-fenced", 2)
    wait_stable(cluster, topic, (0,))
    # a late batch of the ended transaction: partition 0 has the marker's epoch and refuses it
    # itself; partition 1 never saw this producer, and the coordinator refuses to add it
    assert produce_v12(cluster, topic, 0, txn_batch(pid, epoch, 1, [b"late-0"]), tid) == INVALID_PRODUCER_EPOCH
    assert produce_v12(cluster, topic, 1, txn_batch(pid, epoch, 0, [b"late-1"]), tid) == INVALID_PRODUCER_EPOCH
    assert end_txn_v5(cluster, tid, pid, epoch + 1, commit=False)[0] == NONE  # an abort with nothing open
    # the old epoch's EndTxn is no retry any more (two ends ago): fenced
    assert end_txn_v5(cluster, tid, pid, epoch, commit=True)[0] == PRODUCER_FENCED
    assert [v for _, v in data_values(fetch(cluster, topic, 0, READ_UNCOMMITTED).records)] == [b"one"]
    assert data_values(fetch(cluster, topic, 1, READ_UNCOMMITTED).records) == []


def test_end_txn_v5_retries_get_the_same_answer_and_write_nothing_more(cluster):
    topic, tid, pid, epoch = one_committed_transaction(cluster, "tv2-retries", 1)
    # the client lost the answer and sends the same EndTxn again: the same answer
    assert end_txn_v5(cluster, tid, pid, epoch, commit=True) == (NONE, pid, epoch + 1)
    assert end_txn_v5(cluster, tid, pid, epoch, commit=True) == (NONE, pid, epoch + 1)
    error, *_ = end_txn_v5(cluster, tid, pid, epoch, commit=False)  # not the end it retries
    assert error == INVALID_TXN_STATE
    assert end_txn_v5(cluster, tid, pid, epoch + 1, commit=True)[0] == INVALID_TXN_STATE  # nothing open
    wait_stable(cluster, topic, (0,))
    assert markers(cluster, topic, 0) == [(epoch + 1, True)]  # one end, one marker
    assert [v for _, v in data_values(fetch(cluster, topic, 0, READ_COMMITTED).records)] == [b"one"]


# -- AddPartitionsToTxn v4-5: the brokers' batched form ---------------------------------------------
CLUSTER_AUTHORIZATION_FAILED = 31
TOPIC_AUTHORIZATION_FAILED = 29
TRANSACTION_ABORTABLE = 120
UNKNOWN_TOPIC_OR_PARTITION = 3
OPERATION_NOT_ATTEMPTED = 55


def add_partitions_batched(c: LocalCluster, via: int, version: int, transactions, user: str = "admin"):
    """One AddPartitionsToTxn v4+ answer: transactions is [(tid, pid, epoch, verify_only,
    {topic: [partitions]})]."""
    m = schema("add_partitions_to_txn", version)
    request = m.AddPartitionsToTxnRequest(transactions=tuple(
        m.AddPartitionsToTxnTransaction(transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                                        verify_only=verify_only, topics=tuple(
                                            m.AddPartitionsToTxnTopic(name=t, partitions=tuple(ps))
                                            for t, ps in topics.items()))
        for tid, pid, epoch, verify_only, topics in transactions))
    with Wire(c, via, user) as w:
        return w.call(request)


def codes_of(answer) -> dict[str, dict[tuple[str, int], int]]:
    return {r.transactional_id: {(t.name, int(p.partition_index)): int(p.partition_error_code)
                                 for t in r.topic_results for p in t.results_by_partition}
            for r in answer.results_by_transaction}


def test_add_partitions_to_txn_v4_and_v5_are_the_brokers_batched_form(cluster):
    topic = make_topic(cluster, "tv2-batched", 2)
    tid_a, tid_b = "tv2-batched-a", "tv2-batched-b"
    pid_a, epoch_a = init_producer(cluster, tid_a)
    pid_b, epoch_b = init_producer(cluster, tid_b)
    node = find_coordinator(cluster, tid_a)

    def on_coordinator(version, transactions):
        def attempt():
            answer = add_partitions_batched(cluster, node, version, transactions)
            codes = [code for per_tid in codes_of(answer).values() for code in per_tid.values()]
            return max(codes, key=lambda code: code in RETRIABLE), answer
        return codes_of(retried(attempt)[1])

    # v5 (a TV2 leader adding its batch's partition) and v4 verify-only (a TV1 leader checking)
    assert on_coordinator(5, [(tid_a, pid_a, epoch_a, False, {topic: [0]})]) == {tid_a: {(topic, 0): NONE}}
    assert on_coordinator(4, [(tid_a, pid_a, epoch_a, True, {topic: [0, 1]})]) == \
        {tid_a: {(topic, 0): NONE, (topic, 1): TRANSACTION_ABORTABLE}}
    # each transaction is answered on its own: a fenced epoch, an unknown partition
    answer = on_coordinator(5, [(tid_a, pid_a, epoch_a + 1, False, {topic: [1]}),
                                (tid_a + "-x", pid_b, epoch_b, False, {topic: [0, 7]})])
    assert answer == {tid_a: {(topic, 1): PRODUCER_FENCED},
                      tid_a + "-x": {(topic, 0): OPERATION_NOT_ATTEMPTED, (topic, 7): UNKNOWN_TOPIC_OR_PARTITION}}
    # only brokers send it: a client without CLUSTER_ACTION is refused as a whole
    refused = add_partitions_batched(cluster, node, 5, [(tid_a, pid_a, epoch_a, False, {topic: [1]})], user="alice")
    assert int(refused.error_code) == CLUSTER_AUTHORIZATION_FAILED and list(refused.results_by_transaction) == []
    assert on_coordinator(4, [(tid_a, pid_a, epoch_a, True, {topic: [1]})]) == \
        {tid_a: {(topic, 1): TRANSACTION_ABORTABLE}}  # alice added nothing
    assert end_txn_v5(cluster, tid_a, pid_a, epoch_a, commit=False)[0] == NONE


def test_share_group_state_requests_are_the_brokers_own(cluster):
    """KIP-932's share coordinator requests need CLUSTER_ACTION, as AddPartitionsToTxn v4+
    does: a client can neither find a share-partition's state nor read or write it."""
    import uuid

    from kio.schema.find_coordinator.v6.request import FindCoordinatorRequest
    from kio.schema.read_share_group_state.v0 import request as read
    from kio.schema.write_share_group_state.v1 import request as write
    topic = make_topic(cluster, "share-state-acl", 1)
    status, body = http_json("GET", f"{cluster.v3(1)}/topics/{topic}", headers=ADMIN_HTTP)
    assert status == 200, body
    tid = uuid.UUID(body["topic_id"])
    group, key = "acl-share", f"acl-share:{tid.hex}:0"
    find = FindCoordinatorRequest(key_type=2, coordinator_keys=(key,))
    reading = read.ReadShareGroupStateRequest(group_id=group, topics=(read.ReadStateData(
        topic_id=tid, partitions=(read.PartitionData(partition=0, leader_epoch=-1),)),))
    writing = write.WriteShareGroupStateRequest(group_id=group, topics=(write.WriteStateData(
        topic_id=tid, partitions=(write.PartitionData(partition=0, state_epoch=0, leader_epoch=0, start_offset=0,
                                                      state_batches=()),)),))
    with Wire(cluster, 1, "alice") as w:
        assert [int(c.error_code) for c in w.call(find).coordinators] == [CLUSTER_AUTHORIZATION_FAILED]
    with Wire(cluster, 1, "admin") as w:
        [found] = w.call(find).coordinators
    assert int(found.error_code) == NONE
    with Wire(cluster, found.node_id, "alice") as w:
        for request in (writing, reading):
            [part] = w.call(request).results[0].partitions
            assert int(part.error_code) == CLUSTER_AUTHORIZATION_FAILED
    def admin_read():
        with Wire(cluster, found.node_id, "admin") as w:
            [part] = w.call(reading).results[0].partitions
        return int(part.error_code), part
    # the state topic was made by the first FindCoordinator: its partition may still be loading (14)
    code, part = retried(admin_read)
    assert (code, part.start_offset) == (NONE, -1)  # alice's write changed nothing


def test_write_txn_markers_is_the_brokers_own(cluster):
    """WriteTxnMarkers from a client without CLUSTER_ACTION is refused for every partition
    and writes nothing: the transaction stays open until its coordinator ends it."""
    from test_transactions_wire import add_partitions, end_txn, list_offset
    from test_transactions_wire import produce as produce_batch
    topic = make_topic(cluster, "tv2-markers", 2)
    tid = "tv2-markers-1"
    pid, epoch = init_producer(cluster, tid)
    add_partitions(cluster, tid, pid, epoch, topic, [0, 1])
    for p in (0, 1):
        assert produce_batch(cluster, topic, p, txn_batch(pid, epoch, 0, [b"held"]), tid) == (NONE, 0)
    for version in (1, 2):
        m = schema("write_txn_markers", version)
        request = m.WriteTxnMarkersRequest(markers=(m.WritableTxnMarker(
            producer_id=pid, producer_epoch=epoch, transaction_result=True, coordinator_epoch=0,
            topics=(m.WritableTxnMarkerTopic(name=topic, partition_indexes=(0, 1)),)),))
        with Wire(cluster, leader(cluster, topic, 0), "alice") as w:
            [answer] = w.call(request).markers
        assert [(t.name, int(p.partition_index), int(p.error_code)) for t in answer.topics for p in t.partitions] == \
            [(topic, 0, CLUSTER_AUTHORIZATION_FAILED), (topic, 1, CLUSTER_AUTHORIZATION_FAILED)]
    for p in (0, 1):  # no marker: still open, hidden from read_committed
        assert (list_offset(cluster, topic, p, READ_UNCOMMITTED), list_offset(cluster, topic, p, READ_COMMITTED)) == (1, 0)
    end_txn(cluster, tid, pid, epoch, commit=True)
    wait_stable(cluster, topic, (0, 1))
    assert read_all(cluster, topic, 2, "read_committed") == {0: [b"held"], 1: [b"held"]}


def test_a_fetch_as_a_replica_is_the_brokers_own(cluster):
    """A Fetch naming a replica id (a follower's) from a principal without CLUSTER_ACTION
    is refused for every partition, though the same principal may read the topic as a
    consumer; a super user's is served."""
    from test_transactions_wire import grant
    from test_transactions_wire import produce as produce_batch
    from test_transactions_wire import plain_batch
    topic = make_topic(cluster, "replica-fetch-acl", 1)
    assert produce_batch(cluster, topic, 0, plain_batch([b"r0"]), None)[0] == NONE
    grant(cluster, "TOPIC", topic, "READ")
    m = schema("fetch", 12)

    def fetch_as(user: str, replica_id: int) -> int:
        request = m.FetchRequest(
            replica_id=replica_id, max_wait=datetime.timedelta(0), min_bytes=0, max_bytes=1 << 20,
            isolation_level=0, session_id=0, session_epoch=-1, rack_id="", forgotten_topics_data=(),
            topics=(m.FetchTopic(topic=topic, partitions=(m.FetchPartition(
                partition=0, current_leader_epoch=-1, fetch_offset=0, log_start_offset=-1, last_fetched_epoch=-1,
                partition_max_bytes=1 << 20),)),))
        with Wire(cluster, leader(cluster, topic, 0), user) as w:
            return int(w.call(request).responses[0].partitions[0].error_code)

    assert fetch_as("alice", -1) == NONE  # a consumer alice may be
    assert fetch_as("alice", 2) == TOPIC_AUTHORIZATION_FAILED  # a follower she may not
    assert fetch_as("admin", 2) == NONE
