"""Fetch answers spliced from segment files: the parts a listener sends (bytes and
file slices for sendfile) make the same frame the records would in memory, and a
slice stays readable when its segment is closed and deleted before it is sent."""

from __future__ import annotations

import shutil
import uuid

import pytest
from kio.schema.fetch.v11.response import FetchResponse
from kio.schema.fetch.v17.response import FetchResponse as FetchResponseV17
from kio.serial import entity_reader

from kraft.kafka.wire.codec import RequestHead, encode_response, response_class
from kraft.kafka.wire.entities import build
from kraft.kafka.wire.splice import Spliced, frame_parts, new_marker
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record import Record

SMALL = LogConfig(segment_bytes=4096, index_interval_bytes=512, segment_ms=None)


@pytest.fixture
def log(tmp_path):
    log = PartitionLog.open(tmp_path / "p-0", SMALL)
    for i in range(40):
        log.append([Record(f"k{i}".encode(), f"value-{i}".encode() * 20)], leader_epoch=0)
    yield log
    log.close()


def partition(index: int, records: bytes | None) -> dict:
    return {"partition_index": index, "error_code": 0, "high_watermark": 40, "last_stable_offset": 40,
            "log_start_offset": 0, "aborted_transactions": [], "preferred_read_replica": -1,
            "records": records}


def joined(parts) -> bytes:
    return b"".join(part if isinstance(part, bytes) else part.read() for part in parts)


def test_read_slices_cover_what_read_returns_across_segments(log):
    assert len(log.segments) >= 3
    for offset, budget in [(0, 10_000), (7, 3000), (39, 1), (0, 1 << 20)]:
        slices = log.read_slices(offset, budget, max_offset=40)
        try:
            assert b"".join(s.read() for s in slices) == log.read(offset, budget, max_offset=40)
        finally:
            for s in slices:
                s.close()


def test_spliced_parts_make_the_frame_the_bytes_would(log):
    head = RequestHead(1, 11, correlation_id=42, client_id="t")
    cls = response_class(1, 11)
    first, second = new_marker(), new_marker()
    spliced = Spliced({"throttle_time": 0, "error_code": 0, "session_id": 0, "responses": [
        {"topic": "t", "partitions": [partition(0, first), partition(1, second), partition(2, b"")]}]},
        {first: log.read_slices(0, 5000), second: log.read_slices(30, 800)})
    parts = frame_parts(encode_response(head, build(cls, spliced.body)), spliced.slices)
    try:
        in_memory = encode_response(head, build(cls, {**spliced.body, "responses": [
            {"topic": "t", "partitions": [partition(0, log.read(0, 5000)), partition(1, log.read(30, 800)),
                                          partition(2, b"")]}]}))
        assert joined(parts) == in_memory
        answer, _ = entity_reader(FetchResponse)(in_memory, 8)
        assert answer.responses[0].partitions[1].records == log.read(30, 800)
    finally:
        spliced.close()


@pytest.mark.parametrize("budget", [50, 127, 128, 5000, 20_000])
def test_flexible_versions_splice_with_a_varint_length_of_any_width(log, budget):
    """Fetch v12+ writes records as compact bytes (a varint of length + 1): a length of
    one, two or three bytes replaces the marker's one-byte length, and the frame is the
    one the bytes in memory would make, topic ids and tagged fields included."""
    head = RequestHead(1, 17, correlation_id=9, client_id="t")
    cls = response_class(1, 17)
    topic_id = uuid.UUID(int=7)
    marker = new_marker()
    body = {"throttle_time": 0, "error_code": 0, "session_id": 123, "node_endpoints": [], "responses": [
        {"topic_id": topic_id, "partitions": [partition(0, marker), partition(1, b"")]}]}
    spliced = Spliced(body, {marker: log.read_slices(0, budget)})
    try:
        parts = frame_parts(encode_response(head, build(cls, spliced.body)), spliced.slices, flexible=True)
        records = log.read(0, budget)
        in_memory = encode_response(head, build(cls, {**body, "responses": [
            {"topic_id": topic_id, "partitions": [partition(0, records), partition(1, b"")]}]}))
        assert joined(parts) == in_memory
        answer, _ = entity_reader(FetchResponseV17)(in_memory, 9)  # size, correlation id, tag buffer
        assert answer.session_id == 123 and answer.responses[0].partitions[0].records == records
    finally:
        spliced.close()


def test_a_marker_that_is_not_a_whole_bytes_field_is_refused(log):
    head = RequestHead(1, 11, correlation_id=1, client_id=None)
    marker = new_marker()
    body = {"throttle_time": 0, "error_code": 0, "session_id": 0, "responses": [
        {"topic": "t", "partitions": [partition(0, b"x" + marker)]}]}
    slices = log.read_slices(0, 100)
    try:
        with pytest.raises(ValueError, match="marker"):
            frame_parts(encode_response(head, build(response_class(1, 11), body)), {marker: slices})
    finally:
        for s in slices:
            s.close()


def test_a_slice_outlives_its_segment_being_closed_and_deleted(tmp_path):
    log = PartitionLog.open(tmp_path / "gone", SMALL)
    for i in range(10):
        log.append([Record(None, f"v{i}".encode() * 50)], leader_epoch=0)
    expected = log.read(0, 1 << 20)
    slices = log.read_slices(0, 1 << 20)
    log.close()
    shutil.rmtree(tmp_path / "gone")
    try:
        assert b"".join(s.read() for s in slices) == expected
    finally:
        for s in slices:
            s.close()
