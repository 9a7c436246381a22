"""Fault targets by role, resolved at fault time from the cluster's own API.

Specs (the scenario files' and the CLI's spelling):

    leader:<topic>-<p>    the partition's leader
    follower:<topic>-<p>  one of its follower replicas (running ones first), picked with rng
    group-coordinator:<group>       the coordinator of that consumer group (the leader of
                          its __consumer_offsets partition)
    txn-coordinator:<id>  the transaction coordinator of that transactional id (the
                          leader of its __transaction_state partition)
    share-coordinator:<group>:<topic>-<p>  the share coordinator keeping that share
                          group's state of the partition (the leader of its
                          __share_group_state partition)
    table-coordinator:<topic>  the node committing that Iceberg topic's table (the leader
                          of its __iceberg_coordinator partition)
    controller            the active controller (the Raft leader, per GET .../quorum)
    controller-follower   a controller that is not the active one (running ones first),
                          picked with rng
    controllers           every controller node
    node:<id>             that node
    host:<name>           every process of that [[hosts]] entry (a machine of the cluster)
    leader-host:<topic>-<p>  every process of the host of the partition's leader (a node
                          of no [[hosts]] entry is a host of its own)
    random                a running node, picked with rng
    all                   every node

``resolve`` returns node ids, or raises ValueError for a spec that can never resolve
(bad syntax, unknown node) and TargetUnavailable when the cluster cannot name the
target right now (no leader, unknown topic, no node answering).
"""

from __future__ import annotations

import http.client
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from kraft.config.topic_names import ICEBERG_COORDINATOR_TOPIC, SHARE_STATE_TOPIC
from kraft.coordinator.placement import key_partition
from kraft.groups.coordinator_placement import OFFSETS_TOPIC, coordinator_partition
from kraft.share.share_state import state_key
from kraft.server.local_cluster import http_json
from kraft.transactions.txn_placement import TXN_STATE_TOPIC, txn_partition

ASK_TIMEOUT_S = 2.0
SPECS = ("leader:<topic>-<partition>", "follower:<topic>-<partition>", "group-coordinator:<group>",
         "txn-coordinator:<transactional id>", "share-coordinator:<group>:<topic>-<partition>",
         "table-coordinator:<topic>", "controller", "controller-follower",
         "controllers", "node:<id>", "host:<name>", "leader-host:<topic>-<partition>", "random", "all")


class TargetUnavailable(Exception):
    """The spec is valid but names nobody at this moment (e.g. a partition with no leader)."""


def resolve(cluster, spec: str, rng: random.Random | None = None) -> list[int]:
    rng = rng or random.Random()
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"empty fault target; expected one of {', '.join(SPECS)}")
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if kind in ("leader", "follower", "leader-host"):
        topic, partition = parse_topic_partition(arg, spec)
        view = partition_view(cluster, topic, partition)
        leader = view.get("leader_id")
        if kind != "follower":
            if leader is None:
                raise TargetUnavailable(f"partition {topic}-{partition} has no leader now")
            return host_processes(cluster, leader) if kind == "leader-host" else [leader]
        followers = sorted(r for r in view.get("replica_ids", []) if r != leader)
        running = [r for r in followers if cluster.running(r)]
        if not followers:
            raise TargetUnavailable(f"partition {topic}-{partition} has no follower replica "
                                    f"(replicas {view.get('replica_ids')}, leader {leader})")
        return [rng.choice(running or followers)]
    if kind in ("group-coordinator", "txn-coordinator"):
        if not arg:
            raise ValueError(f"bad fault target {spec!r}: expected {kind}:<{'group' if kind[0] == 'g' else 'id'}>")
        return [coordinator(cluster, kind, arg)]
    if kind == "share-coordinator":
        group, _, tp = arg.rpartition(":")
        if not group:
            raise ValueError(f"bad fault target {spec!r}: expected share-coordinator:<group>:<topic>-<partition>")
        return [share_coordinator(cluster, group, *parse_topic_partition(tp, spec))]
    if kind == "table-coordinator":
        if not arg:
            raise ValueError(f"bad fault target {spec!r}: expected table-coordinator:<topic>")
        return [_internal_leader(cluster, ICEBERG_COORDINATOR_TOPIC, lambda count: key_partition(arg, count),
                                 "no Iceberg topic so far", f"the table coordinator of {arg!r}")]
    if kind == "host":
        return _host(cluster, arg, spec)
    if arg:
        if kind != "node":
            raise ValueError(f"bad fault target {spec!r}: {kind!r} takes no argument")
        if not (arg.isascii() and arg.isdigit()) or int(arg) not in cluster.hosts:
            raise ValueError(f"bad fault target {spec!r}: nodes are {sorted(cluster.hosts)}")
        return [int(arg)]
    if kind == "controller":
        return [active_controller(cluster)]
    if kind == "controller-follower":
        return [controller_follower(cluster, rng)]
    if kind == "controllers":
        return sorted(n.id for n in cluster.config.controllers)
    if kind == "random":
        running = sorted(n for n in cluster.hosts if cluster.running(n))
        if not running:
            raise TargetUnavailable("no node is running")
        return [rng.choice(running)]
    if kind == "all":
        return sorted(cluster.hosts)
    raise ValueError(f"unknown fault target {spec!r}; expected one of {', '.join(SPECS)}")


def host_names(cluster) -> dict[int, str]:
    """Node id -> the name of its [[hosts]] entry, for the nodes of such entries."""
    return {n.id: n.host_name for n in cluster.config.nodes if n.host_name}


def host_processes(cluster, node: int) -> list[int]:
    """Every process of the node's host (the node alone when no [[hosts]] entry has it)."""
    names = host_names(cluster)
    if node not in names:
        return [node]
    return sorted(n for n, name in names.items() if name == names[node])


def _host(cluster, name: str, spec: str) -> list[int]:
    names = host_names(cluster)
    members = sorted(n for n, host in names.items() if host == name)
    if not members:
        known = ", ".join(sorted(set(names.values()))) or "none (the file has no [[hosts]] entries)"
        raise ValueError(f"bad fault target {spec!r}: hosts are {known}")
    return members


def coordinator(cluster, kind: str, name: str) -> int:
    """The node coordinating a group ("group-coordinator") or a transactional id
    ("txn-coordinator"): the leader of its partition of the internal topic, placed as
    Kafka places it (kraft's own placement functions)."""
    if kind == "group-coordinator":
        return _internal_leader(cluster, OFFSETS_TOPIC, lambda count: coordinator_partition(name, count),
                                "no group used so far", f"the coordinator of {name!r}")
    return _internal_leader(cluster, TXN_STATE_TOPIC, lambda count: txn_partition(name, count),
                            "no txn used so far", f"the coordinator of {name!r}")


def share_coordinator(cluster, group: str, topic: str, partition: int) -> int:
    """The leader of the __share_group_state partition that keeps the group's state of
    topic-partition, placed as kraft's share coordinators place it."""
    views = [body for status, body in _ask_all(cluster, f"/topics/{topic}").values()
             if status == 200 and isinstance(body, dict) and body.get("topic_id")]
    if not views:
        raise TargetUnavailable(f"topic {topic} is not described by any node")
    key = state_key(group, views[0]["topic_id"], partition)
    return _internal_leader(cluster, SHARE_STATE_TOPIC, lambda count: key_partition(key, count),
                            "no share group used so far", f"the share coordinator of {group!r}")


def _internal_leader(cluster, topic: str, place, unused: str, what: str) -> int:
    """The leader of the partition of an internal topic that place(partition count) names."""
    count = 0
    for status, body in _ask_all(cluster, f"/topics/{topic}/partitions").values():
        if status == 200 and isinstance(body, dict):
            count = max(count, len(body.get("data", [])))
    if not count:
        raise TargetUnavailable(f"{topic} does not exist yet ({unused})")
    partition = place(count)
    leader = partition_view(cluster, topic, partition).get("leader_id")
    if leader is None:
        raise TargetUnavailable(f"{topic}-{partition} ({what}) has no leader now")
    return leader


def parse_topic_partition(arg: str, spec: str = "") -> tuple[str, int]:
    topic, sep, p = arg.rpartition("-")
    if not sep or not topic or not (p.isascii() and p.isdigit()):
        raise ValueError(f"bad fault target {spec or arg!r}: expected <topic>-<partition>, "
                         f"e.g. leader:orders-0")
    return topic, int(p)


def _ask_all(cluster, path: str) -> dict[int, tuple[int, object]]:
    """GET path (under /v3/clusters/{cid}) of every running node, in parallel. A paused
    node is not asked: it could only time out, ASK_TIMEOUT_S on every question."""
    paused = getattr(cluster, "paused", lambda n: False)
    nodes = [n for n in sorted(cluster.hosts) if cluster.running(n) and not paused(n)]
    if not nodes:
        raise TargetUnavailable("no node is running unpaused")

    def ask(n):
        try:
            return n, http_json("GET", cluster.v3(n) + path, timeout=ASK_TIMEOUT_S, headers=cluster.headers,
                                context=cluster.tls)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # down, restarting, paused
            return n, (None, exc)                                         # (timeout), died mid-answer

    with ThreadPoolExecutor(len(nodes)) as pool:
        return dict(pool.map(ask, nodes))


def partition_view(cluster, topic: str, partition: int) -> dict:
    """The partition as the freshest node sees it (highest leader epoch among answers:
    an isolated node's metadata can only be older)."""
    answers = _ask_all(cluster, f"/topics/{topic}/partitions/{partition}")
    views = [body for status, body in answers.values() if status == 200 and isinstance(body, dict)]
    if not views:
        codes = sorted({str(s) for s, _ in answers.values()})
        if "404" in codes:
            raise TargetUnavailable(f"partition {topic}-{partition} does not exist")
        raise TargetUnavailable(f"no node described partition {topic}-{partition} "
                                f"(answers: {', '.join(codes)})")
    return max(views, key=lambda v: v.get("leader_epoch", -1))


def active_controller(cluster) -> int:
    """The Raft leader named by most running nodes (ties: the highest term). A node cut
    off from the quorum may still name an old leader; the majority cannot."""
    answers = _ask_all(cluster, "/quorum")
    votes: Counter[int] = Counter()
    term: dict[int, int] = {}
    for status, body in answers.values():
        if status == 200 and isinstance(body, dict) and body.get("leader_id") is not None:
            leader = body["leader_id"]
            votes[leader] += 1
            term[leader] = max(term.get(leader, -1), body.get("leader_epoch", -1))
    if not votes:
        raise TargetUnavailable("no node knows an active controller now")
    return max(votes, key=lambda n: (votes[n], term[n]))


def controller_follower(cluster, rng: random.Random) -> int:
    """A controller other than the active one, running ones first."""
    active = active_controller(cluster)
    others = sorted(n.id for n in cluster.config.controllers if n.id != active)
    if not others:
        raise TargetUnavailable(f"controller {active} is the only controller")
    running = [n for n in others if cluster.running(n)]
    return rng.choice(running or others)


def broker_epochs(cluster) -> dict[int, int]:
    """Each registered broker's epoch, the newest any node reports (a new registration,
    e.g. after a restart, gets a higher one)."""
    epochs: dict[int, int] = {}
    for status, body in _ask_all(cluster, "/brokers").values():
        if status == 200 and isinstance(body, dict):
            for b in body.get("data", []):
                broker, epoch = b.get("broker_id"), b.get("broker_epoch")
                if broker is not None and epoch is not None:
                    epochs[broker] = max(epochs.get(broker, -1), epoch)
    if not epochs:
        raise TargetUnavailable("no node listed the brokers")
    return epochs


def out_of_sync_replicas(cluster) -> set[int]:
    """Nodes that are a replica of some partition (of any topic, internal ones too) and
    not in its ISR now, by the freshest answer for each partition."""
    out: set[int] = set()
    for view in all_partition_views(cluster).values():
        out.update(set(view.get("replica_ids", [])) - set(view.get("isr", [])))
    return out


def all_partition_views(cluster) -> dict[tuple[str, int], dict]:
    """(topic, partition) -> the freshest answer for it, for every topic (internal ones too)."""
    names: set[str] = set()
    answered = False
    for status, body in _ask_all(cluster, "/topics").values():
        if status == 200 and isinstance(body, dict):
            answered = True
            names.update(t["topic_name"] for t in body.get("data", []) if t.get("topic_name"))
    if not answered:
        raise TargetUnavailable("no node listed the topics")
    freshest: dict[tuple[str, int], dict] = {}
    for name in sorted(names):
        for status, body in _ask_all(cluster, f"/topics/{name}/partitions").values():
            if status != 200 or not isinstance(body, dict):
                continue
            for view in body.get("data", []):
                key = (name, view.get("partition_id"))
                seen = freshest.get(key)
                if seen is None or _epochs(view) > _epochs(seen):
                    freshest[key] = view
    return freshest


def _epochs(view: dict) -> tuple[int, int]:
    return view.get("leader_epoch", -1), view.get("partition_epoch", -1)
