"""The wire "ceiling": the least a Python process must do to take Kafka produce traffic.

One asyncio process that speaks just enough of the Kafka protocol for a producer:
ApiVersions, Metadata (itself as the only broker, leader of every partition of any
topic asked for), InitProducerId (so an idempotent producer can start) and Produce,
whose batches it checks (CRC-32C of every batch) and appends to one file before it
answers with running offsets. No replication, no fsync, no records decoded, no
sequence checks. It uses kraft's codec (kio), so the measured difference to kraft is
everything kraft does beyond reading, checking and appending bytes.

Standalone:  .venv/bin/python bench/kafka_ceiling.py --port 9999 [--partitions 3]
From Python: server = KafkaCeiling(partitions=3).start(); server.bootstrap; server.stop()
             (a subprocess: it does not share the caller's CPU or event loop)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kraft.kafka.wire.codec import decode_request, encode_response, peek_head, response_class
from kraft.kafka.wire.entities import build
from kraft.storage.record_batch import ensure_valid

SERVED = {0: (3, 9), 3: (1, 12), 18: (0, 3), 22: (0, 4)}
# listed, never asked for by a producer: librdkafka writes RecordBatch v2 only to a broker
# that also lists Fetch v4+ (else it falls back to the old message sets)
ADVERTISED = {**SERVED, 1: (4, 11)}


def _answer(head, request, state, host: str, port: int) -> dict | None:
    key = head.api_key
    if key == 18:
        return {"error_code": 0, "throttle_time": 0, "api_keys": [
            {"api_key": k, "min_version": lo, "max_version": hi} for k, (lo, hi) in sorted(ADVERTISED.items())]}
    if key == 3:
        names = [t.name for t in request.topics or ()]
        return {"throttle_time": 0, "brokers": [{"node_id": 1, "host": host, "port": port, "rack": None}],
                "cluster_id": "ceiling", "controller_id": 1, "cluster_authorized_operations": -2147483648,
                "topics": [{"error_code": 0, "name": n, "topic_id": uuid.UUID(int=i + 1), "is_internal": False,
                            "topic_authorized_operations": -2147483648,
                            "partitions": [{"error_code": 0, "partition_index": p, "leader_id": 1, "leader_epoch": 0,
                                            "replica_nodes": [1], "isr_nodes": [1], "offline_replicas": []}
                                           for p in range(state["partitions"])]}
                           for i, n in enumerate(names)]}
    if key == 22:
        state["producer_id"] += 1
        return {"throttle_time": 0, "error_code": 0, "producer_id": state["producer_id"], "producer_epoch": 0}
    responses = []
    for topic in request.topic_data:
        parts = []
        for part in topic.partition_data:
            data = bytes(part.records or b"")
            header = ensure_valid(data)
            state["file"].write(data)
            key_ = (topic.name, int(part.index))
            base = state["offsets"].get(key_, 0)
            state["offsets"][key_] = base + header.record_count
            parts.append({"index": part.index, "error_code": 0, "base_offset": base, "log_append_time": -1,
                          "log_start_offset": 0, "record_errors": [], "error_message": None})
        responses.append({"name": topic.name, "partition_responses": parts})
    return None if int(request.acks) == 0 else {"responses": responses, "throttle_time": 0}


async def read_request(reader: asyncio.StreamReader):
    """The next request on a connection, decoded: (head, request). An ApiVersions above
    v3 is read as v0 (a client's first ask, before it knows which versions it may use)."""
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    frame = await reader.readexactly(size)
    head = peek_head(frame)
    version = head.api_version if head.api_key != 18 or head.api_version <= 3 else 0
    return decode_request(frame, head.api_key, version)


async def serve(host: str, port: int, partitions: int, path: Path) -> None:
    state = {"partitions": partitions, "producer_id": 0, "offsets": {},
             "file": open(path, "ab", buffering=1 << 20)}  # noqa: SIM115 - for the process's life

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head, request = await read_request(reader)
                data = _answer(head, request, state, host, port)
                if data is not None:
                    writer.write(encode_response(head, build(response_class(head.api_key, head.api_version), data)))
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, host, port)
    async with server:
        await server.serve_forever()


class KafkaCeiling:
    def __init__(self, host: str = "127.0.0.1", partitions: int = 3):
        self.host, self.partitions = host, partitions
        self.proc: subprocess.Popen | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="kafka-ceiling-")
        with socket.socket() as s:
            s.bind((host, 0))
            self.port = s.getsockname()[1]

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "KafkaCeiling":
        self.proc = subprocess.Popen([sys.executable, __file__, "--host", self.host, "--port", str(self.port),
                                      "--partitions", str(self.partitions),
                                      "--file", os.path.join(self._dir.name, "log")])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the wire ceiling server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self._dir.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--file", default=os.path.join(tempfile.gettempdir(), "kafka-ceiling.log"))
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port, args.partitions, Path(args.file)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
