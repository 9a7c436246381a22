"""The shared cluster of a test session: see tests/cluster/conftest.py for who uses it and
the rules. Kept out of conftest.py so test modules can import `module_log` from here (one
module object, so the same `shared` state as the fixtures)."""

from __future__ import annotations

import os
import signal
import sys

from kraft.server.local_cluster import LocalCluster, http_json

# nodes on 127.0.0.120-122; KRAFT_SHARED_CLUSTER_FIRST_ADDRESS moves them (two checkouts'
# suites on one machine)
SHARED_FIRST_ADDRESS = int(os.environ.get("KRAFT_SHARED_CLUSTER_FIRST_ADDRESS", "120"))
HEAL_S = 60.0


def _leaders_preferred(c: LocalCluster) -> bool:
    """Every partition whose first replica is in its ISR is led by it: the controller moves
    leadership back there every few seconds after a module restarted a node, and a move
    inside the next module's test sends its clients NOT_COORDINATOR or NOT_LEADER."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    try:
        metadata = AdminClient({"bootstrap.servers": c.bootstrap_servers}).list_topics(timeout=5)
    except KafkaException:  # not answered in time: asked again
        return False
    return all(p.leader == p.replicas[0] for t in metadata.topics.values() for p in t.partitions.values()
               if p.replicas and p.replicas[0] in p.isrs)


class _Shared:
    """The one shared cluster of this session, started on first use."""

    def __init__(self):
        self.cluster: LocalCluster | None = None
        self.users = 0  # modules handed the cluster so far
        self.log_marks: dict[int, int] = {}

    def start(self) -> LocalCluster:
        self.close()
        c = LocalCluster(nodes=3, first_address=SHARED_FIRST_ADDRESS)
        try:
            c.start().wait_ready(timeout_s=60)
        except BaseException:
            c.close()
            raise
        self.cluster, self.users = c, 0
        return c

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def _healthy(self, c: LocalCluster) -> bool:
        for node in c.hosts:
            if not c.running(node):
                c.start_node(node)
            else:
                os.kill(c.procs[node].pid, signal.SIGCONT)  # a node a test left paused
        try:
            c.wait_ready(timeout_s=HEAL_S)

            def settled():
                status, body = http_json("GET", c.v3(1) + "/brokers", timeout=5)
                if status != 200 or any(b["fenced"] for b in body["data"]):
                    return False
                status, h = http_json("GET", c.url(1) + "/v1/cluster/health_overview", timeout=5)
                return (status == 200 and h["is_healthy"] and h["under_replicated_count"] == 0
                        and _leaders_preferred(c))

            c.wait_until(settled, HEAL_S, "shared cluster healthy", interval_s=0.2)
            status, body = http_json("GET", c.v3(1) + "/broker-configs", timeout=5)
            if status != 200 or body["data"]:  # a cluster-wide setting a module left behind
                print(f"shared cluster has cluster-wide configs left: {body}: replaced by a fresh one",
                      file=sys.stderr)
                return False
            return True
        except (TimeoutError, OSError) as exc:
            print(f"shared cluster not healthy after a module ({exc}): replaced by a fresh one",
                  file=sys.stderr)
            return False

    def hand_out(self, fresh: bool = False) -> LocalCluster:
        c = self.cluster
        if c is None or (fresh and self.users) or (self.users and not self._healthy(c)):
            c = self.start()
        # a module's log starts here; the first module's at the start of the cluster
        self.log_marks = {n: (c.log_path(n).stat().st_size if self.users and c.log_path(n).exists() else 0)
                          for n in c.hosts}
        self.users += 1
        return c


shared = _Shared()


def module_log(cluster: LocalCluster, node: int) -> str:
    """A node's log from where the current module's use of the cluster began (all of it on a
    cluster of the module's own)."""
    text = cluster.log_path(node).read_bytes()
    if shared.cluster is cluster:
        text = text[shared.log_marks.get(node, 0):]
    return text.decode(errors="replace")
