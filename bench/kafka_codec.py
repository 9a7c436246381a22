"""µs per Kafka request/response with the listener's codec (kio) and kafka-python 3.x's
spec-driven protocol module, side by side in one run.

    .venv/bin/python bench/kafka_codec.py [--repeats 7] [--number 2000]

Cases: decode a Produce v9 request body (3 partitions x 16 KiB batch) and encode a
Fetch v11 response body (3 partitions x 256 KiB of records). Prints the median and the
spread (min..max) of the repeats.
"""

from __future__ import annotations

import argparse
import datetime
import io
import statistics
import timeit

from kafka.protocol.consumer.fetch import FetchResponse as KpFetch
from kafka.protocol.producer.produce import ProduceRequest as KpProduce
from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from kraft.kafka.wire.entities import build

BATCH = b"\x01" * 16 * 1024
RECORDS = b"\x02" * 256 * 1024


def kio_cases():
    produce_cls = load_request_schema(0, 9)
    request = build(produce_cls, {"transactional_id": None, "acks": -1, "timeout": 30000, "topic_data": [
        {"name": "bench", "partition_data": [{"index": p, "records": BATCH} for p in range(3)]}]})
    buf = io.BytesIO()
    entity_writer(produce_cls)(buf, request)
    produce_bytes = buf.getvalue()
    read = entity_reader(produce_cls)

    fetch_cls = load_response_schema(1, 11)
    write = entity_writer(fetch_cls)

    def fetch_encode():
        answer = build(fetch_cls, {"throttle_time": 0, "error_code": 0, "session_id": 0, "responses": [
            {"topic": "bench", "partitions": [
                {"partition_index": p, "error_code": 0, "high_watermark": 100, "last_stable_offset": 100,
                 "log_start_offset": 0, "aborted_transactions": [], "preferred_read_replica": -1,
                 "records": RECORDS} for p in range(3)]}]})
        write(io.BytesIO(), answer)

    return produce_bytes, (lambda: read(produce_bytes, 0)), fetch_encode


def kafka_python_cases(produce_bytes: bytes):
    def produce_decode():
        KpProduce.decode(produce_bytes, version=9)

    def fetch_encode():
        KpFetch(version=11, throttle_time_ms=0, error_code=0, session_id=0, responses=[
            KpFetch.FetchableTopicResponse(version=11, topic="bench", partitions=[
                KpFetch.FetchableTopicResponse.PartitionData(
                    version=11, partition_index=p, error_code=0, high_watermark=100, last_stable_offset=100,
                    log_start_offset=0, aborted_transactions=[], preferred_read_replica=-1, records=RECORDS)
                for p in range(3)])]).encode(version=11)

    return produce_decode, fetch_encode


def measure(fn, repeats: int, number: int) -> str:
    runs = [t / number * 1e6 for t in timeit.repeat(fn, repeat=repeats, number=number)]
    return f"{statistics.median(runs):8.1f} µs  ({min(runs):.1f}..{max(runs):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    produce_bytes, kio_produce, kio_fetch = kio_cases()
    kp_produce, kp_fetch = kafka_python_cases(produce_bytes)
    kp_produce()  # the same bytes read by both: a check that the two agree on the format
    print(f"python {datetime.date.today()}; {args.repeats} repeats x {args.number} calls")
    print(f"Produce v9 request decode   kio          {measure(kio_produce, args.repeats, args.number)}")
    print(f"Produce v9 request decode   kafka-python {measure(kp_produce, args.repeats, args.number)}")
    print(f"Fetch v11 response encode   kio          {measure(kio_fetch, args.repeats, args.number)}")
    print(f"Fetch v11 response encode   kafka-python {measure(kp_fetch, args.repeats, args.number)}")


if __name__ == "__main__":
    main()
