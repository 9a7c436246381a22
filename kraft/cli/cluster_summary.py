"""What `kraft status` shows and `kraft health` judges, from the answers the cluster gave:
its v3 cluster and brokers, the quorum, /v1/cluster/health_overview (Redpanda's), the
topics, and each node's /status/ready. Pure: the commands (kraft.cli.status) fetch.

When brokers belong to [[hosts]] entries, each node's row names its host and a line per
host sums its brokers' leaders, replicas, under-replicated partitions, CPU and memory.

A problem makes the cluster unhealthy (`kraft health` exits 1): no controller, a broker
down, a node not ready or not answering, a partition without a leader, under-replicated
or unable to take an acks=all write, a damaged replica with no healthy copy, a failed
log dir. A note is worth knowing but harms nothing (security off, repairs under way).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Optional

NAMED_AT_MOST = 5  # partitions named in one problem; the count says the rest
READY, NOT_READY, UNREACHABLE, UNKNOWN = "yes", "no", "no answer", "?"


@dataclass(frozen=True)
class Readiness:
    state: str  # READY, NOT_READY, UNREACHABLE or UNKNOWN (no address known)
    reason: str = ""


@dataclass(frozen=True)
class Answers:
    """What the cluster said; quorum is None (quorum_error says why) when no controller answered."""
    cluster: dict[str, Any]
    health: dict[str, Any]
    brokers: list[dict[str, Any]]
    topics: list[dict[str, Any]]
    quorum: Optional[dict[str, Any]] = None
    quorum_error: str = ""
    ready: dict[int, Readiness] = field(default_factory=dict)
    addresses: dict[int, str] = field(default_factory=dict)


@dataclass
class Summary:
    headline: str
    columns: tuple[str, ...]
    rows: list[list[str]]
    partitions: str
    problems: list[str]
    notes: list[str]
    controller: Optional[int] = None
    partition_count: int = 0
    hosts: list[str] = field(default_factory=list)  # a line per host, when brokers belong to [[hosts]] entries

    @property
    def healthy(self) -> bool:
        return not self.problems


def node_addresses(known: dict[int, str], brokers: list[dict[str, Any]], scheme: str) -> dict[int, str]:
    """Each node's HTTP URL: the cluster.toml's where one was read, else the broker's registration."""
    found = {b["broker_id"]: f"{scheme}://{_host(b['host'])}:{b['port']}" for b in brokers if b.get("port")}
    return {**found, **known}


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host  # an IPv6 address in a URL


def scheme_of(url: str) -> str:
    return urllib.parse.urlsplit(url).scheme or "http"


def node_ids(a: Answers) -> list[int]:
    ids = set(a.health.get("all_nodes", [])) | {b["broker_id"] for b in a.brokers} | set(a.addresses)
    if a.quorum is not None:
        ids |= {v["node_id"] for v in a.quorum["voters"]} | {o["node_id"] for o in a.quorum["observers"]}
    return sorted(ids)


def summarize(a: Answers) -> Summary:
    ids = node_ids(a)
    rows = [_row(a, n) for n in ids]
    columns: tuple[str, ...] = ("Node", "Roles", "Address", "Ready", "Broker", "Metadata")
    named = _host_names(a)
    if named:
        columns = columns[:1] + ("Host",) + columns[1:]
        rows = [row[:1] + [named.get(n, "-")] + row[1:] for n, row in zip(ids, rows)]
    return Summary(headline=_headline(a), columns=columns,
                   rows=rows, partitions=_partitions_line(a), problems=problems(a, ids), notes=notes(a),
                   controller=a.cluster.get("controller_id"),
                   partition_count=sum(t.get("partitions_count", 0) for t in a.topics),
                   hosts=_host_lines(a) if named else [])


def _host_names(a: Answers) -> dict[int, str]:
    """Broker id -> its [[hosts]] entry's name, for the brokers in one (health_overview's "brokers")."""
    return {b["broker_id"]: b["host_name"] for b in a.health.get("brokers", []) if b.get("host_name")}


def _host_lines(a: Answers) -> list[str]:
    lines = []
    for h in a.health.get("hosts", []):
        label = f"host {h['host_name']}" if h.get("host_name") else f"broker {h['brokers'][0]} (no host entry)"
        usage = (f"CPU {h['cpu_percent']:.0f}%, memory {h['rss_bytes'] / 2**20:.0f} MiB"
                 if h.get("cpu_percent") is not None and h.get("rss_bytes") is not None else "CPU and memory unknown")
        if h.get("unreported") and h.get("cpu_percent") is not None:
            usage += f" (broker(s) {', '.join(map(str, h['unreported']))} did not say)"
        lines.append(f"{label}: broker(s) {', '.join(map(str, h['brokers']))}; {h['leaders']} leader(s), "
                     f"{h['replicas']} replica(s), {h['under_replicated']} under-replicated; {usage}")
    return lines


def _headline(a: Answers) -> str:
    c = a.cluster
    controller = c.get("controller_id")
    return (f"Cluster {c.get('cluster_name') or '?'} ({c['cluster_id']})  controller: "
            f"{'none' if controller is None else f'node {controller}'}  "
            f"security: {'on' if c.get('security_enabled') else 'off'}")


def _controllers(a: Answers) -> set[int]:
    if a.quorum is None:
        return set()
    return {v["node_id"] for v in a.quorum["voters"]} | {
        o["node_id"] for o in a.quorum["observers"] if o.get("kind") == "controller"}


def _brokers(a: Answers) -> set[int]:
    return {b["broker_id"] for b in a.brokers} | set(a.health.get("nodes_down", []))


def _row(a: Answers, node_id: int) -> list[str]:
    roles = [r for r, ids in (("controller", _controllers(a)), ("broker", _brokers(a))) if node_id in ids]
    ready = a.ready.get(node_id, Readiness(UNKNOWN))
    return [str(node_id), ",".join(roles) or "?", a.addresses.get(node_id, "?"),
            ready.state + (f": {ready.reason}" if ready.reason else ""), _broker_state(a, node_id),
            _metadata_state(a, node_id)]


def _broker_state(a: Answers, node_id: int) -> str:
    registered = {b["broker_id"]: b for b in a.brokers}
    if node_id not in registered:
        return "not registered" if node_id in a.health.get("nodes_down", []) else "-"
    b = registered[node_id]
    states = ["fenced" if b.get("fenced") else "unfenced"]
    states += [word for key, word in (("decommissioning", "decommissioning"), ("in_controlled_shutdown",
               "shutting down"), ("log_dir_failed", "log dir failed")) if b.get(key)]
    return ", ".join(states)


def _metadata_state(a: Answers, node_id: int) -> str:
    q = a.quorum
    if q is None:
        return "?"
    for v in q["voters"]:
        if v["node_id"] == node_id:
            return "leader" if node_id == q["leader_id"] else f"voter, lag {v['lag']}"
    for o in q["observers"]:
        if o["node_id"] == node_id:
            return f"observer, lag {o['lag']}"
    return "-"


def _partitions_line(a: Answers) -> str:
    h = a.health
    total = sum(t.get("partitions_count", 0) for t in a.topics)
    leaderless = h.get("leaderless_count", 0)
    return (f"Topics: {len(a.topics)}  Partitions: {total} ({total - leaderless} led, {leaderless} without a "
            f"leader, {h.get('under_replicated_count', 0)} under-replicated)")


def _named(refs: list[dict[str, Any]]) -> str:
    names = [f"{r['topic']}-{r['partition_id']}" for r in refs[:NAMED_AT_MOST]]
    more = len(refs) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def problems(a: Answers, ids: list[int]) -> list[str]:
    h = a.health
    found = []
    if a.quorum is None:
        found.append(f"the controller quorum does not answer: {a.quorum_error}")
    if h.get("controller_id", -1) < 0:
        found.append("no active controller (the quorum has no leader)")
    found += _node_problems(a, ids)
    if h.get("leaderless_count"):
        found.append(f"{h['leaderless_count']} partition(s) without a leader (offline): "
                     f"{_named(h['leaderless_partitions'])}")
    if h.get("under_replicated_count"):
        found.append(f"{h['under_replicated_count']} partition(s) under-replicated: "
                     f"{_named(h['under_replicated_partitions'])}")
    lost = [d for d in h.get("damaged_replicas", []) if not d.get("healthy_copy")]
    found += [f"node {d['node_id']}: {d['topic']}-{d['partition']} damaged with no healthy copy" for d in lost]
    found += [f"acks=all writes would fail: {p}" for p in h.get("acks_all_problems", [])]
    if a.quorum is not None:
        found += [f"quorum: {p}" for p in a.quorum.get("problems", [])]
    if not found and h.get("is_healthy") is False:
        found.append("the cluster reports itself unhealthy (/v1/cluster/health_overview)")
    return found


def _node_problems(a: Answers, ids: list[int]) -> list[str]:
    down = set(a.health.get("nodes_down", []))
    failed = set(a.health.get("nodes_with_failed_log_dir", []))
    found = []
    for n in ids:
        said = []
        if n in down:
            said.append("its broker is down (fenced or not registered)")
        if n in failed:
            said.append("a log dir failed")
        ready = a.ready.get(n)
        if ready is not None and ready.state == NOT_READY:
            said.append(f"not ready ({ready.reason})" if ready.reason else "not ready")
        elif ready is not None and ready.state == UNREACHABLE:
            said.append(f"does not answer at {a.addresses.get(n, '?')}")
        if said:
            found.append(f"node {n}: " + "; ".join(said))
    return found


def notes(a: Answers) -> list[str]:
    found = []
    if not a.cluster.get("security_enabled"):
        found.append("security is off: no logins, ACLs not enforced (docs/SECURITY.md turns it on)")
    repairing = [d for d in a.health.get("damaged_replicas", []) if d.get("healthy_copy")]
    if repairing:
        found.append(f"{len(repairing)} damaged replica(s) being repaired from a healthy copy")
    if a.quorum is not None and a.quorum.get("voter_change_pending"):
        found.append("a voter change is in progress")
    unknown = [n for n, r in a.ready.items() if r.state == UNKNOWN]
    if unknown:
        found.append(f"readiness not asked of node(s) {', '.join(map(str, unknown))}: no address known "
                     "(give -c cluster.toml to name them)")
    return found


def verdict(s: Summary) -> list[str]:
    """`kraft health`'s lines: "healthy: ..." or "unhealthy:" and each problem."""
    if s.healthy:
        return [f"healthy: {len(s.rows)} node(s) up, controller node {s.controller}, "
                f"{s.partition_count} partition(s) led and fully replicated"]
    return ["unhealthy:"] + [f"  {p}" for p in s.problems]
