"""Partition scale: how a three-node cluster creates, idles, serves and recovers at the
partition counts of a real deployment.

Run:  .venv/bin/python bench/partition_scale.py [--partitions 1000,3000] [--per-topic 100]
                                                [--idle-seconds 10] [--groups 200]
                                                [--steps create,idle,latency,metadata,kill,restart,groups]

Each size starts a fresh LocalCluster(3) (every node controller and broker, real
processes on 127.0.0.N), creates `--partitions` partitions in topics of `--per-topic`
(RF 3, min.insync.replicas 2) and writes one record to each. Then, one step after the
other:

- create: seconds until the CreateTopics answers came, and until every node hosts every
  partition (each node's kafka_server_replicamanager_partitioncount);
- idle: once every ISR is whole, each node's CPU (share of one core) over
  `--idle-seconds` with no traffic, and its resident memory;
- latency: a new producer's first acks=all produce, and a produce -> consume round trip;
- metadata: Metadata for every topic, five times at each node: the first answer's time and
  the answering node's CPU, and the median of the four after it;
- kill: kill -9 the node leading the most partitions, start it again; seconds until every
  partition has a leader, until the node is ready, and until it is back in every ISR
  (the ISRs it is still missing from, sampled);
- restart: SIGTERM all three (seconds until all exited, and which were killed at the
  60 s deadline), start all three; seconds until ready, until
  /status/ready?acks=all says yes, and until an acks=all produce to every partition is
  delivered;
- groups: `--groups` consumer groups commit one offset each (OffsetCommit through the
  AdminClient, 8 at a time); commits per second, the first 50 apart.

A wait that runs out reports how far it got instead of a time. Progress goes to stderr;
the last line of stdout is JSON with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kio.schema.metadata.v12.request import MetadataRequest  # noqa: E402

from kraft.kafka.wire.codec import encode_request  # noqa: E402
from kraft.server.local_cluster import LocalCluster  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def say(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def until(predicate, bound_s: float, pause_s: float = 0.25):
    """Seconds until predicate() is truthy, or None past bound_s."""
    start = time.monotonic()
    while time.monotonic() - start < bound_s:
        try:
            if predicate():
                return round(time.monotonic() - start, 2)
        except Exception:  # a node restarting answers nothing yet: ask again
            pass
        time.sleep(pause_s)
    return None


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def metric(cluster: LocalCluster, node: int, name: str) -> float:
    with urllib.request.urlopen(cluster.url(node) + "/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return -1.0


def fencings(cluster: LocalCluster) -> int:
    """Brokers the controllers fenced for a silent session so far (each node's log)."""
    return sum(cluster.log_path(n).read_text(errors="replace").count("session expired")
               for n in cluster.hosts if cluster.log_path(n).exists())


class Scale:
    def __init__(self, cluster: LocalCluster, partitions: int, per_topic: int):
        self.cluster = cluster
        self.bootstrap = cluster.bootstrap_servers
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})
        self.topics = [f"scale-{i}" for i in range((partitions + per_topic - 1) // per_topic)]
        self.per_topic = per_topic
        self.total = len(self.topics) * per_topic

    def partitions(self):
        return [(t, p) for t in self.topics for p in range(self.per_topic)]

    def metadata(self):
        return self.admin.list_topics(timeout=10).topics

    def leaders(self) -> dict[int, int]:
        count: dict[int, int] = {}
        meta = self.metadata()  # one Metadata answer for every topic, not one per topic
        for name in self.topics:
            for p in meta[name].partitions.values():
                count[p.leader] = count.get(p.leader, 0) + 1
        return count

    def missing_from_isr(self, node: int) -> int:
        meta = self.metadata()
        return sum(1 for t in self.topics for p in meta[t].partitions.values() if node not in p.isrs)

    def not_whole(self) -> int:
        """Partitions whose ISR lacks one of their three replicas."""
        meta = self.metadata()
        return sum(1 for t in self.topics for p in meta[t].partitions.values() if len(p.isrs) < 3)

    def led_by(self, node: int) -> int:
        """Partitions without a leader, or led by `node`."""
        meta = self.metadata()
        return sum(1 for t in self.topics for p in meta[t].partitions.values() if p.leader in (-1, node))

    def hosted_everywhere(self) -> bool:
        return all(metric(self.cluster, n, "kafka_server_replicamanager_partitioncount") >= self.total
                   for n in self.cluster.hosts)

    def produce_all(self, bound_s: float) -> tuple[int, int]:
        """One acks=all record to every partition; (delivered, failed)."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 5,
                             "message.timeout.ms": int(bound_s * 1000)})
        done = {"ok": 0, "failed": 0}

        def delivered(err, _msg):
            done["failed" if err else "ok"] += 1
        for topic, partition in self.partitions():
            producer.produce(topic, b"x", partition=partition, on_delivery=delivered)
            producer.poll(0)
        producer.flush(bound_s + 10)
        return done["ok"], done["failed"]


def step_create(s: Scale) -> dict:
    start = time.monotonic()
    futures = s.admin.create_topics([NewTopic(t, s.per_topic, 3, config={"min.insync.replicas": "2"})
                                     for t in s.topics], operation_timeout=120)
    for future in futures.values():
        future.result()
    answered = round(time.monotonic() - start, 2)
    hosted = until(s.hosted_everywhere, 600, 0.5)
    out = {"create_answered_s": answered,
           "all_hosted_s": None if hosted is None else round(answered + hosted, 2)}
    t0 = time.monotonic()
    ok, failed = s.produce_all(120)
    out.update(first_records_delivered=ok, first_records_failed=failed,
               first_records_s=round(time.monotonic() - t0, 2))
    return out


def step_idle(s: Scale, seconds: float, settle_s: float) -> dict:
    # steady state: every ISR whole again (creation shrinks some while followers open their
    # logs), and the writes' last replication done
    settled = until(lambda: s.not_whole() == 0, 300, 1.0)
    time.sleep(settle_s)
    pids = {n: s.cluster.procs[n].pid for n in s.cluster.hosts}
    before = {n: cpu_s(pid) for n, pid in pids.items()}
    time.sleep(seconds)
    return {"isrs_whole_after_s": settled,
            "idle_cpu_pct": {n: round(100 * (cpu_s(pid) - before[n]) / seconds, 1) for n, pid in pids.items()},
            "rss_mb": {n: rss_mb(pid) for n, pid in pids.items()}}


def step_latency(s: Scale) -> dict:
    topic = s.topics[0]
    producer = Producer({"bootstrap.servers": s.bootstrap, "acks": "all", "linger.ms": 0})
    times = []
    for i in range(6):
        t0 = time.monotonic()
        producer.produce(topic, f"lat-{i}".encode(), partition=1)
        producer.flush(30)
        times.append((time.monotonic() - t0) * 1000)
    consumer = Consumer({"bootstrap.servers": s.bootstrap, "group.id": "scale-latency",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 2, -1)])  # from the end
    consumer.poll(1.0)
    round_trips = []
    for i in range(5):
        t0 = time.monotonic()
        producer.produce(topic, f"rt-{i}".encode(), partition=2)
        producer.flush(30)
        while True:
            msg = consumer.poll(5)
            if msg is None or msg.error() is None:
                break
        round_trips.append((time.monotonic() - t0) * 1000)
    consumer.close()
    return {"first_produce_ms": round(times[0], 1), "next_produce_ms_median": round(sorted(times[1:])[2], 1),
            "round_trip_ms_median": round(sorted(round_trips)[2], 1)}


def step_metadata(s: Scale, rounds: int = 5) -> dict:
    """Metadata for every topic (v12, as librdkafka asks), `rounds` times at each node on one
    connection: the first answer's time and the answering node's CPU, then the median of
    the others (CPU counted at 100 Hz: a few ms is noise)."""
    frame = encode_request(MetadataRequest(topics=None, allow_auto_topic_creation=False,
                                           include_topic_authorized_operations=False), 1, "scale")
    out: dict = {}
    for node in s.cluster.hosts:
        conf = s.cluster.config.node(node)
        pid = s.cluster.procs[node].pid
        times, cpus, size = [], [], 0
        with socket.create_connection((conf.host, conf.kafka_port), timeout=60) as sock:
            reader = sock.makefile("rb")
            for _ in range(rounds):
                cpu0, t0 = cpu_s(pid), time.monotonic()
                sock.sendall(frame)
                size = struct.unpack(">i", reader.read(4))[0]
                reader.read(size)
                times.append((time.monotonic() - t0) * 1000)
                cpus.append((cpu_s(pid) - cpu0) * 1000)
        rest = rounds // 2  # the median of the answers after the first
        out[str(node)] = {"first_ms": round(times[0], 1), "first_node_cpu_ms": round(cpus[0], 1),
                          "then_ms": round(sorted(times[1:])[rest - 1], 1),
                          "then_node_cpu_ms": round(sorted(cpus[1:])[rest - 1], 1), "bytes": size}
    return out


def step_kill(s: Scale) -> dict:
    leaders = s.leaders()
    node = max(leaders, key=lambda n: leaders[n])
    say(f"  kill -9 node {node} (leads {leaders[node]})")
    s.cluster.kill(node)
    t0 = time.monotonic()
    led = until(lambda: s.led_by(node) == 0, 120)
    s.cluster.start_node(node)
    s.cluster.wait_ready([node], timeout_s=300)
    ready = round(time.monotonic() - t0, 2)
    samples = []
    t_ready = time.monotonic()

    def back() -> bool:
        missing = s.missing_from_isr(node)
        samples.append((round(time.monotonic() - t_ready, 1), missing))
        return missing == 0
    in_isr = until(back, 120, 1.0)
    return {"killed": node, "led": leaders[node], "all_led_again_s": led, "ready_after_kill_s": ready,
            "back_in_every_isr_after_ready_s": in_isr, "missing_from_isr_samples": samples[::5] + samples[-1:]}


def step_restart(s: Scale) -> dict:
    t_stop = time.monotonic()
    s.cluster.stop_all(timeout_s=60)
    stopped = round(time.monotonic() - t_stop, 2)
    # a node still closing its logs at the deadline is killed: its next start recovers them
    killed = sorted(n for n, p in s.cluster.procs.items() if p.returncode == -signal.SIGKILL)
    t0 = time.monotonic()
    s.cluster.start()
    s.cluster.wait_ready(timeout_s=300)
    ready = round(time.monotonic() - t0, 2)
    t_ready = time.monotonic()
    reasons = []

    def writable() -> bool:
        status, body = s.cluster.get(1, "/status/ready?acks=all", 5.0)[:2]
        reasons.append((round(time.monotonic() - t_ready, 1), body.get("reason") if isinstance(body, dict) else body))
        return status == 200
    acks_all = until(writable, 120, 1.0)
    t1 = time.monotonic()
    ok, failed = s.produce_all(120)
    return {"stopped_s": stopped, "killed_at_stop": killed, "ready_s": ready,
            "acks_all_ready_after_ready_s": acks_all,
            "every_partition_written_after_ready_s": round(time.monotonic() - t_ready, 2),
            "produce_all_s": round(time.monotonic() - t1, 2), "delivered": ok, "failed": failed,
            "reasons": reasons[::5] + reasons[-1:]}


def step_groups(s: Scale, groups: int) -> dict:
    topic = s.topics[0]

    def commit(i: int) -> None:
        offsets = [TopicPartition(topic, i % s.per_topic, 1)]
        from confluent_kafka import ConsumerGroupTopicPartitions
        for future in s.admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(f"scale-group-{i}", offsets)], request_timeout=60).values():
            future.result()
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(commit, range(min(50, groups))))
        first = time.monotonic() - t0
        t1 = time.monotonic()
        list(pool.map(commit, range(50, groups)))
        rest = time.monotonic() - t1
    return {"groups": groups, "first_50_s": round(first, 2),
            "commits_per_s_after": round((groups - 50) / rest, 1) if groups > 50 else None}


def one_size(partitions: int, args) -> dict:
    base = None
    if args.data_dir:
        base = Path(args.data_dir) / f"p{partitions}"
        base.mkdir(parents=True, exist_ok=True)
    with LocalCluster(3, topic_defaults={"min.insync.replicas": 2}, base_dir=base) as cluster:
        cluster.start()
        cluster.wait_ready(timeout_s=120)
        s = Scale(cluster, partitions, args.per_topic)
        result: dict = {"partitions": s.total}
        steps = args.steps.split(",")
        for name, run in (("create", lambda: step_create(s)), ("idle", lambda: step_idle(s, args.idle_seconds, args.settle_seconds)),
                          ("latency", lambda: step_latency(s)), ("metadata", lambda: step_metadata(s)),
                          ("kill", lambda: step_kill(s)),
                          ("restart", lambda: step_restart(s)), ("groups", lambda: step_groups(s, args.groups))):
            if name in steps or name == "create":
                say(f"[{s.total}] {name} ...")
                fenced_before = fencings(cluster)
                result[name] = run()
                result[name]["brokers_fenced"] = fencings(cluster) - fenced_before
                say(f"[{s.total}] {name}: {json.dumps(result[name])}")
        return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--partitions", default="1000", help="sizes, comma-separated")
    ap.add_argument("--per-topic", type=int, default=100)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--settle-seconds", type=float, default=3.0,
                    help="after every ISR is whole, wait this long before measuring idle CPU")
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--steps", default="create,idle,latency,metadata,kill,restart,groups")
    ap.add_argument("--data-dir", help="keep each size's cluster (data and node logs) here, for a look after")
    args = ap.parse_args()
    results = [one_size(int(n), args) for n in args.partitions.split(",")]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
