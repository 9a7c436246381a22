"""Share requests (KIP-932) that must not stall a broker or reach another client's work,
with raw wire requests on the shared cluster: a ShareAcknowledge or ShareFetch carrying
100,000 acknowledgement batches (a ~1.9 MB frame) is refused with INVALID_REQUEST while a
share consumer on the same broker keeps being served; a member's share session is bound
to the connection that opened it, so another connection naming that member is refused
and changes nothing, and the session ends (its records given back) with its connection."""

from __future__ import annotations

import datetime
import time
import uuid

import pytest
from kafka_wire import kafka_socket, leader_of, wire_call
from share_clients import (BOUND_S, code, consumer, new_name, poll_until, produce, share_acknowledge, share_fetch,
                           share_group, topic_id, values)

pytestmark = pytest.mark.cluster

HOSTILE_BATCHES = 100_000  # one record each: a frame of about 1.9 MB
INVALID_REQUEST, SHARE_SESSION_NOT_FOUND, INVALID_SHARE_SESSION_EPOCH = 42, 122, 123


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


def flood_acknowledge(group: str, tid: uuid.UUID):
    from kio.schema.share_acknowledge.v1 import request as sa
    batches = tuple(sa.AcknowledgementBatch(first_offset=i, last_offset=i, acknowledge_types=(1,))
                    for i in range(HOSTILE_BATCHES))
    return sa.ShareAcknowledgeRequest(group_id=group, member_id=str(uuid.uuid4()), share_session_epoch=1, topics=(
        sa.AcknowledgeTopic(topic_id=tid, partitions=(
            sa.AcknowledgePartition(partition_index=0, acknowledgement_batches=batches),)),))


def flood_fetch(group: str, tid: uuid.UUID):
    from kio.schema.share_fetch.v1 import request as sf
    batches = tuple(sf.AcknowledgementBatch(first_offset=i, last_offset=i, acknowledge_types=(1,))
                    for i in range(HOSTILE_BATCHES))
    return sf.ShareFetchRequest(
        group_id=group, member_id=str(uuid.uuid4()), share_session_epoch=1, max_wait=datetime.timedelta(seconds=1),
        min_bytes=1, max_bytes=1 << 20, max_records=10, batch_size=10, forgotten_topics_data=(),
        topics=(sf.FetchTopic(topic_id=tid, partitions=(
            sf.FetchPartition(partition_index=0, acknowledgement_batches=batches),)),))


def test_a_frame_of_100000_acknowledgement_batches_is_refused_and_a_consumer_beside_it_is_served(cluster):
    topic = new_name("share-flood")
    group = share_group(cluster, topic)
    produce(cluster, topic, ["before"])
    canary = consumer(cluster, group)
    canary.subscribe([topic])
    try:
        assert values(poll_until(canary, lambda got: len(got) >= 1)) == ["before"]
        tid = topic_id(cluster, topic)
        with kafka_socket(cluster, leader_of(cluster, topic, 0)) as s:
            for _ in range(4):  # four of these had the broker fenced
                refused = wire_call(s, flood_acknowledge(group, tid))
                assert (code(refused.error_code), refused.responses) == (INVALID_REQUEST, ())
                assert "acknowledgement batches" in refused.error_message
                refused = wire_call(s, flood_fetch(group, tid))
                assert (code(refused.error_code), refused.responses) == (INVALID_REQUEST, ())
        produce(cluster, topic, ["after"])
        assert values(poll_until(canary, lambda got: len(got) >= 1)) == ["after"]
    finally:
        canary.close()


def test_a_member_id_used_from_another_connection_is_refused_and_its_session_keeps_working(cluster):
    topic = new_name("share-bound")
    group = share_group(cluster, topic)
    produce(cluster, topic, ["b0", "b1"])
    tid, member, leader = topic_id(cluster, topic), str(uuid.uuid4()), leader_of(cluster, topic, 0)
    with kafka_socket(cluster, leader) as mine, kafka_socket(cluster, leader) as other:
        opened = share_fetch(mine, group, member, 0, tid)
        assert code(opened.error_code) == 0
        [part] = opened.responses[0].partitions
        assert [(a.first_offset, a.last_offset) for a in part.acquired_records] == [(0, 1)]
        assert code(share_acknowledge(other, group, member, 1, tid, 0, 1).error_code) == SHARE_SESSION_NOT_FOUND
        assert code(share_fetch(other, group, member, 1, tid, acks=[(0, 1, 2)]).error_code) == SHARE_SESSION_NOT_FOUND
        assert code(share_acknowledge(other, group, member, -1, tid, 0, 1).error_code) == SHARE_SESSION_NOT_FOUND
        assert code(share_fetch(other, group, member, 0, tid).error_code) == INVALID_SHARE_SESSION_EPOCH
        # the member's session is as it was: its next epoch is 1 and it still holds both records
        accepted = share_acknowledge(mine, group, member, 1, tid, 0, 1)
        assert code(accepted.error_code) == 0
        assert code(accepted.responses[0].partitions[0].error_code) == 0
        assert code(share_fetch(mine, group, member, 2, tid, max_records=0).error_code) == 0


def test_a_share_session_ends_with_its_connection_and_its_records_come_back(cluster):
    topic = new_name("share-conn")
    group = share_group(cluster, topic, share_record_lock_duration_ms=600_000)  # no lock runs out meanwhile
    produce(cluster, topic, ["c0"])
    tid, member, leader = topic_id(cluster, topic), str(uuid.uuid4()), leader_of(cluster, topic, 0)
    with kafka_socket(cluster, leader) as first:
        opened = share_fetch(first, group, member, 0, tid)
        assert [(a.first_offset, a.delivery_count) for a in opened.responses[0].partitions[0].acquired_records] == \
            [(0, 1)]
    deadline = time.monotonic() + BOUND_S  # the broker learns of the close when it reads it
    with kafka_socket(cluster, leader) as s:
        epoch, got = 0, []
        while not got:  # the member on a new connection, as a client reconnecting
            assert time.monotonic() < deadline, f"the closed connection's record did not come back: {epoch}"
            answer = share_fetch(s, group, member, epoch, tid)
            if epoch == 0 and code(answer.error_code) == INVALID_SHARE_SESSION_EPOCH:  # its old one not yet closed
                time.sleep(0.2)
                continue
            assert code(answer.error_code) == 0, answer
            epoch += 1
            got = [(a.first_offset, a.delivery_count) for t in answer.responses for p in t.partitions
                   for a in p.acquired_records]
        assert got == [(0, 2)]
