"""The replicated "ceiling": the least three Python processes must do to take Kafka
acks=all produce traffic with replication factor 3.

Three nodes on 127.0.0.1, a process each, laid out as kraft's: partition p is led by node
(p % 3) + 1, replicas and ISR 1, 2, 3, so each node leads some partitions and follows the
others, and there are six fetch streams (each node fetches from each other node). Every
node speaks what bench/kafka_ceiling.py speaks (ApiVersions, Metadata, InitProducerId,
Produce; Produce only for the partitions it leads, NOT_LEADER_OR_FOLLOWER for others),
and Fetch v17 for its followers. A Produce's batches are checked (CRC-32C) and appended to
the partition's log in memory and to a file; acks=all answers once both followers of the
partition have fetched past the batch (a follower's next fetch offset is its
acknowledgement, as in Kafka), acks=1 at once, acks=0 never; a connection's answers keep
its requests' order (a producer pipelines its Produce requests). A node follows each other
node with one connection and a loop: Fetch v17 of that node's partitions from its own log
ends (min_bytes 1, long-polled up to 500 ms), append the answer's batches to its own
files, fetch again at once; it learns the topics (their ids) from a Metadata request on
start, every second, and after an empty answer (a leader ends its followers' long polls
when it learns a topic). Each process writes one file per partition, <dir>/<node>/<topic>-<p>.log.

Left out: fsync, decoding records, sequence checks, offsets written into the batches,
leader epochs, ISR changes (a follower that stops holds every acks=all answer of the
partitions it follows), fetch sessions (every fetch is a full one), consumers' fetches,
request timeouts. It uses kraft's codec (kio) on all sides, so the measured difference to
kraft is everything kraft does beyond reading, checking, appending and replicating bytes.

Standalone:  .venv/bin/python bench/replicated_ceiling.py --port 9999 [--partitions 3]
From Python: server = ReplicatedCeiling(partitions=3).start(); server.bootstrap; server.pids; server.stop()
             (three subprocesses: they share neither the caller's CPU nor its event loop)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from bisect import bisect_left, bisect_right
from collections import deque
from pathlib import Path

from kio.schema.fetch.v17.request import FetchRequest
from kio.schema.metadata.v12.request import MetadataRequest

from kraft.kafka.wire.codec import decode_response, encode_request, encode_response, response_class
from kraft.kafka.wire.entities import build, millis
from kraft.storage.record_batch import ensure_valid, iter_batches

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kafka_ceiling import read_request  # noqa: E402

SERVED = {0: (3, 9), 1: (12, 17), 3: (1, 12), 18: (0, 3), 22: (0, 4)}
# Fetch is listed from v4: librdkafka writes RecordBatch v2 only to a broker that lists Fetch v4+
ADVERTISED = {**SERVED, 1: (4, 17)}
NODES = (1, 2, 3)
MAX_WAIT_MS = 500
PARTITION_MAX_BYTES = 1 << 20
METADATA_EVERY_S = 1.0
UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER = 3, 6


def leader_of(partition: int) -> int:
    return partition % len(NODES) + 1


def topic_id(name: str) -> uuid.UUID:
    """The same id for a name every time, on every node (the only topic registry)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"replicated-ceiling:{name}")


class Held:
    """A Produce answer (acks=all) waiting for its partitions' batches to be replicated."""

    __slots__ = ("future", "left", "answer")

    def __init__(self) -> None:
        self.future, self.left, self.answer = asyncio.get_running_loop().create_future(), 0, b""

    def partition_done(self) -> None:
        self.left -= 1
        if self.left == 0 and not self.future.done():
            self.future.set_result(self.answer)


class Partition:
    """The leader's log of one partition: its batches not yet fetched by both followers."""

    __slots__ = ("batches", "bases", "end", "fetched", "waiters")

    def __init__(self, followers: tuple[int, ...]) -> None:
        self.batches: list[bytes] = []
        self.bases: list[int] = []  # the base offset of each of `batches`
        self.end = 0
        self.fetched = dict.fromkeys(followers, 0)  # each follower's last fetch offset
        self.waiters: deque[tuple[int, Held]] = deque()  # (offset both must pass, answer), in offset order

    def append(self, data: bytes, count: int) -> int:
        base = self.end
        self.batches.append(data)
        self.bases.append(base)
        self.end = base + count
        return base

    def acked(self) -> int:
        return min(self.fetched.values())

    def fetched_at(self, replica: int, offset: int) -> None:
        self.fetched[replica] = offset
        acked = self.acked()
        waiters = self.waiters
        while waiters and waiters[0][0] <= acked:
            waiters.popleft()[1].partition_done()
        done = bisect_left(self.bases, acked)  # batches both followers have
        if done:
            del self.batches[:done], self.bases[:done]

    def read(self, offset: int, max_bytes: int) -> bytes:
        """Whole batches from `offset` on, up to max_bytes but at least one."""
        if offset >= self.end:
            return b""
        i = max(0, bisect_right(self.bases, offset) - 1)
        out: list[bytes] = []
        size = 0
        for batch in self.batches[i:]:
            if out and size + len(batch) > max_bytes:
                break
            out.append(batch)
            size += len(batch)
        return b"".join(out)


class Answers:
    """A connection's answers (bytes, or futures of bytes), written in its requests' order."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.queue: deque = deque()
        self.task: asyncio.Task | None = None

    def add(self, answer) -> None:
        if not self.queue and isinstance(answer, bytes):
            self.writer.write(answer)
            return
        self.queue.append(answer)
        if self.task is None:
            self.task = asyncio.create_task(self._write_in_order())

    async def _write_in_order(self) -> None:
        try:
            while self.queue:
                item = self.queue[0]
                if not isinstance(item, bytes):
                    item = await item
                self.queue.popleft()
                self.writer.write(item)
        finally:
            self.task = None

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


class Node:
    """One process: leads the partitions p with leader_of(p) == node, follows the others."""

    def __init__(self, node: int, host: str, ports: list[int], partitions: int, directory: Path) -> None:
        self.node, self.host, self.ports, self.partitions = node, host, ports, partitions
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.producer_id = node * 1_000_000
        self.logs: dict[tuple[str, int], Partition] = {}  # the partitions this node leads
        self.files: dict[tuple[str, int], object] = {}  # every partition's file
        self.topics: dict[str, uuid.UUID] = {}
        self.names: dict[uuid.UUID, str] = {}
        self.news = asyncio.Event()  # pulsed on every append and every new topic
        self.followers = tuple(n for n in NODES if n != node)

    def _pulse(self) -> None:
        self.news.set()
        self.news.clear()

    def topic(self, name: str) -> uuid.UUID:
        known = self.topics.get(name)
        if known is None:
            known = self.topics[name] = topic_id(name)
            self.names[known] = name
            for p in range(self.partitions):
                self.files[(name, p)] = open(self.dir / f"{name}-{p}.log", "ab", buffering=1 << 20)  # noqa: SIM115
                if leader_of(p) == self.node:
                    self.logs[(name, p)] = Partition(self.followers)
            self._pulse()  # followers' long polls end, and they ask for Metadata
        return known

    def answer(self, head, request):
        """bytes, a future of bytes (acks=all), or None (acks=0); Fetch: see fetch."""
        key = head.api_key
        if key == 0:
            return self.produce(head, request)
        if key == 18:
            data = {"error_code": 0, "throttle_time": 0, "api_keys": [
                {"api_key": k, "min_version": lo, "max_version": hi} for k, (lo, hi) in sorted(ADVERTISED.items())]}
        elif key == 3:
            names = list(self.topics) if request.topics is None else [t.name for t in request.topics]
            data = {"throttle_time": 0, "cluster_id": "replicated-ceiling", "controller_id": NODES[0],
                    "cluster_authorized_operations": -2147483648,
                    "brokers": [{"node_id": n, "host": self.host, "port": port, "rack": None}
                                for n, port in zip(NODES, self.ports)],
                    "topics": [{"error_code": 0, "name": n, "topic_id": self.topic(n), "is_internal": False,
                                "topic_authorized_operations": -2147483648,
                                "partitions": [{"error_code": 0, "partition_index": p, "leader_id": leader_of(p),
                                                "leader_epoch": 0, "replica_nodes": list(NODES),
                                                "isr_nodes": list(NODES), "offline_replicas": []}
                                               for p in range(self.partitions)]}
                               for n in names]}
        elif key == 22:
            self.producer_id += 1
            data = {"throttle_time": 0, "error_code": 0, "producer_id": self.producer_id, "producer_epoch": 0}
        else:
            raise ValueError(f"API key {key} is not served")
        return encode_response(head, build(response_class(key, head.api_version), data))

    def produce(self, head, request):
        acks = int(request.acks)
        held = Held() if acks == -1 else None
        responses = []
        for topic in request.topic_data:
            self.topic(topic.name)
            parts = []
            for part in topic.partition_data:
                index = int(part.index)
                log = self.logs.get((topic.name, index))
                if log is None:
                    error = UNKNOWN_TOPIC_OR_PARTITION if not 0 <= index < self.partitions else NOT_LEADER_OR_FOLLOWER
                    parts.append({"index": part.index, "error_code": error, "base_offset": -1,
                                  "log_append_time": -1, "log_start_offset": -1, "record_errors": [],
                                  "error_message": None})
                    continue
                data = bytes(part.records or b"")
                header = ensure_valid(data)
                self.files[(topic.name, index)].write(data)  # type: ignore[attr-defined]
                base = log.append(data, header.record_count)
                if held is not None and log.end > log.acked():
                    log.waiters.append((log.end, held))
                    held.left += 1
                parts.append({"index": part.index, "error_code": 0, "base_offset": base, "log_append_time": -1,
                              "log_start_offset": 0, "record_errors": [], "error_message": None})
            responses.append({"name": topic.name, "partition_responses": parts})
        self._pulse()
        if acks == 0:
            return None
        answer = encode_response(head, build(response_class(0, head.api_version),
                                             {"responses": responses, "throttle_time": 0}))
        if held is None or held.left == 0:
            return answer
        held.answer = answer
        return held.future

    async def fetch(self, head, request) -> bytes:
        """A follower's fetch: its offsets acknowledge, then whole batches from them on,
        long-polled until there are some, a topic is new, or max_wait has passed."""
        replica = int(request.replica_state.replica_id)
        wanted = []
        for topic in request.topics:
            name = self.names.get(topic.topic_id)
            for p in topic.partitions:
                log = self.logs.get((name, int(p.partition)))  # type: ignore[arg-type]
                if log is None:
                    continue
                offset = int(p.fetch_offset)
                if replica in log.fetched:
                    log.fetched_at(replica, offset)
                wanted.append((topic.topic_id, int(p.partition), offset, int(p.partition_max_bytes), log))
        loop = asyncio.get_running_loop()
        deadline, topics = loop.time() + millis(request.max_wait) / 1000, len(self.topics)
        while not any(log.end > offset for _, _, offset, _, log in wanted) and len(self.topics) == topics:
            try:
                async with asyncio.timeout_at(deadline):
                    await self.news.wait()
            except TimeoutError:
                break
        out: dict[uuid.UUID, list] = {}
        for tid, index, offset, max_bytes, log in wanted:
            watermark = min(log.acked(), log.end)
            out.setdefault(tid, []).append({
                "partition_index": index, "error_code": 0, "high_watermark": watermark,
                "last_stable_offset": watermark, "log_start_offset": 0, "aborted_transactions": None,
                "records": log.read(offset, max_bytes)})
        data = {"throttle_time": 0, "error_code": 0, "session_id": 0,
                "responses": [{"topic_id": t, "partitions": parts} for t, parts in out.items()]}
        return encode_response(head, build(response_class(1, head.api_version), data))

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answers = Answers(writer)
        try:
            while True:
                head, request = await read_request(reader)
                # a follower waits for each fetch's answer: it is the only request on its connection
                answer = await self.fetch(head, request) if head.api_key == 1 else self.answer(head, request)
                if answer is not None:
                    answers.add(answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # cancelled: the process is ending (a cancelled handler prints a traceback in 3.11)
        finally:
            answers.close()
            writer.close()

    async def serve(self, ready: Path | None) -> None:
        """Serve, and follow each other node; touch `ready` once every follower loop has fetched."""
        fetched = {n: asyncio.Event() for n in self.followers}

        async def touch_when_ready() -> None:
            for event in fetched.values():
                await event.wait()
            if ready is not None:
                ready.touch()
        try:
            server = await asyncio.start_server(self.connection, self.host, self.ports[self.node - 1])
            async with server:
                await asyncio.gather(server.serve_forever(), touch_when_ready(),
                                     *(self.follow(n, fetched[n]) for n in self.followers))
        finally:
            for file in self.files.values():
                file.close()  # type: ignore[attr-defined]

    async def follow(self, leader: int, fetched: asyncio.Event) -> None:
        """Fetch from `leader` for ever: every partition it leads, from this replica's log end."""
        deadline = time.monotonic() + 20
        while True:  # the nodes start together: wait for the leader to listen
            try:
                reader, writer = await asyncio.open_connection(self.host, self.ports[leader - 1])
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        correlation = 0

        async def exchange(cls, data: dict):
            nonlocal correlation
            correlation += 1
            writer.write(encode_request(build(cls, data), correlation, f"replica-{self.node}"))
            await writer.drain()
            (size,) = struct.unpack(">i", await reader.readexactly(4))
            return decode_response(int(cls.__api_key__), int(cls.__version__), await reader.readexactly(size))

        ends: dict[tuple[str, int], int] = {}  # this replica's log end offset per partition `leader` leads
        refreshed, got = 0.0, 0
        try:
            while True:
                if not got or time.monotonic() - refreshed >= METADATA_EVERY_S:
                    meta = await exchange(MetadataRequest, {"topics": None, "allow_auto_topic_creation": False,
                                                            "include_topic_authorized_operations": False})
                    for t in meta.topics:
                        self.topic(t.name)
                        for p in t.partitions:
                            if int(p.leader_id) == leader:
                                ends.setdefault((t.name, int(p.partition_index)), 0)
                    refreshed = time.monotonic()
                topics: dict[uuid.UUID, list] = {}
                for (name, index), end in ends.items():
                    topics.setdefault(self.topics[name], []).append({
                        "partition": index, "fetch_offset": end, "log_start_offset": -1,
                        "partition_max_bytes": PARTITION_MAX_BYTES})
                answer = await exchange(FetchRequest, {
                    "replica_state": {"replica_id": self.node, "replica_epoch": 0}, "max_wait": MAX_WAIT_MS,
                    "min_bytes": 1, "max_bytes": 64 << 20,
                    "topics": [{"topic_id": t, "partitions": ps} for t, ps in topics.items()],
                    "forgotten_topics_data": []})
                if answer.error_code.value:
                    raise RuntimeError(f"fetch refused: {answer.error_code.name}")
                got = 0
                for t in answer.responses:
                    name = self.names[t.topic_id]
                    for p in t.partitions:
                        records = p.records
                        if p.error_code.value or not records:
                            continue
                        count = length = 0
                        for pos, header in iter_batches(records):
                            count += header.record_count
                            length = pos + header.size
                        key = (name, int(p.partition_index))
                        self.files[key].write(records[:length] if length < len(records) else records)  # type: ignore
                        ends[key] += count
                        got += count
                fetched.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the leader went away
        finally:
            writer.close()


async def until_terminated(coro) -> None:
    """Run `coro` until SIGTERM or SIGINT cancels it (its `finally` closes its files)."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


class ReplicatedCeiling:
    def __init__(self, host: str = "127.0.0.1", partitions: int = 3, port: int | None = None):
        self.host, self.partitions = host, partitions
        self.procs: list[subprocess.Popen] = []
        self._dir = tempfile.TemporaryDirectory(prefix="replicated-ceiling-")
        self.dirs = {n: Path(self._dir.name) / str(n) for n in NODES}  # each node's files: <topic>-<p>.log
        with contextlib.ExitStack() as stack:  # all bound at once: three different ports
            socks = [stack.enter_context(socket.socket()) for _ in range(3 if port is None else 2)]
            for s in socks:
                s.bind((host, 0))
            self.ports = ([] if port is None else [port]) + [s.getsockname()[1] for s in socks]

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.ports[0]}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def start(self) -> "ReplicatedCeiling":
        deadline = time.monotonic() + 20
        ready = [Path(self._dir.name) / f"ready{n}" for n in NODES]
        for node, path in zip(NODES, ready):
            self.procs.append(subprocess.Popen([
                sys.executable, __file__, "--node", str(node), "--host", self.host,
                "--ports", ",".join(map(str, self.ports)), "--partitions", str(self.partitions),
                "--dir", str(self.dirs[node]), "--ready", str(path)]))
        while not all(p.exists() for p in ready):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self.stop()
                raise RuntimeError("the replicated ceiling did not start: a node is not fetching")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._dir.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="standalone: node 1's port (the bootstrap)")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--node", type=int, choices=NODES, help="run one node (ReplicatedCeiling starts them)")
    parser.add_argument("--ports", type=lambda text: [int(x) for x in text.split(",")], help="nodes 1, 2, 3")
    parser.add_argument("--dir", type=Path, help="the node's files")
    parser.add_argument("--ready", type=Path, help="touched once the node has fetched from each other node")
    args = parser.parse_args()
    if args.node is not None:
        node = Node(args.node, args.host, args.ports, args.partitions, args.dir)
        asyncio.run(until_terminated(node.serve(args.ready)))
    else:
        ceiling = ReplicatedCeiling(args.host, args.partitions, args.port).start()
        print(f"nodes 1, 2, 3 on ports {ceiling.ports}, bootstrap {ceiling.bootstrap} (pids {ceiling.pids})",
              flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
        finally:
            ceiling.stop()


if __name__ == "__main__":
    main()
