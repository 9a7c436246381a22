"""The metadata storm: concurrent creators, deleters and config changers against the
controller quorum, with a controller killed and another paused, then a check that
every node's metadata image is the same (the committed log replayed alike everywhere).

Used by tests and by bench/metadata_storm.py, which reports throughput and elections.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from kraft.config.cluster_keys import peer_key, request_signature
from kraft.config.data_dir import read_identity
from kraft.server.local_cluster import LocalCluster, http_json
from kraft.internode.peers import SIGNATURE_HEADER

TOPIC_EXISTS = 40002  # a create of a name that exists (HTTP 400)


@dataclass
class StormResult:
    created: int = 0
    refused: int = 0
    unknown: int = 0
    deleted: int = 0
    configs_changed: int = 0
    seconds: float = 0.0
    terms_before: list[int] = field(default_factory=list)
    terms: list[int] = field(default_factory=list)
    canary_ok: int = 0
    canary_failed: int = 0
    # every create's answer by topic name: "created", "refused" or "unknown"
    answers: dict[str, str] = field(default_factory=dict)
    touched_after: set[str] = field(default_factory=set)  # a delete or config change followed
    images: dict[int, dict] = field(default_factory=dict)

    @property
    def create_rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0

    @property
    def elections(self) -> int:
        """Raft terms begun during the storm (each election attempt starts one)."""
        if not self.terms or not self.terms_before:
            return 0
        return max(self.terms) - max(self.terms_before)

    def untrue_answers(self, image: dict) -> list[tuple[str, str]]:
        """Creates whose answer the final image contradicts: told created but absent
        (and never deleted), or told refused but present. An unknown outcome is never a
        contradiction, which is why a create that may have committed must say so."""
        present = {t["name"] for t in image.get("topics", [])}
        out = []
        for name, answer in sorted(self.answers.items()):
            if answer == "created" and name not in present and name not in self.touched_after:
                out.append((name, answer))
            elif answer == "refused" and name in present:
                out.append((name, answer))
        return out

    def divergent_nodes(self) -> list[int]:
        """Nodes whose image differs from the majority's at the same offset."""
        if not self.images:
            return []
        canon = [repr(sorted(img.items())) for img in self.images.values()]
        majority = max(set(canon), key=canon.count)
        return [n for n, c in zip(self.images, canon) if c != majority]


def _signed_get(cluster: LocalCluster, node_id: int, path: str):
    identity = read_identity(cluster.config.node(node_id).data_path)
    assert identity is not None, f"node {node_id}'s data dir is not formatted"
    key = peer_key(identity)
    sig = request_signature(key, "GET", path, b"", int(time.time() * 1000))
    return http_json("GET", cluster.url(node_id) + path, headers={SIGNATURE_HEADER: sig}, timeout=10)


def images_at_one_offset(cluster: LocalCluster, timeout_s: float = 60) -> dict[int, dict]:
    """Every node's image once all of them report the same metadata offset."""
    deadline = time.monotonic() + timeout_s
    seen: dict[int, object] = {}  # node -> its last offset, or the status it answered with
    while time.monotonic() < deadline:
        got = {}
        for node_id in cluster.hosts:
            status, body = _signed_get(cluster, node_id, "/internal/v1/metadata?image=1")
            if status == 200:
                got[node_id] = body["image"]
                seen[node_id] = body["image"].get("offset")
            else:
                seen[node_id] = f"HTTP {status}"
        offsets = {img.get("offset") for img in got.values()}
        if len(got) == len(cluster.hosts) and len(offsets) == 1:
            return got
        time.sleep(0.5)
    raise TimeoutError(f"nodes did not reach one metadata offset within {timeout_s}s "
                       f"(last seen: {dict(sorted(seen.items()))}; terms {_terms(cluster)})")


def _terms(cluster: LocalCluster) -> list[int]:
    terms = []
    for node_id in sorted(cluster.hosts):
        try:
            status, body = http_json("GET", cluster.v3(node_id) + "/quorum", timeout=5)
        except OSError:
            continue
        if status == 200:
            terms.append(body["leader_epoch"])
    return terms


CANARY = "storm-canary"


def _create_answer(status: int, body) -> str:
    """A 201 is "created"; an error the API calls certain (4xx, 50301: no controller) is
    "refused"; no answer, a 500 or a retriable 50003 (timeout, outcome unknown) is
    "unknown"."""
    if status == 201:
        return "created"
    code = body.get("error_code") if isinstance(body, dict) else None
    if status == -1 or status >= 500 and code != 50301:
        return "unknown"
    return "refused"


def run_storm(cluster: LocalCluster, seconds: float, workers: int = 20, seed: int = 0,
              faults: bool = True, canary_every_s: float = 0.25, partitions: int = 1,
              replication_factor: int = 1, min_created: int = 0, max_seconds: float = 0.0) -> StormResult:
    """`canary_every_s`: one acks=all produce to an RF 3 topic at this period, the data
    path's view of a busy control plane (0 turns it off). `min_created`: the storm goes on
    past `seconds` until that many creates succeeded (or `max_seconds` passed), so a
    slow machine still writes enough entries to span the faults and several snapshots."""
    rng = random.Random(seed)
    cid = cluster.get(1, "/v3/clusters")[1]["data"][0]["cluster_id"]
    nodes = sorted(cluster.hosts)
    if canary_every_s:
        status, body = http_json("POST", cluster.url(nodes[0]) + f"/v3/clusters/{cid}/topics",
                                 {"topic_name": CANARY, "partitions_count": 1,
                                  "replication_factor": min(3, len({cluster.host_of.get(n, n) for n in nodes}))},
                                 timeout=10)
        assert status == 201 or body.get("error_code") == TOPIC_EXISTS, (status, body)
    storm = _Storm(cluster, cid, nodes, rng, seed, partitions, replication_factor, canary_every_s)
    result = storm.result
    result.terms_before = _terms(cluster)
    threads = [threading.Thread(target=storm.worker, args=(w,), daemon=True) for w in range(workers)]
    if canary_every_s:
        threads.append(threading.Thread(target=storm.canary, daemon=True))
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        if faults:
            _kill_then_pause_leaders(cluster, rng, nodes, seconds)
        time.sleep(max(0.0, started + seconds - time.monotonic()))
        give_up = started + max(seconds, max_seconds)
        while time.monotonic() < give_up:
            with storm.lock:
                if result.created >= min_created:
                    break
            time.sleep(0.1)
    finally:
        storm.stop.set()
        for t in threads:
            t.join(timeout=30)
    result.seconds = time.monotonic() - started
    cluster.wait_ready(timeout_s=60)
    result.terms = _terms(cluster)
    result.images = images_at_one_offset(cluster)
    return result


def _kill_then_pause_leaders(cluster: LocalCluster, rng: random.Random, nodes: list[int], seconds: float) -> None:
    """A third in, the Raft leader is killed and restarted; later the next one is paused
    past the broker session."""
    time.sleep(seconds / 3)
    victim = cluster.raft_leader() or rng.choice(nodes)
    cluster.kill(victim)
    time.sleep(2.0)
    cluster.start_node(victim)
    time.sleep(seconds / 6)
    paused = cluster.raft_leader() or rng.choice(nodes)
    cluster.pause(paused)
    time.sleep(4.0)  # past the broker session: the pause is noticed
    cluster.resume(paused)


class _Storm:
    """The storm's threads: creators (each deleting or reconfiguring some of what it
    created) and the canary producer, counting into one result."""

    def __init__(self, cluster: LocalCluster, cid: str, nodes: list[int], rng: random.Random, seed: int,
                 partitions: int, replication_factor: int, canary_every_s: float) -> None:
        self.cluster, self.cid, self.nodes, self.rng, self.seed = cluster, cid, nodes, rng, seed
        self.partitions, self.replication_factor = partitions, replication_factor
        self.canary_every_s = canary_every_s
        self.result = StormResult()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _any_running(self, r: random.Random) -> int:
        return r.choice([x for x in self.nodes if self.cluster.running(x)] or self.nodes)

    def canary(self) -> None:
        cluster, result = self.cluster, self.result
        while not self.stop.wait(self.canary_every_s):
            node = self._any_running(self.rng)
            try:
                status, body = http_json("POST", cluster.url(node) + f"/topics/{CANARY}",
                                         {"records": [{"value": "canary"}]}, timeout=10,
                                         headers={"Content-Type": "application/vnd.kafka.json.v2+json"})
            except OSError:
                status, body = -1, None
            offsets = body.get("offsets", []) if isinstance(body, dict) else []
            with self.lock:
                if status == 200 and offsets and not any(o.get("error_code") for o in offsets):
                    result.canary_ok += 1
                else:
                    result.canary_failed += 1

    def worker(self, w: int) -> None:
        cluster, result = self.cluster, self.result
        r = random.Random(self.seed * 1000 + w)
        n = 0
        while not self.stop.is_set():
            node = self._any_running(r)
            name = f"storm-{self.seed}-{w}-{n}"
            n += 1
            try:
                status, body = http_json("POST", cluster.url(node) + f"/v3/clusters/{self.cid}/topics",
                                         {"topic_name": name, "partitions_count": self.partitions,
                                          "replication_factor": self.replication_factor},
                                         timeout=10)
            except OSError:
                status, body = -1, None
            answer = _create_answer(status, body)
            with self.lock:
                result.answers[name] = answer
                if answer == "created":
                    result.created += 1
                elif answer == "unknown":
                    result.unknown += 1
                else:
                    result.refused += 1
            if status == 201 and r.random() < 0.3:
                self._delete_or_reconfigure(r, node, name)

    def _delete_or_reconfigure(self, r: random.Random, node: int, name: str) -> None:
        cluster, result = self.cluster, self.result
        path = f"/v3/clusters/{self.cid}/topics/{name}"
        with self.lock:
            result.touched_after.add(name)
        op = r.random()
        try:
            if op < 0.5:
                s, _ = http_json("DELETE", cluster.url(node) + path, timeout=10)
                with self.lock:
                    result.deleted += s == 204
            else:
                s, _ = http_json("PUT", cluster.url(node) + path + "/configs/retention.ms",
                                 {"value": str(r.randint(60_000, 10**9))}, timeout=10)
                with self.lock:
                    result.configs_changed += s == 204
        except OSError:
            pass
