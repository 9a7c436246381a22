"""A broker that runs out of file descriptors keeps running.

Every file a broker opens can fail with EMFILE once its descriptors are used up (a
connection flood, a low `ulimit -n`). The replica manager's own work opens files: a new
leader writes its leader-epoch checkpoint, a rolled segment its recovery point, the
scrubber walks segments, the Raft library stores its term. Such a failure used to end
the replica manager's task, and with it the node. Now the work waits: the broker takes
the leadership it was given once descriptors are back, and nothing acknowledged is lost.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import threading
import time

import pytest
from cluster_client import V2_JSON, call, create_topic

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

PARTITIONS = 4


@contextlib.contextmanager
def no_descriptors_left(pid: int, max_s: float = 60.0):
    """Every new descriptor in process `pid` fails with EMFILE, as when a flood took them
    all: its soft limit goes down to its lowest free descriptor number (a new descriptor
    takes the lowest free one), and lower again each time a closing socket frees a lower
    one. (Not to 3: poll() refuses more descriptors than the limit, which a real shortage
    never makes it do.) Descriptors already open keep working."""
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    stop = threading.Event()

    def clamp():
        used = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
        lowest_free = min(set(range(len(used) + 1)) - used)
        if lowest_free < resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, hard))

    def keep_clamping():
        deadline = time.monotonic() + max_s
        while not stop.wait(0.01) and time.monotonic() < deadline:
            clamp()

    clamp()
    keeper = threading.Thread(target=keep_clamping, daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join(5)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))


def partitions(c, node, topic):
    status, body = http_json("GET", f"{c.v3(node)}/topics/{topic}/partitions")
    assert status == 200, body
    return {p["partition_id"]: p for p in body["data"]}


def produce(c, node, topic, partition, value, timeout=10, refusals=None):
    """True when acknowledged (acks=all); other answers go to `refusals`."""
    try:
        status, body = http_json("POST", f"{c.url(node)}/topics/{topic}/partitions/{partition}",
                                 {"records": [{"value": value}]}, headers={"Content-Type": V2_JSON},
                                 timeout=timeout)
    except OSError:
        return False  # no answer in time: the outcome is unknown, not counted either way
    ok = status == 200 and body["offsets"][0]["error_code"] is None
    if not ok and refusals is not None:
        refusals.append((status, body))
    return ok


class Writer(threading.Thread):
    """acks=all writes to every partition through one node until stopped (bounded)."""

    def __init__(self, c, node, topic):
        super().__init__(daemon=True)
        self.c, self.node, self.topic = c, node, topic
        self.stop = threading.Event()
        self.acked: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
        self.refusals: list = []

    def run(self):
        for n in range(20000):
            if self.stop.is_set():
                return
            partition = n % PARTITIONS
            value = f"w{n}"
            if produce(self.c, self.node, self.topic, partition, value, timeout=5, refusals=self.refusals):
                self.acked[partition].append(value)
            time.sleep(0.005)


class DirectWrites:
    """acks=all writes on one kept HTTP connection: they reach the victim while it has no
    descriptor for a new one."""

    def __init__(self, conn, topic, partition):
        self.conn, self.path = conn, f"/topics/{topic}/partitions/{partition}"
        self.answers: list = []
        self.acked: list[str] = []

    def write(self, value: str) -> bool:
        try:
            self.conn.request("POST", self.path, body=json.dumps({"records": [{"value": value}]}),
                              headers={"Content-Type": V2_JSON})
            response = self.conn.getresponse()
            status, body = response.status, json.loads(response.read())
        except (OSError, http.client.HTTPException):
            return False  # the victim died or closed the connection: asserted on below
        self.answers.append((status, body))
        if error_code(status, body) is None:
            self.acked.append(value)
            return True
        return False


def values_on(c, node, topic, partition) -> list[str]:
    status, body = http_json("GET", f"{c.url(node)}/topics/{topic}/partitions/{partition}/offsets")
    assert status == 200, body
    out, offset = [], 0
    while offset < body["end_offset"]:
        status, records = call("GET", f"{c.url(node)}/topics/{topic}/partitions/{partition}/records"
                               f"?offset={offset}", headers={"Accept": V2_JSON})
        assert status == 200, records
        out += [r["value"] for r in records]
        offset = records[-1]["offset"] + 1
    return out


def reassign(c, via, topic, partition, replicas):
    status, body = http_json("POST", f"{c.v3(via)}/topics/{topic}/partitions/{partition}/reassignment",
                             {"replicas": replicas})
    assert status in (200, 202), body


# background work of the replica manager that met the clamp: a new leader's epoch entry, the
# HW checkpoint (written every second while writes go on), a rolled segment's fsync. Any one
# of them can find a descriptor another socket freed before the clamp is lowered again
RETRIED = "failed, to be retried: [Errno 24]"
CLAMP_AT_LEAST_S, CLAMP_AT_MOST_S = 3.0, 30.0


class ClampWatch:
    """Whether the clamp may end: held CLAMP_AT_LEAST_S, and the victim's log shows its
    replica manager's work failing for want of a descriptor (looked at twice a second),
    or CLAMP_AT_MOST_S passed (the assertion after it says so)."""

    def __init__(self, c, victim: int):
        self.log_path = c.log_path(victim)
        self.started = time.monotonic()
        self.looked = -1.0

    def met(self) -> bool:
        held = time.monotonic() - self.started
        if held < CLAMP_AT_LEAST_S:
            return False
        if held >= CLAMP_AT_MOST_S:
            return True
        if held - self.looked < 0.5:
            return False
        self.looked = held
        return RETRIED in self.log_path.read_text()


def test_a_broker_out_of_descriptors_while_made_leader_stays_up_and_leads_once_they_are_back():
    with LocalCluster(3) as c:
        c.start().wait_ready(timeout_s=60)
        controller = c.raft_leader()
        victim = next(n for n in c.hosts if n != controller)
        other = next(n for n in c.hosts if n not in (controller, victim))
        # small segments: appends roll often, and a roll opens files
        topic = create_topic(c, "handover", partitions=PARTITIONS, configs={"segment.bytes": 1024})
        c.wait_until(lambda: all(len(p["isr"]) == 3 for p in partitions(c, controller, topic).values()),
                     30, "full ISRs")
        led = [p for p, reg in partitions(c, controller, topic).items() if reg["leader_id"] == victim]
        if not led:  # one partition the victim leads throughout, written to on a kept connection
            reassign(c, controller, topic, 0, [victim, other])
            c.wait_until(lambda: partitions(c, controller, topic)[0]["leader_id"] == victim, 20, "victim leads 0")
            led = [0]
        moving = [p for p, reg in partitions(c, controller, topic).items() if reg["leader_id"] != victim]
        assert moving, "every partition already led by the victim"
        kept = http.client.HTTPConnection(c.config.node(victim).host, c.config.node(victim).http_port, timeout=10)
        direct = DirectWrites(kept, topic, led[0])
        assert direct.write("before")
        writer = Writer(c, controller, topic)
        writer.start()
        try:
            time.sleep(1.0)
            with no_descriptors_left(c.procs[victim].pid):
                for p in moving:  # the leader leaves the replicas: leadership moves to the victim
                    leader = partitions(c, controller, topic)[p]["leader_id"]
                    reassign(c, controller, topic, p, [victim, next(n for n in c.hosts if n not in (victim, leader))])
                # rolls that find no descriptor, for 3 s at least and until the victim's
                # background work has met the clamp too (when depends on the machine's load)
                watch = ClampWatch(c, victim)
                while not watch.met():
                    direct.write(f"d{len(direct.answers)}")
                    time.sleep(0.01)
                assert c.running(victim), c.log_path(victim).read_text()[-4000:]
            # descriptors are back: the victim leads what it was given and takes writes
            for p in moving:
                c.wait_until(lambda: partitions(c, controller, topic)[p]["leader_id"] == victim, 20,
                             f"partition {p} led by the victim")
                c.wait_until(lambda: produce(c, victim, topic, p, f"after-{p}"), 30,
                             f"a write to partition {p} through its new leader")
            time.sleep(1.0)
        finally:
            writer.stop.set()
            writer.join(30)
            kept.close()
        # on the kept connection: refused while no descriptor was left, as a retriable storage
        # error (Kafka's KAFKA_STORAGE_ERROR), never an internal error; acknowledged otherwise
        refused = [(status, body) for status, body in direct.answers if error_code(status, body) is not None]
        assert refused, ("no write was refused: the clamp did not reach a segment roll", len(direct.answers), direct.answers[-3:])
        assert all(error_code(*r) == 50003 and "KAFKA_STORAGE_ERROR" in str(r[1]) for r in refused), refused[:3]
        assert len(refused) < len(direct.answers)
        writer.acked[led[0]] += direct.acked
        assert c.running(victim)
        log = c.log_path(victim).read_text()
        assert RETRIED in log, log[-3000:]  # the clamp did hit the replica manager's own work
        for p in range(PARTITIONS):
            stored = set(values_on(c, victim, topic, p))
            lost = [v for v in writer.acked[p] if v not in stored]
            assert not lost, (p, lost[:10], len(writer.acked[p]))
        assert sum(map(len, writer.acked.values())) > 50
        # a write that could not be stored is a retriable refusal (KAFKA_STORAGE_ERROR, leader
        # moving), never an internal error
        codes = [error_code(status, body) for status, body in writer.refusals]
        assert set(codes) <= {50003, 50301}, [r for r, code in zip(writer.refusals, codes)
                                              if code not in (50003, 50301)][:5]


def error_code(status, body):
    """A v2 produce's error: the envelope's, or the record's in a 200 answer."""
    if not isinstance(body, dict):
        return status
    if status == 200:
        return body["offsets"][0]["error_code"]
    return body.get("error_code", status)
