"""Kafka transactions (KIP-98) seen from the wire and from the Python clients that are
not librdkafka, on one secured cluster (SASL; the admin is a super user, so ACLs only
matter in the last test).

- kafka-python's and aiokafka's transactional producers: a committed and an aborted
  transaction; a read_committed reader sees exactly the committed records, a
  read_uncommitted one the aborted ones too (so the abort really had data to hide).
- Raw requests (encoded by kio), for what no client sends on purpose: a transactional
  batch to a partition outside the transaction, a client's own COMMIT marker, EndTxn from
  a fenced epoch at each version, a timeout over transaction.max.timeout.ms, two EndTxn at
  once; and what the admin and read APIs answer about a transaction while it is open and
  after it ended (FindCoordinator key type 1, Describe/ListTransactions,
  DescribeProducers, ListOffsets and Fetch with isolation_level=1).
- ACLs on TRANSACTIONAL_ID: no WRITE on the id, no transactions (a fatal error for
  confluent-kafka); once the ACL is there, the same user commits.

confluent-kafka's own transactional producer (commit/abort, fencing,
send_offsets_to_transaction) is another module's subject; here it only reads.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import importlib
import io
import socket
import struct
import time
import typing
import uuid

import pytest
from kafka_wire import kafka_socket, recv_frame

from kraft.server.local_cluster import LocalCluster, http_json, security_toml
from kraft.storage.record import Record
from kraft.storage.record_batch import BatchHeader, decode_records, encode_batch, encode_control_batch

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")

USERS = {"admin": "admin-password", "alice": "alice-password"}
SECURITY = security_toml(USERS)  # admin: super user; alice: only what the ACLs grant
ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
READ_UNCOMMITTED, READ_COMMITTED = 0, 1
MAX_TIMEOUT_MS = 900_000  # transaction.max.timeout.ms, Kafka's default (cluster.toml leaves it)
DEADLINE_S = 30.0

# Kafka's error codes
NONE = 0
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
NOT_ENOUGH_REPLICAS = 19
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_TRANSACTION_TIMEOUT = 50
CONCURRENT_TRANSACTIONS = 51
INVALID_RECORD = 87
PRODUCER_FENCED = 90
TRANSACTIONAL_ID_NOT_FOUND = 105
# answers a client retries (the coordinator loading or moving, a transaction completing)
RETRIABLE = {COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS, 14}  # 14: LOAD_IN_PROGRESS


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, extra_toml=SECURITY, headers=ADMIN_HTTP) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


# -- the raw client --------------------------------------------------------------------------
def schema(api: str, version: int, kind: str = "request"):
    """kio's module for one API version (its entity classes as attributes)."""
    return importlib.import_module(f"kio.schema.{api}.v{version}.{kind}")


class Wire:
    """One connection to one node, authenticated with SASL/PLAIN; requests and answers
    encoded by kio. call() waits for each answer; send() and receive() let a test have
    requests out on several connections at once."""

    def __init__(self, c: LocalCluster, node: int, user: str = "admin"):
        self.sock: socket.socket = kafka_socket(c, node)
        self.correlation = 0
        try:
            handshake = self.call(schema("sasl_handshake", 1).SaslHandshakeRequest(mechanism="PLAIN"))
            assert int(handshake.error_code) == 0, handshake
            answer = self.call(schema("sasl_authenticate", 2).SaslAuthenticateRequest(
                auth_bytes=f"\0{user}\0{USERS[user]}".encode()))
            assert int(answer.error_code) == 0, answer
        except BaseException:
            self.sock.close()
            raise

    def send(self, request) -> int:
        """Put a request on the wire; its correlation id."""
        from kio.serial import entity_writer
        self.correlation += 1
        header_cls = type(request).__header_schema__
        buf = io.BytesIO()
        entity_writer(header_cls)(buf, header_cls(request_api_key=type(request).__api_key__,
                                                  request_api_version=type(request).__version__,
                                                  correlation_id=self.correlation, client_id="txn-wire"))
        entity_writer(type(request))(buf, request)
        self.sock.sendall(struct.pack(">i", buf.tell()) + buf.getvalue())
        return self.correlation

    def receive(self, request_cls, correlation: int, response_cls=None):
        from kio.index import load_response_schema
        from kio.serial import entity_reader
        if response_cls is None:
            response_cls = load_response_schema(int(request_cls.__api_key__), int(request_cls.__version__))
        frame = recv_frame(self.sock)
        header, used = entity_reader(response_cls.__header_schema__)(frame, 0)
        assert header.correlation_id == correlation
        answer, _ = entity_reader(response_cls)(frame, used)
        return answer

    def call(self, request, response_cls=None):
        return self.receive(type(request), self.send(request), response_cls)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def retried(attempt, deadline_s: float = DEADLINE_S, retriable: set[int] = RETRIABLE):
    """attempt() -> (error code, answer), repeated while the code is retriable (bounded)."""
    deadline = time.monotonic() + deadline_s
    for _ in range(200):
        error, answer = attempt()
        if error not in retriable or time.monotonic() > deadline:
            return error, answer
        time.sleep(0.1)
    return error, answer


# -- cluster helpers ---------------------------------------------------------------------------
def make_topic(c: LocalCluster, name: str, partitions: int) -> str:
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": name, "partitions_count": partitions,
                                                           "replication_factor": 3}, headers=ADMIN_HTTP)
    assert status == 201, body

    def ready():
        return all(http_json("GET", f"{c.url(n)}/topics/{name}/partitions/{p}/offsets", headers=ADMIN_HTTP)[0] == 200
                   for n in c.hosts for p in range(partitions))
    c.wait_until(ready, 20, f"topic {name} ready on every node")
    return name


def leader(c: LocalCluster, topic: str, partition: int) -> int:
    status, body = http_json("GET", f"{c.url(1)}/topics/{topic}/partitions/{partition}", headers=ADMIN_HTTP)
    assert status == 200, body
    return body["leader"]


def find_coordinator(c: LocalCluster, tid: str, via: int = 1) -> int:
    m = schema("find_coordinator", 4)

    def attempt():
        with Wire(c, via) as w:
            [found] = w.call(m.FindCoordinatorRequest(key_type=1, coordinator_keys=(tid,))).coordinators
        return int(found.error_code), found
    error, found = retried(attempt)
    assert error == NONE, found
    return int(found.node_id)


def init_producer_id(w: Wire, tid: str, timeout_ms: int = 60_000, version: int = 4) -> tuple[int, int, int]:
    """(error code, producer id, epoch) of one InitProducerId."""
    m = schema("init_producer_id", version)
    answer = w.call(m.InitProducerIdRequest(transactional_id=tid,
                                            transaction_timeout=datetime.timedelta(milliseconds=timeout_ms)))
    return int(answer.error_code), int(answer.producer_id), int(answer.producer_epoch)


def init_producer(c: LocalCluster, tid: str) -> tuple[int, int]:
    """A producer id and epoch for the transactional id, retried as a client does."""
    def attempt():
        with Wire(c, find_coordinator(c, tid)) as w:
            error, pid, epoch = init_producer_id(w, tid)
        return error, (pid, epoch)
    error, (pid, epoch) = retried(attempt)
    assert error == NONE and pid >= 0 and epoch >= 0, (error, pid, epoch)
    return pid, epoch


def add_partitions(c: LocalCluster, tid: str, pid: int, epoch: int, topic: str, partitions: list[int]) -> None:
    m = schema("add_partitions_to_txn", 3)
    request = m.AddPartitionsToTxnRequest(
        v3_and_below_transactional_id=tid, v3_and_below_producer_id=pid, v3_and_below_producer_epoch=epoch,
        v3_and_below_topics=(m.AddPartitionsToTxnTopic(name=topic, partitions=tuple(partitions)),))

    def attempt():
        with Wire(c, find_coordinator(c, tid)) as w:
            answer = w.call(request)
        codes = {int(p.partition_error_code) for t in answer.results_by_topic_v3_and_below
                 for p in t.results_by_partition}
        return max(codes), answer  # every partition answers alike here
    error, answer = retried(attempt)
    assert error == NONE, answer


def end_txn_request(tid: str, pid: int, epoch: int, commit: bool, version: int = 3):
    return schema("end_txn", version).EndTxnRequest(transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                                                    committed=commit)


def end_txn(c: LocalCluster, tid: str, pid: int, epoch: int, commit: bool) -> None:
    def attempt():
        with Wire(c, find_coordinator(c, tid)) as w:
            answer = w.call(end_txn_request(tid, pid, epoch, commit))
        return int(answer.error_code), answer
    error, answer = retried(attempt)
    assert error == NONE, answer


def produce(c: LocalCluster, topic: str, partition: int, batch: bytes, tid: str | None) -> tuple[int, int]:
    """(error code, base offset) of one Produce v9 (acks=all) at the partition's leader."""
    m = schema("produce", 9)
    with Wire(c, leader(c, topic, partition)) as w:
        answer = w.call(m.ProduceRequest(
            transactional_id=tid, acks=-1, timeout=datetime.timedelta(seconds=10), topic_data=(m.TopicProduceData(
                name=topic, partition_data=(m.PartitionProduceData(index=partition, records=batch),)),)))
    part = answer.responses[0].partition_responses[0]
    return int(part.error_code), int(part.base_offset)


def txn_batch(pid: int, epoch: int, sequence: int, values: list[bytes]) -> bytes:
    now = int(time.time() * 1000)
    return encode_batch([Record(None, v, (), now) for v in values], 0, -1, pid, epoch, sequence,
                        is_transactional=True)


def plain_batch(values: list[bytes]) -> bytes:
    now = int(time.time() * 1000)
    return encode_batch([Record(None, v, (), now) for v in values], 0, -1)


def list_offset(c: LocalCluster, topic: str, partition: int, isolation: int) -> int:
    """ListOffsets v5, latest: the high watermark (0) or the last stable offset (1)."""
    m = schema("list_offsets", 5)
    with Wire(c, leader(c, topic, partition)) as w:
        answer = w.call(m.ListOffsetsRequest(replica_id=-1, isolation_level=isolation, topics=(m.ListOffsetsTopic(
            name=topic, partitions=(m.ListOffsetsPartition(partition_index=partition, timestamp=-1),)),)))
    part = answer.topics[0].partitions[0]
    assert int(part.error_code) == NONE, part
    return int(part.offset)


def fetch(c: LocalCluster, topic: str, partition: int, isolation: int, offset: int = 0):
    """One Fetch v11 answer for one partition (its records bytes as sent)."""
    m = schema("fetch", 11)
    with Wire(c, leader(c, topic, partition)) as w:
        answer = w.call(m.FetchRequest(
            replica_id=-1, max_wait=datetime.timedelta(0), min_bytes=0, max_bytes=1 << 20, isolation_level=isolation,
            session_id=0, session_epoch=-1, rack_id="", forgotten_topics_data=(), topics=(m.FetchTopic(
                topic=topic, partitions=(m.FetchPartition(partition=partition, current_leader_epoch=-1,
                                                          fetch_offset=offset, log_start_offset=-1,
                                                          partition_max_bytes=1 << 20),)),)))
    part = answer.responses[0].partitions[0]
    assert int(part.error_code) == NONE, part
    return part


def batches(records: bytes | None) -> list[tuple[BatchHeader, list[Record]]]:
    """The batches in a Fetch answer's records, each with its records (control ones too)."""
    data, out = records or b"", []
    while len(data) >= 61:
        header = BatchHeader.parse(data)
        out.append((header, decode_records(data[:header.size])))
        data = data[header.size:]
    return out


def data_values(records: bytes | None) -> list[tuple[int, bytes]]:
    """(offset, value) of every data record in a Fetch answer: what the log holds."""
    return [(h.base_offset + i, r.value) for h, rs in batches(records) if not h.is_control
            for i, r in enumerate(rs)]


def wait_stable(c: LocalCluster, topic: str, partitions) -> None:
    """Until every transaction on these partitions has its marker: LSO == high watermark."""
    c.wait_until(lambda: all(list_offset(c, topic, p, READ_COMMITTED) == list_offset(c, topic, p, READ_UNCOMMITTED)
                             for p in partitions), DEADLINE_S, f"{topic}: every transaction ended")


def _int_timestamps(cls):
    """A copy of a kio entity class whose timestamps (datetime_i64) read as plain int64:
    Kafka answers -1 for "none" there (DescribeTransactions: no transaction open), and
    kio reads no negative timestamp."""
    from kio.static.primitive import i64
    specs = []
    for f in dataclasses.fields(cls):
        kind, metadata = f.type, dict(f.metadata)
        if metadata.get("kafka_type") == "datetime_i64":
            kind, metadata = i64, {"kafka_type": "int64"}
        elif typing.get_origin(kind) is tuple and dataclasses.is_dataclass(typing.get_args(kind)[0]):
            kind = tuple[_int_timestamps(typing.get_args(kind)[0]), ...]
        default = {} if f.default is dataclasses.MISSING else {"default": f.default}
        specs.append((f.name, kind, dataclasses.field(metadata=metadata, **default)))
    names = ("__type__", "__version__", "__flexible__", "__api_key__", "__header_schema__")
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True, kw_only=True,
                                      namespace={n: getattr(cls, n) for n in names})


def describe_txn(c: LocalCluster, tid: str):
    """DescribeTransactions v0 of one id at its coordinator."""
    request = schema("describe_transactions", 0).DescribeTransactionsRequest(transactional_ids=(tid,))
    answer_cls = _int_timestamps(schema("describe_transactions", 0, "response").DescribeTransactionsResponse)
    with Wire(c, find_coordinator(c, tid)) as w:
        [state] = w.call(request, answer_cls).transaction_states
    return state


def listed_txns(c: LocalCluster, states: tuple[str, ...]) -> tuple[dict[str, tuple[int, str]], set[str]]:
    """ListTransactions v1 asked of every broker, merged as an admin client does:
    ({transactional id: (producer id, state)}, unknown state filters)."""
    m = schema("list_transactions", 1)
    found: dict[str, tuple[int, str]] = {}
    unknown: set[str] = set()
    for node in c.hosts:
        with Wire(c, node) as w:
            answer = w.call(m.ListTransactionsRequest(state_filters=states, producer_id_filters=()))
        assert int(answer.error_code) == NONE, answer
        unknown |= set(answer.unknown_state_filters)
        for t in answer.transaction_states:
            assert t.transactional_id not in found, f"{t.transactional_id} listed by two brokers"
            found[t.transactional_id] = (int(t.producer_id), t.transaction_state)
    return found, unknown


def producers(c: LocalCluster, topic: str, partition: int) -> dict[int, int]:
    """DescribeProducers at the leader: producer id -> current_txn_start_offset."""
    m = schema("describe_producers", 0)
    with Wire(c, leader(c, topic, partition)) as w:
        answer = w.call(m.DescribeProducersRequest(
            topics=(m.TopicRequest(name=topic, partition_indexes=(partition,)),)))
    part = answer.topics[0].partitions[0]
    assert int(part.error_code) == NONE, part
    return {int(p.producer_id): int(p.current_txn_start_offset) for p in part.active_producers}


def sasl(c: LocalCluster, user: str = "admin") -> dict:
    return {"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": USERS[user]}


def read_all(c: LocalCluster, topic: str, partitions: int, isolation: str) -> dict[int, list[bytes]]:
    """Every record a confluent-kafka consumer at this isolation level reads from the
    start to the end of each partition, once no transaction there is open."""
    wait_stable(c, topic, range(partitions))
    consumer = confluent_kafka.Consumer({**sasl(c), "group.id": f"txw-reader-{uuid.uuid4().hex[:8]}",
                                         "isolation.level": isolation, "enable.partition.eof": True,
                                         "enable.auto.commit": False,
                                         # an empty fetch answers at once: the end is seen sooner
                                         "fetch.wait.max.ms": 50})
    got: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
    at_end: set[int] = set()
    try:
        consumer.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                         for p in range(partitions)])
        deadline = time.monotonic() + DEADLINE_S
        while len(at_end) < partitions and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                assert msg.error().code() == confluent_kafka.KafkaError._PARTITION_EOF, msg.error()
                at_end.add(msg.partition())
            else:
                got[msg.partition()].append(msg.value())
    finally:
        consumer.close()
    assert len(at_end) == partitions, f"{topic}: only partitions {at_end} read to their end"
    return got


# -- 1. kafka-python's and aiokafka's transactional producers ------------------------------------
COMMITTED = {0: [b"c-0-0", b"c-0-1"], 1: [b"c-1-0"]}
ABORTED = {0: [b"a-0-0"], 1: [b"a-1-0", b"a-1-1"]}


def assert_only_committed_is_read(c: LocalCluster, topic: str) -> None:
    assert read_all(c, topic, 2, "read_committed") == COMMITTED
    # the aborted records are in the log: read_committed had something to leave out
    assert read_all(c, topic, 2, "read_uncommitted") == {p: COMMITTED[p] + ABORTED[p] for p in (0, 1)}


def test_kafka_python_commits_and_aborts(cluster):
    kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra")
    if not hasattr(kafka.KafkaProducer, "init_transactions"):
        pytest.skip(f"kafka-python {kafka.__version__} has no transactional producer")
    topic = make_topic(cluster, "txw-kafka-python", 2)
    producer = kafka.KafkaProducer(
        bootstrap_servers=cluster.bootstrap_servers, security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
        sasl_plain_username="admin", sasl_plain_password=USERS["admin"], transactional_id="txw-kafka-python-1",
        request_timeout_ms=15_000, max_block_ms=30_000)
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for partition, values in COMMITTED.items():
            for value in values:
                producer.send(topic, value, partition=partition)
        producer.commit_transaction()
        producer.begin_transaction()
        futures = [producer.send(topic, value, partition=partition)
                   for partition, values in ABORTED.items() for value in values]
        producer.flush(30)  # written before the abort, so there is something to abort
        assert all(f.get(timeout=30).offset >= 0 for f in futures)
        producer.abort_transaction()
    finally:
        producer.close(timeout=10)
    assert_only_committed_is_read(cluster, topic)


def test_aiokafka_commits_and_aborts(cluster):
    aiokafka = pytest.importorskip("aiokafka", reason="aiokafka is a test extra")
    if not hasattr(aiokafka.AIOKafkaProducer, "begin_transaction"):
        pytest.skip(f"aiokafka {aiokafka.__version__} has no transactional producer")
    topic = make_topic(cluster, "txw-aiokafka", 2)

    async def run() -> None:
        producer = aiokafka.AIOKafkaProducer(
            bootstrap_servers=cluster.bootstrap_servers, security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
            sasl_plain_username="admin", sasl_plain_password=USERS["admin"], transactional_id="txw-aiokafka-1",
            request_timeout_ms=15_000)
        await producer.start()  # InitProducerId
        try:
            async with producer.transaction():  # committed when the block ends
                for partition, values in COMMITTED.items():
                    for value in values:
                        await producer.send(topic, value, partition=partition)
            await producer.begin_transaction()
            for partition, values in ABORTED.items():
                for value in values:
                    assert (await producer.send_and_wait(topic, value, partition=partition)).offset >= 0
            await producer.abort_transaction()
        finally:
            await producer.stop()
    asyncio.run(asyncio.wait_for(run(), 90))
    assert_only_committed_is_read(cluster, topic)


# -- 2. the wire --------------------------------------------------------------------------------
def test_the_coordinator_of_a_transactional_id_is_a_live_broker_every_node_names(cluster):
    """FindCoordinator key type 1 (v4, batched keys, and v1, one key) names the same live
    broker from every node, at its Kafka listener; that broker serves InitProducerId for
    the id and the others answer NOT_COORDINATOR, so a client is sent where it must go."""
    tids = tuple(f"txw-find-{i}" for i in range(4))
    answers = {}
    for node in cluster.hosts:
        m = schema("find_coordinator", 4)

        def attempt():
            with Wire(cluster, node) as w:
                found = w.call(m.FindCoordinatorRequest(key_type=1, coordinator_keys=tids)).coordinators
            return max(int(f.error_code) for f in found), found
        error, found = retried(attempt)
        assert error == NONE, found
        assert [f.key for f in found] == list(tids)
        answers[node] = {f.key: (int(f.node_id), f.host, int(f.port)) for f in found}
        with Wire(cluster, node) as w:  # v1: one key, the answer's top-level fields
            old = w.call(schema("find_coordinator", 1).FindCoordinatorRequest(key=tids[0], key_type=1))
        assert int(old.error_code) == NONE, old
        assert (int(old.node_id), old.host, int(old.port)) == answers[node][tids[0]]
    assert answers[1] == answers[2] == answers[3]
    for tid, (node_id, host, port) in answers[1].items():
        assert cluster.running(node_id)
        conf = cluster.config.node(node_id)
        assert (host, port) == (conf.host, conf.kafka_port)
        with Wire(cluster, node_id) as w:
            assert init_producer_id(w, tid)[0] == NONE
        other = next(n for n in cluster.hosts if n != node_id)
        with Wire(cluster, other) as w:
            assert init_producer_id(w, tid)[0] == NOT_COORDINATOR


def test_a_transactional_batch_to_a_partition_outside_the_transaction_is_refused_and_not_stored(cluster):
    topic = make_topic(cluster, "txw-outside", 2)
    tid = "txw-outside-1"
    pid, epoch = init_producer(cluster, tid)
    add_partitions(cluster, tid, pid, epoch, topic, [0])
    assert produce(cluster, topic, 0, txn_batch(pid, epoch, 0, [b"in"]), tid) == (NONE, 0)
    assert produce(cluster, topic, 1, txn_batch(pid, epoch, 0, [b"out"]), tid)[0] == INVALID_TXN_STATE
    assert list_offset(cluster, topic, 1, READ_UNCOMMITTED) == 0
    assert data_values(fetch(cluster, topic, 1, READ_UNCOMMITTED).records) == []
    # the producer's transaction is unharmed: it commits what it wrote where it may
    end_txn(cluster, tid, pid, epoch, commit=True)
    assert read_all(cluster, topic, 2, "read_committed") == {0: [b"in"], 1: []}


def test_a_batch_the_coordinator_cannot_verify_in_time_is_refused_and_never_written_later(cluster):
    """KIP-890's check has a bound: while the transaction's coordinator is paused, the
    partition leader answers NOT_ENOUGH_REPLICAS (retriable, "not written") before the
    client stops waiting, and once the coordinator answers again the batch is still not
    in the log. A client that gave up on a batch may give its sequence number to the next
    transaction's record (librdkafka does, on abort), which a late append would shadow as
    its duplicate: acknowledged, never written. The client's retry then writes it once."""
    c = cluster  # the pause is shorter than the broker session; the cluster is settled again at the end
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": "held", "partitions_count": 1,
                                                           "replication_factor": 1}, headers=ADMIN_HTTP)
    assert status == 201, body
    c.wait_until(lambda: http_json("GET", f"{c.url(1)}/topics/held/partitions/0/offsets",
                                   headers=ADMIN_HTTP)[0] == 200, 20, "topic held ready")
    leader_id = leader(c, "held", 0)
    # neither the partition's leader nor the active controller (a paused controller would stall metadata)
    busy = {leader_id, c.raft_leader()}
    tid = next((f"held-{i}" for i in range(100) if find_coordinator(c, f"held-{i}") not in busy),
               None) or next(f"held-{i}" for i in range(100) if find_coordinator(c, f"held-{i}") != leader_id)
    coordinator = find_coordinator(c, tid)
    pid, epoch = init_producer(c, tid)
    add_partitions(c, tid, pid, epoch, "held", [0])
    m = schema("produce", 9)
    request = m.ProduceRequest(transactional_id=tid, acks=-1, timeout=datetime.timedelta(seconds=10),
                               topic_data=(m.TopicProduceData(name="held", partition_data=(
                                   m.PartitionProduceData(index=0, records=txn_batch(pid, epoch, 0, [b"v"])),)),))
    c.pause(coordinator)
    try:
        with Wire(c, leader_id) as w:
            w.sock.settimeout(8.0)  # the client's patience, with the coordinator paused all along
            answer = w.call(request)
    finally:
        c.resume(coordinator)
    assert int(answer.responses[0].partition_responses[0].error_code) == NOT_ENOUGH_REPLICAS, answer
    time.sleep(3)  # the coordinator answers what it was asked while paused
    assert list_offset(c, "held", 0, READ_UNCOMMITTED) == 0
    deadline = time.monotonic() + DEADLINE_S
    while True:  # the client's retry, answered once the coordinator is back
        error, base = produce(c, "held", 0, txn_batch(pid, epoch, 0, [b"v"]), tid)
        if error != NOT_ENOUGH_REPLICAS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (error, base) == (NONE, 0)
    end_txn(c, tid, pid, epoch, commit=True)
    assert read_all(c, "held", 1, "read_committed") == {0: [b"v"]}
    c.wait_until(lambda: brokers_settled(c), 30, "every broker unfenced, every partition with its full ISR")


def brokers_settled(c: LocalCluster) -> bool:
    status, body = http_json("GET", c.v3(1) + "/brokers", headers=ADMIN_HTTP)
    if status != 200 or len(body["data"]) != 3 or any(b.get("fenced") for b in body["data"]):
        return False
    status, topics = http_json("GET", c.v3(1) + "/topics", headers=ADMIN_HTTP)
    for topic in topics["data"] if status == 200 else ():
        status, parts = http_json("GET", c.v3(1) + f"/topics/{topic['topic_name']}/partitions", headers=ADMIN_HTTP)
        if status != 200 or any(len(p["isr"]) != len(p["replica_ids"]) for p in parts["data"]):
            return False
    return status == 200


def test_a_control_batch_from_a_client_is_refused_and_commits_nothing(cluster):
    """A producer may not write its own COMMIT marker: the broker refuses it, stores
    nothing, and the transaction stays open (hidden from read_committed) until the
    coordinator ends it."""
    topic = make_topic(cluster, "txw-control", 1)
    tid = "txw-control-1"
    pid, epoch = init_producer(cluster, tid)
    add_partitions(cluster, tid, pid, epoch, topic, [0])
    assert produce(cluster, topic, 0, txn_batch(pid, epoch, 0, [b"open"]), tid) == (NONE, 0)
    for commit in (True, False):
        error, _ = produce(cluster, topic, 0, encode_control_batch(pid, epoch, commit, 0), tid)
        assert error == INVALID_RECORD
    error, _ = produce(cluster, topic, 0, encode_control_batch(pid, epoch, True, 0), None)
    assert error == INVALID_RECORD
    assert list_offset(cluster, topic, 0, READ_UNCOMMITTED) == 1  # only the record
    assert list_offset(cluster, topic, 0, READ_COMMITTED) == 0  # still open
    assert describe_txn(cluster, tid).transaction_state == "Ongoing"
    end_txn(cluster, tid, pid, epoch, commit=False)
    assert read_all(cluster, topic, 1, "read_committed") == {0: []}


@pytest.mark.parametrize("version, expected", [(0, INVALID_PRODUCER_EPOCH), (1, INVALID_PRODUCER_EPOCH),
                                               (2, PRODUCER_FENCED), (3, PRODUCER_FENCED)])
def test_end_txn_from_a_fenced_producer_is_refused_with_its_versions_code(cluster, version, expected):
    """A second InitProducerId for the id (a new instance of the producer) fences the
    first while its transaction is open: the first answer is CONCURRENT_TRANSACTIONS (its
    transaction is being aborted; the client retries), then a newer epoch. The zombie's
    EndTxn commit is refused: PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before (the
    older versions know no PRODUCER_FENCED); nothing of it becomes visible."""
    topic = make_topic(cluster, f"txw-fenced-v{version}", 1)
    tid = f"txw-fenced-v{version}"
    pid, epoch = init_producer(cluster, tid)
    add_partitions(cluster, tid, pid, epoch, topic, [0])
    assert produce(cluster, topic, 0, txn_batch(pid, epoch, 0, [b"zombie"]), tid) == (NONE, 0)
    with Wire(cluster, find_coordinator(cluster, tid)) as w:
        assert init_producer_id(w, tid)[0] == CONCURRENT_TRANSACTIONS
    new_pid, new_epoch = init_producer(cluster, tid)
    assert new_pid == pid and new_epoch > epoch
    with Wire(cluster, find_coordinator(cluster, tid)) as w:
        answer = w.call(end_txn_request(tid, pid, epoch, commit=True, version=version))
    assert int(answer.error_code) == expected
    assert read_all(cluster, topic, 1, "read_committed") == {0: []}
    # the id belongs to the new instance, with no transaction open (start time -1)
    state = describe_txn(cluster, tid)
    assert (state.transaction_state, state.producer_epoch, state.transaction_start_time) == ("Empty", new_epoch, -1)


def test_a_transaction_timeout_over_the_maximum_is_refused(cluster):
    tid = "txw-timeout-1"
    coordinator = find_coordinator(cluster, tid)
    with Wire(cluster, coordinator) as w:
        for version in (0, 4):
            error, pid, _ = init_producer_id(w, tid, timeout_ms=MAX_TIMEOUT_MS + 1, version=version)
            assert (error, pid) == (INVALID_TRANSACTION_TIMEOUT, -1)
    assert int(describe_txn(cluster, tid).error_code) == TRANSACTIONAL_ID_NOT_FOUND  # nothing was made
    with Wire(cluster, coordinator) as w:
        assert init_producer_id(w, tid, timeout_ms=MAX_TIMEOUT_MS)[0] == NONE  # the maximum itself is allowed
    assert describe_txn(cluster, tid).transaction_timeout == datetime.timedelta(milliseconds=MAX_TIMEOUT_MS)


def test_a_second_end_txn_while_the_first_completes_is_told_to_retry(cluster):
    """Two EndTxn commits of one transaction sent at once, on two connections to the
    coordinator: one is answered OK, the other CONCURRENT_TRANSACTIONS (the first is still
    being written) or OK (a retry of a commit already complete); a client retrying the
    second gets OK, and the transaction commits once."""
    topic = make_topic(cluster, "txw-concurrent", 2)
    tid = "txw-concurrent-1"
    coordinator = find_coordinator(cluster, tid)
    seen: list[int] = []
    expected: dict[int, list[bytes]] = {0: [], 1: []}
    for attempt in range(5):
        pid, epoch = init_producer(cluster, tid)
        add_partitions(cluster, tid, pid, epoch, topic, [0, 1])
        for p in (0, 1):
            value = f"t{attempt}-p{p}".encode()
            assert produce(cluster, topic, p, txn_batch(pid, epoch, 0, [value]), tid)[0] == NONE
            expected[p].append(value)
        with Wire(cluster, coordinator) as first, Wire(cluster, coordinator) as second:
            request = end_txn_request(tid, pid, epoch, commit=True)
            sent = first.send(request), second.send(request)
            answers = [int(first.receive(type(request), sent[0]).error_code),
                       int(second.receive(type(request), sent[1]).error_code)]
        assert sorted(answers)[0] == NONE and sorted(answers)[1] in (NONE, CONCURRENT_TRANSACTIONS), answers
        seen += answers
        end_txn(cluster, tid, pid, epoch, commit=True)  # the retry: OK once the commit is complete
        if CONCURRENT_TRANSACTIONS in seen:
            break
    assert CONCURRENT_TRANSACTIONS in seen, seen
    assert read_all(cluster, topic, 2, "read_committed") == expected


def test_an_open_transaction_as_the_admin_apis_and_readers_see_it_then_committed(cluster):
    """While a transaction is open: DescribeTransactions says Ongoing with its partitions,
    ListTransactions lists it under Ongoing only, DescribeProducers gives its first offset,
    ListOffsets and Fetch at read_committed stop at the LSO (its first offset) while
    read_uncommitted goes to the high watermark. Once committed: CompleteCommit, no open
    transaction at the partition, and read_committed reads it all."""
    topic = make_topic(cluster, "txw-open", 2)
    tid = "txw-open-1"
    assert produce(cluster, topic, 0, plain_batch([b"before"]), None) == (NONE, 0)
    pid, epoch = init_producer(cluster, tid)
    add_partitions(cluster, tid, pid, epoch, topic, [0, 1])
    assert produce(cluster, topic, 0, txn_batch(pid, epoch, 0, [b"t0", b"t1", b"t2"]), tid) == (NONE, 1)
    assert produce(cluster, topic, 1, txn_batch(pid, epoch, 0, [b"u0"]), tid) == (NONE, 0)

    state = describe_txn(cluster, tid)
    assert int(state.error_code) == NONE
    assert (state.transaction_state, state.producer_id, state.producer_epoch) == ("Ongoing", pid, epoch)
    assert {t.topic: sorted(t.partitions) for t in state.topics} == {topic: [0, 1]}
    assert state.transaction_start_time > 0
    ongoing, unknown = listed_txns(cluster, ("Ongoing", "NoSuchState"))
    assert ongoing.get(tid) == (pid, "Ongoing") and unknown == {"NoSuchState"}
    assert tid not in listed_txns(cluster, ("CompleteCommit",))[0]
    assert producers(cluster, topic, 0)[pid] == 1 and producers(cluster, topic, 1)[pid] == 0

    assert (list_offset(cluster, topic, 0, READ_COMMITTED), list_offset(cluster, topic, 0, READ_UNCOMMITTED)) == (1, 4)
    committed_view = fetch(cluster, topic, 0, READ_COMMITTED)
    assert (committed_view.high_watermark, committed_view.last_stable_offset) == (4, 1)
    assert data_values(committed_view.records) == [(0, b"before")]
    assert data_values(fetch(cluster, topic, 0, READ_UNCOMMITTED).records) == [
        (0, b"before"), (1, b"t0"), (2, b"t1"), (3, b"t2")]
    assert data_values(fetch(cluster, topic, 1, READ_COMMITTED).records) == []

    end_txn(cluster, tid, pid, epoch, commit=True)
    wait_stable(cluster, topic, (0, 1))
    cluster.wait_until(lambda: describe_txn(cluster, tid).transaction_state == "CompleteCommit", DEADLINE_S,
                       "the commit complete")
    assert tid in listed_txns(cluster, ("CompleteCommit",))[0] and tid not in listed_txns(cluster, ("Ongoing",))[0]
    assert producers(cluster, topic, 0)[pid] == -1 and producers(cluster, topic, 1)[pid] == -1
    assert list_offset(cluster, topic, 0, READ_COMMITTED) == list_offset(cluster, topic, 0, READ_UNCOMMITTED) == 5
    after = fetch(cluster, topic, 0, READ_COMMITTED)
    assert (after.high_watermark, after.last_stable_offset) == (5, 5)
    assert data_values(after.records) == [(0, b"before"), (1, b"t0"), (2, b"t1"), (3, b"t2")]
    assert [h.is_control for h, _ in batches(after.records)] == [False, False, True]  # the COMMIT marker at 4
    assert list(after.aborted_transactions or ()) == []


def _listed_v2(c: LocalCluster, pattern: str | None) -> tuple[set[str], set[int]]:
    """ListTransactions v2 asked of every broker: (ids listed, error codes answered)."""
    m = schema("list_transactions", 2)
    ids: set[str] = set()
    codes: set[int] = set()
    for node in c.hosts:
        with Wire(c, node) as w:
            answer = w.call(m.ListTransactionsRequest(state_filters=(), producer_id_filters=(),
                                                      transactional_id_pattern=pattern))
        codes.add(int(answer.error_code))
        ids |= {t.transactional_id for t in answer.transaction_states}
    return ids, codes


def test_list_transactions_v2_keeps_the_ids_its_pattern_matches_whole(cluster):
    """KIP-1152: the pattern must match the whole transactional id; a pattern that is no
    regular expression is INVALID_REGULAR_EXPRESSION; null lists every id."""
    for tid in ("txw-pat-a1", "txw-pat-a2", "txw-pat-b1"):
        init_producer(cluster, tid)
    assert _listed_v2(cluster, "txw-pat-a.")[0] & {"txw-pat-a1", "txw-pat-a2", "txw-pat-b1"} == {
        "txw-pat-a1", "txw-pat-a2"}
    assert _listed_v2(cluster, "pat-a")[0] == set()  # a part of an id is no match
    everything = _listed_v2(cluster, None)[0]
    assert {"txw-pat-a1", "txw-pat-a2", "txw-pat-b1"} <= everything
    assert _listed_v2(cluster, "")[0] == everything
    assert _listed_v2(cluster, "txw-pat-(")[1] == {128}  # INVALID_REGULAR_EXPRESSION


def test_read_committed_fetch_names_an_aborted_transaction(cluster):
    """After an abort, Fetch at read_committed returns the aborted batch (the log holds
    it) and names its producer and first offset in aborted_transactions, so the client
    drops it; read_uncommitted gets no such list. The next, committed, transaction of
    the same producer is not in the list."""
    topic = make_topic(cluster, "txw-aborted", 1)
    tid = "txw-aborted-1"
    pid, epoch = init_producer(cluster, tid)
    add_partitions(cluster, tid, pid, epoch, topic, [0])
    assert produce(cluster, topic, 0, txn_batch(pid, epoch, 0, [b"x0", b"x1"]), tid) == (NONE, 0)
    end_txn(cluster, tid, pid, epoch, commit=False)  # ABORT marker at 2
    add_partitions(cluster, tid, pid, epoch, topic, [0])
    assert produce(cluster, topic, 0, txn_batch(pid, epoch, 2, [b"kept"]), tid) == (NONE, 3)
    end_txn(cluster, tid, pid, epoch, commit=True)  # COMMIT marker at 4
    wait_stable(cluster, topic, (0,))

    committed_view = fetch(cluster, topic, 0, READ_COMMITTED)
    assert (committed_view.high_watermark, committed_view.last_stable_offset) == (5, 5)
    assert [(int(a.producer_id), int(a.first_offset)) for a in committed_view.aborted_transactions] == [(pid, 0)]
    assert data_values(committed_view.records) == [(0, b"x0"), (1, b"x1"), (3, b"kept")]
    assert list(fetch(cluster, topic, 0, READ_UNCOMMITTED).aborted_transactions or ()) == []
    # from past the aborted transaction, it is not named any more
    assert list(fetch(cluster, topic, 0, READ_COMMITTED, offset=3).aborted_transactions or ()) == []
    assert read_all(cluster, topic, 1, "read_committed") == {0: [b"kept"]}


# -- 3. ACLs on TRANSACTIONAL_ID ---------------------------------------------------------------
def grant(c: LocalCluster, resource_type: str, name: str, operation: str) -> None:
    acl = {"resource_type": resource_type, "resource_name": name, "pattern_type": "LITERAL",
           "principal": "User:alice", "host": "*", "operation": operation, "permission": "ALLOW"}
    status, body = http_json("POST", c.v3(1) + "/acls", acl, headers=ADMIN_HTTP)
    assert status == 201, body


def test_a_transactional_producer_needs_write_on_its_transactional_id(cluster):
    """alice may write the topic but not the transactional id: init_transactions fails
    with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, a fatal error for the producer. With WRITE
    on the id, a new producer of hers initializes and commits."""
    topic = make_topic(cluster, "txw-acl", 1)
    tid = "txw-acl-1"
    grant(cluster, "TOPIC", topic, "WRITE")
    try:
        conf = {**sasl(cluster, "alice"), "transactional.id": tid, "message.timeout.ms": 10_000}
        refused = confluent_kafka.Producer(conf)
        with pytest.raises(confluent_kafka.KafkaException) as caught:
            refused.init_transactions(20)
        del refused  # a producer with a fatal error is done (its close() raises the error again)
        error = caught.value.args[0]
        assert error.code() == confluent_kafka.KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, error
        assert error.fatal(), error

        grant(cluster, "TRANSACTIONAL_ID", tid, "WRITE")
        producer = confluent_kafka.Producer(conf)
        try:
            producer.init_transactions(20)
            producer.begin_transaction()
            producer.produce(topic, b"alice-committed", partition=0)
            producer.commit_transaction(20)
        finally:
            producer.close()
        assert read_all(cluster, topic, 1, "read_committed") == {0: [b"alice-committed"]}
    finally:
        status, _ = http_json("DELETE", cluster.v3(1) + "/acls?resource_type=ANY&pattern_type=ANY&operation=ANY"
                              "&permission=ANY&principal=User%3Aalice", headers=ADMIN_HTTP)
        assert status == 200
