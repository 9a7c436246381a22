"""Kafka's admin APIs for groups, leaders and users (issue 35) from the real admin clients,
confluent-kafka's AdminClient and kafka-python's KafkaAdminClient, with their bad inputs
and ACL refusals; and, one test each, the deviations fixed in APIs kraft already served.

One 3-node cluster with SASL and ACLs: admin is a super user, alice has no ACL unless a
test grants one (and takes it back). Node 1 is the only controller, so two brokers may be
down at once, and the controller's own leader balancing is off
(auto.leader.rebalance.enable), so only ElectLeaders moves a leader back."""

from __future__ import annotations

import base64
import datetime
import time

import pytest
from kafka_wire import kafka_socket, produce_frame, read_answer, recv_frame, sasl_plain, wire_call

from kraft.server.local_cluster import LocalCluster, http_json, security_toml
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

pytestmark = pytest.mark.cluster

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra: ./dev test installs it")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import ConsumerGroupTopicPartitions, ElectionType, KafkaError, KafkaException, TopicPartition  # noqa: E402
from confluent_kafka import admin as cadmin  # noqa: E402
from kafka import admin as kadmin, errors as kerrors  # noqa: E402

SECURITY = security_toml({"admin": "admin-password", "alice": "alice-password"})
ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
V2 = "application/vnd.kafka.v2+json"


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, controllers=1, extra_toml=SECURITY, headers=ADMIN_HTTP,
                      groups={"offsets.topic.num.partitions": 6},
                      cluster={"auto.leader.rebalance.enable": False}) as c:
        c.start().wait_ready(timeout_s=60)
        try:
            yield c
        finally:
            _ADMINS.clear()  # a kept client would go on reconnecting to the stopped cluster


def sasl(c, user: str = "admin", password: str | None = None, mechanism: str = "SCRAM-SHA-256") -> dict:
    return {"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password or f"{user}-password"}


_ADMINS: dict = {}


def admin(c, user: str = "admin") -> cadmin.AdminClient:
    """One client per user, kept: a client dropped while its futures wait fails them."""
    key = (c.cluster_id, user)
    if key not in _ADMINS:
        _ADMINS[key] = cadmin.AdminClient(sasl(c, user))
    return _ADMINS[key]


def kp_admin(c, user: str = "admin") -> kadmin.KafkaAdminClient:
    return kadmin.KafkaAdminClient(
        bootstrap_servers=c.bootstrap_servers, security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
        sasl_plain_username=user, sasl_plain_password=f"{user}-password", request_timeout_ms=20000)


@pytest.fixture
def kp(cluster):
    client = kp_admin(cluster)
    yield client
    client.close()


def rest(c, method: str, path: str, body=None, node: int = 1, headers=None):
    return http_json(method, c.url(node) + path, body, headers={**ADMIN_HTTP, **(headers or {})}, timeout=30)


def done(future):
    return future.result(timeout=60)


def code_of(future) -> int:
    """The Kafka error code a client's future failed with."""
    with pytest.raises(KafkaException) as failed:
        done(future)
    return failed.value.args[0].code()


def create(c, name: str, partitions: int = 1, assignment=None, config=None) -> None:
    new = (cadmin.NewTopic(name, len(assignment), replica_assignment=assignment, config=config or {}) if assignment
           else cadmin.NewTopic(name, partitions, 3, config=config or {}))
    done(admin(c).create_topics([new])[name])


def partition(c, topic: str, index: int = 0, node: int = 1) -> dict:
    status, body = rest(c, "GET", f"/v3/clusters/{c.cluster_id}/topics/{topic}/partitions/{index}", node=node)
    assert status == 200, body
    return body


def member(c, group: str, topics: list[str], **conf) -> confluent_kafka.Consumer:
    """A consumer in `group` that has its partitions."""
    consumer = confluent_kafka.Consumer({**sasl(c), "group.id": group, "auto.offset.reset": "earliest",
                                         "enable.auto.commit": False, "session.timeout.ms": 6000, **conf})
    consumer.subscribe(topics)
    deadline = time.monotonic() + 60
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.2)
    assert consumer.assignment(), f"no partitions for {group} within 60 s"
    return consumer


def committed(c, group: str, partitions: list[tuple[str, int]]) -> dict:
    """The group's committed offsets (-1001: none), as the admin client lists them."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in partitions])
    answer = done(admin(c).list_consumer_group_offsets([request])[group])
    return {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions}


def commit(c, group: str, offsets: dict) -> None:
    """Offsets for a group without members, with the admin client (OffsetCommit)."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p, o) for (t, p), o in offsets.items()])
    done(admin(c).alter_consumer_group_offsets([request])[group])


# -- DeleteGroups ----------------------------------------------------------------------------
def test_delete_consumer_groups_deletes_only_empty_groups_and_their_offsets(cluster):
    c = cluster
    create(c, "adm-del", 2)
    consumer = member(c, "adm-g-del", ["adm-del"])
    try:
        consumer.commit(offsets=[TopicPartition("adm-del", 0, 1), TopicPartition("adm-del", 1, 2)], asynchronous=False)
        assert code_of(admin(c).delete_consumer_groups(["adm-g-del"])["adm-g-del"]) == KafkaError.NON_EMPTY_GROUP
    finally:
        consumer.close()  # LeaveGroup: the group is empty now
    assert committed(c, "adm-g-del", [("adm-del", 0), ("adm-del", 1)]) == {("adm-del", 0): 1, ("adm-del", 1): 2}
    assert code_of(admin(c, "alice").delete_consumer_groups(["adm-g-del"])["adm-g-del"]) \
        == KafkaError.GROUP_AUTHORIZATION_FAILED
    assert done(admin(c).delete_consumer_groups(["adm-g-del"])["adm-g-del"]) is None
    assert committed(c, "adm-g-del", [("adm-del", 0), ("adm-del", 1)]) == {("adm-del", 0): -1001, ("adm-del", 1): -1001}
    assert rest(c, "GET", f"/v3/clusters/{c.cluster_id}/consumer-groups/adm-g-del", node=2)[0] == 404
    assert code_of(admin(c).delete_consumer_groups(["adm-g-del"])["adm-g-del"]) == KafkaError.GROUP_ID_NOT_FOUND


def test_kafka_python_deletes_groups_and_names_each_ones_error(cluster, kp):
    create(cluster, "adm-kp-del")
    commit(cluster, "adm-kp-empty", {("adm-kp-del", 0): 7})  # confluent's alter of offsets
    assert committed(cluster, "adm-kp-empty", [("adm-kp-del", 0)]) == {("adm-kp-del", 0): 7}
    assert kp.delete_groups(["adm-kp-empty", "adm-kp-never"]) == {"adm-kp-empty": "OK",
                                                                  "adm-kp-never": "GroupIdNotFoundError"}
    assert committed(cluster, "adm-kp-empty", [("adm-kp-del", 0)]) == {("adm-kp-del", 0): -1001}


def test_rest_deletes_a_group_once_its_consumer_instances_are_gone(cluster):
    c = cluster
    create(c, "adm-rest-del")
    commit(c, "adm-rest-g", {("adm-rest-del", 0): 3})
    status, body = rest(c, "POST", "/consumers/adm-rest-g", {"name": "i1", "format": "json"},
                        headers={"Content-Type": V2})
    assert status == 200, body
    status, body = rest(c, "POST", "/consumers/adm-rest-g/instances/i1/subscription", {"topics": ["adm-rest-del"]},
                        headers={"Content-Type": V2})
    assert status == 204, body
    group = f"/v3/clusters/{c.cluster_id}/consumer-groups/adm-rest-g"
    status, body = rest(c, "DELETE", group, node=3)
    assert (status, body["error_code"]) == (409, 40906), body
    assert rest(c, "DELETE", "/consumers/adm-rest-g/instances/i1", headers={"Content-Type": V2})[0] == 204
    assert rest(c, "DELETE", group, node=3)[0] == 204
    assert rest(c, "GET", group, node=2)[0] == 404
    assert rest(c, "DELETE", group, node=2)[0] == 404
    assert committed(c, "adm-rest-g", [("adm-rest-del", 0)]) == {("adm-rest-del", 0): -1001}


def test_rest_sets_an_empty_groups_offsets_even_to_zero_and_refuses_while_it_has_members(cluster):
    c = cluster
    create(c, "adm-alter", partitions=2)
    commit(c, "adm-alter-g", {("adm-alter", 0): 3, ("adm-alter", 1): 4})
    path = f"/v3/clusters/{c.cluster_id}/consumer-groups/adm-alter-g/offsets:alter"
    to = [{"topic_name": "adm-alter", "partition_id": 0, "offset": 0},
          {"topic_name": "adm-alter", "partition_id": 1, "offset": 7}]
    assert rest(c, "POST", path, {"offsets": to}, node=2)[0] == 204  # any node: forwarded to the coordinator
    assert committed(c, "adm-alter-g", [("adm-alter", 0), ("adm-alter", 1)]) == {("adm-alter", 0): 0,
                                                                                ("adm-alter", 1): 7}
    for body, expected in (({}, (400, 400)),
                           ({"offsets": [{**to[0], "offset": -1}]}, (400, 400)),
                           ({"offsets": [to[0], to[0]]}, (400, 400)),
                           ({"offsets": [{**to[0], "topic_name": "adm-alter-nope"}]}, (404, 40401)),
                           ({"offsets": [{**to[0], "partition_id": 5}]}, (404, 40402))):
        status, answer = rest(c, "POST", path, body)
        assert (status, answer["error_code"]) == expected, (body, answer)
    status, body = rest(c, "POST", "/consumers/adm-alter-g", {"name": "i1", "format": "json"},
                        headers={"Content-Type": V2})
    assert status == 200, body
    status, body = rest(c, "POST", "/consumers/adm-alter-g/instances/i1/subscription", {"topics": ["adm-alter"]},
                        headers={"Content-Type": V2})
    assert status == 204, body
    status, answer = rest(c, "POST", path, {"offsets": to})
    assert (status, answer["error_code"]) == (409, 40906), answer  # its member would commit over it
    # Kafka's admin client is refused the same way (Kafka answers UNKNOWN_MEMBER_ID)
    request = ConsumerGroupTopicPartitions("adm-alter-g", [TopicPartition("adm-alter", 0, 5)])
    answer = done(admin(c).alter_consumer_group_offsets([request])["adm-alter-g"])
    assert [tp.error.code() for tp in answer.topic_partitions] == [KafkaError.UNKNOWN_MEMBER_ID], answer
    assert committed(c, "adm-alter-g", [("adm-alter", 0)]) == {("adm-alter", 0): 0}
    assert rest(c, "DELETE", "/consumers/adm-alter-g/instances/i1", headers={"Content-Type": V2})[0] == 204


# -- OffsetDelete ----------------------------------------------------------------------------
def test_offset_delete_keeps_the_offsets_of_topics_the_group_consumes(cluster, kp):
    c = cluster
    create(c, "adm-od-a")
    create(c, "adm-od-b")
    consumer = member(c, "adm-od", ["adm-od-a"])
    try:
        consumer.commit(offsets=[TopicPartition("adm-od-a", 0, 4), TopicPartition("adm-od-b", 0, 5)],
                        asynchronous=False)
        answer = kp.delete_group_offsets("adm-od", [kafka.TopicPartition("adm-od-a", 0),
                                                    kafka.TopicPartition("adm-od-b", 0),
                                                    kafka.TopicPartition("adm-od-nope", 0)])
        assert answer == {kafka.TopicPartition("adm-od-a", 0): kerrors.GroupSubscribedToTopicError,
                          kafka.TopicPartition("adm-od-b", 0): kerrors.NoError,
                          kafka.TopicPartition("adm-od-nope", 0): kerrors.UnknownTopicOrPartitionError}
        assert committed(c, "adm-od", [("adm-od-a", 0), ("adm-od-b", 0)]) == {("adm-od-a", 0): 4,
                                                                              ("adm-od-b", 0): -1001}
    finally:
        consumer.close()
    with pytest.raises(kerrors.GroupIdNotFoundError):
        kp.delete_group_offsets("adm-od-never", [kafka.TopicPartition("adm-od-a", 0)])
    alice = kp_admin(c, "alice")
    try:
        with pytest.raises(kerrors.GroupAuthorizationFailedError):
            alice.delete_group_offsets("adm-od", [kafka.TopicPartition("adm-od-a", 0)])
    finally:
        alice.close()


# -- ElectLeaders ----------------------------------------------------------------------------
def test_preferred_election_moves_leadership_back_and_says_when_none_is_needed(cluster, kp):
    c = cluster
    create(c, "adm-pref", assignment=[[1, 2, 3]])
    assert partition(c, "adm-pref")["leader_id"] == 1
    status, body = rest(c, "POST", f"/v3/clusters/{c.cluster_id}/topics/adm-pref/partitions/0/reassignment",
                        {"replicas": [2, 1, 3]})  # broker 2 becomes the preferred replica; 1 still leads
    assert status == 200, body
    assert partition(c, "adm-pref")["replica_ids"] == [2, 1, 3] and partition(c, "adm-pref")["leader_id"] == 1
    tp = TopicPartition("adm-pref", 0)
    assert code_of(admin(c, "alice").elect_leaders(ElectionType.PREFERRED, [tp])) \
        == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    assert done(admin(c).elect_leaders(ElectionType.PREFERRED, [tp])) == {tp: None}
    c.wait_until(lambda: all(partition(c, "adm-pref", node=n)["leader_id"] == 2 for n in (1, 2, 3)),
                 30, "broker 2 leads on every node's image")
    again = done(admin(c).elect_leaders(ElectionType.PREFERRED, [tp, TopicPartition("adm-pref", 9)]))
    assert again[tp].code() == KafkaError.ELECTION_NOT_NEEDED
    assert again[TopicPartition("adm-pref", 9)].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    kp.elect_leaders(0, {"adm-pref": [0]})  # kafka-python: ELECTION_NOT_NEEDED is no error
    assert partition(c, "adm-pref")["unclean_elections"] == 0


# -- Describe / AlterUserScramCredentials ------------------------------------------------------
def test_scram_credentials_made_over_kafka_are_the_http_users_and_log_in(cluster, kp):
    c = cluster
    sha512 = cadmin.ScramCredentialInfo(cadmin.ScramMechanism.SCRAM_SHA_512, 8192)
    made = admin(c).alter_user_scram_credentials([cadmin.UserScramCredentialUpsertion("carol", sha512, b"carol-pw")])
    assert done(made["carol"]) is None
    status, users = rest(c, "GET", "/v1/security/users", node=3)
    assert {"name": "carol", "mechanisms": ["SCRAM-SHA-512"]} in users, users
    cadmin.AdminClient(sasl(c, "carol", "carol-pw", "SCRAM-SHA-512")).list_topics(timeout=20)  # logs in
    described = done(admin(c).describe_user_scram_credentials(["carol"])["carol"])
    assert [(i.mechanism, i.iterations) for i in described.scram_credential_infos] == [
        (cadmin.ScramMechanism.SCRAM_SHA_512, 8192)]
    # kafka-python adds a SHA-256 credential: Kafka keeps one per mechanism
    assert kp.alter_user_scram_credentials([kadmin.UserScramCredentialUpsertion(
        "carol", kadmin.ScramMechanism.SCRAM_SHA_256, "carol-pw2", iterations=4096)]) == {"carol": None}
    assert kp.describe_user_scram_credentials(["carol"])["carol"]["error"] is None
    cadmin.AdminClient(sasl(c, "carol", "carol-pw2", "SCRAM-SHA-256")).list_topics(timeout=20)
    # bad inputs: too few iterations, a credential that does not exist, a user unknown
    few = cadmin.ScramCredentialInfo(cadmin.ScramMechanism.SCRAM_SHA_256, 100)
    assert code_of(admin(c).alter_user_scram_credentials([cadmin.UserScramCredentialUpsertion(
        "dora", few, b"pw")])["dora"]) == KafkaError.UNACCEPTABLE_CREDENTIAL
    assert code_of(admin(c).alter_user_scram_credentials([cadmin.UserScramCredentialDeletion(
        "nobody", cadmin.ScramMechanism.SCRAM_SHA_256)])["nobody"]) == KafkaError.RESOURCE_NOT_FOUND
    assert code_of(admin(c).describe_user_scram_credentials(["nobody"])["nobody"]) == KafkaError.RESOURCE_NOT_FOUND
    # no ACL: neither describe nor alter (kafka-python describes: librdkafka 2.16 frees a string
    # it did not allocate when the answer has a whole-request error, and aborts)
    alice = kp_admin(c, "alice")
    try:
        with pytest.raises(kerrors.ClusterAuthorizationFailedError):
            alice.describe_user_scram_credentials()
    finally:
        alice.close()
    assert code_of(admin(c, "alice").alter_user_scram_credentials([cadmin.UserScramCredentialDeletion(
        "carol", cadmin.ScramMechanism.SCRAM_SHA_512)])["carol"]) == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    # the SHA-512 credential goes: that login fails everywhere, the SHA-256 one still works
    assert done(admin(c).alter_user_scram_credentials([cadmin.UserScramCredentialDeletion(
        "carol", cadmin.ScramMechanism.SCRAM_SHA_512)])["carol"]) is None
    with pytest.raises(KafkaException):
        cadmin.AdminClient({**sasl(c, "carol", "carol-pw", "SCRAM-SHA-512"), "socket.timeout.ms": 5000}).list_topics(
            timeout=8)
    cadmin.AdminClient(sasl(c, "carol", "carol-pw2", "SCRAM-SHA-256")).list_topics(timeout=20)


# -- deviations fixed in APIs already served -------------------------------------------------------
def test_metadata_names_an_illegal_topic_invalid_so_a_producer_stops_at_once(cluster):
    """librdkafka's 0057: INVALID_REQUEST was retried until message.timeout.ms."""
    producer = confluent_kafka.Producer({**sasl(cluster), "message.timeout.ms": 120_000})
    reports: list = []
    producer.produce("not a legal name!", b"v", on_delivery=lambda err, msg: reports.append(err))
    deadline = time.monotonic() + 60
    while not reports and time.monotonic() < deadline:
        producer.poll(0.2)
    assert reports and reports[0].code() == KafkaError.TOPIC_EXCEPTION, reports


def test_describe_groups_shows_the_instance_id_a_member_joined_with(cluster):
    """librdkafka's 0102 read a null group.instance.id (and crashed on it)."""
    create(cluster, "adm-static")
    static = member(cluster, "adm-static-g", ["adm-static"], **{"group.instance.id": "static-1"})
    try:
        (described,) = done(admin(cluster).describe_consumer_groups(["adm-static-g"])["adm-static-g"]).members
        assert described.group_instance_id == "static-1"
        kp = kp_admin(cluster)
        try:
            (kp_member,) = kp.describe_groups(["adm-static-g"])["adm-static-g"]["members"]
        finally:
            kp.close()
        assert kp_member["group_instance_id"] == "static-1"
    finally:
        static.close()


def test_authorized_operations_are_the_principals_when_asked(cluster):
    """KIP-430 in DescribeCluster, Metadata (topics) and DescribeGroups: every operation for
    a super user, the granted ones (and what they imply) for alice."""
    c = cluster
    create(c, "adm-ops")
    Op = cadmin.AclOperation
    cluster_ops = done(admin(c).describe_cluster(include_authorized_operations=True)).authorized_operations
    assert set(cluster_ops) == {Op.CREATE, Op.ALTER, Op.DESCRIBE, Op.CLUSTER_ACTION, Op.DESCRIBE_CONFIGS,
                                Op.ALTER_CONFIGS, Op.IDEMPOTENT_WRITE}
    topic = done(admin(c).describe_topics(confluent_kafka.TopicCollection(["adm-ops"]),
                                          include_authorized_operations=True)["adm-ops"])
    assert set(topic.authorized_operations) == {Op.READ, Op.WRITE, Op.CREATE, Op.DELETE, Op.ALTER, Op.DESCRIBE,
                                                Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS}
    grants = [cadmin.AclBinding(cadmin.ResourceType.BROKER, "kafka-cluster", cadmin.ResourcePatternType.LITERAL,
                                "User:alice", "*", Op.DESCRIBE, cadmin.AclPermissionType.ALLOW),
              cadmin.AclBinding(cadmin.ResourceType.TOPIC, "adm-ops", cadmin.ResourcePatternType.LITERAL,
                                "User:alice", "*", Op.READ, cadmin.AclPermissionType.ALLOW)]
    for future in admin(c).create_acls(grants).values():
        done(future)
    try:
        alice = admin(c, "alice")
        assert done(alice.describe_cluster(include_authorized_operations=True)).authorized_operations == [Op.DESCRIBE]
        topic = done(alice.describe_topics(confluent_kafka.TopicCollection(["adm-ops"]),
                                           include_authorized_operations=True)["adm-ops"])
        assert set(topic.authorized_operations) == {Op.READ, Op.DESCRIBE}  # READ implies DESCRIBE
    finally:
        for future in admin(c).delete_acls([cadmin.AclBindingFilter(
                cadmin.ResourceType.ANY, None, cadmin.ResourcePatternType.ANY, "User:alice", None, Op.ANY,
                cadmin.AclPermissionType.ANY)]).values():
            done(future)
    commit(c, "adm-ops-g", {("adm-ops", 0): 1})
    group = done(admin(c).describe_consumer_groups(["adm-ops-g"], include_authorized_operations=True)["adm-ops-g"])
    assert set(group.authorized_operations) == {Op.READ, Op.DESCRIBE, Op.DELETE}


def test_create_topics_takes_the_clients_replica_assignment(cluster):
    c = cluster
    create(c, "adm-manual", assignment=[[3, 1], [1, 2], [2, 3]])
    assert [partition(c, "adm-manual", i)["replica_ids"] for i in range(3)] == [[3, 1], [1, 2], [2, 3]]
    assert [partition(c, "adm-manual", i)["leader_id"] for i in range(3)] == [3, 1, 2]
    unknown = admin(c).create_topics([cadmin.NewTopic("adm-manual-bad", 1, replica_assignment=[[1, 9]])])
    assert code_of(unknown["adm-manual-bad"]) == KafkaError.INVALID_REPLICA_ASSIGNMENT
    kp = kp_admin(c)
    try:
        kp.create_topics([kadmin.NewTopic("adm-manual-kp", replica_assignments={0: [2], 1: [3]})])
    finally:
        kp.close()
    assert [partition(c, "adm-manual-kp", i)["replica_ids"] for i in range(2)] == [[2], [3]]
    # Confluent v3's replicas_assignments, through the same controller rules
    topics = f"/v3/clusters/{c.cluster_id}/topics"
    status, body = rest(c, "POST", topics, {"topic_name": "adm-manual-rest", "replicas_assignments": {"0": [2, 3]}})
    assert status == 201 and body["replication_factor"] == 2, body
    assert partition(c, "adm-manual-rest")["replica_ids"] == [2, 3]
    status, body = rest(c, "POST", topics, {"topic_name": "adm-manual-rest2", "replicas_assignments": {"0": [7]}})
    assert (status, body["error_code"]) == (422, 42206) and "not registered" in body["message"], body


def test_keyless_records_on_a_compacted_topic_are_refused_with_record_errors(cluster):
    """librdkafka's 0011: Kafka refuses them with INVALID_RECORD and KIP-467's record errors;
    they were stored."""
    c = cluster
    create(c, "adm-compact", config={"cleanup.policy": "compact"})
    producer = confluent_kafka.Producer({**sasl(c), "message.timeout.ms": 30_000, "linger.ms": 0})
    reports: list = []
    for key in (None, b"k"):  # one batch each: a batch with a keyless record is refused whole
        producer.produce("adm-compact", b"v", key=key, partition=0, on_delivery=lambda err, msg: reports.append(err))
        producer.flush(60)
    assert [e.code() if e else None for e in reports] == [KafkaError.INVALID_RECORD, None], reports
    # on the wire: the batch refused whole, its keyless records named (Produce v9)
    leader = partition(c, "adm-compact")["leader_id"]
    s = kafka_socket(c, leader)
    try:
        sasl_plain(s, "admin", "admin-password")
        batch = encode_batch([Record(b"a", b"1", (), 0), Record(None, b"2", (), 0), Record(None, b"3", (), 0)], 0, -1)
        s.sendall(produce_frame("adm-compact", 0, batch, 9))
        (answer,) = read_answer(0, 9, recv_frame(s)).responses[0].partition_responses
    finally:
        s.close()
    assert int(answer.error_code.value) == KafkaError.INVALID_RECORD and answer.error_message
    assert [e.batch_index for e in answer.record_errors] == [1, 2]
    # REST: the same rule, the records named by their place in the request
    status, body = http_json("POST", f"{c.v3(1)}/topics/adm-compact/records",
                             raw=b'{"key": {"type": "STRING", "data": "k"}, "value": {"type": "STRING", "data": "v"}}'
                                 b'{"value": {"type": "STRING", "data": "no key"}}',
                             headers={**ADMIN_HTTP, "Content-Type": "application/json"})
    assert (status, body["error_code"]) == (422, 42206), body
    assert [e["batch_index"] for e in body["record_errors"]] == [1]
    end = rest(c, "GET", "/topics/adm-compact/partitions/0/offsets")[1]["end_offset"]
    assert end == 1  # only the keyed record of the client's batch was ever stored


def test_list_groups_v5_filters_by_group_type_and_state(cluster, kp):
    c = cluster
    create(c, "adm-types")
    commit(c, "adm-types-g", {("adm-types", 0): 1})  # an empty classic group
    listed = done(admin(c).list_consumer_groups(types={confluent_kafka.ConsumerGroupType.CLASSIC}))
    mine = [g for g in listed.valid if g.group_id == "adm-types-g"]
    assert [(g.type, g.state) for g in mine] == [(confluent_kafka.ConsumerGroupType.CLASSIC,
                                                  confluent_kafka.ConsumerGroupState.EMPTY)]
    none = done(admin(c).list_consumer_groups(types={confluent_kafka.ConsumerGroupType.CONSUMER}))
    assert "adm-types-g" not in {g.group_id for g in none.valid}
    stable = done(admin(c).list_consumer_groups(states={confluent_kafka.ConsumerGroupState.STABLE}))
    assert "adm-types-g" not in {g.group_id for g in stable.valid}
    (row,) = [g for g in kp.list_groups(types_filter=["Classic"]) if g["group_id"] == "adm-types-g"]
    assert (row["group_type"], row["group_state"]) == ("classic", "Empty")


# -- versions of Kafka 4 ------------------------------------------------------------------------------
def _coordinator_socket(c, group: str):
    """A SASL-authenticated connection to the group's coordinator."""
    from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
    s = kafka_socket(c, 1)
    try:
        sasl_plain(s, "admin", "admin-password")
        (found,) = wire_call(s, FindCoordinatorRequest(key_type=0, coordinator_keys=(group,)), 3).coordinators
    finally:
        s.close()
    assert int(found.error_code.value) == 0, found
    s = kafka_socket(c, int(found.node_id))
    sasl_plain(s, "admin", "admin-password")
    return s, int(found.node_id)


def test_join_group_v9_and_leave_group_v5_carry_the_clients_reasons_to_the_log(cluster):
    from kio.schema.join_group.v9.request import JoinGroupRequest, JoinGroupRequestProtocol
    from kio.schema.leave_group.v5.request import LeaveGroupRequest, MemberIdentity
    c, group = cluster, "adm-reasons-g"
    s, coordinator = _coordinator_socket(c, group)
    try:
        def join(member_id: str, reason: str):
            return wire_call(s, JoinGroupRequest(
                group_id=group, session_timeout=datetime.timedelta(seconds=10),
                rebalance_timeout=datetime.timedelta(seconds=10), member_id=member_id, group_instance_id=None,
                protocol_type="consumer", protocols=(JoinGroupRequestProtocol(name="range", metadata=b"\0\0"),),
                reason=reason), 4)

        joined = join("", "the first poll of adm-reasons")
        assert int(joined.error_code.value) == 0, joined
        # v7+: the protocol chosen, by type and name; v9: the leader runs its assignor
        assert (joined.protocol_type, joined.protocol_name, joined.skip_assignment) == ("consumer", "range", False)
        assert joined.leader == joined.member_id and [m.member_id for m in joined.members] == [joined.member_id]
        refused = join("not-a-member", "a stale member id")
        assert int(refused.error_code.value) == 25  # UNKNOWN_MEMBER_ID, naming no protocol (v7+)
        assert (refused.protocol_type, refused.protocol_name) == (None, None)
        left = wire_call(s, LeaveGroupRequest(group_id=group, members=(
            MemberIdentity(member_id=joined.member_id, group_instance_id=None, reason="the consumer closes"),)), 5)
        assert int(left.error_code.value) == 0 and [int(m.error_code.value) for m in left.members] == [0]
    finally:
        s.close()
    log = c.log_path(coordinator)
    c.wait_until(lambda: all(r in log.read_text() for r in ("the first poll of adm-reasons", "the consumer closes")),
                 30, "both reasons in the coordinator's log")


def test_describe_groups_v6_names_an_unknown_group_not_found_where_v5_says_dead(cluster):
    from kio.schema.describe_groups.v5.request import DescribeGroupsRequest as V5
    from kio.schema.describe_groups.v6.request import DescribeGroupsRequest as V6
    c, group = cluster, "adm-never-used-g"
    s, _ = _coordinator_socket(c, group)
    try:
        (old,) = wire_call(s, V5(groups=(group,), include_authorized_operations=False), 4).groups
        (new,) = wire_call(s, V6(groups=(group,), include_authorized_operations=False), 5).groups
    finally:
        s.close()
    assert (int(old.error_code.value), old.group_state) == (0, "Dead")
    assert int(new.error_code.value) == 69 and group in new.error_message  # GROUP_ID_NOT_FOUND, and why


def _describe_cluster_v2(c, node: int, with_fenced: bool) -> dict[int, bool]:
    """Broker id -> is_fenced, as DescribeCluster v2 lists them."""
    from kio.schema.describe_cluster.v2.request import DescribeClusterRequest
    s = kafka_socket(c, node)
    try:
        sasl_plain(s, "admin", "admin-password")
        answer = wire_call(s, DescribeClusterRequest(include_cluster_authorized_operations=False,
                                                     include_fenced_brokers=with_fenced), 3)
    finally:
        s.close()
    assert int(answer.error_code.value) == 0, answer
    return {int(b.broker_id): b.is_fenced for b in answer.brokers}


# -- last: two brokers go down and come back ---------------------------------------------------------
def test_unclean_election_gives_an_offline_partition_a_live_replica_outside_the_isr(cluster):
    c = cluster
    create(c, "adm-unclean", assignment=[[2, 3]], config={"min.insync.replicas": "1"})
    producer = confluent_kafka.Producer({**sasl(c), "acks": "all"})
    producer.produce("adm-unclean", b"before", partition=0)
    assert producer.flush(30) == 0
    tp = TopicPartition("adm-unclean", 0)
    c.pause(3)  # broker 3 misses its heartbeats: fenced, out of the ISR
    try:
        c.wait_until(lambda: partition(c, "adm-unclean")["isr"] == [2], 60, "broker 3 out of the ISR")
        c.stop(2)  # the only in-sync replica goes: the partition is offline
    finally:
        c.resume(3)  # back, but with no leader to catch up from it stays out of the ISR
    try:
        c.wait_until(lambda: partition(c, "adm-unclean")["leader_id"] is None and _unfenced(c, 3), 60,
                     "the partition offline, broker 3 unfenced")
        # DescribeCluster v2 (KIP-1073): the fenced broker only when asked for, and marked so
        c.wait_until(lambda: _describe_cluster_v2(c, 1, True) == {1: False, 2: True, 3: False}, 60,
                     "broker 2 listed as fenced")
        assert _describe_cluster_v2(c, 1, False) == {1: False, 3: False}
        preferred = done(admin(c).elect_leaders(ElectionType.PREFERRED, [tp]))
        assert preferred[tp].code() == KafkaError.PREFERRED_LEADER_NOT_AVAILABLE
        assert done(admin(c).elect_leaders(ElectionType.UNCLEAN, [tp])) == {tp: None}
        p = partition(c, "adm-unclean")
        assert (p["leader_id"], p["isr"], p["unclean_elections"]) == (3, [3], 1)
        again = done(admin(c).elect_leaders(ElectionType.UNCLEAN, [tp]))
        assert again[tp].code() == KafkaError.ELECTION_NOT_NEEDED
    finally:
        c.start_node(2)
        c.wait_ready(timeout_s=60)


def _unfenced(c, broker: int) -> bool:
    status, body = rest(c, "GET", f"/v3/clusters/{c.cluster_id}/brokers")
    return status == 200 and any(b["broker_id"] == broker and not b.get("fenced") for b in body["data"])
