"""A follower's fetch in Kafka's encoding, both ways: what the follower sends is what the
leader reads (kafka/client/follower_fetch.py -> fetch_api / replica_fetch_api), and what the
leader answers is what the follower applies, through the same codec the listener uses."""

from __future__ import annotations

import uuid

from kraft.kafka.handlers import fetch_api

from kraft.kafka.client import follower_fetch

from kraft.kafka.handlers import replica_fetch_api
from kraft.kafka.wire.codec import (RequestHead, decode_request, decode_response, encode_request, encode_response,
                               response_class)
from kraft.kafka.wire.entities import build
from kraft.replication import fetch_protocol as fp
from kraft.replication.fetch_session import FollowerFetchSession

T1, T2 = uuid.uuid4().hex, uuid.uuid4().hex


def test_the_leader_reads_the_positions_the_follower_sent():
    session = FollowerFetchSession()
    positions = (fp.FetchPartition(T1, 0, 42, 3, 5, 7), fp.FetchPartition(T1, 2, 0, -1, 5),
                 fp.FetchPartition(T2, 1, 9, 1, 2, 0, max_bytes=4096))
    session.answered(0, 1234)  # the leader keeps a session: the next request is incremental
    wire = fp.FetchRequest(3, 11, 500, 1 << 20, positions, forgotten=((T2, 4),), incremental=True)
    frame = encode_request(follower_fetch._encoded(wire, session), 7, "kraft-broker-3")
    head, body = decode_request(frame[4:], 1, 17)
    assert (body.replica_state.replica_id, body.replica_state.replica_epoch) == (3, 11)
    assert (body.session_id, body.session_epoch) == (1234, 1)
    wanted, forgotten = fetch_api._wanted(body, by_id=True)
    read = [replica_fetch_api._position(key, want) for key, want in wanted.items()]
    # a position without a cap of its own asks for the request's max_bytes
    assert read == [fp.FetchPartition(T1, 0, 42, 3, 5, 7, 1 << 20),
                    fp.FetchPartition(T1, 2, 0, -1, 5, -1, 1 << 20), positions[2]]
    assert forgotten == [(T2, 4)]


def test_the_follower_applies_what_the_leader_answered():
    answers = [fp.PartitionData(T1, 0, high_watermark=5, log_start_offset=0, log_end_offset=9,
                                records=b"\x00\x01binary"),
               fp.PartitionData(T1, 3, error=fp.NOT_LEADER),
               fp.PartitionData(T2, 1, high_watermark=4, log_start_offset=2, diverging_epoch=2,
                                diverging_end_offset=7),
               fp.PartitionData(T2, 2, high_watermark=8, log_start_offset=3, error=fp.OFFSET_OUT_OF_RANGE)]
    body = replica_fetch_api._answer(0, 99, replica_fetch_api._by_topic(answers))
    frame = encode_response(RequestHead(1, 17, 5, None), build(response_class(1, 17), body))
    answer = decode_response(1, 17, frame[4:])
    assert (answer.error_code.value, answer.session_id) == (0, 99)
    got = [follower_fetch._data(topic.topic_id, p) for topic in answer.responses for p in topic.partitions]
    # Kafka's answer has no log end offset: the follower sees -1 there, the rest as sent
    assert got == [fp.PartitionData(a.topic_id, a.partition, a.error, a.high_watermark, a.log_start_offset, -1,
                                    a.diverging_epoch, a.diverging_end_offset, a.records) for a in answers]


def test_every_error_survives_the_wire_and_a_strange_code_makes_the_follower_back_off():
    for error, code in fp.KAFKA_CODES.items():
        assert fp.error_of(code) == error
    assert fp.error_of(0) is None and fp.error_of(100) == fp.UNKNOWN_PARTITION
    assert fp.error_of(-1) == fp.STORAGE_ERROR  # a leader's unknown failure: back off and ask again
