"""Brokers grouped by host, as a user sees them: two [[hosts]] entries of two processes
each, on addresses of their own. The console's overview data (/v1/cluster/health_overview's
"hosts"), /metrics' per-host series and `kraft status` agree on which brokers each host
runs, what they lead and hold, and what each process uses; a process that dies is named
as not reporting and the partitions it left under-replicated are counted on their
leader's host."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

PARTITIONS = 6


def hosts_of(c: LocalCluster, node: int = 1) -> list[dict]:
    status, body = c.get(node, "/v1/cluster/health_overview", timeout=10)
    assert status == 200, body
    return body["hosts"]


def metric(text: str, name: str, host: str) -> float | None:
    found = re.search(rf'^{name}\{{host="{re.escape(host)}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


def test_hosts_views_group_brokers_and_agree(tmp_path):
    with LocalCluster(host_entries=2, processes_per_host=2, controllers=1, base_dir=tmp_path) as c:
        c.start()
        c.wait_ready(timeout_s=90)
        status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": "by-host", "partitions_count": PARTITIONS,
                                                               "replication_factor": 2})
        assert status == 201, body
        c.wait_until(lambda: sum(h["leaders"] for h in hosts_of(c)) == PARTITIONS, 30, "every partition led")
        hosts = hosts_of(c, 3)  # any node answers the same
        assert [(h["host"], h["host_name"], h["brokers"]) for h in hosts] == [("h1", "h1", [1, 2]), ("h2", "h2", [3, 4])]
        # one replica of each partition per host: placement keeps the host a failure domain
        assert [h["replicas"] for h in hosts] == [PARTITIONS, PARTITIONS]
        for h in hosts:
            assert h["unreported"] == [] and h["under_replicated"] == 0
            assert h["cpu_percent"] >= 0 and h["rss_bytes"] > 2 * 20 * 2**20  # two Python processes
        status, health = c.get(1, "/v1/cluster/health_overview")
        assert [(b["broker_id"], b["host_name"]) for b in health["brokers"]] == [(1, "h1"), (2, "h1"), (3, "h2"), (4, "h2")]
        assert sum(b["leaders"] for b in health["brokers"]) == PARTITIONS

        text = c.get(2, "/metrics")[1]
        assert [metric(text, "kraft_host_brokers", h) for h in ("h1", "h2")] == [2.0, 2.0]
        assert sum(metric(text, "kraft_host_leaders", h) or 0 for h in ("h1", "h2")) == PARTITIONS
        assert metric(text, "kraft_host_replicas", "h2") == PARTITIONS
        assert metric(text, "kraft_host_under_replicated_partitions", "h1") == 0
        assert metric(text, "kraft_node_host_info", "h1") == 1.0  # node 2 is a process of h1
        assert re.search(r"^process_resident_memory_bytes \d", text, re.M)

        shown = kraft_status(c)
        table = [line for line in shown.splitlines() if re.match(r"^\W*\d+\W", line)]
        assert [re.findall(r"\w+", line)[:2] for line in table] == [["1", "h1"], ["2", "h1"], ["3", "h2"], ["4", "h2"]]
        assert re.search(r"^host h1: broker\(s\) 1, 2; \d leader\(s\), 6 replica\(s\), 0 under-replicated; "
                         r"CPU \d+%, memory \d+ MiB$", shown, re.M), shown

        # a process of h2 dies: h2 says it did not report, and what it left under-replicated
        # is counted where those partitions are led now
        c.kill(4)
        assert hosts_of(c)[1]["unreported"] == [4]

        def under_replicated_per_host():
            status, health = c.get(1, "/v1/cluster/health_overview", timeout=10)
            per_host = [h["under_replicated"] for h in health["hosts"]]
            return health["under_replicated_count"] > 0 and sum(per_host) == health["under_replicated_count"] \
                and per_host
        per_host = c.wait_until(under_replicated_per_host, 60, "partitions of node 4 counted under-replicated")
        # every partition broker 4 held has its other replica, and so its leader, on h1
        assert per_host[0] > 0 and per_host[1] == 0, per_host

        def fenced_and_counted():
            text = c.get(1, "/metrics")[1]
            return (metric(text, "kraft_host_fenced_brokers", "h2") == 1
                    and (metric(text, "kraft_host_under_replicated_partitions", "h1") or 0) > 0
                    and metric(text, "kraft_host_under_replicated_partitions", "h2") == 0)
        c.wait_until(fenced_and_counted, 60, "broker 4 fenced, its partitions under-replicated on h1 in /metrics")

def kraft_status(c: LocalCluster) -> str:
    done = subprocess.run([sys.executable, "-m", "kraft", "status", "-c", str(c.config_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout
