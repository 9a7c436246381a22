"""Changes of membership as scenario events: a broker joins, one is decommissioned, the
partitions are rebalanced, each done as an operator does it (a new node started, the
HTTP API asked), while the workload and the other faults go on.

    add-broker     start the next spare broker (ClusterShape.spare_brokers: defined in the
                   file, not started at first), and wait until it is ready
    decommission   ask for the target broker's decommission, wait until its replicas have
                   moved and it is unregistered, then stop it (SIGTERM), as an operator
                   would; a decommission still running after DECOMMISSION_BOUND_S is left
                   running and said so
    rebalance      ask for a rebalance (it goes on after the event, as on a real cluster)

Blocking: the fault runner calls these off its event loop."""

from __future__ import annotations

import random
import time

from kraft.scenario import targets
from kraft.server.local_cluster import http_json

KINDS = ("add-broker", "decommission", "rebalance")
DECOMMISSION_BOUND_S = 90.0


def act(kind: str, cluster, target: str, rng: random.Random) -> tuple[list[int], str]:
    """(nodes acted on, what happened)."""
    if kind == "add-broker":
        return add_broker(cluster)
    if kind == "rebalance":
        return [], rebalance(cluster)
    nodes = targets.resolve(cluster, target, rng)
    if len(nodes) != 1:
        return [], f"skipped: decommission takes one broker, the target named {nodes}"
    return nodes, decommission(cluster, nodes[0])


def add_broker(cluster) -> tuple[list[int], str]:
    spare = [n for n in sorted(cluster.hosts) if n not in cluster.procs]
    if not spare:
        return [], "skipped: no spare broker left to add"
    node = spare[0]
    cluster.start_node(node)
    started = time.monotonic()
    cluster.wait_ready([node], timeout_s=60)
    return [node], f"broker {node} joined, ready after {time.monotonic() - started:.1f}s"


def _ask(cluster, method: str, path: str, but: int | None = None, timeout: float = 30):
    """(status, body) from the first running node that answers (one just restarted may not yet)."""
    last: Exception | None = None
    for n in sorted(cluster.hosts):
        if cluster.running(n) and n != but:
            try:
                return http_json(method, cluster.url(n) + path, {} if method == "POST" else None,
                                 headers=cluster.headers, timeout=timeout)
            except OSError as exc:
                last = exc
    raise OSError(f"no running node answered {method} {path} ({last})")


def rebalance(cluster) -> str:
    status, body = _ask(cluster, "POST", "/v1/partitions/rebalance")
    if status != 202:
        return f"refused: {status} {body.get('message') if isinstance(body, dict) else body}"
    return (f"{body.get('rebalance_id')} started: {body.get('replicas_to_move')} replicas and "
            f"{body.get('leaders_to_move')} leaders to move")


def decommission(cluster, node: int) -> str:
    path = f"/v1/brokers/{node}/decommission"
    status, body = _ask(cluster, "PUT", path, but=node)
    if status != 200:
        return f"refused: {status} {body.get('message') if isinstance(body, dict) else body}"
    started = time.monotonic()
    while time.monotonic() - started < DECOMMISSION_BOUND_S:
        try:
            status, body = _ask(cluster, "GET", path, but=node, timeout=5)
        except OSError:
            status = 0
        if status == 200 and body.get("finished"):
            took = time.monotonic() - started
            code = cluster.stop(node)
            return f"broker {node} decommissioned in {took:.1f}s, then stopped (exit {code})"
        time.sleep(0.5)
    return f"broker {node} still decommissioning after {DECOMMISSION_BOUND_S:.0f}s: left running"
