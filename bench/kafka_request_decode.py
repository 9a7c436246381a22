"""µs per Kafka request decode: kio alone (what the listener did before) and with the
length check in front of it (kafka/wire/frame_bounds.py, what it does now), side by side.

    .venv/bin/python bench/kafka_request_decode.py [--repeats 7] [--number 5000]

Cases: a Produce v9 request (1 topic x 3 partitions x 16 KiB batch), a Fetch v12
request (1 topic x 3 partitions, as a consumer sends it) and a Fetch v12 request of 100
partitions (a follower's or a busy consumer's). Prints the median and the spread
(min..max) of the repeats.
"""

from __future__ import annotations

import argparse
import io

from kafka_codec import measure  # bench/ is the script's folder: the same timing as the codec bench
from kio.serial import entity_reader, entity_writer

from kraft.kafka.wire.codec import decode_request, load_request_schema
from kraft.kafka.wire.entities import build

BATCH = b"\x01" * 16 * 1024


def frame_of(api_key: int, version: int, body: dict) -> bytes:
    schema = load_request_schema(api_key, version)
    header_cls = schema.__header_schema__
    buf = io.BytesIO()
    entity_writer(header_cls)(buf, header_cls(request_api_key=api_key, request_api_version=version,
                                              correlation_id=1, client_id="bench"))
    entity_writer(schema)(buf, build(schema, body))
    return buf.getvalue()


def produce() -> bytes:
    return frame_of(0, 9, {"transactional_id": None, "acks": -1, "timeout": 30000, "topic_data": [
        {"name": "bench", "partition_data": [{"index": p, "records": BATCH} for p in range(3)]}]})


def fetch(partitions: int) -> bytes:
    return frame_of(1, 12, {
        "replica_id": -1, "max_wait": 500, "min_bytes": 1, "max_bytes": 52428800, "isolation_level": 0,
        "session_id": 0, "session_epoch": -1, "forgotten_topics_data": [], "rack_id": "",
        "topics": [{"topic": "bench", "partitions": [
            {"partition": p, "current_leader_epoch": 0, "fetch_offset": 1000, "last_fetched_epoch": -1,
             "log_start_offset": -1, "partition_max_bytes": 1048576} for p in range(partitions)]}]})


def kio_only(frame: bytes, api_key: int, version: int):
    schema = load_request_schema(api_key, version)
    read_header, read_body = entity_reader(schema.__header_schema__), entity_reader(schema)
    return lambda: read_body(frame, read_header(frame, 0)[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=5000)
    args = parser.parse_args()
    cases = [("Produce v9, 3 x 16 KiB", produce(), 0, 9), ("Fetch v12, 3 partitions", fetch(3), 1, 12),
             ("Fetch v12, 100 partitions", fetch(100), 1, 12)]
    print(f"{'request':28} {'kio alone (before)':>30} {'checked + kio (now)':>30}")
    for name, frame, key, version in cases:
        decode_request(frame, key, version)  # warm the caches (schemas, compiled checks)
        before = measure(kio_only(frame, key, version), args.repeats, args.number)
        now = measure(lambda: decode_request(frame, key, version), args.repeats, args.number)
        print(f"{name:28} {before:>30} {now:>30}")


if __name__ == "__main__":
    main()
