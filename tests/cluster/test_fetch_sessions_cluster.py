"""Incremental fetch sessions (KIP-227) and Fetch v12–17 against real brokers: the
protocol as Kafka answers it (raw v17 frames), kafka-python's consumer (which uses
sessions) keeping its session while its assignment grows, and confluent-kafka,
kafka-python, aiokafka and kcat consuming everything once across a leader change and
a broker restart."""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import shutil
import subprocess
import threading
import time
import uuid

import pytest
from cluster_client import call, create_topic
from kafka_wire import kafka_socket, leader_of, wire_call

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
aiokafka = pytest.importorskip("aiokafka", reason="aiokafka is a test extra")
from confluent_kafka.admin import AdminClient, NewPartitions  # noqa: E402
from kio.schema.fetch.v12 import request as v12  # noqa: E402
from kio.schema.fetch.v17 import request as v17  # noqa: E402

NOT_LEADER_OR_FOLLOWER, FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH = 6, 70, 71
UNKNOWN_TOPIC_ID, FETCH_SESSION_TOPIC_ID_ERROR = 100, 106


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def topic_id(c, topic: str) -> uuid.UUID:
    status, body = call("GET", f"{c.v3(1)}/topics/{topic}")
    assert status == 200, body
    return uuid.UUID(body["topic_id"])


def produce(c, topic: str, values_by_partition: dict[int, list[bytes]]) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                         "message.timeout.ms": 60000})
    for partition, values in values_by_partition.items():
        for value in values:
            producer.produce(topic, value=value, partition=partition)
    assert producer.flush(60) == 0


def fetch(session_id: int, epoch: int, tid: uuid.UUID, offsets: dict[int, int], forgotten=(),
          epochs: dict[int, int] | None = None) -> v17.FetchRequest:
    """A consumer's Fetch v17 (max_wait 0), for partitions -> fetch offsets."""
    parts = tuple(v17.FetchPartition(partition=p, fetch_offset=o, partition_max_bytes=1 << 20,
                                     current_leader_epoch=(epochs or {}).get(p, -1))
                  for p, o in offsets.items())
    return v17.FetchRequest(
        max_wait=datetime.timedelta(0), min_bytes=0, session_id=session_id, session_epoch=epoch,
        topics=(v17.FetchTopic(topic_id=tid, partitions=parts),) if parts else (),
        forgotten_topics_data=(v17.ForgottenTopic(topic_id=tid, partitions=tuple(forgotten)),) if forgotten else ())


def answered(answer) -> dict[int, object]:
    return {int(p.partition_index): p for t in answer.responses for p in t.partitions}


def test_an_incremental_session_answers_what_changed_grows_and_ends_as_kafka_does(cluster):
    c = cluster
    # one replica each: a partition led elsewhere has no follower here to serve the consumer
    # (KIP-392) and answers NOT_LEADER_OR_FOLLOWER
    status, body = call("POST", c.v3(1) + "/topics", {"topic_name": "fs-raw", "partitions_count": 3,
                                                     "replication_factor": 1})
    assert status == 201, body
    produce(c, "fs-raw", {p: [f"r{p}-{i}".encode() for i in range(5)] for p in range(3)})
    tid = topic_id(c, "fs-raw")
    leaders = {p: leader_of(c, "fs-raw", p) for p in range(3)}
    node = leaders[0]
    elsewhere = next((p for p in (1, 2) if leaders[p] != node), None)
    assert elsewhere is not None, f"every partition is led by one broker: {leaders}"
    s = kafka_socket(c, node)
    try:
        full = wire_call(s, fetch(0, 0, tid, {0: 0}), 1)
        assert int(full.error_code) == 0 and full.session_id != 0, full
        sid = full.session_id
        [topic] = full.responses
        assert topic.topic_id == tid and answered(full)[0].high_watermark == 5 and answered(full)[0].records
        # the session outlives its connection, as in Kafka; the client moved on to offset
        # 5: nothing new, so the answer names no partition
        s.close()
        s = kafka_socket(c, node)
        quiet = wire_call(s, fetch(sid, 1, tid, {0: 5}), 2)
        assert (int(quiet.error_code), quiet.session_id, quiet.responses) == (0, sid, ())
        # a partition added to the session, on another broker: NOT_LEADER_OR_FOLLOWER with the
        # current leader and its endpoint (KIP-951)
        grown = wire_call(s, fetch(sid, 2, tid, {elsewhere: 0}), 3)
        hint = answered(grown)[elsewhere]
        assert list(answered(grown)) == [elsewhere] and int(hint.error_code) == NOT_LEADER_OR_FOLLOWER
        assert hint.current_leader.leader_id == leaders[elsewhere]
        leader_conf = c.config.node(leaders[elsewhere])
        assert [(e.node_id, e.host, e.port) for e in grown.node_endpoints] == [
            (leaders[elsewhere], leader_conf.host, leader_conf.kafka_port)]
        # new records on partition 0: answered from the session's own position, with the
        # erring partition again (errors are always answered)
        produce(c, "fs-raw", {0: [b"late-1", b"late-2"]})
        moved = wire_call(s, fetch(sid, 3, tid, {}), 4)
        assert sorted(answered(moved)) == sorted([0, elsewhere])
        assert answered(moved)[0].high_watermark == 7 and answered(moved)[0].records
        # out of order, another session's id, the other naming scheme: refused whole
        stale = wire_call(s, fetch(sid, 3, tid, {}), 5)
        assert (int(stale.error_code), stale.session_id, stale.responses) == (INVALID_FETCH_SESSION_EPOCH, 0, ())
        unknown = wire_call(s, fetch(sid + 1, 4, tid, {}), 6)
        assert int(unknown.error_code) == FETCH_SESSION_ID_NOT_FOUND
        by_name = wire_call(s, v12.FetchRequest(
            max_wait=datetime.timedelta(0), min_bytes=0, session_id=sid, session_epoch=4, topics=(),
            forgotten_topics_data=()), 7)
        assert int(by_name.error_code) == FETCH_SESSION_TOPIC_ID_ERROR
        # the session went on regardless; forgetting every partition ends it
        ended = wire_call(s, fetch(sid, 4, tid, {}, forgotten=(0, elsewhere)), 8)
        assert (int(ended.error_code), ended.session_id, ended.responses) == (0, 0, ())
        gone = wire_call(s, fetch(sid, 5, tid, {}), 9)
        assert int(gone.error_code) == FETCH_SESSION_ID_NOT_FOUND
        # a topic id no topic has (or the zero id): UNKNOWN_TOPIC_ID for its partition,
        # the rest answered
        stranger = uuid.uuid4()
        mixed = wire_call(s, v17.FetchRequest(
            max_wait=datetime.timedelta(0), min_bytes=0, session_id=0, session_epoch=-1, forgotten_topics_data=(),
            topics=tuple(v17.FetchTopic(topic_id=t, partitions=(v17.FetchPartition(
                partition=0, fetch_offset=0, partition_max_bytes=1000),)) for t in (stranger, None, tid))), 10)
        assert mixed.session_id == 0
        assert [(t.topic_id, [int(p.error_code) for p in t.partitions]) for t in mixed.responses] == [
            (stranger, [UNKNOWN_TOPIC_ID]), (None, [UNKNOWN_TOPIC_ID]), (tid, [0])]
    finally:
        s.close()


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


INCREMENTAL = re.compile(r"Node (\d+) sent an incremental fetch response for session (\d+) "
                         r"with (\d+) response partitions \((\d+) implied\)")


def session_sizes(lines: list[str]) -> dict[tuple[int, int], int]:
    """(node, session id) -> the most partitions kafka-python's session held with it."""
    sizes: dict[tuple[int, int], int] = {}
    for line in lines:
        if m := INCREMENTAL.match(line):
            key = (int(m[1]), int(m[2]))
            sizes[key] = max(sizes.get(key, 0), int(m[3]) + int(m[4]))
    return sizes


def poll_kafka_python(consumer, got: list, want: int, timeout_s: float = 40) -> None:
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        # kafka-python bounds its group work (the commit before a rejoin) by the poll's
        # timeout: 200 ms timed that commit out on a loaded machine, and the consumer then
        # stayed on its old partitions
        for batch in consumer.poll(timeout_ms=1000).values():
            got.extend(m.value for m in batch)


def test_kafka_pythons_session_survives_partitions_added_to_its_assignment(cluster):
    c = cluster
    create_topic(c, "fs-grow", 3)
    produce(c, "fs-grow", {p: [f"a{p}-{i}".encode() for i in range(20)] for p in range(3)})
    lines = _Lines()
    # the fetcher's lines count the session's partitions; the coordinator's say, should the
    # new partitions never arrive, whether the consumer rejoined and what it was given
    logs = [logging.getLogger("kafka.consumer.fetcher"), logging.getLogger("kafka.coordinator")]
    old_levels = [log.level for log in logs]
    for log in logs:
        log.addHandler(lines)
        log.setLevel(logging.DEBUG)
    consumer = kafka.KafkaConsumer(bootstrap_servers=c.bootstrap_servers, group_id="fs-grow-group",
                                   auto_offset_reset="earliest", metadata_max_age_ms=1000,
                                   fetch_max_wait_ms=100)
    try:
        consumer.subscribe(["fs-grow"])
        got: list[bytes] = []
        poll_kafka_python(consumer, got, 60)
        assert len(got) == 60
        poll_kafka_python(consumer, got, 61, timeout_s=1)  # a few incremental fetches with nothing new
        before = session_sizes(lines.lines)
        assert before, "kafka-python opened no incremental fetch session"
        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
        admin.create_partitions([NewPartitions("fs-grow", 9)])["fs-grow"].result(30)
        c.wait_until(lambda: all(call("GET", f"{c.url(n)}/topics/fs-grow/partitions/8/offsets")[0] == 200
                                 for n in (1, 2, 3)), 20, "the new partitions everywhere")
        produce(c, "fs-grow", {p: [f"b{p}-{i}".encode() for i in range(10)] for p in range(9)})
        poll_kafka_python(consumer, got, 150)
        assignment = sorted(tp.partition for tp in consumer.assignment())
    finally:
        consumer.close()
        for log, level in zip(logs, old_levels):
            log.removeHandler(lines)
            log.setLevel(level)
    expected = [f"a{p}-{i}".encode() for p in range(3) for i in range(20)] + [
        f"b{p}-{i}".encode() for p in range(9) for i in range(10)]
    group_lines = [line for line in lines.lines if re.search(r"rejoin: True|assigned partitions|Group|error", line)]
    assert sorted(got) == sorted(expected), (assignment, group_lines[-30:])  # everything, once
    after = session_sizes(lines.lines)
    assert any(after[key] > size for key, size in before.items() if key in after), (before, after)
    assert not [line for line in lines.lines if "invalid" in line], "a fetch answer kafka-python found invalid"


class _AiokafkaReader:
    """An aiokafka consumer of every partition in a thread of its own (its own event
    loop), collecting values until stopped; bounded by the test's timeouts."""

    def __init__(self, c, topic: str, partitions: int):
        self.values: list[bytes] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run(c, topic, partitions)), daemon=True)
        self._thread.start()

    async def _run(self, c, topic: str, partitions: int) -> None:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers=c.bootstrap_servers, auto_offset_reset="earliest",
                                             enable_auto_commit=False, metadata_max_age_ms=1000)
        try:
            await consumer.start()
            consumer.assign([aiokafka.TopicPartition(topic, p) for p in range(partitions)])
            while not self._stop.is_set():
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    self.values.extend(m.value for m in batch)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            await consumer.stop()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)


def test_every_client_consumes_everything_once_across_a_leader_change_and_a_restart(cluster):
    c = cluster
    topic, partitions = "fs-move", 3
    create_topic(c, topic, partitions)
    batches = [{p: [f"{name}{p}-{i}".encode() for i in range(30)] for p in range(partitions)} for name in "ABC"]
    expected: list[bytes] = []
    produce(c, topic, batches[0])
    expected += [v for values in batches[0].values() for v in values]
    tps = [kafka.TopicPartition(topic, p) for p in range(partitions)]
    sessions = _Lines()
    fetcher_log = logging.getLogger("kafka.consumer.fetcher")
    fetcher_log.addHandler(sessions)
    old_level = fetcher_log.level
    fetcher_log.setLevel(logging.DEBUG)
    kp = kafka.KafkaConsumer(bootstrap_servers=c.bootstrap_servers, auto_offset_reset="earliest",
                             enable_auto_commit=False, metadata_max_age_ms=1000, fetch_max_wait_ms=100)
    kp.assign(tps)
    protocol = _Lines()
    ck_log = logging.getLogger("fs-move-librdkafka")
    ck_log.addHandler(protocol)
    ck_log.setLevel(logging.DEBUG)
    ck_log.propagate = False
    ck = confluent_kafka.Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": "fs-move-unused",
                                   "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 1000,
                                   "debug": "protocol"}, logger=ck_log)
    ck.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in range(partitions)])
    aio = _AiokafkaReader(c, topic, partitions)
    got: dict[str, list[bytes]] = {"kafka-python": [], "confluent-kafka": []}

    def read_until(count: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (
                min(len(got["kafka-python"]), len(got["confluent-kafka"]), len(aio.values)) < count):
            for batch in kp.poll(timeout_ms=100).values():
                got["kafka-python"].extend(m.value for m in batch)
            for m in ck.consume(100, timeout=0.1):
                assert m.error() is None or m.error().retriable() or m.error().code() == \
                    confluent_kafka.KafkaError._PARTITION_EOF, m.error()
                if m.error() is None:
                    got["confluent-kafka"].append(m.value())

    try:
        read_until(len(expected))
        victim = leader_of(c, topic, 0)
        c.stop(victim)  # partition 0's leadership moves to another replica
        other = next(n for n in c.hosts if n != victim)
        c.wait_until(lambda: call("GET", f"{c.url(other)}/topics/{topic}/partitions/0")[1].get("leader")
                     not in (victim, -1, None), 30, "a new leader of partition 0")
        produce(c, topic, batches[1])
        expected += [v for values in batches[1].values() for v in values]
        read_until(len(expected))
        c.start_node(victim)  # back, with an empty session cache: clients open new sessions
        c.wait_ready([victim], timeout_s=60)
        produce(c, topic, batches[2])
        expected += [v for values in batches[2].values() for v in values]
        read_until(len(expected))
    finally:
        kp.close()
        ck.close()
        aio.close()
        ck_log.removeHandler(protocol)
        fetcher_log.removeHandler(sessions)
        fetcher_log.setLevel(old_level)
    got["aiokafka"] = aio.values
    assert not aio.errors, aio.errors
    for client, values in got.items():
        assert sorted(values) == sorted(expected), client  # everything, once
    # kafka-python fetched in incremental sessions, and found no answer of them invalid
    assert session_sizes(sessions.lines), "kafka-python opened no incremental fetch session"
    assert not [line for line in sessions.lines if "invalid" in line]
    # librdkafka took the newest Fetch version offered (v12+: flexible, topic ids)
    versions = {int(m[1]) for line in protocol.lines if (m := re.search(r"Sent FetchRequest \(v(\d+)", line))}
    assert versions and min(versions) >= 12, versions
    # a client that last fetched in epoch 0 and asks from past where this log's epoch 0
    # ends (the first leader's 30 records) is told where it diverged (v12+, KIP-320)
    now_leader = leader_of(c, topic, 0)
    s = kafka_socket(c, now_leader)
    try:
        answer = wire_call(s, v17.FetchRequest(
            max_wait=datetime.timedelta(0), min_bytes=0, forgotten_topics_data=(), topics=(v17.FetchTopic(
                topic_id=topic_id(c, topic), partitions=(v17.FetchPartition(
                    partition=0, fetch_offset=45, last_fetched_epoch=0, partition_max_bytes=1 << 20),)),)))
    finally:
        s.close()
    [part] = answered(answer).values()
    assert int(part.error_code) == 0 and not part.records
    assert (part.diverging_epoch.epoch, part.diverging_epoch.end_offset) == (0, 30)
    if shutil.which("kcat") is not None:
        run = subprocess.run(["kcat", "-C", "-b", c.bootstrap_servers, "-t", topic, "-o", "beginning", "-e",
                              "-q", "-f", "%s\\n"], capture_output=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert sorted(run.stdout.split()) == sorted(expected)
