"""Record the Kafka request frames real clients send (confluent-kafka, kafka-python,
aiokafka: produce, fetch, metadata, groups, transactions, admin calls) into the fuzz
corpus of target_kafka_requests.py.

    KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS=90 .venv/bin/python tests/fuzz/record_kafka_requests.py

A one-node cluster whose node binds 127.0.0.(N+1) while it advertises 127.0.0.N, where a
loopback proxy forwards every port and writes each client-to-broker Kafka frame to
corpus/kafka_requests/<key>-v<version>-<digest> (a few per API and version, small ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import struct
import threading
import uuid

from target_kafka_requests import CORPUS

from kraft.server.local_cluster import LocalCluster

PER_VERSION = 6            # frames kept per (API key, version)
LARGEST_FRAME = 64 * 1024  # seeds stay small


class Recorder:
    def __init__(self) -> None:
        self.kept: dict[tuple[int, int], int] = {}
        self.lock = threading.Lock()

    def frame(self, frame: bytes) -> None:
        if len(frame) < 8 or len(frame) > LARGEST_FRAME:
            return
        key, version = struct.unpack_from(">hh", frame)
        with self.lock:
            if self.kept.get((key, version), 0) >= PER_VERSION:
                return
            path = CORPUS / f"{key:02d}-v{version}-{hashlib.sha1(frame).hexdigest()[:12]}"
            if not path.exists():
                path.write_bytes(frame)
                self.kept[(key, version)] = self.kept.get((key, version), 0) + 1


async def _pipe(reader, writer, record=None) -> None:
    pending = b""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
            if record is not None:
                pending += data
                while len(pending) >= 4 and len(pending) >= 4 + (size := struct.unpack_from(">i", pending)[0]):
                    record(pending[4:4 + size])
                    pending = pending[4 + size:]
    writer.close()


async def _proxy(listen: tuple[str, int], target: tuple[str, int], record=None) -> asyncio.Server:
    async def connected(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer, record), _pipe(up_reader, writer))
    return await asyncio.start_server(connected, *listen)


def start_proxies(ports: list[tuple[int, bool]], host: str, bound: str, recorder: Recorder):
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def run():
        for port, kafka in ports:
            await _proxy((host, port), (bound, port), recorder.frame if kafka else None)
        ready.set()
    threading.Thread(target=lambda: (loop.run_until_complete(run()), loop.run_forever()), daemon=True).start()
    ready.wait(10)
    return loop


def confluent_workload(bootstrap: str, topic: str) -> None:
    import confluent_kafka
    from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, 2, 1)]).values():
        f.result(30)
    admin.describe_configs([ConfigResource("topic", topic)])[ConfigResource("topic", topic)].result(30)
    admin.create_partitions([NewPartitions(topic, 3)])[topic].result(30)
    admin.list_consumer_groups().result(30)
    admin.describe_cluster().result(30)
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(20):
        producer.produce(topic, key=b"k%d" % i, value=b"v" * i, headers={"h": b"1"})
    producer.flush(30)
    txn = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "transactional.id": "rec-" + topic})
    txn.init_transactions(30)
    txn.begin_transaction()
    txn.produce(topic, b"in a transaction")
    txn.commit_transaction(30)
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "rec-c-" + topic,
                                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got = 0
    for _ in range(60):
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            got += 1
            consumer.commit(msg, asynchronous=False)
        if got >= 5:
            break
    consumer.close()
    for f in admin.delete_consumer_groups(["rec-c-" + topic]).values():
        with contextlib.suppress(Exception):
            f.result(30)


def kafka_python_workload(bootstrap: str, topic: str) -> None:
    import kafka
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic + "-kp", 1, 1)])
    for call in (admin.list_groups, admin.describe_cluster, admin.describe_log_dirs, admin.describe_metadata_quorum,
                 admin.list_transactions, admin.describe_user_scram_credentials, admin.list_partition_reassignments,
                 lambda: admin.describe_topic_partitions([topic]), lambda: admin.describe_groups(["rec-c-" + topic]),
                 lambda: admin.describe_acls(kafka.admin.ACLFilter(
                     principal=None, host="*", operation=kafka.admin.ACLOperation.ANY,
                     permission_type=kafka.admin.ACLPermissionType.ANY,
                     resource_pattern=kafka.admin.ResourcePatternFilter(
                         kafka.admin.ResourceType.TOPIC, None, kafka.admin.ACLResourcePatternType.ANY))),
                 lambda: admin.describe_configs([kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.TOPIC,
                                                                            topic)])):
        with contextlib.suppress(Exception):  # an admin call kraft refuses still leaves its frame
            call()
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(10):
        producer.send(topic, key=b"k", value=b"kafka-python %d" % i)
    producer.flush(30)
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="rec-kp-" + topic,
                                   auto_offset_reset="earliest", consumer_timeout_ms=8000)
    for n, _ in enumerate(consumer):
        if n >= 5:
            break
    consumer.commit()
    consumer.close()
    admin.delete_topics([topic + "-kp"])
    admin.close()


async def aiokafka_workload(bootstrap: str, topic: str) -> None:
    import aiokafka
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="rec-aio-" + topic)
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"aiokafka")
    finally:
        await producer.stop()
    consumer = aiokafka.AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="rec-aio-" + topic,
                                         auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 30)
        await consumer.commit()
    finally:
        await consumer.stop()


def main() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    recorder = Recorder()
    with LocalCluster(nodes=1) as c:
        node = c.config.node(1)
        host = node.host
        bound = host.rsplit(".", 1)[0] + f".{int(host.rsplit('.', 1)[1]) + 1}"
        text = c.config_path.read_text().replace(f'host = "{host}"', f'host = "{host}"\nbind_host = "{bound}"')
        c.config_path.write_text(text)
        ports = [(node.http_port, False), (node.raft_port, False), (node.kafka_port, True)]
        loop = start_proxies([(p, kafka) for p, kafka in ports if p], host, bound, recorder)
        c.start().wait_ready(timeout_s=90)
        bootstrap = f"{host}:{node.kafka_port}"
        topic = "rec-" + uuid.uuid4().hex[:6]
        confluent_workload(bootstrap, topic)
        kafka_python_workload(bootstrap, topic)
        asyncio.run(aiokafka_workload(bootstrap, topic))
        loop.call_soon_threadsafe(loop.stop)
    print(f"{sum(recorder.kept.values())} frames of {len(recorder.kept)} API versions in {CORPUS}")


if __name__ == "__main__":
    main()
