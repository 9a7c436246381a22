"""Soak: two controllers replaced one after the other (each: kill, remove the dead voter,
start a new machine as an observer, add it), then a restart of every node, all under 8
concurrent topic creators. Afterwards every node's image is the same, every create's
answer is true of it, and no controller truncated an applied entry."""

from __future__ import annotations

import threading
import time

import pytest

from kraft.scenario.metadata_storm import StormResult, _create_answer, _signed_get
from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = [pytest.mark.cluster, pytest.mark.soak]


def without_nodes(text: str, node_ids: set[int]) -> str:
    blocks = text.split("\n[[nodes]]\n")
    return "\n[[nodes]]\n".join(b for b in blocks if not any(b.startswith(f"id = {n}\n") for n in node_ids))


def voters(c: LocalCluster, via: int) -> list[int]:
    status, body = http_json("GET", c.v3(via) + "/quorum", timeout=10)
    assert status == 200, body
    return [v["node_id"] for v in body["voters"]]


def change(c: LocalCluster, method: str, path: str, body=None) -> dict:
    """A voter change through any live node, retried while the quorum says "not now"."""
    deadline = time.monotonic() + 60
    while True:
        via = next(n for n in c.hosts if c.running(n))
        status, answer = http_json(method, c.v3(via) + path, body, timeout=45)
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, answer
            return answer
        assert status >= 500, answer  # a refusal would be a bug here: only "retry" is expected
        time.sleep(0.5)


def replace(c: LocalCluster, dead: int, new: int) -> None:
    c.kill(dead)
    change(c, "DELETE", f"/quorum/voters/{dead}")
    c.start_node(new)
    c.wait_ready([new], timeout_s=90)
    change(c, "POST", "/quorum/voters", {"node_id": new})


def images(c: LocalCluster, nodes: list[int], timeout_s: float = 60) -> dict[int, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        got = {n: _signed_get(c, n, "/internal/v1/metadata?image=1")[1]["image"] for n in nodes}
        if len({img.get("offset") for img in got.values()}) == 1 or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_two_controllers_replaced_under_metadata_load():
    with LocalCluster(nodes=5, controllers=5, env={"KRAFT_METADATA_SNAPSHOT_ENTRIES": "50"}) as c:
        first = c.config_path.with_name("first-three.toml")
        first.write_text(without_nodes(c.config_path.read_text(), {4, 5}))
        c.node_config_paths.update({1: first, 2: first, 3: first})
        c.start([1, 2, 3]).wait_ready([1, 2, 3], timeout_s=60)
        result, lock, stop = StormResult(), threading.Lock(), threading.Event()

        def creator(w: int) -> None:
            n = 0
            while not stop.is_set():
                live = [x for x in c.hosts if c.running(x) and x in c.procs]
                name = f"soak-{w}-{n}"
                n += 1
                try:
                    status, body = http_json("POST", c.v3(live[n % len(live)]) + "/topics",
                                             {"topic_name": name, "partitions_count": 1,
                                              "replication_factor": 1}, timeout=10)
                except OSError:
                    status, body = -1, None
                with lock:
                    result.answers[name] = _create_answer(status, body)
        threads = [threading.Thread(target=creator, args=(w,), daemon=True) for w in range(8)]
        for t in threads:
            t.start()
        try:
            time.sleep(3)
            replace(c, dead=3, new=4)
            time.sleep(3)
            leader = next(v for v in voters(c, 4) if v == c.raft_leader())
            replace(c, dead=leader if leader != 4 else 1, new=5)
            time.sleep(3)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        final = voters(c, 5)
        assert len(final) == 3 and {4, 5} <= set(final), final
        c.stop_all()
        c.start(final)
        c.wait_ready(final, timeout_s=90)
        assert all(voters(c, n) == final for n in final)
        seen = images(c, final)
        canon = {repr(sorted(img.items())) for img in seen.values()}
        assert len(canon) == 1, {n: img.get("offset") for n, img in seen.items()}
        image = next(iter(seen.values()))
        assert sum(a == "created" for a in result.answers.values()) > 20
        assert result.untrue_answers(image) == []
        for n in c.hosts:
            text = c.log_path(n).read_text(errors="replace") if c.log_path(n).exists() else ""
            assert "truncating already-applied" not in text and "refusing an AppendEntries" not in text, n
            assert "failed _onTick" not in text and "failed to load full dump" not in text, n
