"""How long a new controller takes to catch up with a metadata log of many topics, and
to become a voter (issue #36's benchmark; reported, never asserted).

A 3-controller cluster gets `--topics` topics (1 partition, RF 1, created through Kafka's
CreateTopics in batches, as an admin tool would); then a fourth controller, named only in
its own cluster.toml, starts with an empty data dir: it joins as an observer and the
leader sends it the log (entries, or the snapshot once the log has been compacted). The
times: start to ready (registered as a broker, its image current), start to lag 0 as the
leader sees it, and `kraft quorum add-voter` until committed.

    .venv/bin/python bench/controller_catch_up.py --topics 10000
    .venv/bin/python bench/controller_catch_up.py --topics 1000 --snapshot-entries 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from kraft.server.local_cluster import LocalCluster, http_json  # noqa: E402


def without_node(text: str, node_id: int) -> str:
    blocks = text.split("\n[[nodes]]\n")
    return "\n[[nodes]]\n".join(b for b in blocks if not b.startswith(f"id = {node_id}\n"))


def quorum(c: LocalCluster, via: int) -> dict:
    return http_json("GET", c.v3(via) + "/quorum", timeout=10)[1]


def create_topics(c: LocalCluster, count: int, batch: int) -> float:
    admin = AdminClient({"bootstrap.servers": ",".join(c.config.node(n).kafka_address for n in (1, 2, 3))})
    started = time.monotonic()
    for first in range(0, count, batch):
        topics = [NewTopic(f"t{i:05d}", num_partitions=1, replication_factor=1)
                  for i in range(first, min(count, first + batch))]
        for name, future in admin.create_topics(topics, request_timeout=120).items():
            future.result(timeout=180)
        print(f"  {min(count, first + batch)} topics", file=sys.stderr)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=250, help="topics per CreateTopics request")
    parser.add_argument("--snapshot-entries", type=int, default=5000,
                        help="KRAFT_METADATA_SNAPSHOT_ENTRIES: log entries between snapshots")
    args = parser.parse_args()
    env = {"KRAFT_METADATA_SNAPSHOT_ENTRIES": str(args.snapshot_entries)}
    with LocalCluster(nodes=4, controllers=4, env=env) as c:
        three = c.config_path.with_name("three-nodes.toml")
        three.write_text(without_node(c.config_path.read_text(), 4))
        c.node_config_paths.update({1: three, 2: three, 3: three})
        c.start([1, 2, 3]).wait_ready([1, 2, 3], timeout_s=60)
        create_s = create_topics(c, args.topics, args.batch)
        before = quorum(c, 1)
        leader = before["leader_id"]
        snapshot = c.config.node(leader).data_path / "__cluster_metadata" / "raft.snapshot"
        started = time.monotonic()
        c.start_node(4)
        c.wait_ready([4], timeout_s=1800)
        ready_s = time.monotonic() - started

        def caught_up() -> bool:
            q = quorum(c, leader)
            return any(o["node_id"] == 4 and o.get("kind") == "controller" and o["lag"] == 0
                       for o in q["observers"])
        c.wait_until(caught_up, 1800, "observer 4 at lag 0", interval_s=0.05)
        lag0_s = time.monotonic() - started
        asked = time.monotonic()
        status, body = http_json("POST", c.v3(1) + "/quorum/voters", {"node_id": 4}, timeout=60)
        add_s = time.monotonic() - asked
        assert status == 200, body
        snapshot_bytes = snapshot.stat().st_size if snapshot.exists() else 0
    result = {"topics": args.topics, "raft_entries": before["high_watermark"],
              "metadata_records": before["metadata_offset"], "leader_snapshot_bytes": snapshot_bytes,
              "create_s": round(create_s, 1), "observer_ready_s": round(ready_s, 2),
              "observer_lag0_s": round(lag0_s, 2), "add_voter_s": round(add_s, 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
