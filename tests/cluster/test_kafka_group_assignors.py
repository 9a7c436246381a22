"""Kafka clients' groups with the assignors of the clients' choosing: the broker relays
the group leader's assignment, as Kafka does, whatever the protocol type and name.
librdkafka's cooperative-sticky (KIP-429), a kafka-python custom assignor, aiokafka's
default, and a "connect" group on the raw wire, on the shared 3-node cluster."""

from __future__ import annotations

import asyncio
import datetime
import io
import struct
import threading
import time

import pytest
from cluster_client import call, create_topic
from kafka_wire import kafka_socket, recv_frame

pytestmark = pytest.mark.cluster

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra: ./dev test installs it")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
aiokafka = pytest.importorskip("aiokafka", reason="aiokafka is a test extra")


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def produce(c, topic: str, values: list[bytes]) -> dict[int, int]:
    """Produce with keys spread over the partitions; returns how many went to each."""
    counts: dict[int, int] = {}
    failed = []

    def report(err, msg):
        if err:
            failed.append(err)
        else:
            counts[msg.partition()] = counts.get(msg.partition(), 0) + 1

    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all", "linger.ms": 5})
    for i, value in enumerate(values):
        producer.produce(topic, value=value, key=str(i).encode(), on_delivery=report)
        producer.poll(0)
    assert producer.flush(30) == 0 and not failed, failed
    return counts


def lags(c, group: str) -> list[dict]:
    status, body = call("GET", c.v3(2) + f"/consumer-groups/{group}/lags")
    assert status == 200, body
    return body["data"]


# -- librdkafka, cooperative-sticky ----------------------------------------------------------
class CooperativeMember:
    """One confluent-kafka consumer of the group, polled by its own thread as an application
    would (a synchronous commit waits behind the member's JoinGroup on the coordinator's
    connection, and that JoinGroup waits for the other members: one thread polling them all
    in turn would hold the rebalance up). Every record it returns is committed at once
    (synchronously), so a partition that moves resumes right after it."""

    def __init__(self, name: str, conf: dict, topic: str, consumed: list):
        self.name = name
        self.revoked: list[set] = []
        self.pending: dict[tuple[str, int], int] = {}  # commits the group refused for now (rebalancing)
        self.consumer = confluent_kafka.Consumer({**conf, "client.id": name})
        self.consumer.subscribe([topic], on_revoke=self._on_revoke)
        self._owned: frozenset = frozenset()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, args=(consumed,), name=name, daemon=True)
        self._thread.start()

    def _run(self, consumed: list) -> None:
        while not self._stop.is_set():
            self.poll(consumed)
            self._owned = frozenset((tp.topic, tp.partition) for tp in self.consumer.assignment())

    def stop(self) -> None:
        """Stop polling (bounded: a poll lasts 0.1 s, a commit at most the client's timeout)."""
        self._stop.set()
        self._thread.join(90)
        assert not self._thread.is_alive(), f"{self.name} did not stop polling"

    def close(self) -> None:
        if not self._stop.is_set():
            self.stop()
        if not self._closed:
            self._closed = True
            self.consumer.close()

    def _on_revoke(self, consumer, partitions):
        gone = {(p.topic, p.partition) for p in partitions}
        self.revoked.append(gone)
        for _ in range(150):  # what it read of them must be committed before another member reads on
            # (refused while the group completes a rebalance; a loaded machine takes seconds)
            if not self._commit_pending(only=gone):
                break
            time.sleep(0.1)
        for tp in gone:
            self.pending.pop(tp, None)

    def _commit_pending(self, only=None) -> bool:
        """Commit the refused commits again; True if some are still not done."""
        wanted = {tp: o for tp, o in self.pending.items() if only is None or tp in only}
        if not wanted:
            return False
        try:
            self.consumer.commit(offsets=[confluent_kafka.TopicPartition(t, p, o) for (t, p), o in wanted.items()],
                                 asynchronous=False)
        except confluent_kafka.KafkaException:
            return True
        for tp, offset in wanted.items():
            if self.pending.get(tp) == offset:
                del self.pending[tp]
        return False

    def owned(self) -> set:
        """What it owned after its last poll."""
        return set(self._owned)

    def poll(self, consumed: list) -> None:
        self._commit_pending()
        msg = self.consumer.poll(0.1)
        if msg is None or msg.error() is not None:
            return
        consumed.append((self.name, msg.partition(), msg.offset(), msg.value()))
        tp = (msg.topic(), msg.partition())
        try:
            self.consumer.commit(message=msg, asynchronous=False)
            self.pending.pop(tp, None)
        except confluent_kafka.KafkaException:
            self.pending[tp] = msg.offset() + 1


def settle(members: list[CooperativeMember], partitions: int, until=lambda: True,
           timeout_s: float = 90) -> dict[str, set]:
    """Wait until each partition is owned and the counts are balanced (and `until()`);
    returns who owns what."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        owned = {m.name: m.owned() for m in members}
        counts = [len(o) for o in owned.values()]
        if (len(set().union(*owned.values())) == partitions and max(counts) - min(counts) <= 1
                and sum(counts) == partitions and until()):
            return owned
        time.sleep(0.1)
    raise AssertionError(f"the group did not settle: {[(m.name, sorted(m.owned())) for m in members]}")


def assert_each_partition_has_one_owner(owned: dict[str, set], topic: str, partitions: int) -> None:
    every = [tp for o in owned.values() for tp in o]
    assert sorted(every) == [(topic, p) for p in range(partitions)], owned


def test_librdkafka_cooperative_sticky_group_forms_rebalances_incrementally_and_consumes_once(cluster):
    topic, group, partitions = "asg-coop", "asg-coop-g", 6
    create_topic(cluster, topic, partitions)
    conf = {"bootstrap.servers": cluster.bootstrap_servers, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 300}
    values = [f"first-{i}".encode() for i in range(300)]
    sent = produce(cluster, topic, values)
    consumed: list = []
    members = [CooperativeMember(f"c{i}", conf, topic, consumed) for i in range(3)]
    everyone = list(members)  # closed at the end, whatever happened
    try:
        owned = settle(members, partitions)
        assert_each_partition_has_one_owner(owned, topic, partitions)
        assert all(len(o) == 2 for o in owned.values()), owned

        # a 4th member: only the partitions it gets move, the others keep theirs
        before = owned
        for m in members:
            m.revoked.clear()
        newcomer = CooperativeMember("c3", conf, topic, consumed)
        members.append(newcomer)
        everyone.append(newcomer)
        owned = settle(members, partitions, until=lambda: bool(newcomer.owned()))
        assert_each_partition_has_one_owner(owned, topic, partitions)
        revoked = set().union(*(r for m in members[:3] for r in m.revoked))
        assert revoked == owned["c3"], (revoked, owned)  # what moved went to the newcomer only
        for name in ("c0", "c1", "c2"):
            assert owned[name] <= before[name] and owned[name], (name, before, owned)  # never all revoked

        more = [f"second-{i}".encode() for i in range(150)]
        for p, n in produce(cluster, topic, more).items():
            sent[p] = sent.get(p, 0) + n
        values += more

        # one leaves: the survivors keep theirs and share its partitions; nothing revoked from them
        before = owned
        for m in members:
            m.revoked.clear()
        leaving = members.pop(1)
        # what it read must be committed before it goes (a commit refused while the group
        # completed a rebalance is still pending): Kafka's consumers commit on close too
        leaving.stop()
        deadline = time.monotonic() + 30
        while leaving._commit_pending() and time.monotonic() < deadline:
            time.sleep(0.1)
        leaving.close()
        owned = settle(members, partitions)
        assert_each_partition_has_one_owner(owned, topic, partitions)
        for m in members:
            assert before[m.name] <= owned[m.name], (m.name, before, owned)
            assert not any(m.revoked), (m.name, m.revoked)

        more = [f"third-{i}".encode() for i in range(150)]
        for p, n in produce(cluster, topic, more).items():
            sent[p] = sent.get(p, 0) + n
        values += more
        deadline = time.monotonic() + 60
        while len(consumed) < len(values) and time.monotonic() < deadline:
            time.sleep(0.1)
        for m in members:
            m.stop()
        for _ in range(20):  # the last refused commits, if any
            if not any([m._commit_pending() for m in members]):
                break
            time.sleep(0.2)
        rows = {row["partition_id"]: row for row in lags(cluster, group)}
        owners = {row["partition_id"]: row["consumer_id"] for row in rows.values()}
    finally:
        for m in everyone:
            m.close()

    at = [(p, o) for _, p, o, _ in consumed]
    assert len(at) == len(set(at)), "a record was consumed twice"
    assert sorted(v for *_, v in consumed) == sorted(values)  # every value once, across the group
    assert {p: (row["current_offset"], row["lag"]) for p, row in rows.items()} == {
        p: (sent.get(p, 0), 0) for p in range(partitions)}, rows
    assert all(owners.values()), owners  # REST shows who owns each partition (read from the relayed bytes)


# -- kafka-python, a custom assignor -----------------------------------------------------------
def everything_to_first_assignor():
    from kafka.coordinator.assignors.abstract import AbstractPartitionAssignor
    from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment, ConsumerProtocolSubscription

    class EverythingToFirst(AbstractPartitionAssignor):
        """Every partition to the member whose id sorts first: an assignor no broker knows."""
        name = "everything-to-first"
        version = 0

        @classmethod
        def assign(cls, cluster, members):
            topics = sorted({t for m in members for t in m.metadata.topics})
            everything = [(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
            first = min(m.member_id for m in members)
            return {m.member_id: ConsumerProtocolAssignment(cls.version, everything if m.member_id == first else [],
                                                            b"") for m in members}

        @classmethod
        def metadata(cls, topics):
            return ConsumerProtocolSubscription(cls.version, list(topics), b"")

        @classmethod
        def on_assignment(cls, assignment, generation):
            pass

    return EverythingToFirst


def test_kafka_python_custom_assignor_is_relayed(cluster):
    topic, group = "asg-custom", "asg-custom-g"
    create_topic(cluster, topic, 4)
    assignor = everything_to_first_assignor()
    # each consumer's metadata holds the topic before it subscribes: kafka-python 3.0 can
    # leave a member that joined before that owning nothing for good (docs/TESTING.md)
    consumers = [kafka.KafkaConsumer(bootstrap_servers=cluster.bootstrap_servers, group_id=group,
                                     partition_assignment_strategy=[assignor], enable_auto_commit=False,
                                     session_timeout_ms=6000, heartbeat_interval_ms=500, metadata_max_age_ms=1000)
                 for _ in range(2)]
    for c in consumers:
        assert c.partitions_for_topic(topic), "the new topic in the consumer's metadata"
        c.subscribe([topic])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for c in consumers:
                c.poll(timeout_ms=200)
            owned = [{(tp.topic, tp.partition) for tp in c.assignment()} for c in consumers]
            ids = [c._coordinator._generation.member_id for c in consumers]
            # settled: both in the group and the first by id holds everything (while the
            # second member is still joining, the first to join holds everything alone)
            first = ids.index(min(ids)) if all(ids) else 0
            if all(ids) and owned[first] == {(topic, p) for p in range(4)} and not owned[1 - first]:
                break
        assert owned[first] == {(topic, p) for p in range(4)} and not owned[1 - first], (ids, owned)
        admin = kafka.KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
        try:
            described = admin.describe_groups([group])[group]
        finally:
            admin.close()
        assert (described["protocol_type"], described["protocol_data"]) == ("consumer", "everything-to-first")
    finally:
        for c in consumers:
            c.close()


# -- aiokafka, its default assignor ------------------------------------------------------------
def test_aiokafka_default_assignor_shares_the_partitions(cluster):
    topic, group = "asg-aio", "asg-aio-g"
    create_topic(cluster, topic, 4)
    produce(cluster, topic, [f"v{i}".encode() for i in range(80)])

    async def run():
        consumers = [aiokafka.AIOKafkaConsumer(topic, bootstrap_servers=cluster.bootstrap_servers, group_id=group,
                                               auto_offset_reset="earliest", enable_auto_commit=False,
                                               session_timeout_ms=6000, heartbeat_interval_ms=500)
                     for _ in range(2)]
        for c in consumers:
            await c.start()
        try:
            got: dict[tuple[int, int], bytes] = {}
            async with asyncio.timeout(60):
                while True:
                    for c in consumers:
                        for batch in (await c.getmany(timeout_ms=200)).values():
                            got.update(((m.partition, m.offset), m.value) for m in batch)
                    owned = [{tp.partition for tp in c.assignment()} for c in consumers]
                    if [len(o) for o in owned] == [2, 2] and len(got) == 80:
                        break
            for c in consumers:
                await c.commit()
            return owned, got
        finally:
            for c in consumers:
                await c.stop()

    owned, got = asyncio.run(run())
    assert not owned[0] & owned[1] and owned[0] | owned[1] == {0, 1, 2, 3}
    assert sorted(got.values()) == sorted(f"v{i}".encode() for i in range(80))


# -- a "connect" group on the raw wire -------------------------------------------------------
def kio_request(sock, request, correlation_id: int, response_class):
    """Send one request encoded by kio and read its answer."""
    from kio.serial import entity_reader, entity_writer
    header_class = type(request).__header_schema__
    buf = io.BytesIO()
    entity_writer(header_class)(buf, header_class(request_api_key=type(request).__api_key__,
                                                  request_api_version=type(request).__version__,
                                                  correlation_id=correlation_id, client_id="wire"))
    entity_writer(type(request))(buf, request)
    sock.sendall(struct.pack(">i", buf.tell()) + buf.getvalue())
    frame = recv_frame(sock)
    _, offset = entity_reader(response_class.__header_schema__)(frame, 0)
    answer, _ = entity_reader(response_class)(frame, offset)
    return answer


def coordinator_socket(c, group: str):
    from kio.schema.find_coordinator.v1.request import FindCoordinatorRequest
    from kio.schema.find_coordinator.v1.response import FindCoordinatorResponse
    with kafka_socket(c) as s:
        answer = kio_request(s, FindCoordinatorRequest(key=group, key_type=0), 1, FindCoordinatorResponse)
    assert answer.error_code.value == 0, answer
    return kafka_socket(c, int(answer.node_id))


def connect_join(sock, group: str, member_id: str, metadata: bytes, correlation_id: int):
    from kio.schema.join_group.v5.request import JoinGroupRequest, JoinGroupRequestProtocol
    from kio.schema.join_group.v5.response import JoinGroupResponse
    request = JoinGroupRequest(group_id=group, session_timeout=datetime.timedelta(seconds=10),
                               rebalance_timeout=datetime.timedelta(seconds=10), member_id=member_id,
                               protocol_type="connect",
                               protocols=(JoinGroupRequestProtocol(name="made-up-v7", metadata=metadata),))
    return kio_request(sock, request, correlation_id, JoinGroupResponse)


def connect_sync(sock, group: str, member_id: str, generation: int, assignments: dict, correlation_id: int):
    from kio.schema.sync_group.v5.request import SyncGroupRequest, SyncGroupRequestAssignment
    from kio.schema.sync_group.v5.response import SyncGroupResponse
    request = SyncGroupRequest(group_id=group, generation_id=generation, member_id=member_id,
                               protocol_type="connect", protocol_name="made-up-v7",
                               assignments=tuple(SyncGroupRequestAssignment(member_id=m, assignment=a)
                                                 for m, a in assignments.items()))
    return kio_request(sock, request, correlation_id, SyncGroupResponse)


def test_connect_protocol_group_forms_and_the_leaders_bytes_reach_the_follower_verbatim(cluster):
    from concurrent.futures import ThreadPoolExecutor
    group = "asg-connect-g"
    a_sock, b_sock = coordinator_socket(cluster, group), coordinator_socket(cluster, group)
    with a_sock, b_sock, ThreadPoolExecutor(2) as pool:
        first = connect_join(a_sock, group, "", b"worker-a config", 2)
        assert first.error_code.value == 0 and first.protocol_name == "made-up-v7", first
        a = first.member_id
        solo = connect_sync(a_sock, group, a, int(first.generation_id), {a: b"a-alone"}, 3)
        assert solo.error_code.value == 0 and solo.assignment == b"a-alone", solo
        # b joins (held until a rejoins); a rejoins; both get generation 2, a leads
        b_join = pool.submit(connect_join, b_sock, group, "", b"worker-b config", 4)
        time.sleep(0.5)
        a_join = connect_join(a_sock, group, a, b"worker-a config", 5)
        b_joined = b_join.result(timeout=30)
        assert a_join.error_code.value == 0 and b_joined.error_code.value == 0, (a_join, b_joined)
        assert a_join.leader == a and a_join.generation_id == b_joined.generation_id
        b = b_joined.member_id
        assert {m.member_id: m.metadata for m in a_join.members} == {a: b"worker-a config", b: b"worker-b config"}
        assert b_joined.members == ()
        generation = int(a_join.generation_id)
        # the follower's sync waits for the leader's, then gets the leader's bytes unchanged
        b_sync = pool.submit(connect_sync, b_sock, group, b, generation, {}, 6)
        time.sleep(0.5)
        assert not b_sync.done()
        for_b = bytes(range(256)) + b"\x00{connect: tasks}"
        a_sync = connect_sync(a_sock, group, a, generation, {a: b"a-tasks", b: for_b}, 7)
        b_synced = b_sync.result(timeout=30)
        assert (a_sync.error_code.value, a_sync.assignment) == (0, b"a-tasks"), a_sync
        assert (b_synced.error_code.value, b_synced.assignment) == (0, for_b), b_synced
        assert (b_synced.protocol_type, b_synced.protocol_name) == ("connect", "made-up-v7")

        from kio.schema.describe_groups.v3.request import DescribeGroupsRequest
        from kio.schema.describe_groups.v3.response import DescribeGroupsResponse
        from kio.schema.list_groups.v3.request import ListGroupsRequest
        from kio.schema.list_groups.v3.response import ListGroupsResponse
        [described] = kio_request(a_sock, DescribeGroupsRequest(groups=(group,), include_authorized_operations=False),
                                  8, DescribeGroupsResponse).groups
        listed = kio_request(a_sock, ListGroupsRequest(), 9, ListGroupsResponse)
    assert {g.group_id: g.protocol_type for g in listed.groups}.get(group) == "connect", listed
    assert (described.protocol_type, described.protocol_data, described.group_state) == (
        "connect", "made-up-v7", "Stable"), described
    assert {m.member_id: (m.member_metadata, m.member_assignment) for m in described.members} == {
        a: (b"worker-a config", b"a-tasks"), b: (b"worker-b config", for_b)}
