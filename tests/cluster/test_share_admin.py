"""Share groups beyond the consumer's basics, on the shared cluster: Kafka 4.2's
ShareFetch / ShareAcknowledge v2 (RENEW keeps a record held past its first lock; the
acquire modes), an empty share group described, its offsets altered and deleted and the
group deleted (Kafka's AdminClient requests, and the REST door's), read_committed share
groups, and the share coordinator's own requests (FindCoordinator key type 2,
Read/Write/ReadShareGroupStateSummary)."""

from __future__ import annotations

import datetime
import time
import uuid

import pytest
from broker_wire import broker_call
from cluster_client import call
from kafka_wire import kafka_socket, leader_of, minimal_request, wire_call
from share_clients import (BOUND_S, code, consumer, new_name, poll_until, produce, set_group_configs, share_acknowledge,
                           share_fetch, share_group, topic_id, values)

from kraft.scenario.targets import coordinator

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import AcknowledgeType, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

ACCEPT, RENEW = 1, 4
INVALID_REQUEST, INVALID_RECORD_STATE, NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND = 42, 121, 68, 69
FENCED_LEADER_EPOCH = 74


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def one_batch(c, topic: str, count: int) -> None:
    """`count` records in one batch (one linger window, one flush)."""
    producer = Producer({"bootstrap.servers": c.bootstrap_servers, "linger.ms": 1000, "batch.num.messages": 10_000})
    for i in range(count):
        producer.produce(topic, value=f"b{i}".encode(), partition=0)
    assert producer.flush(30) == 0


def fetch_v2(s, group: str, member: str, epoch: int, tid: uuid.UUID, max_records: int = 10, mode: int = 0,
             acks=(), renew: bool = False):
    return share_fetch(s, group, member, epoch, tid, acks, max_records, version=2, share_acquire_mode=mode,
                       is_renew_ack=renew)


def acknowledge(s, version: int, group: str, member: str, epoch: int, tid: uuid.UUID, first: int, last: int,
                kind: int):
    return share_acknowledge(s, group, member, epoch, tid, first, last, kind, version=version)


def acquired(answer) -> list[tuple[int, int, int]]:
    [part] = answer.responses[0].partitions
    return [(a.first_offset, a.last_offset, a.delivery_count) for a in part.acquired_records]


def test_renew_keeps_records_held_past_their_lock_and_the_acquire_modes_bound_a_fetch(cluster):
    lock_ms = 6000
    topic = new_name("share-renew")
    group = share_group(cluster, topic, share_record_lock_duration_ms=lock_ms)
    one_batch(cluster, topic, 5)
    tid, a, b = topic_id(cluster, topic), str(uuid.uuid4()), str(uuid.uuid4())
    with kafka_socket(cluster, leader_of(cluster, topic, 0)) as s:
        # record_limit: never more than max_records; batch_optimized: the rest of the batch
        assert acquired(fetch_v2(s, group, a, 0, tid, max_records=2, mode=1)) == [(0, 1, 1)]
        assert acquired(fetch_v2(s, group, b, 0, tid, max_records=2, mode=0)) == [(2, 4, 1)]
        held_since = time.monotonic()  # both locks were taken before this: they end by held_since + 6 s
        refused = acknowledge(s, 1, group, a, 1, tid, 0, 1, RENEW)  # RENEW is v2's
        assert code(refused.responses[0].partitions[0].error_code) == INVALID_REQUEST
        time.sleep(3)
        renewed = fetch_v2(s, group, a, 2, tid, acks=[(0, 1, RENEW)], renew=True)
        [part] = renewed.responses[0].partitions
        assert (code(part.acknowledge_error_code), list(part.acquired_records)) == (0, [])  # renewed, nothing new
        time.sleep(max(0.0, held_since + lock_ms / 1000 + 0.5 - time.monotonic()))  # past the first locks
        kept = acknowledge(s, 2, group, a, 3, tid, 0, 1, ACCEPT)  # the renewed lock runs until 9 s at the least
        assert code(kept.responses[0].partitions[0].error_code) == 0 and kept.acquisition_lock_timeout == \
            datetime.timedelta(milliseconds=lock_ms)
        lapsed = acknowledge(s, 2, group, b, 1, tid, 2, 4, ACCEPT)  # b never renewed: its records went back
        assert code(lapsed.responses[0].partitions[0].error_code) == INVALID_RECORD_STATE
        assert acquired(fetch_v2(s, group, b, 2, tid)) == [(2, 4, 2)]  # delivered again


def wire_at(c, group: str):
    return kafka_socket(c, coordinator(c, "group-coordinator", group))


def describe_share_group(s, group: str):
    from kio.schema.share_group_describe.v1.request import ShareGroupDescribeRequest
    [described] = wire_call(s, ShareGroupDescribeRequest(group_ids=(group,), include_authorized_operations=False)).groups
    return described


def alter_offsets(s, group: str, topic: str, offsets: dict[int, int]):
    from kio.schema.alter_share_group_offsets.v0 import request as m
    return wire_call(s, m.AlterShareGroupOffsetsRequest(group_id=group, topics=(m.AlterShareGroupOffsetsRequestTopic(
        topic_name=topic, partitions=tuple(m.AlterShareGroupOffsetsRequestPartition(partition_index=p, start_offset=o)
                                           for p, o in offsets.items())),)))


def start_offset(s, group: str, topic: str) -> int:
    from kio.schema.describe_share_group_offsets.v1 import request as m
    [answer] = wire_call(s, m.DescribeShareGroupOffsetsRequest(groups=(m.DescribeShareGroupOffsetsRequestGroup(
        group_id=group, topics=(m.DescribeShareGroupOffsetsRequestTopic(topic_name=topic, partitions=(0,)),)),))).groups
    return answer.topics[0].partitions[0].start_offset


def accept_some(c, group: str, topic: str, wanted: int, accepted: int) -> None:
    share = consumer(c, group, explicit=True)
    try:
        share.subscribe([topic])
        got = poll_until(share, lambda got: len(got) >= wanted)
        for m in got[:accepted]:
            share.acknowledge(m, AcknowledgeType.ACCEPT)
        for m in got[accepted:]:
            share.acknowledge(m, AcknowledgeType.RELEASE)
        share.commit_sync()
    finally:
        share.close()


def test_an_empty_share_group_is_described_its_offsets_altered_and_deleted_and_the_group_deleted(cluster):
    from kio.schema.delete_share_group_offsets.v0 import request as delete_offsets
    topic = new_name("share-reset")
    group = share_group(cluster, topic)
    produce(cluster, topic, [f"r{i}" for i in range(5)])
    share = consumer(cluster, group, explicit=True)
    share.subscribe([topic])
    poll_until(share, lambda got: len(got) >= 1)
    with wire_at(cluster, group) as s:  # a member is in: no change allowed
        busy = alter_offsets(s, group, topic, {0: 0})
        assert code(busy.error_code) == NON_EMPTY_GROUP, busy
    share.close()
    accept_some(cluster, group, topic, 5, 3)  # the group starts at 3 now
    with wire_at(cluster, group) as s:
        deadline = time.monotonic() + BOUND_S  # the closed consumers' sessions end
        while (empty := describe_share_group(s, group)).group_state != "Empty" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (code(empty.error_code), empty.group_state, list(empty.members)) == (0, "Empty", [])
        from kio.schema.list_groups.v5.request import ListGroupsRequest
        listed = wire_call(s, ListGroupsRequest(states_filter=("Empty",), types_filter=("share",)))
        assert [(g.group_id, g.group_state) for g in listed.groups if g.group_id == group] == [(group, "Empty")]
        assert start_offset(s, group, topic) == 3
        altered = alter_offsets(s, group, topic, {0: 1, 7: 0})
        codes = {p.partition_index: code(p.error_code) for p in altered.responses[0].partitions}
        assert code(altered.error_code) == 0 and codes == {0: 0, 7: 3}  # UNKNOWN_TOPIC_OR_PARTITION for 7
        assert start_offset(s, group, topic) == 1
    again = consumer(cluster, group)  # records 1-4 come again, each as a first delivery
    try:
        again.subscribe([topic])
        got = poll_until(again, lambda got: len(got) >= 4)
        assert sorted(values(got)) == ["r1", "r2", "r3", "r4"] and {m.delivery_count() for m in got} == {1}
    finally:
        again.close()
    with wire_at(cluster, group) as s:
        deadline = time.monotonic() + BOUND_S
        while describe_share_group(s, group).group_state != "Empty" and time.monotonic() < deadline:
            time.sleep(0.2)
        deleted = wire_call(s, delete_offsets.DeleteShareGroupOffsetsRequest(group_id=group, topics=(
            delete_offsets.DeleteShareGroupOffsetsRequestTopic(topic_name=topic),
            delete_offsets.DeleteShareGroupOffsetsRequestTopic(topic_name=new_name("nowhere")))))
        assert code(deleted.error_code) == 0 and [code(t.error_code) for t in deleted.responses] == [0, 3]
        assert start_offset(s, group, topic) == -1  # no state: it starts where share.auto.offset.reset says
        assert code(describe_share_group(s, group).error_code) == GROUP_ID_NOT_FOUND  # nothing left of it
    accept_some(cluster, group, topic, 5, 5)  # earliest again: all five
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    deadline = time.monotonic() + BOUND_S
    while True:  # Kafka's DeleteGroups deletes a share group once its members are gone
        try:
            admin.delete_consumer_groups([group])[group].result(15)
            break
        except confluent_kafka.KafkaException as exc:
            assert exc.args[0].code() == confluent_kafka.KafkaError.NON_EMPTY_GROUP, exc
            assert time.monotonic() < deadline, "the closed consumer stayed a member"
            time.sleep(0.2)
    with wire_at(cluster, group) as s:
        assert code(describe_share_group(s, group).error_code) == GROUP_ID_NOT_FOUND
        assert start_offset(s, group, topic) == -1


def test_the_rest_door_resets_and_deletes_an_empty_share_group(cluster):
    topic = new_name("share-rest-reset")
    group = share_group(cluster, topic)
    produce(cluster, topic, [f"h{i}" for i in range(4)])
    accept_some(cluster, group, topic, 4, 4)
    base = f"{cluster.v3(1)}/share-groups/{group}"
    deadline = time.monotonic() + BOUND_S
    while (view := call("GET", base))[1].get("state") != "EMPTY" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert view[0] == 200 and view[1]["members"] == [] and view[1]["partitions"][0]["start_offset"] == 4, view
    status, body = call("POST", f"{base}/offsets:alter", {"offsets": [{"topic_name": topic, "partition_id": 0,
                                                                       "offset": 2}]})
    assert status == 204, body
    assert call("GET", base)[1]["partitions"][0]["start_offset"] == 2
    bad = call("POST", f"{base}/offsets:alter", {"offsets": [{"topic_name": topic, "partition_id": 0,
                                                              "offset": -1}]})
    assert bad[0] == 400, bad
    status, body = call("DELETE", base)
    assert status == 204, body
    assert call("GET", base)[0] == 404
    assert call("DELETE", base)[0] == 404


def test_a_read_committed_share_group_gets_only_committed_transactions(cluster):
    topic = new_name("share-txn")
    committed_group = share_group(cluster, topic)
    uncommitted_group = new_name(f"{topic}-u")
    set_group_configs(cluster, committed_group, share_isolation_level="read_committed")
    set_group_configs(cluster, uncommitted_group, share_auto_offset_reset="earliest")
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "transactional.id": new_name("share-tx")})
    producer.init_transactions(30)
    for outcome, batch in (("commit", ["c0", "c1"]), ("abort", ["a0", "a1"]), ("commit", ["c2"])):
        producer.begin_transaction()
        for v in batch:
            producer.produce(topic, value=v.encode(), partition=0)
        producer.flush(30)
        (producer.commit_transaction if outcome == "commit" else producer.abort_transaction)(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"open", partition=0)  # still open when the groups read
    producer.flush(30)
    try:
        for group, wanted in ((committed_group, ["c0", "c1", "c2"]), (uncommitted_group, ["a0", "a1", "c0", "c1",
                                                                                             "c2", "open"])):
            share = consumer(cluster, group)
            try:
                share.subscribe([topic])
                got = poll_until(share, lambda got, n=len(wanted): len(got) >= n)
                time.sleep(1)  # what else a further poll would bring (the open transaction's record)
                got += share.poll(1.0)
                assert sorted(values(got)) == wanted
            finally:
                share.close()
    finally:
        producer.abort_transaction(30)


def test_the_share_coordinator_answers_its_own_requests_for_a_share_partition(cluster):
    """As the brokers ask it (their own login: a client is refused, test_broker_only_apis.py)."""
    from kio.schema.read_share_group_state.v0 import request as read
    from kio.schema.read_share_group_state_summary.v1 import request as summary
    from kio.schema.write_share_group_state.v1 import request as write
    topic = new_name("share-state")
    group = share_group(cluster, topic)
    produce(cluster, topic, [f"s{i}" for i in range(3)])
    accept_some(cluster, group, topic, 3, 2)
    tid = topic_id(cluster, topic)
    key = f"{group}:{tid.hex}:0"  # kraft names topics by hex ids in its state keys
    [found] = broker_call(cluster, 1, minimal_request(10, 6, key_type=2, coordinator_keys=(key,))).coordinators
    assert code(found.error_code) == 0
    reading = read.ReadShareGroupStateRequest(group_id=group, topics=(read.ReadStateData(
        topic_id=tid, partitions=(read.PartitionData(partition=0, leader_epoch=-1),)),))
    state = broker_call(cluster, found.node_id, reading).results[0].partitions[0]
    assert (code(state.error_code), state.start_offset) == (0, 2)
    assert [(b.first_offset, b.last_offset, b.delivery_state) for b in state.state_batches] == [(2, 2, 0)]
    brief = broker_call(cluster, found.node_id, summary.ReadShareGroupStateSummaryRequest(group_id=group, topics=(
        summary.ReadStateSummaryData(topic_id=tid, partitions=(summary.PartitionData(partition=0, leader_epoch=-1),
                                                               )),))).results[0].partitions[0]
    assert (code(brief.error_code), brief.start_offset, brief.state_epoch) == (0, 2, state.state_epoch)
    stale = broker_call(cluster, found.node_id, write.WriteShareGroupStateRequest(group_id=group, topics=(
        write.WriteStateData(topic_id=tid, partitions=(write.PartitionData(
            partition=0, state_epoch=state.state_epoch, leader_epoch=brief.leader_epoch - 1, start_offset=0,
            state_batches=()),)),)))
    assert code(stale.results[0].partitions[0].error_code) == FENCED_LEADER_EPOCH  # an older leader's write
    other = next(n for n in cluster.hosts if n != found.node_id)
    elsewhere = broker_call(cluster, other, reading)
    assert code(elsewhere.results[0].partitions[0].error_code) == 16  # NOT_COORDINATOR
    again = broker_call(cluster, found.node_id, reading).results[0].partitions[0]
    assert again.start_offset == 2  # the fenced write changed nothing


def test_share_group_lag_and_records_in_flight_are_in_the_leaders_metrics(cluster):
    import urllib.request
    topic = new_name("share-metrics")
    group = share_group(cluster, topic)
    produce(cluster, topic, [f"m{i}" for i in range(5)])
    share = consumer(cluster, group, explicit=True)
    try:
        share.subscribe([topic])
        got = poll_until(share, lambda got: len(got) >= 5)
        for m in got[:2]:
            share.acknowledge(m, AcknowledgeType.ACCEPT)  # the other three stay held
        share.commit_sync()
        where = f'group="{group}",partition="0",topic="{topic}"'  # labels as the exposition sorts them
        with urllib.request.urlopen(f"{cluster.url(leader_of(cluster, topic, 0))}/metrics", timeout=30) as answer:
            text = answer.read().decode()
        shown = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith("kraft_share_partition") and f'group="{group}"' in line}
        assert shown[f"kraft_share_partition_lag{{{where}}}"] == 3  # as DescribeShareGroupOffsets v1 answers it
        held = f'group="{group}",partition="0",state="acquired",topic="{topic}"'
        assert shown[f"kraft_share_partition_records{{{held}}}"] == 3
    finally:
        share.close()
