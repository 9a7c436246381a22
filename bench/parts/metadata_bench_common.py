"""bench/metadata_bench.py's shared parts: its consoles and targets, the statistics and
verdicts of its report, one keep-alive HTTP client, and the clusters of its sections."""

from __future__ import annotations

import http.client
import json
import statistics
import sys
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kraft.perf.stats import percentile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from kraft.server.local_cluster import LocalCluster  # noqa: E402

# tables on stdout, progress and notes on stderr; wide enough not to fold the tables
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

TARGETS = {
    "create_p50_ms": 20.0,
    "create_p99_ms": 100.0,
    "failover_median_s": 1.5,
    "partitions_all_leaders_s": 10.0,
    "idle_cpu_pct": 10.0,
}


# -- helpers ----------------------------------------------------------------------------
def summary(values) -> dict:
    return {
        "n": len(values),
        "min": min(values) if values else None,
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
        "mean": statistics.fmean(values) if values else None,
    }


def verdict(value, limit, strict: bool = False) -> str:
    if value is None:
        return "[red]FAIL (no data)[/red]"
    ok = value < limit if strict else value <= limit
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def passed(value, limit, strict: bool = False) -> bool:
    return value is not None and (value < limit if strict else value <= limit)


def fmt(v, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False)


class Client:
    """One keep-alive HTTP/1.1 connection to one node; reconnects only after an error."""

    def __init__(self, cluster: LocalCluster, node_id: int, timeout: float = 10.0):
        parts = urlsplit(cluster.v3(node_id))
        self.node_id = node_id
        self.host, self.port, self.base = parts.hostname, parts.port, parts.path
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.connects = 0

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            self.conn.connect()
            self.connects += 1
        elif self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        return self.conn

    def connect(self) -> None:
        self._connection(self.timeout)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body=None, timeout: float | None = None):
        """(status, parsed body or text). Raises OSError/HTTPException after closing."""
        conn = self._connection(self.timeout if timeout is None else timeout)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Connection": "keep-alive"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, self.base + path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.will_close:
            self.close()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode(errors="replace")
        return resp.status, parsed


def topic_body(name: str, partitions: int = 1, rf: int = 3) -> dict:
    return {"topic_name": name, "partitions_count": partitions, "replication_factor": rf}


def error_key(status, body) -> str:
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True)
    return f"{status} {text}"[:400]


def new_cluster() -> LocalCluster:
    cluster = LocalCluster(nodes=3)
    cluster.start()
    cluster.wait_ready(timeout_s=60)
    cluster.wait_until(lambda: cluster.raft_leader() is not None, 30, "a Raft leader")
    return cluster


def wait_quorum_settled(cluster: LocalCluster, timeout_s: float = 30.0) -> bool:
    """All voters present with lag 0 and a leader known; False when not reached in time."""
    def settled():
        leader = cluster.raft_leader()
        if leader is None:
            return False
        status, body = cluster.get(leader, f"/v3/clusters/{cluster.cluster_id}/quorum", 2.0)
        if status != 200:
            return False
        voters = body.get("voters") or []
        return len(voters) == len(cluster.hosts) and all(v.get("lag") == 0 for v in voters)
    try:
        cluster.wait_until(settled, timeout_s, "quorum settled", interval_s=0.1)
        return True
    except TimeoutError:
        return False
