"""The Kafka listener's two fast paths, seen from the wire.

Produce: a connection's pipelined produces are appended in the order sent and
answered in that order, while earlier ones still wait for their replicas.
Fetch: record bytes go from the segment files to the socket with sendfile (watched
with strace; an answer with only a few KiB of records is copied), and the answer is the
log, byte for byte.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

import pytest
from cluster_client import create_topic
from kafka_wire import fetch_frame, kafka_socket, leader_of, produce_frame, recv_frame

from kraft.kafka.connection.listener import INLINE_RECORDS_BYTES
from kraft.storage.record import Record
from kraft.storage.record_batch import decode_all, encode_batch

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


def produce_answer(frame: bytes) -> tuple[int, int, int]:
    """(correlation id, error code, base offset) of a Produce v9 answer."""
    from kio.schema.produce.v9.response import ProduceResponse
    from kio.serial import entity_reader
    answer, _ = entity_reader(ProduceResponse)(frame, 5)
    part = answer.responses[0].partition_responses[0]
    return int.from_bytes(frame[:4], "big"), int(part.error_code.value), int(part.base_offset)


def fetch_records(frame: bytes) -> bytes:
    from kio.schema.fetch.v11.response import FetchResponse
    from kio.serial import entity_reader
    answer, used = entity_reader(FetchResponse)(frame, 4)
    assert used + 4 == len(frame)  # the declared lengths add up to the frame
    part = answer.responses[0].partitions[0]
    assert part.error_code.value == 0
    return part.records or b""


def test_pipelined_produces_are_appended_and_answered_in_the_order_sent(cluster):
    create_topic(cluster, "pipelined", 1)
    now_ms = int(time.time() * 1000)  # not 0 (1970): retention would delete the records before they are read back
    batches = [encode_batch([Record(None, f"b{i}-r{j}".encode(), (), now_ms) for j in range(i + 1)], 0, -1)
               for i in range(12)]
    with kafka_socket(cluster, leader_of(cluster, "pipelined", 0)) as s:
        s.sendall(b"".join(produce_frame("pipelined", 0, batch, correlation_id=100 + i)
                           for i, batch in enumerate(batches)))  # all sent before any answer is read
        answers = [produce_answer(recv_frame(s)) for _ in batches]
    assert [a[0] for a in answers] == [100 + i for i in range(12)]
    assert [a[1] for a in answers] == [0] * 12
    starts = [sum(range(1, i + 1)) for i in range(12)]  # batch i holds i + 1 records
    assert [a[2] for a in answers] == starts
    with kafka_socket(cluster, leader_of(cluster, "pipelined", 0)) as s:
        s.sendall(fetch_frame("pipelined", 0, correlation_id=7, max_bytes=1 << 20))
        stored = decode_all(fetch_records(recv_frame(s)))
    assert [r.value for r in stored] == [f"b{i}-r{j}".encode() for i in range(12) for j in range(i + 1)]


def produce_values(c, topic: str, values: list[bytes]) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                         "enable.idempotence": True, "linger.ms": 20})
    for value in values:
        producer.produce(topic, value=value, partition=0)
    assert producer.flush(60) == 0


def test_a_fetch_answer_is_the_log_byte_for_byte_across_segments(cluster):
    create_topic(cluster, "spliced", 1, configs={"segment.bytes": str(256 * 1024)})
    values = [f"{i:06d}".encode() * 170 for i in range(3000)]  # ~3 MB over a dozen segments
    produce_values(cluster, "spliced", values)
    got: list[bytes] = []
    with kafka_socket(cluster, leader_of(cluster, "spliced", 0)) as s:
        for correlation in range(40):
            if len(got) == len(values):
                break
            s.sendall(fetch_frame("spliced", 0, correlation_id=correlation, max_bytes=1 << 20,
                                  offset=len(got)))
            got += [r.value for r in decode_all(fetch_records(recv_frame(s)))]
    assert got == values


def sendfile_bytes(strace_output: str) -> int:
    """Bytes moved by the sendfile calls in `strace -e trace=sendfile` output."""
    return sum(int(n) for n in re.findall(r"sendfile\(.*\)\s+=\s+(\d+)", strace_output))


@pytest.mark.skipif(shutil.which("strace") is None or shutil.which("kcat") is None,
                    reason="strace and kcat are needed (./dev test installs them from Debian when run as root)")
def test_consumers_get_record_bytes_by_sendfile(cluster, tmp_path):
    create_topic(cluster, "zero-copy", 1)
    values = [os.urandom(1000).hex().encode() for _ in range(2000)]  # 4 MB
    produce_values(cluster, "zero-copy", values)
    leader = leader_of(cluster, "zero-copy", 0)
    trace = tmp_path / "strace.txt"
    strace = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=sendfile", "-o", str(trace),
                               "-p", str(cluster.procs[leader].pid)], stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # attached to every thread
        got = subprocess.run(["kcat", "-C", "-b", cluster.bootstrap_servers, "-t", "zero-copy", "-p", "0",
                              "-o", "beginning", "-e", "-q", "-f", "%s\n"], capture_output=True, timeout=60)
    finally:
        strace.send_signal(signal.SIGINT)
        strace.wait(timeout=10)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == values
    moved = sendfile_bytes(trace.read_text())
    # an answer with at most INLINE_RECORDS_BYTES of records is copied instead (the last one may be)
    assert moved >= sum(len(v) for v in values) - INLINE_RECORDS_BYTES, f"only {moved} bytes went by sendfile"
